import Foundation
import XCTest

/// oomkill in the real kernel: a process in a 32 MiB memory cgroup allocates until the kernel kills it.
final class OomkillKernelTests: XCTestCase {
    /// A memory-limited cgroup (v2, or v1's memory controller); removed when the test ends.
    func makeCgroup(limitBytes: Int) throws -> (procs: String, remove: () -> Void) {
        let fm = FileManager.default
        let name = "eunomia-oomtest-\(getpid())-\(UUID().uuidString.prefix(6))"
        let v2 = fm.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        let dir = v2 ? "/sys/fs/cgroup/\(name)" : "/sys/fs/cgroup/memory/\(name)"
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let remove = { _ = rmdir(dir) }
        do {
            if v2 {
                try "\(limitBytes)".write(toFile: "\(dir)/memory.max", atomically: false, encoding: .utf8)
                try? "0".write(toFile: "\(dir)/memory.swap.max", atomically: false, encoding: .utf8)
            } else {
                try "\(limitBytes)".write(toFile: "\(dir)/memory.limit_in_bytes", atomically: false, encoding: .utf8)
                try? "\(limitBytes)".write(toFile: "\(dir)/memory.memsw.limit_in_bytes", atomically: false, encoding: .utf8)
            }
        } catch {
            remove()
            throw error
        }
        return ("\(dir)/cgroup.procs", remove)
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
        let cgroup = try makeCgroup(limitBytes: 32 << 20)
        defer { cgroup.remove() }
        let tracer = try harness.start()
        // The attach path in use, as loaded: the mark_victim tracepoint always, the
        // oom_kill_process kprobe (the only source of pages) only where kprobes work.
        let types = loadedProgramTypes(tracer.process.processIdentifier)
        let (kprobeType, tracepointType) = (2, 5) // BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_TRACEPOINT
        XCTAssertEqual(types.filter { $0 == tracepointType }.count, 1, "program types held by the tracer: \(types)")
        let viaKprobe = types.contains(kprobeType)
        XCTAssertEqual(viaKprobe, kprobeUsable, "the kprobe is loaded exactly where kprobes work: program types \(types)")
        // The child joins the cgroup, then becomes `tail /dev/zero`, which buffers an endless line.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "echo $$ > \"$0\" && exec tail /dev/zero", cgroup.procs]
        try child.run()
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
        // The OOM context's pages come from the kprobe: the cgroup's limit (no swap) in pages.
        // On the tracepoint alone they are 0, and the message leaves them out.
        let pages = kill["pages"] as? Int ?? -1
        let limitPages = (32 << 20) / Int(getpagesize())
        XCTAssertEqual(pages, viaKprobe ? limitPages : 0, viaKprobe ? "kprobe path" : "tracepoint path, no pages")
        let size = viaKprobe ? "\(limitPages) pages, " : ""
        XCTAssertEqual(kill["message"] as? String,
                       "Triggered by PID \(pid) (\"tail\"), OOM kill of PID \(pid) (\"tail\"), \(size)total-vm \(totalVM) kB, anon-rss \(anon) kB")
    }
}
