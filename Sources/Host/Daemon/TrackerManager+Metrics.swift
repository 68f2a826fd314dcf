import EunomiaHost
import EunomiaMetrics
import Foundation

// GET /metrics: the trackers' counters read at scrape time, and the label counters hung on
// their routers (docs/prometheus.md).
extension TrackerManager {
    /// Hangs a label counter on the tracker's router when its build's schema marks metric
    /// labels and it has none yet (at start, or after a swap to a build that marks some).
    /// Records that carry a cgroup id are also counted by container (ContainerLabel, named
    /// from the manager's one container cache).
    func attachLabelCounter(_ t: ManagedTracker, _ running: RunningTracker) {
        let extra: [MetricLabel] = [ContainerLabel(directory: containers)]
        guard limits.maxLabelSets > 0, LabelSetCounter.applies(to: running.plugin.schema, extra: extra) else { return }
        lock.lock()
        let counter: LabelSetCounter? = t.labels == nil ? LabelSetCounter(limit: limits.maxLabelSets, extra: extra) : nil
        if let counter { t.labels = counter }
        lock.unlock()
        if let counter { running.router.add(counter, name: "metrics") }
    }

    /// Hangs a histogram collector on the router when the build's schema has histogram records
    /// and it has none yet (at start, or after a swap).
    func attachHistograms(_ t: ManagedTracker, _ running: RunningTracker) {
        guard limits.maxLabelSets > 0, HistogramCollector.applies(to: running.plugin.schema) else { return }
        lock.lock()
        let collector: HistogramCollector? = t.histograms == nil
            ? HistogramCollector(trackerID: t.id, limit: limits.maxLabelSets, registry: metrics.histograms) : nil
        if let collector { t.histograms = collector }
        lock.unlock()
        if let collector { running.router.add(collector, name: "histograms") }
    }

    /// Every swap of the server goes through here, so the swap metrics count them all.
    func countedSwap(_ t: ManagedTracker, _ running: RunningTracker, to target: InstalledPlugin) throws -> SwapReport {
        do {
            let report = try running.swap(to: target)
            metrics.swapped(seconds: report.durationMs / 1000)
            attachLabelCounter(t, running)
            attachHistograms(t, running)
            return report
        } catch {
            metrics.swapFailed()
            throw error
        }
    }

    /// The exposition for one scrape.
    public func metricsExposition() -> [UInt8] {
        lock.lock()
        let all = trackers.values.sorted { $0.id < $1.id }.map { ($0, $0.running, $0.labels, $0.histograms, $0.stopped) }
        let gone = stoppedMalformed
        lock.unlock()
        var samples: [TrackerSample] = []
        var builds = Set<BuildKey>()
        for (t, running, labels, histograms, stopped) in all {
            guard let running, !stopped else { continue }
            if let histograms {
                // The reports since the last scrape, into the histograms (outside the router's lock).
                let taken = running.router.withDelivery { histograms.take() }
                histograms.record(taken)
            }
            let plugin = running.plugin
            builds.insert(BuildKey(plugin))
            let counters = running.counters()
            let cost = running.kernelCost()
            let sets = labels.map { l in running.router.withDelivery { l.snapshot() } } ?? []
            samples.append(TrackerSample(
                id: t.id, plugin: plugin.name, version: plugin.version, running: running.state == .running,
                events: counters.events, lost: counters.lost, malformed: counters.malformed,
                dropped: running.router.dropped(), labelSets: sets.map { LabelSetSample(labels: $0.labels, count: $0.count) },
                bpfRunCount: cost?.runCount, bpfRunTimeNs: cost?.runTimeNs))
        }
        return metrics.render(trackers: samples, loadedPlugins: builds.count, stoppedMalformed: gone)
    }
}
