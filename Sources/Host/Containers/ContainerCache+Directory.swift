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
        if let info {
            enrichment.async { [self] in
                let enriched = state.enrich(info)
                if enriched != info { store(cgroupID, enriched, replacing: true) }
            }
        }
        return info.map(Self.summary)
    }

    static func summary(_ c: ContainerInfo) -> ContainerSummary {
        ContainerSummary(runtime: c.runtime.rawValue, id: c.shortID, name: c.name, image: c.image,
                         podName: c.podName, podNamespace: c.podNamespace)
    }
}
