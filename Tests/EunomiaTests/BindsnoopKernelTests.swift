import Foundation
import XCTest

/// bindsnoop in the real kernel: the test binds TCP and UDP sockets on 127.0.0.1 and ::1.
final class BindsnoopKernelTests: XCTestCase {
    /// A port that was free a moment ago, so the bind below asks for a known port.
    func freePort(_ family: Loopback.Family, _ type: Int32) throws -> UInt16 {
        let (fd, port) = try Loopback.bound(family, type: type)
        close(fd)
        return port
    }

    func testTCPAndUDPBindsOnBothFamilies() throws {
        let harness = try TrackerHarness("bindsnoop")
        let tcp = Int32(SOCK_STREAM.rawValue), udp = Int32(SOCK_DGRAM.rawValue)
        let wanted: [(Loopback.Family, Int32, String, String)] = [
            (.v4, tcp, "TCP", "127.0.0.1"), (.v4, udp, "UDP", "127.0.0.1"), (.v6, tcp, "TCP", "::1"), (.v6, udp, "UDP", "::1"),
        ]
        let ports = try wanted.map { try freePort($0.0, $0.1) }
        let tracer = try harness.start(["--pid", String(getpid())])
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        for (i, w) in wanted.enumerated() {
            let (fd, port) = try Loopback.bound(w.0, type: w.1, port: ports[i])
            XCTAssertEqual(port, ports[i])
            fds.append(fd)
        }
        // The same TCP port again, while the first socket listens: EADDRINUSE, reported with its result.
        XCTAssertEqual(listen(fds[0], 1), 0)
        XCTAssertThrowsError(try Loopback.bound(.v4, type: tcp, port: ports[0]))
        let records = harness.collect(tracer) { $0["ret"] as? Int == -Int(EADDRINUSE) }

        for (i, w) in wanted.enumerated() {
            let r = try XCTUnwrap(records.first { $0["port"] as? Int == Int(ports[i]) && $0["proto"] as? String == w.2 && $0["ret"] as? Int == 0 },
                                  "no \(w.2) bind on \(w.3):\(ports[i]) in \(records)")
            XCTAssertEqual(r["pid"] as? Int, Int(getpid()))
            XCTAssertEqual(r["addr"] as? String, w.3)
            XCTAssertEqual(r["opts"] as? String, "...R.", "SO_REUSEADDR is set on every test socket")
            XCTAssertEqual(r["family"] as? String, w.0 == .v4 ? "IPv4" : "IPv6")
        }
        let failed = try XCTUnwrap(records.first { $0["ret"] as? Int == -Int(EADDRINUSE) })
        XCTAssertEqual(failed["port"] as? Int, Int(ports[0]))
        XCTAssertEqual(failed["addr"] as? String, "127.0.0.1")
        XCTAssertEqual(records.count, 5, "\(records)")
    }
}
