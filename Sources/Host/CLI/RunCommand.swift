import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an installed tracker and print its events until Ctrl-C.",
        discussion: """
            Events go to stdout; diagnostics and the final summary (events, lost) to stderr.
            Parameters come from the plugin's schema (see: eunomia plugin info NAME).

            Examples:
              eunomia run opensnoop                          all opens, as a table
              eunomia run opensnoop --pid 1234 -o json       one process, JSON lines
              eunomia run opensnoop --filter 'comm == "cat" and flags contains "O_WRONLY"'
              eunomia run execsnoop --filter 'args startswith "/tmp/" and uid != 0'
              eunomia run execsnoop --container web          one container (id, prefix or name)
              eunomia run opensnoop@0.1.0 --param failed     only failed opens, pinned version
              eunomia run opensnoop --duration 10 -o csv > opens.csv
              eunomia run syscount --interval 5              top syscalls every 5 s
              eunomia run profile --pid 1234 --duration 30 --folded > stacks.folded

            Records of a task in a container name it: a CONTAINER column in tables (from the first such record on), a "container" object in JSON, container and pod columns in CSV.

            --filter takes a condition over the tracker's fields (as `eunomia plugin info NAME` lists them, plus container.id, container.name, container.image, k8s.pod.name, k8s.ns.name for trackers that carry a cgroup): and, or, not, ( ); ==, !=, <, <=, >, >=; in (a, b); startswith, endswith, contains, glob; exists. Names compare as shown (sig == SIGKILL, ret == ENOENT, flags contains O_CREAT). A term FIELD == VALUE on pid, tid, uid or comm (container.id, container.name) is applied in the kernel too. docs/rules.md has the language.

            Aggregating trackers (syscount, biolatency, memleak, profile, ...) print a report every --interval seconds and a final one when stopped (Ctrl-C or --duration).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Installed plugin: NAME (highest version) or NAME@VERSION.")
    var plugin: String

    @Option(name: .customLong("param"), help: ArgumentHelp("Set a plugin parameter; a bare KEY sets a boolean to true. Repeatable.", valueName: "key=value"))
    var params: [String] = []

    // .unconditional: a value such as -1 reaches the check below (which names what is wrong)
    // instead of being taken for an option ("Missing value").
    @Option(parsing: .unconditional, help: "Trace only this process id (the plugin's pid parameter).",
            transform: { try CLIValue.integer($0, what: "a process id", in: 1...UInt32.max) })
    var pid: UInt32?

    @Option(parsing: .unconditional, help: "Trace only this command name (the plugin's comm parameter).")
    var comm: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Trace only this container: its id, a unique prefix of its id (at least 4 hex digits) or its name (the plugin's container parameter). Filtered in the kernel by the container's cgroups.", valueName: "id|name"))
    var container: String?

    @Option(help: ArgumentHelp("Show only the records for which this condition holds (the language of docs/rules.md), e.g. 'comm == \"cat\" and uid != 0'.", valueName: "condition"))
    var filter: String?

    @Option(name: .customLong("rules"), help: ArgumentHelp("Check the records against the rules in this file (docs/rules.md; the project ships rules/default.yaml) and print an alert for each rule that fires, instead of the events. Repeatable.", valueName: "file"))
    var ruleFiles: [String] = []

    @Flag(help: "With --rules: print the events too, alerts interleaved (alerts are the lines or objects with a rule).")
    var events = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table, json (one object per line), csv, or folded (stacks as 'comm;outer;...;inner count' lines for flame graphs).")
    var format: OutputFormat = .table

    @Flag(help: "Same as -o folded.")
    var folded = false

    @Option(parsing: .unconditional, help: "Seconds between reports of an aggregating tracker (its interval parameter); 0 reports only at the end.",
            transform: { try CLIValue.integer($0, what: "a number of seconds", in: 0...86400) })
    var interval: UInt32?

    @Option(parsing: .unconditional, help: "Stop after this many seconds (fractions allowed, at most ten years).",
            transform: { try CLIValue.duration($0) })
    var duration: Double?

    func run() throws {
        let (store, logger) = try global.setUp()
        try reportingErrors {
            let installed = try store.resolve(plugin)
            var assignments = params
            if let pid { assignments.append("pid=\(pid)") }
            if let comm { assignments.append("comm=\(comm)") }
            if let container { assignments.append("\(ContainerFilter.parameter)=\(container)") }
            if let interval { assignments.append("interval=\(interval)") }
            let parameters = try ResolvedParameters(schema: installed.schema, assignments: assignments)
            // SIGPIPE ignored: a closed stdout shows up as a failed write, and the run ends.
            signal(SIGPIPE, SIG_IGN)
            let stopSignals = StopSignals()
            let output = OutputBuffer(fd: STDOUT_FILENO)
            let chosen = folded ? .folded : format
            var rules: RunRules?
            if !ruleFiles.isEmpty {
                guard chosen == .table || chosen == .json else {
                    throw EunomiaError("--rules prints alerts as lines (-o table) or JSON objects (-o json), not \(chosen.rawValue)")
                }
                let files = try ruleFiles.map { try RuleFile.load(path: $0, schema: { try? store.resolve($0).schema }) }
                let book = RuleBook(files)
                guard book.rules.contains(where: { $0.enabled && $0.plugins.contains(installed.name) }) else {
                    throw EunomiaError("no enabled rule in \(ruleFiles.joined(separator: ", ")) applies to \(installed.name) (rules name their plugins with 'plugin:')")
                }
                rules = RunRules(book: book, sink: AlertWriter(output: output, style: chosen == .json ? .json : .line), showEvents: events)
            }
            let summary = try Runner.run(plugin: installed, parameters: parameters, format: chosen, filter: filter, rules: rules, duration: duration,
                                         output: output, outputFD: STDOUT_FILENO,
                                         lineBuffered: chosen == .table && isatty(STDOUT_FILENO) == 1,
                                         logger: logger, started: { loop in stopSignals.onSignal { loop.stop() } })
            var what = summary.reports.map { "\($0) report\($0 == 1 ? "" : "s")" } ?? "\(summary.events) events"
            if let kept = summary.filtered, summary.reports == nil {
                what += ", \(summary.events >= kept ? summary.events - kept : 0) matched the filter"
            }
            var line = String(format: "%@: %@, %llu lost in %.1fs", installed.reference, what, summary.lost, summary.seconds)
            if let k = summary.kernel {
                line += ", kernel \(k.runCount) run\(k.runCount == 1 ? "" : "s")"
                if k.runCount > 0 { line += ", \(k.runTimeNs / k.runCount) ns/run" }
            } else if let why = summary.kernelUnknown {
                line += ", kernel cost unknown (\(why))"
            }
            if let alerts = summary.alerts { line += ", \(alerts) alert\(alerts == 1 ? "" : "s")" }
            if summary.malformed > 0 { line += ", \(summary.malformed) records did not match the schema" }
            if summary.lost > 0 { line += " (raise --param ringbuf_kb to lose fewer)" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}


/// SIGINT and SIGTERM end the run: delivered through Dispatch signal sources owned by the
/// command (no process-wide flag), which stop the event loop at once.
final class StopSignals {
    private var sources: [DispatchSourceSignal] = []

    func onSignal(_ action: @escaping () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            sources.append(source)
        }
    }
}
