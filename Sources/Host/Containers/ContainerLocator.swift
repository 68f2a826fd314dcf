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

/// Finds a running container's cgroups by its id, a unique id prefix or its name: what the
/// in-kernel container filter admits. It walks the cgroup2 tree once (bounded), names each
/// cgroup with CgroupPathMatcher, and reads the runtimes' state only when the selector is not
/// an id (names live there).
public struct ContainerLocator {
    public struct Found: Equatable {
        public var container: ContainerInfo
        /// The container's cgroup and every cgroup below it (a container may make its own).
        public var cgroupIDs: [UInt64]
    }

    let paths: CgroupPaths
    let state: ContainerState
    /// A walk stops here: a host has thousands of cgroups, not millions.
    static let maxCgroups = 100_000
    static let maxDepth = 32
    /// Shorter prefixes match too much to be what someone meant.
    public static let minimumPrefix = 4

    public init(paths: CgroupPaths, state: ContainerState = ContainerState()) {
        self.paths = paths
        self.state = state
    }

    /// The one container `selector` names. Errors are one line: nothing matches (naming what
    /// runs), or several do.
    public func locate(_ selector: String) throws -> Found {
        let all = containers()
        let lower = selector.lowercased()
        let isHex = lower.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        var matches: [Found] = []
        if isHex && lower.utf8.count >= Self.minimumPrefix {
            matches = all.filter { $0.container.id.hasPrefix(lower) }
        }
        if matches.isEmpty {
            // nspawn and LXC containers are their names already; the OCI runtimes' names are in their state.
            matches = all.compactMap { found in
                var f = found
                f.container = state.enrich(found.container)
                return f.container.name == selector || f.container.id == selector ? f : nil
            }
        }
        guard !matches.isEmpty else {
            let running = all.prefix(8).map { "\($0.container.runtime.rawValue) \($0.container.shortID)" }
            let known = running.isEmpty ? "no container has a cgroup on this host" : "running: " + running.joined(separator: ", ") + (all.count > 8 ? ", ..." : "")
            throw EunomiaError("no running container matches \(selector.quotedForError) (an id, a unique id prefix of at least \(Self.minimumPrefix) hex digits, or a name; \(known))")
        }
        guard matches.count == 1 else {
            let ids = matches.prefix(8).map(\.container.shortID).joined(separator: ", ")
            throw EunomiaError("\(selector.quotedForError) matches \(matches.count) containers (\(ids)): give more of the id")
        }
        var found = matches[0]
        if found.container.name == nil { found.container = state.enrich(found.container) }
        return found
    }

    /// Every container that has a cgroup now, with its cgroups, in the order the walk met them.
    public func containers() -> [Found] {
        var byID: [String: Int] = [:]
        var out: [Found] = []
        walk { path, id in
            guard let info = CgroupPathMatcher.match(path) else { return }
            if let i = byID[info.id] {
                out[i].cgroupIDs.append(id)
            } else {
                byID[info.id] = out.count
                out.append(Found(container: info, cgroupIDs: [id]))
            }
        }
        return out
    }

    /// Calls `visit` with each cgroup's path below the mount ("/a/b") and its id (the
    /// directory's inode number, what bpf_get_current_cgroup_id returns).
    func walk(_ visit: (String, UInt64) -> Void) {
        var seen = 0
        var stack: [(path: String, depth: Int)] = [("", 0)]
        while let (path, depth) = stack.popLast(), seen < Self.maxCgroups {
            guard let dir = opendir(paths.mountPoint + path) else { continue }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                guard name != ".", name != ".." else { continue }
                let child = path + "/" + name
                seen += 1
                if seen > Self.maxCgroups { break }
                visit(child, UInt64(entry.pointee.d_ino))
                if depth + 1 < Self.maxDepth { stack.append((child, depth + 1)) }
            }
        }
    }
}
