import Foundation
import XCTest

/// tcprtt in the real kernel: ping-pong over a loopback TCP connection made by the test.
final class TcprttKernelTests: XCTestCase {
    static let roundTrips = 40

    /// Listener, client, accepted socket; `roundTrips` one-byte exchanges; then all closed.
    func pingPong(_ listener: Int32, port: UInt16) throws {
        XCTAssertEqual(listen(listener, 4), 0)
        let client = try Loopback.connect(.v4, port: port)
        let accepted = accept(listener, nil, nil)
        XCTAssertGreaterThanOrEqual(accepted, 0)
        var byte: UInt8 = 0x2a
        for _ in 0..<Self.roundTrips {
            XCTAssertEqual(write(client, &byte, 1), 1)
            XCTAssertEqual(read(accepted, &byte, 1), 1)
            XCTAssertEqual(write(accepted, &byte, 1), 1)
            XCTAssertEqual(read(client, &byte, 1), 1)
            usleep(1000)
        }
        close(client)
        close(accepted)
        close(listener)
    }

    func testPortFilters() throws {
        let harness = try TrackerHarness("tcprtt")
        let (listener, port) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue))
        // A port no connection of this test uses (bound, never connected, so nobody else gets it).
        let (idle, idlePort) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue))
        defer { close(idle) }

        // The accepted socket has the listener's port as its local port; the client, as its remote port.
        let byLocal = try harness.start(["--param", "local_port=\(port)", "--param", "by_local_addr=true", "--param", "extended=true"])
        let remoteTable = try harness.start(["--param", "remote_port=\(port)"], format: "table")
        let other = try harness.start(["--param", "remote_port=\(idlePort)"])
        try pingPong(listener, port: port)
        for tracer in [byLocal, remoteTable, other] { XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr) }

        let reports = TrackerHarness.records(byLocal.stdout).filter { $0["report"] as? String == "rtt" }
        XCTAssertEqual(reports.count, 1, byLocal.stdout)
        let histograms = try XCTUnwrap(reports.first?["histograms"] as? [[String: Any]])
        XCTAssertEqual(histograms.count, 1, "one local address: \(histograms)")
        let h = try XCTUnwrap(histograms.first)
        XCTAssertEqual(h["laddr"] as? String, "127.0.0.1")
        let rtt = try XCTUnwrap(h["rtt"] as? [String: Any])
        XCTAssertEqual(rtt["unit"] as? String, "usecs")
        let buckets = try XCTUnwrap(rtt["buckets"] as? [[String: Int]])
        let samples = buckets.compactMap { $0["count"] }.reduce(0, +)
        XCTAssertGreaterThanOrEqual(samples, Self.roundTrips, "every ping reaches the server as an established-state segment: \(h)")
        // The average lies in the bucket range the samples span.
        let avg = try XCTUnwrap(h["avg"] as? Int)
        let lowest = try XCTUnwrap(buckets.first { $0["count"] != 0 }?["low"])
        XCTAssertTrue((lowest...buckets.last!["high"]!).contains(avg), "avg \(avg) outside \(buckets)")

        let lines = remoteTable.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.contains(": count") }, ["     usecs               : count    distribution"], remoteTable.stdout)
        let counts = lines.compactMap { line -> Int? in
            let parts = line.split(separator: ":")
            guard parts.count == 2, line.contains("->"), let bar = parts[1].split(separator: "|").first else { return nil }
            return Int(bar.trimmingCharacters(in: .whitespaces))
        }
        XCTAssertGreaterThanOrEqual(counts.reduce(0, +), Self.roundTrips, remoteTable.stdout)

        let otherHistograms = TrackerHarness.records(other.stdout).flatMap { $0["histograms"] as? [[String: Any]] ?? [] }
        XCTAssertEqual(otherHistograms.count, 0, "a filter on an unused port counts nothing: \(other.stdout)")
    }
}
