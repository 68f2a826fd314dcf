/// Which container a cgroup is, for the encoders: the seam between the record path and the
/// containers layer (EunomiaContainers' ContainerCache). Called on the per-event path for
/// records whose schema has a cgroup_id field, so it must answer from memory and never block;
/// a cgroup it has not seen yet it may resolve once, off the hot path where it can.
public protocol ContainerDirectory: AnyObject {
    /// Bumped whenever an answer may have changed (a name learnt late, a cgroup evicted), so
    /// an encoder knows when to render a cgroup's metadata again.
    var generation: UInt64 { get }
    /// nil: the cgroup is not a container (the host, a session), or is gone.
    func container(cgroupID: UInt64) -> ContainerSummary?
}

/// What the encoders write about a container; every string already checked as display text.
public struct ContainerSummary: Equatable, Sendable {
    public var runtime: String
    /// 12 hex digits for the OCI runtimes, the name for nspawn and LXC.
    public var id: String
    public var name: String?
    public var image: String?
    public var podName: String?
    public var podNamespace: String?

    public init(runtime: String, id: String, name: String? = nil, image: String? = nil, podName: String? = nil, podNamespace: String? = nil) {
        self.runtime = runtime
        self.id = id
        self.name = name
        self.image = image
        self.podName = podName
        self.podNamespace = podNamespace
    }
}
