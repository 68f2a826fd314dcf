import Foundation
import XCTest

/// biolatency in the real kernel: O_DIRECT writes (each fsynced) and reads of a file in the
/// test's temporary directory reach the disk that holds it, and land in its histograms.
final class BiolatencyKernelTests: XCTestCase {
    static let blocks = 64

    /// The whole disk (not the partition) holding path, as biolatency names it: "vda".
    func diskName(holding path: String) throws -> String {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        // glibc's dev_t encoding (the major()/minor() macros do not reach Swift).
        let d = UInt64(st.st_dev)
        let major = ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff), minor = (d & 0xff) | ((d >> 12) & ~0xff)
        let dev = "/sys/dev/block/\(major):\(minor)"
        var node = URL(fileURLWithPath: dev).resolvingSymlinksInPath()
        if FileManager.default.fileExists(atPath: node.appendingPathComponent("partition").path) {
            node.deleteLastPathComponent()
        }
        return node.lastPathComponent
    }

    /// Compiles the load and runs it against a file in dir; returns when it is done.
    func directIO(in dir: URL) throws {
        let exe = dir.appendingPathComponent("biolatency_dio")
        let cc = try TestSupport.run("/usr/bin/cc", ["-O1", TestSupport.fixtures.appendingPathComponent("biolatency_dio.c").path, "-o", exe.path])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let load = try TestSupport.run(exe.path, [dir.appendingPathComponent("data").path, "\(Self.blocks)"])
        XCTAssertEqual(load.status, 0, load.stderr)
    }

    func testPerDiskPerFlagJSON() throws {
        let harness = try TrackerHarness("biolatency")
        let disk = try diskName(holding: harness.dir.path)
        let tracer = try harness.start(["--param", "per_disk=true", "--param", "per_flag=true"])
        try directIO(in: harness.dir)
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let reports = TrackerHarness.records(tracer.stdout).filter { $0["report"] as? String == "latency" }
        XCTAssertEqual(reports.count, 1, "one report, at the end (interval 0): \(tracer.stdout)")
        let histograms = try XCTUnwrap(reports.first?["histograms"] as? [[String: Any]])
        let mine = histograms.filter { $0["disk"] as? String == disk }
        func total(_ op: String) -> Int { mine.filter { $0["op"] as? String == op }.map(histogramSum).reduce(0, +) }
        // Every O_DIRECT write and read is at least one request (large ones may be split).
        XCTAssertGreaterThanOrEqual(total("Write"), Self.blocks, "\(mine)")
        XCTAssertGreaterThanOrEqual(total("Read"), Self.blocks, "\(mine)")
        // fsync after each write flushes the disk cache: a Flush request or a PreFlush flag.
        XCTAssertTrue(mine.contains { $0["op"] as? String == "Flush" || ($0["flags"] as? String ?? "").contains("PreFlush") }, "\(mine)")
        for h in histograms {
            let latency = try XCTUnwrap(h["latency"] as? [String: Any])
            XCTAssertEqual(latency["unit"] as? String, "usecs")
            let buckets = try XCTUnwrap(latency["buckets"] as? [[String: Int]])
            XCTAssertEqual(buckets.first?["low"], 0)
            XCTAssertEqual(buckets.first?["high"], 1)
            XCTAssertNotEqual(buckets.last?["count"], 0, "buckets end at the last non-zero one")
        }
    }

    func testMillisecondsTable() throws {
        let harness = try TrackerHarness("biolatency")
        let disk = try diskName(holding: harness.dir.path)
        let tracer = try harness.start(["--param", "milliseconds=true", "--param", "per_disk=true", "--param", "disk=\(disk)"], format: "table")
        try directIO(in: harness.dir)
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        // The disk filter leaves one histogram: that disk's.
        XCTAssertEqual(lines.filter { $0.hasPrefix("disk = ") }, ["disk = \(disk)"], tracer.stdout)
        XCTAssertEqual(lines.filter { $0.contains(": count") }, ["     msecs               : count    distribution"], tracer.stdout)
        let counts = lines.compactMap { line -> Int? in
            let parts = line.split(separator: ":")
            guard parts.count == 2, line.contains("->"), let bar = parts[1].split(separator: "|").first else { return nil }
            return Int(bar.trimmingCharacters(in: .whitespaces))
        }
        XCTAssertGreaterThanOrEqual(counts.reduce(0, +), 2 * Self.blocks, tracer.stdout)
    }
}

/// Sum of the bucket counts of a JSON histogram record's "latency" field.
private func histogramSum(_ record: [String: Any]) -> Int {
    let buckets = (record["latency"] as? [String: Any])?["buckets"] as? [[String: Int]] ?? []
    return buckets.compactMap { $0["count"] }.reduce(0, +)
}
