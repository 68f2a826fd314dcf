import EunomiaPackages
import EunomiaSchema
import Foundation

/// `plugin push`: packages to an OCI registry. One package is one image manifest under the
/// tag; several (one per architecture, same name and version) are one manifest each, pushed
/// by digest, and an image index under the tag naming them by platform.
public struct OCIPush {
    public let client: OCIClient

    public init(client: OCIClient) { self.client = client }

    /// What was pushed for one package.
    public struct Pushed: Sendable {
        public let summary: PackageSummary
        public let architecture: String
        public let manifestDigest: String
    }

    /// A package read and described, ready to push.
    struct Prepared {
        let summary: PackageSummary
        let architecture: String
        let bytes: [UInt8]
        let config: [UInt8]
        let manifest: [UInt8]
    }

    /// Pushes `packages` under the reference's tag; returns the digest the tag now names
    /// (the manifest's or the index's) and each package's manifest digest.
    public func push(_ packages: [URL], created: Date = Date()) async throws -> (digest: String, packages: [Pushed]) {
        let reference = client.reference
        guard let tag = reference.tag, reference.digest == nil else {
            throw EunomiaError("push to \(reference.description.quotedForError): give a tag (REPOSITORY:TAG), not a digest; the registry computes the digest")
        }
        guard !packages.isEmpty else { throw EunomiaError("push: no package given") }
        let timestamp = ISO8601DateFormatter().string(from: created)
        let prepared = try packages.map { try prepare($0, created: timestamp) }
        try checkTogether(prepared, packages)

        var pushed: [Pushed] = []
        for p in prepared {
            try await client.pushBlob(p.config, digest: OCIDigest.of(p.config))
            try await client.pushBlob(p.bytes, digest: "sha256:" + p.summary.sha256)
            // One package: the manifest goes under the tag; several: by digest, the index under the tag.
            let digest = try await client.pushManifest(p.manifest, mediaType: OCIMediaType.imageManifest,
                                                       tag: prepared.count == 1 ? tag : nil)
            pushed.append(Pushed(summary: p.summary, architecture: p.architecture, manifestDigest: digest))
        }
        guard prepared.count > 1 else { return (pushed[0].manifestDigest, pushed) }

        let first = prepared[0].summary
        let index = OCIImageIndex(
            schemaVersion: 2, mediaType: OCIMediaType.imageIndex,
            manifests: zip(prepared, pushed).map { p, done in
                OCIDescriptor(mediaType: OCIMediaType.imageManifest, digest: done.manifestDigest, size: Int64(p.manifest.count),
                              platform: OCIPlatform(architecture: p.architecture, os: "linux"))
            },
            annotations: annotations(first, created: timestamp))
        let digest = try await client.pushManifest(try OCIJSON.encode(index), mediaType: OCIMediaType.imageIndex, tag: tag)
        return (digest, pushed)
    }

    /// Reads and checks the package (a push never sends what install would refuse to read)
    /// and builds its config and manifest.
    func prepare(_ package: URL, created: String) throws -> Prepared {
        let summary = try PackageArchive.summary(of: package)
        let architecture = try PackageArchive.architecture(of: package)
        let bytes = [UInt8](try SafeFile.read(package.path, maxBytes: Int(OCIPull.maxLayerSize)))
        guard OCIDigest.of(bytes) == "sha256:" + summary.sha256 else {
            throw EunomiaError("\(package.lastPathComponent) changed while it was being read; push it again")
        }
        let config = try OCIJSON.encode(OCIPluginConfig(summary, architecture: architecture))
        let manifest = OCIImageManifest(
            schemaVersion: 2, mediaType: OCIMediaType.imageManifest, artifactType: OCIMediaType.pluginConfig,
            config: OCIDescriptor(mediaType: OCIMediaType.pluginConfig, digest: OCIDigest.of(config), size: Int64(config.count)),
            layers: [OCIDescriptor(mediaType: OCIMediaType.pluginLayer, digest: "sha256:" + summary.sha256, size: Int64(bytes.count),
                                   annotations: [OCIAnnotation.title: "\(summary.name)-\(summary.version).pkg"])],
            annotations: annotations(summary, created: created))
        return Prepared(summary: summary, architecture: architecture, bytes: bytes, config: config,
                        manifest: try OCIJSON.encode(manifest))
    }

    private func annotations(_ s: PackageSummary, created: String) -> [String: String] {
        [OCIAnnotation.version: s.version, OCIAnnotation.description: s.description, OCIAnnotation.created: created]
    }

    /// Several packages under one tag must be one plugin version for different CPUs.
    private func checkTogether(_ prepared: [Prepared], _ files: [URL]) throws {
        guard let first = prepared.first, prepared.count > 1 else { return }
        var seen: [String: String] = [:]
        for (p, file) in zip(prepared, files) {
            guard p.summary.name == first.summary.name, p.summary.version == first.summary.version else {
                throw EunomiaError("\(file.lastPathComponent) is \(p.summary.name) \(p.summary.version), \(files[0].lastPathComponent) is \(first.summary.name) \(first.summary.version): packages pushed under one tag must be the same plugin and version")
            }
            if let other = seen.updateValue(file.lastPathComponent, forKey: p.architecture) {
                throw EunomiaError("\(other) and \(file.lastPathComponent) are both for \(p.architecture): push one package per architecture")
            }
        }
    }
}
