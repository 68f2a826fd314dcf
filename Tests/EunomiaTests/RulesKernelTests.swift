import Foundation
import XCTest
@testable import EunomiaContainers

/// The default rules (rules/default.yaml) in the real kernel: each fires for a process that
/// really does the thing, and stays quiet for its benign twin.
final class RulesKernelTests: XCTestCase {
    static let rulesFile = TestSupport.repoRoot.appendingPathComponent("rules/default.yaml").path
    /// Every plugin the default rules name: loading them checks each rule against its schema.
    static let plugins = ["opensnoop", "execsnoop", "mountsnoop", "bpfsnoop", "modsnoop", "ptracesnoop"]
    static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    var dir: URL!
    var store: URL!
    var cgroups: [String] = []

    override func setUpWithError() throws {
        try TestSupport.requireKernel()
        dir = try TestSupport.temporaryDirectory("rules")
        store = dir.appendingPathComponent("store")
        try TestSupport.trustBuildKey(in: store)
        for p in Self.plugins {
            let r = try TestSupport.eunomia(["plugin", "install", try TestSupport.package(p).path], store: store)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    override func tearDown() {
        for c in cgroups.reversed() { rmdir(c) }
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// `eunomia run PLUGIN --rules rules/default.yaml -o json`, attached.
    func start(_ plugin: String) throws -> LiveProcess {
        let tracer = try LiveProcess(TestSupport.eunomiaBinary,
                                     ["run", plugin, "--rules", Self.rulesFile, "-o", "json", "--duration", "60", "--log-level", "info"],
                                     environment: ["EUNOMIA_HOME": store.path])
        let attached = tracer.wait(upTo: 30) { tracer.stderr.contains("attached") }
        XCTAssertTrue(attached, "\(plugin) never attached: \(tracer.stderr)")
        if !attached { _ = tracer.interruptAndWait(); throw TestSupport.TestFailure("\(plugin) never attached") }
        return tracer
    }

    /// Waits for an alert of `rule` that `match` accepts, stops the tracer, returns every alert.
    func alerts(_ tracer: LiveProcess, rule: String, file: StaticString = #filePath, line: UInt = #line,
                until match: @escaping ([String: Any]) -> Bool) -> [[String: Any]] {
        func all() -> [[String: Any]] { TrackerHarness.records(tracer.stdout).filter { $0["rule"] != nil } }
        let seen = tracer.wait(upTo: 15) { all().contains { $0["rule"] as? String == rule && match($0) } }
        // The benign twin ran before the thing: anything it raised is in by now.
        let status = tracer.interruptAndWait()
        XCTAssertTrue(seen, "no '\(rule)' alert; stdout:\n\(tracer.stdout.suffix(3000))\nstderr:\n\(tracer.stderr.suffix(2000))", file: file, line: line)
        XCTAssertEqual(status, 0, tracer.stderr, file: file, line: line)
        XCTAssertTrue(tracer.stderr.contains(" alert"), "the summary counts alerts: \(tracer.stderr)", file: file, line: line)
        return all()
    }

    func fields(_ alert: [String: Any]) -> [String: Any] { alert["output_fields"] as? [String: Any] ?? [:] }

    func sh(_ script: String) throws -> TestSupport.ProcessResult { try TestSupport.run("/bin/sh", ["-c", script]) }

    /// A cgroup named as docker names a container's, for the container rules.
    func containerCgroup() throws -> (dir: String, id: String) {
        let paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let id = String(repeating: "e", count: 56) + String(format: "%08x", getpid())
        let parent = paths.mountPoint + "/eunomia-rules-\(getpid())"
        let child = parent + "/docker-\(id).scope"
        for d in [parent, child] {
            XCTAssertEqual(mkdir(d, 0o755), 0, "\(d): \(String(cString: strerror(errno)))")
            cgroups.append(d)
        }
        return (child, id)
    }

    func testWriteBelowEtc() throws {
        let tracer = try start("opensnoop")
        let target = "/etc/eunomia-rules-\(getpid())"
        defer { unlink(target) }
        // Benign twins: a read of /etc, and a write by a program named as a package manager.
        let dpkg = dir.appendingPathComponent("dpkg").path
        XCTAssertEqual(try sh("cat /etc/hostname > /dev/null; cp /bin/dash \(dpkg) && \(dpkg) -c 'echo pm > \(target).pm'; rm -f \(target).pm").status, 0)
        XCTAssertEqual(try sh("echo x > \(target)").status, 0)
        let all = alerts(tracer, rule: "Write below etc") { self.fields($0)["path"] as? String == target }
        let mine = try XCTUnwrap(all.first { fields($0)["path"] as? String == target })
        XCTAssertEqual(mine["priority"] as? String, "error")
        XCTAssertEqual(fields(mine)["comm"] as? String, "sh")
        XCTAssertTrue((mine["output"] as? String ?? "").hasPrefix("File below /etc opened for writing (path=\(target) flags=O_WRONLY|O_CREAT|O_TRUNC"), "\(mine)")
        XCTAssertFalse(all.contains { fields($0)["path"] as? String == "/etc/hostname" }, "a read raised an alert: \(all)")
        XCTAssertFalse(all.contains { fields($0)["path"] as? String == "\(target).pm" }, "a package manager's write raised an alert: \(all)")
    }

    func testExecutionFromDevShm() throws {
        let tracer = try start("execsnoop")
        let shm = "/dev/shm/eunomia-true-\(getpid())", tmp = dir.appendingPathComponent("true").path
        defer { unlink(shm) }
        XCTAssertEqual(try sh("cp /bin/true \(tmp) && \(tmp)").status, 0)
        XCTAssertEqual(try sh("cp /bin/true \(shm) && \(shm)").status, 0)
        let all = alerts(tracer, rule: "Execution from /dev/shm") { (self.fields($0)["args"] as? String ?? "").hasPrefix(shm) }
        XCTAssertFalse(all.contains { (fields($0)["args"] as? String ?? "").hasPrefix(tmp) }, "an exec from a private folder raised an alert: \(all)")
    }

    func testMountInContainer() throws {
        let (cgroup, id) = try containerCgroup()
        let tracer = try start("mountsnoop")
        let target = dir.appendingPathComponent("mnt").path
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        // Each in its own mount namespace, so neither mount outlives it: first on the host, then in the container.
        XCTAssertEqual(try sh("exec unshare --mount --propagation private mount -t tmpfs host-twin \(target)").status, 0)
        XCTAssertEqual(try sh("echo $$ > \(cgroup)/cgroup.procs && exec unshare --mount --propagation private mount -t tmpfs in-container \(target)").status, 0)
        let all = alerts(tracer, rule: "Mount in container") { self.fields($0)["source"] as? String == "in-container" }
        let mine = try XCTUnwrap(all.first { fields($0)["source"] as? String == "in-container" })
        XCTAssertEqual((fields(mine)["container"] as? [String: Any])?["id"] as? String, String(id.prefix(12)))
        XCTAssertTrue((mine["output"] as? String ?? "").contains("container=\(id.prefix(12))"), "\(mine)")
        XCTAssertFalse(all.contains { fields($0)["source"] as? String == "host-twin" }, "a mount on the host raised an alert: \(all)")
    }

    func testTerminalShellInContainer() throws {
        let (cgroup, id) = try containerCgroup()
        let tracer = try start("execsnoop")
        // script(1) runs `$SHELL -c CMD` on a new terminal: one shell with a tty. Twins: the same on
        // the host; a shell in the container without a terminal (setsid: none inherited).
        XCTAssertEqual(try sh("SHELL=/bin/sh exec script -qec 'exit 0' /dev/null < /dev/null").status, 0)
        XCTAssertEqual(try sh("exec setsid -w /bin/sh -c 'echo $$ > \(cgroup)/cgroup.procs && exec /bin/sh -c \"exit 0\"' < /dev/null").status, 0)
        XCTAssertEqual(try sh("echo $$ > \(cgroup)/cgroup.procs && SHELL=/bin/sh exec script -qec 'exit 0' /dev/null < /dev/null").status, 0)
        let all = alerts(tracer, rule: "Terminal shell in container") { _ in true }
        let shells = all.filter { $0["rule"] as? String == "Terminal shell in container" }
        XCTAssertEqual(shells.count, 1, "one shell had a terminal in the container: \(shells)")
        let shell = try XCTUnwrap(shells.first)
        XCTAssertEqual((fields(shell)["container"] as? [String: Any])?["id"] as? String, String(id.prefix(12)))
        XCTAssertNotEqual(fields(shell)["tty"] as? Int ?? 0, 0)
    }

    func testFilelessExecutionViaMemfd() throws {
        let tracer = try start("execsnoop")
        XCTAssertEqual(try TestSupport.run("/bin/true", []).status, 0)
        let script = "import os; fd = os.memfd_create('eunomia-rules'); os.write(fd, open('/bin/true', 'rb').read()); os.execv('/proc/self/fd/%d' % fd, ['memfd-true'])"
        let r = try TestSupport.run(Self.python, ["-c", script])
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = alerts(tracer, rule: "Fileless execution via memfd_create") { (self.fields($0)["exe"] as? String ?? "").hasPrefix("memfd:eunomia-rules") }
        XCTAssertEqual(all.filter { $0["rule"] as? String == "Fileless execution via memfd_create" }.count, 1, "\(all)")
    }

    /// Python's ctypes calls the syscalls directly (x86_64 numbers), as an attacker's tool would.
    static let syscalls = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        def bpf(cmd, attr):
            buf = ctypes.create_string_buffer(bytes(attr), 128)
            return libc.syscall(321, cmd, buf, 128)

        """

    func testBPFProgramLoaded() throws {
        let tracer = try start("bpfsnoop")
        // Twin: a map (BPF_MAP_CREATE, 0). Then BPF_PROG_LOAD (5) of "r0 = 0; exit" as a socket filter.
        let script = Self.syscalls + """
            import struct
            fd = bpf(0, struct.pack('IIII', 2, 4, 8, 1))  # array map: key 4, value 8, 1 entry
            assert fd >= 0, ctypes.get_errno()
            insns = struct.pack('<BBhi', 0xb7, 0, 0, 0) + struct.pack('<BBhi', 0x95, 0, 0, 0)
            prog = ctypes.create_string_buffer(insns)
            lic = ctypes.create_string_buffer(b'GPL')
            attr = struct.pack('IIQQ', 1, 2, ctypes.addressof(prog), ctypes.addressof(lic))
            attr += b'\\0' * 24 + b'eunomia_rules\\0\\0\\0'
            fd = bpf(5, attr)
            assert fd >= 0, ctypes.get_errno()
            print(os.getpid())
            """
        let r = try TestSupport.run(Self.python, ["-c", script])
        XCTAssertEqual(r.status, 0, r.stderr)
        let pid = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let all = alerts(tracer, rule: "BPF program loaded") { self.fields($0)["pid"] as? Int == pid }
        let mine = all.filter { fields($0)["pid"] as? Int == pid }
        XCTAssertEqual(mine.count, 1, "one program load, one alert (the map raised none): \(all)")
        XCTAssertEqual(mine.first.map { fields($0)["prog_name"] as? String }, "eunomia_rules")
        // eunomia's own loads never reach it, this tracker's included.
        XCTAssertFalse(all.contains { fields($0)["pid"] as? Int == Int(tracer.process.processIdentifier) }, "\(all)")
    }

    func testPtraceAttachedToProcess() throws {
        let tracer = try start("ptracesnoop")
        // Twin: a child asking to be traced (PTRACE_TRACEME, what a debugger's child does). Then a real attach.
        let script = Self.syscalls + """
            import time, signal
            child = os.fork()
            if child == 0:
                libc.syscall(101, 0, 0, 0, 0)  # PTRACE_TRACEME
                time.sleep(5)
                os._exit(0)
            time.sleep(0.2)
            victim = os.fork()
            if victim == 0:
                time.sleep(5)
                os._exit(0)
            assert libc.syscall(101, 16, victim, 0, 0) == 0, ctypes.get_errno()  # PTRACE_ATTACH
            os.waitpid(victim, 0)
            libc.syscall(101, 17, victim, 0, 0)  # PTRACE_DETACH
            os.kill(victim, signal.SIGKILL); os.kill(child, signal.SIGKILL)
            print(victim)
            """
        let r = try TestSupport.run(Self.python, ["-c", script])
        XCTAssertEqual(r.status, 0, r.stderr)
        let victim = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let all = alerts(tracer, rule: "PTRACE attached to process") { self.fields($0)["target_pid"] as? Int == victim }
        let attaches = all.filter { $0["rule"] as? String == "PTRACE attached to process" }
        XCTAssertEqual(attaches.map { fields($0)["request"] as? String }, ["PTRACE_ATTACH"], "\(attaches)")
    }

    func testKernelModuleInjection() throws {
        let tracer = try start("modsnoop")
        // Nothing is ever loaded: the image is not a module, so finit_module fails (ENOEXEC),
        // yet the request is what the rule reports. Twin: delete_module of a module that is not there.
        let junk = dir.appendingPathComponent("junk.ko").path
        try Data("not a module".utf8).write(to: URL(fileURLWithPath: junk))
        let script = Self.syscalls + """
            libc.syscall(176, b'eunomia_no_such_module', 0)  # delete_module
            fd = os.open('\(junk)', os.O_RDONLY)
            ret = libc.syscall(313, fd, b'', 0)  # finit_module
            assert ret < 0
            print(os.getpid())
            """
        let r = try TestSupport.run(Self.python, ["-c", script])
        XCTAssertEqual(r.status, 0, r.stderr)
        let pid = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let all = alerts(tracer, rule: "Linux Kernel Module Injection Detected") { self.fields($0)["pid"] as? Int == pid }
        let mine = all.filter { fields($0)["pid"] as? Int == pid }
        XCTAssertEqual(mine.map { fields($0)["syscall"] as? String }, ["finit_module"], "\(mine)")
    }
}
