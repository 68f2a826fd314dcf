import EunomiaPackages
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `plugin install oci://...`: from a reference to a package file in a download directory,
/// every step checked before the next is taken: the manifest's digest, its media types, the
/// layer's size and digest. The package itself (hashes, signature) is the store's to check.
public struct OCIPull {
    public let client: OCIClient
    /// The architecture an image index is resolved for.
    public let architecture: String

    /// No package is near this; a registry declaring more is refused before any download.
    public static let maxLayerSize: Int64 = 128 << 20

    public init(client: OCIClient, architecture: String = ELFMachine.host) {
        self.client = client
        self.architecture = architecture
    }

    /// Downloads the package the reference names into `directory`; returns the file and the
    /// digest of the image manifest it came from.
    public func fetch(into directory: DownloadDirectory) async throws -> (file: URL, manifestDigest: String) {
        let reference = client.reference
        var fetched = try await client.fetchManifest(reference.manifestReference)
        if fetched.mediaType == OCIMediaType.imageIndex {
            let chosen = try choose(fromIndex: fetched.bytes)
            fetched = try await client.fetchManifest(chosen.digest, expected: chosen.digest)
            guard Int64(fetched.bytes.count) == chosen.size else {
                throw EunomiaError("\(reference): the manifest for \(architecture) is \(fetched.bytes.count) bytes, the index says \(chosen.size)")
            }
        }
        let layer = try pluginLayer(fetched)
        let file = directory.file(named: layer.annotations?[OCIAnnotation.title] ?? "package.pkg")
        do {
            try await client.transport.download(client.blobURLBase.appendingPathComponent(layer.digest),
                                                headers: client.authorizationHeaders, to: file,
                                                expectedSize: layer.size, sha256: OCIDigest.hex(layer.digest))
        } catch let e as EunomiaError {
            throw EunomiaError("\(reference): layer \(layer.digest.prefix(19))…: \(e.message)", kind: e.kind)
        }
        return (file, fetched.digest)
    }

    /// The descriptor in an index for linux on this architecture, or one line listing what it has.
    func choose(fromIndex bytes: [UInt8]) throws -> OCIDescriptor {
        let reference = client.reference
        let index = try OCIJSON.decode(OCIImageIndex.self, bytes, what: "the image index of \(reference)")
        guard index.schemaVersion == 2 else { throw EunomiaError("the image index of \(reference) has schemaVersion \(index.schemaVersion), not 2") }
        let linux = index.manifests.filter { $0.platform?.os == "linux" }
        let matching = linux.filter { $0.platform?.architecture == architecture }
        guard let chosen = matching.first else {
            let available = Set(linux.compactMap { $0.platform?.architecture }).sorted()
            let list = available.isEmpty ? "none for linux" : available.map { String($0.prefix(32)) }.joined(separator: ", ")
            throw EunomiaError("\(reference) has no package for linux/\(architecture); it has: \(list)", kind: .notFound)
        }
        guard matching.count == 1 else { throw EunomiaError("\(reference) lists \(matching.count) manifests for linux/\(architecture); expected one") }
        guard chosen.mediaType == OCIMediaType.imageManifest else {
            throw EunomiaError("\(reference): the entry for linux/\(architecture) has media type \(chosen.mediaType.quotedForError), not \(OCIMediaType.imageManifest)")
        }
        try chosen.check("the manifest for linux/\(architecture)", limit: Int64(OCIClient.maxManifestSize))
        return chosen
    }

    /// The single layer of a eunomia plugin manifest, with its media types checked.
    func pluginLayer(_ fetched: OCIClient.FetchedManifest) throws -> OCIDescriptor {
        let reference = client.reference
        switch fetched.mediaType {
        case OCIMediaType.imageManifest:
            break
        case OCIMediaType.dockerManifest, OCIMediaType.dockerList:
            throw EunomiaError("\(reference) is a Docker image (\(fetched.mediaType)), not a eunomia plugin")
        case OCIMediaType.imageIndex:
            throw EunomiaError("\(reference): an image index inside an image index is not a eunomia plugin")
        default:
            throw EunomiaError("\(reference) has media type \(String(fetched.mediaType.prefix(100)).quotedForError), not \(OCIMediaType.imageManifest)")
        }
        let manifest = try OCIJSON.decode(OCIImageManifest.self, fetched.bytes, what: "the manifest of \(reference)")
        guard manifest.schemaVersion == 2 else {
            throw EunomiaError("the manifest of \(reference) has schemaVersion \(manifest.schemaVersion), not 2")
        }
        guard manifest.config.mediaType == OCIMediaType.pluginConfig else {
            throw EunomiaError("\(reference) is not a eunomia plugin: its config media type is \(String(manifest.config.mediaType.prefix(100)).quotedForError), not \(OCIMediaType.pluginConfig)")
        }
        guard manifest.layers.count == 1, let layer = manifest.layers.first else {
            throw EunomiaError("\(reference) has \(manifest.layers.count) layers; a eunomia plugin has exactly one, the package")
        }
        guard layer.mediaType == OCIMediaType.pluginLayer else {
            throw EunomiaError("\(reference) is not a eunomia plugin: its layer media type is \(String(layer.mediaType.prefix(100)).quotedForError), not \(OCIMediaType.pluginLayer)")
        }
        try layer.check("\(reference): the layer", limit: Self.maxLayerSize)
        guard layer.size > 0 else { throw EunomiaError("\(reference): the layer declares 0 bytes") }
        return layer
    }
}
