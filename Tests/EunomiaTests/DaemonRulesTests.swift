import Foundation
import XCTest

/// The server's filters and rules: a tracker started with a filter, a stream with its own, the
/// config's rules raising alerts on /api/v1/alerts and in /metrics, and SIGHUP reloading them.
final class DaemonRulesTests: XCTestCase {
    var dir: URL!
    var store: URL!

    override func setUpWithError() throws {
        try TestSupport.requireKernel()
        dir = try TestSupport.temporaryDirectory()
        store = dir.appendingPathComponent("store")
        try TestSupport.trustBuildKey(in: store)
        let install = try TestSupport.eunomia(["plugin", "install", try TestSupport.opensnoopPackage().path], store: store)
        XCTAssertEqual(install.status, 0, install.stderr)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func touch(_ path: String) {
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
    }

    func rules(_ name: String, prefix: String, priority: String = "warning") -> String {
        """
        - macro: probe
          condition: path startswith "\(prefix)"
        - rule: \(name)
          desc: a test probe
          plugin: opensnoop
          condition: probe and flags contains O_CREAT
          output: probe {path} opened by {comm} ({container.id})
          priority: \(priority)
          tags: [test]
        """
    }

    func testFiltersAndRulesInTheServer() throws {
        let rulesPath = dir.appendingPathComponent("rules.yaml").path
        let first = dir.appendingPathComponent("first").path, second = dir.appendingPathComponent("second").path
        try rules("Probe opened", prefix: first).write(toFile: rulesPath, atomically: true, encoding: .utf8)
        let config = """
            rules = ["\(rulesPath)"]
            [[tracker]]
            id = "opens"
            plugin = "opensnoop"
            filter = 'pid == \(getpid()) and path startswith "\(dir.path)"'
            """
        let server = try DaemonProcess(dir: dir, store: store, config: config)
        let api = server.unix
        let info = try api.request("GET", "/api/v1/trackers/opens")
        XCTAssertEqual(info.json?["filter"] as? String, "pid == \(getpid()) and path startswith \"\(dir.path)\"")
        // The exact pid term went to the kernel as the pid parameter.
        XCTAssertEqual((info.json?["params"] as? [String: Any])?["pid"] as? Int, Int(getpid()), info.text)

        let alerts = try StreamReader(api, "/api/v1/alerts?format=ndjson")
        let events = try StreamReader(api, "/api/v1/trackers/opens/events?format=ndjson&filter=" + #"path endswith ".two""#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        XCTAssertTrue(alerts.wait(upTo: 10) { _ in alerts.reply?.status == 200 })
        XCTAssertTrue(events.wait(upTo: 10) { _ in events.reply?.status == 200 })
        var seen = false
        for i in 0..<50 where !seen {
            touch("\(first)-\(i).two")
            seen = alerts.wait(upTo: 0.2) { $0.contains("\(first)-\(i).two") }
        }
        XCTAssertTrue(seen, "no alert: \(alerts.body.suffix(500))\n\(server.process.stderr.suffix(2000))")
        let alertLine = try XCTUnwrap(alerts.body.split(separator: "\n").first { $0.contains("\"rule\"") })
        let alert = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(alertLine.utf8)) as? [String: Any])
        XCTAssertEqual(alert["rule"] as? String, "Probe opened")
        XCTAssertEqual(alert["priority"] as? String, "warning")
        XCTAssertEqual(alert["tracker"] as? String, "opens")
        XCTAssertEqual(alert["tags"] as? [String], ["test"])
        XCTAssertTrue((alert["output"] as? String ?? "").hasPrefix("probe \(first)-"), "\(alert)")
        XCTAssertTrue((alert["output"] as? String ?? "").hasSuffix("(host)"), "\(alert)")
        XCTAssertTrue(server.process.stderr.contains("alert: {"), "the log has the alert")
        // The stream's own filter: only .two paths, though the tracker passes the others too.
        touch("\(dir.path)/other.one")
        touch("\(dir.path)/last.two")
        XCTAssertTrue(events.wait(upTo: 10) { $0.contains("last.two") })
        XCTAssertFalse(events.body.contains("other.one"), events.body)
        let metrics = try api.request("GET", "/metrics").text
        XCTAssertTrue(metrics.contains(#"eunomia_security_alerts_total{priority="warning",rule="Probe opened"}"#)
            || metrics.contains(#"eunomia_security_alerts_total{rule="Probe opened",priority="warning"}"#), metrics)

        // A broken rules file on SIGHUP changes nothing, and says why.
        try "- rule: Broken\n  plugin: opensnoop\n  condition: pathh == 1\n  output: x\n  priority: info\n".write(toFile: rulesPath, atomically: true, encoding: .utf8)
        XCTAssertTrue(server.hangUp(expect: "reload refused"), server.process.stderr)
        XCTAssertTrue(server.process.stderr.contains("rules.yaml:1: rule 'Broken': condition, for opensnoop, at 1: unknown field 'pathh'"), server.process.stderr)
        // Another rule on SIGHUP: from the next record on, it is the one in force.
        try rules("Second probe", prefix: second, priority: "critical").write(toFile: rulesPath, atomically: true, encoding: .utf8)
        XCTAssertTrue(server.hangUp(expect: "rules: 1 enabled rule"), server.process.stderr)
        seen = false
        for i in 0..<50 where !seen {
            touch("\(second)-\(i)")
            seen = alerts.wait(upTo: 0.2) { $0.contains("\(second)-\(i)") }
        }
        XCTAssertTrue(seen, "the reloaded rule never fired: \(alerts.body.suffix(500))")
        touch("\(first)-after")
        usleep(300_000)
        XCTAssertFalse(alerts.body.contains("\(first)-after"), "the old rule still fired")
        XCTAssertTrue(alerts.body.contains("\"rule\":\"Second probe\""), alerts.body)

        // A bad filter is a 400 naming where it fails; nothing starts.
        let bad = try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "filter": "comm ="])
        XCTAssertEqual(bad.status, 400, bad.text)
        XCTAssertEqual(bad.json?["error"] as? String, "filter 'comm =' at 7: the condition ends where a value was expected")
        let badStream = try api.request("GET", "/api/v1/trackers/opens/events?filter=nope")
        XCTAssertEqual(badStream.status, 400, badStream.text)
        XCTAssertEqual((try api.request("GET", "/api/v1/trackers").json?["trackers"] as? [Any])?.count, 1)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }
}
