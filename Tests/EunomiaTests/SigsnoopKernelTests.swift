import Foundation
import XCTest

/// sigsnoop loaded into the real kernel: the test signals a child of its own.
final class SigsnoopKernelTests: XCTestCase {
    func sleeper() throws -> Process {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        usleep(100_000) // let it exec, so the target's comm is "sleep"
        return child
    }

    func testGeneratedSignalShowsSenderTargetAndSignal() throws {
        let child = try sleeper()
        defer { if child.isRunning { child.terminate() } }
        let target = Int(child.processIdentifier)
        let harness = try TrackerHarness("sigsnoop")
        let tracer = try harness.start(["--pid", String(getpid()), "--param", "target_pid=\(target)"])
        XCTAssertEqual(kill(child.processIdentifier, SIGUSR1), 0)
        child.waitUntilExit()
        let records = harness.collect(tracer) { $0["tpid"] as? Int == target }

        XCTAssertEqual(records.count, 1, "\(records)")
        let r = try XCTUnwrap(records.first)
        XCTAssertEqual(r["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(r["sig"] as? Int, Int(SIGUSR1))
        XCTAssertEqual(r["signal"] as? String, "SIGUSR1")
        XCTAssertEqual(r["tcomm"] as? String, "sleep")
        XCTAssertEqual(r["ret"] as? Int, 0)
        XCTAssertEqual(r["delivery"] as? String, "delivered")
        XCTAssertEqual(child.terminationReason, .uncaughtSignal)
    }

    func testKillModeShowsNamesAndSyscallResults() throws {
        let child = try sleeper()
        defer { if child.isRunning { child.terminate() } }
        let target = Int(child.processIdentifier)
        let harness = try TrackerHarness("sigsnoop")
        let tracer = try harness.start(["--pid", String(getpid()), "--param", "kill=true", "--param", "name=true"])
        XCTAssertEqual(kill(child.processIdentifier, 65), -1) // no such signal: EINVAL
        XCTAssertEqual(kill(child.processIdentifier, SIGUSR1), 0)
        child.waitUntilExit()
        let records = harness.collect(tracer) { $0["tpid"] as? Int == target && $0["sig"] as? Int == Int(SIGUSR1) }
            .filter { $0["tpid"] as? Int == target }

        XCTAssertEqual(records.count, 2, "\(records)")
        let bad = try XCTUnwrap(records.first { $0["sig"] as? Int == 65 })
        XCTAssertEqual(bad["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(bad["ret"] as? Int, -Int(EINVAL))
        XCTAssertEqual(bad["tcomm"] as? String, "")
        let sent = try XCTUnwrap(records.first { $0["sig"] as? Int == Int(SIGUSR1) })
        XCTAssertEqual(sent["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(sent["signal"] as? String, "SIGUSR1")
        XCTAssertEqual(sent["tcomm"] as? String, "sleep")
        XCTAssertEqual(sent["ret"] as? Int, 0)
    }

    func testFailedKillsOnlyInTable() throws {
        let child = try sleeper()
        defer { if child.isRunning { child.terminate() } }
        let target = child.processIdentifier
        let harness = try TrackerHarness("sigsnoop")
        let tracer = try harness.start(["--pid", String(getpid()), "--param", "kill=true", "--param", "failed=true"], format: "table")
        XCTAssertEqual(kill(target, 0), 0)
        XCTAssertEqual(kill(target, 65), -1)
        let ok = tracer.wait(upTo: 15) { tracer.stdout.contains(" -22") }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(ok, tracer.stdout)

        let lines = tracer.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        XCTAssertEqual(lines.first, "TIME     PID     COMM             SIG       TPID    TCOMM            RESULT")
        XCTAssertEqual(lines.count, 2, tracer.stdout)
        let row = try XCTUnwrap(lines.last)
        XCTAssertTrue(row.contains(String(format: " %-7d ", getpid())), row)
        XCTAssertTrue(row.contains(String(format: " %-9d %-7d ", 65, target)), row)
        XCTAssertTrue(row.hasSuffix(" -22"), row)
    }
}
