import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// manifest.json, the first thing read from a package (docs/package-format.md).
public struct PackageManifest: Codable, Equatable {
    public static let currentFormat = 1
    public static let fileName = "manifest.json"

    public var format: Int
    public var name: String
    public var version: String
    public var description: String
    public var abi: ABIVersion
    public var requires: Requirements?
    /// Paths inside the package of the plugin library, the BPF object and the schema.
    public var library: String
    public var bpfObject: String
    public var schema: String
    /// Every file of the package except the manifest, with its SHA-256.
    public var files: [FileEntry]

    public struct FileEntry: Codable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
    }

    enum CodingKeys: String, CodingKey {
        case format, name, version, description, abi, requires, library, bpfObject = "bpf_object", schema, files
    }

    /// Largest manifest.json read: 64 files with their hashes fit in a few KiB.
    public static let maxSize = 256 << 10

    /// Names no listed file may have: the package's signatures, and what the host writes
    /// into a build's directory itself.
    static let reservedNames: Set<String> = [PackageSignatures.fileName, Provenance.fileName]

    public static func decode(_ data: Data) throws -> PackageManifest {
        guard data.count <= maxSize else {
            throw EunomiaError("manifest.json: \(data.count) bytes, more than the \(maxSize >> 10) KiB a manifest may have")
        }
        let manifest: PackageManifest
        do {
            manifest = try JSONDecoder().decode(PackageManifest.self, from: data)
        } catch let error as DecodingError {
            throw EunomiaError("manifest.json: \(describe(error))")
        } catch {
            throw EunomiaError("manifest.json: not valid JSON")
        }
        try manifest.validate()
        return manifest
    }

    /// Why the schema does not describe the same plugin as this manifest, or nil when it does.
    func disagreement(with schema: PluginSchema) -> String? {
        guard schema.name != name || schema.version != version || schema.abi != abi else { return nil }
        return "schema says \(schema.name) \(schema.version) ABI \(schema.abi), the manifest \(name) \(version) ABI \(abi)"
    }

    /// Every string that later becomes a path, a table cell or a kernel lookup, checked here.
    func validate() throws {
        func fail(_ msg: String) -> EunomiaError { EunomiaError("manifest.json: \(msg)") }
        try Validate.identity(name: name, version: version, description: description, abi: abi, requires: requires, fail)
        for (role, path) in [("library", library), ("bpf_object", bpfObject), ("schema", schema)] where !Validate.isPackageFileName(path) {
            throw fail("\(role) \(path.quotedForError) is not a plain file name ([A-Za-z0-9._+-], at most 128 bytes)")
        }
        guard files.count <= PackageArchive.maxEntries else { throw fail("lists \(files.count) files, at most \(PackageArchive.maxEntries) are allowed") }
        for f in files {
            guard Validate.isPackageFileName(f.path) else {
                throw fail("file \(f.path.quotedForError) is not a plain file name ([A-Za-z0-9._+-], at most 128 bytes)")
            }
            // Signatures ride beside the files they cover; the provenance record is the host's.
            guard !PackageManifest.reservedNames.contains(f.path) else {
                throw fail("file '\(f.path)' has a name the host reserves (\(PackageManifest.reservedNames.sorted().joined(separator: ", ")))")
            }
            guard (0...Int64(PackageArchive.maxFileSize)).contains(f.size) else {
                throw fail("file '\(f.path)' has size \(f.size), outside 0 to \(PackageArchive.maxFileSize)")
            }
            guard Validate.isSHA256(f.sha256) else {
                throw fail("file '\(f.path)' has sha256 \(f.sha256.quotedForError), not 64 lower-case hex digits")
            }
        }
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Plain strings, integers and arrays: encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}
