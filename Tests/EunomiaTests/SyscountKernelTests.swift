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

        /// Waits until the fixture blocks in the read(2) of its gate, so that a tracer started
        /// now sees none of its start-up calls.
        func waitAtGate(file: StaticString = #filePath, line: UInt = #line) {
            #if arch(arm64)
            let readNr = "63"
            #else
            let readNr = "0"
            #endif
            let end = Date().addingTimeInterval(10)
            var state = ""
            while Date() < end {
                state = readProcFile("/proc/\(pid)/syscall")
                if state.split(separator: " ").first.map(String.init) == readNr { return }
                usleep(10_000)
            }
            XCTFail("the fixture never blocked at its gate: /proc/\(pid)/syscall says \(state)", file: file, line: line)
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
        load.waitAtGate()
        let tracer = try harness.start(["--param", "by_process", "--param", "latency", "--param", "top=0"])
        load.run()
        let rows = finalRows(tracer, report: "syscalls")
        let row = try XCTUnwrap(rows.first { $0["pid"] as? Int == load.pid }, "no row for pid \(load.pid): \(rows.prefix(20))")
        // After the gate the fixture makes its 10000 getppid calls and at most 4 others: the
        // gate's read returning (not timed, and so not counted, when it began before tracing),
        // stdout's fstat and isatty ioctl, and the write of "done"; exit_group never returns.
        let count = try XCTUnwrap(row["count"] as? Int, "\(row)")
        XCTAssertGreaterThanOrEqual(count, 10000, "\(row)")
        XCTAssertLessThanOrEqual(count, 10004, "\(row)")
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
        let rows = finalRows(tracer, report: "syscalls")
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
        // Every call the tracer times begins after it starts and ends before the fixture exits:
        // their total cannot exceed that span.
        let began = Date()
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "latency", "--param", "milliseconds"], format: "table")
        load.run()
        let spanMs = Date().timeIntervalSince(began) * 1000
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex(of: "SYSCALL                   COUNT        TIME (ms)"), tracer.stdout)
        XCTAssertTrue(lines[header - 1].range(of: #"^\[\d\d:\d\d:\d\d\]$"#, options: .regularExpression) != nil, tracer.stdout)
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("getppid ") }, tracer.stdout)
        let cols = row.split(separator: " ")
        XCTAssertEqual(cols.count, 3, row)
        XCTAssertEqual(cols[1], "10000", row)
        XCTAssertTrue(cols[2].range(of: #"^\d+\.\d{3}$"#, options: .regularExpression) != nil, row)
        // In milliseconds: microseconds (1000 times more) would exceed the span the calls ran in.
        let ms = try XCTUnwrap(Double(cols[2]), row)
        XCTAssertGreaterThan(ms, 0, row)
        XCTAssertLessThanOrEqual(ms, spanMs, "\(row): more time in getppid than the \(spanMs) ms the tracer and fixture ran")
    }

    func testMillisecondsAreTotalNanosecondsOverAMillion() throws {
        let harness = try TrackerHarness("syscount")
        let load = try Load(harness, calls: 10000)
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "latency", "--param", "milliseconds"])
        load.run()
        let rows = finalRows(tracer, report: "syscalls")
        let row = try XCTUnwrap(rows.first { $0["syscall"] as? String == "getppid" }, "\(rows)")
        XCTAssertEqual(row["count"] as? Int, 10000, "\(row)")
        let totalNs = try XCTUnwrap(row["total_ns"] as? Int, "\(row)")
        XCTAssertGreaterThan(totalNs, 0, "\(row)")
        let ms = try XCTUnwrap(row["time"] as? Double, "\(row)")
        XCTAssertEqual(ms, Double(totalNs) / 1_000_000, accuracy: 0.001, "time is total_ns in milliseconds, to 3 decimals: \(row)")
    }

    /// --interval N: periodic reports, N seconds apart (by their timestamps), before the final one.
    func testIntervalReportsComeIntervalApart() throws {
        let harness = try TrackerHarness("syscount")
        let interval = 3
        let tracer = try harness.start(["--interval", "\(interval)"])
        let reports = { TrackerHarness.records(tracer.stdout).filter { $0["report"] as? String == "syscalls" } }
        let three = tracer.wait(upTo: Double(interval * 3 + 15)) { reports().count >= 3 }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(three, "fewer than three periodic reports: \(tracer.stdout.suffix(2000))")
        // The first three are periodic (the one at the end, if any, comes after them).
        let times = try reports().prefix(3).map { report -> Double in
            let text = try XCTUnwrap(report["time"] as? String, "\(report)")
            return try XCTUnwrap(Self.epochSeconds(text), text)
        }
        XCTAssertEqual(times.count, 3)
        for (a, b) in zip(times, times.dropFirst()) {
            XCTAssertEqual(b - a, Double(interval), accuracy: 1, "reports at \(times): not \(interval) s apart")
        }
    }

    /// Seconds since the epoch of "2024-05-01T12:00:03.123456789Z".
    static func epochSeconds(_ iso: String) -> Double? {
        let parts = iso.dropLast().split(separator: ".")
        guard iso.hasSuffix("Z"), parts.count == 2, let fraction = Double("0." + parts[1]) else { return nil }
        let f = ISO8601DateFormatter()
        return f.date(from: parts[0] + "Z").map { $0.timeIntervalSince1970 + fraction }
    }
}
