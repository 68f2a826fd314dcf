/// What a cgroup says about the container a task runs in, and what the runtime's state adds.
public struct ContainerInfo: Equatable, Sendable {
    public enum Runtime: String, Sendable, CaseIterable {
        case docker, containerd, crio = "cri-o", podman, nspawn = "systemd-nspawn", lxc
        /// A kubelet cgroup (kubepods/.../pod<uid>/<id>) with the cgroupfs driver: containerd or
        /// CRI-O, which the path does not say; the runtime's state, when found, does.
        case cri
    }

    public var runtime: Runtime
    /// 64 hex digits for the OCI runtimes; the machine or container name for nspawn and LXC.
    public var id: String
    public var name: String?
    public var image: String?
    public var podName: String?
    public var podNamespace: String?
    public var podUID: String?

    public init(runtime: Runtime, id: String, name: String? = nil, image: String? = nil,
                podName: String? = nil, podNamespace: String? = nil, podUID: String? = nil) {
        self.runtime = runtime
        self.id = id
        self.name = name
        self.image = image
        self.podName = podName
        self.podNamespace = podNamespace
        self.podUID = podUID
    }

    /// The id as people see it: 12 hex digits for the OCI runtimes, as docker ps shows it.
    public var shortID: String {
        id.utf8.count == 64 ? String(id.prefix(12)) : id
    }
}
