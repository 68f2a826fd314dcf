import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// The libFuzzer targets (docs/fuzzing.md): each fuzzer binary runs for a short bounded time from
/// the seed corpus, and every saved crashing input under Tests/Fuzz/regressions/<target>/ is
/// replayed in-process through the same entry point. One test per target.
final class FuzzTests: XCTestCase {
    static let fuzzRoot = TestSupport.repoRoot.appendingPathComponent("Tests/Fuzz")
    /// Seconds each fuzzer runs; EUNOMIA_FUZZ_TEST_SECONDS overrides.
    static let seconds = Int(ProcessInfo.processInfo.environment["EUNOMIA_FUZZ_TEST_SECONDS"] ?? "") ?? 15

    /// Where `make fuzz-build` put the binaries (make test passes EUNOMIA_FUZZ_BIN_DIR).
    static var binDir: URL {
        if let dir = ProcessInfo.processInfo.environment["EUNOMIA_FUZZ_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        return TestSupport.repoRoot.appendingPathComponent(".build-fuzz/debug")
    }

    func testPackageVerificationFuzzer() throws {
        try check("package") { FuzzEntryPoints.packageVerification($0) }
    }

    func testSchemaDecodingFuzzer() throws {
        try check("schema") { FuzzEntryPoints.schemaDecoding($0) }
    }

    func testParameterParsingFuzzer() throws {
        let schemas = FuzzEntryPoints.bundledSchemas(repoRoot: TestSupport.repoRoot)
        let plugins = TestSupport.repoRoot.appendingPathComponent("Plugins")
        let bundled = try FileManager.default.contentsOfDirectory(atPath: plugins.path)
            .filter { FileManager.default.fileExists(atPath: plugins.appendingPathComponent("\($0)/schema.json").path) }
        XCTAssertEqual(schemas.count, bundled.count, "every bundled schema.json decodes")
        try check("params") { FuzzEntryPoints.parameterParsing($0, schemas: schemas) }
    }

    // MARK: -

    /// Replays the target's regressions and seeds in-process, then runs its fuzzer binary for
    /// `seconds` from the seeds.
    private func check(_ target: String, entry: (Data) -> Void, file: StaticString = #filePath, line: UInt = #line) throws {
        let fm = FileManager.default
        // Seeds: `make fuzz-seeds` (make test runs it) generates them under build/fuzz/seeds/<target>/.
        let seedSource = TestSupport.repoRoot.appendingPathComponent("build/fuzz/seeds/\(target)")
        let seeds = ((try? fm.contentsOfDirectory(atPath: seedSource.path)) ?? []).sorted()
            .map { seedSource.appendingPathComponent($0) }
        guard !seeds.isEmpty else {
            XCTFail("no seeds in \(seedSource.path): run make fuzz-seeds (make test does)", file: file, line: line)
            return
        }
        let binary = Self.binDir.appendingPathComponent("eunomia-fuzz-\(target)")
        guard fm.isExecutableFile(atPath: binary.path) else {
            XCTFail("fuzzer \(binary.path) is missing: run make fuzz-build (make test does)", file: file, line: line)
            return
        }
        let environment = ["EUNOMIA_REPO_ROOT": TestSupport.repoRoot.path, "SWIFT_BACKTRACE": "enable=no",
                           "ASAN_OPTIONS": "detect_leaks=0"]

        // (b) Crashing inputs found by fuzzing, replayed in-process. Each goes through the fuzzer
        // binary first (libFuzzer runs a file argument once), so one that still traps fails this
        // test with its trap message instead of killing the whole test run.
        let regressions = Self.fuzzRoot.appendingPathComponent("regressions/\(target)")
        let saved = ((try? fm.contentsOfDirectory(atPath: regressions.path)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
        for name in saved {
            let url = regressions.appendingPathComponent(name)
            let probe = try TestSupport.run(binary.path, [url.path], environment: environment)
            guard probe.status == 0 else {
                let why = probe.stderr.split(separator: "\n")
                    .first { $0.contains("Fatal error") || $0.contains("ERROR:") || $0.contains("deadly signal") } ?? "exit \(probe.status)"
                XCTFail("regressions/\(target)/\(name) still crashes eunomia-fuzz-\(target): \(why)", file: file, line: line)
                continue
            }
            entry(try Data(contentsOf: url))
        }
        print("FuzzTests: \(target): replayed \(saved.count) regression inputs and \(seeds.count) seeds")
        // The seeds go through the entry point too: they are the inputs the fuzzer starts from.
        for url in seeds { entry(try Data(contentsOf: url)) }

        // (a) The fuzzer itself, for a bounded time, on a fresh corpus (new inputs go to the first
        // directory; the seed directory is only read).
        let work = try TestSupport.temporaryDirectory("fuzz\(target)")
        defer { try? fm.removeItem(at: work) }
        let corpus = work.appendingPathComponent("corpus"), artifacts = work.appendingPathComponent("artifacts")
        for dir in [corpus, artifacts] { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
        let result = try TestSupport.run(binary.path, [
            "-max_total_time=\(Self.seconds)", "-timeout=25", "-rss_limit_mb=4096", "-detect_leaks=0",
            "-artifact_prefix=\(artifacts.path)/", corpus.path, seedSource.path,
        ], environment: environment)
        let done = result.stderr.split(separator: "\n").last { $0.hasPrefix("Done ") } ?? "no summary"
        print("FuzzTests: eunomia-fuzz-\(target): \(done)")
        guard result.status == 0 else {
            let crash = ((try? fm.contentsOfDirectory(atPath: artifacts.path)) ?? []).sorted()
            var kept: [String] = []
            for name in crash {
                // Keep the input where make clean does not reach it before the work dir goes.
                let dest = TestSupport.repoRoot.appendingPathComponent("build/fuzz/test-artifacts/\(target)")
                try? fm.createDirectory(at: dest, withIntermediateDirectories: true)
                try? fm.removeItem(at: dest.appendingPathComponent(name))
                if (try? fm.copyItem(at: artifacts.appendingPathComponent(name), to: dest.appendingPathComponent(name))) != nil {
                    kept.append("build/fuzz/test-artifacts/\(target)/\(name)")
                }
            }
            let tail = result.stderr.split(separator: "\n").suffix(40).joined(separator: "\n")
            XCTFail("eunomia-fuzz-\(target) exited \(result.status) within \(Self.seconds)s (a crash or hang); "
                    + "input: \(kept.isEmpty ? "none saved" : kept.joined(separator: ", ")). "
                    + "Save it under Tests/Fuzz/regressions/\(target)/.\n\(tail)", file: file, line: line)
            return
        }
    }
}
