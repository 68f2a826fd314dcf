import Foundation
import XCTest

/// runqlat in the real kernel: more spinning threads than CPUs keep the run queues busy.
final class RunqlatKernelTests: XCTestCase {
    /// Starts the fixture: `threads` threads spinning for `seconds`; it prints their tids. With
    /// `gated`, they spin only once sent SIGUSR1.
    func startBusy(in dir: URL, threads: Int, seconds: Int, gated: Bool = false) throws -> LiveProcess {
        let exe = dir.appendingPathComponent("runqlat_busy")
        let cc = try TestSupport.run("/usr/bin/cc", ["-O1", "-pthread", TestSupport.fixtures.appendingPathComponent("runqlat_busy.c").path, "-o", exe.path])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let busy = try LiveProcess(exe, ["\(threads)", "\(seconds)"] + (gated ? ["--wait"] : []), environment: [:])
        XCTAssertTrue(busy.wait(upTo: 5) { busy.stdout.split(separator: "\n").count == threads }, busy.stderr)
        return busy
    }

    /// One more spinning thread than CPUs, so that they must queue.
    var spinners: Int { ProcessInfo.processInfo.activeProcessorCount + 1 }

    func testHistogramTable() throws {
        let harness = try TrackerHarness("runqlat")
        // The busy process exists (its threads wait at a gate) before the tracer filters on it.
        let busy = try startBusy(in: harness.dir, threads: spinners, seconds: 2, gated: true)
        let pid = Int(busy.process.processIdentifier)
        let tracer = try harness.start(["--pid", "\(pid)"], format: "table")
        // A second tracer, system-wide with one histogram per process, says which waits were
        // the busy process's: both are attached before it starts to run, and it has exited
        // before either stops, so both see every one of them.
        let perProcess = try harness.start(["--param", "per_process=true"])
        kill(busy.process.processIdentifier, SIGUSR1)
        busy.process.waitUntilExit()
        XCTAssertEqual(busy.process.terminationStatus, 0)
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertEqual(perProcess.interruptAndWait(), 0, perProcess.stderr)
        let histograms = TrackerHarness.records(perProcess.stdout).filter { $0["report"] as? String == "latency" }
            .flatMap { $0["histograms"] as? [[String: Any]] ?? [] }
        let mine = try XCTUnwrap(histograms.first { $0["pid"] as? Int == pid }, "pid \(pid) missing: \(histograms)")

        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.contains(": count") }, ["     usecs               : count    distribution"], tracer.stdout)
        XCTAssertFalse(lines.contains { $0.contains(" = ") }, "no key line without per_process/per_thread: \(tracer.stdout)")
        let counts = lines.compactMap { line -> Int? in
            let parts = line.split(separator: ":")
            guard parts.count == 2, line.contains("->"), let bar = parts[1].split(separator: "|").first else { return nil }
            return Int(bar.trimmingCharacters(in: .whitespaces))
        }
        XCTAssertEqual(lines.first { $0.contains("->") }?.hasPrefix("         0 -> 1 "), true, tracer.stdout)
        // Only the busy process is counted: each spinner waits at least once (woken at the gate,
        // then preempted by the others, as there are more of them than CPUs), and the table
        // holds exactly the waits the per-process tracer gave it.
        XCTAssertGreaterThanOrEqual(counts.reduce(0, +), spinners, tracer.stdout)
        XCTAssertEqual(counts.reduce(0, +), histogramSum(mine), "the table against pid \(pid)'s histogram \(mine):\n\(tracer.stdout)")
    }

    func testPerProcessJSON() throws {
        let harness = try TrackerHarness("runqlat")
        let tracer = try harness.start(["--param", "per_process=true"])
        // Before exec the child runs under the comm of the thread that spawned it: this one.
        let spawnerComm = readProcFile("/proc/thread-self/comm").trimmingCharacters(in: .whitespacesAndNewlines)
        let busy = try startBusy(in: harness.dir, threads: spinners, seconds: 2)
        let pid = Int(busy.process.processIdentifier)
        busy.process.waitUntilExit()
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let reports = TrackerHarness.records(tracer.stdout).filter { $0["report"] as? String == "latency" }
        XCTAssertEqual(reports.count, 1, tracer.stdout)
        let histograms = try XCTUnwrap(reports.first?["histograms"] as? [[String: Any]])
        let mine = try XCTUnwrap(histograms.first { $0["pid"] as? Int == pid }, "pid \(pid) missing: \(histograms)")
        // The comm is that of the first thread counted, as in libbpf-tools: the fixture, or the
        // test runner's child before exec.
        let comm = try XCTUnwrap(mine["comm"] as? String)
        XCTAssertFalse(spawnerComm.isEmpty)
        XCTAssertTrue(comm == "runqlat_busy" || comm == spawnerComm, "comm \"\(comm)\", spawner \"\(spawnerComm)\"")
        XCTAssertGreaterThanOrEqual(histogramSum(mine), spinners, "each spinner waits at least once: \(mine)")
        XCTAssertEqual(Set(histograms.compactMap { $0["pid"] as? Int }).count, histograms.count, "one histogram per process")
    }

    func testPidFilterPerThread() throws {
        let harness = try TrackerHarness("runqlat")
        let busy = try startBusy(in: harness.dir, threads: spinners, seconds: 3)
        let pid = Int(busy.process.processIdentifier)
        let tids = Set(busy.stdout.split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") })
        let tracer = try harness.start(["--param", "per_thread=true", "--pid", "\(pid)", "--param", "milliseconds=true"])
        busy.process.waitUntilExit()
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let reports = TrackerHarness.records(tracer.stdout).filter { $0["report"] as? String == "latency" }
        XCTAssertEqual(reports.count, 1, tracer.stdout)
        let histograms = try XCTUnwrap(reports.first?["histograms"] as? [[String: Any]])
        let seen = Set(histograms.compactMap { $0["tid"] as? Int })
        // Only the fixture's threads (its spinners; perhaps its main thread too) pass the filter.
        XCTAssertTrue(seen.isSubset(of: tids.union([pid])), "\(seen) vs \(tids) + \(pid)")
        XCTAssertTrue(tids.isSubset(of: seen), "every spinner waited on a run queue: \(seen) vs \(tids)")
        XCTAssertEqual((histograms.first?["latency"] as? [String: Any])?["unit"] as? String, "msecs")
    }
}

/// Sum of the bucket counts of a JSON histogram record's "latency" field.
private func histogramSum(_ record: [String: Any]) -> Int {
    let buckets = (record["latency"] as? [String: Any])?["buckets"] as? [[String: Int]] ?? []
    return buckets.compactMap { $0["count"] }.reduce(0, +)
}
