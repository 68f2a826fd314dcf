import ArgumentParser
import EunomiaHost
import EunomiaSeccomp
import Foundation

struct Seccomp: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write seccomp profiles from the syscalls a program really makes.",
        subcommands: [SeccompRecord.self])
}

struct SeccompRecord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record the syscalls of a command, a process tree or a container and write a seccomp profile allowing exactly those.",
        discussion: """
            Counts every syscall the tracked tasks enter (the syscallrec tracker, on raw_syscalls/sys_enter), following forks, and writes an allow-list profile: the syscalls seen are allowed, every other one fails with EPERM. Run the program through everything it will do in production while recording: a syscall not seen is refused later.

            Examples:
              eunomia seccomp record -o ls.json -- /bin/busybox ls /
                  start the command (no syscall of it is missed), wait for it,
                  exit with its status
              eunomia seccomp record --pid 1234 --duration 60 -o app.json
                  a running process and every process it forks from now on
              eunomia seccomp record --container web -o web.json
                  everything in a container (id, id prefix or name), to Ctrl-C
              eunomia seccomp record --docker -o web-docker.json -- ./server
                  Docker's format: docker run --security-opt seccomp=FILE

            Use the profile as the linux.seccomp object of an OCI bundle's config.json (runc, crun), as a Kubernetes localhost profile, or with --docker for Docker. It also allows what the container runtime itself does after it applied the profile (execve, futex, ...: docs/seccomp.md lists them; --no-base-syscalls leaves them out).

            Needs the syscallrec tracker installed (eunomia plugin install syscallrec --registry DIR|URL), root, and a kernel with BTF. Syscalls made before recording started, and the arguments of syscalls, are not recorded.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(parsing: .unconditional, help: "Record this existing process and every process it forks from now on.",
            transform: { try CLIValue.integer($0, what: "a process id", in: 1...4_194_304) })
    var pid: Int32?

    @Option(parsing: .unconditional, help: ArgumentHelp("Record every task of this container: its id, a unique prefix of its id (at least 4 hex digits) or its name.", valueName: "id|name"))
    var container: String?

    @Option(parsing: .unconditional, help: "Stop after this many seconds (fractions allowed). With --pid or --container: else until Ctrl-C.",
            transform: { try CLIValue.duration($0) })
    var duration: Double?

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write the profile to this file (default: stdout).", valueName: "file"))
    var output: String?

    @Flag(help: "Write Docker's format (archMap) instead of the OCI runtime spec's linux.seccomp.")
    var docker = false

    @Flag(help: "Leave out the syscalls the container runtime needs after it applied the profile (for a profile used outside a container runtime).")
    var noBaseSyscalls = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to start and record, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        let modes = [pid != nil, container != nil, !command.isEmpty].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError(modes == 0 ? "say what to record: --pid PID, --container ID, or -- COMMAND ARGS..."
                                             : "record one thing: --pid, --container or -- COMMAND, not several")
        }
        if let container, container.isEmpty { throw ValidationError("--container needs a container id or name") }
    }

    func run() throws {
        let (store, logger) = try global.setUp()
        try reportingErrors {
            let architecture = try SeccompArchitecture.current()
            let plugin = try SyscallRecorder.installed(in: store)
            let out = try ProfileOutput(path: output)
            signal(SIGPIPE, SIG_IGN)
            let signals = ForwardedSignals()
            let recording: Recording
            var held: HeldCommand?
            if command.isEmpty {
                var assignments: [String] = []
                if let pid {
                    try ProcessCheck.requireProcess(pid)
                    assignments.append("pid=\(pid)")
                }
                if let container { assignments.append("\(ContainerFilter.parameter)=\(container)") }
                recording = try SyscallRecorder.record(plugin: plugin, assignments: assignments, duration: duration, logger: logger,
                                                       started: { loop in signals.onSignal { _ in loop.stop() } })
            } else {
                let child = try HeldCommand(command)
                held = child
                recording = try SyscallRecorder.record(
                    plugin: plugin, assignments: ["pid=\(child.pid)"], duration: duration, logger: logger,
                    // Signals go on to the command; recording ends when it exits.
                    started: { _ in signals.onSignal { sig in kill(child.pid, sig) } },
                    attached: { try child.release(name: command[0]) },
                    shouldStop: { child.poll() != nil })
            }
            let base = noBaseSyscalls ? [] : BaseSyscalls.names
            let profile = SeccompProfile(architecture: architecture, names: Array(recording.counts.keys) + base)
            try out.write(try profile.json(docker ? .docker : .oci))
            var line = "seccomp: \(recording.counts.count) syscalls recorded"
            if !noBaseSyscalls { line += ", \(profile.names.count - recording.counts.count) more from the base set" }
            line += String(format: " in %.1fs; profile of %d syscalls written to %@", recording.seconds, profile.names.count,
                           output.map(TerminalText.sanitized) ?? "stdout")
            FileHandle.standardError.write(Data((line + "\n").utf8))
            if recording.counts.isEmpty {
                FileHandle.standardError.write(Data("eunomia: warning: no syscall was recorded: the profile allows only the base set\n".utf8))
            }
            if !recording.unnamed.isEmpty {
                FileHandle.standardError.write(Data("eunomia: warning: syscalls without a name on this architecture were seen and are not allowed: \(recording.unnamed.sorted().map(TerminalText.sanitized).joined(separator: ", "))\n".utf8))
            }
            if recording.lost > 0 {
                FileHandle.standardError.write(Data("eunomia: warning: \(recording.lost) tasks or syscalls could not be tracked (a full map): the profile may lack some\n".utf8))
            }
            if let held {
                if held.poll() == nil {
                    // --duration ended the recording first: the profile is written, the command
                    // runs on unrecorded, and its status is still this command's.
                    FileHandle.standardError.write(Data("eunomia: warning: --duration ended the recording before \(TerminalText.sanitized(command[0])) exited; waiting for it\n".utf8))
                }
                let status = held.wait()
                if status != 0 { throw ExitCode(status) }
            }
        }
    }
}

/// The --pid check: a running process, named by its process id (not one of its threads').
enum ProcessCheck {
    static func requireProcess(_ pid: Int32) throws {
        if kill(pid, 0) != 0 && errno == ESRCH { throw EunomiaError("no process with pid \(pid)") }
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            throw EunomiaError("no process with pid \(pid)")
        }
        let tgid = status.split(separator: "\n").first { $0.hasPrefix("Tgid:") }
            .flatMap { Int32($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
        guard let tgid else { throw EunomiaError("cannot read /proc/\(pid)/status") }
        if tgid != pid { throw EunomiaError("\(pid) is a thread of process \(tgid): record --pid \(tgid)") }
    }
}

/// SIGINT and SIGTERM, through Dispatch signal sources owned by the command: with --pid or
/// --container they end the recording; with a command they go on to it (its exit ends it).
final class ForwardedSignals {
    private var sources: [DispatchSourceSignal] = []

    func onSignal(_ action: @escaping (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { action(sig) }
            source.resume()
            sources.append(source)
        }
    }
}
