import Foundation
import Logging
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// Hot swap in the real kernel: a running tracker moves between two installed versions while
/// events keep coming; every event arrives exactly once and aggregated state carries on.
final class SwapKernelTests: XCTestCase {
    var dir: URL!
    var store: Store!
    var loop: EventLoop!
    let logger = Logger(label: "swap-test")

    override func setUpWithError() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_openat", "syscalls/sys_exit_openat"])
        dir = try TestSupport.temporaryDirectory()
        store = Store(path: dir.appendingPathComponent("store").path)
        try TestSupport.trustBuildKey(in: store.root)
        loop = try EventLoop(logger: logger)
        loop.startThread()
    }

    override func tearDown() {
        loop?.shutdown()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Installs the bundled build of plugin and one built here at `version`.
    func installTwoVersions(_ plugin: String, version: String = "0.2.0",
                            editSchema: (inout [String: Any]) -> Void = { _ in }) throws -> (InstalledPlugin, InstalledPlugin) {
        let (a, _) = try store.install(package: try TestSupport.package(plugin))
        let pkg = try PluginBuilds.package(plugin, version: version, in: dir, editSchema: editSchema)
        let (b, _) = try store.install(package: pkg)
        XCTAssertNotEqual(a.buildID, b.buildID)
        return (a, b)
    }

    func compileFixture(_ name: String, flags: [String] = []) throws -> URL {
        let exe = dir.appendingPathComponent(name)
        let cc = try TestSupport.run("/usr/bin/cc", ["-O1", "-g", "-fno-omit-frame-pointer"] + flags
                                     + [TestSupport.fixtures.appendingPathComponent("\(name).c").path, "-o", exe.path])
        guard cc.status == 0 else { throw TestSupport.TestFailure("cc \(name): \(cc.stderr)") }
        return exe
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    /// A child opens 20 000 uniquely numbered files at a steady rate, three more opens block
    /// on FIFOs across several swaps, and the tracker is swapped between two versions 20
    /// times meanwhile: every path appears exactly once in the stream.
    func testTwentySwapsDeliverEveryOpenExactlyOnce() throws {
        let (v1, v2) = try installTwoVersions("opensnoop")
        let exe = try compileFixture("swap_opener", flags: ["-pthread"])
        let files = dir.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        let fifos = (0..<3).map { files.appendingPathComponent("fifo\($0)").path }
        for f in fifos { XCTAssertEqual(mkfifo(f, 0o600), 0) }
        let n = 20_000
        let gate = Pipe()
        let child = Process()
        child.executableURL = exe
        child.arguments = [files.path, String(n), "200"] + fifos
        child.standardInput = gate
        let childOut = Pipe()
        child.standardOutput = childOut
        try child.run()
        defer { if child.isRunning { child.terminate() } }

        let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(child.processIdentifier)"])
        let tracker = try RunningTracker(id: "opens", plugin: v1, parameters: params, loop: loop, logger: logger)
        let collected = CollectingSubscriber()
        tracker.router.add(collected, name: "test")
        gate.fileHandleForWriting.write(Data("go\n".utf8))
        usleep(100_000) // the FIFO openers are blocked in open(2) by now

        var reports: [SwapReport] = []
        var readers: [Int32] = []
        for k in 0..<20 {
            usleep(120_000)
            reports.append(try tracker.swap(to: k % 2 == 0 ? v2 : v1))
            // Release a blocked open a few swaps after it began: it was in flight across them.
            if k == 4 || k == 9 || k == 14 {
                readers.append(open(fifos[readers.count], O_RDONLY | O_NONBLOCK))
            }
        }
        child.waitUntilExit()
        XCTAssertEqual(child.terminationStatus, 0)
        usleep(200_000)
        let counters = try tracker.stop()
        readers.forEach { close($0) }

        var seen: [String: Int] = [:]
        for r in collected.records {
            if let p = r["path"] as? String, p.hasPrefix(files.path) { seen[p, default: 0] += 1 }
        }
        let expected = (0..<n).map { files.appendingPathComponent(String(format: "f%06d", $0)).path } + fifos
        let lost = expected.filter { seen[$0] == nil }
        let duplicated = seen.values.reduce(0) { $0 + max(0, $1 - 1) }
        let durations = reports.map(\.durationMs), cutovers = reports.map(\.cutoverMs)
        print("exactly once: \(expected.count) opens, \(reports.count) swaps: lost \(lost.count), duplicated \(duplicated); "
              + "handed over \(counters.handedOver), lost in swaps \(reports.reduce(0) { $0 + $1.lostInSwap }); "
              + "swap to cutover p50 \(String(format: "%.1f", Self.percentile(cutovers, 0.5))) ms p99 \(String(format: "%.1f", Self.percentile(cutovers, 0.99))) ms, "
              + "whole swap p50 \(String(format: "%.1f", Self.percentile(durations, 0.5))) ms; ring buffer lost \(counters.lost)")
        XCTAssertEqual(lost.count, 0, "never delivered: \(lost.prefix(10))")
        XCTAssertEqual(duplicated, 0, "delivered twice: \(seen.filter { $0.value > 1 }.prefix(10))")
        XCTAssertEqual(counters.lost, 0)
        for r in reports {
            XCTAssertEqual(r.mode, "cutover", "\(r)")
            XCTAssertEqual(r.lostInSwap, 0, "\(r)")
            XCTAssertTrue(r.carriedMaps.contains("start"), "the entry map is handed over: \(r)")
        }
        // The three FIFO opens were in flight across at least one swap each.
        XCTAssertGreaterThanOrEqual(counters.handedOver, 3)
        XCTAssertEqual(tracker.swaps, 20)
    }

    /// A child driven phase by phase through its stdin; each phase answers one line.
    final class Phased {
        let process = Process()
        private let input = Pipe()
        private let output = Pipe()
        var pid: Int32 { process.processIdentifier }

        init(_ exe: URL, _ arguments: [String]) throws {
            process.executableURL = exe
            process.arguments = arguments
            process.standardInput = input
            process.standardOutput = output
            try process.run()
        }

        /// Runs one phase and waits for its answer.
        @discardableResult
        func phase() throws -> String {
            send()
            return try answer()
        }

        /// Starts a phase without waiting for it to end.
        func send() {
            input.fileHandleForWriting.write(Data("go\n".utf8))
        }

        /// The next line the fixture writes.
        func answer() throws -> String {
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let d = output.fileHandleForReading.availableData
                if d.isEmpty { throw TestSupport.TestFailure("the fixture ended before answering") }
                line.append(d)
            }
            return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func finish() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    /// The C-level check of the same protocol (Tests/Fixtures/swap_check.c): two copies of
    /// opensnoop's library in one process, handover and cutover driven by hand.
    func testSwapProtocolInC() throws {
        let binary = TestSupport.repoRoot.appendingPathComponent("build/tests/swap_check")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSupport.TestFailure("no build/tests/swap_check: run make test (it builds it)")
        }
        let result = try TestSupport.run(binary.path, [])
        print(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("lost 0, duplicated 0"), result.stdout)
    }

    /// syscount's counts live in BPF maps handed to the new version: getppid calls made before
    /// and after a swap are all in the one final report.
    func testSyscountCountsSurviveASwap() throws {
        let (v1, v2) = try installTwoVersions("syscount")
        let load = try Phased(try compileFixture("getppid_phases"), ["5000"])
        defer { load.finish() }
        let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(load.pid)"])
        let tracker = try RunningTracker(id: "counts", plugin: v1, parameters: params, loop: loop, logger: logger)
        let collected = CollectingSubscriber()
        tracker.router.add(collected, name: "test")
        try load.phase()
        let report = try tracker.swap(to: v2)
        XCTAssertFalse(report.carriedMaps.isEmpty, "syscount hands its counts over: \(report)")
        try load.phase()
        try tracker.stop()

        let reports = collected.records.filter { $0["report"] as? String == "syscalls" }
        XCTAssertEqual(reports.count, 1, "one final report, from the new version: \(collected.text.suffix(2000))")
        let rows = reports.flatMap { $0["rows"] as? [[String: Any]] ?? [] }
        let row = try XCTUnwrap(rows.first { $0["syscall"] as? String == "getppid" }, "\(rows)")
        XCTAssertEqual(row["count"] as? Int, 10_000, "5000 calls before the swap and 5000 after: \(row)")
    }

    /// syscount counts in the exit handler of raw_syscalls/sys_exit, one hook that both versions
    /// run for every call while both are attached. A storm of getppid() calls runs through 50
    /// swaps: the count must be exactly the number of calls, none counted twice by the two
    /// versions reading the clock on either side of a cutover, none counted by neither. (Before
    /// the versions shared one decision per hit through eunomia_moment, 200 swaps here counted
    /// 46 calls twice in 31 million.)
    func testSyscountCountsAStormExactlyAcrossFiftySwaps() throws {
        let (v1, v2) = try installTwoVersions("syscount")
        let load = try Phased(try compileFixture("getppid_storm"), [])
        defer { load.finish() }
        let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(load.pid)"])
        let tracker = try RunningTracker(id: "storm", plugin: v1, parameters: params, loop: loop, logger: logger)
        let collected = CollectingSubscriber()
        tracker.router.add(collected, name: "test")
        load.send()
        usleep(100_000)
        // EUNOMIA_STORM_SWAPS runs it longer, to look for a rare straddle by hand.
        let swaps = ProcessInfo.processInfo.environment["EUNOMIA_STORM_SWAPS"].flatMap { Int($0) } ?? 50
        for i in 0..<swaps {
            let report = try tracker.swap(to: i % 2 == 0 ? v2 : v1)
            XCTAssertEqual(report.lostInSwap, 0, "\(report)")
        }
        usleep(100_000)
        load.send()
        let calls = try XCTUnwrap(Int(try load.answer()), "the fixture's count")
        try tracker.stop()

        let reports = collected.records.filter { $0["report"] as? String == "syscalls" }
        let rows = reports.flatMap { $0["rows"] as? [[String: Any]] ?? [] }
        let counted = rows.filter { $0["syscall"] as? String == "getppid" }.compactMap { $0["count"] as? Int }.reduce(0, +)
        print("syscount storm across \(swaps) swaps: \(calls) getppid calls made, \(counted) counted, \(counted - calls) off")
        XCTAssertGreaterThan(calls, 100_000, "the storm ran")
        XCTAssertEqual(counted, calls, "every call counted exactly once")
    }

    /// memleak's outstanding allocations (and their stacks) are handed over: a leak made before
    /// the swap is in the report the new version makes.
    func testMemleakReportsAnAllocationMadeBeforeTheSwap() throws {
        let (v1, v2) = try installTwoVersions("memleak")
        let exe = try compileFixture("memleak_leaky", flags: ["-O0"])
        let leaky = try LiveProcess(exe, ["--wait"], environment: [:])
        defer { leaky.process.terminate(); leaky.process.waitUntilExit() }
        XCTAssertTrue(leaky.wait(upTo: 10) { leaky.stdout.contains("waiting") }, leaky.stderr)
        let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(leaky.process.processIdentifier)", "interval=0", "older=0"])
        let tracker = try RunningTracker(id: "leaks", plugin: v1, parameters: params, loop: loop, logger: logger)
        let collected = CollectingSubscriber()
        tracker.router.add(collected, name: "test")
        kill(leaky.process.processIdentifier, SIGUSR1)
        XCTAssertTrue(leaky.wait(upTo: 20) { leaky.stdout.contains("leaked") }, leaky.stderr)
        let report = try tracker.swap(to: v2)
        XCTAssertEqual(report.lostInSwap, 0, "\(report)")
        try tracker.stop()

        let rows = try XCTUnwrap(collected.records.last { $0["report"] as? String == "user_stacks" }?["rows"] as? [[String: Any]],
                                 collected.text.suffix(2000).description)
        let leak = try XCTUnwrap(rows.first { ($0["stack"] as? [String])?.contains { $0.hasPrefix("leaky_function+0x") } ?? false },
                                 "the leak made before the swap is gone: \(rows)")
        XCTAssertEqual(leak["bytes"] as? Int, 100 * 4096, "\(leak)")
        XCTAssertEqual(leak["allocs"] as? Int, 100, "\(leak)")
    }

    /// A version whose BPF object the verifier rejects: the swap fails with the plugin's
    /// error, and the old version's events keep flowing with its counters continuing.
    func testFailedSwapLeavesTheOldVersionRunning() throws {
        let (v1, _) = try installTwoVersions("opensnoop")
        // The same object plus one program that uses a map value without checking for NULL (a
        // random key: the verifier cannot prove the lookup succeeds).
        var source = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Plugins/opensnoop/opensnoop.bpf.c"), encoding: .utf8)
        source += """

            SEC("tracepoint/syscalls/sys_enter_getppid")
            int eunomia_test_rejected(void *ctx)
            {
                __u32 key = bpf_get_prandom_u32();
                struct event *e = bpf_map_lookup_elem(&scratch, &key);
                e->pid = 1;
                return 0;
            }

            """
        let src = dir.appendingPathComponent("rejected.bpf.c")
        try source.write(to: src, atomically: true, encoding: .utf8)
        let object = dir.appendingPathComponent("rejected.bpf.o")
        try PluginBuilds.bpfObject(src, output: object)
        let (bad, _) = try store.install(package: try PluginBuilds.package("opensnoop", version: "0.3.0", in: dir, bpfObject: object))

        // The test process hosts the tracker and opens the files: include_host lets them in.
        let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(getpid())", "include_host=true"])
        let tracker = try RunningTracker(id: "opens", plugin: v1, parameters: params, loop: loop, logger: logger)
        let collected = CollectingSubscriber()
        tracker.router.add(collected, name: "test")
        let before = dir.appendingPathComponent("before-\(UUID().uuidString)").path
        close(open(before, O_CREAT | O_WRONLY, 0o600))
        XCTAssertTrue(waitFor { collected.text.contains(before) }, "no event before the swap")
        let eventsBefore = tracker.counters().events

        XCTAssertThrowsError(try tracker.swap(to: bad)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("swap of opens to opensnoop@0.3.0 failed"), message)
            XCTAssertTrue(message.contains("opensnoop@0.1.0 keeps running"), message)
            XCTAssertTrue(message.contains("loading BPF programs failed"), message)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        XCTAssertEqual(tracker.state, .running)
        XCTAssertEqual(tracker.plugin.buildID, v1.buildID)
        let after = dir.appendingPathComponent("after-\(UUID().uuidString)").path
        close(open(after, O_CREAT | O_WRONLY, 0o600))
        XCTAssertTrue(waitFor { collected.text.contains(after) }, "events stopped after the failed swap")
        XCTAssertGreaterThan(tracker.counters().events, eventsBefore, "the counters carry on")
        try tracker.stop()
    }

    /// A swap to a version whose schema has one more field: JSON shows it from the cutover on,
    /// and a table prints the new header.
    func testSwapToAWiderSchemaShowsTheNewField() throws {
        let (v1, v2) = try installTwoVersions("opensnoop") { schema in
            guard var records = schema["records"] as? [[String: Any]], var fields = records[0]["fields"] as? [[String: Any]] else { return }
            // Its layout comes from BTF at pack, as any field's.
            fields.append(["name": "user", "member": "uid", "column": "USER", "width": 6])
            records[0]["fields"] = fields
            schema["records"] = records
        }
        // The test process hosts the tracker and opens the files: include_host lets them in.
        let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(getpid())", "include_host=true"])
        let tracker = try RunningTracker(id: "opens", plugin: v1, parameters: params, loop: loop, logger: logger)
        let json = CollectingSubscriber()
        tracker.router.add(json, name: "json")
        let tableText = CapturedOutputLocked()
        tracker.router.add(FormattingSubscriber(format: .table, output: tableText.buffer), name: "table")
        let before = dir.appendingPathComponent("narrow-\(UUID().uuidString)").path
        close(open(before, O_CREAT | O_WRONLY, 0o600))
        XCTAssertTrue(waitFor { json.text.contains(before) })
        _ = try tracker.swap(to: v2)
        let after = dir.appendingPathComponent("wide-\(UUID().uuidString)").path
        close(open(after, O_CREAT | O_WRONLY, 0o600))
        XCTAssertTrue(waitFor { json.text.contains(after) })
        try tracker.stop()

        let old = try XCTUnwrap(json.records.first { $0["path"] as? String == before })
        let new = try XCTUnwrap(json.records.first { $0["path"] as? String == after })
        XCTAssertNil(old["user"], "\(old)")
        XCTAssertEqual(new["user"] as? Int, Int(getuid()), "\(new)")
        let headers = tableText.text.split(separator: "\n").filter { $0.hasPrefix("PID") }
        XCTAssertEqual(headers.count, 2, "the table reprints its header for the new schema: \(tableText.text.prefix(3000))")
        XCTAssertTrue(headers.last?.contains("USER") ?? false, "\(headers)")
    }

    private func waitFor(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// Formatted output collected in memory from the loop thread, read by the test thread.
final class CapturedOutputLocked: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    lazy var buffer = OutputBuffer(capacity: 1 << 14) { [unowned self] chunk in
        self.lock.withLock { self.bytes.append(contentsOf: chunk) }
        return true
    }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
