import EunomiaPackages
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The media types of eunomia's OCI layout (docs/registry.md, "OCI registries").
public enum OCIMediaType {
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    public static let pluginConfig = "application/vnd.eunomia.plugin.config.v1+json"
    public static let pluginLayer = "application/vnd.eunomia.plugin.layer.v1+zip"
    /// What a Docker registry may answer with instead: named in the refusal, never read.
    static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
}

public enum OCIAnnotation {
    public static let title = "org.opencontainers.image.title"
    public static let version = "org.opencontainers.image.version"
    public static let description = "org.opencontainers.image.description"
    public static let created = "org.opencontainers.image.created"
}

public struct OCIPlatform: Codable, Equatable, Sendable {
    public var architecture: String
    public var os: String
}

/// A content descriptor: what a manifest says about a blob or another manifest.
public struct OCIDescriptor: Codable, Equatable, Sendable {
    public var mediaType: String
    public var digest: String
    public var size: Int64
    public var annotations: [String: String]?
    public var platform: OCIPlatform?

    public init(mediaType: String, digest: String, size: Int64, annotations: [String: String]? = nil, platform: OCIPlatform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }

    /// The digest is canonical and the size in 0...limit, so both may be used as they are.
    func check(_ what: String, limit: Int64) throws {
        guard OCIDigest.isValid(digest) else {
            throw EunomiaError("\(what) digest \(digest.quotedForError) is not sha256: followed by 64 lower-case hex digits")
        }
        guard size >= 0, size <= limit else {
            throw EunomiaError("\(what) \(digest.prefix(19))… declares \(size) bytes; at most \(limit) are accepted")
        }
    }
}

/// An OCI image manifest (schemaVersion 2). `artifactType` (image-spec 1.1) is set to the
/// config media type, what a 1.1 registry's referrers API would report anyway; distribution
/// 2.8 predates the field and stores it as is (checked by OCIRegistryTests). Install goes by
/// the config and layer media types, which every registry keeps.
public struct OCIImageManifest: Codable, Equatable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var config: OCIDescriptor
    public var layers: [OCIDescriptor]
    public var annotations: [String: String]?
}

/// An OCI image index: one manifest per architecture.
public struct OCIImageIndex: Codable, Equatable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var manifests: [OCIDescriptor]
    public var annotations: [String: String]?
}

/// The config blob: what the package says about itself, readable without the layer (the
/// registry UI, `skopeo inspect --config`). Informative only; install trusts the package.
public struct OCIPluginConfig: Codable, Equatable, Sendable {
    public var name: String
    public var version: String
    public var abi: String
    public var description: String
    public var requires: Requirements?
    public var signedBy: [String]
    public var architecture: String
    /// SHA-256 of the whole .pkg: the layer's digest without its "sha256:".
    public var sha256: String

    enum CodingKeys: String, CodingKey {
        case name, version, abi, description, requires, architecture, sha256
        case signedBy = "signed_by"
    }

    public init(_ s: PackageSummary, architecture: String) {
        name = s.name
        version = s.version
        abi = s.abi
        description = s.description
        requires = s.requires
        signedBy = s.signedBy
        self.architecture = architecture
        sha256 = s.sha256
    }
}

/// JSON for registry documents: sorted keys and unescaped slashes, so the same package
/// always gives the same bytes, and so the same manifest digest.
enum OCIJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw EunomiaError("cannot encode \(T.self): \(error)", kind: .failed)
        }
    }

    /// Decodes a registry document, or one line naming `what` and Foundation's complaint.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw EunomiaError("\(what) is not valid: it has no \(key.stringValue.quotedForError)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw EunomiaError("\(what) is not valid: \(path.isEmpty ? "the document" : path.quotedForError) has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw EunomiaError("\(what) is not valid: \(path.quotedForError) is out of range")
        } catch {
            throw EunomiaError("\(what) is not JSON")
        }
    }
}
