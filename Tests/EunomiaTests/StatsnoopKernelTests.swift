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
        var fs = statvfs() // glibc implements it with statfs(2)
        XCTAssertEqual(statvfs(harness.dir.path, &fs), 0)
        XCTAssertEqual(lstat(missing, &st), -1)
        let records = harness.collect(tracer) { $0["path"] as? String == missing }

        let found = try XCTUnwrap(records.first { $0["path"] as? String == present }, "\(records)")
        XCTAssertEqual(found["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(found["ret"] as? Int, 0)
        XCTAssertEqual(found["result"] as? Int, 0)
        XCTAssertEqual(found["err"] as? Int, 0)
        // glibc implements stat() with newstat, newfstatat or statx, depending on its version.
        XCTAssertTrue(["newstat", "newfstatat", "statx"].contains(found["syscall"] as? String ?? ""), "\(found)")
        let failed = try XCTUnwrap(records.first { $0["path"] as? String == missing })
        XCTAssertEqual(failed["ret"] as? Int, -Int(ENOENT))
        XCTAssertEqual(failed["result"] as? Int, -1)
        XCTAssertEqual(failed["err"] as? Int, Int(ENOENT))
        let statfsRecord = try XCTUnwrap(records.first { $0["path"] as? String == harness.dir.path && $0["syscall"] as? String == "statfs" },
                                         "\(records)")
        XCTAssertEqual(statfsRecord["ret"] as? Int, 0)
        XCTAssertEqual(Set(records.compactMap { $0["pid"] as? Int }), [Int(getpid())], "the pid filter let others through")
        XCTAssertFalse(records.contains { ($0["path"] as? String ?? "").isEmpty }, "fstat calls shown without the fstat parameter")
    }

    func testFailedOnlyInTable() throws {
        let harness = try TrackerHarness("statsnoop")
        let present = harness.dir.appendingPathComponent("stat-ok-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: present, contents: nil))
        let missing = harness.dir.appendingPathComponent("stat-missing-\(UUID().uuidString)").path
        let tracer = try harness.start(["--pid", String(getpid()), "--param", "failed", "--param", "sysname"], format: "table")
        var st = stat()
        XCTAssertEqual(stat(present, &st), 0)
        XCTAssertEqual(stat(missing, &st), -1)
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains(missing) }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, tracer.stdout)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "PID     COMM                 RET  ERR  SYSCALL    PATH")
        XCTAssertFalse(tracer.stdout.contains(present), "a successful stat passed the failed filter")
        let row = try XCTUnwrap(lines.first { $0.hasSuffix(missing) })
        XCTAssertTrue(row.hasPrefix(String(format: "%-7d ", getpid())), row)
        // RET and ERR as the original prints them: -1 and the errno.
        XCTAssertNotNil(row.range(of: #" -1   2    (newstat|newfstatat|statx) +\#(NSRegularExpression.escapedPattern(for: missing))$"#,
                                  options: .regularExpression), row)
    }
}
