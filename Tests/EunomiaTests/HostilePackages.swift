import Foundation
import XCTest
import ZIPFoundation
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// Builds packages the way an attacker would: real opensnoop files, a schema and manifest
/// edited as raw JSON (so they can hold what `pack` would refuse), hashes that match, and
/// zip bytes that can be patched after writing.
struct HostilePackage {
    var files: [(String, Data)]
    var schema: [String: Any]
    var manifestEdits: [(inout [String: Any]) -> Void] = []
    /// Extra zip entries not listed in the manifest, with the names exactly as given.
    var extraEntries: [(String, Data)] = []

    static func opensnoop() throws -> HostilePackage {
        let build = TestSupport.repoRoot.appendingPathComponent("build/plugins/opensnoop")
        let so = try Data(contentsOf: build.appendingPathComponent("opensnoop.so"))
        let bpf = try Data(contentsOf: build.appendingPathComponent("opensnoop.bpf.o"))
        // The schema as pack completed it (build/plugins holds the author's source).
        let schemaData = try TestSupport.bundledSchemaData("opensnoop")
        let schema = try JSONSerialization.jsonObject(with: schemaData) as! [String: Any]
        return HostilePackage(files: [("opensnoop.bpf.o", bpf), ("opensnoop.so", so)], schema: schema)
    }

    /// Edits the first record's field named `field`.
    mutating func editField(_ field: String, _ edit: (inout [String: Any]) -> Void) {
        var records = schema["records"] as! [[String: Any]]
        var fields = records[0]["fields"] as! [[String: Any]]
        let i = fields.firstIndex { $0["name"] as? String == field }!
        edit(&fields[i])
        records[0]["fields"] = fields
        schema["records"] = records
    }

    mutating func editParameter(_ name: String, _ edit: (inout [String: Any]) -> Void) {
        var params = schema["parameters"] as! [[String: Any]]
        let i = params.firstIndex { $0["name"] as? String == name }!
        edit(&params[i])
        schema["parameters"] = params
    }

    /// Sets a key in both the schema and the manifest (they must agree).
    mutating func setIdentity(_ key: String, _ value: Any) {
        schema[key] = value
        manifestEdits.append { $0[key] = value }
    }

    func manifestData(schemaData: Data) throws -> Data {
        var all = files + [("schema.json", schemaData)]
        all.sort { $0.0 < $1.0 }
        var manifest: [String: Any] = [
            "format": 1, "name": schema["name"]!, "version": schema["version"]!, "description": schema["description"]!,
            "abi": schema["abi"]!, "library": "opensnoop.so", "bpf_object": "opensnoop.bpf.o", "schema": "schema.json",
            "files": all.map { ["path": $0.0, "size": $0.1.count, "sha256": PackageArchive.sha256Hex($0.1)] },
        ]
        if let r = schema["requires"] { manifest["requires"] = r }
        for edit in manifestEdits { edit(&manifest) }
        return try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
    }

    /// Writes the package; entries deflated unless `stored`.
    @discardableResult
    func write(to url: URL, stored: Bool = false) throws -> URL {
        let schemaData = try JSONSerialization.data(withJSONObject: schema, options: [.sortedKeys])
        let entries = [("manifest.json", try manifestData(schemaData: schemaData))] + files + [("schema.json", schemaData)] + extraEntries
        try? FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        for (path, data) in entries {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count),
                                 compressionMethod: stored ? .none : .deflate) { pos, size in
                data.subdata(in: Int(pos)..<Int(pos) + size)
            }
        }
        return url
    }
}

/// A package's entries read one by one and written again, so a test can drop, change or add some.
enum PackageEntries {
    static func read(_ url: URL) throws -> [(String, Data)] {
        let input = try Archive(url: url, accessMode: .read)
        var entries: [(String, Data)] = []
        for e in input {
            var data = Data()
            _ = try input.extract(e) { data.append($0) }
            entries.append((e.path, data))
        }
        return entries
    }

    static func write(_ entries: [(String, Data)], to url: URL) throws {
        try? FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        for (path, data) in entries {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { pos, size in
                data.subdata(in: Int(pos)..<Int(pos) + size)
            }
        }
    }

    /// The content of entry `name`, or nil.
    static func entry(_ name: String, in url: URL) throws -> Data? { try read(url).first { $0.0 == name }?.1 }
}

/// Raw zip surgery for tests: finds headers by signature in archives ZIPFoundation wrote
/// (no comments, no data descriptors) and patches their fields.
struct ZipBytes {
    var data: Data

    init(_ url: URL) throws { data = try Data(contentsOf: url) }

    func save(_ url: URL) throws { try data.write(to: url) }

    private func u16(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 }

    /// Offsets of every header with this 4-byte signature.
    private func find(_ signature: [UInt8]) -> [Int] {
        var result: [Int] = []
        var i = 0
        while i + 4 <= data.count {
            if data[i] == signature[0] && data[i + 1] == signature[1] && data[i + 2] == signature[2] && data[i + 3] == signature[3] {
                result.append(i)
            }
            i += 1
        }
        return result
    }

    /// (header offset, name offset) of the local header of entry `name`.
    func local(_ name: String) -> (Int, Int) {
        for off in find([0x50, 0x4b, 0x03, 0x04]) {
            let n = u16(off + 26)
            if data.subdata(in: (off + 30)..<(off + 30 + n)) == Data(name.utf8) { return (off, off + 30) }
        }
        fatalError("no local header for \(name)")
    }

    /// (header offset, name offset) of the central directory record of entry `name`.
    func central(_ name: String) -> (Int, Int) {
        for off in find([0x50, 0x4b, 0x01, 0x02]) {
            let n = u16(off + 28)
            if data.subdata(in: (off + 46)..<(off + 46 + n)) == Data(name.utf8) { return (off, off + 46) }
        }
        fatalError("no central record for \(name)")
    }

    mutating func xor(_ at: Int, _ mask: UInt8) { data[at] ^= mask }
    mutating func set16(_ at: Int, _ v: UInt16) { data[at] = UInt8(v & 0xff); data[at + 1] = UInt8(v >> 8) }
    func get16(_ at: Int) -> UInt16 { UInt16(u16(at)) }
}
