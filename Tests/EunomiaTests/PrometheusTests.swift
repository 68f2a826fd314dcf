import Foundation
import XCTest
@testable import EunomiaContainers
@testable import EunomiaDaemon
@testable import EunomiaMetrics
@testable import EunomiaRecords
@testable import EunomiaSchema

/// GET /metrics (docs/prometheus.md): the label-set bound on real records, the exposition of a
/// real server, and a real Prometheus (Debian's package) scraping the server over TCP with the
/// bearer token, then running every panel of docs/grafana/eunomia.json.
final class PrometheusTests: XCTestCase {
    var dir: URL!
    var store: URL!

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    // MARK: Without the kernel

    func opensnoopSource() throws -> RecordSource {
        let schema = try TestSupport.bundledSchema("opensnoop")
        return RecordSource(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []),
                            plugin: "opensnoop", version: schema.version, build: "test", generation: 0)
    }

    /// An opensnoop record whose comm is `comm`, at the offset the schema gives it.
    func record(comm: String, in source: RecordSource) -> [UInt8] {
        let offset = source.schema.records[0].fields.first { $0.name == "comm" }?.offset ?? 0
        var bytes = [UInt8](repeating: 0, count: 200)
        for (i, b) in comm.utf8.prefix(15).enumerated() { bytes[offset + i] = b }
        return bytes
    }

    func testLabelSetsAreBoundedWithAnOtherBucket() throws {
        let source = try opensnoopSource()
        XCTAssertTrue(LabelSetCounter.applies(to: source.schema), "opensnoop's schema marks comm as a metric label")
        let counter = LabelSetCounter(limit: 3)
        counter.sourceStarted(source)
        let comms = ["a", "b", "c", "d", "e", "a", "a", "e", "b\"\\\n"]
        for c in comms {
            record(comm: c, in: source).withUnsafeBytes { XCTAssertTrue(counter.consume(RecordView(source: source, recordID: 0, bytes: $0))) }
        }
        let sets = counter.snapshot()
        let byComm = Dictionary(sets.map { ($0.labels.first { $0.0 == "comm" }?.1 ?? "?", $0.count) }, uniquingKeysWith: +)
        XCTAssertEqual(byComm, ["a": 3, "b": 1, "c": 1, LabelSetCounter.otherValue: 4], "\(sets)")
        XCTAssertEqual(sets.count, 4, "K = 3 sets, then one __other__")
        XCTAssertEqual(sets.map(\.count).reduce(0, +), UInt64(comms.count), "every event is counted once")

        // The exposition escapes what a process may call itself.
        let exporter = MetricsExporter()
        let text = String(decoding: exporter.render(trackers: [TrackerSample(
            id: "t1", plugin: "opensnoop", version: "0.1.0", running: true, events: 9, lost: 0, malformed: 0,
            dropped: ["metrics": 0], labelSets: [LabelSetSample(labels: [("comm", "x\"\\\ny")], count: 2)])],
            loadedPlugins: 1, stoppedMalformed: 0), as: UTF8.self)
        XCTAssertTrue(text.contains(#"eunomia_plugin_events_total{tracker="t1",plugin="opensnoop",comm="x\"\\\ny"} 2"#), text)
        XCTAssertTrue(text.contains("# TYPE eunomia_swap_duration_seconds histogram"), text)
    }

    /// A directory answering from a table the test fills: the counter's own logic, without the kernel.
    final class TableDirectory: ContainerDirectory {
        var table: [UInt64: ContainerSummary] = [:]
        var generation: UInt64 = 0
        var asked = 0
        func container(cgroupID: UInt64) -> ContainerSummary? {
            asked += 1
            return table[cgroupID]
        }
    }

    func record(comm: String, cgroup: UInt64, in source: RecordSource) -> [UInt8] {
        var bytes = record(comm: comm, in: source)
        let offset = source.schema.records[0].cgroupIDOffset!
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: cgroup >> (8 * UInt64(i))) }
        return bytes
    }

    /// The container label: host cgroups share one set, a container's set is named by its id
    /// until its name is learnt, then by its name (at the next snapshot), and stays named once
    /// the container is gone.
    func testContainerLabelNamesLateAndHostCgroupsShareASet() throws {
        let source = try opensnoopSource()
        let directory = TableDirectory()
        directory.table[100] = ContainerSummary(runtime: "docker", id: "0123456789ab")
        let extra: [MetricLabel] = [ContainerLabel(directory: directory)]
        XCTAssertTrue(LabelSetCounter.applies(to: source.schema, extra: extra))
        let counter = LabelSetCounter(limit: 10, extra: extra)
        counter.sourceStarted(source)
        func consume(_ comm: String, _ cgroup: UInt64) {
            record(comm: comm, cgroup: cgroup, in: source).withUnsafeBytes {
                XCTAssertTrue(counter.consume(RecordView(source: source, recordID: 0, bytes: $0)))
            }
        }
        // Three host cgroups (a service, a session, the root), one container.
        for cgroup: UInt64 in [1, 7, 9, 100, 100, 7] { consume("sh", cgroup) }
        func sets() -> [String: UInt64] {
            Dictionary(counter.snapshot().map { s in
                (s.labels.map { "\($0.0)=\($0.1)" }.joined(separator: ","), s.count)
            }, uniquingKeysWith: +)
        }
        XCTAssertEqual(sets(), ["comm=sh,container=": 4, "comm=sh,container=0123456789ab": 2])
        XCTAssertEqual(counter.snapshot().count, 2, "the host's cgroups take one set, not three")
        let asked = directory.asked
        for _ in 0..<100 { consume("sh", 7) }
        XCTAssertEqual(directory.asked, asked, "a cgroup seen before is not asked again on the event path")

        // The runtime's state gave the name later.
        directory.table[100]?.name = "web"
        directory.generation += 1
        XCTAssertEqual(sets(), ["comm=sh,container=": 104, "comm=sh,container=web": 2])
        // The container is gone: its series keeps its name.
        directory.table[100] = nil
        directory.generation += 1
        XCTAssertEqual(sets(), ["comm=sh,container=": 104, "comm=sh,container=web": 2])
    }

    /// A runqlat report record (id 0) whose slot i holds counts[i].
    func histogramRecord(_ counts: [UInt32]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 124)
        for (i, c) in counts.enumerated() {
            for b in 0..<4 { bytes[20 + 4 * i + b] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(b))) }
        }
        return bytes
    }

    /// Per-interval reports add up; cumulative reports add their difference; the exposition's
    /// buckets are cumulative with _count the +Inf bucket. Also what recording costs.
    func testHistogramCollectorAccumulatesReports() throws {
        let schema = try TestSupport.bundledSchema("runqlat")
        XCTAssertTrue(HistogramCollector.applies(to: schema))
        for cumulative in [false, true] {
            let source = RecordSource(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: cumulative ? ["cumulative"] : []),
                                      plugin: "runqlat", version: schema.version, build: "test", generation: 0)
            let exporter = MetricsExporter()
            let collector = HistogramCollector(trackerID: "rq", limit: 10, registry: exporter.histograms)
            collector.sourceStarted(source)
            func report(_ counts: [UInt32]) {
                histogramRecord(counts).withUnsafeBytes { XCTAssertTrue(collector.consume(RecordView(source: source, recordID: 0, bytes: $0))) }
                collector.endReport(source: source, timestampNs: 0)
            }
            // Slot 0 (0-1), slot 2 (4-7), slot 5 (32-63).
            report([3, 0, 2])
            if cumulative { report([3, 0, 2, 0, 0, 4]) } else { report([0, 0, 0, 0, 0, 4]) }
            XCTAssertEqual(collector.record(collector.take()), 9)
            if cumulative { report([4, 0, 2, 0, 0, 4]) } else { report([1]) }
            XCTAssertEqual(collector.record(collector.take()), 1, "only what the last report added")
            let text = String(decoding: exporter.render(trackers: [], loadedPlugins: 0, stoppedMalformed: 0), as: UTF8.self)
            let name = "eunomia_plugin_histogram_microseconds"
            let l = #"tracker="rq",plugin="runqlat""#
            for (le, n) in [("1.0", 4), ("3.0", 4), ("7.0", 6), ("15.0", 6), ("31.0", 6), ("63.0", 10), ("4294967295.0", 10), ("+Inf", 10)] {
                XCTAssertTrue(text.contains("\(name)_bucket{\(l),le=\"\(le)\"} \(n)\n"), "cumulative \(cumulative): le \(le) is not \(n): \(text)")
            }
            XCTAssertTrue(text.contains("\(name)_count{\(l)} 10\n"), text)
            // Slot midpoints: 4 x 0.5 + 2 x 5.5 + 4 x 47.5.
            XCTAssertTrue(text.contains("\(name)_sum{\(l)} 203.0\n"), text)
            XCTAssertTrue(text.contains("# TYPE \(name) histogram"), text)
        }
        // What a scrape pays per observation.
        let source = RecordSource(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []),
                                  plugin: "runqlat", version: schema.version, build: "test", generation: 0)
        let collector = HistogramCollector(trackerID: "rq", limit: 10, registry: MetricsExporter().histograms)
        collector.sourceStarted(source)
        histogramRecord([UInt32](repeating: 40_000, count: 25)).withUnsafeBytes {
            _ = collector.consume(RecordView(source: source, recordID: 0, bytes: $0))
        }
        let start = Date()
        XCTAssertEqual(collector.record(collector.take()), 1_000_000)
        print("HistogramCollector: 1000000 observations recorded in \(Int(Date().timeIntervalSince(start) * 1000)) ms")
    }

    func testSchemaMetricLabelIsChecked() throws {
        let text = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Plugins/opensnoop/schema.json"), encoding: .utf8)
        func refused(_ edited: String) -> String {
            do {
                _ = try PluginSchema.decode(try TestSupport.completedSource("opensnoop") { _ in edited }, source: "s.json")
                return "accepted"
            } catch let e as EunomiaError { return e.message } catch { return "\(error)" }
        }
        // A reserved label name.
        let renamed = text.replacingOccurrences(of: #""name": "comm", "metric_label": true"#, with: #""name": "version", "member": "comm", "metric_label": true"#)
        XCTAssertTrue(refused(renamed).contains("cannot be a metric label"), refused(renamed))
        // comm and four more fields marked: five labels on one record are more than the 4 allowed.
        var many = text
        for f in ["path", "pid", "tid", "uid"] {
            many = many.replacingOccurrences(of: #"{"name": "\#(f)", "#, with: #"{"name": "\#(f)", "metric_label": true, "#)
        }
        XCTAssertTrue(refused(many).contains("more than 4 fields are metric labels"), refused(many))
    }

    // MARK: A real server

    func setUpServer() throws {
        try TestSupport.requireKernel()
        dir = try TestSupport.temporaryDirectory()
        store = dir.appendingPathComponent("store")
        try TestSupport.trustBuildKey(in: store)
        let install = try TestSupport.eunomia(["plugin", "install", try TestSupport.opensnoopPackage().path], store: store)
        XCTAssertEqual(install.status, 0, install.stderr)
    }

    /// A copy of /bin/cat under a name no other process has: its opens carry that comm.
    func uniqueCommand() throws -> (name: String, path: String) {
        let name = "eu" + String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(6))
        let path = dir.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: "/bin/cat", toPath: path)
        return (name, path)
    }

    func runCommand(_ path: String) throws {
        _ = try TestSupport.run(path, ["/etc/hostname"])
    }

    func testMetricsEndpointOnBothTransports() throws {
        try setUpServer()
        let server = try DaemonProcess(dir: dir, store: store, config: "listen = \"127.0.0.1:0\"\n[metrics]\nmax_label_sets = 2\n")
        let start = try server.unix.request("POST", "/api/v1/trackers", json: ["id": "opens", "plugin": "opensnoop"])
        XCTAssertEqual(start.status, 201, start.text)
        let (name, path) = try uniqueCommand()
        var body = ""
        for _ in 0..<100 {
            try runCommand(path)
            let reply = try server.unix.request("GET", "/metrics")
            XCTAssertEqual(reply.status, 200, reply.text)
            XCTAssertEqual(reply.headers["content-type"], MetricsExporter.contentType)
            body = reply.text
            if body.contains("comm=\"\(name)\"") || body.contains("comm=\"__other__\"") { break }
            usleep(100_000)
        }
        XCTAssertTrue(body.contains(#"eunomia_tracker_events_total{tracker="opens",plugin="opensnoop",version="0.1.0"}"#), body)
        // With at most 2 sets on a busy machine the command may land in __other__; either way it is counted.
        XCTAssertTrue(body.contains("comm=\"\(name)\"") || body.contains("comm=\"__other__\""), body)
        let sets = body.split(separator: "\n").filter { $0.hasPrefix("eunomia_plugin_events_total{") }
        XCTAssertLessThanOrEqual(sets.filter { !$0.contains("__other__") }.count, 2, "max_label_sets = 2: \(sets)")
        for metric in ["eunomia_trackers_running 1", "eunomia_plugins_loaded 1", "# TYPE process_cpu_seconds_total counter",
                       "# TYPE process_resident_memory_bytes gauge", "eunomia_swaps_total 0", "eunomia_decode_errors_total 0",
                       #"eunomia_tracker_dropped_total{tracker="opens",plugin="opensnoop",version="0.1.0",subscriber="metrics"} 0"#] {
            XCTAssertTrue(body.contains(metric), "no \(metric) in \(body)")
        }
        // TCP: the token like every other route.
        XCTAssertEqual(try server.tcp(token: nil).request("GET", "/metrics").status, 401)
        let tcp = try server.tcp(token: server.token).request("GET", "/metrics")
        XCTAssertEqual(tcp.status, 200)
        XCTAssertTrue(tcp.text.contains("eunomia_tracker_events_total"), tcp.text)
    }

    /// The value of the one series in `body` whose line starts with `prefix`.
    func value(_ body: String, _ prefix: String) -> Double? {
        body.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
    }

    /// Swaps are counted with their duration; the kernel cost (ABI 1.3 prog_fds, BPF statistics
    /// on while the server runs) shows in /metrics, the API and `tracker list`, and does not go
    /// down across a swap.
    func testSwapsAndKernelCostAreCounted() throws {
        try setUpServer()
        let newer = try PluginBuilds.package("opensnoop", version: "0.2.0", in: dir.appendingPathComponent("builds"))
        let server = try DaemonProcess(dir: dir, store: store, config: "")
        let api = server.unix
        XCTAssertEqual(try api.request("POST", "/api/v1/plugins", body: try Data(contentsOf: newer)).status, 201)
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop@0.1.0", "id": "s"]).status, 201)
        let (_, path) = try uniqueCommand()
        try runCommand(path)
        let before = try api.request("GET", "/api/v1/trackers/s").json
        let runsBefore = try XCTUnwrap(before?["bpf_run_count"] as? Int, "no bpf_run_count: \(before ?? [:])")
        XCTAssertGreaterThan(runsBefore, 0, "the open tracepoints ran, BPF statistics are on")
        XCTAssertGreaterThan(before?["bpf_run_time_ns"] as? Int ?? 0, 0)
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers/s/swap", json: ["version": "0.2.0"]).status, 200)
        try runCommand(path)
        let body = try api.request("GET", "/metrics").text
        XCTAssertEqual(value(body, "eunomia_swaps_total "), 1, body)
        XCTAssertEqual(value(body, "eunomia_swap_duration_seconds_count "), 1, body)
        let runs = try XCTUnwrap(value(body, #"eunomia_tracker_bpf_run_count_total{tracker="s",plugin="opensnoop",version="0.2.0"}"#), body)
        XCTAssertGreaterThanOrEqual(runs, Double(runsBefore), "the kernel cost went down across the swap")
        XCTAssertGreaterThan(value(body, #"eunomia_tracker_bpf_run_seconds_total{tracker="s""#) ?? 0, 0, body)
        let list = try TestSupport.run(TestSupport.eunomiaBinary.path, ["tracker", "list", "--socket", server.socket])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("KERNEL") && list.stdout.contains("ns/run"), list.stdout)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    func testBadMetricsConfigIsOneLine() throws {
        // The config is parsed in a child process: this test binary is not one.
        TOMLIsolation.helper = TestSupport.eunomiaBinary.path
        func refused(_ text: String) -> String {
            do {
                _ = try DaemonConfig.parse(text, path: "e.toml")
                return "accepted"
            } catch let e as EunomiaError { return e.message } catch { return "\(error)" }
        }
        XCTAssertEqual(refused("[metrics]\nmax_label_sets = -1\n"), "e.toml line 2: metrics.max_label_sets: -1 is out of range (0 to 100000)")
        XCTAssertEqual(refused("[metrics]\nmax_label_sets = \"x\"\n"), "e.toml line 2: metrics.max_label_sets: is a string, expected an integer")
        XCTAssertEqual(refused("[metrics]\nlabels = 1\n"), "e.toml line 2: metrics.labels: unknown key in [metrics] (known: max_label_sets)")
        XCTAssertEqual(try DaemonConfig.parse("[metrics]\nmax_label_sets = 5\n", path: "e.toml").limits.maxLabelSets, 5)
        XCTAssertEqual(try DaemonConfig.parse("", path: "e.toml").limits.maxLabelSets, 1000)
    }

    // MARK: A real Prometheus

    static let prometheusBinary = "/usr/bin/prometheus"

    /// Prometheus's HTTP API: the data of a query, or the error it gave.
    func query(_ port: UInt16, _ promql: String) throws -> (result: [[String: Any]], error: String?) {
        var c = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/query")!
        c.queryItems = [URLQueryItem(name: "query", value: promql)]
        let target = HTTPTarget(address: .tcp(port))
        let reply = try target.request("GET", c.url!.path + "?" + (c.percentEncodedQuery ?? ""))
        let json = reply.json
        if json?["status"] as? String != "success" {
            return ([], (json?["error"] as? String) ?? "HTTP \(reply.status): \(reply.text.prefix(300))")
        }
        let data = json?["data"] as? [String: Any]
        return ((data?["result"] as? [[String: Any]]) ?? [], nil)
    }

    func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw TestSupport.TestFailure("no free port: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// A real Prometheus scraping `server` every second over TCP with its token; its port.
    func startPrometheus(scraping server: DaemonProcess) throws -> (process: LiveProcess, port: UInt16) {
        // Missing Prometheus fails: make install-test-deps installs Debian's package.
        guard FileManager.default.isExecutableFile(atPath: PrometheusTests.prometheusBinary) else {
            throw TestSupport.TestFailure("\(PrometheusTests.prometheusBinary) is missing: make install-test-deps (apt-get install prometheus)")
        }
        let serverPort = try XCTUnwrap(server.port)
        let tokenFile = dir.appendingPathComponent("scrape.token").path
        try server.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let promPort = try freePort()
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: eunomia
                scrape_interval: 1s
                scrape_timeout: 1s
                authorization:
                  type: Bearer
                  credentials_file: \(tokenFile)
                static_configs:
                  - targets: ["127.0.0.1:\(serverPort)"]
            """
        let configFile = dir.appendingPathComponent("prometheus.yml").path
        try config.write(toFile: configFile, atomically: true, encoding: .utf8)
        let prometheus = try LiveProcess(URL(fileURLWithPath: PrometheusTests.prometheusBinary), [
            "--config.file=\(configFile)", "--storage.tsdb.path=\(dir.appendingPathComponent("tsdb").path)",
            "--web.listen-address=127.0.0.1:\(promPort)",
        ], environment: [:])
        guard prometheus.wait(upTo: 60, until: { prometheus.stderr.contains("Server is ready to receive web requests") }) else {
            _ = prometheus.interruptAndWait()
            throw TestSupport.TestFailure("Prometheus never came up: \(prometheus.stderr.suffix(2000))")
        }
        return (prometheus, promPort)
    }

    /// Polls Prometheus until `promql` gives a value > 0 (running `act` before each try); the value.
    func poll(_ promPort: UInt16, _ promql: String, seconds: Double = 60, act: () throws -> Void = {}) throws -> Double {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError: String?
        var last: [[String: Any]] = []
        while Date() < deadline {
            try act()
            let (result, error) = try query(promPort, promql)
            lastError = error
            last = result
            if let v = ((result.first?["value"] as? [Any])?.last as? String).flatMap(Double.init), v > 0 { return v }
            usleep(500_000)
        }
        let targets = (try? HTTPTarget(address: .tcp(promPort)).request("GET", "/api/v1/targets").text) ?? ""
        XCTFail("Prometheus never saw \(promql) > 0 (\(lastError ?? "no error"), last \(last)); targets: \(targets.prefix(1500))")
        return 0
    }

    /// A process in a cgroup named as docker names its containers (cgroup v1's /docker/<id>,
    /// here under a parent of the test's own in the cgroup2 mount) opens files: the server
    /// counts its events with container="<12 hex>", and Prometheus sees the series.
    func testContainerLabelOnARealCgroup() throws {
        try setUpServer()
        let paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let parent = paths.mountPoint + "/eunomia-prom-\(getpid())"
        let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
        let cgroup = parent + "/docker/" + id
        var made: [String] = []
        defer { for d in made.reversed() { rmdir(d) } }
        for d in [parent, parent + "/docker", cgroup] {
            XCTAssertEqual(mkdir(d, 0o755), 0, "\(d): \(String(cString: strerror(errno)))")
            made.append(d)
        }
        let server = try DaemonProcess(dir: dir, store: store, config: "listen = \"127.0.0.1:0\"\n")
        let (prometheus, promPort) = try startPrometheus(scraping: server)
        defer { _ = prometheus.interruptAndWait() }
        let start = try server.unix.request("POST", "/api/v1/trackers", json: ["id": "opens", "plugin": "opensnoop"])
        XCTAssertEqual(start.status, 201, start.text)
        let (name, path) = try uniqueCommand()
        func openInside() throws {
            let r = try TestSupport.run("/bin/sh", ["-c", "echo $$ > \(cgroup)/cgroup.procs && exec \(path) /etc/hostname"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let short = String(id.prefix(12))
        let series = #"eunomia_plugin_events_total{tracker="opens",plugin="opensnoop",comm="\#(name)",container="\#(short)"} "#
        var body = ""
        for _ in 0..<100 {
            try openInside()
            body = try server.unix.request("GET", "/metrics").text
            if body.contains(series) { break }
            usleep(100_000)
        }
        let count = try XCTUnwrap(value(body, series), "no \(series) in \(body.split(separator: "\n").filter { $0.contains("plugin_events") })")
        XCTAssertGreaterThan(count, 0)
        // The same command outside the container counts under container="".
        try runCommand(path)
        let host = #"eunomia_plugin_events_total{tracker="opens",plugin="opensnoop",comm="\#(name)",container=""} "#
        for _ in 0..<100 {
            body = try server.unix.request("GET", "/metrics").text
            if body.contains(host) { break }
            usleep(100_000)
        }
        XCTAssertGreaterThan(value(body, host) ?? 0, 0, "no \(host) in \(body)")
        let v = try poll(promPort, "eunomia_plugin_events_total{tracker=\"opens\",comm=\"\(name)\",container=\"\(short)\"}")
        XCTAssertGreaterThan(v, 0)
        // Stop before the cgroups are removed (the server holds nothing in them, but be tidy).
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    /// The series of one histogram in `body`: its buckets (le, count) in order, _sum, _count.
    func histogram(_ body: String, _ name: String, _ labels: String) -> (buckets: [(String, Double)], sum: Double?, count: Double?) {
        var buckets: [(String, Double)] = []
        for line in body.split(separator: "\n") where line.hasPrefix("\(name)_bucket{\(labels),le=\"") {
            let rest = line.dropFirst("\(name)_bucket{\(labels),le=\"".count)
            let le = String(rest.prefix { $0 != "\"" })
            if let v = line.split(separator: " ").last.flatMap({ Double($0) }) { buckets.append((le, v)) }
        }
        return (buckets, value(body, "\(name)_sum{\(labels)} "), value(body, "\(name)_count{\(labels)} "))
    }

    /// runqlat in the server with interval=1 (the plugin clears its map at each report): the
    /// exposition is a real Prometheus histogram, cumulative across reports, its buckets
    /// non-decreasing and _count the +Inf bucket; the real Prometheus answers histogram_quantile.
    func testHistogramReportsAreCumulativePrometheusHistograms() throws {
        try setUpServer()
        let install = try TestSupport.eunomia(["plugin", "install", try TestSupport.package("runqlat").path], store: store)
        XCTAssertEqual(install.status, 0, install.stderr)
        let server = try DaemonProcess(dir: dir, store: store, config: "listen = \"127.0.0.1:0\"\n")
        let (prometheus, promPort) = try startPrometheus(scraping: server)
        defer { _ = prometheus.interruptAndWait() }
        let start = try server.unix.request("POST", "/api/v1/trackers", json: ["id": "rq", "plugin": "runqlat", "params": ["interval": 1]])
        XCTAssertEqual(start.status, 201, start.text)
        let name = "eunomia_plugin_histogram_microseconds"
        let labels = #"tracker="rq",plugin="runqlat""#
        // Wake-ups to measure: a few short sleeps in a shell loop.
        func load() throws { _ = try TestSupport.run("/bin/sh", ["-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.01; done"]) }
        var first: (buckets: [(String, Double)], sum: Double?, count: Double?) = ([], nil, nil)
        for _ in 0..<100 {
            try load()
            first = histogram(try server.unix.request("GET", "/metrics").text, name, labels)
            if (first.count ?? 0) > 0 { break }
            usleep(200_000)
        }
        let firstCount = try XCTUnwrap(first.count, "no \(name)_count{\(labels)}")
        XCTAssertGreaterThan(firstCount, 0)
        // A later report (each is one interval's counts) adds to the first.
        var second = first
        for _ in 0..<100 {
            try load()
            usleep(200_000)
            second = histogram(try server.unix.request("GET", "/metrics").text, name, labels)
            if (second.count ?? 0) > firstCount { break }
        }
        let body = try server.unix.request("GET", "/metrics").text
        XCTAssertTrue(body.contains("# TYPE \(name) histogram"), body)
        let last = histogram(body, name, labels)
        let count = try XCTUnwrap(last.count)
        XCTAssertGreaterThan(count, firstCount, "a second report added nothing: \(first) then \(last)")
        XCTAssertEqual(last.buckets.count, HistogramCollector.buckets.count + 1, "\(last.buckets)")
        XCTAssertEqual(last.buckets.first?.0, "1.0")
        XCTAssertEqual(last.buckets.dropLast().last?.0, "4294967295.0")
        XCTAssertEqual(last.buckets.last?.0, "+Inf")
        XCTAssertEqual(last.buckets.last?.1, count, "_count is the +Inf bucket")
        for (a, b) in zip(last.buckets, last.buckets.dropFirst()) { XCTAssertLessThanOrEqual(a.1, b.1, "buckets decrease: \(last.buckets)") }
        // Cumulative across reports: no bucket went down since the first scrape.
        for (a, b) in zip(first.buckets, last.buckets) { XCTAssertLessThanOrEqual(a.1, b.1, "bucket \(a.0) went down: \(first) then \(last)") }
        XCTAssertGreaterThan(last.sum ?? 0, 0)
        // The real Prometheus: a median of the run-queue latency, in microseconds.
        let p50 = try poll(promPort, "histogram_quantile(0.5, sum by (le) (\(name)_bucket{tracker=\"rq\"}))") { try load() }
        XCTAssertGreaterThan(p50, 0)
        XCTAssertLessThan(p50, 4294967295)
        // Stopped, the tracker's histograms leave the exposition.
        XCTAssertEqual(try server.unix.request("DELETE", "/api/v1/trackers/rq").status, 200)
        XCTAssertFalse(try server.unix.request("GET", "/metrics").text.contains("\(name)_count{\(labels)}"))
    }

    func testRealPrometheusScrapesTheServer() throws {
        try setUpServer()
        let server = try DaemonProcess(dir: dir, store: store, config: "listen = \"127.0.0.1:0\"\n")
        let (prometheus, promPort) = try startPrometheus(scraping: server)
        defer { _ = prometheus.interruptAndWait() }

        let start = try server.unix.request("POST", "/api/v1/trackers", json: ["id": "opens", "plugin": "opensnoop"])
        XCTAssertEqual(start.status, 201, start.text)
        let (name, path) = try uniqueCommand()
        let promql = "eunomia_plugin_events_total{tracker=\"opens\",comm=\"\(name)\"}"
        _ = try poll(promPort, promql) { try runCommand(path) }
        let up = try query(promPort, "up{job=\"eunomia\"}")
        XCTAssertEqual((up.result.first?["value"] as? [Any])?.last as? String, "1", "the scrape is not up: \(up)")

        // Every panel of the shipped dashboard is a query Prometheus accepts.
        let dashboard = TestSupport.repoRoot.appendingPathComponent("docs/grafana/eunomia.json")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as? [String: Any])
        let panels = try XCTUnwrap(json["panels"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(panels.count, 8)
        for panel in panels {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                let expr = try XCTUnwrap(target["expr"] as? String, "\(panel["title"] ?? "?") has no expr")
                // Grafana's variables, as Grafana substitutes them with "All" chosen.
                let substituted = expr.replacingOccurrences(of: "$job", with: ".*")
                let (_, error) = try query(promPort, substituted)
                XCTAssertNil(error, "panel \(panel["title"] ?? "?"): \(expr): \(error ?? "")")
            }
        }
    }
}
