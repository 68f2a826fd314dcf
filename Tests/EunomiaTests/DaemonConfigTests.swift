import Foundation
import XCTest
@testable import EunomiaDaemon
@testable import EunomiaSchema

/// eunomia.toml: every key known, typed and ranged, each refusal one line naming the line and key.
final class DaemonConfigTests: XCTestCase {
    override func setUp() {
        // The TOML parser runs in a child: the eunomia executable, not this test bundle.
        TOMLIsolation.helper = TestSupport.eunomiaBinary.path
    }

    func parse(_ text: String) throws -> DaemonConfig { try DaemonConfig.parse(text, path: "e.toml") }

    func refused(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try parse(text)
            XCTFail("accepted: \(text)", file: file, line: line)
            return ""
        } catch let e as EunomiaError {
            XCTAssertFalse(e.message.contains("\n"), "not one line: \(e.message)", file: file, line: line)
            return e.message
        } catch {
            XCTFail("not an EunomiaError: \(error)", file: file, line: line)
            return ""
        }
    }

    func testAFullConfigParses() throws {
        let c = try parse("""
            # comment
            store = "/var/lib/eunomia"
            socket = "/run/eunomia/eunomia.sock"
            listen = "127.0.0.1:8650"
            log_level = "debug"

            [limits]
            max_trackers = 10
            stream_queue_kb = 256
            max_upload_mb = 16

            [[tracker]]
            id = "opens"
            plugin = "opensnoop@^0.1"
            params = { pid = 1234, failed = true, comm = "bash" }
            outputs = ["log", { type = "file", path = "/var/log/eunomia/opens.jsonl", max_mb = 5, keep = 3 }]

            [[tracker]]
            id = "exec.1"
            plugin = "execsnoop"
            """)
        XCTAssertEqual(c.store, "/var/lib/eunomia")
        XCTAssertEqual(c.listen, ListenAddress(host: "127.0.0.1", port: 8650))
        XCTAssertEqual(c.logLevel, .debug)
        XCTAssertEqual(c.limits.maxTrackers, 10)
        XCTAssertEqual(c.limits.streamQueueKB, 256)
        XCTAssertEqual(c.limits.maxUploadMB, 16)
        XCTAssertEqual(c.trackers.count, 2)
        XCTAssertEqual(c.trackers[0].params.sorted(), ["comm=bash", "failed=true", "pid=1234"])
        XCTAssertEqual(c.trackers[0].outputs, [.log, .file(path: "/var/log/eunomia/opens.jsonl", maxBytes: 5 << 20, keep: 3)])
        XCTAssertEqual(c.trackers[0].line, 12)
        XCTAssertEqual(c.trackers[1].outputs, [])
        XCTAssertTrue(try parse("").trackers.isEmpty)
    }

    func testUnknownKeysWrongTypesAndBadValuesNameTheLineAndKey() {
        XCTAssertEqual(refused("store = \"/x\"\nbogus = 1\n"), "e.toml line 2: bogus: unknown key (known: allow_remote, limits, listen, log_level, metrics, registry, rules, socket, store, tracker)")
        XCTAssertEqual(refused("socket = 5\n"), "e.toml line 1: socket: is an integer, expected a string (an absolute path)")
        XCTAssertEqual(refused("\n\nstore = \"relative\"\n"), "e.toml line 3: store: 'relative' is not an absolute path")
        XCTAssertTrue(refused("store = \"/a/../b\"").contains("'..'"))
        XCTAssertTrue(refused("socket = \"/" + String(repeating: "s", count: 200) + "\"").contains("longer than 107"))
        XCTAssertEqual(refused("log_level = \"loud\""), "e.toml line 1: log_level: 'loud' is not one of trace, debug, info, notice, warning, error, critical")
        XCTAssertEqual(refused("allow_remote = \"yes\""), "e.toml line 1: allow_remote: is a string, expected true or false")
        XCTAssertEqual(refused("[limits]\nmax_trackers = 0\n"), "e.toml line 2: limits.max_trackers: 0 is out of range (1 to 1024)")
        XCTAssertEqual(refused("[limits]\n\nstream_queue_kb = \"big\"\n"), "e.toml line 3: limits.stream_queue_kb: is a string, expected an integer")
        XCTAssertEqual(refused("[limits]\nmax_upload_mb = 999999999999\n"), "e.toml line 2: limits.max_upload_mb: 999999999999 is out of range (1 to 128)")
        XCTAssertEqual(refused("[limits]\nwhat = 1\n"), "e.toml line 2: limits.what: unknown key in [limits] (known: max_trackers, stream_queue_kb, max_upload_mb)")
        let tracker = "[[tracker]]\nid = \"a\"\nplugin = \"opensnoop\"\n"
        XCTAssertEqual(refused(tracker + "colour = 1\n"), "e.toml line 4: tracker.colour: unknown key in [[tracker]] (known: id, plugin, params, outputs, filter)")
        XCTAssertEqual(refused(tracker + "filter = 1\n"), "e.toml line 4: tracker.filter: is an integer, expected a string, a condition such as 'comm == \"cat\"'")
        XCTAssertEqual(refused(tracker + "filter = \"\"\n"), "e.toml line 4: tracker.filter: a filter is a condition of 1 to 4096 bytes")
        XCTAssertEqual(refused("rules = \"/etc/r.yaml\"\n"), "e.toml line 1: rules: is a string, expected a list of absolute paths, e.g. [\"/etc/eunomia/rules.yaml\"]")
        XCTAssertEqual(refused("rules = [\"r.yaml\"]\n"), "e.toml line 1: rules: 'r.yaml' is not an absolute path")
        XCTAssertEqual(refused("rules = [\"/r.yaml\", \"/r.yaml\"]\n"), "e.toml line 1: rules: '/r.yaml' is listed twice")
        XCTAssertEqual(refused("[[tracker]]\nid = \"Bad\"\nplugin = \"x\"\n"),
                       "e.toml line 2: tracker.id: 'Bad' is not a tracker id (1-64 characters of a-z, 0-9, '_', '.' or '-', starting with a letter or digit)")
        XCTAssertEqual(refused("[[tracker]]\nplugin = \"x\"\n"), "e.toml line 1: tracker: [[tracker]] 1 has no id")
        XCTAssertEqual(refused("[[tracker]]\nid = \"a\"\n"), "e.toml line 1: tracker: tracker 'a' has no plugin")
        XCTAssertTrue(refused("[[tracker]]\nid = \"a\"\nplugin = \"opensnoop@^x\"\n").hasPrefix("e.toml line 3: tracker.plugin: '^x' in 'opensnoop@^x' is not a version"))
        XCTAssertEqual(refused(tracker + "params = { pid = [1] }\n"), "e.toml line 4: tracker.params: parameter 'pid' is a list, not a string, integer or boolean")
        XCTAssertEqual(refused(tracker + "params = 3\n"), "e.toml line 4: tracker.params: is an integer, expected a table, e.g. params = { pid = 1234 }")
        XCTAssertEqual(refused(tracker + "outputs = [\"syslog\"]\n"), "e.toml line 4: tracker.outputs: 'syslog' is not an output (\"log\", or { type = \"file\", path = ... })")
        XCTAssertEqual(refused(tracker + "outputs = [{ type = \"file\", path = \"rel\" }]\n"), "e.toml line 4: tracker.outputs: path 'rel' is not an absolute path")
        XCTAssertEqual(refused(tracker + "outputs = [{ type = \"file\", path = \"/x\", keep = 1000 }]\n"), "e.toml line 4: tracker.outputs: keep must be an integer from 0 to 100")
        XCTAssertEqual(refused(tracker + "outputs = [\"log\", \"log\"]\n"), "e.toml line 4: tracker.outputs: an output is listed twice")
        // The second [[tracker]] table's line, not the first's.
        XCTAssertEqual(refused(tracker + "\n" + tracker), "e.toml line 6: tracker.id: tracker id 'a' is used twice (also by tracker 1)")
        let twoFiles = "outputs = [{ type = \"file\", path = \"/same\" }]\n"
        XCTAssertEqual(refused(tracker + twoFiles + "[[tracker]]\nid = \"b\"\nplugin = \"x\"\n" + twoFiles),
                       "e.toml line 8: tracker.outputs: file '/same' is already the output of tracker 'a'")
        XCTAssertTrue(refused("[limits]\nmax_trackers = 1\n" + tracker + "[[tracker]]\nid = \"b\"\nplugin = \"x\"\n").contains("more than limits.max_trackers (1)"))
        // [[registry]]: where plugin install NAME looks.
        XCTAssertEqual(try parse("[[registry]]\nurl = \"/srv/r\"\n[[registry]]\nurl = \"https://p.example.com/e\"\n").registries.map(\.description),
                       ["/srv/r", "https://p.example.com/e/"])
        XCTAssertEqual(refused("[[registry]]\nurl = \"/r\"\ncolour = 1\n"), "e.toml line 3: registry.colour: unknown key in [[registry]] (known: url, insecure)")
        XCTAssertEqual(refused("[[registry]]\ninsecure = true\n"), "e.toml line 1: registry: [[registry]] 1 has no url")
        XCTAssertTrue(refused("[[registry]]\nurl = \"ftp://x/y\"\n").hasPrefix("e.toml line 2: registry.url: registry 'ftp://x/y' has scheme 'ftp'"))
        XCTAssertTrue(refused("[[registry]]\nurl = \"http://10.1.2.3/r\"\n").contains("refusing plain http to '10.1.2.3'"))
        XCTAssertEqual(try parse("[[registry]]\nurl = \"http://10.1.2.3/r\"\ninsecure = true\n").registries.first?.insecure, true)
        XCTAssertTrue(refused("[[registry]]\nurl = \"/r\"\n[[registry]]\nurl = \"/r/\"\n").contains("listed twice"))
    }

    func testTOMLSyntaxErrorsNameTheLine() {
        // What toml++ would abort on instead of reporting (a header name starting with '@').
        XCTAssertEqual(refused("[limits]\n[[@racker]]\n"), "e.toml line 2: a table name must start with a letter, a digit, '_', '-' or a quote")
        XCTAssertEqual(refused("[ @x]\n"), "e.toml line 1: a table name must start with a letter, a digit, '_', '-' or a quote")
        // What toml++ aborts on (a value starting with '}'): the parser's child dies, this is one line.
        XCTAssertEqual(refused("outputs = [\"log\",} 1]\n"), "e.toml: not valid TOML (the parser gave up on it)")
        // Not headers: a '[' in a multi-line string or inside an array value.
        XCTAssertTrue(refused("a = \"\"\"\n[@x]\n\"\"\"\n").contains("unknown key"))
        XCTAssertTrue(refused("a = [\n[1], [2]\n]\n").contains("unknown key"))
        XCTAssertTrue(refused("store = \"/x\"\n[limits\n").hasPrefix("e.toml line 2: "), refused("store = \"/x\"\n[limits\n"))
        XCTAssertTrue(refused("a = \"unterminated\n").hasPrefix("e.toml line 1: "))
        XCTAssertTrue(refused("store = \"/x\"\nstore = \"/y\"\n").hasPrefix("e.toml line 2: "))
        XCTAssertTrue(refused("x = 1\u{0}\n").contains("NUL"))
        XCTAssertTrue(refused("n = 99999999999999999999999\n").hasPrefix("e.toml line 1: "))
    }

    func testListenAddresses() throws {
        XCTAssertEqual(try ListenAddress.parse("127.0.0.1:0").port, 0)
        XCTAssertEqual(try ListenAddress.parse("[::1]:8650"), ListenAddress(host: "::1", port: 8650))
        XCTAssertTrue(try ListenAddress.parse("127.3.4.5:1").isLoopback)
        XCTAssertTrue(try ListenAddress.parse("localhost:1").isLoopback)
        XCTAssertFalse(try ListenAddress.parse("0.0.0.0:1").isLoopback)
        for bad in ["127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "example.com:80", "[::g]:1", ":80", "1.2.3:80"] {
            XCTAssertThrowsError(try ListenAddress.parse(bad), bad)
        }
        XCTAssertEqual(refused("listen = \"0.0.0.0:8650\"\n"),
                       "e.toml line 1: listen: '0.0.0.0:8650' is not a loopback address; set allow_remote = true to listen on it (the API gives root-equivalent control; every TCP request needs the token)")
        XCTAssertEqual(try parse("listen = \"0.0.0.0:8650\"\nallow_remote = true\n").listen?.host, "0.0.0.0")
    }

    func testTrackerIDsAndTokens() {
        for ok in ["a", "0", "opens", "a.b-c_d", String(repeating: "a", count: 64)] { XCTAssertTrue(TrackerID.isValid(ok), ok) }
        for bad in ["", "A", "-a", ".a", "a/b", "a b", "é", String(repeating: "a", count: 65), "a\u{0}"] { XCTAssertFalse(TrackerID.isValid(bad), bad) }
        XCTAssertTrue(TrackerID.isValid(TrackerID.generate(plugin: String(repeating: "p", count: 64))))
        XCTAssertTrue(ServerToken.equal(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(ServerToken.equal(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(ServerToken.equal(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(ServerToken.equal([], Array("a".utf8)))
    }

    func testTokenFileIsCreatedPrivateAndReadBack() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("server.token").path
        let first = try ServerToken.loadOrCreate(at: path)
        XCTAssertEqual(first.count, 64)
        XCTAssertEqual(try ServerToken.loadOrCreate(at: path), first, "a second start must keep the token")
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(try ServerToken.read(clientFile: path), String(decoding: first, as: UTF8.self))
        chmod(path, 0o644)
        XCTAssertThrowsError(try ServerToken.loadOrCreate(at: path)) { XCTAssertTrue("\($0)".contains("chmod 600"), "\($0)") }
    }

    /// Random edits of a valid config (bytes flipped, cut, repeated, keys and values swapped):
    /// every one is accepted or refused with one EunomiaError line; none traps.
    func testMutatedConfigsNeverTrap() {
        let base = Array("""
            store = "/var/lib/eunomia"
            listen = "127.0.0.1:8650"
            [limits]
            max_trackers = 10
            [[tracker]]
            id = "opens"
            plugin = "opensnoop@^0.1"
            params = { pid = 1234, failed = true }
            outputs = ["log", { type = "file", path = "/var/log/e.jsonl", max_mb = 5, keep = 3 }]
            [[tracker]]
            id = "b"
            plugin = "execsnoop"
            """.utf8)
        let alphabet = Array("[]{}=\"',.#\n \\@^~-_0123456789aztrue9999999999999999999999".utf8)
        var rng = SystemRandomNumberGenerator()
        var accepted = 0, refused = 0
        // EUNOMIA_CONFIG_MUTATIONS=N runs more; each input is written to /tmp first then, to find a crash.
        let rounds = Int(ProcessInfo.processInfo.environment["EUNOMIA_CONFIG_MUTATIONS"] ?? "") ?? 300
        let debugFile = rounds != 300
        for _ in 0..<rounds {
            var bytes = base
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[i] = alphabet.randomElement(using: &rng)!
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(alphabet.randomElement(using: &rng)!, at: i)
                default:
                    let j = min(bytes.count, i + Int.random(in: 1...40, using: &rng))
                    bytes.insert(contentsOf: bytes[i..<j], at: j)
                }
                if bytes.isEmpty { bytes = base }
            }
            if debugFile { FileManager.default.createFile(atPath: "/tmp/eunomia-last-config.toml", contents: Data(bytes)) }
            do {
                _ = try parse(String(decoding: bytes, as: UTF8.self))
                accepted += 1
            } catch let e as EunomiaError {
                XCTAssertFalse(e.message.contains("\n"), e.message)
                refused += 1
            } catch {
                XCTFail("not an EunomiaError: \(error)")
            }
        }
        XCTAssertGreaterThan(refused, 0)
        print("mutated configs: \(accepted) accepted, \(refused) refused")
    }

    func testSSEFramesEachLine() {
        XCTAssertEqual(String(decoding: API.sseFrames(Array("{\"a\":1}\n{\"b\":2}\n".utf8)), as: UTF8.self), "data: {\"a\":1}\n\ndata: {\"b\":2}\n\n")
    }

    func testCheckConfigCommand() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("e.toml").path
        try "[[tracker]]\nid = \"a\"\nplugin = \"nosuch\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let store = dir.appendingPathComponent("store")
        let bad = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "--check-config", path, "--store", store.path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("eunomia: error: \(path) line 1: tracker 'a': plugin 'nosuch' is not installed"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1)
        try "log_level = \"info\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let good = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "--check-config", path, "--store", store.path])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.hasPrefix("\(path): ok (0 trackers"), good.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.path), "--check-config created the store")
        let missing = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "--check-config", dir.appendingPathComponent("none.toml").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
        let relative = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "--socket", "relative.sock", "--store", store.path])
        XCTAssertEqual(relative.status, 1)
        XCTAssertTrue(relative.stderr.hasPrefix("eunomia: error: --socket 'relative.sock' is not an absolute path"), relative.stderr)
        // A non-loopback listen address without allow_remote: start is refused with one line, nothing created.
        try "listen = \"0.0.0.0:0\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let socket = dir.appendingPathComponent("run/e.sock").path
        let remote = try TestSupport.run(TestSupport.eunomiaBinary.path, ["server", "--config", path, "--socket", socket, "--store", store.path])
        XCTAssertEqual(remote.status, 1)
        XCTAssertEqual(remote.stderr.split(separator: "\n").count, 1, remote.stderr)
        XCTAssertTrue(remote.stderr.hasPrefix("eunomia: error: \(path) line 1: listen: '0.0.0.0:0' is not a loopback address; set allow_remote = true"), remote.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket))
    }
}
