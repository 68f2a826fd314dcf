import EunomiaOutput
import EunomiaPackages
import EunomiaRecords
import EunomiaRuntime
import EunomiaSchema
import Foundation
import ZIPFoundation

/// Entry points for the libFuzzer targets under Tests/Fuzz/ (docs/fuzzing.md), also replayed
/// in-process by Tests/EunomiaTests/FuzzTests.swift. Each takes one fuzzer input and swallows
/// every thrown error: rejecting an input is a correct outcome, only a crash or trap is a finding.
public enum FuzzEntryPoints {
    // MARK: Package verification

    /// Writes `data` to a temporary .pkg and runs `PackageArchive.extractAndVerify` on it,
    /// unsigned packages allowed (so inputs reach the ELF and BTF checks; signatures.json is
    /// still decoded and checked). Every file it creates is removed before returning.
    ///
    /// Raw zip bytes rarely get past the CRC-32 and SHA-256 checks once mutated, so an input may
    /// instead be structured (`structuredPackageMagic`): the entry point zips its entries itself,
    /// and can rewrite manifest.json's sizes and hashes to match, letting mutations reach the
    /// manifest, schema and BTF layout checks.
    public static func packageVerification(_ data: Data) {
        let fm = FileManager.default
        let base = fm.temporaryDirectory
            .appendingPathComponent("eunomia-fuzz-package-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer { try? fm.removeItem(at: base) }
        do {
            try fm.createDirectory(at: base, withIntermediateDirectories: true)
            let package = base.appendingPathComponent("input.pkg")
            if data.starts(with: structuredPackageMagic) {
                try writeStructuredPackage(data.dropFirst(structuredPackageMagic.count), to: package)
            } else {
                try data.write(to: package)
            }
            _ = try PackageArchive.extractAndVerify(package, into: base.appendingPathComponent("x"),
                                                    policy: SignaturePolicy(trusted: [], allowUnsigned: true))
        } catch {}
    }

    /// Structured package input: this magic, one flags byte (bit 0: rewrite manifest.json's
    /// `files[].size` and `sha256` to the entries' real ones; bit 1: deflate the entries), then
    /// entries of [name length: u8][name][data length: u32 little-endian][data] until the input
    /// ends (a short last length takes what is left). Tests/Fuzz/pkg-to-seed.py converts a .pkg.
    public static let structuredPackageMagic = Data("EUNOFUZZPKG\n".utf8)

    static func writeStructuredPackage(_ body: Data, to url: URL) throws {
        var bytes = [UInt8](body)[...]
        guard let flags = bytes.popFirst() else { return }
        var entries: [(String, Data)] = []
        while let n = bytes.popFirst() {
            let name = String(decoding: bytes.prefix(Int(n)), as: UTF8.self)
            bytes = bytes.dropFirst(Int(n))
            var length = 0
            for i in 0..<4 { length |= Int(bytes.popFirst() ?? 0) << (8 * i) }
            entries.append((name, Data(bytes.prefix(length))))
            bytes = bytes.dropFirst(length)
        }
        if flags & 1 != 0, let i = entries.firstIndex(where: { $0.0 == PackageManifest.fileName }),
           var manifest = (try? JSONSerialization.jsonObject(with: entries[i].1)) as? [String: Any],
           let files = manifest["files"] as? [Any] {
            manifest["files"] = files.map { item -> Any in
                guard var file = item as? [String: Any], let path = file["path"] as? String,
                      let content = entries.first(where: { $0.0 == path })?.1 else { return item }
                file["size"] = content.count
                file["sha256"] = PackageArchive.sha256Hex(content)
                return file
            }
            if let fixed = try? JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]) {
                entries[i].1 = fixed
            }
        }
        let archive = try Archive(url: url, accessMode: .create)
        for (name, content) in entries {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(content.count),
                                 compressionMethod: flags & 2 != 0 ? .deflate : .none) { position, size in
                content.subdata(in: Int(position)..<Int(position) + size)
            }
        }
    }

    // MARK: Schema decoding and event formatting

    /// Decodes `data` as a schema.json; a schema that decodes is also given to an EventFormatter
    /// (default parameters) in table, JSON and CSV, which formats a few records built from the input.
    ///
    /// Input: schema JSON, optionally followed by a NUL byte and the bytes the records are cut
    /// from (JSON cannot contain a raw NUL). Without that part the records are pseudo-random
    /// bytes seeded from the input, so plain schema.json seeds still exercise the formatter.
    public static func schemaDecoding(_ data: Data) {
        let bytes = [UInt8](data)
        let split = bytes.firstIndex(of: 0)
        let json = Data(bytes[..<(split ?? bytes.count)])
        let payload = split.map { Array(bytes[($0 + 1)...]) } ?? []
        guard let schema = try? PluginSchema.decode(json, source: "fuzz.json") else { return }
        formatRecords(schema: schema, parameters: nil, seed: bytes, payload: payload)
    }

    // MARK: Parameter parsing

    /// Input: the first line picks one of `schemas` (by name, else by a hash of the line); every
    /// further line is one `--param` assignment (an optional leading "--param " is dropped).
    /// Runs `ResolvedParameters(schema:assignments:)` and `configJSON()`, and builds the table
    /// formatter (its columns and report limits depend on parameters).
    public static func parameterParsing(_ data: Data, schemas: [PluginSchema]) {
        guard !schemas.isEmpty else { return }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let selector = lines.isEmpty ? "" : lines.removeFirst()
        let schema = schemas.first { $0.name == selector }
            ?? schemas[Int(selector.utf8.reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) } % UInt32(schemas.count))]
        let assignments = lines.map { $0.hasPrefix("--param ") ? String($0.dropFirst(8)) : $0 }
        guard let parameters = try? ResolvedParameters(schema: schema, assignments: assignments) else { return }
        _ = parameters.configJSON()
        let output = OutputBuffer(capacity: 4096) { _ in true }
        let formatter = EventFormatter(schema: schema, parameters: parameters, format: .table, output: output)
        formatter.writeHeader()
    }

    /// Every Plugins/*/schema.json under `repoRoot`, sorted by plugin name (the parameter
    /// target's schemas). Schemas that fail to decode are left out.
    /// The bundled plugins' schemas as their packages hold them (build/packages: completed by
    /// pack; Plugins/*/schema.json are the authors' sources).
    public static func bundledSchemas(repoRoot: URL) -> [PluginSchema] {
        let packages = repoRoot.appendingPathComponent("build/packages")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: packages.path))?.filter { $0.hasSuffix(".pkg") }.sorted() ?? []
        return names.compactMap { name in try? PackageArchive.read(packages.appendingPathComponent(name)).schema }
    }

    // MARK: Replay

    /// The `main` of a fuzz executable built without libFuzzer (a plain `swift build`): runs
    /// each file named on the command line (directories: each file in them) through `entry`.
    public static func replay(arguments: [String], entry: (Data) -> Void) -> Int32 {
        let files = arguments.dropFirst().filter { !$0.hasPrefix("-") }
        guard !files.isEmpty else {
            let name = (arguments.first as NSString?)?.lastPathComponent ?? "fuzzer"
            FileHandle.standardError.write(Data("""
                \(name) was built without libFuzzer: it only replays inputs (\(name) FILE|DIR...).
                Build the fuzzer with `make fuzz-build` (swift build --sanitize fuzzer).\n
                """.utf8))
            return 2
        }
        let fm = FileManager.default
        for path in files {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                FileHandle.standardError.write(Data("\(path): no such file\n".utf8))
                return 1
            }
            let inputs = isDir.boolValue
                ? ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
                : [path]
            for input in inputs {
                guard let data = fm.contents(atPath: input) else { continue }
                FileHandle.standardError.write(Data("replaying \(input) (\(data.count) bytes)\n".utf8))
                entry(data)
            }
        }
        return 0
    }

    // MARK: Records

    /// Formats a few records of each layout (plus one malformed one) in table, JSON and CSV.
    static func formatRecords(schema: PluginSchema, parameters: ResolvedParameters?, seed: [UInt8], payload: [UInt8]) {
        guard let parameters = parameters ?? (try? ResolvedParameters(schema: schema, assignments: [])) else { return }
        var source = RecordBytes(seed: seed, payload: payload)
        // Symbolizing a stack costs a /proc/kallsyms or /proc/PID/maps load per formatter (about a
        // second per input under ASan), so only one input in 16 (by its hash) keeps stack addresses.
        let keepStacks = source.state % 16 == 0
        // Records the fuzzer can reach: a few per layout, each as long as the layout allows
        // (capped, so a huge declared size does not become a huge allocation).
        let cap = 1 << 16
        var records: [(UInt32, [UInt8])] = []
        for layout in schema.records.prefix(4) where layout.minimumSize <= cap && layout.size >= 0 {
            let low = max(layout.minimumSize, 0)
            let high = max(low, min(layout.size, cap))
            for _ in 0..<2 {
                let length = low + Int(source.next() % UInt64(high - low + 1))
                var bytes = source.bytes(length)
                if !keepStacks {
                    for f in layout.fields where f.type == .stack && f.offset >= 0 && f.offset < bytes.count {
                        for i in f.offset..<min(bytes.count, f.offset + f.size) { bytes[i] = 0 }
                    }
                }
                records.append((layout.id, bytes))
            }
        }
        // An unknown id or a bad length: counted as malformed, never formatted.
        records.append((UInt32(truncatingIfNeeded: source.next()), source.bytes(Int(source.next() % 64))))
        for format in [OutputFormat.table, .json, .csv] {
            let output = OutputBuffer(capacity: 4096) { _ in true }
            let formatter = EventFormatter(schema: schema, parameters: parameters, format: format, output: output)
            formatter.writeHeader()
            for (id, bytes) in records {
                _ = bytes.withUnsafeBytes { formatter.consume(recordID: id, bytes: $0) }
            }
            if schema.records.contains(where: \.isReport) {
                formatter.endReport(timestampNs: source.next())
            }
            output.flush()
        }
    }

    /// Record bytes: taken from the input's payload while it lasts, then from a xorshift64
    /// generator seeded by the whole input (deterministic, so crashes replay).
    struct RecordBytes {
        var payload: ArraySlice<UInt8>
        var state: UInt64

        init(seed: [UInt8], payload: [UInt8]) {
            self.payload = payload[...]
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in seed { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            state = h == 0 ? 1 : h
        }

        mutating func random() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }

        mutating func next() -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(byte()) << (8 * UInt64(i)) }
            return v
        }

        mutating func byte() -> UInt8 {
            if let b = payload.popFirst() { return b }
            return UInt8(truncatingIfNeeded: random())
        }

        mutating func bytes(_ n: Int) -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(byte()) }
            return out
        }
    }
}
