import Foundation
import XCTest

/// exitsnoop loaded into the real kernel: children of the test exit with a code and by a signal.
final class ExitsnoopKernelTests: XCTestCase {
    func spawn(_ path: String, _ args: [String]) throws -> Process {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: path)
        child.arguments = args
        try child.run()
        return child
    }

    func testExitCodeSignalAndAge() throws {
        let harness = try TrackerHarness("exitsnoop")
        let tracer = try harness.start()
        let coded = try spawn("/bin/sh", ["-c", "sleep 0.3; exit 7"])
        let killed = try spawn("/bin/sleep", ["30"])
        usleep(100_000)
        XCTAssertEqual(kill(killed.processIdentifier, SIGKILL), 0)
        coded.waitUntilExit()
        killed.waitUntilExit()
        let pids = [Int(coded.processIdentifier), Int(killed.processIdentifier)]
        // Wait for both exits, whichever the kernel reports last.
        let records = harness.collect(tracer) { _ in
            pids.allSatisfy { pid in TrackerHarness.records(tracer.stdout).contains { $0["pid"] as? Int == pid } }
        }

        let c = try XCTUnwrap(records.first { $0["pid"] as? Int == pids[0] })
        XCTAssertEqual(c["comm"] as? String, "sh")
        XCTAssertEqual(c["ppid"] as? Int, Int(getpid()))
        XCTAssertEqual(c["tid"] as? Int, pids[0])
        XCTAssertEqual(c["exit_code"] as? Int, 7)
        XCTAssertEqual(c["sig"] as? Int, 0)
        XCTAssertEqual(c["status"] as? String, "code 7")
        let age = try XCTUnwrap(c["age"] as? Double)
        XCTAssertGreaterThanOrEqual(age, 0.29)
        XCTAssertLessThan(age, 20)

        let k = try XCTUnwrap(records.first { $0["pid"] as? Int == pids[1] })
        XCTAssertEqual(k["comm"] as? String, "sleep")
        XCTAssertEqual(k["ppid"] as? Int, Int(getpid()))
        XCTAssertEqual(k["exit_code"] as? Int, 0)
        XCTAssertEqual(k["sig"] as? Int, Int(SIGKILL))
        XCTAssertEqual(k["signal"] as? String, "SIGKILL")
        XCTAssertEqual(k["how"] as? String, "killed")
        XCTAssertEqual(k["status"] as? String, "signal 9 (SIGKILL)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(k["age"] as? Double), 0.09)
    }

    func testFailedShowsOnlyUnsuccessfulExitsInTable() throws {
        let harness = try TrackerHarness("exitsnoop")
        let tracer = try harness.start(["--param", "failed=true", "--comm", "sh"], format: "table")
        let fine = try spawn("/bin/sh", ["-c", "exit 0"])
        fine.waitUntilExit()
        let coded = try spawn("/bin/sh", ["-c", "exit 3"])
        coded.waitUntilExit()
        let pid = coded.processIdentifier
        let ok = tracer.wait(upTo: 15) { tracer.stdout.contains("code 3") }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(ok, tracer.stdout)

        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE")
        let row = try XCTUnwrap(lines.first { $0.hasPrefix(String(format: "sh               %-7d %-7d %-7d ", pid, getpid(), pid)) },
                                tracer.stdout)
        XCTAssertTrue(row.hasSuffix(" code 3"), row)
        XCTAssertFalse(lines.contains { $0.contains(" \(fine.processIdentifier) ") }, "a zero exit passed failed=true")
    }
}
