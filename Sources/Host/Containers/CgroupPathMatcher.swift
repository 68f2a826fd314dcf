import Foundation

/// Which container, if any, a cgroup path belongs to, by the names the runtimes give their
/// cgroups (the patterns Falco's container plugin matches):
///
///   docker       /system.slice/docker-<id>.scope, cgroup v1 /docker/<id>
///   containerd   /…/cri-containerd-<id>.scope, …slice:cri-containerd:<id>
///   CRI-O        /…/crio-<id>.scope, /…/crio-<id>
///   podman       /machine.slice/libpod-<id>.scope, …/libpod-<id>.scope/container
///   kubelet      /kubepods/<qos>/pod<uid>/<id> (cgroupfs driver: containerd or CRI-O)
///   nspawn       /machine.slice/systemd-nspawn@<name>.service, machine-<name>.scope
///   LXC          /lxc/<name>, /lxc.payload.<name>
///
/// The deepest component that names a container wins, so a container nested in a pod slice
/// is that container, not the pod.
public enum CgroupPathMatcher {
    public static func match(_ path: String) -> ContainerInfo? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count <= 64 else { return nil }
        let podUID = parts.lazy.compactMap(podUID).last
        for i in parts.indices.reversed() {
            let part = parts[i]
            let parent = i > parts.startIndex ? parts[i - 1] : nil
            if var info = component(part, parent: parent, isKubepods: parts.first.map { $0.hasPrefix("kubepods") } ?? false) {
                if info.podUID == nil { info.podUID = podUID }
                return info
            }
        }
        return nil
    }

    private static func component(_ part: Substring, parent: Substring?, isKubepods: Bool) -> ContainerInfo? {
        func hexID(_ s: Substring) -> String? { isHex64(s) ? String(s) : nil }
        if let id = between(part, "docker-", ".scope").flatMap(hexID) { return ContainerInfo(runtime: .docker, id: id) }
        if let id = between(part, "cri-containerd-", ".scope").flatMap(hexID) { return ContainerInfo(runtime: .containerd, id: id) }
        if let r = part.range(of: ":cri-containerd:"), let id = hexID(part[r.upperBound...]) {
            return ContainerInfo(runtime: .containerd, id: id)
        }
        if let id = between(part, "crio-", ".scope").flatMap(hexID) { return ContainerInfo(runtime: .crio, id: id) }
        if part.hasPrefix("crio-"), let id = hexID(part.dropFirst(5)) { return ContainerInfo(runtime: .crio, id: id) }
        if let r = part.range(of: ":crio:"), let id = hexID(part[r.upperBound...]) { return ContainerInfo(runtime: .crio, id: id) }
        if let id = between(part, "libpod-", ".scope").flatMap(hexID) { return ContainerInfo(runtime: .podman, id: id) }
        if let name = between(part, "systemd-nspawn@", ".service"), isName(name) { return ContainerInfo(runtime: .nspawn, id: String(name)) }
        if let name = between(part, "machine-", ".scope"), isName(name), !name.hasPrefix("libpod-") {
            return ContainerInfo(runtime: .nspawn, id: String(name))
        }
        if part.hasPrefix("lxc.payload."), isName(part.dropFirst(12)) { return ContainerInfo(runtime: .lxc, id: String(part.dropFirst(12))) }
        if let parent, let id = hexID(part) {
            if parent == "docker" { return ContainerInfo(runtime: .docker, id: id) }
            if isKubepods, podUID(parent) != nil { return ContainerInfo(runtime: .cri, id: id) }
        }
        if parent == "lxc", isName(part) { return ContainerInfo(runtime: .lxc, id: String(part)) }
        return nil
    }

    /// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd).
    static func podUID(_ part: Substring) -> String? {
        var s = part
        if s.hasSuffix(".slice") {
            s = s.dropLast(6)
            guard let r = s.range(of: "-pod", options: .backwards) else { return nil }
            s = s[r.upperBound...]
        } else {
            guard s.hasPrefix("pod") else { return nil }
            s = s.dropFirst(3)
        }
        let uid = String(s.map { $0 == "_" ? "-" : $0 })
        guard uid.utf8.count == 36, uid.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: "-") }) else { return nil }
        return uid
    }

    private static func between(_ s: Substring, _ prefix: String, _ suffix: String) -> Substring? {
        guard s.hasPrefix(prefix), s.hasSuffix(suffix), s.utf8.count > prefix.utf8.count + suffix.utf8.count else { return nil }
        return s.dropFirst(prefix.count).dropLast(suffix.count)
    }

    static func isHex64(_ s: Substring) -> Bool { s.utf8.count == 64 && s.utf8.allSatisfy(isHexDigit) }

    private static func isHexDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x66).contains(c) }

    /// Machine and container names: 1-64 of [A-Za-z0-9_.-], not starting with '.' (systemd escapes the rest).
    private static func isName(_ s: Substring) -> Bool {
        !s.isEmpty && s.first != "." && s.utf8.count <= 64 && s.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D
        }
    }
}
