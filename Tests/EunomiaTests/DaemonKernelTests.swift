import Foundation
import XCTest
import EunomiaPackages

/// `eunomia server` as a real process on a real Unix socket and loopback TCP, loading real
/// trackers into the running kernel.
final class DaemonKernelTests: XCTestCase {
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

    func daemon(_ config: String = "", listen: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> DaemonProcess {
        try DaemonProcess(dir: dir, store: store, config: (listen ? "listen = \"127.0.0.1:0\"\n" : "") + config, file: file, line: line)
    }

    /// A file path only this test opens.
    func probe(_ label: String) -> String {
        dir.appendingPathComponent("\(label)-\(UUID().uuidString)").path
    }

    func touch(_ path: String) {
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
    }

    // MARK: The API over each transport

    func checkStartStreamStop(_ api: HTTPTarget, sse: Bool, server: DaemonProcess) throws {
        let start = try api.request("POST", "/api/v1/trackers", json: ["id": "opens", "plugin": "opensnoop", "params": ["pid": Int(getpid())]])
        XCTAssertEqual(start.status, 201, start.text)
        XCTAssertEqual(start.json?["id"] as? String, "opens")
        XCTAssertEqual(start.json?["state"] as? String, "running")
        XCTAssertEqual((start.json?["params"] as? [String: Any])?["pid"] as? Int, Int(getpid()))

        let stream = try StreamReader(api, "/api/v1/trackers/opens/events" + (sse ? "" : "?format=ndjson"),
                                      headers: sse ? ["Accept": "text/event-stream"] : [:])
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.reply?.status == 200 }, "no stream: \(stream.body)")
        XCTAssertEqual(stream.reply?.headers["content-type"], sse ? "text/event-stream" : "application/x-ndjson")
        XCTAssertEqual(try api.request("GET", "/api/v1/trackers/opens").json?["streams"] as? Int, 1)
        // The subscriber is on the router once the server answered; an open now is seen.
        let path = probe("api")
        var seen = false
        for _ in 0..<50 where !seen {
            touch(path)
            seen = stream.wait(upTo: 0.2) { $0.contains(path) }
        }
        XCTAssertTrue(seen, "\(path) never showed up in the stream: \(stream.body.suffix(500))")
        let lines = stream.body.split(separator: "\n").map(String.init).filter { $0.contains(path) }
        let line = try XCTUnwrap(lines.first)
        let jsonText = sse ? String(line.dropFirst("data: ".count)) : line
        if sse { XCTAssertTrue(line.hasPrefix("data: {"), line) }
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(jsonText.utf8)) as? [String: Any], jsonText)
        XCTAssertEqual(record["pid"] as? Int, Int(getpid()))
        XCTAssertEqual(record["path"] as? String, path)

        let info = try api.request("GET", "/api/v1/trackers/opens")
        XCTAssertEqual(info.status, 200)
        XCTAssertGreaterThanOrEqual(info.json?["events"] as? Int ?? 0, 1)
        XCTAssertNotNil(info.json?["dropped"] as? [String: Any])

        let stop = try api.request("DELETE", "/api/v1/trackers/opens")
        XCTAssertEqual(stop.status, 200, stop.text)
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.ended }, "the stream did not end with the tracker")
        XCTAssertEqual(try api.request("GET", "/api/v1/trackers/opens").status, 404)
        XCTAssertEqual((try api.request("GET", "/api/v1/trackers").json?["trackers"] as? [Any])?.count, 0)
    }

    func testStartStreamStopOverTheUnixSocket() throws {
        let server = try daemon()
        var st = stat()
        XCTAssertEqual(lstat(server.socket, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "socket mode")
        XCTAssertEqual(st.st_uid, 0)
        try checkStartStreamStop(server.unix, sse: true, server: server)
        // A second server on the same socket is refused, and the first keeps it.
        let second = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "--socket", server.socket, "--store", store.path])
        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(second.stderr, "eunomia: error: another server is listening on \(server.socket)\n")
        XCTAssertEqual(try server.unix.request("GET", "/api/v1/health").status, 200)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.socket), "socket left behind")
    }

    func testStartStreamStopOverTCPWithTheToken() throws {
        let server = try daemon(listen: true)
        var st = stat()
        XCTAssertEqual(lstat(store.appendingPathComponent("server.token").path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "token file mode")
        XCTAssertEqual(server.token.count, 64)
        XCTAssertTrue(server.process.stderr.contains(store.appendingPathComponent("server.token").path), "token path not printed")
        try checkStartStreamStop(server.tcp(token: server.token), sse: false, server: server)
        try checkStartStreamStop(server.tcp(token: server.token), sse: true, server: server)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    func testTCPWithoutTheRightTokenIs401AndChangesNothing() throws {
        let server = try daemon(listen: true)
        let before = TestSupport.snapshot(store)
        let pkg = try Data(contentsOf: try TestSupport.opensnoopPackage())
        // One hex digit off: a first digit other than the token's own (a fixed "0" was the
        // right token whenever the real one started with 0).
        let oneOff = (server.token.first == "0" ? "1" : "0") + String(server.token.dropFirst())
        for token in [nil, "", oneOff, server.token + "00", "not-hex"] as [String?] {
            let api = server.tcp(token: token)
            for (method, path, body) in [("GET", "/api/v1/trackers", nil), ("POST", "/api/v1/trackers", #"{"plugin":"opensnoop"}"#),
                                         ("DELETE", "/api/v1/plugins/opensnoop", nil), ("POST", "/api/v1/reload", nil),
                                         ("GET", "/api/v1/health", nil)] as [(String, String, String?)] {
                let r = try api.request(method, path, body: body.map { Data($0.utf8) })
                XCTAssertEqual(r.status, 401, "\(method) \(path) with token \(token ?? "none"): \(r.text)")
                XCTAssertFalse(r.error.isEmpty)
            }
            XCTAssertEqual(try api.request("POST", "/api/v1/plugins", body: pkg).status, 401)
        }
        // Nothing changed: no tracker, the store as it was; the socket still works without one.
        XCTAssertEqual((try server.unix.request("GET", "/api/v1/trackers").json?["trackers"] as? [Any])?.count, 0)
        XCTAssertEqual(TestSupport.snapshot(store), before)
        XCTAssertEqual(try server.tcp(token: server.token).request("GET", "/api/v1/health").status, 200)
        XCTAssertEqual(server.terminate(), 0)
    }

    func testBadInputIs400NamingWhatIsWrong() throws {
        let server = try daemon()
        let api = server.unix
        func expect(_ status: Int, _ method: String, _ path: String, json: Any? = nil, body: String? = nil, mentions: String,
                    line: UInt = #line) throws {
            let r = try api.request(method, path, body: body.map { Data($0.utf8) }, json: json)
            XCTAssertEqual(r.status, status, r.text, line: line)
            XCTAssertTrue(r.error.contains(mentions), "error \(r.error.debugDescription) does not mention \(mentions)", line: line)
            XCTAssertEqual(r.headers["content-type"], "application/json", line: line)
        }
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "params": ["nosuch": 1]], mentions: "nosuch")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "params": ["pid": "abc"]], mentions: "pid")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "params": ["pid": -5]], mentions: "pid")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "params": ["pid": [1]]], mentions: "pid")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "Bad Id"], mentions: "Bad Id")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "../etc"], mentions: "../etc")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop@^x"], mentions: "^x")
        try expect(400, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "extra": 1], mentions: "extra")
        try expect(400, "POST", "/api/v1/trackers", body: "{not json", mentions: "JSON")
        try expect(400, "POST", "/api/v1/trackers", body: "[1,2]", mentions: "object")
        try expect(404, "POST", "/api/v1/trackers", json: ["plugin": "nosuch"], mentions: "nosuch")
        try expect(400, "GET", "/api/v1/trackers/BAD", mentions: "BAD")
        try expect(404, "GET", "/api/v1/trackers/nosuch", mentions: "nosuch")
        try expect(400, "GET", "/api/v1/trackers/x/events?format=xml", mentions: "xml")
        try expect(400, "DELETE", "/api/v1/plugins/opensnoop/1.x", mentions: "1.x")
        try expect(404, "DELETE", "/api/v1/plugins/nosuch", mentions: "nosuch")
        try expect(413, "POST", "/api/v1/trackers", body: "{\"plugin\":\"" + String(repeating: "a", count: 100_000) + "\"}", mentions: "large")
        // An integer out of range, an id taken.
        let ok = try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "one", "params": ["pid": Int(getpid())]])
        XCTAssertEqual(ok.status, 201, ok.text)
        try expect(409, "POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "one"], mentions: "one")
        try expect(400, "POST", "/api/v1/trackers/one/swap", json: ["version": "not a version"], mentions: "not a version")
        try expect(404, "POST", "/api/v1/trackers/one/swap", json: ["version": "9.9.9"], mentions: "9.9.9")
        XCTAssertEqual((try api.request("GET", "/api/v1/trackers").json?["trackers"] as? [[String: Any]])?.map { $0["id"] as? String }, ["one"])
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    func testTamperedUploadIs400AndTheStoreIsUnchanged() throws {
        let server = try daemon()
        let api = server.unix
        var pkg = [UInt8](try Data(contentsOf: try TestSupport.opensnoopPackage()))
        let before = TestSupport.snapshot(store)
        // A flipped byte in the middle of the package: a CRC, hash or zip structure check fails.
        pkg[pkg.count / 2] ^= 0x5A
        let r = try api.request("POST", "/api/v1/plugins", body: Data(pkg), headers: ["Content-Type": "application/octet-stream"])
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertTrue(r.error.hasPrefix("package: "), r.error)
        XCTAssertFalse(r.error.contains("eunomia-upload"), "temporary file name leaked: \(r.error)")
        XCTAssertEqual(TestSupport.snapshot(store), before, "a refused package changed the store")
        XCTAssertEqual(try api.request("POST", "/api/v1/plugins", body: Data("not a zip".utf8)).status, 400)
        XCTAssertEqual(try api.request("POST", "/api/v1/plugins").status, 400)
        XCTAssertEqual(TestSupport.snapshot(store), before)

        // The real package: already installed (200), then after removal installed again (201).
        let good = try Data(contentsOf: try TestSupport.opensnoopPackage())
        let again = try api.request("POST", "/api/v1/plugins", body: good, headers: ["Content-Type": "application/octet-stream"])
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(again.json?["installed"] as? Bool, false)
        XCTAssertEqual(try api.request("DELETE", "/api/v1/plugins/opensnoop").status, 200)
        let fresh = try api.request("POST", "/api/v1/plugins", body: good, headers: ["Content-Type": "application/octet-stream"])
        XCTAssertEqual(fresh.status, 201, fresh.text)
        XCTAssertEqual(fresh.json?["name"] as? String, "opensnoop")
        let list = try api.request("GET", "/api/v1/plugins")
        let plugins = list.json?["plugins"] as? [[String: Any]] ?? []
        XCTAssertEqual(plugins.map { $0["name"] as? String }, ["opensnoop"])
        XCTAssertEqual(server.terminate(), 0)
    }

    /// Uploads follow `plugin install`'s rule: a trusted signature, or allow_unsigned=true.
    func testUploadsNeedATrustedSignatureOrAllowUnsigned() throws {
        let server = try daemon()
        let api = server.unix
        var unsigned = try HostilePackage.opensnoop()
        unsigned.setIdentity("version", "0.3.0")
        let body = try Data(contentsOf: try unsigned.write(to: dir.appendingPathComponent("unsigned.pkg")))
        let before = TestSupport.snapshot(store)
        let refused = try api.request("POST", "/api/v1/plugins", body: body)
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertEqual(refused.error, "package: upload: opensnoop 0.3.0 is not signed, and this store installs only packages signed by a key it trusts: sign it (eunomia plugin sign FILE.pkg --key NAME.key), trust the signer's public key (eunomia key trust FILE.pub), or install it unsigned with --allow-unsigned (HTTP API: ?allow_unsigned=true)")
        let bad = try api.request("POST", "/api/v1/plugins?allow_unsigned=yes", body: body)
        XCTAssertEqual(bad.status, 400, bad.text)
        XCTAssertEqual(bad.error, "allow_unsigned 'yes' is not true or false")
        XCTAssertEqual(try api.request("POST", "/api/v1/plugins?allow_unsigned=false", body: body).status, 400)
        XCTAssertEqual(TestSupport.snapshot(store), before, "a refused upload changed the store")

        let accepted = try api.request("POST", "/api/v1/plugins?allow_unsigned=true", body: body)
        XCTAssertEqual(accepted.status, 201, accepted.text)
        XCTAssertEqual(accepted.json?["unsigned"] as? Bool, true)
        XCTAssertEqual((accepted.json?["signed_by"] as? [Any])?.count, 0)
        let versions = ((try api.request("GET", "/api/v1/plugins").json?["plugins"] as? [[String: Any]])?.first?["versions"] as? [[String: Any]]) ?? []
        XCTAssertEqual(versions.map { $0["version"] as? String }, ["0.1.0", "0.3.0"])
        XCTAssertEqual(versions.map { $0["unsigned"] as? Bool }, [false, true])
        let signer = (versions.first?["signed_by"] as? [[String: Any]])?.first
        let buildKey = try KeyFiles.readPublic(TestSupport.buildPublicKey.path)
        XCTAssertEqual(signer?["key_id"] as? String, buildKey.keyID)
        XCTAssertEqual(signer?["name"] as? String, "local-build")
        XCTAssertEqual(signer?["fingerprint"] as? String, buildKey.key.fingerprint)
        XCTAssertEqual(server.terminate(), 0)
        XCTAssertTrue(server.process.stderr.contains("opensnoop@0.3.0 (build \(accepted.json?["build"] as? String ?? "?")) is installed unsigned"), server.process.stderr)
    }

    func testRemovingAPluginARunningTrackerUsesIs409() throws {
        let server = try daemon()
        let api = server.unix
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "busy", "params": ["pid": 1]]).status, 201)
        let before = TestSupport.snapshot(store)
        for path in ["/api/v1/plugins/opensnoop", "/api/v1/plugins/opensnoop/0.1.0"] {
            let r = try api.request("DELETE", path)
            XCTAssertEqual(r.status, 409, r.text)
            XCTAssertTrue(r.error.contains("busy"), r.error)
        }
        XCTAssertEqual(TestSupport.snapshot(store), before)
        let listed = try api.request("GET", "/api/v1/plugins").json?["plugins"] as? [[String: Any]]
        let build = (listed?.first?["versions"] as? [[String: Any]])?.first
        XCTAssertEqual(build?["in_use_by"] as? [String], ["busy"])
        XCTAssertEqual(try api.request("DELETE", "/api/v1/trackers/busy").status, 200)
        let removed = try api.request("DELETE", "/api/v1/plugins/opensnoop/0.1.0")
        XCTAssertEqual(removed.status, 200, removed.text)
        XCTAssertEqual(server.terminate(), 0)
    }

    func testStartingPastMaxTrackersIs409AndStartsNothing() throws {
        let server = try daemon("[limits]\nmax_trackers = 2\n")
        let api = server.unix
        for id in ["one", "two"] {
            let r = try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": id, "params": ["pid": 1]])
            XCTAssertEqual(r.status, 201, r.text)
        }
        let third = try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "three", "params": ["pid": 1]])
        XCTAssertEqual(third.status, 409, third.text)
        XCTAssertTrue(third.error.contains("max_trackers"), third.error)
        XCTAssertEqual(try api.request("GET", "/api/v1/trackers/three").status, 404)
        XCTAssertEqual((try api.request("GET", "/api/v1/trackers").json?["trackers"] as? [Any])?.count, 2)
        // A slot freed is a slot usable again.
        XCTAssertEqual(try api.request("DELETE", "/api/v1/trackers/one").status, 200)
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "three", "params": ["pid": 1]]).status, 201)
        XCTAssertEqual(server.terminate(), 0)
    }

    // MARK: Shutdown

    func testSIGTERMStopsEveryTrackerAndLeavesNoBPFBehind() throws {
        let out = dir.appendingPathComponent("out/opens.jsonl").path
        let server = try daemon("""
            [[tracker]]
            id = "from-config"
            plugin = "opensnoop"
            params = { pid = \(getpid()) }
            outputs = ["log", { type = "file", path = "\(out)" }]
            """)
        let api = server.unix
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "from-api"]).status, 201)
        let stream = try StreamReader(api, "/api/v1/trackers/from-api/events?format=sse")
        XCTAssertTrue(stream.wait(upTo: 10) { $0.contains(": tracker") })
        let path = probe("term")
        touch(path)
        XCTAssertTrue(server.process.wait(upTo: 10) { server.process.stderr.contains(path) }, "the log output never showed the record")

        let held = KernelBPF.held(by: server.pid)
        XCTAssertFalse(held.programs.isEmpty, "the server holds no BPF program")
        XCTAssertFalse(held.links.isEmpty, "the server holds no BPF link")
        let during = try KernelBPF.bpftool()
        XCTAssertTrue(held.programs.isSubset(of: Set(during.programs.keys)), "bpftool does not show the server's programs")

        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.ended }, "the stream did not end at shutdown")
        let after = try KernelBPF.bpftool()
        let leftPrograms = held.programs.intersection(after.programs.keys)
        let leftLinks = held.links.intersection(after.links.keys)
        XCTAssertTrue(leftPrograms.isEmpty, "programs left in the kernel: \(leftPrograms.map { "\($0) \(after.programs[$0] ?? "")" })")
        XCTAssertTrue(leftLinks.isEmpty, "links left in the kernel: \(leftLinks)")
        // The file output was written out before exit.
        let written = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        XCTAssertTrue(written.contains(path), "file output lacks the record: \(written.suffix(300))")
        XCTAssertTrue(server.process.stderr.contains("stopped"), server.process.stderr)
    }

    // MARK: Config reload

    func list(_ api: HTTPTarget) throws -> [String: [String: Any]] {
        let trackers = try api.request("GET", "/api/v1/trackers").json?["trackers"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: trackers.map { ($0["id"] as? String ?? "", $0) })
    }

    func testSIGHUPStartsStopsSwapsAndRestartsTrackers() throws {
        let newer = try PluginBuilds.package("opensnoop", version: "0.2.0", in: dir.appendingPathComponent("builds"))
        XCTAssertEqual(try TestSupport.eunomia(["plugin", "install", newer.path], store: store).status, 0)
        func tracker(_ id: String, _ plugin: String, pid: Int) -> String {
            "[[tracker]]\nid = \"\(id)\"\nplugin = \"\(plugin)\"\nparams = { pid = \(pid) }\n"
        }
        let server = try daemon(tracker("gone", "opensnoop", pid: 1) + tracker("changed", "opensnoop", pid: 1)
                                + tracker("swapped", "opensnoop@0.1.0", pid: 1) + tracker("same", "opensnoop", pid: 1))
        let api = server.unix
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop@0.1.0", "id": "by-api"]).status, 201)
        let before = try list(api)
        XCTAssertEqual(Set(before.keys), ["gone", "changed", "swapped", "same", "by-api"])
        XCTAssertEqual(before["same"]?["origin"] as? String, "config")
        XCTAssertEqual(before["by-api"]?["origin"] as? String, "api")

        try server.rewrite(config: tracker("changed", "opensnoop", pid: 2) + tracker("swapped", "opensnoop@0.2.0", pid: 1)
                           + tracker("same", "opensnoop", pid: 1) + tracker("added", "opensnoop", pid: 1))
        XCTAssertTrue(server.hangUp(expect: "reload: "), server.process.stderr)
        let after = try list(api)
        XCTAssertEqual(Set(after.keys), ["changed", "swapped", "same", "added", "by-api"], server.process.stderr)
        XCTAssertEqual((after["changed"]?["params"] as? [String: Any])?["pid"] as? Int, 2)
        XCTAssertNotEqual(after["changed"]?["started_at"] as? String, before["changed"]?["started_at"] as? String)
        XCTAssertEqual(after["swapped"]?["version"] as? String, "0.2.0")
        XCTAssertEqual(after["swapped"]?["swaps"] as? Int, 1)
        XCTAssertEqual(after["swapped"]?["started_at"] as? String, before["swapped"]?["started_at"] as? String)
        for id in ["same", "by-api"] {
            XCTAssertEqual(after[id]?["started_at"] as? String, before[id]?["started_at"] as? String, "\(id) was touched")
            XCTAssertEqual(after[id]?["build"] as? String, before[id]?["build"] as? String)
            XCTAssertEqual(after[id]?["swaps"] as? Int, 0)
        }
        XCTAssertTrue(server.process.stderr.contains("reload: 1 started, 1 stopped, 1 swapped, 1 restarted, 1 unchanged, 0 failed"),
                      server.process.stderr)

        // The CLI's reload does the same over the socket: now nothing changes.
        let cli = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "reload", "--socket", server.socket])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertTrue(cli.stdout.contains("0 started, 0 stopped, 0 swapped, 0 restarted, 4 unchanged"), cli.stdout)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    func testABrokenConfigOnSIGHUPChangesNothing() throws {
        let good = "[[tracker]]\nid = \"keep\"\nplugin = \"opensnoop\"\nparams = { pid = 1 }\n"
        let server = try daemon(good)
        let api = server.unix
        func summary(_ t: [String: Any]) -> String {
            let params = (try? JSONSerialization.data(withJSONObject: t["params"] ?? [:], options: [.sortedKeys])) ?? Data()
            return "\(t["build"] ?? "") \(t["started_at"] ?? "") \(String(decoding: params, as: UTF8.self))"
        }
        let before = try list(api).mapValues(summary)
        let broken = [
            good + "bogus = 1\n",                                                   // unknown key
            good + "[[tracker]]\nid = \"x\"\nplugin = \"nosuch\"\n",                 // not installed
            good + "[[tracker]]\nid = \"x\"\nplugin = \"opensnoop\"\nparams = { nosuch = 1 }\n",  // bad parameter
            good + "[[tracker]]\nid = \"keep\"\nplugin = \"opensnoop\"\n",           // duplicate id
            "[[tracker]]\nid = \"keep\"\nplugin = \"opensnoop\"\nparams = { pid = \"x\" }\n",  // a change that does not check
            good + "[limits\n",                                                     // TOML syntax
            good + "[[tracker]]\nid = \"x\"\nplugin = \"opensnoop\"\noutputs = [\"log\",} 1]\n",  // aborts toml++ (isolated)
        ]
        for (i, config) in broken.enumerated() {
            try server.rewrite(config: config)
            XCTAssertTrue(server.hangUp(expect: "reload refused"), "config \(i): \(server.process.stderr)")
            let now = try list(api).mapValues(summary)
            XCTAssertEqual(now, before, "config \(i) changed the trackers")
            let r = try api.request("POST", "/api/v1/reload")
            XCTAssertEqual(r.status, 400, "config \(i): \(r.text)")
            XCTAssertTrue(r.error.contains(server.configPath) || r.error.contains("tracker"), r.error)
            // The CLI prints the same line.
            let cli = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "reload", "--socket", server.socket])
            XCTAssertEqual(cli.status, 1)
            XCTAssertTrue(cli.stderr.hasPrefix("eunomia: error: "), cli.stderr)
            XCTAssertEqual(cli.stderr.split(separator: "\n").count, 1, cli.stderr)
        }
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    // MARK: Outputs

    func testFileOutputRotatesBySizeAndKeepsN() throws {
        let out = dir.appendingPathComponent("logs/opens.jsonl").path
        let server = try daemon("""
            [[tracker]]
            id = "rotating"
            plugin = "opensnoop"
            params = { pid = \(getpid()) }
            outputs = [{ type = "file", path = "\(out)", max_mb = 1, keep = 2 }]
            """)
        // About 300 bytes of JSON per open: 12 000 opens make about 3.6 MB, three rotations at 1 MiB.
        let long = dir.appendingPathComponent("rotate-" + String(repeating: "x", count: 150)).path
        for i in 0..<12_000 {
            let fd = open("\(long)-\(i % 10)", O_CREAT | O_WRONLY, 0o600)
            if fd >= 0 { close(fd) }
            if i % 2000 == 0 { usleep(50_000) }
        }
        let stopped = try server.unix.request("DELETE", "/api/v1/trackers/rotating")
        XCTAssertEqual(stopped.status, 200, stopped.text)
        var lines = 0
        for name in [out, out + ".1", out + ".2"] {
            let text = try String(contentsOfFile: name, encoding: .utf8)
            let size = text.utf8.count
            XCTAssertLessThanOrEqual(size, 1 << 20, "\(name) is over max_mb")
            for line in text.split(separator: "\n") {
                XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line.utf8)), "\(name): a line is not JSON (split by rotation?)")
                lines += 1
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".3"), "keep = 2 kept a third file")
        XCTAssertGreaterThan(lines, 3000)
        XCTAssertNotNil((stopped.json?["dropped"] as? [String: Int])?["file:\(out)"], "drops of the file output are not shown: \(stopped.text)")
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    func testASlowStreamClientDropsAndIsCountedWithoutStallingTheTracker() throws {
        let server = try daemon("[limits]\nstream_queue_kb = 4\n")
        let api = server.unix
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "slow", "params": ["pid": Int(getpid())]]).status, 201)
        // A client that asks for the stream and never reads it.
        let fd = try api.connect()
        defer { close(fd) }
        try api.writeAll(fd, api.head("GET", "/api/v1/trackers/slow/events?format=ndjson", headers: [:], bodyCount: nil))
        usleep(300_000)
        let long = dir.appendingPathComponent("slow-" + String(repeating: "y", count: 150)).path
        for i in 0..<20_000 {
            let f = open("\(long)-\(i % 10)", O_CREAT | O_WRONLY, 0o600)
            if f >= 0 { close(f) }
        }
        var info: [String: Any]?
        let deadline = Date().addingTimeInterval(10)
        repeat {
            info = try api.request("GET", "/api/v1/trackers/slow").json
            let seen = (info?["events"] as? Int ?? 0) + (info?["lost"] as? Int ?? 0)
            if ((info?["dropped"] as? [String: Int])?["stream-1"] ?? 0) > 0, seen >= 20_000 { break }
            usleep(100_000)
        } while Date() < deadline
        let dropped = (info?["dropped"] as? [String: Int])?["stream-1"] ?? 0
        XCTAssertGreaterThan(dropped, 0, "a client that never reads lost nothing? \(info ?? [:])")
        // Every open reached the host (or the ring buffer counted it lost): the loop kept going.
        XCTAssertGreaterThanOrEqual((info?["events"] as? Int ?? 0) + (info?["lost"] as? Int ?? 0), 20_000,
                                    "the tracker stalled behind a slow client: \(info ?? [:])")
        XCTAssertEqual(try api.request("DELETE", "/api/v1/trackers/slow").status, 200)
        // The client still does not read: shutdown cuts its connection after the grace period.
        let began = Date()
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(began), 20, "a client that never reads held up the shutdown")
    }

    func testADisconnectingClientRemovesItsSubscriber() throws {
        let server = try daemon()
        let api = server.unix
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "d", "params": ["pid": 1]]).status, 201)
        func streams() throws -> Int { try api.request("GET", "/api/v1/trackers/d").json?["streams"] as? Int ?? -1 }
        XCTAssertEqual(try streams(), 0)
        let a = try StreamReader(api, "/api/v1/trackers/d/events?format=sse")
        let b = try StreamReader(api, "/api/v1/trackers/d/events?format=ndjson")
        XCTAssertTrue(a.wait(upTo: 10) { _ in a.reply?.status == 200 } && b.wait(upTo: 10) { _ in b.reply?.status == 200 })
        XCTAssertEqual(try streams(), 2)
        a.disconnect()
        let end = Date().addingTimeInterval(10)
        while try streams() != 1 && Date() < end { usleep(50_000) }
        XCTAssertEqual(try streams(), 1, "the disconnected client's subscriber is still there")
        b.disconnect()
        while try streams() != 0 && Date() < end { usleep(50_000) }
        XCTAssertEqual(try streams(), 0)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    func testAReportArrivesAsOneJSONObject() throws {
        XCTAssertEqual(try TestSupport.eunomia(["plugin", "install", try TestSupport.package("syscount").path], store: store).status, 0)
        let server = try daemon()
        let api = server.unix
        let start = try api.request("POST", "/api/v1/trackers", json: ["plugin": "syscount", "id": "calls", "params": ["interval": 1]])
        XCTAssertEqual(start.status, 201, start.text)
        let stream = try StreamReader(api, "/api/v1/trackers/calls/events?format=ndjson")
        XCTAssertTrue(stream.wait(upTo: 15) { $0.contains("\n") }, "no report in 15 s: \(stream.body)")
        let first = try XCTUnwrap(stream.body.split(separator: "\n").first.map(String.init))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any], first)
        XCTAssertFalse(report.isEmpty)
        XCTAssertTrue(report.values.contains { $0 is [Any] }, "a report holds its rows: \(first.prefix(300))")
        XCTAssertEqual(try api.request("DELETE", "/api/v1/trackers/calls").status, 200)
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.ended })
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    // MARK: Swap

    func testSwapOverTheAPIReturnsTheReport() throws {
        let newer = try PluginBuilds.package("opensnoop", version: "0.2.0", in: dir.appendingPathComponent("builds"))
        let server = try daemon()
        let api = server.unix
        let upload = try api.request("POST", "/api/v1/plugins", body: try Data(contentsOf: newer))
        XCTAssertEqual(upload.status, 201, upload.text)
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop@0.1.0", "id": "s", "params": ["pid": Int(getpid())]]).status, 201)
        let stream = try StreamReader(api, "/api/v1/trackers/s/events?format=ndjson")
        XCTAssertTrue(stream.wait(upTo: 10) { _ in stream.reply?.status == 200 })
        let swap = try api.request("POST", "/api/v1/trackers/s/swap", json: ["version": "^0.2"])
        XCTAssertEqual(swap.status, 200, swap.text)
        XCTAssertEqual((swap.json?["from"] as? [String: Any])?["version"] as? String, "0.1.0")
        XCTAssertEqual((swap.json?["to"] as? [String: Any])?["version"] as? String, "0.2.0")
        XCTAssertEqual(swap.json?["lost_in_swap"] as? Int, 0)
        // The stream goes on across the swap.
        let path = probe("after-swap")
        var seen = false
        for _ in 0..<50 where !seen {
            touch(path)
            seen = stream.wait(upTo: 0.2) { $0.contains(path) }
        }
        XCTAssertTrue(seen, "no record after the swap on the same stream")
        let info = try api.request("GET", "/api/v1/trackers/s").json
        XCTAssertEqual(info?["version"] as? String, "0.2.0")
        XCTAssertEqual(info?["swaps"] as? Int, 1)
        // The CLI's swap back.
        let cli = try TestSupport.run(TestSupport.eunomiaBinary.path, ["tracker", "swap", "s", "0.1.0", "--socket", server.socket])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertTrue(cli.stdout.contains("opensnoop@0.2.0") && cli.stdout.contains("-> opensnoop@0.1.0"), cli.stdout)
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
    }

    // MARK: The CLI client

    func testCLIClientDrivesTheServer() throws {
        let server = try daemon(listen: true)
        let socketArgs = ["--socket", server.socket]
        let bin = TestSupport.eunomiaBinary.path
        let start = try TestSupport.run(bin, ["tracker", "start", "opensnoop", "--id", "cli", "--param", "pid=\(getpid())"] + socketArgs)
        XCTAssertEqual(start.status, 0, start.stderr)
        XCTAssertTrue(start.stdout.hasPrefix("started cli: opensnoop@0.1.0"), start.stdout)
        let events = try LiveProcess(TestSupport.eunomiaBinary, ["tracker", "events", "cli"] + socketArgs, environment: [:])
        let path = probe("cli")
        var seen = false
        for _ in 0..<50 where !seen {
            touch(path)
            seen = events.wait(upTo: 0.2) { events.stdout.contains(path) }
        }
        XCTAssertTrue(seen, "tracker events never printed \(path): \(events.stderr)")
        // Over TCP with the token file.
        let tcp = ["--server", "http://127.0.0.1:\(server.port ?? 0)", "--store", store.path]
        let list = try TestSupport.run(bin, ["tracker", "list"] + tcp)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("cli") && list.stdout.contains("running"), list.stdout)
        let wrongToken = dir.appendingPathComponent("wrong.token").path
        try String(repeating: "ab", count: 32).write(toFile: wrongToken, atomically: true, encoding: .utf8)
        let denied = try TestSupport.run(bin, ["tracker", "list", "--server", "http://127.0.0.1:\(server.port ?? 0)", "--token-file", wrongToken])
        XCTAssertEqual(denied.status, 1)
        XCTAssertTrue(denied.stderr.hasPrefix("eunomia: error: missing or wrong token"), denied.stderr)
        // Errors are the same one line as local commands.
        let bad = try TestSupport.run(bin, ["tracker", "start", "opensnoop", "--param", "nosuch=1"] + socketArgs)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("eunomia: error: 'nosuch' is not a parameter of opensnoop"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1)
        let stop = try TestSupport.run(bin, ["tracker", "stop", "cli"] + socketArgs)
        XCTAssertEqual(stop.status, 0, stop.stderr)
        XCTAssertTrue(stop.stdout.hasPrefix("stopped cli: "), stop.stdout)
        XCTAssertEqual(events.interruptAndWait(), 0, "tracker events should end with the tracker: \(events.stderr)")
        let none = try TestSupport.run(bin, ["tracker", "stop", "cli"] + socketArgs)
        XCTAssertEqual(none.status, 1)
        XCTAssertEqual(none.stderr, "eunomia: error: no tracker 'cli'\n")
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
        let unreachable = try TestSupport.run(bin, ["tracker", "list"] + socketArgs)
        XCTAssertEqual(unreachable.status, 1)
        XCTAssertTrue(unreachable.stderr.hasPrefix("eunomia: error: cannot reach the server at unix:"), unreachable.stderr)
    }

    // MARK: Concurrency

    func testFiftyConcurrentClientsLeaveAConsistentState() throws {
        let newer = try PluginBuilds.package("opensnoop", version: "0.2.0", in: dir.appendingPathComponent("builds"))
        XCTAssertEqual(try TestSupport.eunomia(["plugin", "install", newer.path], store: store).status, 0)
        let server = try daemon()
        let api = server.unix
        // How many programs one opensnoop tracker holds.
        XCTAssertEqual(try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "probe", "params": ["pid": 1]]).status, 201)
        let perTracker = KernelBPF.held(by: server.pid).programs.count
        XCTAssertGreaterThan(perTracker, 0)
        XCTAssertEqual(try api.request("DELETE", "/api/v1/trackers/probe").status, 200)

        let ids = (0..<8).map { "c\($0)" }
        let statuses = Locked<[String: Int]>([:])
        let bad = Locked<[String]>([])
        let group = DispatchGroup()
        let began = Date()
        for client in 0..<50 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var rng = SystemRandomNumberGenerator()
                for step in 0..<4 {
                    let id = ids[Int.random(in: 0..<ids.count, using: &rng)]
                    let (method, path, body): (String, String, Any?)
                    switch (client + step) % 4 {
                    case 0, 1: (method, path, body) = ("POST", "/api/v1/trackers", ["plugin": "opensnoop@0.1.0", "id": id, "params": ["pid": 1]])
                    case 2: (method, path, body) = ("POST", "/api/v1/trackers/\(id)/swap", ["version": Bool.random() ? "0.2.0" : "0.1.0"])
                    default: (method, path, body) = ("DELETE", "/api/v1/trackers/\(id)", nil)
                    }
                    do {
                        let r = try api.request(method, path, json: body)
                        statuses.withLock { $0["\(method) \(r.status)", default: 0] += 1 }
                        if ![200, 201, 404, 409].contains(r.status) { bad.withLock { $0.append("\(method) \(path): \(r.status) \(r.text)") } }
                    } catch {
                        bad.withLock { $0.append("\(method) \(path): \(error)") }
                    }
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 240), .success, "50 clients did not finish in 240 s")
        let elapsed = Date().timeIntervalSince(began)
        print("DaemonKernelTests: 200 requests from 50 clients in \(String(format: "%.1f", elapsed)) s: \(statuses.withLock { $0 })")
        XCTAssertEqual(bad.withLock { $0 }, [], "unexpected answers")

        let trackers = try list(api)
        XCTAssertTrue(trackers.values.allSatisfy { $0["state"] as? String == "running" }, "\(trackers)")
        let held = KernelBPF.held(by: server.pid)
        XCTAssertEqual(held.programs.count, trackers.count * perTracker,
                       "\(trackers.count) trackers listed, \(held.programs.count) programs held (\(perTracker) each)")
        let kernel = try KernelBPF.bpftool()
        XCTAssertTrue(held.programs.isSubset(of: Set(kernel.programs.keys)), "held programs missing from bpftool prog list")
        let attached = Set(kernel.links.filter { held.links.contains($0.key) }.values)
        XCTAssertEqual(attached.count, trackers.count * perTracker, "programs attached by the server's links")
        XCTAssertEqual(server.terminate(), 0, server.process.stderr)
        let after = try KernelBPF.bpftool()
        XCTAssertTrue(held.programs.intersection(after.programs.keys).isEmpty, "programs left after SIGTERM")
    }
}

/// A value shared between test threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
