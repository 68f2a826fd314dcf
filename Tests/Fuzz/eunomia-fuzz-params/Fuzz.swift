// libFuzzer target: parameter parsing. Input: a line naming (or hashing to) one of the bundled
// Plugins/*/schema.json, then one KEY=VALUE assignment per line: ResolvedParameters and configJSON.
// Built by `make fuzz-build` (swift build --sanitize fuzzer); see docs/fuzzing.md.
import EunomiaHost
import Foundation

/// The bundled schemas, loaded once: from $EUNOMIA_REPO_ROOT, else the checkout this file is in.
let schemas: [PluginSchema] = {
    let root = ProcessInfo.processInfo.environment["EUNOMIA_REPO_ROOT"].map { URL(fileURLWithPath: $0) }
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    let found = FuzzEntryPoints.bundledSchemas(repoRoot: root)
    if found.isEmpty {
        FileHandle.standardError.write(Data("eunomia-fuzz-params: no schemas under \(root.path)/Plugins (set EUNOMIA_REPO_ROOT)\n".utf8))
        exit(2)
    }
    return found
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzEntryPoints.parameterParsing(data.map { Data(bytes: $0, count: size) } ?? Data(), schemas: schemas)
    return 0
}

// Under --sanitize fuzzer, libFuzzer supplies main. A plain `swift build` links executables
// with main aliased to <module>_main, so this replayer is the binary's main there.
@_cdecl("eunomia_fuzz_params_main")
public func replayMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzEntryPoints.replay(arguments: CommandLine.arguments) { FuzzEntryPoints.parameterParsing($0, schemas: schemas) }
}
