import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaPackages
@testable import EunomiaSchema

/// Other versions of a bundled plugin, built in a test from the same sources as `make build`:
/// the user-space library recompiled with another version string, the BPF object make built
/// (or another one), the schema with the version (and any edit) applied; packed by bin/eunomia.
enum PluginBuilds {
    static let root = TestSupport.repoRoot

    /// Builds `plugin` at `version` into dir and returns the package, signed with the build
    /// key as `make build` signs the bundled ones (a store that trusts it installs both).
    static func package(_ plugin: String, version: String, in dir: URL, bpfObject: URL? = nil,
                        editSchema: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let work = dir.appendingPathComponent("\(plugin)-\(version)")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let sources = root.appendingPathComponent("Plugins/\(plugin)")
        var compile: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted() {
            let from = sources.appendingPathComponent(name)
            if name.hasSuffix(".h") {
                try FileManager.default.copyItem(at: from, to: work.appendingPathComponent(name))
            } else if name.hasSuffix(".c") && !name.hasSuffix(".bpf.c") {
                compile.append(from.path)
            }
        }
        let schemaData = try Data(contentsOf: sources.appendingPathComponent("schema.json"))
        guard var schema = try JSONSerialization.jsonObject(with: schemaData) as? [String: Any] else {
            throw TestSupport.TestFailure("Plugins/\(plugin)/schema.json is not a JSON object")
        }
        schema["version"] = version
        editSchema(&schema)
        // What eunomia plugin build passes: the schema is the single source of these.
        var defines = ["-DEUNOMIA_PLUGIN_NAME=\"\(plugin)\"", "-DEUNOMIA_PLUGIN_VERSION=\"\(version)\""]
        if let abi = schema["abi"] as? [String: Any], let major = abi["major"] as? Int, let minor = abi["minor"] as? Int {
            defines += ["-DEUNOMIA_PLUGIN_ABI_MAJOR=\(major)", "-DEUNOMIA_PLUGIN_ABI_MINOR=\(minor)"]
        }
        let helper = TestSupport.helperSources
        let cc = try TestSupport.run("/usr/bin/cc", ["-O2", "-g", "-Wall", "-fPIC", "-fvisibility=hidden",
                                                     "-I", root.appendingPathComponent("Sources/PluginABI/include").path,
                                                     "-I", root.appendingPathComponent("Sources/PluginABI/helper").path,
                                                     "-I", root.appendingPathComponent("bpf").path,
                                                     "-I", sources.path] + defines
                                         + compile + helper
                                         + ["-o", work.appendingPathComponent("\(plugin).so").path, "-shared",
                                            "-Wl,-z,defs", "-Wl,-z,now", "-lbpf", "-ljansson", "-lelf"])
        guard cc.status == 0 else { throw TestSupport.TestFailure("cc \(plugin) \(version): \(cc.stderr)") }
        let builtObject = root.appendingPathComponent("build/plugins/\(plugin)/\(plugin).bpf.o")
        try FileManager.default.copyItem(at: bpfObject ?? builtObject, to: work.appendingPathComponent("\(plugin).bpf.o"))
        try JSONSerialization.data(withJSONObject: schema, options: [.prettyPrinted, .sortedKeys])
            .write(to: work.appendingPathComponent("schema.json"))
        let out = dir.appendingPathComponent("packages")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let pack = try TestSupport.eunomia(["plugin", "pack", work.path, "-o", out.path + "/"], store: dir.appendingPathComponent("unused-store"))
        guard pack.status == 0 else { throw TestSupport.TestFailure("pack \(plugin) \(version): \(pack.stderr)") }
        let pkg = out.appendingPathComponent("\(plugin)-\(version).pkg")
        let sign = try TestSupport.eunomia(["plugin", "sign", pkg.path, "--key", TestSupport.buildKey.path], store: dir.appendingPathComponent("unused-store"))
        guard sign.status == 0 else { throw TestSupport.TestFailure("sign \(plugin) \(version): \(sign.stderr)") }
        return pkg
    }

    /// Compiles a BPF C file against the repo's bpf/ headers and the generated vmlinux.h.
    static func bpfObject(_ source: URL, output: URL) throws {
        let clang = ProcessInfo.processInfo.environment["CLANG"] ?? "clang"
        #if arch(arm64)
        let arch = "arm64"
        #else
        let arch = "x86"
        #endif
        let result = try TestSupport.run("/usr/bin/env", [clang, "-O2", "-g", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_\(arch)",
                                                          "-I", root.appendingPathComponent("bpf").path,
                                                          "-I", root.appendingPathComponent("build/bpf").path,
                                                          "-c", source.path, "-o", output.path])
        guard result.status == 0 else { throw TestSupport.TestFailure("clang \(source.lastPathComponent): \(result.stderr)") }
    }
}

/// Collects a tracker's records as JSON lines in memory (thread-safe), the way an API stream
/// or a file sees them.
final class CollectingSubscriber: RecordSubscriber, @unchecked Sendable {
    private let lock = NSLock()
    private var data: [UInt8] = []
    private lazy var encoder = FormattingSubscriber(format: .json, output: OutputBuffer(capacity: 1 << 16) { [unowned self] chunk in
        self.lock.withLock { self.data.append(contentsOf: chunk) }
        return true
    })

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    var records: [[String: Any]] { TrackerHarness.records(text) }

    func sourceStarted(_ source: RecordSource) { encoder.sourceStarted(source) }
    func sourceEnded(_ source: RecordSource) { encoder.sourceEnded(source) }
    func consume(_ record: RecordView) -> Bool { encoder.consume(record) }
    func endReport(source: RecordSource, timestampNs: UInt64) { encoder.endReport(source: source, timestampNs: timestampNs) }
    func flush() -> UInt64 { encoder.flush() }
    func finish() { _ = encoder.flush() }
}
