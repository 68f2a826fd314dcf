import Foundation
import Logging
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// The plugin helper's runtime conventions in the real kernel, through a test tracker
/// (Tests/Fixtures/hooktest: getppid(2) calls) run in this process as the host runs it: the
/// after-load hook fills a map before the first event, the host's own process is excluded
/// unless include_host, and eunomia_output_array sends a stack only as far as it goes.
final class HelperKernelTests: XCTestCase {
    var dir: URL!
    var store: Store!
    var loop: EventLoop!
    var plugin: InstalledPlugin!
    let logger = Logger(label: "helper-test")

    override func setUpWithError() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_getppid"])
        dir = try TestSupport.temporaryDirectory()
        store = Store(path: dir.appendingPathComponent("store").path)
        try TestSupport.trustBuildKey(in: store.root)
        plugin = try store.install(package: try Self.hooktestPackage(in: dir)).0
        loop = try EventLoop(logger: logger)
        loop.startThread()
    }

    override func tearDown() {
        loop?.shutdown()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Builds, packs and signs Tests/Fixtures/hooktest as `make build` does a bundled plugin.
    static func hooktestPackage(in dir: URL) throws -> URL {
        let root = TestSupport.repoRoot
        let sources = TestSupport.fixtures.appendingPathComponent("hooktest")
        let work = dir.appendingPathComponent("hooktest")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try PluginBuilds.bpfObject(sources.appendingPathComponent("hooktest.bpf.c"), output: work.appendingPathComponent("hooktest.bpf.o"))
        let helper = TestSupport.helperSources
        let cc = try TestSupport.run("/usr/bin/cc", ["-O2", "-g", "-Wall", "-Wextra", "-fPIC", "-fvisibility=hidden",
                                                     "-I", root.appendingPathComponent("Sources/PluginABI/include").path,
                                                     "-I", root.appendingPathComponent("Sources/PluginABI/helper").path,
                                                     sources.appendingPathComponent("hooktest.c").path] + helper
                                         + ["-o", work.appendingPathComponent("hooktest.so").path, "-shared",
                                            "-Wl,-z,defs", "-Wl,-z,now", "-lbpf", "-ljansson", "-lelf"])
        guard cc.status == 0 else { throw TestSupport.TestFailure("cc hooktest: \(cc.stderr)") }
        try FileManager.default.copyItem(at: sources.appendingPathComponent("schema.json"), to: work.appendingPathComponent("schema.json"))
        let out = dir.appendingPathComponent("packages")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let unused = dir.appendingPathComponent("unused-store")
        let pack = try TestSupport.eunomia(["plugin", "pack", work.path, "-o", out.path + "/"], store: unused)
        guard pack.status == 0 else { throw TestSupport.TestFailure("pack hooktest: \(pack.stderr)") }
        let pkg = out.appendingPathComponent("hooktest-0.1.0.pkg")
        let sign = try TestSupport.eunomia(["plugin", "sign", pkg.path, "--key", TestSupport.buildKey.path], store: unused)
        guard sign.status == 0 else { throw TestSupport.TestFailure("sign hooktest: \(sign.stderr)") }
        return pkg
    }

    /// Every record as JSON, and the length each arrived with.
    final class Recorder: RecordSubscriber, @unchecked Sendable {
        let json = CollectingSubscriber()
        private let lock = NSLock()
        private var lengths: [Int] = []
        var sizes: [Int] { lock.withLock { lengths } }
        func sourceStarted(_ source: RecordSource) { json.sourceStarted(source) }
        func sourceEnded(_ source: RecordSource) { json.sourceEnded(source) }
        func consume(_ record: RecordView) -> Bool {
            lock.withLock { lengths.append(record.bytes.count) }
            return json.consume(record)
        }
        func flush() -> UInt64 { json.flush() }
        func finish() { json.finish() }
    }

    func start(_ assignments: [String]) throws -> (RunningTracker, Recorder) {
        let params = try ResolvedParameters(schema: plugin.schema, assignments: assignments)
        let tracker = try RunningTracker(id: "hooks", plugin: plugin, parameters: params, loop: loop, logger: logger)
        let recorder = Recorder()
        tracker.router.add(recorder, name: "test")
        return (tracker, recorder)
    }

    func waitFor(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// The hook runs after load and before attach: the very first record already carries the
    /// value it wrote. Without stacks every record is 40 bytes, not the struct's 296.
    func testAfterLoadHookFillsItsMapBeforeTheFirstEvent() throws {
        let (tracker, recorder) = try start(["pid=\(getpid())", "include_host=true", "cookie=\(0x5eed_1234)"])
        for _ in 0..<20 { _ = getppid() }
        XCTAssertTrue(waitFor { recorder.json.records.count >= 20 }, "getppid calls never showed up: \(recorder.json.text.suffix(500))")
        try tracker.stop()
        let records = recorder.json.records
        XCTAssertGreaterThanOrEqual(records.count, 20)
        for r in records {
            XCTAssertEqual(r["cookie"] as? Int, 0x5eed_1234, "a record without the hook's value: \(r)")
            XCTAssertEqual(r["pid"] as? Int, Int(getpid()))
            XCTAssertEqual(r["frames"] as? Int, 0)
            XCTAssertEqual(r["kstack"] as? [String], [])
        }
        XCTAssertEqual(Set(recorder.sizes), [40], "no stack: the record ends where the stack would begin")
        print("hooktest record without a stack: \(recorder.sizes.first ?? -1) bytes (the struct: \(plugin.schema.records[0].size))")
    }

    func testAfterLoadHookFailureFailsStart() throws {
        XCTAssertThrowsError(try start(["pid=\(getpid())", "fail_after_load=true"])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("hooktest's after-load hook refused to fill its map (fail_after_load)"), message)
        }
        // Nothing is left attached: a tracker started afterwards works.
        let (tracker, recorder) = try start(["pid=\(getpid())", "include_host=true", "cookie=7"])
        _ = getppid()
        XCTAssertTrue(waitFor { !recorder.json.records.isEmpty })
        try tracker.stop()
        XCTAssertEqual(recorder.json.records.first?["cookie"] as? Int, 7)
    }

    /// All processes traced, include_host not set: a child's calls arrive, the host's (this
    /// test process's) never do.
    func testHostProcessIsExcludedByDefault() throws {
        let exe = dir.appendingPathComponent("getppid_phases")
        let cc = try TestSupport.run("/usr/bin/cc", ["-O1", TestSupport.fixtures.appendingPathComponent("getppid_phases.c").path, "-o", exe.path])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let child = try SwapKernelTests.Phased(exe, ["50"])
        defer { child.finish() }
        let (tracker, recorder) = try start(["cookie=1"])
        for _ in 0..<50 { _ = getppid() }
        try child.phase()
        for _ in 0..<50 { _ = getppid() }
        let childPid = Int(child.pid)
        XCTAssertTrue(waitFor { recorder.json.records.filter { $0["pid"] as? Int == childPid }.count >= 50 },
                      "the child's calls never showed up")
        usleep(100_000)
        try tracker.stop()
        let mine = recorder.json.records.filter { $0["pid"] as? Int == Int(getpid()) }
        XCTAssertEqual(mine.count, 0, "the host's own calls were traced: \(mine.prefix(3))")
    }

    /// eunomia_output_array: a record is as long as its stack, frames as sent, symbolized.
    func testEventStacksAreSentOnlyAsFarAsTheyGo() throws {
        let (tracker, recorder) = try start(["pid=\(getpid())", "include_host=true", "stack=true"])
        for _ in 0..<10 { _ = getppid() }
        XCTAssertTrue(waitFor { recorder.json.records.count >= 10 })
        try tracker.stop()
        let records = recorder.json.records
        let sizes = recorder.sizes
        XCTAssertEqual(records.count, sizes.count)
        for (r, size) in zip(records, sizes) {
            let frames = try XCTUnwrap(r["frames"] as? Int)
            let stack = try XCTUnwrap(r["kstack"] as? [String], "\(r)")
            XCTAssertGreaterThan(frames, 0, "\(r)")
            XCTAssertLessThanOrEqual(frames, 32)
            XCTAssertEqual(size, 40 + 8 * frames, "the record ends after its last frame")
            XCTAssertEqual(stack.count, frames, "\(stack)")
            XCTAssertTrue(stack.contains { $0.contains("do_syscall_64") }, "a system call's kernel stack: \(stack)")
            XCTAssertFalse(stack.contains { $0.hasPrefix("0x0") }, "\(stack)")
        }
        print("hooktest record with a kernel stack: \(Set(sizes).sorted()) bytes for \(Set(records.compactMap { $0["frames"] as? Int }).sorted()) frames (the struct: 296)")
    }
}
