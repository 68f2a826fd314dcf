import Crypto
import Foundation
import XCTest

/// The deployment artifacts, as a node runs them: the dist binary in a root filesystem with no
/// Swift toolchain, the agent's OCI image pulled back from a real registry and run under runc
/// as the DaemonSet runs it, and the manifests against the Kubernetes API schemas.
final class DeployTests: XCTestCase {
    func testDistBinaryNeedsOnlyDebianLibraries() throws {
        try DeployArtifacts.require(DeployArtifacts.dist, "dist")
        let needed = try DeployArtifacts.neededLibraries(DeployArtifacts.dist)
        XCTAssertFalse(needed.isEmpty)
        XCTAssertEqual(Set(needed).subtracting(DeployArtifacts.allowedLibraries), [], "the dist binary needs more than Debian's libraries")
        let dynamic = try TestSupport.run("/usr/bin/readelf", ["-d", DeployArtifacts.dist.path]).stdout
        XCTAssertFalse(dynamic.contains("/opt/swift") || dynamic.contains("RPATH"), "a run path into the toolchain: \(dynamic)")
        let symbols = try TestSupport.run("/usr/bin/readelf", ["-S", DeployArtifacts.dist.path]).stdout
        XCTAssertFalse(symbols.contains(".symtab"), "make dist strips the binary")
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: DeployArtifacts.dist.path)[.size] as? Int)
        print("dist binary: \(size) bytes stripped, needs \(needed.joined(separator: " "))")
    }

    /// deploy/rootfs.sh's tree (the image's rootfs: no shell, no toolchain) under chroot: the
    /// store is made there, opensnoop installed from the bundled registry and run, and an open
    /// by a process outside the chroot is seen.
    func testDistBinaryTracesInABareRootfs() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_openat"])
        try DeployArtifacts.require(DeployArtifacts.dist, "dist")
        try DeployArtifacts.require(DeployArtifacts.registry.appendingPathComponent("index.json"), "registry")
        let dir = try TestSupport.temporaryDirectory("chroot")
        let root = dir.appendingPathComponent("rootfs")
        defer {
            for sub in ["sys", "proc", "dev"] { _ = try? TestSupport.run("/bin/umount", ["-R", "-l", root.appendingPathComponent(sub).path]) }
            try? FileManager.default.removeItem(at: dir)
        }
        let made = try TestSupport.run(DeployArtifacts.rootfsScript.path, [root.path, DeployArtifacts.dist.path, DeployArtifacts.registry.path, TestSupport.buildPublicKey.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let files = try FileManager.default.subpathsOfDirectory(atPath: root.path)
        XCTAssertFalse(files.contains { $0.contains("libswift") || $0.contains("libFoundation") || $0.hasPrefix("opt") }, "Swift's runtime in the rootfs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("bin/sh").path), "the rootfs has a shell")
        for (fs, sub, options) in [("proc", "proc", ["-t", "proc"]), ("/sys", "sys", ["--rbind"]), ("/dev", "dev", ["--bind"])] {
            let r = try TestSupport.run("/bin/mount", options + [fs, root.appendingPathComponent(sub).path])
            XCTAssertEqual(r.status, 0, "mount \(sub): \(r.stderr)")
        }
        func chrooted(_ args: [String]) throws -> TestSupport.ProcessResult {
            try TestSupport.run("/usr/sbin/chroot", [root.path, "/usr/bin/eunomia"] + args)
        }
        let trust = try chrooted(["key", "trust", "/usr/share/eunomia/keys/local-build.pub"])
        XCTAssertEqual(trust.status, 0, trust.stderr)
        let install = try chrooted(["plugin", "install", "--registry", "/usr/share/eunomia/registry", "opensnoop"])
        XCTAssertEqual(install.status, 0, install.stderr)
        XCTAssertTrue(install.stdout.contains("installed opensnoop@"), install.stdout)

        let tracer = try LiveProcess(URL(fileURLWithPath: "/usr/sbin/chroot"),
                                     [root.path, "/usr/bin/eunomia", "run", "opensnoop", "-o", "json", "--duration", "60", "--log-level", "info"], environment: [:])
        XCTAssertTrue(tracer.wait(upTo: 30) { tracer.stderr.contains("attached") }, tracer.stderr)
        let probe = "/tmp/eunomia-chroot-\(UUID().uuidString)"
        _ = try TestSupport.run("/bin/cat", [probe])
        let seen = tracer.wait(upTo: 15) { TrackerHarness.records(tracer.stdout).contains { $0["path"] as? String == probe } }
        let status = tracer.interruptAndWait()
        XCTAssertTrue(seen, "the open never showed up: \(tracer.stderr)")
        XCTAssertEqual(status, 0, tracer.stderr)
        let record = try XCTUnwrap(TrackerHarness.records(tracer.stdout).first { $0["path"] as? String == probe })
        XCTAssertEqual(record["comm"] as? String, "cat")
        XCTAssertEqual(record["err"] as? Int, 2, "\(record)")
        XCTAssertTrue(tracer.stderr.contains(" 0 lost"), tracer.stderr)
    }

    /// make image's layout, pushed to a real registry with skopeo and pulled back, unpacked with
    /// umoci and run under runc as deploy/kubernetes/daemonset.yaml says (its init containers,
    /// then the agent, with the manifest's capabilities, mounts and the ConfigMap's config). A
    /// pod-like container started the way containerd starts one is traced from the agent's
    /// container, with its pod metadata, in the API stream and in /metrics; so is a host process.
    func testImageFromARegistryRunsLikeTheDaemonSet() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_openat"])
        try DeployArtifacts.require(DeployArtifacts.image.appendingPathComponent("index.json"), "image")
        try DeployArtifacts.requireTools(["/usr/sbin/runc", "/usr/bin/umoci", "/usr/bin/skopeo", "/bin/busybox"])
        let version = try DeployArtifacts.version
        let dir = try TestSupport.temporaryDirectory("image")
        defer { try? FileManager.default.removeItem(at: dir) }

        // Push and pull through a real registry: what a node's runtime would fetch.
        let registry = try TestRegistry(in: dir.appendingPathComponent("registry"))
        defer { registry.stop() }
        let remote = "docker://\(registry.authority)/eunomia/agent:\(version)"
        let push = try TestSupport.run(TestRegistry.skopeoBinary, ["copy", "--dest-tls-verify=false", "oci:\(DeployArtifacts.image.path):\(version)", remote])
        XCTAssertEqual(push.status, 0, push.stderr)
        let pulled = dir.appendingPathComponent("pulled")
        let pull = try TestSupport.run(TestRegistry.skopeoBinary, ["copy", "--src-tls-verify=false", remote, "oci:\(pulled.path):\(version)"])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        let manifest = try registry.skopeoRaw("eunomia/agent:\(version)")
        let layers = try XCTUnwrap(manifest["layers"] as? [[String: Any]])
        let imageBytes = layers.compactMap { $0["size"] as? Int }.reduce(0, +)
        print("image: \(layers.count) layer(s), \(imageBytes) bytes compressed")
        let bundle = dir.appendingPathComponent("bundle")
        let unpack = try TestSupport.run("/usr/bin/umoci", ["unpack", "--image", "\(pulled.path):\(version)", bundle.path])
        XCTAssertEqual(unpack.status, 0, unpack.stderr)
        let rootfs = bundle.appendingPathComponent("rootfs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: rootfs.appendingPathComponent("bin/sh").path), "the image has a shell")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: rootfs.appendingPathComponent("usr/bin/eunomia").path))

        // The ConfigMap's files, with the API on a free loopback port (the test shares the host's network).
        var data = try Manifests.configData()
        let (fd, port) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue))
        close(fd)
        let toml = try XCTUnwrap(data["eunomia.toml"])
        XCTAssertTrue(toml.contains("listen = \"0.0.0.0:8650\""), "the ConfigMap's listen line changed: update this test")
        data["eunomia.toml"] = toml.replacingOccurrences(of: "listen = \"0.0.0.0:8650\"", with: "listen = \"127.0.0.1:\(port)\"")
        let token = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max)) }.joined()
        let spec = try Manifests.podSpec()
        XCTAssertEqual(spec["hostPID"] as? Bool, true)
        let pod = try RuncPod(bundle: bundle, dir: dir, spec: spec, configData: data, secrets: ["eunomia-api-token": ["token": token]])
        defer { pod.stop() }

        // containerd's state directories exist on a node before the agent's pod mounts them.
        let workload = try ContainerdWorkload(dir: dir)
        defer { workload.remove() }

        for container in spec["initContainers"] as? [[String: Any]] ?? [] {
            let r = try pod.run(container, detached: false)
            XCTAssertEqual(r.status, 0, "init container \(container["name"] ?? ""): \(r.stdout) \(r.stderr)")
        }
        let agent = try XCTUnwrap((spec["containers"] as? [[String: Any]])?.first)
        let started = try pod.run(agent, detached: true)
        XCTAssertEqual(started.status, 0, started.stderr)
        let up = TestSupport.waitFor(60) { pod.log("agent").contains("listening on http://") }
        XCTAssertTrue(up, "the agent never came up: \(pod.log("agent"))")
        guard up else { return }
        print("hostPath volumes this host lacks (left out): \(pod.skippedHostPaths)")

        // The capabilities in force are the manifest's, no more.
        let wanted = Set(((agent["securityContext"] as? [String: Any])?["capabilities"] as? [String: Any])?["add"] as? [String] ?? [])
        let agentPID = try pod.pid("agent")
        XCTAssertEqual(try ProcessCapabilities.effective(pid: agentPID), wanted)

        // A pod's container started after the agent: its cgroup is resolved from its first
        // record (open_by_handle_at, CAP_DAC_READ_SEARCH), its metadata from containerd's state.
        try workload.start()
        let run = try XCTUnwrap(pod.volumePath("run"))
        let api = HTTPTarget(address: .unix(run.appendingPathComponent("eunomia.sock").path))
        let stream = try StreamReader(api, "/api/v1/trackers/opensnoop/events?format=ndjson")
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.reply?.status == 200 }, "no stream: \(stream.body.prefix(300))")
        let hostProbe = "/tmp/eunomia-deploy-host-\(UUID().uuidString)"
        _ = try TestSupport.run("/bin/cat", [hostProbe])
        workload.go()
        XCTAssertTrue(stream.wait(upTo: 20) { $0.contains(hostProbe) && $0.contains(workload.probe) },
                      "opens never came: \(stream.body.suffix(800))\nagent: \(pod.log("agent").suffix(800))")
        let records = stream.body.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let host = try XCTUnwrap(records.first { $0["path"] as? String == hostProbe })
        XCTAssertEqual(host["comm"] as? String, "cat")
        XCTAssertNil(host["container"], "a host process has no container: \(host)")
        let own = try XCTUnwrap(records.first { $0["path"] as? String == workload.probe })
        let container = try XCTUnwrap(own["container"] as? [String: Any], "no container metadata: \(own)")
        XCTAssertEqual(container["runtime"] as? String, "containerd", "\(container)")
        XCTAssertEqual(container["id"] as? String, String(workload.id.prefix(12)))
        XCTAssertEqual(container["name"] as? String, "nginx")
        XCTAssertEqual(container["pod"] as? String, "web-0")
        XCTAssertEqual(container["pod_namespace"] as? String, "shop")
        XCTAssertEqual(container["image"] as? String, "docker.io/library/nginx:1.27")
        stream.disconnect()

        // /metrics over TCP with the Secret's token, as the ServiceMonitor scrapes it.
        let metrics = try HTTPTarget(address: .tcp(port), token: token).request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200, metrics.text)
        let line = metrics.text.split(separator: "\n").first { $0.hasPrefix("eunomia_plugin_events_total{") && $0.contains("comm=\"cat\"") && $0.contains("container=\"nginx\"") }
        XCTAssertNotNil(line, "no per-container series: \(metrics.text.split(separator: "\n").filter { $0.contains("plugin_events") }.prefix(20))")
        let anonymous = try HTTPTarget(address: .tcp(port), token: nil).request("GET", "/metrics")
        XCTAssertEqual(anonymous.status, 401, "the TCP listener answered without the token")
        pod.stop()
        XCTAssertTrue(pod.log("agent").contains("opensnoop"), pod.log("agent"))
    }

    /// Every manifest against the Kubernetes API's schemas (kubernetes-validate, offline,
    /// strict: unknown fields fail); the ServiceMonitor (a CRD, no schema there) against the
    /// Service it must select; the checksum annotations against the ConfigMap they hash.
    func testKubernetesManifestsValidate() throws {
        let probe = try TestSupport.run("/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--version"])
        guard probe.status == 0 else { throw TestSupport.TestFailure("kubernetes-validate is missing (make install-test-deps installs it from PyPI): \(probe.stderr)") }
        let files = try FileManager.default.contentsOfDirectory(atPath: DeployArtifacts.kubernetes.path).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { DeployArtifacts.kubernetes.appendingPathComponent($0).path }
        let r = try TestSupport.run("/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--kubernetes-version", Self.kubernetesVersion, "--strict"] + files)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        for kind in ["configmap", "daemonset", "namespace", "service", "serviceaccount"] {
            XCTAssertTrue(r.stdout.contains("passed for resource \(kind)/"), "\(kind) was not validated: \(r.stdout)")
        }

        let service = try Manifests.object(kind: "Service")
        let monitor = try Manifests.object(kind: "ServiceMonitor")
        let serviceLabels = (service["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        let selector = ((monitor["spec"] as? [String: Any])?["selector"] as? [String: Any])?["matchLabels"] as? [String: String] ?? [:]
        XCTAssertFalse(selector.isEmpty)
        XCTAssertTrue(selector.allSatisfy { serviceLabels[$0.key] == $0.value }, "the ServiceMonitor selects \(selector), the Service has \(serviceLabels)")
        let ports = ((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let endpoints = (monitor["spec"] as? [String: Any])?["endpoints"] as? [[String: Any]] ?? []
        XCTAssertFalse(endpoints.isEmpty)
        for e in endpoints {
            XCTAssertTrue(ports.contains(e["port"] as? String ?? ""), "endpoint port \(e["port"] ?? "") is none of the Service's \(ports)")
            XCTAssertEqual(e["path"] as? String, "/metrics")
        }
        let podLabels = ((((try Manifests.object(kind: "DaemonSet"))["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        let serviceSelector = (service["spec"] as? [String: Any])?["selector"] as? [String: String] ?? [:]
        XCTAssertTrue(serviceSelector.allSatisfy { podLabels[$0.key] == $0.value }, "the Service selects no agent pod")

        // checksum/<key> is the SHA-256 of that ConfigMap key: a changed config rolls the pods.
        let annotations = (((try Manifests.object(kind: "DaemonSet"))["spec"] as? [String: Any])?["template"] as? [String: Any])
            .flatMap { ($0["metadata"] as? [String: Any])?["annotations"] as? [String: String] } ?? [:]
        let data = try Manifests.configData()
        XCTAssertNotNil(annotations["checksum/config"])
        for (key, name) in [("eunomia.toml", "checksum/config"), ("rules.yaml", "checksum/rules")] {
            guard let text = data[key] else { continue }
            let digest = SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
            XCTAssertEqual(annotations[name], digest, "\(name) is stale: `make k8s-checksums` rewrites it")
        }
        let strategy = ((try Manifests.object(kind: "DaemonSet"))["spec"] as? [String: Any])?["updateStrategy"] as? [String: Any]
        XCTAssertEqual((strategy?["rollingUpdate"] as? [String: Any])?["maxUnavailable"] as? Int, 1)
    }

    /// make deb's package: lintian finds no error; it installs with dpkg (Depends met by
    /// Debian's libbpf1, libelf1, zlib1g, libjansson4), enables the unit, and the service runs
    /// as its unit says (this machine's PID 1 is not systemd: the test makes the unit's
    /// directories and runs its ExecStart itself, then stops it with its KillSignal); a tracker
    /// from the bundled registry runs in it; purge leaves none of its files, links or state.
    func testDebianPackageInstallsRunsAndPurges() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_openat"])
        let deb = try DeployArtifacts.deb
        try DeployArtifacts.requireTools(["/usr/bin/lintian", "/usr/bin/dpkg", "/usr/bin/dpkg-deb"])
        let lintian = try TestSupport.run("/usr/bin/lintian", ["--fail-on", "error", "--info", deb.path])
        XCTAssertEqual(lintian.status, 0, lintian.stdout + lintian.stderr)
        XCTAssertFalse(lintian.stdout.split(separator: "\n").contains { $0.hasPrefix("E:") }, lintian.stdout)
        let depends = try TestSupport.run("/usr/bin/dpkg-deb", ["-f", deb.path, "Depends"]).stdout
        for package in ["libbpf1", "libelf1", "zlib1g", "libjansson4"] {
            XCTAssertTrue(depends.contains(package), "Depends lacks \(package): \(depends)")
        }
        let installedBefore = try TestSupport.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "eunomia"]).stdout
        guard !installedBefore.contains("installed") || installedBefore.contains("not-installed") else {
            throw TestSupport.TestFailure("a package named eunomia is installed here already: dpkg --purge eunomia first")
        }
        // The store purge removes: a developer's is put aside and back.
        let store = "/var/lib/eunomia"
        let aside = "/var/lib/eunomia.deploytests-\(UUID().uuidString.prefix(8))"
        let hadStore = FileManager.default.fileExists(atPath: store)
        if hadStore { try FileManager.default.moveItem(atPath: store, toPath: aside) }
        defer {
            _ = try? TestSupport.run("/usr/bin/dpkg", ["--purge", "eunomia"])
            if hadStore { try? FileManager.default.removeItem(atPath: store); try? FileManager.default.moveItem(atPath: aside, toPath: store) }
        }

        let install = try TestSupport.run("/usr/bin/dpkg", ["-i", deb.path])
        XCTAssertEqual(install.status, 0, install.stdout + install.stderr)
        let listed = try TestSupport.run("/usr/bin/dpkg", ["-L", "eunomia"]).stdout.split(separator: "\n").map(String.init)
        for path in ["/usr/bin/eunomia", "/lib/systemd/system/eunomia.service", "/usr/share/man/man1/eunomia.1.gz",
                     "/usr/share/bash-completion/completions/eunomia", "/usr/share/zsh/vendor-completions/_eunomia",
                     "/usr/share/fish/vendor_completions.d/eunomia.fish", "/usr/share/eunomia/registry/index.json",
                     "/usr/share/eunomia/keys/local-build.pub", "/usr/share/eunomia/rules/default.yaml", "/usr/share/doc/eunomia/copyright"] {
            XCTAssertTrue(listed.contains(path), "the package lacks \(path)")
        }
        let version = try TestSupport.run("/usr/bin/eunomia", ["--version"])
        XCTAssertEqual(version.stdout.split(separator: " ").first.map(String.init), try DeployArtifacts.version)
        let wants = "/etc/systemd/system/multi-user.target.wants/eunomia.service"
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/deb-systemd-helper") {
            XCTAssertTrue(FileManager.default.fileExists(atPath: wants) || (try? FileManager.default.destinationOfSymbolicLink(atPath: wants)) != nil,
                          "postinst did not enable the unit")
        }

        // The unit, as systemd would run it.
        let unit = try String(contentsOfFile: "/lib/systemd/system/eunomia.service", encoding: .utf8)
        func value(_ key: String) -> String? {
            unit.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        let exec = try XCTUnwrap(value("ExecStart")).split(separator: " ").map(String.init)
        XCTAssertEqual(exec.first, "/usr/bin/eunomia")
        for (key, base) in [("RuntimeDirectory", "/run"), ("StateDirectory", "/var/lib"), ("LogsDirectory", "/var/log")] {
            let dir = try XCTUnwrap(value(key), "the unit has no \(key)")
            try FileManager.default.createDirectory(atPath: "\(base)/\(dir)", withIntermediateDirectories: true)
        }
        XCTAssertEqual(value("KillSignal"), "SIGTERM")
        let trust = try TestSupport.run("/usr/bin/eunomia", ["key", "trust", "/usr/share/eunomia/keys/local-build.pub"])
        XCTAssertEqual(trust.status, 0, trust.stderr)
        let plugin = try TestSupport.run("/usr/bin/eunomia", ["plugin", "install", "--registry", "/usr/share/eunomia/registry", "opensnoop"])
        XCTAssertEqual(plugin.status, 0, plugin.stderr)
        let service = try LiveProcess(URL(fileURLWithPath: exec[0]), Array(exec.dropFirst()), environment: [:])
        defer { if service.process.isRunning { kill(service.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(service.wait(upTo: 30) { service.stderr.contains("listening on unix:/run/eunomia/eunomia.sock") }, service.stderr)
        let start = try TestSupport.run("/usr/bin/eunomia", ["tracker", "start", "opensnoop", "--id", "opens"])
        XCTAssertEqual(start.status, 0, start.stderr)
        let list = try TestSupport.run("/usr/bin/eunomia", ["tracker", "list"])
        XCTAssertTrue(list.stdout.contains("opens"), list.stdout + list.stderr)
        kill(service.process.processIdentifier, SIGTERM)
        XCTAssertEqual(service.interruptAndWait(), 0, service.stderr)

        // Its files (not the directories it shares with other packages, /usr/bin and the like).
        let files = listed.filter { var isDir: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && !isDir.boolValue }
        XCTAssertGreaterThan(files.count, 30)
        let purge = try TestSupport.run("/usr/bin/dpkg", ["--purge", "eunomia"])
        XCTAssertEqual(purge.status, 0, purge.stdout + purge.stderr)
        for path in files {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(path) is left after purge")
        }
        for path in [store, "/var/log/eunomia", "/run/eunomia", "/usr/share/eunomia", "/usr/share/doc/eunomia"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(path) is left after purge")
        }
        XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: wants), "the unit's enablement link is left after purge")
        let status = try TestSupport.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "eunomia"]).stdout
        XCTAssertFalse(status.contains(" installed"), status)
    }

    /// kubernetes-validate's newest schemas (its version is pinned in the Makefile).
    static let kubernetesVersion = "1.37.0"
}

/// A container as containerd's CRI plugin leaves one on a node: its OCI bundle (config.json with
/// the CRI annotations) in /run/containerd/io.containerd.runtime.v2.task/k8s.io/ID, runc's state
/// under /run/containerd/runc/k8s.io, a kubelet cgroup (/kubepods/besteffort/pod<uid>/ID). It
/// waits for /go in its rootfs, opens `probe` and exits. Only what it creates is removed.
final class ContainerdWorkload {
    let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max)) }.joined()
    let probe = "/eunomia-deploy-pod-\(UUID().uuidString)"
    static let tasks = "/run/containerd/io.containerd.runtime.v2.task/k8s.io"
    static let runcRoot = "/run/containerd/runc/k8s.io"
    var bundle: URL { URL(fileURLWithPath: "\(Self.tasks)/\(id)") }
    let podUID = UUID().uuidString.lowercased()
    private var created: [String] = []

    init(dir: URL) throws {
        for path in ["/run/containerd", "/run/containerd/io.containerd.runtime.v2.task", Self.tasks, "/run/containerd/runc", Self.runcRoot]
        where !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            created.append(path)
        }
    }

    func start() throws {
        try BusyboxBundle.write(bundle, probe: probe, cgroupsPath: "/kubepods/besteffort/pod\(podUID)/\(id)", annotations: [
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "nginx",
            "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27",
            "io.kubernetes.cri.sandbox-name": "web-0",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": podUID,
        ])
        let r = try TestSupport.run("/bin/sh", ["-c", "exec /usr/sbin/runc --root \(Self.runcRoot) run --detach --bundle \(bundle.path) \(id) </dev/null >/dev/null 2>&1"])
        XCTAssertEqual(r.status, 0, "runc run: \(r.stderr)")
    }

    func go() { FileManager.default.createFile(atPath: bundle.appendingPathComponent("rootfs/go").path, contents: nil) }

    func remove() {
        _ = try? TestSupport.run("/usr/sbin/runc", ["--root", Self.runcRoot, "delete", "--force", id])
        try? FileManager.default.removeItem(at: bundle)
        for path in created.reversed() { try? FileManager.default.removeItem(atPath: path) }
        CgroupLeftovers.remove(["kubepods/besteffort/pod\(podUID)", "kubepods/besteffort", "kubepods"])
    }
}

/// The parent cgroups runc made for a test's containers and leaves behind when it deletes
/// them: removed where empty, in every hierarchy (rmdir fails on one in use, which stays).
enum CgroupLeftovers {
    static func remove(_ relativePaths: [String]) {
        let roots = ["/sys/fs/cgroup"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)" }
        for root in roots {
            for path in relativePaths { rmdir("\(root)/\(path)") }
        }
    }
}

/// A process's effective capabilities by name, from /proc/PID/status.
enum ProcessCapabilities {
    static let names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
        "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
        "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]

    static func effective(pid: Int32) throws -> Set<String> {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else {
            throw TestSupport.TestFailure("no CapEff for pid \(pid)")
        }
        return Set(names.indices.filter { mask >> UInt64($0) & 1 == 1 }.map { names[$0] })
    }
}
