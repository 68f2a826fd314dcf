import Foundation
import XCTest

/// A real container: Debian's runc runs an OCI bundle of busybox-static in a docker-style
/// cgroup (/docker/<64 hex>), with its own mount and pid namespaces and pod annotations. The
/// tracker, filtered to it with --container, sees its open (id, pod, its own pid namespace) and
/// nothing from outside: the filter is in the kernel, so the ring buffer carried only its records.
final class RuncContainerKernelTests: XCTestCase {
    let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max)) }.joined()
    var bundle: URL!

    override func tearDown() {
        if bundle != nil {
            _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id])
            try? FileManager.default.removeItem(at: bundle)
            CgroupLeftovers.remove(["docker"])
        }
    }

    /// A bundle whose process waits for FILE to appear in its rootfs, opens `probe`, and exits.
    func makeBundle(probe: String) throws -> URL {
        for tool in ["/usr/sbin/runc", "/bin/busybox"] where !FileManager.default.isExecutableFile(atPath: tool) {
            let why = "\(tool) is missing (make install-test-deps installs runc and busybox-static)"
            if ProcessInfo.processInfo.environment["EUNOMIA_REQUIRE_KERNEL"] == "1" { throw TestSupport.TestFailure(why) }
            throw XCTSkip(why)
        }
        let dir = try TestSupport.temporaryDirectory("runc")
        try BusyboxBundle.write(dir, probe: probe, cgroupsPath: "/docker/\(id)", annotations: [
            "io.kubernetes.pod.name": "web-0",
            "io.kubernetes.pod.namespace": "shop",
            "io.kubernetes.container.name": "nginx",
        ])
        return dir
    }

    /// Makes the bundle and runs it detached, its stdio on /dev/null: the container waits for /go.
    func startContainer(probe: String) throws {
        bundle = try makeBundle(probe: probe)
        let started = try TestSupport.run("/bin/sh", ["-c", "exec /usr/sbin/runc run --detach --bundle \(bundle.path) \(id) </dev/null >/dev/null 2>&1"])
        XCTAssertEqual(started.status, 0, "runc run: \(started.stderr)")
    }

    func testContainerFilterAdmitsOnlyTheContainer() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        let tag = UUID().uuidString
        let probe = "/eunomia-runc-\(tag)"
        try startContainer(probe: probe)

        // By a prefix of its id: the host finds its cgroups and the kernel admits only those.
        let tracer = try harness.start(["--container", String(id.prefix(8))])
        XCTAssertTrue(tracer.stderr.contains("only container docker \(id.prefix(12))"), tracer.stderr)
        let outside = "/tmp/eunomia-runc-\(tag)-host"
        _ = try TestSupport.run("/bin/cat", [outside])
        FileManager.default.createFile(atPath: bundle.appendingPathComponent("rootfs/go").path, contents: nil)
        let records = harness.collect(tracer) { ($0["path"] as? String) == probe }

        let own = try XCTUnwrap(records.first { $0["path"] as? String == probe })
        let container = try XCTUnwrap(own["container"] as? [String: Any], "no container in \(own)")
        XCTAssertEqual(container["runtime"] as? String, "docker")
        XCTAssertEqual(container["id"] as? String, String(id.prefix(12)))
        // The bundle's annotations, found through runc's state (/run/runc/ID/state.json).
        XCTAssertEqual(container["pod"] as? String, "web-0", "\(container)")
        XCTAssertEqual(container["pod_namespace"] as? String, "shop")
        XCTAssertEqual(container["name"] as? String, "nginx")
        let hostPidNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        XCTAssertNotEqual("pid:[\(own["pid_ns"] as? Int ?? 0)]", hostPidNS, "the container's pid namespace is its own")
        // Nothing from outside reached the ring buffer: every record printed (and counted) is the container's.
        XCTAssertFalse(records.contains { $0["path"] as? String == outside }, "an open outside the container got through")
        let cgroup = own["cgroup_id"] as? Int
        for r in records {
            XCTAssertEqual(r["cgroup_id"] as? Int, cgroup, "a record from another cgroup: \(r)")
        }
        let summary = try XCTUnwrap(tracer.stderr.split(separator: "\n").last { $0.contains(" events, ") })
        XCTAssertTrue(summary.contains(": \(records.count) events, 0 lost"), "\(summary) vs \(records.count) records printed")
    }

    /// The API's `container` param filters the same way, and the server's event stream names
    /// the container (and its pod) on each record.
    func testServerStreamsOnlyTheContainer() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        let tag = UUID().uuidString
        let probe = "/eunomia-runc-api-\(tag)"
        try startContainer(probe: probe)
        let server = try DaemonProcess(dir: harness.dir, store: harness.store, config: "")
        defer { _ = server.terminate() }
        let api = server.unix
        let refused = try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "params": ["container": "no-such-container"]])
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertTrue(refused.text.contains("no running container matches"), refused.text)
        let start = try api.request("POST", "/api/v1/trackers", json: ["id": "ctr", "plugin": "opensnoop", "params": ["container": String(id.prefix(12))]])
        XCTAssertEqual(start.status, 201, start.text)
        let stream = try StreamReader(api, "/api/v1/trackers/ctr/events?format=ndjson")
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.reply?.status == 200 }, "no stream: \(stream.body)")
        let outside = "/tmp/eunomia-runc-api-\(tag)-host"
        _ = try TestSupport.run("/bin/cat", [outside])
        FileManager.default.createFile(atPath: bundle.appendingPathComponent("rootfs/go").path, contents: nil)
        XCTAssertTrue(stream.wait(upTo: 15) { $0.contains(probe) }, "the container's open never came: \(stream.body.suffix(500))")
        let records = stream.body.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let own = try XCTUnwrap(records.first { $0["path"] as? String == probe })
        let container = try XCTUnwrap(own["container"] as? [String: Any], "\(own)")
        XCTAssertEqual(container["id"] as? String, String(id.prefix(12)))
        XCTAssertEqual(container["pod"] as? String, "web-0", "\(container)")
        XCTAssertFalse(records.contains { $0["path"] as? String == outside }, "an open outside the container got through")
        XCTAssertTrue(records.allSatisfy { $0["cgroup_id"] as? Int == own["cgroup_id"] as? Int }, "\(records)")
    }

    func testUnknownContainerIsOneLine() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        let r = try TestSupport.eunomia(["run", "opensnoop", "--container", "no-such-container", "--duration", "1"], store: harness.store)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("eunomia: error: no running container matches 'no-such-container'"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
