import Foundation
import XCTest

/// `make install` and the systemd unit it installs.
final class DaemonInstallTests: XCTestCase {
    func testTheUnitRunsTheServerAndReloadsWithSIGHUP() throws {
        let unit = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("deploy/systemd/eunomia.service"), encoding: .utf8)
        let lines = Set(unit.split(separator: "\n").map(String.init))
        for expected in ["Type=simple", "ExecStart=/usr/local/bin/eunomia server", "ExecReload=/bin/kill -HUP $MAINPID",
                         "Restart=on-failure", "KillSignal=SIGTERM", "RuntimeDirectory=eunomia", "StateDirectory=eunomia",
                         "NoNewPrivileges=yes", "WantedBy=multi-user.target"] {
            XCTAssertTrue(lines.contains(expected), "the unit lacks \(expected)")
        }
        // What BPF needs is not taken away.
        let caps = lines.first { $0.hasPrefix("CapabilityBoundingSet=") } ?? ""
        for cap in ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"] { XCTAssertTrue(caps.contains(cap), "\(cap) not in \(caps)") }
        XCTAssertFalse(lines.contains("PrivateDevices=yes"))
    }

    func testMakeInstallHonoursDESTDIRAndPREFIX() throws {
        let root = TestSupport.repoRoot
        guard FileManager.default.isExecutableFile(atPath: root.appendingPathComponent("bin/eunomia").path) else {
            throw TestSupport.TestFailure("no bin/eunomia: run `make build` (make test does) first")
        }
        let dest = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dest) }
        // -o bin/eunomia: install what make build made, never rebuild it from here.
        let make = try TestSupport.run("/usr/bin/make", ["-C", root.path, "--no-print-directory", "-o", "bin/eunomia", "install",
                                                         "DESTDIR=\(dest.path)", "PREFIX=/opt/eunomia"])
        XCTAssertEqual(make.status, 0, make.stdout + make.stderr)
        let binary = dest.appendingPathComponent("opt/eunomia/bin/eunomia").path
        let unit = dest.appendingPathComponent("etc/systemd/system/eunomia.service").path
        var st = stat()
        XCTAssertEqual(stat(binary, &st), 0, "no \(binary)")
        XCTAssertEqual(st.st_mode & 0o777, 0o755)
        XCTAssertEqual(stat(unit, &st), 0, "no \(unit)")
        XCTAssertEqual(st.st_mode & 0o777, 0o644)
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        XCTAssertTrue(text.contains("\nExecStart=/opt/eunomia/bin/eunomia server\n"), text)
        let version = try TestSupport.run(binary, ["server", "--help"])
        XCTAssertEqual(version.status, 0, version.stderr)
    }
}
