// Footprint benchmark: one host process with N installed trackers attached and idle (filtered
// on a command that never runs, where they have a comm filter), polled the way `eunomia run` polls. Prints
// {"trackers":N,"rss_mb":..,"cpu_percent":..} after measuring for SECONDS.
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
    let output = OutputBuffer(fd: open("/dev/null", O_WRONLY))
    var trackers: [PluginInstance] = []
    for name in args.dropFirst(2) {
        let plugin = try store.resolve(name)
        // Idle: filtered on a command that never runs, where the tracker has that filter.
        let idle = plugin.schema.parameter(named: "comm") != nil ? ["comm=no-such-comm"] : []
        let params = try ResolvedParameters(schema: plugin.schema, assignments: idle)
        let formatter = EventFormatter(schema: plugin.schema, parameters: params, format: .json, output: output)
        let tracker = try PluginInstance(library: PluginLibrary(path: plugin.libraryURL.path), configJSON: params.configJSON(),
                                  bpfObject: plugin.bpfObjectURL, packageDirectory: plugin.directory, sink: formatter,
                                  logger: Logger(label: name))
        try tracker.start()
        trackers.append(tracker)
    }
    eh_release_free_memory()
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
    // Settle, then measure: the same 100 ms poll cadence as eunomia run, one thread for all.
    let pollEach = Int32(Runner.pollTimeoutMs) / Int32(max(trackers.count, 1))
    func pollFor(_ s: Double) throws {
        let end = Date().addingTimeInterval(s)
        while Date() < end {
            if trackers.isEmpty { usleep(UInt32(Runner.pollTimeoutMs) * 1000) }
            for t in trackers { try t.poll(timeoutMs: pollEach) }
        }
    }
    try pollFor(1)
    let cpu0 = cpuSeconds(), t0 = Date()
    try pollFor(seconds)
    let cpu = (cpuSeconds() - cpu0) / Date().timeIntervalSince(t0) * 100
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let rssKB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
    print("{\"trackers\":\(trackers.count),\"rss_mb\":\(Double(rssKB) / 1024),\"cpu_percent\":\(cpu)}")
    for t in trackers { t.destroy() }
} catch {
    FileHandle.standardError.write(Data("eunomia-bench-footprint: \(error)\n".utf8))
    exit(1)
}
