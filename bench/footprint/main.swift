// Footprint benchmark: one host process with N installed trackers attached and idle (filtered
// on a command that never runs, where they have a comm filter), all served by one EventLoop
// thread, as the server serves them. Prints {"trackers":N,"rss_mb":..,"cpu_percent":..,"wakeups_per_s":..}
// after measuring for SECONDS.
import CHostSupport
import EunomiaHost
import Foundation
import Logging

let args = CommandLine.arguments
guard args.count >= 2, let seconds = Double(args[1]) else {
    FileHandle.standardError.write(Data("usage: eunomia-bench-footprint SECONDS [PLUGIN...]\n".utf8))
    exit(2)
}
do {
    let store = Store()
    var logger = Logger(label: "footprint")
    logger.logLevel = .warning
    let loop = try EventLoop(logger: logger)
    loop.startThread()
    var trackers: [RunningTracker] = []
    for name in args.dropFirst(2) {
        let plugin = try store.resolve(name)
        // Idle: filtered on a command that never runs, where the tracker has that filter.
        let idle = plugin.schema.parameter(named: "comm") != nil ? ["comm=no-such-comm"] : []
        let params = try ResolvedParameters(schema: plugin.schema, assignments: idle)
        let tracker = try RunningTracker(id: name, plugin: plugin, parameters: params, loop: loop, logger: logger)
        tracker.router.add(FormattingSubscriber(format: .json, output: OutputBuffer(fd: open("/dev/null", O_WRONLY))), name: "null")
        trackers.append(tracker)
    }
    eh_release_free_memory()
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
    // Settle, then measure.
    usleep(1_000_000)
    let cpu0 = cpuSeconds(), t0 = Date(), w0 = loop.wakeups
    usleep(UInt32(seconds * 1e6))
    let elapsed = Date().timeIntervalSince(t0)
    let cpu = (cpuSeconds() - cpu0) / elapsed * 100
    let wakeups = Double(loop.wakeups - w0) / elapsed
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let rssKB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
    print("{\"trackers\":\(trackers.count),\"rss_mb\":\(Double(rssKB) / 1024),\"cpu_percent\":\(cpu),\"wakeups_per_s\":\(wakeups)}")
    for t in trackers { try t.stop() }
    loop.shutdown()
} catch {
    FileHandle.standardError.write(Data("eunomia-bench-footprint: \(error)\n".utf8))
    exit(1)
}
