import CHostSupport
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// cgroup v2 ids (what BPF records carry) to cgroup paths, through the cgroup2 mount: on a
/// unified host /sys/fs/cgroup, on a hybrid one /sys/fs/cgroup/unified.
public final class CgroupPaths {
    public let mountPoint: String
    private let mountFD: Int32

    /// The cgroup2 mount from /proc/self/mountinfo, or `mountPoint` when given (a host's
    /// cgroupfs mounted into the agent's container). Nil when there is none.
    public init?(mountPoint given: String? = nil) {
        guard let point = given ?? CgroupPaths.cgroup2Mount() else { return nil }
        let fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        mountPoint = point
        mountFD = fd
    }

    deinit { close(mountFD) }

    /// The path of cgroup `id` ("/" for the root), or nil when there is no such cgroup (gone
    /// already, or never was).
    public func path(of id: UInt64) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard eh_cgroup_path(mountFD, id, mountPoint, &buffer, buffer.count) == 0 else { return nil }
        return String(cString: buffer)
    }

    /// The id of the cgroup at `path` below the mount (its directory's inode number).
    public func id(of path: String) -> UInt64? {
        var st = stat()
        guard stat(mountPoint + (path.hasPrefix("/") ? path : "/" + path), &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return nil }
        return UInt64(st.st_ino)
    }

    /// The first cgroup2 mount point in /proc/self/mountinfo.
    static func cgroup2Mount() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2", fields.count > 4 else { continue }
            return unescape(fields[4])
        }
        return nil
    }

    /// mountinfo writes space, tab, newline and backslash as \\ooo.
    private static func unescape(_ s: Substring) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let c = bytes.popFirst() {
            if c == UInt8(ascii: "\\"), bytes.count >= 3, let v = UInt8(String(decoding: bytes.prefix(3), as: UTF8.self), radix: 8) {
                out.append(v)
                bytes = bytes.dropFirst(3)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
