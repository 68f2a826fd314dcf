/// Filling the cache ahead of the records: what was known before a container's first event
/// need not wait for it.
extension ContainerCache {
    /// A container the host has already resolved (the container filter's, names and pod
    /// included): its cgroups are known from their first record on.
    public func remember(_ found: ContainerLocator.Found) {
        for id in found.cgroupIDs { store(id, found.container) }
    }

    /// Reads every running container's cgroups and state on the enrichment queue, so records
    /// from containers that already ran when the tracker started carry their names and pods
    /// from the first one. A cgroup resolved meanwhile by a record keeps what it learnt.
    public func prime() {
        guard let paths else { return }
        enrichment.async { [self] in
            for found in ContainerLocator(paths: paths, state: state).containers() {
                let info = state.enrich(found.container)
                for id in found.cgroupIDs where lookup(id).map({ $0?.name == nil }) ?? true {
                    store(id, info)
                }
            }
        }
    }
}
