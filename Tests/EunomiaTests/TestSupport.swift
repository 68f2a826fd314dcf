import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

enum TestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures")
    /// The helper plugins compile in (the Makefile's HELPER), for tests that build a plugin by hand.
    static let helperSources = ["Sources/PluginABI/helper/eunomia_bpf.c", "Sources/PluginABI/helper/eunomia_config.c",
                                "Sources/PluginABI/helper/eunomia_maps.c", "Sources/PluginABI/helper/eunomia_attach.c",
                                "Sources/PluginABI/abi.c"].map { repoRoot.appendingPathComponent($0).path }
    static let abiInclude = repoRoot.appendingPathComponent("Sources/PluginABI/include")

    /// The eunomia executable SwiftPM built next to this test bundle.
    static var eunomiaBinary: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("eunomia")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return repoRoot.appendingPathComponent(".build/debug/eunomia")
    }

    /// The package of a bundled plugin, as `make build` wrote it.
    static func package(_ plugin: String) throws -> URL {
        let dir = repoRoot.appendingPathComponent("build/packages")
        let found = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?
            .filter { $0.hasPrefix("\(plugin)-") && $0.hasSuffix(".pkg") }.sorted() ?? []
        guard let name = found.last else {
            // A failure, not a skip: only requireKernel skips.
            throw TestFailure("no build/packages/\(plugin)-*.pkg: run `make build` (make test does) first")
        }
        return dir.appendingPathComponent(name)
    }

    static func opensnoopPackage() throws -> URL { try package("opensnoop") }

    /// A bundled plugin's schema as its package holds it: completed by pack (common
    /// parameters, layouts from BTF), as a store has it.
    static func bundledSchema(_ plugin: String) throws -> PluginSchema {
        try PackageArchive.read(try package(plugin)).schema
    }

    /// A bundled plugin's schema.json source, edited, completed as pack completes it.
    static func completedSource(_ plugin: String, edit: (String) -> String = { $0 }) throws -> Data {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("Plugins/\(plugin)/schema.json"), encoding: .utf8)
        return try SchemaCompletion.complete(Data(edit(text).utf8), bpfObject: repoRoot.appendingPathComponent("build/plugins/\(plugin)/\(plugin).bpf.o"), library: nil)
    }

    /// The same, as JSON text.
    static func bundledSchemaData(_ plugin: String) throws -> Data {
        let contents = try PackageArchive.read(try package(plugin))
        guard let data = contents.files.first(where: { $0.0.path == contents.manifest.schema })?.1 else {
            throw TestFailure("\(plugin): its package has no schema")
        }
        return data
    }

    /// The key `make build` signed the bundled packages with (build/keys/, never committed),
    /// and its public half, which a store must trust to install them.
    static let buildKey = repoRoot.appendingPathComponent("build/keys/local-build.key")
    static let buildPublicKey = repoRoot.appendingPathComponent("build/keys/local-build.pub")

    /// Trusts the build key in the store at `store` (created if need be), as `make
    /// install-plugins` does, so the bundled packages and PluginBuilds' install as signed.
    static func trustBuildKey(in store: URL) throws {
        guard FileManager.default.fileExists(atPath: buildPublicKey.path) else {
            throw TestFailure("no build/keys/local-build.pub: run `make build` (make test does) first")
        }
        _ = try Store(path: store.path).trustStore.trust(try KeyFiles.readPublic(buildPublicKey.path))
    }

    static func temporaryDirectory(_ label: String = #function) throws -> URL {
        let safe = label.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("eunomia-test-\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Where tracefs lists the kernel's tracepoints, when it is mounted and readable.
    static var tracefsEvents: String? {
        ["/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"].first {
            FileManager.default.isReadableFile(atPath: $0 + "/syscalls") || FileManager.default.isReadableFile(atPath: $0 + "/sched")
        }
    }

    /// The one place a test may skip: when BPF cannot run here, or the kernel lacks what the
    /// test needs (`tracepoints`, as "category/name", which must exist in tracefs). Every
    /// reason is checked and reported together, so a missing privilege is never mistaken for a
    /// missing feature. With EUNOMIA_REQUIRE_KERNEL=1 (CI) a skip is a failure instead.
    static func requireKernel(tracepoints: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws {
        var reasons: [String] = []
        if geteuid() != 0 { reasons.append("not running as root") }
        if !FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") { reasons.append("kernel has no BTF") }
        if !tracepoints.isEmpty {
            if let events = tracefsEvents {
                let missing = tracepoints.filter { !FileManager.default.fileExists(atPath: "\(events)/\($0)") }
                if !missing.isEmpty { reasons.append("this kernel has no tracepoint " + missing.joined(separator: ", ")) }
            } else {
                reasons.append("tracefs is not mounted or not readable (needed to look for \(tracepoints.joined(separator: ", ")))")
            }
        }
        guard !reasons.isEmpty else { return }
        let why = "real-kernel test cannot run: " + reasons.joined(separator: ", ")
        if ProcessInfo.processInfo.environment["EUNOMIA_REQUIRE_KERNEL"] == "1" {
            XCTFail(why + " (EUNOMIA_REQUIRE_KERNEL=1 makes this a failure)", file: file, line: line)
        } else {
            print("SKIPPING: \(why)")
        }
        throw XCTSkip(why)
    }

    /// A failure that ends a test: thrown where the test cannot go on (never a skip).
    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.data
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs the eunomia CLI against a store.
    @discardableResult
    static func eunomia(_ arguments: [String], store: URL) throws -> ProcessResult {
        try run(eunomiaBinary.path, arguments, environment: ["EUNOMIA_HOME": store.path])
    }

    /// Compiles a C file into a shared library with the plugin ABI header on the include path.
    static func compileLibrary(_ source: URL, output: URL, flags: [String] = []) throws {
        let result = try run("/usr/bin/cc", ["-shared", "-fPIC", "-fvisibility=hidden", "-O1", "-I", abiInclude.path]
            + flags + [source.path, "-o", output.path])
        guard result.status == 0 else { throw EunomiaError("cc failed: \(result.stderr)") }
    }

    static func fakeSchema() throws -> PluginSchema {
        try PluginSchema.decode(Data(contentsOf: fixtures.appendingPathComponent("fake_schema.json")), source: "fake_schema.json")
    }

    /// Every file under dir with its size, to show a store did not change.
    static func snapshot(_ dir: URL) -> [String: Int] {
        var result: [String: Int] = [:]
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return result }
        while let path = e.nextObject() as? String {
            let attrs = try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(path).path)
            result[path] = (attrs?[.size] as? Int) ?? -1
        }
        return result
    }
}

/// Collects formatted output in memory.
final class CapturedOutput {
    private(set) var bytes: [UInt8] = []
    lazy var buffer = OutputBuffer(capacity: 256) { [unowned self] chunk in
        self.bytes.append(contentsOf: chunk)
        return true
    }
    var text: String {
        buffer.flush()
        return String(decoding: bytes, as: UTF8.self)
    }
    var lines: [String] { text.split(separator: "\n").map(String.init) }
}
