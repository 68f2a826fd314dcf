import EunomiaContainers
import Foundation
import XCTest

/// oomkill in the real kernel: a process in a 32 MiB memory cgroup allocates until the kernel kills it.
final class OomkillKernelTests: XCTestCase {
    var dirs: [String] = []

    override func tearDown() {
        for dir in dirs.reversed() { rmdir(dir) }
    }

    /// Whether /sys/fs/cgroup is the unified hierarchy (memory limits in cgroup v2); else the
    /// limit comes from v1's memory controller and the cgroup v2 ids from the cgroup2 mount
    /// beside it (a hybrid host: /sys/fs/cgroup/unified).
    var unified: Bool { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") }

    func mkdirCgroup(_ dir: String) throws {
        guard mkdir(dir, 0o755) == 0 else { throw TestSupport.TestFailure("\(dir): \(String(cString: strerror(errno)))") }
        dirs.append(dir)
    }

    /// A memory-limited cgroup (v2, or v1's memory controller); removed when the test ends.
    func memoryCgroup(limitBytes: Int) throws -> String {
        let name = "eunomia-oomtest-\(getpid())-\(UUID().uuidString.prefix(6))"
        let dir = unified ? "/sys/fs/cgroup/\(name)" : "/sys/fs/cgroup/memory/\(name)"
        try mkdirCgroup(dir)
        if unified {
            try "\(limitBytes)".write(toFile: "\(dir)/memory.max", atomically: false, encoding: .utf8)
            try? "0".write(toFile: "\(dir)/memory.swap.max", atomically: false, encoding: .utf8)
        } else {
            try "\(limitBytes)".write(toFile: "\(dir)/memory.limit_in_bytes", atomically: false, encoding: .utf8)
            try? "\(limitBytes)".write(toFile: "\(dir)/memory.memsw.limit_in_bytes", atomically: false, encoding: .utf8)
        }
        return dir
    }

    /// A fresh cgroup v2 for one process under the memory limit: a child of `memory` when that
    /// is v2, else a cgroup at the cgroup2 mount plus `memory` itself. Returns the cgroup.procs
    /// files the process joins and its cgroup v2 id (what records carry).
    func taskCgroup(_ tag: String, memory: String) throws -> (procs: [String], id: UInt64) {
        let paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let dir = unified ? "\(memory)/\(tag)" : "\(paths.mountPoint)/\((memory as NSString).lastPathComponent)-\(tag)"
        try mkdirCgroup(dir)
        let id = try XCTUnwrap(paths.id(of: String(dir.dropFirst(paths.mountPoint.count))))
        return (unified ? ["\(dir)/cgroup.procs"] : ["\(memory)/cgroup.procs", "\(dir)/cgroup.procs"], id)
    }

    /// This process's cgroup v2 id, from /proc/self/cgroup's "0::PATH".
    var ownCgroupID: UInt64? {
        guard let line = readProcFile("/proc/self/cgroup").split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        return CgroupPaths()?.id(of: String(line.dropFirst(3)))
    }

    /// The inode of this process's namespace `kind` ("mnt", "pid"), from /proc/self/ns.
    func ownNamespace(_ kind: String) throws -> Int {
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(kind)") // "mnt:[4026531841]"
        return try XCTUnwrap(Int(link.dropFirst(kind.count + 2).dropLast()), link)
    }

    func poll(upTo seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// `sh -c SCRIPT` with $@ the cgroup.procs files: the shell joins them first.
    func shellInCgroups(_ procs: [String], _ script: String) throws -> Process {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "for f; do echo $$ > \"$f\" || exit 1; done; " + script, "sh"] + procs
        try child.run()
        return child
    }

    /// The BPF program types (BPF_PROG_TYPE_*) of the programs process `pid` holds, from the
    /// "prog_type:" lines of its file descriptors' fdinfo.
    func loadedProgramTypes(_ pid: Int32) -> [Int] {
        let dir = "/proc/\(pid)/fdinfo"
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return fds.compactMap { fd in
            readProcFile("\(dir)/\(fd)").split(separator: "\n").first { $0.hasPrefix("prog_type:") }
                .flatMap { Int($0.dropFirst("prog_type:".count).trimmingCharacters(in: .whitespaces)) }
        }
    }

    /// What the plugin checks (eunomia_kprobe_available) before it loads its kprobe.
    var kprobeUsable: Bool {
        FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe/type")
            && readProcFile("/proc/kallsyms").split(separator: "\n").contains { line in
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                return parts.count >= 3 && parts[2] == "oom_kill_process"
            }
    }

    func testOOMKillInMemoryCgroupIsReported() throws {
        let harness = try TrackerHarness("oomkill")
        let memory = try memoryCgroup(limitBytes: 32 << 20)
        let cgroup = try taskCgroup("task", memory: memory)
        let tracer = try harness.start()
        // The attach path in use, as loaded: the mark_victim tracepoint always, the
        // oom_kill_process kprobe (the only source of pages) only where kprobes work.
        let types = loadedProgramTypes(tracer.process.processIdentifier)
        let (kprobeType, tracepointType) = (2, 5) // BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_TRACEPOINT
        XCTAssertEqual(types.filter { $0 == tracepointType }.count, 1, "program types held by the tracer: \(types)")
        let viaKprobe = types.contains(kprobeType)
        XCTAssertEqual(viaKprobe, kprobeUsable, "the kprobe is loaded exactly where kprobes work: program types \(types)")
        // The child joins the cgroup, then becomes `tail /dev/zero`, which buffers an endless line.
        let child = try shellInCgroups(cgroup.procs, "exec tail /dev/zero")
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .uncaughtSignal)
        XCTAssertEqual(child.terminationStatus, SIGKILL)
        let pid = Int(child.processIdentifier)
        let records = harness.collect(tracer) { $0["kpid"] as? Int == pid }

        let kill = try XCTUnwrap(records.first { $0["kpid"] as? Int == pid })
        XCTAssertEqual(kill["kcomm"] as? String, "tail")
        XCTAssertEqual(kill["tpid"] as? Int, pid, "the allocating task itself ran the cgroup out of memory")
        XCTAssertEqual(kill["tcomm"] as? String, "tail")
        let anon = kill["anon_rss_kb"] as? Int ?? 0, totalVM = kill["total_vm_kb"] as? Int ?? 0
        XCTAssertGreaterThan(anon, 16 << 10)
        XCTAssertLessThanOrEqual(anon, 32 << 10, "more anonymous memory than the cgroup allows")
        XCTAssertGreaterThanOrEqual(totalVM, anon)
        XCTAssertEqual(kill["uid"] as? Int, Int(getuid()))
        let adj = try String(contentsOfFile: "/proc/self/oom_score_adj", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(kill["oom_score_adj"] as? Int, Int(adj), "inherited from the test process")
        // The victim's identity: its fresh cgroup, the test process's namespaces (inherited).
        XCTAssertEqual(kill["cgroup_id"] as? Int, Int(cgroup.id), "the victim's cgroup v2 id")
        XCTAssertEqual(kill["mount_ns"] as? Int, try ownNamespace("mnt"))
        XCTAssertEqual(kill["pid_ns"] as? Int, try ownNamespace("pid"))
        // The OOM context's pages come from the kprobe: the cgroup's limit (no swap) in pages.
        // On the tracepoint alone they are 0, and the message leaves them out.
        let pages = kill["pages"] as? Int ?? -1
        let limitPages = (32 << 20) / Int(getpagesize())
        XCTAssertEqual(pages, viaKprobe ? limitPages : 0, viaKprobe ? "kprobe path" : "tracepoint path, no pages")
        let size = viaKprobe ? "\(limitPages) pages, " : ""
        XCTAssertEqual(kill["message"] as? String,
                       "Triggered by PID \(pid) (\"tail\"), OOM kill of PID \(pid) (\"tail\"), \(size)total-vm \(totalVM) kB, anon-rss \(anon) kB")
    }

    /// The OOM killer runs in the task whose allocation failed, and kills another: a process
    /// that holds 24 MiB with oom_score_adj 1000 (the victim, in a cgroup of its own) and one
    /// that allocates until the shared 64 MiB limit is hit (the trigger, in another cgroup).
    /// The record carries the victim's cgroup id, not the trigger's.
    func testRecordCarriesTheVictimsCgroupNotTheTriggers() throws {
        let harness = try TrackerHarness("oomkill")
        let memory = try memoryCgroup(limitBytes: 64 << 20)
        let victimCgroup = try taskCgroup("victim", memory: memory)
        // On a unified host the trigger needs a cgroup of its own under the limit; on a hybrid
        // one it joins only the v1 memory cgroup and keeps the test process's cgroup v2.
        let triggerCgroup: (procs: [String], id: UInt64) =
            unified ? try taskCgroup("trigger", memory: memory) : ([memory + "/cgroup.procs"], try XCTUnwrap(ownCgroupID))
        XCTAssertNotEqual(victimCgroup.id, triggerCgroup.id)
        let tracer = try harness.start()
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("eunomia-oom-ready-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let victim = try shellInCgroups(victimCgroup.procs, """
            echo 1000 > /proc/self/oom_score_adj && exec python3 -c "import sys, time
            b = b'x' * (24 << 20)
            open(sys.argv[1], 'w').close()
            time.sleep(120)" \(ready)
            """)
        let allocated = poll(upTo: 20) { FileManager.default.fileExists(atPath: ready) }
        guard allocated else {
            victim.terminate()
            victim.waitUntilExit()
            _ = tracer.interruptAndWait()
            return XCTFail("the victim never allocated its memory")
        }
        let trigger = try shellInCgroups(triggerCgroup.procs, "echo 0 > /proc/self/oom_score_adj && exec tail /dev/zero")
        victim.waitUntilExit()
        trigger.waitUntilExit() // killed in its turn once the victim's memory is gone
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal)
        XCTAssertEqual(victim.terminationStatus, SIGKILL)
        let (victimPID, triggerPID) = (Int(victim.processIdentifier), Int(trigger.processIdentifier))
        let records = harness.collect(tracer) { $0["kpid"] as? Int == victimPID }

        let kill = try XCTUnwrap(records.first(where: { $0["kpid"] as? Int == victimPID }), "\(records)")
        XCTAssertEqual(kill["kcomm"] as? String, "python3")
        XCTAssertEqual(kill["tpid"] as? Int, triggerPID, "the trigger ran the cgroup out of memory")
        XCTAssertEqual(kill["tcomm"] as? String, "tail")
        XCTAssertEqual(kill["oom_score_adj"] as? Int, 1000)
        XCTAssertEqual(kill["cgroup_id"] as? Int, Int(victimCgroup.id), "the victim's cgroup, not the trigger's (\(triggerCgroup.id))")
        XCTAssertNotEqual(kill["cgroup_id"] as? Int, ownCgroupID.map(Int.init), "not the test process's cgroup")
        XCTAssertEqual(kill["mount_ns"] as? Int, try ownNamespace("mnt"))
        XCTAssertEqual(kill["pid_ns"] as? Int, try ownNamespace("pid"))
    }
}
