import EunomiaRecords
import EunomiaSchema

/// What stands between one plugin instance and its tracker's router: it checks each record
/// against the schema (id and size), applies the host's side of a swap's cutover, counts, and
/// hands the record on as a RecordView. Called on the thread serving the instance, inside the
/// router's delivery lock, or, while `buffering`, with no lock (see RunningTracker.swap).
final class InstanceGate: RecordSink {
    private struct Layout {
        let minimumSize: Int
        let maximumSize: Int
        let timeOffset: Int
    }

    let router: RecordRouter
    let source: RecordSource
    /// The same two, not retained per record (the lets above own them).
    private unowned(unsafe) let recordRouter: RecordRouter
    private unowned(unsafe) let recordSource: RecordSource
    private let dense: [Layout?]
    private let sparse: [UInt32: Layout]

    private(set) var delivered: UInt64 = 0
    private(set) var malformed: UInt64 = 0

    /// Host-side cutover, for builds that do not share the kernel-side cutover map: only records
    /// whose event time is in [from, until) pass; the rest were delivered by the other version.
    var hostGate = false
    var from: UInt64 = 0
    var until: UInt64 = .max
    private(set) var suppressed: UInt64 = 0

    /// A successor counts the calls it was handed in flight: records whose event began before
    /// the cutover it took over at.
    var handoverBefore: UInt64 = 0
    private(set) var handedOver: UInt64 = 0

    /// While true, records are copied aside instead of delivered (the instance is being retired
    /// on a thread that must not hold the router's lock); `drain` delivers them afterwards.
    var buffering = false
    private var buffered: [(UInt32, [UInt8])] = []
    private var bufferedReports: [UInt64] = []

    init(router: RecordRouter, source: RecordSource) {
        self.router = router
        self.source = source
        recordRouter = router
        recordSource = source
        var dense = [Layout?](repeating: nil, count: 64)
        var sparse: [UInt32: Layout] = [:]
        for r in source.schema.records {
            let l = Layout(minimumSize: r.minimumSize, maximumSize: r.size, timeOffset: r.kind == .event ? r.eventTimeOffset ?? -1 : -1)
            if r.id < 64 { dense[Int(r.id)] = l } else { sparse[r.id] = l }
        }
        self.dense = dense
        self.sparse = sparse
    }

    /// True when every event record has an event_time field: the host can cut over by time.
    var hasEventTime: Bool {
        source.schema.records.filter { $0.kind == .event }.allSatisfy { $0.eventTimeOffset != nil }
    }

    func consume(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool {
        let found = recordID < 64 ? dense[Int(recordID)] : sparse[recordID]
        guard let layout = found, bytes.count >= layout.minimumSize, bytes.count <= layout.maximumSize else {
            malformed &+= 1
            return false
        }
        if layout.timeOffset >= 0 && (hostGate || handoverBefore != 0) {
            let t = bytes.loadUnaligned(fromByteOffset: layout.timeOffset, as: UInt64.self)
            if hostGate && (t < from || t >= until) {
                suppressed &+= 1
                return true
            }
            if t < handoverBefore { handedOver &+= 1 }
        }
        delivered &+= 1
        if buffering {
            buffered.append((recordID, Array(bytes)))
            return true
        }
        recordRouter.deliver(RecordView(source: recordSource, recordID: recordID, bytes: bytes))
        return true
    }

    func endReport(timestampNs: UInt64) {
        if buffering {
            buffered.append((UInt32.max, []))
            bufferedReports.append(timestampNs)
            return
        }
        router.endReport(source: source, timestampNs: timestampNs)
    }

    /// Delivers what was buffered, in order. Call inside the router's delivery lock.
    func drain() {
        buffering = false
        var reports = bufferedReports.makeIterator()
        for (id, bytes) in buffered {
            if id == UInt32.max {
                if let ts = reports.next() { router.endReport(source: source, timestampNs: ts) }
                continue
            }
            bytes.withUnsafeBytes { router.deliver(RecordView(source: source, recordID: id, bytes: $0)) }
        }
        buffered = []
        bufferedReports = []
    }
}
