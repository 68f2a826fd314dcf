import Dispatch
import EunomiaRecords

extension ContainerCache: ContainerDirectory {
    /// From memory when the cgroup is known. A new cgroup's path is read at once (one
    /// open_by_handle_at and readlink, microseconds, once per cgroup), so its first events
    /// already carry the container id and runtime; the runtime's state files (names, images,
    /// pods) are read on a background queue and appear from a later event on.
    public func container(cgroupID: UInt64) -> ContainerSummary? {
        if let known = lookup(cgroupID) { return known.map(Self.summary) }
        let info = identify(cgroupID)
        store(cgroupID, info)
        if let info { enrich(cgroupID, info, attempt: 0) }
        return info.map(Self.summary)
    }

    /// Delays between tries to read a new container's state: a runtime may write it just after
    /// the container's first process runs (its first records came before it).
    static let enrichmentRetries: [Double] = [0, 0.5, 2, 10]

    /// Reads the runtime's state for a new container off the record path; tries again a few
    /// times while it has no name (the state not written yet), then keeps what the path said.
    private func enrich(_ cgroupID: UInt64, _ info: ContainerInfo, attempt: Int) {
        let delay = Self.enrichmentRetries[attempt]
        enrichment.asyncAfter(deadline: .now() + delay) { [self] in
            // Evicted meanwhile, or its cgroup gone: nothing to do.
            guard lookup(cgroupID) != nil else { return }
            let enriched = state.enrich(info)
            if enriched != info { store(cgroupID, enriched, replacing: true) }
            if enriched.name == nil, attempt + 1 < Self.enrichmentRetries.count {
                enrich(cgroupID, info, attempt: attempt + 1)
            }
        }
    }

    static func summary(_ c: ContainerInfo) -> ContainerSummary {
        ContainerSummary(runtime: c.runtime.rawValue, id: c.shortID, name: c.name, image: c.image,
                         podName: c.podName, podNamespace: c.podNamespace)
    }
}
