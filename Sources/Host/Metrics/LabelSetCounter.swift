import EunomiaRecords
import EunomiaSchema

/// Counts one tracker's events by the values of its metric labels (eunomia_plugin_events_total),
/// at most `limit` label sets; events of any further set count in one `__other__` set, so a
/// plugin whose labels take endless values (a comm per process) cannot grow the server's memory
/// or the scrape without bound.
///
/// The hot path (consume) copies the label fields' raw bytes into a reused key buffer and looks
/// it up: no allocation for a set seen before. Strings are made only when a set is admitted.
/// Threading: consume runs under the router's delivery lock; call `snapshot` inside
/// `router.withDelivery` too.
public final class LabelSetCounter: RecordSubscriber {
    /// What one source (one build's schema) reads: per record id, the labels it carries and
    /// their place in `names`, the union of label names over the source's event records.
    final class Plan {
        let source: RecordSource
        let index: UInt8
        let names: [String]
        let byRecord: [UInt32: [(slot: Int, label: MetricLabel)]]
        var other: UInt64 = 0

        init(source: RecordSource, index: UInt8, extra: [MetricLabel]) {
            self.source = source
            self.index = index
            var names: [String] = []
            var byRecord: [UInt32: [(Int, MetricLabel)]] = [:]
            for r in source.schema.records where r.kind == .event {
                var labels: [(Int, MetricLabel)] = []
                for f in r.fields where f.metricLabel == true {
                    let label = FieldLabel(f)
                    if let i = names.firstIndex(of: label.name) { labels.append((i, label)) } else {
                        names.append(label.name)
                        labels.append((names.count - 1, label))
                    }
                }
                // Enriched labels apply to every event record that carries what they read
                // (the container: a cgroup_id field).
                for e in extra {
                    // A schema field of the same name wins over an enriched label.
                    guard !labels.contains(where: { names[$0.0] == e.name }), let bound = e.bound(to: r) else { continue }
                    if let i = names.firstIndex(of: e.name) { labels.append((i, bound)) } else {
                        names.append(e.name)
                        labels.append((names.count - 1, bound))
                    }
                }
                if !labels.isEmpty { byRecord[r.id] = labels.sorted { $0.0 < $1.0 } }
            }
            self.names = names
            self.byRecord = byRecord
        }
    }

    /// One admitted label set and its count.
    struct Entry {
        var labels: [(String, String)]
        var count: UInt64
    }

    public let limit: Int
    private let extra: [MetricLabel]
    private var plans: [Plan] = []
    private var last: Plan?
    private var index: [[UInt8]: Int] = [:]
    private var entries: [Entry] = []
    private var key: [UInt8] = []

    /// The generations of the labels whose values may change, when values were last made.
    private var generations: [UInt64?]

    /// `extra`: labels events carry beyond their schema's (ContainerLabel).
    public init(limit: Int, extra: [MetricLabel] = []) {
        self.limit = max(0, limit)
        self.extra = extra
        generations = extra.map(\.generation)
        key.reserveCapacity(512)
    }

    /// True when the schema marks any field of an event record as a metric label, or an event
    /// record carries what one of `extra` reads.
    public static func applies(to schema: PluginSchema, extra: [MetricLabel] = []) -> Bool {
        schema.records.contains { r in
            r.kind == .event && (r.fields.contains { $0.metricLabel == true } || extra.contains { $0.bound(to: r) != nil })
        }
    }

    public func sourceStarted(_ source: RecordSource) {
        guard !plans.contains(where: { $0.source === source }) else { return }
        // Plans are few (one per build a tracker ran: its swaps); past 255 the newest is reused.
        let plan = Plan(source: source, index: UInt8(truncatingIfNeeded: plans.count), extra: extra)
        if plans.count < 255 { plans.append(plan) }
        last = plan
    }

    public func sourceEnded(_ source: RecordSource) {
        if last?.source === source { last = nil }
    }

    public func consume(_ record: RecordView) -> Bool {
        guard let plan = plan(for: record.source), let labels = plan.byRecord[record.recordID] else { return true }
        appendRecordKey(plan: plan.index, recordID: record.recordID, to: &key)
        for (_, label) in labels { label.appendKey(of: record, to: &key) }
        if let i = index[key] {
            entries[i].count &+= 1
        } else if entries.count < limit {
            admit(plan: plan, labels: labels)
        } else {
            plan.other &+= 1
        }
        return true
    }

    @inline(__always) private func plan(for source: RecordSource) -> Plan? {
        if let last, last.source === source { return last }
        let found = plans.last { $0.source === source }
        last = found
        return found
    }

    /// A new label set: its strings are made here, once.
    private func admit(plan: Plan, labels: [(slot: Int, label: MetricLabel)]) {
        var values = [String](repeating: "", count: plan.names.count)
        var rest = key.dropFirst(LabelSetCounter.keyPrefix)
        for (slot, label) in labels {
            let n = min(label.keyLength(in: rest), rest.count)
            values[slot] = label.value(of: rest.prefix(n))
            rest = rest.dropFirst(n)
        }
        index[key] = entries.count
        entries.append(Entry(labels: Array(zip(plan.names, values)), count: 1))
    }

    /// The label sets and their counts, the `__other__` sets last. Call inside router.withDelivery.
    public func snapshot() -> [(labels: [(String, String)], count: UInt64)] {
        refreshIfChanged()
        var result = entries.map { ($0.labels, $0.count) }
        for p in plans where p.other > 0 {
            result.append((p.names.map { ($0, LabelSetCounter.otherValue) }, p.other))
        }
        return result
    }

    /// Values of labels that may change (a container named after its first events) are made
    /// again when their generation moved since the last snapshot: at most `limit` lookups, at
    /// scrape time, never on the event path.
    private func refreshIfChanged() {
        let now = extra.map(\.generation)
        guard now != generations else { return }
        generations = now
        for (key, i) in index {
            guard Int(key[0]) < plans.count else { continue }
            let plan = plans[Int(key[0])]
            let id = UInt32(key[1]) | UInt32(key[2]) << 8 | UInt32(key[3]) << 16 | UInt32(key[4]) << 24
            guard let labels = plan.byRecord[id] else { continue }
            var rest = key.dropFirst(LabelSetCounter.keyPrefix)
            for (slot, label) in labels {
                let n = min(label.keyLength(in: rest), rest.count)
                if label.generation != nil {
                    let old = entries[i].labels[slot].1
                    let new = label.refreshed(old, key: rest.prefix(n))
                    if new != old { entries[i].labels[slot].1 = new }
                }
                rest = rest.dropFirst(n)
            }
        }
    }

    /// Bytes before the labels in a key: the plan's index and the record id.
    static let keyPrefix = 5

    /// The label value of the bucket that counts events past the limit.
    public static let otherValue = "__other__"
}
