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
        let records = harness.collect(tracer) { $0["op"] as? String == "UMOUNT" && $0["ret"] as? Int == -Int(EINVAL) }

        let mounted = try XCTUnwrap(records.first { $0["op"] as? String == "MOUNT" }, "\(records)")
        XCTAssertEqual(mounted["call"] as? String, "mount(\"none\", \"\(dir)\", \"tmpfs\", 0x0, \"\") = 0")
        XCTAssertEqual(mounted["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(mounted["source"] as? String, "none")
        XCTAssertEqual(mounted["target"] as? String, dir)
        XCTAssertEqual(mounted["fstype"] as? String, "tmpfs")
        XCTAssertEqual(mounted["data"] as? String, "")
        XCTAssertEqual(mounted["flags"] as? String, "0x0")
        XCTAssertEqual(mounted["ret"] as? Int, 0)
        XCTAssertNotNil(mounted["lat_us"] as? Int, "\(mounted)")
        XCTAssertEqual("mnt:[\(mounted["mnt_ns"] as? Int ?? -1)]", namespace)
        let unmounts = records.filter { $0["op"] as? String == "UMOUNT" }
        XCTAssertEqual(unmounts.map { $0["call"] as? String }, [
            "umount(\"\(dir)\", 0x0) = 0",
            "umount(\"\(dir)\", 0x0) = -EINVAL",
        ])
        XCTAssertEqual(unmounts.map { $0["ret"] as? Int }, [0, -Int(EINVAL)])
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

    /// fsopen, fsconfig, fsmount and move_mount (5.2+), made by a python3 child through syscall(2).
    func testNewMountAPIInDetailedTable() throws {
        let harness = try TrackerHarness("mountsnoop", tracepoints: ["fsopen", "fsconfig", "fsmount", "move_mount"].map { "syscalls/sys_enter_\($0)" })
        let dir = harness.dir.appendingPathComponent("newmnt-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The syscall numbers are the same on every architecture but alpha.
        let script = """
        import ctypes, sys
        sys.stdin.readline()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        fs = libc.syscall(430, b"tmpfs", 1)
        assert libc.syscall(431, fs, 1, b"size", b"1m", 0) == 0
        assert libc.syscall(431, fs, 6, None, None, 0) == 0
        mnt = libc.syscall(432, fs, 1, 2 | 4)
        assert libc.syscall(429, mnt, b"", -100, sys.argv[1].encode(), 4) == 0
        print(fs, mnt, flush=True)
        """
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        child.arguments = ["python3", "-c", script, dir]
        let input = Pipe(), output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        try child.run()
        defer { if child.isRunning { child.terminate() } }
        let tracer = try harness.start(["--pid", String(child.processIdentifier), "--param", "detailed"], format: "table")
        input.fileHandleForWriting.write(Data("go\n".utf8))
        child.waitUntilExit()
        defer { _ = umount2(dir, Int32(MNT_DETACH)) }
        XCTAssertEqual(child.terminationStatus, 0)
        let fds = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")
            .compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(fds.count, 2)
        let (fs, mnt) = (fds.first ?? -1, fds.last ?? -1)
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains("move_mount(") }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, tracer.stdout)

        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "COMM             PID     TID     MNT_NS      OP         LAT(us) CALL")
        let expected = [
            ("FSOPEN", "fsopen(\"tmpfs\", FSOPEN_CLOEXEC) = \(fs)"),
            ("FSCONFIG", "fsconfig(\(fs), \"FSCONFIG_SET_STRING\", \"size\", \"1m\", 0) = 0"),
            ("FSCONFIG", "fsconfig(\(fs), \"FSCONFIG_CMD_CREATE\", \"\", \"\", 0) = 0"),
            ("FSMOUNT", "fsmount(\(fs), \"FSMOUNT_CLOEXEC\", \"MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV\") = \(mnt)"),
            ("MOVE_MOUNT", "move_mount(\(mnt), \"\", AT_FDCWD, \"\(dir)\", \"MOVE_MOUNT_F_EMPTY_PATH\") = 0"),
        ]
        let rows = Array(lines.dropFirst())
        XCTAssertEqual(rows.count, expected.count, tracer.stdout)
        for ((op, call), row) in zip(expected, rows) {
            XCTAssertTrue(row.hasPrefix("python3"), row)
            XCTAssertTrue(row.contains(" \(child.processIdentifier) "), row)
            XCTAssertNotNil(row.range(of: " \(op) +[0-9]+ \(NSRegularExpression.escapedPattern(for: call))$", options: .regularExpression),
                            "\(row) does not end with \(op) LAT \(call)")
        }
    }
}
