import EunomiaRecords
import EunomiaSchema

/// The `container` label of eunomia_plugin_events_total, for records that carry the task's
/// cgroup id (schema role `cgroup_id`): the container's name when the runtime's state gave one,
/// else its id (12 hex digits for the OCI runtimes), "" for a task in no container.
///
/// The key holds 8 bytes: the cgroup id for a task in a container, 0 for any other, so the
/// host's many cgroups (one per service and session) share one label set per value of the other
/// labels instead of each taking a set of `max_label_sets`. Which cgroups are containers is
/// remembered here (bounded), so the hot path costs one hash lookup; a cgroup seen for the first
/// time is asked of the directory (its path read once, microseconds).
///
/// Threading: one instance per LabelSetCounter, used under its router's delivery lock.
public final class ContainerLabel: MetricLabel {
    public let name = "container"
    private let directory: ContainerDirectory
    /// The cgroup_id field's offset in the record this instance is bound to (nil: unbound).
    private let offset: Int?
    /// cgroup id -> whether it is a container; shared by the bound copies of one label.
    private let memo: Memo

    final class Memo {
        var isContainer: [UInt64: Bool] = [:]
        /// Past this many cgroups the memo starts over (a host churning through containers).
        static let capacity = 4096
    }

    public init(directory: ContainerDirectory) {
        self.directory = directory
        offset = nil
        memo = Memo()
    }

    private init(directory: ContainerDirectory, offset: Int, memo: Memo) {
        self.directory = directory
        self.offset = offset
        self.memo = memo
    }

    public func bound(to record: RecordLayout) -> MetricLabel? {
        record.cgroupIDOffset.map { ContainerLabel(directory: directory, offset: $0, memo: memo) }
    }

    public func appendKey(of record: RecordView, to key: inout [UInt8]) {
        var id: UInt64 = 0
        if let offset, let cgroup = record.u64(at: offset), cgroup != 0 {
            if let known = memo.isContainer[cgroup] {
                if known { id = cgroup }
            } else {
                let isContainer = directory.container(cgroupID: cgroup) != nil
                if memo.isContainer.count >= Memo.capacity { memo.isContainer.removeAll(keepingCapacity: true) }
                memo.isContainer[cgroup] = isContainer
                if isContainer { id = cgroup }
            }
        }
        for i in 0..<8 { key.append(UInt8(truncatingIfNeeded: id >> (8 * UInt64(i)))) }
    }

    public func keyLength(in key: ArraySlice<UInt8>) -> Int { 8 }

    static func cgroupID(_ key: ArraySlice<UInt8>) -> UInt64 {
        var id: UInt64 = 0
        for (i, b) in key.prefix(8).enumerated() { id |= UInt64(b) << (8 * UInt64(i)) }
        return id
    }

    public func value(of key: ArraySlice<UInt8>) -> String {
        let id = ContainerLabel.cgroupID(key)
        guard id != 0, let c = directory.container(cgroupID: id) else { return "" }
        return c.name ?? c.id
    }

    /// The directory's generation: it moves when a name is learnt (or an entry replaced).
    public var generation: UInt64? { directory.generation }

    /// The name once the runtime's state gave it; a container the directory no longer knows
    /// (gone, evicted) keeps the value it had, so its series does not change labels at exit.
    public func refreshed(_ value: String, key: ArraySlice<UInt8>) -> String {
        let id = ContainerLabel.cgroupID(key)
        guard id != 0, let c = directory.container(cgroupID: id) else { return value }
        return c.name ?? c.id
    }
}
