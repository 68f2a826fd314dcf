import Foundation
import XCTest

/// statsnoop in the real kernel: the test's own stat() calls, found and missing.
final class StatsnoopKernelTests: XCTestCase {
    func testStatOfUniquePathsShowsPathAndResult() throws {
        let harness = try TrackerHarness("statsnoop")
        let present = harness.dir.appendingPathComponent("stat-probe-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: present, contents: Data("x".utf8)))
        let missing = present + "-missing"
        let tracer = try harness.start(["--pid", String(getpid())])
        var st = stat()
        XCTAssertEqual(stat(present, &st), 0)
        XCTAssertEqual(lstat(missing, &st), -1)
        let records = harness.collect(tracer) { $0["path"] as? String == missing }

        let found = try XCTUnwrap(records.first { $0["path"] as? String == present }, "\(records)")
        XCTAssertEqual(found["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(found["ret"] as? Int, 0)
        let failed = try XCTUnwrap(records.first { $0["path"] as? String == missing })
        XCTAssertEqual(failed["ret"] as? Int, -Int(ENOENT))
        XCTAssertEqual(Set(records.compactMap { $0["pid"] as? Int }), [Int(getpid())], "the pid filter let others through")
        XCTAssertFalse(records.contains { ($0["path"] as? String ?? "").isEmpty }, "fstat calls shown without the fstat parameter")
    }

    func testFailedOnlyInTable() throws {
        let harness = try TrackerHarness("statsnoop")
        let present = harness.dir.appendingPathComponent("stat-ok-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: present, contents: nil))
        let missing = harness.dir.appendingPathComponent("stat-missing-\(UUID().uuidString)").path
        let tracer = try harness.start(["--pid", String(getpid()), "--param", "failed"], format: "table")
        var st = stat()
        XCTAssertEqual(stat(present, &st), 0)
        XCTAssertEqual(stat(missing, &st), -1)
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains(missing) }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, tracer.stdout)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "PID     COMM                 RET  PATH")
        XCTAssertFalse(tracer.stdout.contains(present), "a successful stat passed the failed filter")
        let row = try XCTUnwrap(lines.first { $0.hasSuffix(missing) })
        XCTAssertTrue(row.hasPrefix(String(format: "%-7d ", getpid())), row)
        XCTAssertTrue(row.contains(" -2   \(missing)"), row)
    }
}
