import EunomiaPackages
import EunomiaSchema
import Foundation
import Version

/// index.json: what a registry holds (docs/registry.md). Decoded from hostile bytes, so every
/// field is checked against its grammar and every list is bounded before anything uses it.
public struct RegistryIndex: Equatable, Sendable {
    public static let fileName = "index.json"
    public static let currentFormat = 1
    public static let maxSize = 8 << 20
    static let maxPlugins = 4096
    static let maxVersions = 512
    static let maxSigners = 16
    /// A package larger than this is not one the store would install (PackageArchive's cap).
    static let maxPackageSize: Int64 = 128 << 20

    public struct Plugin: Equatable, Sendable {
        public var name: String
        public var description: String
        /// Newest first.
        public var versions: [Release]
    }

    public struct Release: Equatable, Sendable {
        public var version: Version
        public var abi: String
        /// The package's file name, beside index.json.
        public var file: String
        public var size: Int64
        public var sha256: String
        /// First 12 hex digits of the manifest's SHA-256, as the store names the build.
        public var build: String
        public var signedBy: [String]
    }

    public var plugins: [Plugin]

    public init(plugins: [Plugin]) {
        self.plugins = plugins.sorted { $0.name < $1.name }
    }

    public func plugin(named name: String) -> Plugin? { plugins.first { $0.name == name } }

    // MARK: The document

    /// The JSON shape; snake_case as every file this project writes.
    struct Document: Codable {
        var format: Int
        var generated: String?
        var plugins: [PluginEntry]

        struct PluginEntry: Codable {
            var name: String
            var description: String
            var versions: [ReleaseEntry]
        }

        struct ReleaseEntry: Codable {
            var version: String
            var abi: String
            var file: String
            var size: Int64
            var sha256: String
            var build: String
            var signed_by: [String]
        }
    }

    /// Parses and checks index.json; `source` names it in errors.
    public static func decode(_ data: Data, source: String) throws -> RegistryIndex {
        func fail(_ message: String) -> EunomiaError { EunomiaError("\(source): \(message)") }
        guard data.count <= maxSize else { throw fail("larger than \(maxSize >> 20) MiB") }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw fail("not JSON: \(context.debugDescription)")
        } catch DecodingError.keyNotFound(let key, let context) {
            throw fail("\(path(context.codingPath + [key])) is missing")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw fail("\(path(context.codingPath)) has the wrong type")
        } catch {
            throw fail("not an index: \(error)")
        }
        guard document.format == currentFormat else {
            throw fail("index format \(document.format) is not supported (this host reads format \(currentFormat))")
        }
        guard document.plugins.count <= maxPlugins else { throw fail("more than \(maxPlugins) plugins") }
        var seen = Set<String>()
        var plugins: [Plugin] = []
        for (i, p) in document.plugins.enumerated() {
            guard Validate.isPluginName(p.name) else {
                throw fail("plugins[\(i)].name \(p.name.quotedForError) is not a plugin name")
            }
            guard seen.insert(p.name).inserted else { throw fail("plugin \(p.name) is listed twice") }
            if let problem = Validate.displayTextProblem(p.description, maxBytes: 1024) { throw fail("\(p.name): description \(problem)") }
            guard p.versions.count <= maxVersions else { throw fail("\(p.name): more than \(maxVersions) versions") }
            var releases: [Release] = []
            for (j, r) in p.versions.enumerated() {
                let at = "\(p.name) versions[\(j)]"
                guard let v = Validate.semver(r.version) else { throw fail("\(at).version \(r.version.quotedForError) is not a semantic version") }
                guard !releases.contains(where: { $0.version == v }) else { throw fail("\(p.name) \(v) is listed twice") }
                guard isABI(r.abi) else { throw fail("\(at).abi \(r.abi.quotedForError) is not MAJOR.MINOR") }
                guard Validate.isPackageFileName(r.file), r.file != fileName else {
                    throw fail("\(at).file \(r.file.quotedForError) is not a plain file name")
                }
                guard (1...maxPackageSize).contains(r.size) else { throw fail("\(at).size \(r.size) is not from 1 to \(maxPackageSize)") }
                guard isHex(r.sha256, count: 64) else { throw fail("\(at).sha256 is not 64 lower-case hex digits") }
                guard isHex(r.build, count: 12) else { throw fail("\(at).build is not 12 lower-case hex digits") }
                guard r.signed_by.count <= maxSigners, r.signed_by.allSatisfy({ isHex($0, count: 16) }) else {
                    throw fail("\(at).signed_by is not a list of at most \(maxSigners) key ids (16 hex digits)")
                }
                releases.append(Release(version: v, abi: r.abi, file: r.file, size: r.size, sha256: r.sha256,
                                        build: r.build, signedBy: r.signed_by))
            }
            releases.sort { $0.version > $1.version }
            plugins.append(Plugin(name: p.name, description: p.description, versions: releases))
        }
        return RegistryIndex(plugins: plugins)
    }

    /// The document, sorted and pretty-printed, so rebuilding an unchanged folder writes the same bytes
    /// (but for `generated`).
    public func encoded(generated: Date = Date()) -> Data {
        let document = Document(
            format: Self.currentFormat, generated: ISO8601DateFormatter().string(from: generated),
            plugins: plugins.map { p in
                Document.PluginEntry(name: p.name, description: p.description, versions: p.versions.map {
                    Document.ReleaseEntry(version: $0.version.description, abi: $0.abi, file: $0.file, size: $0.size,
                                          sha256: $0.sha256, build: $0.build, signed_by: $0.signedBy)
                })
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding our own validated values cannot fail.
        return ((try? encoder.encode(document)) ?? Data()) + Data("\n".utf8)
    }

    private static func isABI(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.count <= 5 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }
    }

    static func isHex(_ s: String, count: Int) -> Bool {
        s.utf8.count == count && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
