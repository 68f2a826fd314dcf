import Foundation
import XCTest

/// tcpstates in the real kernel: a loopback connection's client-side state changes.
final class TcpstatesKernelTests: XCTestCase {
    func check(_ family: Loopback.Family, address: String) throws {
        let harness = try TrackerHarness("tcpstates")
        // The listener's port is known before connecting; filter on it as the remote port.
        let (probe, port) = try Loopback.bound(family, type: Int32(SOCK_STREAM.rawValue))
        close(probe)
        let tracer = try harness.start(["--param", "dport=\(port)"])
        let (listener, _) = try Loopback.bound(family, type: Int32(SOCK_STREAM.rawValue), port: port)
        XCTAssertEqual(listen(listener, 4), 0)
        let client = try Loopback.connect(family, port: port)
        let clientPort = Int(Loopback.localPort(client))
        let accepted = accept(listener, nil, nil)
        close(client)
        close(accepted)
        close(listener)
        let records = harness.collect(tracer) { $0["oldstate"] as? String == "FIN_WAIT1" }

        let mine = records.filter { $0["rport"] as? Int == Int(port) }
        let transitions = mine.map { "\($0["oldstate"] as? String ?? "?")->\($0["newstate"] as? String ?? "?")" }
        XCTAssertEqual(Array(transitions.prefix(3)), ["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", "ESTABLISHED->FIN_WAIT1"], "\(mine)")
        let established = try XCTUnwrap(mine.first { $0["newstate"] as? String == "ESTABLISHED" })
        XCTAssertEqual(established["laddr"] as? String, address)
        XCTAssertEqual(established["raddr"] as? String, address)
        XCTAssertEqual(established["lport"] as? Int, clientPort)
        XCTAssertEqual(established["pid"] as? Int, Int(getpid()), "connect runs in the test process")
        XCTAssertNotNil(established["ms"] as? Double)
        XCTAssertEqual(established["family"] as? String, family == .v4 ? "IPv4" : "IPv6")
        XCTAssertTrue(records.allSatisfy { $0["rport"] as? Int == Int(port) }, "the dport filter let others through")
    }

    func testIPv4Connection() throws { try check(.v4, address: "127.0.0.1") }
    func testIPv6Connection() throws { try check(.v6, address: "::1") }
}
