import EunomiaRecords
import EunomiaSchema
import Foundation
import Prometheus

/// One tracker's log2 histogram reports (biolatency, runqlat, tcprtt) as Prometheus histograms,
/// `eunomia_plugin_histogram_<unit>{tracker,plugin,<the record's metric_label fields>,le}`,
/// cumulative since the tracker started whatever the plugin sends:
///
/// - a plugin that clears its map at each report (the bundled ones, unless `cumulative`) sends
///   the counts of one interval: they are added up;
/// - with `cumulative = true` it sends the counts since it started: the difference from its
///   previous report of the same set is added.
///
/// Buckets are the slots' upper bounds (slot i holds [2^i, 2^(i+1)), so `le` is 2^(i+1) - 1;
/// slot 0 also holds 0), the same ladder for every histogram of one unit (swift-prometheus
/// requires it): slots 0 to 31, later slots count in +Inf only. `_sum` is an estimate, each
/// observation taken at the middle of its slot (a log2 histogram keeps no exact values).
///
/// swift-prometheus's histogram takes observations one at a time (its collector protocol is
/// internal), so each observation is recorded once: a report adds its counts to a pending array
/// per set (no allocation for a set seen before), and a scrape moves them into the library's
/// histogram (`drain`), outside the router's lock. Cost: one `record` per observation, once.
/// At most `limit` label sets per tracker, the rest in one `__other__` set per record.
///
/// Threading: consume and endReport run under the router's delivery lock; `take` must too
/// (inside `router.withDelivery`); `record(_:)` and `unregister()` run outside it.
public final class HistogramCollector: RecordSubscriber, @unchecked Sendable {
    /// What one record of one source carries.
    struct RecordPlan {
        let names: [String]
        let labels: [FieldLabel]
        let offset: Int
        let slots: Int
        let wide: Bool
        let family: Family
        let cumulative: Bool
    }

    final class Plan {
        let source: RecordSource
        let index: UInt8
        let byRecord: [UInt32: RecordPlan]

        init(source: RecordSource, index: UInt8) {
            self.source = source
            self.index = index
            let cumulative = source.parameters.bool("cumulative")
            var byRecord: [UInt32: RecordPlan] = [:]
            for r in source.schema.records where r.kind == .histogram {
                guard let h = r.fields.first(where: { $0.type == .histogram }) else { continue }
                let marked = r.fields.filter(HistogramCollector.isLabel)
                let wide = h.element == .u64
                byRecord[r.id] = RecordPlan(
                    names: marked.map(\.name), labels: marked.map(FieldLabel.init), offset: h.offset,
                    slots: min(64, h.size / (wide ? 8 : 4)), wide: wide, family: Family(unit: h.unit ?? ""),
                    cumulative: cumulative)
            }
            self.byRecord = byRecord
        }
    }

    /// The metric one unit's histograms share.
    struct Family: Hashable {
        let descriptor: MetricNameDescriptor
        let unit: String

        init(unit raw: String) {
            let unit = Family.promUnit(raw)
            self.unit = unit
            descriptor = MetricNameDescriptor(
                namespace: "eunomia", metricName: "plugin_histogram", unitName: unit,
                helpText: "Log2 histogram reports of the plugin in \(unit.isEmpty ? "its own unit" : unit), cumulative since the tracker started; le is a slot's upper bound, _sum takes each observation at the middle of its slot")
        }

        /// Prometheus spells units out: usecs -> microseconds.
        static func promUnit(_ unit: String) -> String {
            switch unit.lowercased() {
            case "usecs", "us", "usec", "microseconds": return "microseconds"
            case "msecs", "ms", "msec", "milliseconds": return "milliseconds"
            case "nsecs", "ns", "nsec", "nanoseconds": return "nanoseconds"
            case "secs", "s", "sec", "seconds": return "seconds"
            default:
                let cleaned = unit.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }
                return String(cleaned.prefix(32))
            }
        }

        static func == (a: Family, b: Family) -> Bool { a.unit == b.unit }
        func hash(into h: inout Hasher) { h.combine(unit) }
    }

    /// One label set: its labels, and the observations not yet moved into its histogram.
    final class Entry {
        let labels: [(String, String)]
        let family: Family
        var pending: [UInt64]
        /// A cumulative plugin's previous counts of this set.
        var last: [UInt64] = []
        var histogram: ValueHistogram?

        init(labels: [(String, String)], family: Family) {
            self.labels = labels
            self.family = family
            pending = [UInt64](repeating: 0, count: 64)
        }
    }

    /// Slots 0..<bucketSlots have a bucket of their own.
    static let bucketSlots = 32
    /// The upper bounds of those slots: 1, 3, 7, ..., 2^32 - 1.
    static let buckets: [Double] = (0..<bucketSlots).map { Double(Log2Slots.bounds($0).high) }

    public let trackerID: String
    public let limit: Int
    private let registry: PrometheusCollectorRegistry
    private var plans: [Plan] = []
    private var last: Plan?
    private var index: [[UInt8]: Entry] = [:]
    private var other: [[UInt8]: Entry] = [:]
    private var entries: [Entry] = []
    private var key: [UInt8] = []
    /// Serialises drains (two scrapes at once) and unregister.
    private let drainLock = NSLock()
    private var registered: [ValueHistogram] = []
    private var gone = false

    /// `registry`: where the histograms live (one for every tracker, MetricsExporter.histograms).
    public init(trackerID: String, limit: Int, registry: PrometheusCollectorRegistry) {
        self.trackerID = trackerID
        self.limit = max(0, limit)
        self.registry = registry
        key.reserveCapacity(256)
    }

    /// The key fields of a histogram record that name what it measures: strings (a comm, a
    /// disk) and integers the schema names by `values` or `bits` (an operation, flags); not
    /// pids, addresses or averages, whose values are endless or measurements. Histograms of
    /// keys left out add up into one, exactly.
    static func isLabel(_ f: FieldSpec) -> Bool {
        guard f.type != .histogram, !FieldSpec.reservedLabelNames.contains(f.name), !f.name.hasPrefix("__") else { return false }
        if f.metricLabel == true || f.type == .string { return true }
        switch f.type {
        case .u8, .u16, .u32, .u64, .i8, .i16, .i32, .i64:
            return (f.values?.isEmpty == false) || (f.bits?.isEmpty == false)
        default:
            return false
        }
    }

    /// True when the schema has histogram records.
    public static func applies(to schema: PluginSchema) -> Bool {
        schema.records.contains { $0.kind == .histogram && $0.fields.contains { $0.type == .histogram } }
    }

    public func sourceStarted(_ source: RecordSource) {
        guard !plans.contains(where: { $0.source === source }) else { return }
        let plan = Plan(source: source, index: UInt8(truncatingIfNeeded: plans.count))
        if plans.count < 255 { plans.append(plan) }
        last = plan
    }

    public func sourceEnded(_ source: RecordSource) {
        if last?.source === source { last = nil }
    }

    public func consume(_ record: RecordView) -> Bool {
        guard let plan = plan(for: record.source), let r = plan.byRecord[record.recordID] else { return true }
        appendRecordKey(plan: plan.index, recordID: record.recordID, to: &key)
        for label in r.labels { label.appendKey(of: record, to: &key) }
        let entry: Entry
        if let e = index[key] {
            entry = e
        } else if entries.count < limit {
            entry = admit(plan: plan, r)
        } else {
            let otherKey = Array(key.prefix(5))
            if let e = other[otherKey] { entry = e } else {
                let e = Entry(labels: base(plan) + r.names.map { ($0, LabelSetCounter.otherValue) }, family: r.family)
                other[otherKey] = e
                entry = e
            }
            // Sets past the limit share one entry: a cumulative plugin's differences cannot be told apart.
            add(record.bytes, r, to: entry, cumulative: false)
            return true
        }
        add(record.bytes, r, to: entry, cumulative: r.cumulative)
        return true
    }

    private func base(_ plan: Plan) -> [(String, String)] {
        [("tracker", trackerID), ("plugin", plan.source.plugin)]
    }

    private func admit(plan: Plan, _ r: RecordPlan) -> Entry {
        var values: [(String, String)] = base(plan)
        var rest = key.dropFirst(5)
        for (name, label) in zip(r.names, r.labels) {
            let n = min(label.keyLength(in: rest), rest.count)
            values.append((name, label.value(of: rest.prefix(n))))
            rest = rest.dropFirst(n)
        }
        let e = Entry(labels: values, family: r.family)
        index[key] = e
        entries.append(e)
        return e
    }

    private func add(_ bytes: UnsafeRawBufferPointer, _ r: RecordPlan, to e: Entry, cumulative: Bool) {
        if cumulative && e.last.count != r.slots { e.last = [UInt64](repeating: 0, count: r.slots) }
        for i in 0..<r.slots {
            let at = r.offset + i * (r.wide ? 8 : 4)
            // A record cut short (eunomia_output_array) holds no counts in the slots it lacks.
            let n: UInt64
            if at + (r.wide ? 8 : 4) > bytes.count { n = 0 }
            else { n = r.wide ? bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                              : UInt64(bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
            if cumulative {
                // Counts below the previous ones: the plugin started over (its map was cleared).
                let delta = n >= e.last[i] ? n - e.last[i] : n
                e.last[i] = n
                e.pending[i] &+= delta
            } else {
                e.pending[i] &+= n
            }
        }
    }

    @inline(__always) private func plan(for source: RecordSource) -> Plan? {
        if let last, last.source === source { return last }
        let found = plans.last { $0.source === source }
        last = found
        return found
    }

    /// What was reported since the last take, per set; clears it. Call inside router.withDelivery.
    public func take() -> [(entry: AnyObject, counts: [UInt64])] {
        var out: [(entry: AnyObject, counts: [UInt64])] = []
        for e in entries + other.values {
            if e.pending.contains(where: { $0 != 0 }) {
                out.append((e, e.pending))
                for i in e.pending.indices { e.pending[i] = 0 }
            } else if e.histogram == nil {
                // A set with no observations yet still shows (zeros), once admitted.
                out.append((e, []))
            }
        }
        return out
    }

    /// Moves what `take` returned into the library's histograms: one `record` per observation,
    /// at the middle of its slot (beyond the last bucket: in +Inf). Outside the router's lock.
    /// Returns the observations recorded.
    @discardableResult
    public func record(_ taken: [(entry: AnyObject, counts: [UInt64])]) -> UInt64 {
        drainLock.lock()
        defer { drainLock.unlock() }
        guard !gone else { return 0 }
        var total: UInt64 = 0
        for (object, counts) in taken {
            guard let e = object as? Entry else { continue }
            let h: ValueHistogram
            if let existing = e.histogram { h = existing } else {
                h = registry.makeValueHistogram(descriptor: e.family.descriptor, labels: e.labels, buckets: HistogramCollector.buckets)
                e.histogram = h
                registered.append(h)
            }
            for (slot, n) in counts.enumerated() where n > 0 {
                let (low, high) = Log2Slots.bounds(slot)
                let value = slot < HistogramCollector.bucketSlots ? (Double(low) + Double(high)) / 2 : Double(low)
                for _ in 0..<n { h.record(value) }
                total &+= n
            }
        }
        return total
    }

    /// The tracker stopped: its series leave the exposition.
    public func unregister() {
        drainLock.lock()
        defer { drainLock.unlock() }
        gone = true
        // Two builds of a tracker may share a histogram (same labels): unregister it once.
        var seen = Set<ObjectIdentifier>()
        for h in registered where seen.insert(ObjectIdentifier(h)).inserted { registry.unregisterValueHistogram(h) }
        registered.removeAll()
    }
}

/// libbpf-tools' log2 slots (the same as EunomiaOutput's Log2Histogram, which this module does not link).
enum Log2Slots {
    static func bounds(_ slot: Int) -> (low: UInt64, high: UInt64) {
        if slot == 0 { return (0, 1) }
        let low: UInt64 = 1 << UInt64(slot)
        return (low, slot >= 63 ? UInt64.max : (low << 1) - 1)
    }
}
