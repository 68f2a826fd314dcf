import Foundation
import XCTest

/// tcpconnect in the real kernel: the test connects to its own loopback listeners.
final class TcpconnectKernelTests: XCTestCase {
    func testIPv4AndIPv6Connects() throws {
        let harness = try TrackerHarness("tcpconnect")
        let tracer = try harness.start(["--pid", String(getpid())])
        let v4 = try Loopback.roundTrip(.v4)
        let v6 = try Loopback.roundTrip(.v6)
        let records = harness.collect(tracer) { $0["dport"] as? Int == Int(v6.server) }

        let four = try XCTUnwrap(records.first { $0["dport"] as? Int == Int(v4.server) }, "\(records)")
        XCTAssertEqual(four["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(four["ip"] as? String, "4")
        XCTAssertEqual(four["saddr"] as? String, "127.0.0.1")
        XCTAssertEqual(four["daddr"] as? String, "127.0.0.1")
        XCTAssertEqual(four["sport"] as? Int, Int(v4.client))
        XCTAssertEqual(four["ret"] as? Int, 0)
        let six = try XCTUnwrap(records.first { $0["dport"] as? Int == Int(v6.server) })
        XCTAssertEqual(six["ip"] as? String, "6")
        XCTAssertEqual(six["saddr"] as? String, "::1")
        XCTAssertEqual(six["daddr"] as? String, "::1")
        XCTAssertEqual(six["sport"] as? Int, Int(v6.client))
        XCTAssertEqual(records.count, 2, "one record per connect, nothing from other processes: \(records)")

        // The path it took is the one this kernel offers, and the log says which (the helper's
        // "attached:" line): kprobes where the kernel has them, else the tracepoints.
        let attached = try XCTUnwrap(tracer.stderr.split(separator: "\n").first { $0.contains("attached: ") }, tracer.stderr)
        if FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe/type") {
            XCTAssertTrue(attached.contains("kprobe/tcp_v4_connect") && attached.contains("kprobe/tcp_v6_connect"), String(attached))
            XCTAssertFalse(attached.contains("tracepoint/"), String(attached))
        } else {
            XCTAssertTrue(attached.contains("tracepoint/sock/inet_sock_set_state"), String(attached))
            XCTAssertFalse(attached.contains("kprobe/"), String(attached))
        }
    }

    func testPortFilterInTable() throws {
        let harness = try TrackerHarness("tcpconnect")
        let (probe, port) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue))
        close(probe)
        let tracer = try harness.start(["--pid", String(getpid()), "--param", "port=\(port)", "--param", "source_port"], format: "table")
        _ = try Loopback.roundTrip(.v4) // another port: filtered out in BPF
        let (listener, _) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue), port: port)
        XCTAssertEqual(listen(listener, 1), 0)
        let client = try Loopback.connect(.v4, port: port)
        let clientPort = Loopback.localPort(client)
        close(client)
        close(listener)
        let seen = tracer.wait(upTo: 15) { tracer.stdout.contains(" \(port)") }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, tracer.stdout)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "PID    COMM             IP SADDR            SPORT  DADDR            DPORT")
        XCTAssertEqual(lines.count, 2, tracer.stdout)
        XCTAssertTrue(lines[1].hasSuffix(String(format: "4  127.0.0.1        %-6d 127.0.0.1        %d", clientPort, port)), lines[1])
    }
}
