import Foundation

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

    public static func decode(_ data: Data) throws -> PackageManifest {
        do {
            return try JSONDecoder().decode(PackageManifest.self, from: data)
        } catch let error as DecodingError {
            throw EunomiaError("manifest.json: \(describe(error))")
        }
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(self)
    }
}
