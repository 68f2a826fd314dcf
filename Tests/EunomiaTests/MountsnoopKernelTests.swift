import Foundation
import XCTest

/// mountsnoop in the real kernel: the test mounts a tmpfs and unmounts it.
final class MountsnoopKernelTests: XCTestCase {
    func testMountAndUmountCallLines() throws {
        let harness = try TrackerHarness("mountsnoop")
        let dir = harness.dir.appendingPathComponent("mnt-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let namespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt") // "mnt:[4026531832]"
        let tracer = try harness.start(["--pid", String(getpid())])
        XCTAssertEqual(mount("none", dir, "tmpfs", 0, ""), 0, String(cString: strerror(errno)))
        XCTAssertEqual(umount2(dir, 0), 0, String(cString: strerror(errno)))
        XCTAssertEqual(umount2(dir, 0), -1) // not mounted any more: EINVAL
        let records = harness.collect(tracer) { $0["op"] as? String == "umount" && $0["ret"] as? Int == -Int(EINVAL) }

        let mounted = try XCTUnwrap(records.first { $0["op"] as? String == "mount" }, "\(records)")
        XCTAssertEqual(mounted["call"] as? String, "mount(\"none\", \"\(dir)\", \"tmpfs\", 0x0, \"\") = 0")
        XCTAssertEqual(mounted["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(mounted["source"] as? String, "none")
        XCTAssertEqual(mounted["fstype"] as? String, "tmpfs")
        XCTAssertEqual("mnt:[\(mounted["mnt_ns"] as? Int ?? -1)]", namespace)
        let unmounts = records.filter { $0["op"] as? String == "umount" }
        XCTAssertEqual(unmounts.map { $0["call"] as? String }, [
            "umount(\"\(dir)\", 0x0) = 0",
            "umount(\"\(dir)\", 0x0) = -\(EINVAL)",
        ])
    }

    func testTableColumns() throws {
        let harness = try TrackerHarness("mountsnoop")
        let dir = harness.dir.appendingPathComponent("mnt-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tracer = try harness.start(["--pid", String(getpid())], format: "table")
        XCTAssertEqual(mount("none", dir, "tmpfs", UInt(MS_NOSUID | MS_NODEV), "size=1m"), 0)
        XCTAssertEqual(umount2(dir, Int32(MNT_DETACH)), 0)
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains("umount(") }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, tracer.stdout)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "COMM             PID     TID     MNT_NS      CALL")
        XCTAssertTrue(lines.contains { $0.hasSuffix("mount(\"none\", \"\(dir)\", \"tmpfs\", MS_NOSUID|MS_NODEV, \"size=1m\") = 0") }, tracer.stdout)
        XCTAssertTrue(lines.contains { $0.hasSuffix("umount(\"\(dir)\", MNT_DETACH) = 0") }, tracer.stdout)
    }
}
