import Foundation
import XCTest
import Yams

/// What `make dist`, `make image` and `make deb` built (make test builds them first: these tests
/// only read them, never build, since swift test holds the build lock).
enum DeployArtifacts {
    static let build = TestSupport.repoRoot.appendingPathComponent("build")
    static let dist = build.appendingPathComponent("dist/eunomia")
    static let image = build.appendingPathComponent("image")
    static let registry = build.appendingPathComponent("registry")
    static let kubernetes = TestSupport.repoRoot.appendingPathComponent("deploy/kubernetes")
    static let rootfsScript = TestSupport.repoRoot.appendingPathComponent("deploy/rootfs.sh")

    /// The libraries a node must have (Makefile's DIST_LIBS): Debian's, none of Swift's.
    static let allowedLibraries: Set<String> = [
        "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libbpf.so.1", "libelf.so.1", "libz.so.1", "ld-linux-x86-64.so.2",
    ]

    static var version: String {
        get throws {
            let r = try TestSupport.run(dist.path, ["--version"])
            guard r.status == 0, let v = r.stdout.split(separator: " ").first else { throw TestSupport.TestFailure("eunomia --version: \(r.stderr)") }
            return String(v)
        }
    }

    static var deb: URL {
        get throws {
            let dir = build.appendingPathComponent("deb")
            let debs = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".deb") } ?? []
            guard debs.count == 1 else { throw TestSupport.TestFailure("expected one .deb in \(dir.path), found \(debs)") }
            return dir.appendingPathComponent(debs[0])
        }
    }

    /// `file` must exist: CI builds it (make test), and a missing artifact there is a failure.
    static func require(_ file: URL, _ target: String) throws {
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw TestSupport.TestFailure("\(file.path) is missing: run `make \(target)` (make test does)")
        }
    }

    /// The deploy tests need the tools make install-test-deps installs.
    static func requireTools(_ tools: [String]) throws {
        let missing = tools.filter { !FileManager.default.isExecutableFile(atPath: $0) }
        guard missing.isEmpty else { throw TestSupport.TestFailure("missing \(missing.joined(separator: ", ")) (make install-test-deps installs them)") }
    }

    static func neededLibraries(_ binary: URL) throws -> [String] {
        let r = try TestSupport.run("/usr/bin/readelf", ["-d", binary.path])
        guard r.status == 0 else { throw TestSupport.TestFailure("readelf: \(r.stderr)") }
        return r.stdout.split(separator: "\n").compactMap { line in
            guard line.contains("(NEEDED)"), let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }
}

/// An OCI bundle of busybox-static (runc spec's defaults): its process waits for /go to appear
/// in its rootfs, opens `probe` and exits, in cgroup `cgroupsPath`, with `annotations`.
enum BusyboxBundle {
    static func write(_ bundle: URL, probe: String, cgroupsPath: String, annotations: [String: String]) throws {
        let bin = bundle.appendingPathComponent("rootfs/bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bin.appendingPathComponent("busybox").path)
        for applet in ["sh", "cat", "sleep", "test"] {
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(applet).path, withDestinationPath: "busybox")
        }
        let spec = try TestSupport.run("/usr/sbin/runc", ["spec", "--bundle", bundle.path])
        guard spec.status == 0 else { throw TestSupport.TestFailure("runc spec: \(spec.stderr)") }
        let configURL = bundle.appendingPathComponent("config.json")
        guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any],
              var process = config["process"] as? [String: Any], var linux = config["linux"] as? [String: Any] else {
            throw TestSupport.TestFailure("runc spec wrote no process or linux section")
        }
        process["args"] = ["/bin/sh", "-c", "while ! test -e /go; do sleep 0.05; done; cat \(probe); exit 0"]
        process["terminal"] = false
        config["process"] = process
        linux["cgroupsPath"] = cgroupsPath
        config["linux"] = linux
        config["annotations"] = annotations
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
    }
}

extension TestSupport {
    /// Polls `condition` every 50 ms until it holds or `seconds` pass.
    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }
}

/// The Kubernetes manifests under deploy/kubernetes, parsed.
enum Manifests {
    static func documents() throws -> [(file: String, object: [String: Any])] {
        let files = try FileManager.default.contentsOfDirectory(atPath: DeployArtifacts.kubernetes.path).filter { $0.hasSuffix(".yaml") }.sorted()
        var out: [(String, [String: Any])] = []
        for file in files {
            let text = try String(contentsOf: DeployArtifacts.kubernetes.appendingPathComponent(file), encoding: .utf8)
            for doc in try Yams.load_all(yaml: text) {
                if let object = doc as? [String: Any] { out.append((file, object)) }
            }
        }
        return out
    }

    static func object(kind: String) throws -> [String: Any] {
        guard let o = try documents().first(where: { $0.object["kind"] as? String == kind })?.object else {
            throw TestSupport.TestFailure("no \(kind) in deploy/kubernetes")
        }
        return o
    }

    static func configData() throws -> [String: String] {
        let cm = try object(kind: "ConfigMap")
        guard let data = cm["data"] as? [String: String] else { throw TestSupport.TestFailure("the ConfigMap has no data") }
        return data
    }

    static func podSpec() throws -> [String: Any] {
        let ds = try object(kind: "DaemonSet")
        guard let spec = ((ds["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any] else {
            throw TestSupport.TestFailure("the DaemonSet has no pod template")
        }
        return spec
    }
}

/// One DaemonSet pod, run on this machine with runc from the agent's image the way kubelet and
/// containerd would run it: the pod spec's init containers in order, then the agent, each with
/// the spec's command, env, capabilities (drop ALL, add the list), read-only root, host pid
/// namespace, and its volumes: hostPath as recursive binds of this host's paths, configMap and
/// secret items as files, emptyDirs as directories, all kept in `dir`. The network is the
/// host's (the test reaches the API on loopback); everything else is the spec's.
final class RuncPod {
    let bundle: URL
    let dir: URL
    let spec: [String: Any]
    private(set) var emptyDirs: [String: URL] = [:]
    private var started: [String] = []
    let idPrefix = "eunomia-pod-\(UUID().uuidString.prefix(8).lowercased())"
    /// hostPath volumes this host does not have: kubelet would create them empty (type ""), the
    /// test leaves them out rather than create runtime state directories on the host.
    private(set) var skippedHostPaths: [String] = []

    init(bundle: URL, dir: URL, spec: [String: Any], configData: [String: String], secrets: [String: [String: String]]) throws {
        self.bundle = bundle
        self.dir = dir
        self.spec = spec
        for volume in spec["volumes"] as? [[String: Any]] ?? [] {
            guard let name = volume["name"] as? String else { continue }
            let place = dir.appendingPathComponent("volumes/\(name)")
            if volume["emptyDir"] != nil {
                try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true)
                emptyDirs[name] = place
            } else if volume["configMap"] != nil || volume["secret"] != nil {
                try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true)
                let secretName = (volume["secret"] as? [String: Any])?["secretName"] as? String
                let items = secretName.map { secrets[$0] ?? [:] } ?? configData
                let mode = ((volume["configMap"] ?? volume["secret"]) as? [String: Any])?["defaultMode"] as? Int ?? 0o644
                for (key, value) in items {
                    let file = place.appendingPathComponent(key)
                    try Data(value.utf8).write(to: file)
                    chmod(file.path, mode_t(mode))
                }
            }
        }
    }

    func volumePath(_ name: String) -> URL? { emptyDirs[name] }

    /// The OCI mounts for a container's volumeMounts.
    func mounts(_ container: [String: Any]) -> [[String: Any]] {
        let volumes = Dictionary((spec["volumes"] as? [[String: Any]] ?? []).compactMap { v in (v["name"] as? String).map { ($0, v) } }) { a, _ in a }
        var out: [[String: Any]] = [
            ["destination": "/proc", "type": "proc", "source": "proc"],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
            ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]],
        ]
        for mount in container["volumeMounts"] as? [[String: Any]] ?? [] {
            guard let name = mount["name"] as? String, let path = mount["mountPath"] as? String, let volume = volumes[name] else { continue }
            let readOnly = mount["readOnly"] as? Bool ?? false
            var source: String
            if let host = (volume["hostPath"] as? [String: Any])?["path"] as? String {
                guard FileManager.default.fileExists(atPath: host) else { skippedHostPaths.append(host); continue }
                source = host
            } else {
                source = dir.appendingPathComponent("volumes/\(name)").path
            }
            if let sub = mount["subPath"] as? String { source += "/" + sub }
            out.append(["destination": path, "type": "bind", "source": source, "options": ["rbind"] + (readOnly ? ["ro"] : ["rw"])])
        }
        return out
    }

    /// Writes the bundle's config.json for `container` and runs it: to its end for an init
    /// container (its output and status), detached with its output in a log for the agent.
    @discardableResult
    func run(_ container: [String: Any], detached: Bool) throws -> TestSupport.ProcessResult {
        let configURL = bundle.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        var process = try XCTUnwrap(config["process"] as? [String: Any])
        let command = (container["command"] as? [String] ?? []) + (container["args"] as? [String] ?? [])
        process["args"] = command
        process["terminal"] = false
        var env = ["PATH=/usr/bin"]
        for e in container["env"] as? [[String: Any]] ?? [] {
            if let n = e["name"] as? String, let v = e["value"] as? String { env.append("\(n)=\(v)") }
        }
        process["env"] = env
        let security = container["securityContext"] as? [String: Any] ?? [:]
        let caps = ((security["capabilities"] as? [String: Any])?["add"] as? [String] ?? []).map { "CAP_" + $0 }
        process["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
        process["noNewPrivileges"] = !(security["allowPrivilegeEscalation"] as? Bool ?? true)
        config["process"] = process
        config["root"] = ["path": "rootfs", "readonly": security["readOnlyRootFilesystem"] as? Bool ?? false]
        var linux = try XCTUnwrap(config["linux"] as? [String: Any])
        var namespaces: [[String: String]] = [["type": "mount"], ["type": "ipc"], ["type": "uts"], ["type": "cgroup"]]
        if !(spec["hostPID"] as? Bool ?? false) { namespaces.append(["type": "pid"]) }
        linux["namespaces"] = namespaces
        let name = container["name"] as? String ?? "c"
        let id = "\(idPrefix)-\(name)"
        linux["cgroupsPath"] = "/eunomia-test-pods/\(id)"
        config["linux"] = linux
        config["mounts"] = mounts(container)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)

        started.append(id)
        if detached {
            let log = dir.appendingPathComponent("\(name).log").path
            return try TestSupport.run("/bin/sh", ["-c", "exec /usr/sbin/runc run --detach --bundle \(bundle.path) \(id) </dev/null >>\(log) 2>&1"])
        }
        let r = try TestSupport.run("/usr/sbin/runc", ["run", "--bundle", bundle.path, id])
        _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id])
        return r
    }

    /// The pid (in this host's pid namespace) of a running container's process.
    func pid(_ container: String) throws -> Int32 {
        let r = try TestSupport.run("/usr/sbin/runc", ["state", "\(idPrefix)-\(container)"])
        guard r.status == 0, let state = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let pid = state["pid"] as? Int, pid > 0 else { throw TestSupport.TestFailure("runc state \(container): \(r.stderr)") }
        return Int32(pid)
    }

    func log(_ container: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent("\(container).log"), encoding: .utf8)) ?? ""
    }

    /// SIGTERM to each container still running, as kubelet does, then delete.
    func stop() {
        for id in started.reversed() {
            _ = try? TestSupport.run("/usr/sbin/runc", ["kill", id, "TERM"])
            for _ in 0..<50 {
                let state = (try? TestSupport.run("/usr/sbin/runc", ["state", id]))?.stdout ?? ""
                if !state.contains("\"running\"") { break }
                usleep(100_000)
            }
            _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id])
        }
        started = []
        CgroupLeftovers.remove(["eunomia-test-pods"])
    }

    deinit { stop() }
}
