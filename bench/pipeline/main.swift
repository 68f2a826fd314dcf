// Pipeline benchmark: the synthetic plugin emits N records through the real ABI; the host
// decodes them with opensnoop's schema and formats them to /dev/null. Prints one JSON object.
// A fifth argument, a cgroup id, puts every record in that cgroup and names its container
// (ContainerCache, the real resolution), for the cost of container metadata per event.
import EunomiaContainers
import EunomiaHost
import Foundation
import Logging

let args = CommandLine.arguments
if args.count == 3 && args[1] == "container-cache", let n = Int(args[2]), n > 0 { containerCacheMemory(n) }
guard args.count == 5 || args.count == 6, let count = Int(args[3]), let format = OutputFormat(rawValue: args[4]) else {
    FileHandle.standardError.write(Data("usage: eunomia-bench-pipeline SYNTHETIC.so SCHEMA.json COUNT table|json|csv [CGROUP_ID]\n".utf8))
    exit(2)
}
let cgroupID = args.count == 6 ? UInt64(args[5]) : nil
do {
    let schema = try PluginSchema.decode(Data(contentsOf: URL(fileURLWithPath: args[2])), source: args[2])
    let params = try ResolvedParameters(schema: schema, assignments: [])
    let devnull = open("/dev/null", O_WRONLY)
    let output = OutputBuffer(fd: devnull)
    let formatter = EventFormatter(schema: schema, parameters: params, format: format, output: output,
                                   containers: cgroupID.map { _ in ContainerCache() })
    let library = try PluginLibrary(path: args[1])
    let tracker = try PluginInstance(library: library, configJSON: "{\"count\":\(count),\"cgroup_id\":\(cgroupID ?? 0)}", bpfObject: URL(fileURLWithPath: "/dev/null"),
                              packageDirectory: URL(fileURLWithPath: "/"), sink: formatter, logger: Logger(label: "bench"))
    try tracker.start()
    var usage0 = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage0)
    let t0 = DispatchTime.now().uptimeNanoseconds
    var total: UInt64 = 0
    while total < count {
        let n = try tracker.poll(timeoutMs: 0)
        if n == 0 { break }
        total += n
    }
    output.flush()
    let t1 = DispatchTime.now().uptimeNanoseconds
    var usage1 = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage1)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    let cpu = seconds(usage1.ru_utime) - seconds(usage0.ru_utime) + seconds(usage1.ru_stime) - seconds(usage0.ru_stime)
    let wall = Double(t1 - t0) / 1e9
    try tracker.stop()
    let stats = tracker.stats()
    tracker.destroy()
    print("{\"format\":\"\(format.rawValue)\",\"events\":\(total),\"lost\":\(stats.lost),\"malformed\":\(formatter.malformed),"
        + "\"wall_s\":\(wall),\"cpu_s\":\(cpu),\"ns_per_event\":\(wall * 1e9 / Double(total)),\"events_per_s\":\(Double(total) / wall)}")
} catch {
    FileHandle.standardError.write(Data("eunomia-bench-pipeline: \(error)\n".utf8))
    exit(1)
}
