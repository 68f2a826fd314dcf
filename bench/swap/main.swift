// Swap and latency benchmark, in one host process on the real kernel (the server's runtime
// without HTTP): opensnoop@0.1.0 and opensnoop@0.2.0 installed in the store ($EUNOMIA_HOME).
//   start:   RunningTracker start to the first event of an open made right after it;
//   latency: open() to the record reaching a subscriber, at 20 opens a second;
//   swaps:   SWAPS swaps under a steady 2000 opens/s: request to the first record from the new
//            version (p50/p99), and the whole swap;
//   soak:    SOAK more swaps: fds, threads and RSS before and after.
// Prints one JSON object.
import CHostSupport
import EunomiaHost
import Foundation
import Logging

let args = CommandLine.arguments
let swaps = args.count > 1 ? Int(args[1]) ?? 100 : 100
let soakSwaps = args.count > 2 ? Int(args[2]) ?? 1000 : 1000

/// Times (CLOCK_MONOTONIC ns) at which records arrived, per source generation, and the paths seen.
final class Probe: RecordSubscriber, @unchecked Sendable {
    private let lock = NSLock()
    private var firstByGeneration: [UInt32: Int64] = [:]
    private var pathTimes: [String: Int64] = [:]
    var watchPaths = false
    private var pathOffset = -1

    func sourceStarted(_ source: RecordSource) {
        pathOffset = source.schema.records.first?.fields.first { $0.name == "path" }?.offset ?? -1
    }

    func consume(_ record: RecordView) -> Bool {
        let now = eh_monotonic_ns()
        lock.lock()
        if firstByGeneration[record.source.generation] == nil { firstByGeneration[record.source.generation] = now }
        if watchPaths && pathOffset >= 0 && record.bytes.count > pathOffset {
            let tail = UnsafeRawBufferPointer(rebasing: record.bytes[pathOffset...])
            let end = tail.firstIndex(of: 0) ?? tail.count
            pathTimes[String(decoding: UnsafeRawBufferPointer(rebasing: tail[..<end]), as: UTF8.self)] = now
        }
        lock.unlock()
        return true
    }

    func first(generation: UInt32) -> Int64? { lock.withLock { firstByGeneration[generation] } }
    func seen(_ path: String) -> Int64? { lock.withLock { pathTimes[path] } }
}

func percentile(_ v: [Double], _ p: Double) -> Double {
    let s = v.sorted()
    return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = eh_monotonic_ns() + Int64(seconds * 1e9)
    while eh_monotonic_ns() < end {
        if condition() { return true }
        usleep(200)
    }
    return condition()
}

func fdCount() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
func threadCount() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1 }
func rssKB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? -1
}

do {
    let store = Store()
    let v1 = try store.resolve("opensnoop@0.1.0"), v2 = try store.resolve("opensnoop@0.2.0")
    var logger = Logger(label: "bench-swap")
    logger.logLevel = ProcessInfo.processInfo.environment["BENCH_LOG"] == "debug" ? .debug : .warning
    let loop = try EventLoop(logger: logger)
    loop.startThread()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eunomia-bench-swap-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // This process hosts the trackers and makes the opens: include_host lets them in.
    let params = try ResolvedParameters(schema: v1.schema, assignments: ["pid=\(getpid())", "include_host=true"])

    // Start latency: request to the first event of an open made at once.
    var startMs: [Double] = []
    for i in 0..<10 {
        let probe = Probe()
        let t0 = eh_monotonic_ns()
        let t = try RunningTracker(id: "start\(i)", plugin: v1, parameters: params, loop: loop, logger: logger)
        t.router.add(probe, name: "probe")
        close(open(dir.appendingPathComponent("start-\(i)").path, O_CREAT | O_WRONLY, 0o600))
        if waitUntil(5, { probe.first(generation: 0) != nil }), let f = probe.first(generation: 0) {
            startMs.append(Double(f - t0) / 1e6)
        }
        try t.stop()
    }

    let probe = Probe()
    probe.watchPaths = true
    let tracker = try RunningTracker(id: "bench", plugin: v1, parameters: params, loop: loop, logger: logger)
    tracker.router.add(probe, name: "probe")

    // Event-to-output latency at a low rate.
    var latencyMs: [Double] = []
    for i in 0..<200 {
        let path = dir.appendingPathComponent("lat-\(i)").path
        let t0 = eh_monotonic_ns()
        close(open(path, O_CREAT | O_WRONLY, 0o600))
        if waitUntil(2, { probe.seen(path) != nil }), let t = probe.seen(path) { latencyMs.append(Double(t - t0) / 1e6) }
        usleep(50_000)
    }
    probe.watchPaths = false

    // Swaps under a steady load from a thread of this process (the pid filter keeps it ours).
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = true
        var isSet: Bool { lock.withLock { value } }
        func clear() { lock.withLock { value = false } }
    }
    let loading = Flag()
    let loadThread = Thread {
        let path = dir.appendingPathComponent("load").path
        while loading.isSet {
            close(open(path, O_CREAT | O_WRONLY, 0o600))
            usleep(500)
        }
    }
    loadThread.start()
    var toNewMs: [Double] = [], wholeMs: [Double] = []
    var lost: UInt64 = 0
    for k in 0..<swaps {
        let t0 = eh_monotonic_ns()
        let report = try tracker.swap(to: k % 2 == 0 ? v2 : v1)
        wholeMs.append(Double(eh_monotonic_ns() - t0) / 1e6)
        lost += report.lostInSwap
        let generation = UInt32(k + 1)
        if waitUntil(5, { probe.first(generation: generation) != nil }), let f = probe.first(generation: generation) {
            toNewMs.append(Double(f - t0) / 1e6)
        }
    }

    // Soak: fds, threads and RSS across many more swaps (after the ones above warmed up).
    eh_release_free_memory()
    let fds0 = fdCount(), threads0 = threadCount(), rss0 = rssKB()
    for k in 0..<soakSwaps {
        let report = try tracker.swap(to: (swaps + k) % 2 == 0 ? v2 : v1)
        lost += report.lostInSwap
    }
    eh_release_free_memory()
    let fds1 = fdCount(), threads1 = threadCount(), rss1 = rssKB()
    loading.clear()
    let counters = try tracker.stop()
    loop.shutdown()

    let result: [String: Any] = [
        "start_to_first_event_ms": ["p50": percentile(startMs, 0.5), "p99": percentile(startMs, 0.99), "n": startMs.count],
        "event_to_output_ms": ["p50": percentile(latencyMs, 0.5), "p99": percentile(latencyMs, 0.99), "n": latencyMs.count],
        "swap_to_new_version_ms": ["p50": percentile(toNewMs, 0.5), "p99": percentile(toNewMs, 0.99), "n": toNewMs.count],
        "swap_whole_ms": ["p50": percentile(wholeMs, 0.5), "p99": percentile(wholeMs, 0.99)],
        "soak": ["swaps": soakSwaps, "fds": [fds0, fds1], "threads": [threads0, threads1], "rss_kb": [rss0, rss1]],
        "lost_in_swaps": lost, "ring_buffer_lost": counters.lost, "events": counters.events,
    ]
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("eunomia-bench-swap: \(error)\n".utf8))
    exit(1)
}
