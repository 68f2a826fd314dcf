import Foundation
import XCTest
@testable import EunomiaContainers

/// Records carry the task's cgroup id and namespaces (filled in BPF), and the host names the
/// container: real cgroups named as docker, containerd and podman name theirs, a child moved
/// into each with new mount and pid namespaces (unshare), and a process outside for contrast.
final class ContainerKernelTests: XCTestCase {
    var cgroups: [String] = []
    var paths: CgroupPaths!

    override func tearDown() {
        for dir in cgroups.reversed() { rmdir(dir) }
    }

    /// A cgroup at PATH under the cgroup2 mount, removed after the test.
    func cgroup(_ path: String) throws -> String {
        let full = paths.mountPoint + path
        XCTAssertEqual(mkdir(full, 0o755), 0, "\(full): \(String(cString: strerror(errno)))")
        cgroups.append(full)
        return full
    }

    /// Runs `unshare --mount --pid --fork cat FILE` inside the cgroup at `dir`.
    func openInside(_ dir: String, _ file: String) throws {
        let r = try TestSupport.run("/bin/sh", ["-c", "echo $$ > \(dir)/cgroup.procs && exec unshare --mount --pid --fork cat \(file)"])
        XCTAssertTrue(r.stderr.contains("No such file"), "the child did not run: \(r.stderr)")
    }

    func testEventsNameTheContainerTheTaskRunsIn() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let hex = { (c: Character) in String(repeating: String(c), count: 64) }
        let parent = try cgroup("/eunomia-ctr-\(getpid())")
        let runtimes: [(String, String, String)] = [
            ("docker", "/docker-\(hex("a")).scope", hex("a")),
            ("containerd", "/cri-containerd-\(hex("b")).scope", hex("b")),
            ("podman", "/libpod-\(hex("c")).scope", hex("c")),
        ]
        let tracer = try harness.start()
        let tag = UUID().uuidString
        var expected: [String: (String, String)] = [:]
        for (runtime, name, id) in runtimes {
            let dir = try cgroup(String(parent.dropFirst(paths.mountPoint.count)) + name)
            let file = "/tmp/eunomia-ctr-\(tag)-\(runtime)"
            try openInside(dir, file)
            expected[file] = (runtime, String(id.prefix(12)))
        }
        let outside = "/tmp/eunomia-ctr-\(tag)-host"
        _ = try TestSupport.run("/bin/cat", [outside])
        let records = harness.collect(tracer) { r in (r["path"] as? String) == outside }
        let ownPidNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        for (file, (runtime, id)) in expected {
            let r = try XCTUnwrap(records.first { $0["path"] as? String == file }, "no event for \(file)")
            let container = try XCTUnwrap(r["container"] as? [String: Any], "\(runtime): no container in \(r)")
            XCTAssertEqual(container["runtime"] as? String, runtime)
            XCTAssertEqual(container["id"] as? String, id)
            XCTAssertNotEqual("pid:[\(r["pid_ns"] as? Int ?? 0)]", ownPidNS, "the child's pid namespace is its own")
            XCTAssertGreaterThan(r["cgroup_id"] as? Int ?? 0, 1)
        }
        let host = try XCTUnwrap(records.first { $0["path"] as? String == outside })
        XCTAssertNil(host["container"], "a process outside every container carries none: \(host)")
        XCTAssertEqual("pid:[\(host["pid_ns"] as? Int ?? 0)]", ownPidNS)
    }

    func testCSVHasContainerColumns() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let id = String(repeating: "d", count: 64)
        let parent = try cgroup("/eunomia-csv-\(getpid())")
        let dir = try cgroup(String(parent.dropFirst(paths.mountPoint.count)) + "/docker-\(id).scope")
        let tracer = try harness.start(format: "csv")
        let file = "/tmp/eunomia-csv-\(UUID().uuidString)"
        try openInside(dir, file)
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains(file) }
        XCTAssertEqual(tracer.interruptAndWait(), 0)
        XCTAssertTrue(seen, tracer.stdout.suffix(1000) + tracer.stderr)
        let lines = tracer.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasSuffix(",path,container,container_name,pod,pod_namespace") == true, String(lines.first ?? ""))
        let row = try XCTUnwrap(lines.first { $0.contains(file) })
        XCTAssertTrue(row.hasSuffix("\(file),\(id.prefix(12)),,,"), String(row))
    }

    /// The container filter's lookup on real cgroups: a prefix finds the container's cgroup and
    /// the one below it; a prefix two containers share, or one nothing has, is one line.
    func testLocatorFindsContainerCgroupsByPrefix() throws {
        paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let base = "/eunomia-loc-\(getpid())"
        _ = try cgroup(base)
        let a = "0123" + String(repeating: "a", count: 60), b = "0123" + String(repeating: "b", count: 60)
        let dirA = try cgroup(base + "/docker-\(a).scope")
        let inner = try cgroup(base + "/docker-\(a).scope/init.scope")
        _ = try cgroup(base + "/cri-containerd-\(b).scope")
        let locator = ContainerLocator(paths: paths, state: ContainerState(root: "/nonexistent"))
        let found = try locator.locate("0123a")
        XCTAssertEqual(found.container.runtime, .docker)
        XCTAssertEqual(found.container.id, a)
        let ids = [dirA, inner].map { dir -> UInt64 in
            var st = stat()
            XCTAssertEqual(stat(dir, &st), 0)
            return UInt64(st.st_ino)
        }
        XCTAssertEqual(Set(found.cgroupIDs), Set(ids), "the container's cgroup and the one below it")
        XCTAssertEqual(try locator.locate(b).container.runtime, .containerd)
        XCTAssertThrowsError(try locator.locate("0123")) { e in
            XCTAssertTrue("\(e)".contains("matches 2 containers"), "\(e)")
        }
        XCTAssertThrowsError(try locator.locate("012")) { e in
            XCTAssertTrue("\(e)".hasPrefix("no running container matches '012'"), "\(e)")
        }
    }

    /// A table keeps libbpf-tools' columns until the first record from a container; then a new
    /// header brings a CONTAINER column, first, with the 12-digit id (blank for the host).
    func testTableGainsContainerColumn() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let id = String(repeating: "e", count: 64)
        let parent = try cgroup("/eunomia-tab-\(getpid())")
        let dir = try cgroup(String(parent.dropFirst(paths.mountPoint.count)) + "/docker-\(id).scope")
        let tracer = try harness.start(format: "table")
        let tag = UUID().uuidString
        let before = "/tmp/eunomia-tab-\(tag)-before", inside = "/tmp/eunomia-tab-\(tag)-inside", after = "/tmp/eunomia-tab-\(tag)-after"
        _ = try TestSupport.run("/bin/cat", [before])
        XCTAssertTrue(tracer.wait(upTo: 15) { tracer.stdout.contains(before) }, tracer.stdout.suffix(500) + tracer.stderr)
        try openInside(dir, inside)
        XCTAssertTrue(tracer.wait(upTo: 15) { tracer.stdout.contains(inside) })
        _ = try TestSupport.run("/bin/cat", [after])
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains(after) }
        XCTAssertEqual(tracer.interruptAndWait(), 0)
        XCTAssertTrue(seen, tracer.stdout.suffix(1000) + tracer.stderr)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("PID ") == true, "the first header has no CONTAINER column: \(lines.first ?? "")")
        let beforeRow = try XCTUnwrap(lines.first { $0.hasSuffix(before) })
        XCTAssertTrue(beforeRow.first?.isNumber == true, "a row before any container starts with its pid: \(beforeRow)")
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("CONTAINER    PID ") }, "no CONTAINER header: \(lines)")
        let insideRow = try XCTUnwrap(lines.firstIndex { $0.hasSuffix(inside) })
        XCTAssertLessThan(header, insideRow)
        XCTAssertTrue(lines[insideRow].hasPrefix(String(id.prefix(12)) + " "), lines[insideRow])
        let afterRow = try XCTUnwrap(lines.first { $0.hasSuffix(after) })
        XCTAssertTrue(afterRow.hasPrefix(String(repeating: " ", count: 13)), "a host row under the new header has a blank cell: \(afterRow)")
    }
}
