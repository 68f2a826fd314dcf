import Foundation
import XCTest

/// syscount in the real kernel: a fixture's 10000 getppid() calls, counted per process and per
/// syscall, with latency, in JSON and in the table.
final class SyscountKernelTests: XCTestCase {
    /// A compiled Tests/Fixtures/syscount_getppid.c, started and waiting at its stdin gate.
    private final class Load {
        let process = Process()
        let gate = Pipe()
        var pid: Int { Int(process.processIdentifier) }

        init(_ harness: TrackerHarness, calls: Int) throws {
            let binary = harness.dir.appendingPathComponent("syscount_getppid")
            let cc = try TestSupport.run("/usr/bin/cc", ["-O1", "-o", binary.path,
                                                         TestSupport.fixtures.appendingPathComponent("syscount_getppid.c").path])
            guard cc.status == 0 else { throw EunomiaTestError("cc failed: \(cc.stderr)") }
            process.executableURL = binary
            process.arguments = [String(calls)]
            process.standardInput = gate
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// Opens the gate and waits for the calls to be made.
        func run(file: StaticString = #filePath, line: UInt = #line) {
            gate.fileHandleForWriting.write(Data("go\n".utf8))
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "fixture failed", file: file, line: line)
        }
    }

    private struct EunomiaTestError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Stops the tracer (the one report comes at the end: interval 0) and returns the rows of
    /// the reports named `report`.
    private func finalRows(_ tracer: LiveProcess, report: String, file: StaticString = #filePath, line: UInt = #line) -> [[String: Any]] {
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr, file: file, line: line)
        let reports = TrackerHarness.records(tracer.stdout).filter { $0["report"] as? String == report }
        XCTAssertEqual(reports.count, 1, "expected one \(report) report: \(tracer.stdout.suffix(2000))", file: file, line: line)
        return reports.flatMap { $0["rows"] as? [[String: Any]] ?? [] }
    }

    func testByProcessWithLatencyCountsTheLoad() throws {
        let harness = try TrackerHarness("syscount")
        let load = try Load(harness, calls: 10000)
        let tracer = try harness.start(["--param", "by_process", "--param", "latency", "--param", "top=0"])
        load.run()
        let rows = finalRows(tracer, report: "process_latency")
        let row = try XCTUnwrap(rows.first { $0["pid"] as? Int == load.pid }, "no row for pid \(load.pid): \(rows.prefix(20))")
        XCTAssertGreaterThanOrEqual(row["count"] as? Int ?? 0, 10000, "\(row)")
        XCTAssertEqual(row["comm"] as? String, "syscount_getppi", "\(row)")
        let totalNs = try XCTUnwrap(row["total_ns"] as? Int, "\(row)")
        XCTAssertGreaterThan(totalNs, 0)
        let us = try XCTUnwrap(row["time"] as? Double, "\(row)")
        XCTAssertEqual(us, Double(totalNs) / 1000, accuracy: 0.001, "time is total_ns in microseconds")
        // Rows come sorted by total time, largest first.
        let totals = rows.compactMap { $0["total_ns"] as? Int }
        XCTAssertEqual(totals, totals.sorted(by: >))
    }

    func testBySyscallForOnePidResolvesGetppid() throws {
        let harness = try TrackerHarness("syscount")
        let load = try Load(harness, calls: 10000)
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "latency"])
        load.run()
        let rows = finalRows(tracer, report: "syscall_latency")
        let row = try XCTUnwrap(rows.first { $0["syscall"] as? String == "getppid" }, "\(rows)")
        // The pid filter leaves only the fixture, which calls getppid exactly this often.
        XCTAssertEqual(row["count"] as? Int, 10000, "\(row)")
        #if arch(x86_64)
        XCTAssertEqual(row["nr"] as? Int, 110, "getppid's number on x86_64: \(row)")
        #elseif arch(arm64)
        XCTAssertEqual(row["nr"] as? Int, 173, "getppid's number on arm64: \(row)")
        #endif
        XCTAssertGreaterThan(row["time"] as? Double ?? 0, 0, "\(row)")
        XCTAssertLessThanOrEqual(rows.count, 10, "top defaults to 10 rows")
        XCTAssertFalse(rows.contains { ($0["syscall"] as? String ?? "").hasPrefix("[unknown") }, "\(rows)")
        XCTAssertFalse(rows.contains { $0["syscall"] as? String == "epoll_wait" }, "the pid filter let the tracker's own calls through")
    }

    func testTableInMilliseconds() throws {
        let harness = try TrackerHarness("syscount")
        let load = try Load(harness, calls: 10000)
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "latency", "--param", "milliseconds"], format: "table")
        load.run()
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex(of: "SYSCALL                   COUNT        TIME (ms)"), tracer.stdout)
        XCTAssertTrue(lines[header - 1].range(of: #"^\[\d\d:\d\d:\d\d\]$"#, options: .regularExpression) != nil, tracer.stdout)
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("getppid ") }, tracer.stdout)
        let cols = row.split(separator: " ")
        XCTAssertEqual(cols.count, 3, row)
        XCTAssertEqual(cols[1], "10000", row)
        XCTAssertTrue(cols[2].range(of: #"^\d+\.\d{3}$"#, options: .regularExpression) != nil, row)
    }
}
