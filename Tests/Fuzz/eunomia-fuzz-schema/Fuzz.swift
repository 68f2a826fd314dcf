// libFuzzer target: a schema.json (+ NUL + record bytes): PluginSchema.decode and EventFormatter.
// Built by `make fuzz-build` (swift build --sanitize fuzzer); see docs/fuzzing.md.
import EunomiaHost
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzEntryPoints.schemaDecoding(data.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

// Under --sanitize fuzzer, libFuzzer supplies main. A plain `swift build` links executables
// with main aliased to <module>_main, so this replayer is the binary's main there.
@_cdecl("eunomia_fuzz_schema_main")
public func replayMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzEntryPoints.replay(arguments: CommandLine.arguments) { FuzzEntryPoints.schemaDecoding($0) }
}
