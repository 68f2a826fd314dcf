import Foundation
import Synchronization

/// cgroup id -> container (or none), bounded: at capacity the oldest entry makes room, so a
/// host that churns through containers keeps a fixed footprint. Thread-safe; lookups never
/// touch the filesystem (resolve does, and is called off the hot path).
public final class ContainerCache: @unchecked Sendable {
    public let capacity: Int
    private let lock = NSLock()
    /// nil value: the cgroup is known to be no container.
    private var entries: [UInt64: ContainerInfo?] = [:]
    private var order: [UInt64] = []
    private var head = 0
    let paths: CgroupPaths?
    let state: ContainerState
    /// Where runtime state files are read for new containers, off the record path.
    let enrichment = DispatchQueue(label: "eunomia.containers")
    /// Written under the lock (with the change it counts), read without it: the encoders read
    /// it on every record.
    private let changes = Atomic<UInt64>(0)

    public init(capacity: Int = 4096, paths: CgroupPaths? = CgroupPaths(), state: ContainerState = ContainerState()) {
        self.capacity = max(1, capacity)
        self.paths = paths
        self.state = state
    }

    public var count: Int { lock.withLock { entries.count } }

    /// Moves whenever an entry is added, replaced or dropped. Lock-free: a reader that sees the
    /// new value and then looks up (under the lock) sees the change; one that sees the old value
    /// sees the new one on its next read, so a rendered container is never kept stale.
    public var generation: UInt64 { changes.load(ordering: .acquiring) }

    /// What is known about the cgroup: .some(nil) for "no container", nil when not resolved yet.
    public func lookup(_ id: UInt64) -> ContainerInfo?? {
        lock.withLock { entries[id] }
    }

    /// Resolves the cgroup (path, then the runtime's state) and caches the answer. A cgroup
    /// that cannot be resolved (gone already) is cached as no container.
    @discardableResult
    public func resolve(_ id: UInt64) -> ContainerInfo? {
        if let known = lookup(id) { return known }
        let info = identify(id).map(state.enrich)
        store(id, info)
        return info
    }

    /// The container the cgroup's path names (no state files read).
    func identify(_ id: UInt64) -> ContainerInfo? {
        paths?.path(of: id).flatMap(CgroupPathMatcher.match)
    }

    /// Forgets a cgroup (removed, or its container's state changed), so the next resolve reads it again.
    public func invalidate(_ id: UInt64) {
        lock.withLock {
            if entries.removeValue(forKey: id) != nil { changes.add(1, ordering: .releasing) }
        }
    }

    func store(_ id: UInt64, _ info: ContainerInfo?, replacing: Bool = false) {
        lock.withLock {
            // A late enrichment for an entry evicted meanwhile is dropped, not re-added.
            if replacing && entries[id] == nil { return }
            changes.add(1, ordering: .releasing)
            guard entries.updateValue(info, forKey: id) == nil else { return }
            if order.count < capacity {
                order.append(id)
                return
            }
            // A ring in insertion order: the slot at head is the oldest. Every entry has a slot,
            // so the cache never holds more than capacity.
            let old = order[head]
            order[head] = id
            head = (head + 1) % capacity
            if old != id { entries.removeValue(forKey: old) }
        }
    }
}
