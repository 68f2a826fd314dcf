import Foundation
import XCTest
@testable import EunomiaDaemon
@testable import EunomiaPackages
@testable import EunomiaRegistry
@testable import EunomiaSchema

/// Registry indexes over a directory and over real HTTP (python3's http.server on 127.0.0.1):
/// install by name and range, search, outdated, upgrade (a live swap in a real server), and
/// bytes that differ from the index refused before anything is unpacked.
final class RegistryIndexTests: XCTestCase {
    var dir: URL!
    var storeURL: URL!
    var server: LiveProcess?

    /// opensnoop 0.1.0 (make build's), 0.2.0 and 1.0.0, built once for the class.
    private static var builtPackages: [URL]?

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory()
        storeURL = dir.appendingPathComponent("store")
        try TestSupport.trustBuildKey(in: storeURL)
    }

    override func tearDownWithError() throws {
        if let server, server.process.isRunning {
            kill(server.process.processIdentifier, SIGKILL)
            server.process.waitUntilExit()
        }
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func packages() throws -> [URL] {
        if let built = Self.builtPackages { return built }
        let builds = FileManager.default.temporaryDirectory.appendingPathComponent("eunomia-test-registry-builds-\(getpid())")
        let built = [try TestSupport.opensnoopPackage(),
                     try PluginBuilds.package("opensnoop", version: "0.2.0", in: builds),
                     try PluginBuilds.package("opensnoop", version: "1.0.0", in: builds),
                     try TestSupport.package("execsnoop")]
        Self.builtPackages = built
        return built
    }

    /// A registry folder holding the packages, indexed by the CLI.
    func registry(_ name: String = "registry") throws -> URL {
        let reg = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: reg, withIntermediateDirectories: true)
        for p in try packages() { try FileManager.default.copyItem(at: p, to: reg.appendingPathComponent(p.lastPathComponent)) }
        let index = try cli(["registry", "index", reg.path])
        XCTAssertEqual(index.status, 0, index.stderr)
        XCTAssertTrue(index.stdout.contains("indexed 2 plugins, 4 versions"), index.stdout)
        return reg
    }

    /// Serves `folder` over HTTP on a port the kernel picks; returns the base URL.
    func serve(_ folder: URL) throws -> String {
        let p = try LiveProcess(URL(fileURLWithPath: "/usr/bin/python3"),
                                ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", folder.path], environment: [:])
        server = p
        XCTAssertTrue(p.wait(upTo: 20) { p.stdout.contains("Serving HTTP on") }, "http.server did not start: \(p.stderr)")
        guard let r = p.stdout.range(of: #"port [0-9]+"#, options: .regularExpression) else {
            throw TestSupport.TestFailure("no port in http.server's output: \(p.stdout)")
        }
        return "http://127.0.0.1:\(p.stdout[r].dropFirst(5))"
    }

    func cli(_ arguments: [String]) throws -> TestSupport.ProcessResult { try TestSupport.eunomia(arguments, store: storeURL) }

    func installedVersions(_ name: String = "opensnoop") throws -> [String] {
        try Store(path: storeURL.path).list().filter { $0.name == name }.map(\.version).sorted()
    }

    // MARK: The index

    func testTheIndexDescribesEachPackageFromItsOwnBytes() throws {
        let reg = try registry()
        let index = try RegistryIndex.decode(Data(contentsOf: reg.appendingPathComponent("index.json")), source: "index.json")
        let opensnoop = try XCTUnwrap(index.plugin(named: "opensnoop"))
        XCTAssertEqual(opensnoop.versions.map(\.version.description), ["1.0.0", "0.2.0", "0.1.0"])
        let newest = opensnoop.versions[0]
        let bytes = try Data(contentsOf: reg.appendingPathComponent(newest.file))
        XCTAssertEqual(newest.size, Int64(bytes.count))
        XCTAssertEqual(newest.sha256, PackageArchive.sha256Hex(bytes))
        let key = try KeyFiles.readPublic(TestSupport.buildPublicKey.path)
        XCTAssertEqual(newest.signedBy, [key.key.keyID])
        XCTAssertEqual(newest.abi, "\(try TestSupport.bundledSchema("opensnoop").abi)", "the ABI its schema declares")
        // Rebuilt from what is there: a removed package drops out.
        try FileManager.default.removeItem(at: reg.appendingPathComponent(newest.file))
        XCTAssertEqual(try cli(["registry", "index", reg.path]).status, 0)
        let again = try RegistryIndex.decode(Data(contentsOf: reg.appendingPathComponent("index.json")), source: "index.json")
        XCTAssertEqual(again.plugin(named: "opensnoop")?.versions.map(\.version.description), ["0.2.0", "0.1.0"])
        // A file that is not a package is one line naming it, and the old index stays.
        try Data("not a zip".utf8).write(to: reg.appendingPathComponent("junk.pkg"))
        let bad = try cli(["registry", "index", reg.path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("junk.pkg"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertEqual(try RegistryIndex.decode(Data(contentsOf: reg.appendingPathComponent("index.json")), source: "i"), again)
    }

    func testHostileIndexesAreOneLine() throws {
        let valid = try RegistryIndex.decode(Data(contentsOf: try registry().appendingPathComponent("index.json")), source: "i")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: valid.encoded()) as? [String: Any])
        func edited(_ edit: (inout [String: Any]) -> Void) throws -> Data {
            var copy = json
            edit(&copy)
            return try JSONSerialization.data(withJSONObject: copy)
        }
        func release(_ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            return { doc in
                var plugins = doc["plugins"] as! [[String: Any]]
                var versions = plugins[0]["versions"] as! [[String: Any]]
                edit(&versions[0])
                plugins[0]["versions"] = versions
                doc["plugins"] = plugins
            }
        }
        let cases: [(Data, String)] = [
            (Data("{".utf8), "not JSON"),
            (try edited { $0["format"] = 2 }, "format 2"),
            (try edited { $0["plugins"] = 7 }, "wrong type"),
            (try edited(release { $0["file"] = "../../etc/passwd" }), "not a plain file name"),
            (try edited(release { $0["file"] = "index.json" }), "not a plain file name"),
            (try edited(release { $0["sha256"] = "ZZ" }), "sha256"),
            (try edited(release { $0["size"] = -1 }), "size"),
            (try edited(release { $0["size"] = Int64(1) << 40 }), "size"),
            (try edited(release { $0["version"] = "1.0" }), "not a semantic version"),
            (try edited(release { $0["abi"] = "1.x" }), "abi"),
            (try edited(release { $0["signed_by"] = ["nothex"] }), "signed_by"),
            (try edited(release { $0.removeValue(forKey: "sha256") }), "missing"),
            (try edited { doc in
                var plugins = doc["plugins"] as! [[String: Any]]
                plugins[0]["description"] = "evil\u{1b}[2Jtext"
                doc["plugins"] = plugins
            }, "description"),
            (try edited { doc in
                let plugins = doc["plugins"] as! [[String: Any]]
                doc["plugins"] = plugins + [plugins[0]]
            }, "listed twice"),
        ]
        for (data, expected) in cases {
            XCTAssertThrowsError(try RegistryIndex.decode(data, source: "index.json"), expected) { error in
                let message = (error as? EunomiaError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(expected), "\(expected): \(message)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        json["generated"] = nil
        XCTAssertEqual(try RegistryIndex.decode(try JSONSerialization.data(withJSONObject: json), source: "i"), valid)
    }

    // MARK: Installing by name over HTTP

    func testInstallByNameAndRangeOverHTTP() throws {
        let base = try serve(try registry())
        let r = ["--registry", base]
        let caret = try cli(["plugin", "install", "opensnoop@^0.1"] + r)
        XCTAssertEqual(caret.status, 0, caret.stderr)
        XCTAssertTrue(caret.stdout.contains("installed opensnoop@0.1.0") && caret.stdout.contains("signed by"), caret.stdout)
        XCTAssertEqual(try cli(["plugin", "install", "opensnoop@~0.2.0"] + r).status, 0)
        XCTAssertEqual(try installedVersions(), ["0.1.0", "0.2.0"])
        let latest = try cli(["plugin", "install", "opensnoop"] + r)
        XCTAssertTrue(latest.stdout.contains("installed opensnoop@1.0.0"), latest.stdout + latest.stderr)
        let again = try cli(["plugin", "install", "opensnoop@latest"] + r)
        XCTAssertTrue(again.stdout.contains("already installed opensnoop@1.0.0"), again.stdout + again.stderr)
        // None matches: one line listing the versions there are.
        let none = try cli(["plugin", "install", "opensnoop@^3"] + r)
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("matches none") && none.stderr.contains("1.0.0, 0.2.0, 0.1.0"), none.stderr)
        let unknown = try cli(["plugin", "install", "nosuch"] + r)
        XCTAssertTrue(unknown.stderr.contains("no registry lists a plugin named 'nosuch'"), unknown.stderr)
        // search, from a config file's [[registry]] this time.
        let config = dir.appendingPathComponent("eunomia.toml")
        try "[[registry]]\nurl = \"\(base)\"\n".write(to: config, atomically: true, encoding: .utf8)
        let search = try cli(["plugin", "search", "open", "--config", config.path])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertTrue(search.stdout.contains("opensnoop") && search.stdout.contains("1.0.0") && !search.stdout.contains("execsnoop"), search.stdout)
        let all = try cli(["plugin", "search", "--all", "--config", config.path])
        XCTAssertEqual(all.stdout.split(separator: "\n").count, 5, all.stdout)
        // A registry that does not answer is an error, not a silent gap.
        server.map { kill($0.process.processIdentifier, SIGKILL); $0.process.waitUntilExit() }
        let down = try cli(["plugin", "install", "execsnoop", "--config", config.path])
        XCTAssertEqual(down.status, 1)
        XCTAssertTrue(down.stderr.contains("cannot fetch") && down.stderr.contains("index.json"), down.stderr)
        XCTAssertEqual(try installedVersions("execsnoop"), [])
    }

    func testOutdatedAndUpgradeWithoutAServer() throws {
        let base = try serve(try registry())
        let r = ["--registry", base]
        XCTAssertEqual(try cli(["plugin", "install", "opensnoop@0.1.0", "execsnoop"] + r).status, 0)
        let outdated = try cli(["plugin", "outdated"] + r)
        XCTAssertEqual(outdated.status, 0, outdated.stderr)
        let rows = outdated.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertEqual(rows.count, 2, outdated.stdout)
        XCTAssertEqual(Array(rows.last?.prefix(3) ?? []), ["opensnoop", "0.1.0", "1.0.0"], outdated.stdout)
        // A range keeps to it.
        let ranged = try cli(["plugin", "upgrade", "opensnoop@^0.1", "--no-swap"] + r)
        XCTAssertTrue(ranged.stdout.contains("nothing to upgrade"), ranged.stdout + ranged.stderr)
        let minor = try cli(["plugin", "upgrade", "opensnoop@~0.2", "--no-swap"] + r)
        XCTAssertTrue(minor.stdout.contains("installed opensnoop@0.2.0"), minor.stdout + minor.stderr)
        // No server at the given socket and --no-swap not given: installs, and says so.
        let upgrade = try cli(["plugin", "upgrade", "--socket", dir.appendingPathComponent("none.sock").path] + r)
        XCTAssertTrue(upgrade.stdout.contains("installed opensnoop@1.0.0"), upgrade.stdout + upgrade.stderr)
        XCTAssertEqual(upgrade.status, 1, "an explicit --socket nobody answers is an error")
        XCTAssertTrue(upgrade.stderr.contains("cannot reach the server"), upgrade.stderr)
        XCTAssertEqual(try installedVersions(), ["0.1.0", "0.2.0", "1.0.0"])
        let current = try cli(["plugin", "outdated"] + r)
        XCTAssertTrue(current.stdout.contains("every installed plugin is at the newest version"), current.stdout)
        let notInstalled = try cli(["plugin", "upgrade", "sigsnoop"] + r)
        XCTAssertTrue(notInstalled.stderr.contains("sigsnoop is not installed"), notInstalled.stderr)
    }

    // MARK: What the index promised

    func testBytesThatDifferFromTheIndexAreRefused() throws {
        let reg = try registry()
        let base = try serve(reg)
        let listed = reg.appendingPathComponent("opensnoop-1.0.0.pkg")
        let original = try Data(contentsOf: listed)
        // A valid, signed package of the right name, but not the bytes the index lists.
        try FileManager.default.removeItem(at: listed)
        try FileManager.default.copyItem(at: try packages()[1], to: listed)
        for registry in [base, reg.path] {
            let swapped = try cli(["plugin", "install", "opensnoop@1.0.0", "--registry", registry])
            XCTAssertEqual(swapped.status, 1, registry)
            XCTAssertTrue(swapped.stderr.contains("differs") || swapped.stderr.contains("bytes"), swapped.stderr)
            XCTAssertTrue(swapped.stderr.contains("nothing was installed") || swapped.stderr.contains("sent"), swapped.stderr)
        }
        // One byte more than the index lists: cut off while it streams, nothing kept.
        try (original + Data([0])).write(to: listed)
        let longer = try cli(["plugin", "install", "opensnoop@1.0.0", "--registry", base])
        XCTAssertTrue(longer.stderr.contains("more than the \(original.count) bytes"), longer.stderr)
        // Truncated.
        try original.prefix(original.count - 1).write(to: listed)
        let shorter = try cli(["plugin", "install", "opensnoop@1.0.0", "--registry", base])
        XCTAssertTrue(shorter.stderr.contains("sent \(original.count - 1) bytes"), shorter.stderr)
        XCTAssertEqual(try installedVersions(), [])
        // The original bytes install.
        try original.write(to: listed)
        XCTAssertEqual(try cli(["plugin", "install", "opensnoop@1.0.0", "--registry", base]).status, 0)
        XCTAssertEqual(try installedVersions(), ["1.0.0"])
    }

    func testAnIndexCannotHandOutAnotherPluginUnderAName() throws {
        let reg = try registry()
        let indexURL = reg.appendingPathComponent("index.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
        var plugins = try XCTUnwrap(json["plugins"] as? [[String: Any]])
        let exec = try XCTUnwrap(plugins.firstIndex { $0["name"] as? String == "execsnoop" })
        let open = try XCTUnwrap(plugins.firstIndex { $0["name"] as? String == "opensnoop" })
        // opensnoop 9.0.0 "is" execsnoop's package, with its true size and hash.
        var release = try XCTUnwrap((plugins[exec]["versions"] as? [[String: Any]])?.first)
        release["version"] = "9.0.0"
        plugins[open]["versions"] = [release]
        json["plugins"] = plugins
        try JSONSerialization.data(withJSONObject: json).write(to: indexURL)
        let r = try cli(["plugin", "install", "opensnoop", "--registry", reg.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("but the package is execsnoop@0.1.0"), r.stderr)
        XCTAssertEqual(try Store(path: storeURL.path).list(), [])
    }

    func testRegistryLocationsAreChecked() throws {
        let plain = try cli(["plugin", "search", "--registry", "http://192.0.2.1/eunomia"])
        XCTAssertTrue(plain.stderr.contains("refusing plain http to '192.0.2.1'"), plain.stderr)
        let scheme = try cli(["plugin", "search", "--registry", "ftp://example.com/x"])
        XCTAssertTrue(scheme.stderr.contains("scheme 'ftp'"), scheme.stderr)
        let empty = dir.appendingPathComponent("empty.toml")
        try Data().write(to: empty)
        let none = try cli(["plugin", "install", "opensnoop", "--config", empty.path])
        XCTAssertTrue(none.stderr.contains("no registry to look in"), none.stderr)
        let config = dir.appendingPathComponent("bad.toml")
        try "[[registry]]\nurl = \"http://192.0.2.1/x\"\n".write(to: config, atomically: true, encoding: .utf8)
        let bad = try cli(["plugin", "search", "--config", config.path])
        XCTAssertTrue(bad.stderr.contains("line 2") && bad.stderr.contains("refusing plain http"), bad.stderr)
        try "[[registry]]\nurl = \"http://192.0.2.1/x\"\ninsecure = true\n".write(to: config, atomically: true, encoding: .utf8)
        // The TOML parser runs in a child: the eunomia executable, not this test bundle.
        TOMLIsolation.helper = TestSupport.eunomiaBinary.path
        XCTAssertEqual(try DaemonConfig.load(path: config.path).registries.map(\.description), ["http://192.0.2.1/x/"])
    }

    // MARK: Upgrade swaps a live tracker

    func testUpgradeSwapsALiveTrackerInTheServer() throws {
        try TestSupport.requireKernel()
        let base = try serve(try registry())
        XCTAssertEqual(try cli(["plugin", "install", "opensnoop@0.1.0", "--registry", base]).status, 0)
        // A config tracker pinned to ^0.1 stays where its config says.
        let daemon = try DaemonProcess(dir: dir, store: storeURL, config: """
            [[tracker]]
            id = "pinned"
            plugin = "opensnoop@^0.1"
            params = { pid = \(getpid()) }
            """)
        let api = daemon.unix
        let start = try api.request("POST", "/api/v1/trackers", json: ["plugin": "opensnoop", "id": "live", "params": ["pid": Int(getpid())]])
        XCTAssertEqual(start.status, 201, start.text)
        let upgrade = try cli(["plugin", "upgrade", "opensnoop@^0.2", "--registry", base, "--socket", daemon.socket])
        XCTAssertEqual(upgrade.status, 0, upgrade.stderr)
        XCTAssertTrue(upgrade.stdout.contains("installed opensnoop@0.2.0"), upgrade.stdout)
        XCTAssertTrue(upgrade.stdout.contains("swapped live: opensnoop@0.1.0") && upgrade.stdout.contains("-> opensnoop@0.2.0"), upgrade.stdout)
        XCTAssertTrue(upgrade.stdout.contains("0 lost in swap"), upgrade.stdout)
        XCTAssertTrue(upgrade.stdout.contains("tracker pinned stays on opensnoop@0.1.0: it asks for opensnoop@^0.1"), upgrade.stdout)
        XCTAssertEqual(try api.request("GET", "/api/v1/trackers/pinned").json?["version"] as? String, "0.1.0")
        let info = try api.request("GET", "/api/v1/trackers/live").json
        XCTAssertEqual(info?["version"] as? String, "0.2.0")
        XCTAssertEqual(info?["swaps"] as? Int, 1)
        XCTAssertEqual(info?["state"] as? String, "running")
        // --no-swap installs and leaves the tracker where it is.
        let noSwap = try cli(["plugin", "upgrade", "--no-swap", "--registry", base, "--socket", daemon.socket])
        XCTAssertTrue(noSwap.stdout.contains("installed opensnoop@1.0.0") && !noSwap.stdout.contains("swapped"), noSwap.stdout)
        XCTAssertEqual(try api.request("GET", "/api/v1/trackers/live").json?["version"] as? String, "0.2.0")
        XCTAssertEqual(daemon.terminate(), 0, daemon.process.stderr)
    }
}
