import EunomiaContainers
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

    /// A connection made by a child in a fresh cgroup v2 carries that cgroup's id in every state
    /// change of its socket, the ones in softirq included; namespaces are unknown (0).
    func testConnectionCarriesTheSocketOwnersCgroup() throws {
        let harness = try TrackerHarness("tcpstates")
        let paths = try XCTUnwrap(CgroupPaths(), "no cgroup2 mount")
        let dir = paths.mountPoint + "/eunomia-tcpstates-\(getpid())-\(UUID().uuidString.prefix(6))"
        XCTAssertEqual(mkdir(dir, 0o755), 0, "\(dir): \(String(cString: strerror(errno)))")
        defer { rmdir(dir) }
        let id = try XCTUnwrap(paths.id(of: String(dir.dropFirst(paths.mountPoint.count))))
        let (probe, port) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue))
        close(probe)
        let tracer = try harness.start(["--param", "dport=\(port)"])
        let (listener, _) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue), port: port)
        XCTAssertEqual(listen(listener, 4), 0)
        let r = try TestSupport.run("/bin/sh", ["-c", """
            echo $$ > \(dir)/cgroup.procs && exec python3 -c "import socket
            s = socket.create_connection(('127.0.0.1', \(port)))
            print(s.getsockname()[1])
            s.close()"
            """])
        let accepted = accept(listener, nil, nil)
        close(accepted)
        close(listener)
        let clientPort = try XCTUnwrap(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "the child did not connect: \(r.stderr)")
        let records = harness.collect(tracer) { $0["oldstate"] as? String == "FIN_WAIT1" }

        let mine = records.filter { $0["lport"] as? Int == clientPort && $0["newstate"] as? String != "SYN_SENT" }
        let transitions = mine.map { "\($0["oldstate"] as? String ?? "?")->\($0["newstate"] as? String ?? "?")" }
        XCTAssertEqual(Array(transitions.prefix(2)), ["SYN_SENT->ESTABLISHED", "ESTABLISHED->FIN_WAIT1"], "\(records)")
        // CLOSE->SYN_SENT comes before the port is bound (lport 0): the same socket, by skaddr.
        let socket = mine.first?["skaddr"] as? String
        let all = records.filter { $0["skaddr"] as? String == socket }
        XCTAssertGreaterThanOrEqual(all.count, 3, "\(records)")
        for record in all {
            XCTAssertEqual(record["cgroup_id"] as? Int, Int(id), "the socket's cgroup: \(record)")
            XCTAssertEqual(record["mount_ns"] as? Int, 0, "a socket has no mount namespace")
            XCTAssertEqual(record["pid_ns"] as? Int, 0)
        }
    }
    func testIPv6Connection() throws { try check(.v6, address: "::1") }
}
