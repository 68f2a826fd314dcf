#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Prometheus

/// The server's metrics in the Prometheus text exposition format (docs/prometheus.md).
///
/// Two kinds of series: counters that already exist elsewhere (a tracker's events, lost,
/// malformed, drops; the label sets) are read at scrape time into a registry made for that
/// scrape, so the hot path counts nothing twice; what exists nowhere else (swaps and their
/// durations, the totals of trackers gone) lives here, in a registry kept for the process.
/// swift-prometheus writes the text: names, escaping and the histogram's cumulative buckets.
public final class MetricsExporter: Sendable {
    /// The content type of the text format, version 0.0.4 (what Prometheus asks for first).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let kept = PrometheusCollectorRegistry()
    /// Every tracker's histogram reports (HistogramCollector): kept across scrapes, since
    /// swift-prometheus's histograms take observations one at a time.
    public let histograms = PrometheusCollectorRegistry()
    private let swaps: Counter
    private let swapFailures: Counter
    private let swapDuration: ValueHistogram

    /// Swap durations in seconds: a swap takes tens of milliseconds to about a second.
    static let swapBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public init() {
        swaps = kept.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "eunomia", metricName: "swaps", unitName: "total", helpText: "Hot swaps completed"))
        swapFailures = kept.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "eunomia", metricName: "swap_failures", unitName: "total",
            helpText: "Hot swaps that failed (the old version kept running)"))
        swapDuration = kept.makeValueHistogram(descriptor: MetricNameDescriptor(
            namespace: "eunomia", metricName: "swap_duration", unitName: "seconds",
            helpText: "Hot swap duration, request to the old version gone"), buckets: MetricsExporter.swapBuckets)
        _ = ProcessStats.startTime
    }

    /// A swap finished: its duration in seconds.
    public func swapped(seconds: Double) {
        swaps.increment()
        swapDuration.record(max(0, seconds))
    }

    public func swapFailed() { swapFailures.increment() }

    /// A rule fired (eunomia_security_alerts_total{rule,priority}).
    public func alerted(rule: String, priority: String) {
        kept.makeCounter(descriptor: MetricNameDescriptor(namespace: "eunomia", metricName: "security_alerts", unitName: "total",
                                                          helpText: "Alerts raised by the security rules, by rule and priority"),
                         labels: [("rule", rule), ("priority", priority)]).increment()
    }

    /// The exposition for this scrape: the trackers' samples, the builds loaded, the decode
    /// errors of trackers already stopped (so the host total never goes down).
    public func render(trackers: [TrackerSample], loadedPlugins: Int, stoppedMalformed: UInt64) -> [UInt8] {
        let now = PrometheusCollectorRegistry()
        func counter(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "eunomia", metricName: name, unitName: "total", helpText: help)
        }
        let events = counter("tracker_events", "Records delivered by the tracker's plugin and accepted by the host")
        let lost = counter("tracker_lost", "Records the kernel could not write to the ring buffer (full)")
        let malformed = counter("tracker_malformed", "Records whose id or size did not match the schema")
        let dropped = counter("tracker_dropped", "Records a subscriber dropped (its queue was full)")
        let pluginEvents = counter("plugin_events", "Events by the fields the schema marks as metric labels")
        let bpfRuns = MetricNameDescriptor(namespace: "eunomia", metricName: "tracker_bpf_run_count", unitName: "total",
                                           helpText: "Runs of the tracker's BPF programs while BPF statistics were on")
        let bpfSeconds = MetricNameDescriptor(namespace: "eunomia", metricName: "tracker_bpf_run_seconds", unitName: "total",
                                              helpText: "Time the kernel spent in the tracker's BPF programs")
        var decodeErrors = stoppedMalformed
        var running = 0
        for t in trackers {
            let base = [("tracker", t.id), ("plugin", t.plugin), ("version", t.version)]
            now.makeCounter(descriptor: events, labels: base).increment(by: Int64(clamping: t.events))
            now.makeCounter(descriptor: lost, labels: base).increment(by: Int64(clamping: t.lost))
            now.makeCounter(descriptor: malformed, labels: base).increment(by: Int64(clamping: t.malformed))
            for (name, n) in t.dropped.sorted(by: { $0.key < $1.key }) {
                now.makeCounter(descriptor: dropped, labels: base + [("subscriber", name)]).increment(by: Int64(clamping: n))
            }
            for set in t.labelSets {
                // Two builds of one tracker may share a label set: makeCounter returns the same
                // counter, and the counts add up.
                now.makeCounter(descriptor: pluginEvents, labels: [("tracker", t.id), ("plugin", t.plugin)] + set.labels)
                    .increment(by: Int64(clamping: set.count))
            }
            if let runs = t.bpfRunCount, let ns = t.bpfRunTimeNs {
                now.makeCounter(descriptor: bpfRuns, labels: base).increment(by: Int64(clamping: runs))
                now.makeCounter(descriptor: bpfSeconds, labels: base).increment(by: Double(ns) / 1e9)
            }
            decodeErrors &+= t.malformed
            if t.running { running += 1 }
        }
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            now.makeGauge(descriptor: MetricNameDescriptor(namespace: "eunomia", metricName: name, unitName: unit, helpText: help))
        }
        gauge("plugins", "loaded", "Plugin builds loaded by trackers now").set(Double(loadedPlugins))
        gauge("trackers", "running", "Tracker instances running now").set(Double(running))
        now.makeCounter(descriptor: counter("decode_errors", "Records that did not match their schema, over every tracker since start"))
            .increment(by: Int64(clamping: decodeErrors))
        let p = ProcessStats.current()
        now.makeGauge(descriptor: MetricNameDescriptor(namespace: "process", metricName: "resident_memory", unitName: "bytes",
                                                       helpText: "Resident memory size in bytes")).set(p.residentBytes)
        now.makeCounter(descriptor: MetricNameDescriptor(namespace: "process", metricName: "cpu_seconds", unitName: "total",
                                                         helpText: "Total user and system CPU time spent in seconds")).increment(by: p.cpuSeconds)
        now.makeGauge(descriptor: MetricNameDescriptor(namespace: "process", metricName: "open", unitName: "fds",
                                                       helpText: "Number of open file descriptors")).set(p.openFDs)
        now.makeGauge(descriptor: MetricNameDescriptor(namespace: "process", metricName: "start_time", unitName: "seconds",
                                                       helpText: "Start time of the process since unix epoch in seconds")).set(p.startTimeSeconds)
        var out: [UInt8] = []
        now.emit(into: &out)
        kept.emit(into: &out)
        histograms.emit(into: &out)
        return out
    }
}
