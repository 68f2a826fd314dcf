import EunomiaPackages
import EunomiaSchema
import Foundation

/// Names, images and pods from the runtimes' own state on disk, read by container id. Every
/// file is root's, but its content came from whoever started the container: sizes are capped,
/// values must be printable text of at most 256 bytes, and a file that does not parse is
/// skipped, never fatal.
public struct ContainerState: Sendable {
    /// Prefixed to every absolute path read: "/host" when the host's filesystem is mounted there.
    public let root: String

    public init(root: String = "") {
        self.root = root
    }

    static let maxFile = 4 << 20

    /// `info` with whatever the runtime's state adds.
    public func enrich(_ info: ContainerInfo) -> ContainerInfo {
        guard CgroupPathMatcher.isHex64(Substring(info.id)) else { return info }
        var out = info
        let id = info.id
        if let docker = json("/var/lib/docker/containers/\(id)/config.v2.json") {
            out.runtime = out.runtime == .cri ? .docker : out.runtime
            out.name = out.name ?? (docker["Name"] as? String).map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }.flatMap(clean)
            let config = docker["Config"] as? [String: Any]
            out.image = out.image ?? (config?["Image"] as? String).flatMap(clean)
            apply(config?["Labels"] as? [String: Any] ?? [:], to: &out)
        }
        for bundle in bundles(of: id) {
            guard let config = json(bundle + "/config.json") else { continue }
            let annotations = config["annotations"] as? [String: Any] ?? [:]
            if out.runtime == .cri {
                if annotations.keys.contains(where: { $0.hasPrefix("io.kubernetes.cri.") }) { out.runtime = .containerd }
                if annotations.keys.contains(where: { $0.hasPrefix("io.kubernetes.cri-o.") }) { out.runtime = .crio }
            }
            apply(annotations, to: &out)
            break
        }
        return out
    }

    /// Where the runtimes keep a container's OCI bundle (config.json with its annotations).
    func bundles(of id: String) -> [String] {
        var dirs = [
            "/run/containers/storage/overlay-containers/\(id)/userdata",
            "/var/lib/containers/storage/overlay-containers/\(id)/userdata",
        ]
        for ns in list("/run/containerd/io.containerd.runtime.v2.task") where isSafeName(ns) {
            dirs.append("/run/containerd/io.containerd.runtime.v2.task/\(ns)/\(id)")
        }
        // runc's own state names the bundle it was started from ("bundle=PATH" among its labels).
        var states = ["/run/runc/\(id)/state.json", "/run/docker/runtime-runc/moby/\(id)/state.json"]
        for ns in list("/run/containerd/runc") where isSafeName(ns) { states.append("/run/containerd/runc/\(ns)/\(id)/state.json") }
        for state in states {
            guard let s = json(state), let labels = (s["config"] as? [String: Any])?["labels"] as? [String] else { continue }
            for label in labels where label.hasPrefix("bundle=") {
                let path = String(label.dropFirst(7))
                if path.hasPrefix("/"), path.utf8.count < 4096, !path.split(separator: "/").contains("..") { dirs.append(path) }
            }
        }
        return dirs
    }

    /// The pod and container keys containerd's CRI plugin and CRI-O write (the same ones
    /// Inspektor Gadget reads), and the kubelet's labels on docker containers.
    func apply(_ annotations: [String: Any], to info: inout ContainerInfo) {
        func value(_ keys: String...) -> String? {
            for k in keys { if let v = (annotations[k] as? String).flatMap(clean) { return v } }
            return nil
        }
        info.podName = info.podName ?? value("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name")
        info.podNamespace = info.podNamespace ?? value("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace")
        info.podUID = info.podUID ?? value("io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid")
        info.name = info.name ?? value("io.kubernetes.cri.container-name", "io.kubernetes.container.name")
        info.image = info.image ?? value("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName")
    }

    private func json(_ path: String) -> [String: Any]? {
        guard let data = try? SafeFile.read(root + path, maxBytes: Self.maxFile) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    private func list(_ dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root + dir))?.sorted() ?? []
    }

    private func isSafeName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s != "." && s != ".." && !s.contains("/")
    }

    /// Printable text of at most 256 bytes, or nothing.
    private func clean(_ s: String) -> String? {
        guard !s.isEmpty, Validate.displayTextProblem(s, maxBytes: 256) == nil else { return nil }
        return s
    }
}
