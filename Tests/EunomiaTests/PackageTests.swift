import Foundation
import XCTest
import ZIPFoundation
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// Package verification and the store, using the opensnoop package `make build` produced.
final class PackageTests: XCTestCase {
    var dir: URL!
    var store: Store!

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory()
        store = Store(path: dir.appendingPathComponent("store").path)
        try TestSupport.trustBuildKey(in: store.root)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Copies a package entry by entry, letting `edit` drop, change or add entries.
    func rewrite(_ source: URL, _ name: String, edit: (inout [(String, Data)]) -> Void) throws -> URL {
        var entries = try PackageEntries.read(source)
        edit(&entries)
        let out = dir.appendingPathComponent(name)
        try PackageEntries.write(entries, to: out)
        return out
    }

    func assertRefused(_ pkg: URL, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try store.install(package: try TestSupport.opensnoopPackage()) // a populated store
        let before = TestSupport.snapshot(store.root.appendingPathComponent("plugins"))
        XCTAssertThrowsError(try store.install(package: pkg), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(expected), "\(message) does not mention \(expected)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "error is not one line: \(message)", file: file, line: line)
        }
        XCTAssertEqual(TestSupport.snapshot(store.root.appendingPathComponent("plugins")), before, "store changed", file: file, line: line)
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: store.root.appendingPathComponent("staging").path)) ?? []
        XCTAssertEqual(staging, [], "staging left behind", file: file, line: line)
    }

    func testInstallListResolveRemove() throws {
        let pkg = try TestSupport.opensnoopPackage()
        let (plugin, outcome) = try store.install(package: pkg)
        XCTAssertEqual(outcome, .installed)
        XCTAssertEqual(plugin.name, "opensnoop")
        XCTAssertTrue(plugin.directory.lastPathComponent.hasPrefix("\(plugin.version)-"))
        XCTAssertEqual(plugin.buildID.count, 12)
        for file in plugin.manifest.files {
            XCTAssertTrue(FileManager.default.fileExists(atPath: plugin.directory.appendingPathComponent(file.path).path))
        }
        XCTAssertEqual(try store.install(package: pkg).1, .alreadyInstalled)
        XCTAssertEqual(try store.list().map(\.reference), ["opensnoop@\(plugin.version)"])
        XCTAssertEqual(try store.resolve("opensnoop"), plugin)
        XCTAssertEqual(try store.resolve("opensnoop@\(plugin.version)"), plugin)
        XCTAssertThrowsError(try store.resolve("opensnoop@9.9.9")) {
            XCTAssertTrue("\($0)".contains("opensnoop@9.9.9 is not installed"), "\($0)")
        }
        XCTAssertEqual(try store.remove("opensnoop").count, 1)
        XCTAssertEqual(try store.list(), [])
    }

    func testTamperedFileIsRefused() throws {
        let pkg = try rewrite(try TestSupport.opensnoopPackage(), "tampered.pkg") { entries in
            let i = entries.firstIndex { $0.0.hasSuffix(".so") }!
            var data = entries[i].1
            data[data.count / 2] ^= 0xFF
            entries[i].1 = data
        }
        try assertRefused(pkg, "opensnoop.so: SHA-256 mismatch (package is corrupt or was tampered with)")
    }

    func testTraversalEntriesAreRefused() throws {
        for (i, evil) in ["../evil.so", "/etc/evil", "sub/dir.so"].enumerated() {
            let pkg = try rewrite(try TestSupport.opensnoopPackage(), "traversal\(i).pkg") { $0.append((evil, Data("x".utf8))) }
            try assertRefused(pkg, "entry '\(evil)' is not a plain file name")
            XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/evil"))
        }
    }

    func testTruncatedPackageIsRefused() throws {
        let data = try Data(contentsOf: try TestSupport.opensnoopPackage())
        let pkg = dir.appendingPathComponent("truncated.pkg")
        try data.prefix(data.count / 2).write(to: pkg)
        try assertRefused(pkg, "truncated.pkg: not a valid package")
    }

    func testUnlistedEntryIsRefused() throws {
        let pkg = try rewrite(try TestSupport.opensnoopPackage(), "extra.pkg") { $0.append(("extra.txt", Data("x".utf8))) }
        try assertRefused(pkg, "entry 'extra.txt' is not listed in the manifest")
    }

    func testWrongABIInManifestIsRefused() throws {
        let pkg = try rewrite(try TestSupport.opensnoopPackage(), "abi.pkg") { entries in
            let i = entries.firstIndex { $0.0 == "manifest.json" }!
            var m = try! PackageManifest.decode(entries[i].1)
            m.abi = ABIVersion(major: 2, minor: 0)
            entries[i].1 = m.encoded()
        }
        try assertRefused(pkg, "was built for eunomia ABI 2.0; this host speaks ABI \(ArtifactChecks.hostABI)")
    }

    /// Packing checks the schema against the BPF object's BTF, and refuses unloadable libraries.
    func testPackChecksLayoutAndNodelete() throws {
        let identify = { (library: URL) in try LibraryProbe.probe(library, executable: TestSupport.eunomiaBinary.path) }
        let build = TestSupport.repoRoot.appendingPathComponent("build/plugins/opensnoop")
        let work = dir.appendingPathComponent("plugin")
        try FileManager.default.copyItem(at: build, to: work)
        let schemaURL = work.appendingPathComponent("schema.json")
        let good = try String(contentsOf: schemaURL, encoding: .utf8)
        try good.replacingOccurrences(of: #"{"name": "pid", "column": "PID""#, with: #"{"name": "pid", "type": "u32", "offset": 20, "size": 4, "column": "PID""#)
            .write(to: schemaURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PackageArchive.pack(directory: work, output: dir.appendingPathComponent("x.pkg"), identify: identify)) {
            XCTAssertEqual("\($0)", "schema record 'open' (struct event) field 'pid' is at offset 20 size 4, the BPF object has offset 16 size 4")
        }
        try good.write(to: schemaURL, atomically: true, encoding: .utf8)

        try TestSupport.compileLibrary(TestSupport.fixtures.appendingPathComponent("fake_plugin.c"),
                                       output: work.appendingPathComponent("opensnoop.so"), flags: ["-Wl,-z,nodelete"])
        XCTAssertThrowsError(try PackageArchive.pack(directory: work, output: dir.appendingPathComponent("y.pkg"), identify: identify)) {
            XCTAssertTrue("\($0)".contains("DF_1_NODELETE"), "\($0)")
        }
    }

    func testCLIRefusesWithOneLineAndNonZeroExit() throws {
        let bad = dir.appendingPathComponent("garbage.pkg")
        try Data("not a zip".utf8).write(to: bad)
        let result = try TestSupport.eunomia(["plugin", "install", bad.path], store: store.root)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "eunomia: error: garbage.pkg: not a valid package: the zip archive is unreadable (truncated or corrupt)\n")
    }
}
