// Pipeline benchmark: the synthetic plugin emits N records through the real ABI; the host
// decodes them with opensnoop's schema and formats them to /dev/null. Prints one JSON object.
//   --cgroup ID    every record in that cgroup, its container named (ContainerCache, the real
//                  resolution): the cost of container metadata per event
//   --filter COND  records pass a compiled condition first (every record matches, so the
//                  formatting is the same and the difference is the filter's)
//   --rules FILE   a RuleEngine with FILE's rules beside the formatter (schemas of the other
//                  plugins it names from Plugins/*/schema.json), as the server runs them
import EunomiaContainers
import EunomiaHost
import Foundation
import Logging

let args = CommandLine.arguments
if args.count == 3 && args[1] == "container-cache", let n = Int(args[2]), n > 0 { containerCacheMemory(n) }
let usage = "usage: eunomia-bench-pipeline SYNTHETIC.so SCHEMA.json COUNT table|json|csv [--cgroup ID] [--filter COND] [--rules FILE]\n"
guard args.count >= 5, let count = Int(args[3]), let format = OutputFormat(rawValue: args[4]) else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
var options: [String: String] = [:]
var rest = args.dropFirst(5).makeIterator()
while let key = rest.next() {
    guard ["--cgroup", "--filter", "--rules"].contains(key), let value = rest.next() else {
        FileHandle.standardError.write(Data(usage.utf8))
        exit(2)
    }
    options[key] = value
}
let cgroupID = options["--cgroup"].flatMap { UInt64($0) }

/// The formatter behind a filter, or beside a rule engine: what the record router does, with
/// no router (the bench measures the pieces, not the lock).
final class BenchSink: RecordSink {
    let formatter: EventFormatter
    let filter: CompiledCondition?
    let engine: RuleEngine?
    let source: RecordSource
    init(formatter: EventFormatter, filter: CompiledCondition?, engine: RuleEngine?, source: RecordSource) {
        self.formatter = formatter
        self.filter = filter
        self.engine = engine
        self.source = source
    }
    func consume(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool {
        if let filter, !filter.matches(recordID: recordID, bytes: bytes) { return true }
        if let engine { _ = engine.consume(RecordView(source: source, recordID: recordID, bytes: bytes)) }
        return formatter.consume(recordID: recordID, bytes: bytes)
    }
}

final class CountingAlerts: AlertSink {
    var count: UInt64 = 0
    func alert(_ alert: Alert) { count += 1 }
}

do {
    let schema = try PluginSchema.decode(Data(contentsOf: URL(fileURLWithPath: args[2])), source: args[2])
    let params = try ResolvedParameters(schema: schema, assignments: [])
    let devnull = open("/dev/null", O_WRONLY)
    let output = OutputBuffer(fd: devnull)
    let containers = cgroupID.map { _ in ContainerCache() }
    let formatter = EventFormatter(schema: schema, parameters: params, format: format, output: output, containers: containers)
    let source = RecordSource(schema: schema, parameters: params, plugin: schema.name, version: schema.version, build: "bench", generation: 0)
    let filter = try options["--filter"].map { try ConditionCompiler.compile(try ConditionParser.parse($0), schema: schema, containers: containers) }
    let alerts = CountingAlerts()
    var engine: RuleEngine?
    if let path = options["--rules"] {
        let plugins = URL(fileURLWithPath: args[2]).deletingLastPathComponent().deletingLastPathComponent()
        let file = try RuleFile.load(path: path) { name in
            name == schema.name ? schema
                : try? PluginSchema.decode(Data(contentsOf: plugins.appendingPathComponent("\(name)/schema.json")), source: name)
        }
        engine = RuleEngine(tracker: schema.name, book: RuleBook([file]), sink: alerts, containers: containers)
        engine!.sourceStarted(source)
    }
    let sink = BenchSink(formatter: formatter, filter: filter, engine: engine, source: source)
    let library = try PluginLibrary(path: args[1])
    let tracker = try PluginInstance(library: library, configJSON: "{\"count\":\(count),\"cgroup_id\":\(cgroupID ?? 0)}", bpfObject: URL(fileURLWithPath: "/dev/null"),
                              packageDirectory: URL(fileURLWithPath: "/"), sink: sink, logger: Logger(label: "bench"))
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
        + "\"rules\":\(engine?.activeRules ?? 0),\"alerts\":\(alerts.count),"
        + "\"wall_s\":\(wall),\"cpu_s\":\(cpu),\"ns_per_event\":\(wall * 1e9 / Double(total)),\"events_per_s\":\(Double(total) / wall)}")
} catch {
    FileHandle.standardError.write(Data("eunomia-bench-pipeline: \(error)\n".utf8))
    exit(1)
}
