import Foundation
import XCTest

/// `eunomia seccomp record` against the real kernel and a real runc: the profile recorded from
/// `busybox ls /` runs `ls /` in an OCI container, and refuses what ls never did.
final class SeccompKernelTests: XCTestCase {
    static let tracepoints = ["raw_syscalls/sys_enter", "sched/sched_process_fork", "sched/sched_process_exit"]
    var containers: [String] = []
    var cleanup: [URL] = []

    override func tearDown() {
        for id in containers { _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id]) }
        for url in cleanup { try? FileManager.default.removeItem(at: url) }
    }

    func harness() throws -> TrackerHarness { try TrackerHarness("syscallrec", tracepoints: SeccompKernelTests.tracepoints) }

    func requireRunc() throws {
        for tool in ["/usr/sbin/runc", "/bin/busybox"] where !FileManager.default.isExecutableFile(atPath: tool) {
            let why = "\(tool) is missing (make install-test-deps installs runc and busybox-static)"
            if ProcessInfo.processInfo.environment["EUNOMIA_REQUIRE_KERNEL"] == "1" { throw TestSupport.TestFailure(why) }
            throw XCTSkip(why)
        }
    }

    /// `eunomia seccomp record ARGS` against the harness's store.
    func record(_ h: TrackerHarness, _ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.eunomia(["seccomp", "record"] + arguments, store: h.store)
    }

    /// The profile's JSON, with the shape every profile has checked on the way.
    func load(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> (object: [String: Any], names: [String]) {
        let data = try Data(contentsOf: url)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object", file: file, line: line)
        XCTAssertEqual(object["defaultAction"] as? String, "SCMP_ACT_ERRNO", file: file, line: line)
        let rules = try XCTUnwrap(object["syscalls"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(rules.count, 1, "\(rules)", file: file, line: line)
        XCTAssertEqual(rules.first?["action"] as? String, "SCMP_ACT_ALLOW", file: file, line: line)
        let names = try XCTUnwrap(rules.first?["names"] as? [String], file: file, line: line)
        XCTAssertEqual(names, Array(Set(names)).sorted(), "names are sorted and unique", file: file, line: line)
        XCTAssertTrue(names.allSatisfy { $0.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil }, "\(names)", file: file, line: line)
        return (object, names)
    }

    static var expectedArchitectures: [String] {
        #if arch(x86_64)
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        #else
        ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
        #endif
    }

    /// An OCI bundle of busybox-static running `args`, with `seccomp` as its linux.seccomp
    /// (none when nil), as `runc spec` writes it otherwise (read-only root, /dev a tmpfs).
    func bundle(_ args: [String], seccomp: [String: Any]?) throws -> URL {
        let dir = try TestSupport.temporaryDirectory("seccomp-bundle")
        cleanup.append(dir)
        let bin = dir.appendingPathComponent("rootfs/bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bin.appendingPathComponent("busybox").path)
        let spec = try TestSupport.run("/usr/sbin/runc", ["spec", "--bundle", dir.path])
        XCTAssertEqual(spec.status, 0, spec.stderr)
        let configURL = dir.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        var process = try XCTUnwrap(config["process"] as? [String: Any])
        process["args"] = args
        process["terminal"] = false
        config["process"] = process
        var linux = try XCTUnwrap(config["linux"] as? [String: Any])
        linux["seccomp"] = seccomp
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        return dir
    }

    /// `runc run` of a bundle in the foreground, its output collected.
    func runc(_ bundle: URL) throws -> TestSupport.ProcessResult {
        let id = "eunomia-seccomp-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(id)
        return try TestSupport.run("/bin/sh", ["-c", "exec /usr/sbin/runc run --bundle \(bundle.path) \(id) </dev/null"])
    }

    func testProfileOfLsRunsLsInRuncAndRefusesMkdir() throws {
        let h = try harness()
        try requireRunc()
        let profileURL = h.dir.appendingPathComponent("ls.json")
        let recorded = try record(h, ["-o", profileURL.path, "--", "/bin/busybox", "ls", "/"])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        // The command ran with eunomia's stdout: the host's root listing.
        XCTAssertTrue(recorded.stdout.split(separator: "\n").contains("proc"), recorded.stdout)
        XCTAssertTrue(recorded.stderr.contains("profile of "), recorded.stderr)
        let (object, names) = try load(profileURL)
        XCTAssertEqual(object["architectures"] as? [String], SeccompKernelTests.expectedArchitectures)
        XCTAssertNil(object["archMap"])
        // getdents64: the listing; execve: the first syscall, recorded because the command was
        // held until the tracker was attached.
        for needed in ["getdents64", "execve", "exit_group", "write"] {
            XCTAssertTrue(names.contains(needed), "\(needed) missing from \(names)")
        }
        // busybox mkdir calls mkdir(2) (glibc's mkdir on x86_64; mkdirat where there is none);
        // ls never does, so the profile refuses it.
        XCTAssertFalse(names.contains("mkdir") || names.contains("mkdirat"), "\(names)")
        let seccomp = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: profileURL)) as? [String: Any])

        let ls = try runc(bundle(["/bin/busybox", "ls", "/"], seccomp: seccomp))
        XCTAssertEqual(ls.status, 0, "ls under the recorded profile: \(ls.stderr)")
        let listing = ls.stdout.split(separator: "\n").map(String.init)
        for entry in ["bin", "dev", "proc", "sys"] { XCTAssertTrue(listing.contains(entry), "\(entry) not in \(listing)") }

        // /dev is a writable tmpfs: without a profile the mkdir succeeds, so the EPERM below is
        // the profile's doing and nothing else's.
        let free = try runc(bundle(["/bin/busybox", "mkdir", "/dev/x"], seccomp: nil))
        XCTAssertEqual(free.status, 0, "mkdir without seccomp: \(free.stderr)")
        let refused = try runc(bundle(["/bin/busybox", "mkdir", "/dev/x"], seccomp: seccomp))
        XCTAssertNotEqual(refused.status, 0, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("Operation not permitted"), refused.stderr)
    }

    /// The base set is what runc's init needs after it applied the profile: without it, even
    /// the very command the profile was recorded from cannot start.
    func testWithoutBaseSyscallsRuncCannotStartTheCommand() throws {
        let h = try harness()
        try requireRunc()
        let profileURL = h.dir.appendingPathComponent("bare.json")
        let recorded = try record(h, ["--no-base-syscalls", "-o", profileURL.path, "--", "/bin/busybox", "ls", "/"])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let (_, names) = try load(profileURL)
        XCTAssertFalse(names.contains("futex"), "busybox ls makes no futex call: \(names)")
        let seccomp = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: profileURL)) as? [String: Any])
        let ls = try runc(bundle(["/bin/busybox", "ls", "/"], seccomp: seccomp))
        XCTAssertNotEqual(ls.status, 0, "runc started ls without the base syscalls: \(ls.stdout)")
    }

    /// --pid: a process that exists before recording starts forks a child after: the child's
    /// syscalls (mkdir) are in, a process outside the tree (rmdir) is not.
    func testPidFollowsAChildForkedAfterRecordingStarts() throws {
        let h = try harness()
        let go = h.dir.appendingPathComponent("go")
        let made = h.dir.appendingPathComponent("made")
        let outside = h.dir.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: false)
        // dash: `[` and `read` are builtins; mkdir runs in a forked child.
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sh")
        parent.arguments = ["-c", "while [ ! -e \(go.path) ]; do /bin/busybox usleep 20000; done; /bin/busybox mkdir \(made.path); /bin/busybox usleep 3000000"]
        try parent.run()
        defer { if parent.isRunning { parent.terminate() }; parent.waitUntilExit() }
        let profileURL = h.dir.appendingPathComponent("pid.json")
        let recorder = try LiveProcess(TestSupport.eunomiaBinary,
                                       ["seccomp", "record", "--pid", "\(parent.processIdentifier)", "--duration", "2", "--no-base-syscalls",
                                        "-o", profileURL.path, "--log-level", "info"],
                                       environment: ["EUNOMIA_HOME": h.store.path])
        XCTAssertTrue(recorder.wait(upTo: 30) { recorder.stderr.contains("attached") }, recorder.stderr)
        XCTAssertTrue(FileManager.default.createFile(atPath: go.path, contents: nil))
        _ = try TestSupport.run("/bin/busybox", ["rmdir", outside.path])
        XCTAssertTrue(recorder.wait(upTo: 10) { FileManager.default.fileExists(atPath: made.path) }, "the child never ran")
        recorder.process.waitUntilExit()
        XCTAssertEqual(recorder.process.terminationStatus, 0, recorder.stderr)
        let (_, names) = try load(profileURL)
        // mkdir and execve: the forked child's; wait4: the shell waiting for it.
        for needed in ["mkdir", "execve", "wait4"] { XCTAssertTrue(names.contains(needed), "\(needed) missing from \(names)") }
        XCTAssertFalse(names.contains("rmdir"), "a process outside the tree was recorded: \(names)")
        XCTAssertFalse(names.contains("futex"), "--no-base-syscalls: \(names)")
    }

    /// --container: a detached runc container in a docker-style cgroup waits for /go, then
    /// makes a directory: its mkdir is in the profile, a process outside it (rmdir) is not.
    func testContainerRecordsEverythingInTheContainer() throws {
        let h = try harness()
        try requireRunc()
        let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max)) }.joined()
        let dir = try bundle(["/bin/busybox", "sh", "-c", "while ! /bin/busybox test -e /go; do /bin/busybox usleep 20000; done; /bin/busybox mkdir /dev/made"], seccomp: nil)
        let configURL = dir.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        var linux = try XCTUnwrap(config["linux"] as? [String: Any])
        linux["cgroupsPath"] = "/docker/\(id)"
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        containers.append(id)
        let started = try TestSupport.run("/bin/sh", ["-c", "exec /usr/sbin/runc run --detach --bundle \(dir.path) \(id) </dev/null >/dev/null 2>&1"])
        XCTAssertEqual(started.status, 0, started.stderr)
        let outside = h.dir.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: false)
        let profileURL = h.dir.appendingPathComponent("container.json")
        let recorder = try LiveProcess(TestSupport.eunomiaBinary,
                                       ["seccomp", "record", "--container", String(id.prefix(12)), "--duration", "2", "--no-base-syscalls",
                                        "-o", profileURL.path, "--log-level", "info"],
                                       environment: ["EUNOMIA_HOME": h.store.path])
        XCTAssertTrue(recorder.wait(upTo: 30) { recorder.stderr.contains("attached") }, recorder.stderr)
        XCTAssertTrue(recorder.stderr.contains("only container docker \(id.prefix(12))"), recorder.stderr)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent("rootfs/go").path, contents: nil))
        _ = try TestSupport.run("/bin/busybox", ["rmdir", outside.path])
        recorder.process.waitUntilExit()
        XCTAssertEqual(recorder.process.terminationStatus, 0, recorder.stderr)
        let (_, names) = try load(profileURL)
        // mkdir: the container's; execve and wait4: its shell running usleep and mkdir.
        for needed in ["mkdir", "execve", "wait4"] { XCTAssertTrue(names.contains(needed), "\(needed) missing from \(names)") }
        XCTAssertFalse(names.contains("rmdir"), "a process outside the container was recorded: \(names)")
    }

    /// The tracker on its own: `eunomia run syscallrec --pid` reports the tree's syscalls by
    /// name, the child's mkdir among them, once at the end.
    func testSyscallrecRunsOnItsOwn() throws {
        let h = try harness()
        let made = h.dir.appendingPathComponent("made-by-run")
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sh")
        parent.arguments = ["-c", "/bin/busybox usleep 500000; /bin/busybox mkdir \(made.path); /bin/busybox usleep 2000000"]
        try parent.run()
        defer { if parent.isRunning { parent.terminate() }; parent.waitUntilExit() }
        let r = try TestSupport.eunomia(["run", "syscallrec", "--pid", "\(parent.processIdentifier)", "--duration", "1.5", "-o", "json"], store: h.store)
        XCTAssertEqual(r.status, 0, r.stderr)
        let reports = TrackerHarness.records(r.stdout)
        XCTAssertEqual(reports.count, 1, r.stdout)
        let rows = try XCTUnwrap(reports.first?["rows"] as? [[String: Any]], r.stdout)
        let mkdir = try XCTUnwrap(rows.first { $0["syscall"] as? String == "mkdir" }, "no mkdir row in \(rows)")
        XCTAssertEqual(mkdir["known"] as? Int, 1)
        XCTAssertEqual(mkdir["count"] as? Int, 1, "one mkdir: \(mkdir)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: made.path))
    }

    func testDockerFormatAndTheCommandsExitStatus() throws {
        let h = try harness()
        let profileURL = h.dir.appendingPathComponent("docker.json")
        let r = try record(h, ["--docker", "-o", profileURL.path, "--", "/bin/sh", "-c", "exit 3"])
        XCTAssertEqual(r.status, 3, "the command's exit status: \(r.stderr)")
        let (object, names) = try load(profileURL)
        XCTAssertNil(object["architectures"])
        let archMap = try XCTUnwrap(object["archMap"] as? [[String: Any]])
        let expected = SeccompKernelTests.expectedArchitectures
        XCTAssertEqual(archMap.count, 1)
        XCTAssertEqual(archMap.first?["architecture"] as? String, expected[0])
        XCTAssertEqual(archMap.first?["subArchitectures"] as? [String], Array(expected.dropFirst()))
        XCTAssertEqual(Set(object.keys), ["defaultAction", "archMap", "syscalls"])
        XCTAssertTrue(names.contains("exit_group"), "\(names)")
        // The base set, by default: runc's init needs it after the filter is on.
        for base in ["capset", "fstatfs", "futex"] { XCTAssertTrue(names.contains(base), "\(base) missing from \(names)") }
    }

    func testErrorsAreOneLine() throws {
        let h = try harness()
        let empty = h.dir.appendingPathComponent("empty-store")
        let notes = h.dir.appendingPathComponent("notes.txt")
        try Data("x".utf8).write(to: notes)
        let cases: [(args: [String], store: URL, says: String)] = [
            (["--pid", "4194304", "--duration", "1"], h.store, "no process with pid 4194304"),
            (["--container", "no-such-container", "--duration", "1"], h.store, "no running container matches 'no-such-container'"),
            (["--", "/nonexistent/eunomia-cmd"], h.store, "cannot execute '/nonexistent/eunomia-cmd': No such file or directory"),
            (["--", notes.path], h.store, "cannot execute '\(notes.path)': Permission denied"),
            (["--", "eunomia-no-such-command"], h.store, "cannot execute 'eunomia-no-such-command': command not found in PATH"),
            (["-o", "/nonexistent/dir/p.json", "--", "/bin/true"], h.store, "cannot write the profile to '/nonexistent/dir/p.json': No such file or directory"),
            (["-o", h.dir.path, "--", "/bin/true"], h.store, "cannot write the profile to '\(h.dir.path)': Is a directory"),
            (["--", "/bin/true"], empty, "the syscallrec tracker is not installed"),
            (["--duration", "1"], h.store, "say what to record"),
            (["--pid", "1", "--", "/bin/true"], h.store, "record one thing"),
            (["--pid", "-5"], h.store, "not a process id"),
        ]
        for c in cases {
            let r = try TestSupport.eunomia(["seccomp", "record"] + c.args, store: c.store)
            XCTAssertNotEqual(r.status, 0, "\(c.args)")
            XCTAssertTrue(r.stderr.hasPrefix("eunomia: error: "), "\(c.args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.says), "\(c.args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(c.args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(c.args): no profile on stdout")
        }
        // An output this run created is removed again when recording fails before writing it.
        let fresh = h.dir.appendingPathComponent("fresh.json")
        let failed = try record(h, ["-o", fresh.path, "--container", "no-such-container", "--duration", "1"])
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh.path), "a failed recording left \(fresh.path) behind")
        let notInstalled = try TestSupport.eunomia(["seccomp", "record", "--", "/bin/true"], store: empty)
        XCTAssertTrue(notInstalled.stderr.contains("eunomia plugin install"), notInstalled.stderr)
        // The output file was checked before anything ran: nothing was created by the failures.
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/nonexistent/dir/p.json"))
    }

    func testHelpHasAnExamplePerMode() throws {
        let store = try TestSupport.temporaryDirectory("seccomp-help")
        cleanup.append(store)
        let r = try TestSupport.eunomia(["seccomp", "record", "--help"], store: store)
        XCTAssertEqual(r.status, 0, r.stderr)
        for example in ["-- /bin/busybox ls /", "--pid 1234 --duration 60", "--container web", "--docker", "--no-base-syscalls"] {
            XCTAssertTrue(r.stdout.contains(example), "\(example) not in the help:\n\(r.stdout)")
        }
    }
}
