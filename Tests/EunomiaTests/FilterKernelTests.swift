import Foundation
import XCTest

/// `eunomia run --filter` in the real kernel: the condition decides what is printed, and its
/// exact terms reach the kernel as the plugin's own filter parameters.
final class FilterKernelTests: XCTestCase {
    func testOnlyMatchingRecordsArePrintedAndExactTermsArePushedDown() throws {
        let harness = try TrackerHarness("opensnoop", tracepoints: ["syscalls/sys_enter_openat"])
        let base = harness.dir.appendingPathComponent("probe").path
        let filter = #"comm == "cat" and path startswith "\#(base)" and not path endswith ".skip""#
        let tracer = try harness.start(["--filter", filter, "--log-level", "debug"])
        // head opens a matching path but is not cat; cat opens one the filter's last term refuses.
        _ = try TestSupport.run("/usr/bin/head", ["\(base)-head"])
        _ = try TestSupport.run("/bin/cat", ["\(base)-1.skip"])
        _ = try TestSupport.run("/bin/cat", ["\(base)-2"])
        let records = harness.collect(tracer) { $0["path"] as? String == "\(base)-2" }
        XCTAssertFalse(records.isEmpty)
        for r in records {
            XCTAssertEqual(r["comm"] as? String, "cat", "\(r)")
            XCTAssertTrue((r["path"] as? String ?? "").hasPrefix(base), "\(r)")
        }
        XCTAssertFalse(records.contains { $0["path"] as? String == "\(base)-1.skip" })
        XCTAssertTrue(tracer.stderr.contains("filter: comm == cat applied in the kernel (comm=cat)"), tracer.stderr)
        XCTAssertTrue(tracer.stderr.contains(" matched the filter"), tracer.stderr)
    }

    func testABadFilterIsOneLineNamingThePositionAndNothingRuns() throws {
        let harness = try TrackerHarness("opensnoop")
        for (filter, message) in [
            (#"comm == "cat" and uid > "root""#, #"filter 'comm == "cat" and uid > "root"' at 25: 'root' is not a number for 'uid'"#),
            (#"pathh startswith "/etc""#, "filter 'pathh startswith \"/etc\"' at 1: unknown field 'pathh' (opensnoop has: time, uid, pid, tid, cgroup_id, mount_ns, pid_ns, comm, fd, err, flags, mode, path, container.id, container.name, container.image, container.runtime, k8s.pod.name, k8s.ns.name)"),
            (#"(pid == 1"#, "filter '(pid == 1' at 10: '(' at 1 is not closed"),
        ] {
            let r = try TestSupport.eunomia(["run", "opensnoop", "--filter", filter, "--duration", "1"], store: harness.store)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertEqual(r.stderr, "eunomia: error: \(message)\n")
            XCTAssertEqual(r.stdout, "")
        }
    }
}
