import Foundation
import XCTest
@testable import EunomiaContainers

/// cgroup paths to containers (the runtimes' naming, as Falco's container plugin matches it),
/// cgroup ids to paths on the real cgroup2 mount, and metadata from runtime state files.
final class ContainerResolutionTests: XCTestCase {
    let id = String(repeating: "0123456789abcdef", count: 4)

    func testRuntimeCgroupNames() {
        let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        let cases: [(String, ContainerInfo.Runtime, String)] = [
            ("/system.slice/docker-\(id).scope", .docker, id),
            ("/docker/\(id)", .docker, id),
            ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(id).scope", .containerd, id),
            ("/kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice:cri-containerd:\(id)", .containerd, id),
            ("/kubepods.slice/kubepods-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/crio-\(id).scope", .crio, id),
            ("/kubepods/burstable/pod\(uid)/crio-\(id)", .crio, id),
            ("/machine.slice/libpod-\(id).scope", .podman, id),
            ("/machine.slice/libpod-\(id).scope/container", .podman, id),
            ("/kubepods/burstable/pod\(uid)/\(id)", .cri, id),
            ("/machine.slice/systemd-nspawn@web1.service", .nspawn, "web1"),
            ("/machine.slice/machine-web1.scope", .nspawn, "web1"),
            ("/lxc/box", .lxc, "box"),
            ("/lxc.payload.box", .lxc, "box"),
        ]
        for (path, runtime, expected) in cases {
            let info = CgroupPathMatcher.match(path)
            XCTAssertEqual(info?.runtime, runtime, path)
            XCTAssertEqual(info?.id, expected, path)
        }
        XCTAssertEqual(CgroupPathMatcher.match(cases[2].0)?.podUID, uid)
        XCTAssertEqual(CgroupPathMatcher.match(cases[8].0)?.podUID, uid)
        XCTAssertEqual(CgroupPathMatcher.match(cases[0].0)?.shortID, "0123456789ab")
        for path in ["/", "/user.slice/user-0.slice/session-1.scope", "/system.slice/docker.service",
                     "/system.slice/docker-\(id.prefix(63)).scope", "/system.slice/docker-\(id.uppercased()).scope",
                     "/\(id)", "/docker/\(id)x", "/lxc/../x", "/machine.slice/machine-a b.scope"] {
            XCTAssertNil(CgroupPathMatcher.match(path), path)
        }
    }

    /// Real cgroups on this machine's cgroup2 mount, named as the runtimes name them.
    func testCgroupIDsResolveToContainersOnTheRealMount() throws {
        try TestSupport.requireKernel()
        let paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount in /proc/self/mountinfo")
        let parent = "/eunomia-test-\(getpid())"
        let reversed = String(id.reversed())
        let created = ["\(parent)", "\(parent)/docker-\(id).scope", "\(parent)/cri-containerd-\(reversed).scope",
                       "\(parent)/libpod-\(id).scope"].map { String($0) }
        for dir in created { XCTAssertEqual(mkdir(paths.mountPoint + dir, 0o755), 0, "\(dir): \(String(cString: strerror(errno)))") }
        defer { for dir in created.reversed() { rmdir(paths.mountPoint + dir) } }
        let docker = try XCTUnwrap(paths.id(of: created[1]))
        XCTAssertEqual(paths.path(of: docker), created[1])
        XCTAssertEqual(paths.path(of: try XCTUnwrap(paths.id(of: "/"))), "/")
        let cache = ContainerCache(capacity: 2, paths: paths, state: ContainerState(root: "/nonexistent"))
        XCTAssertNil(cache.lookup(docker), "nothing is known before resolve")
        XCTAssertEqual(cache.resolve(docker)?.runtime, .docker)
        XCTAssertEqual(cache.resolve(try XCTUnwrap(paths.id(of: created[2])))?.id, reversed)
        XCTAssertEqual(cache.resolve(try XCTUnwrap(paths.id(of: created[3])))?.runtime, .podman)
        XCTAssertEqual(cache.count, 2, "bounded: the oldest made room")
        XCTAssertNil(cache.lookup(docker))
        // No container: the parent, and a cgroup that is gone.
        XCTAssertEqual(cache.resolve(try XCTUnwrap(paths.id(of: parent))), nil)
        rmdir(paths.mountPoint + created[3])
        XCTAssertNil(paths.path(of: try XCTUnwrap(paths.id(of: created[2])) &+ 1_000_000))
    }

    func testRuntimeStateAddsNamesImagesAndPods() throws {
        let root = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func write(_ path: String, _ object: Any) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: object).write(to: url)
        }
        let state = ContainerState(root: root.path)
        // docker's own record of the container.
        try write("var/lib/docker/containers/\(id)/config.v2.json", ["Name": "/web", "Config": ["Image": "nginx:1.25", "Labels": ["io.kubernetes.pod.name": "p"]]])
        let docker = state.enrich(ContainerInfo(runtime: .docker, id: id))
        XCTAssertEqual([docker.name, docker.image, docker.podName], ["web", "nginx:1.25", "p"])
        // runc's state names the bundle; the bundle's annotations name the pod (containerd's CRI keys).
        let other = String(id.reversed())
        let bundle = root.appendingPathComponent("bundles/\(other)").path
        try write("run/runc/\(other)/state.json", ["id": other, "config": ["labels": ["bundle=\(bundle.dropFirst(root.path.count))"]]])
        try write("bundles/\(other)/config.json", ["annotations": ["io.kubernetes.cri.sandbox-name": "shop-7f9", "io.kubernetes.cri.sandbox-namespace": "prod",
                                                                    "io.kubernetes.cri.container-name": "api", "io.kubernetes.cri.image-name": "shop/api:2"]])
        let cri = state.enrich(ContainerInfo(runtime: .cri, id: other))
        XCTAssertEqual(cri.runtime, .containerd, "the CRI keys say which runtime")
        XCTAssertEqual([cri.podName, cri.podNamespace, cri.name, cri.image], ["shop-7f9", "prod", "api", "shop/api:2"])
        // Hostile values are dropped, not shown.
        try write("bundles/\(other)/config.json", ["annotations": ["io.kubernetes.pod.name": "evil\u{1b}[2J", "io.kubernetes.pod.namespace": String(repeating: "n", count: 300)]])
        let hostile = state.enrich(ContainerInfo(runtime: .crio, id: other))
        XCTAssertNil(hostile.podName)
        XCTAssertNil(hostile.podNamespace)
        // A non-hex id is never used to build a path.
        XCTAssertEqual(state.enrich(ContainerInfo(runtime: .lxc, id: "../../etc")), ContainerInfo(runtime: .lxc, id: "../../etc"))
    }
}
