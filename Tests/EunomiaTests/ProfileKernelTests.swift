import Foundation
import XCTest

/// profile in the real kernel: a fixture burns the CPU in spin_here, which must dominate its samples.
final class ProfileKernelTests: XCTestCase {
    /// The running fixture and where spin_here lies in its memory.
    struct Spinner {
        let process: LiveProcess
        let pid: Int
        let spinHere: Range<UInt64>

        /// True when the host symbolized a frame as spin_here: `spin_here+0x54 [profile_spin]` in
        /// JSON, a bare `spin_here` in folded lines.
        func isSpinHere(_ frame: String) -> Bool {
            frame == "spin_here" || (frame.hasPrefix("spin_here+0x") && frame.hasSuffix(" [profile_spin]"))
        }
    }

    /// Compiles Tests/Fixtures/profile_spin.c with frame pointers and starts it spinning for `seconds`.
    func startSpinner(in dir: URL, seconds: Int) throws -> Spinner {
        let exe = dir.appendingPathComponent("profile_spin")
        let cc = try TestSupport.run("/usr/bin/cc", ["-O0", "-g", "-fno-omit-frame-pointer",
                                                    TestSupport.fixtures.appendingPathComponent("profile_spin.c").path, "-o", exe.path])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        // The symbol's size from nm -S; its runtime address from the fixture (a PIE).
        let nm = try TestSupport.run("/usr/bin/nm", ["-S", exe.path])
        let sym = try XCTUnwrap(nm.stdout.split(separator: "\n").first { $0.hasSuffix(" spin_here") }, nm.stdout)
        let size = try XCTUnwrap(UInt64(sym.split(separator: " ")[1], radix: 16))
        let spin = try LiveProcess(exe, ["\(seconds)"], environment: [:])
        XCTAssertTrue(spin.wait(upTo: 5) { spin.stdout.contains("\n") }, spin.stderr)
        let printed = try XCTUnwrap(spin.stdout.split(separator: "\n").first?.split(separator: " ").last, spin.stdout)
        let start = try XCTUnwrap(UInt64(printed.dropFirst(2), radix: 16), spin.stdout)
        return Spinner(process: spin, pid: Int(spin.process.processIdentifier), spinHere: start..<(start + size))
    }

    /// Waits until the spinner has stopped spinning, then stops the tracer while the spinner
    /// still lives (the host symbolizes its stacks from its memory map), then ends the spinner.
    /// Returns the CPU seconds the spinner used: what a CPU-clock sampler can have seen of it.
    @discardableResult
    func finish(_ tracer: LiveProcess, _ spinner: Spinner, file: StaticString = #filePath, line: UInt = #line) -> Double {
        let spin = spinner.process
        XCTAssertTrue(spin.wait(upTo: 30) { spin.stdout.contains("done") }, spin.stderr, file: file, line: line)
        // /proc/PID/stat: utime and stime, fields 14 and 15, in clock ticks (after the comm).
        let stat = readProcFile("/proc/\(spinner.pid)/stat")
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        let ticks = fields.count > 13 ? (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) : 0
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr, file: file, line: line)
        spin.process.terminate()
        spin.process.waitUntilExit()
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The rows of the one "samples" report of a finished JSON run.
    func sampleRows(_ output: String) throws -> [[String: Any]] {
        let reports = TrackerHarness.records(output).filter { $0["report"] as? String == "samples" }
        XCTAssertEqual(reports.count, 1, output)
        return try XCTUnwrap(reports.first?["rows"] as? [[String: Any]], output)
    }

    func testCommFilterTopRowIsSpinHere() throws {
        let harness = try TrackerHarness("profile")
        let tracer = try harness.start(["--comm", "profile_spin", "--param", "frequency=99"])
        let seconds = 3
        let spinner = try startSpinner(in: harness.dir, seconds: seconds)
        let cpuSeconds = finish(tracer, spinner)

        let rows = try sampleRows(tracer.stdout)
        let counts = rows.compactMap { $0["count"] as? Int }
        XCTAssertEqual(counts.count, rows.count)
        XCTAssertEqual(counts, counts.sorted(by: >), "rows sorted by count")
        for row in rows {
            XCTAssertEqual(row["comm"] as? String, "profile_spin", "\(row)")
            XCTAssertEqual(row["pid"] as? Int, spinner.pid, "\(row)")
        }
        let top = try XCTUnwrap(rows.first)
        let ustack = try XCTUnwrap(top["ustack"] as? [String], "\(top)")
        // Innermost frame first: spin_here, then its caller main.
        XCTAssertTrue(ustack.first.map(spinner.isSpinHere) ?? false, "top row's stack: \(ustack), spin_here at \(spinner.spinHere)")
        XCTAssertGreaterThanOrEqual(ustack.count, 2, "\(ustack)")
        // A thread spinning for `seconds`: about frequency x the CPU time it got (all of `seconds`
        // on an idle machine), most of them in spin_here.
        let total = counts.reduce(0, +)
        let expected = 99 * min(Double(seconds), max(cpuSeconds, 0.5))
        XCTAssertGreaterThan(Double(total), expected * 0.7, "\(total) samples, about \(expected) expected (\(cpuSeconds) s of CPU)")
        XCTAssertLessThan(Double(total), expected * 1.3, "\(total) samples, about \(expected) expected (\(cpuSeconds) s of CPU)")
        let spinning = { (row: [String: Any]) in (row["ustack"] as? [String])?.first.map(spinner.isSpinHere) ?? false }
        let inSpin = rows.filter(spinning).compactMap { $0["count"] as? Int }.reduce(0, +)
        // Most samples, not all: on a busy machine some land while the task is in the kernel or
        // starting up, or lose their stack.
        XCTAssertGreaterThan(inSpin * 2, total, "\(inSpin) of \(total) samples in spin_here; the others: \(rows.filter { !spinning($0) })")
    }

    func testPidFilterFolded() throws {
        let harness = try TrackerHarness("profile")
        let spinner = try startSpinner(in: harness.dir, seconds: 3)
        let tracer = try harness.start(["--pid", "\(spinner.pid)", "--param", "frequency=99"], format: "folded")
        finish(tracer, spinner)

        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.isEmpty, tracer.stderr)
        var counts: [Int] = []
        for line in lines {
            // comm;outermost;...;innermost count
            let parts = line.split(separator: " ")
            XCTAssertEqual(parts.count, 2, line)
            XCTAssertTrue(line.hasPrefix("profile_spin;"), line)
            counts.append(Int(parts.last ?? "") ?? -1)
        }
        XCTAssertFalse(counts.contains { $0 <= 0 }, tracer.stdout)
        let top = try XCTUnwrap(lines.first)
        let frames = top.split(separator: " ")[0].split(separator: ";").dropFirst().map(String.init)
        XCTAssertTrue(frames.contains(where: spinner.isSpinHere), "top line \(top), spin_here at \(spinner.spinHere)")
        XCTAssertGreaterThan(counts.first ?? 0, 10, top)
    }

    func testKernelOnlyWithIdle() throws {
        let harness = try TrackerHarness("profile")
        // A report every second, each counting from zero: the test stops once it has what it needs.
        let tracer = try harness.start(["--param", "kernel_only=true", "--param", "include_idle=true", "--interval", "1"])
        // A user-mode load: without kernel_only its samples carry user stacks (spin_here).
        let spinner = try startSpinner(in: harness.dir, seconds: 1)
        XCTAssertTrue(spinner.process.wait(upTo: 30) { spinner.process.stdout.contains("done") }, spinner.process.stderr)
        // An idle CPU is sampled in its idle task (pid 0, swapper/N). On a machine that others
        // keep busy a CPU may go idle only now and then: wait for it (or fail below).
        func rows() -> [[String: Any]] {
            TrackerHarness.records(tracer.stdout).filter { $0["report"] as? String == "samples" }.flatMap { $0["rows"] as? [[String: Any]] ?? [] }
        }
        _ = tracer.wait(upTo: 30) { rows().contains { $0["pid"] as? Int == 0 } }
        finish(tracer, spinner)

        let all = rows()
        for row in all {
            XCTAssertEqual((row["ustack"] as? [String])?.count, 0, "kernel_only: \(row)")
        }
        // The spinner was sampled (mostly in user mode), and its rows too have no user stack.
        let mine = all.filter { $0["pid"] as? Int == spinner.pid && $0["comm"] as? String == "profile_spin" }
        let spinSamples = mine.compactMap { $0["count"] as? Int }.reduce(0, +)
        XCTAssertGreaterThan(spinSamples, 10, "the spinner's rows: \(mine)")
        for row in mine {
            XCTAssertEqual(row["ustack"] as? [String], [], "kernel_only, the spinner: \(row)")
        }
        // The idle task's samples are always in the kernel.
        let idle = all.filter { $0["pid"] as? Int == 0 }
        XCTAssertFalse(idle.isEmpty, "no idle samples: \(all.prefix(5))")
        for row in idle {
            XCTAssertTrue((row["comm"] as? String)?.hasPrefix("swapper/") ?? false, "\(row)")
            XCTAssertFalse((row["kstack"] as? [String])?.isEmpty ?? true, "\(row)")
        }
    }

    func testUserOnlyExcludesIdle() throws {
        let harness = try TrackerHarness("profile")
        let tracer = try harness.start(["--param", "user_only=true", "--param", "frequency=99"])
        let spinner = try startSpinner(in: harness.dir, seconds: 2)
        finish(tracer, spinner)

        let rows = try sampleRows(tracer.stdout)
        for row in rows {
            XCTAssertEqual((row["kstack"] as? [String])?.count, 0, "user_only: \(row)")
            XCTAssertNotEqual(row["pid"] as? Int, 0, "idle counted without include_idle: \(row)")
        }
        let mine = rows.filter { $0["pid"] as? Int == spinner.pid && $0["comm"] as? String == "profile_spin" }
        XCTAssertTrue(mine.contains { ($0["ustack"] as? [String])?.first.map(spinner.isSpinHere) ?? false }, "\(mine)")
    }

    func testUserAndKernelOnlyConflict() throws {
        let harness = try TrackerHarness("profile")
        let run = try TestSupport.eunomia(["run", "profile", "--duration", "1", "--param", "user_only=true",
                                           "--param", "kernel_only=true"], store: harness.store)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("user_only and kernel_only exclude each other"), run.stderr)
    }
}
