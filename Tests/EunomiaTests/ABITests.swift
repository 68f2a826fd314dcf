import Foundation
import Logging
import CHostSupport
import PluginABI
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// ABI negotiation and the plugin lifecycle, with real .so files built by the test and loaded with dlopen.
final class ABITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func build(_ name: String, _ flags: [String] = []) throws -> URL {
        let out = dir.appendingPathComponent("\(name).so")
        try TestSupport.compileLibrary(TestSupport.fixtures.appendingPathComponent("fake_plugin.c"), output: out, flags: flags)
        return out
    }

    func loadError(_ url: URL) -> String? {
        do {
            _ = try PluginLibrary(path: url.path)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testCompatiblePluginLoads() throws {
        let lib = try PluginLibrary(path: build("good").path)
        XCTAssertEqual(lib.name, "fake")
        XCTAssertEqual(lib.version, "1.0.0")
        XCTAssertEqual(lib.abi, ABIVersion(major: Int(EUNOMIA_ABI_MAJOR), minor: Int(EUNOMIA_ABI_MINOR)))
    }

    func testOtherMajorIsRefused() throws {
        let error = loadError(try build("major99", ["-DFAKE_ABI_MAJOR=99"]))
        XCTAssertNotNil(error)
        XCTAssertTrue(error!.contains("built for eunomia ABI 99.\(EUNOMIA_ABI_MINOR)"), error!)
        XCTAssertTrue(error!.contains("major versions must match"), error!)
        XCTAssertFalse(error!.contains("\n"))
    }

    func testNewerMinorIsRefusedOlderMinorLoads() throws {
        let newer = loadError(try build("minor99", ["-DFAKE_ABI_MINOR=99"]))
        XCTAssertTrue(newer?.contains("upgrade eunomia") ?? false, newer ?? "loaded")
        if EUNOMIA_ABI_MINOR > 0 {
            XCTAssertNil(loadError(try build("older", ["-DFAKE_ABI_MINOR=0"])))
        }
    }

    /// A plugin built for ABI 1.1 (its table ends at get_stats) loads in this 1.2 host, offers
    /// no wait fd, map fds or handover, and is served by the event loop on its timer.
    func testABI11PluginIsPolledOnTheLoopTimer() throws {
        let size = MemoryLayout<eunomia_plugin>.offset(of: \eunomia_plugin.get_stats)! + MemoryLayout<UnsafeRawPointer>.size
        let library = try PluginLibrary(path: build("abi11", ["-DFAKE_ABI_MINOR=1", "-DFAKE_TABLE_SIZE=\(size)"]).path)
        XCTAssertEqual(library.abi, ABIVersion(major: 1, minor: 1))
        XCTAssertFalse(library.has(\.wait_fd))
        let schema = try TestSupport.fakeSchema()
        let params = try ResolvedParameters(schema: schema, assignments: ["count=4", "tag=3"])
        let captured = CapturedOutputLocked()
        let formatter = EventFormatter(schema: schema, parameters: params, format: .json, output: captured.buffer)
        let instance = try PluginInstance(library: library, configJSON: params.configJSON(), bpfObject: dir, packageDirectory: dir,
                                          sink: formatter, logger: Logger(label: "test"))
        try instance.start()
        XCTAssertNil(instance.waitFD())
        XCTAssertNil(instance.mapFD("events"))
        XCTAssertFalse(instance.supportsHandover)

        final class Served: LoopSource {
            let instance: PluginInstance
            let output: OutputBuffer
            var services = 0
            init(_ instance: PluginInstance, _ output: OutputBuffer) { self.instance = instance; self.output = output }
            var waitFD: Int32? { instance.waitFD() }
            func service() -> Bool {
                services += 1
                _ = try? instance.poll(timeoutMs: 0)
                output.flush()
                return true
            }
        }
        let loop = try EventLoop(logger: Logger(label: "test"))
        let served = Served(instance, captured.buffer)
        loop.add(served)
        let began = Date()
        loop.run(until: eh_monotonic_ns() + 350_000_000)
        XCTAssertGreaterThanOrEqual(served.services, 2, "served on the 100 ms timer")
        XCTAssertLessThanOrEqual(served.services, 5, "not busy-polled")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(began), 0.3)
        loop.remove(served)
        try instance.retire() // a 1.1 plugin has no retire: stop stands in for it
        XCTAssertEqual(captured.text.split(separator: "\n").count, 4, captured.text)
        instance.destroy()
    }

    func testTruncatedTableIsRefused() throws {
        let error = loadError(try build("short", ["-DFAKE_TABLE_SIZE=16"]))
        XCTAssertTrue(error?.contains("function table has 16 bytes") ?? false, error ?? "loaded")
    }

    func testLibraryWithoutEntryIsRefused() throws {
        let src = dir.appendingPathComponent("empty.c")
        try "int nothing_here(void) { return 0; }\n".write(to: src, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("empty.so")
        try TestSupport.compileLibrary(src, output: out)
        let error = loadError(out)
        XCTAssertTrue(error?.contains("does not export eunomia_plugin_entry") ?? false, error ?? "loaded")
    }

    func testLifecycleDeliversRecordsAndCountsDrops() throws {
        let schema = try TestSupport.fakeSchema()
        let params = try ResolvedParameters(schema: schema, assignments: ["count=5", "tag=7"])
        let captured = CapturedOutput()
        let formatter = EventFormatter(schema: schema, parameters: params, format: .json, output: captured.buffer)
        // Refuses the records with odd seq (1 and 3): the host must tell the plugin, which counts them lost.
        let sink = RefusingSink(formatter) { bytes in bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self) % 2 == 0 }
        let tracker = try PluginInstance(library: PluginLibrary(path: build("life").path), configJSON: params.configJSON(),
                                  bpfObject: dir, packageDirectory: dir, sink: sink, logger: Logger(label: "test"))
        try tracker.start()
        XCTAssertEqual(try tracker.poll(timeoutMs: 0), 3, "poll reports only the records the sink took")
        try tracker.stop()
        XCTAssertEqual(sink.offered, 5)
        XCTAssertEqual(tracker.stats(), TrackerStats(emitted: 3, lost: 2))
        tracker.destroy()
        XCTAssertEqual(captured.lines, [
            #"{"seq":0,"tag":7,"text":"v1.0.0"}"#,
            #"{"seq":2,"tag":7,"text":"v1.0.0"}"#,
            #"{"seq":4,"tag":7,"text":"v1.0.0"}"#,
        ])
    }

    /// ABI 1.1: records of kind row wait for end_report, which stop may call for a final report.
    func testStopHandsOverAFinalReport() throws {
        let schema = try TestSupport.fakeSchema()
        let params = try ResolvedParameters(schema: schema, assignments: ["count=3", "tag=4", "report=1"])
        let captured = CapturedOutput()
        let formatter = EventFormatter(schema: schema, parameters: params, format: .json, output: captured.buffer)
        let tracker = try PluginInstance(library: PluginLibrary(path: build("report").path), configJSON: params.configJSON(),
                                  bpfObject: dir, packageDirectory: dir, sink: formatter, logger: Logger(label: "test"))
        try tracker.start()
        XCTAssertEqual(try tracker.poll(timeoutMs: 0), 3)
        XCTAssertEqual(captured.lines.count, 3, "events print at once")
        try tracker.stop()
        tracker.destroy()
        let lines = captured.lines
        XCTAssertEqual(lines.count, 4, lines.joined(separator: "\n"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any])
        XCTAssertEqual(report["report"] as? String, "rows")
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["text"] as? String }, ["row2", "row1", "row0"], "sorted by seq, largest first")
    }

    func testCreateErrorComesBackAsOneLine() throws {
        let schema = try TestSupport.fakeSchema()
        let params = try ResolvedParameters(schema: schema, assignments: ["fail_create=1"])
        let formatter = EventFormatter(schema: schema, parameters: params, format: .json, output: CapturedOutput().buffer)
        XCTAssertThrowsError(try PluginInstance(library: PluginLibrary(path: build("failing").path), configJSON: params.configJSON(),
                                         bpfObject: dir, packageDirectory: dir, sink: formatter, logger: Logger(label: "test"))) {
            XCTAssertEqual("\($0)", "fake create failed: fail_create was set")
        }
    }

    /// Two versions of one plugin in one process: separate copies, separate state, and each
    /// library is unmapped once its last instance is gone.
    func testTwoVersionsSideBySideThenUnloaded() throws {
        let schema = try TestSupport.fakeSchema()
        let v1 = try build("fake-1", ["-DFAKE_VERSION=\"1.0.0\""])
        let v2 = try build("fake-2", ["-DFAKE_VERSION=\"2.0.0\""])
        var outputs: [CapturedOutput] = []
        do {
            var trackers: [PluginInstance] = []
            for (path, tag) in [(v1, 1), (v2, 2)] {
                let params = try ResolvedParameters(schema: schema, assignments: ["count=2", "tag=\(tag)"])
                let out = CapturedOutput()
                outputs.append(out)
                let f = EventFormatter(schema: schema, parameters: params, format: .csv, output: out.buffer)
                let t = try PluginInstance(library: PluginLibrary(path: path.path), configJSON: params.configJSON(),
                                    bpfObject: dir, packageDirectory: dir, sink: f, logger: Logger(label: "test"))
                try t.start()
                trackers.append(t)
            }
            XCTAssertTrue(mappedLibraries().contains(v1.path))
            XCTAssertTrue(mappedLibraries().contains(v2.path))
            for t in trackers { try t.poll(timeoutMs: 0) }
            for t in trackers { t.destroy() }
        }
        XCTAssertEqual(outputs[0].lines, ["0,1,v1.0.0", "1,1,v1.0.0"])
        XCTAssertEqual(outputs[1].lines, ["0,2,v2.0.0", "1,2,v2.0.0"])
        XCTAssertFalse(mappedLibraries().contains(v1.path), "v1 still mapped after its last tracker was destroyed")
        XCTAssertFalse(mappedLibraries().contains(v2.path), "v2 still mapped after its last tracker was destroyed")
    }
}

/// A sink that passes to another only the records `accept` takes, and refuses the rest.
final class RefusingSink: RecordSink {
    let inner: RecordSink
    let accept: (UnsafeRawBufferPointer) -> Bool
    private(set) var offered = 0

    init(_ inner: RecordSink, accept: @escaping (UnsafeRawBufferPointer) -> Bool) {
        self.inner = inner
        self.accept = accept
    }

    func consume(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool {
        offered += 1
        return accept(bytes) && inner.consume(recordID: recordID, bytes: bytes)
    }

    func endReport(timestampNs: UInt64) { inner.endReport(timestampNs: timestampNs) }
}

/// procfs files report size 0, so read them to the end rather than by size.
func readProcFile(_ path: String) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
}

func mappedLibraries() -> String { readProcFile("/proc/self/maps") }
