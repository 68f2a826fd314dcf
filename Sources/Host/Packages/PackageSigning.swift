import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PackageArchive {
    public struct Signed {
        public let manifest: PackageManifest
        /// This key had signed the package before; its signature was replaced.
        public let replaced: Bool
        /// Every key that signs the package now.
        public let keys: [PublicKey]
    }

    /// Adds key's signature over manifest.json to the package, replacing an earlier one by
    /// the same key and keeping every other. The package is read with install's in-memory
    /// checks (a corrupt package is not vouched for) and written again from the checked bytes:
    /// manifest.json is the same bytes, so the digest and the build id do not change.
    @discardableResult
    public static func sign(_ package: URL, with key: SigningKey) throws -> Signed {
        let contents = try read(package)
        var signatures = contents.signatures
        let replaced = try signatures.sign(manifest: contents.manifestData, with: key)
        var entries = [(PackageManifest.fileName, contents.manifestData)]
        entries += contents.files.map { ($0.0.path, $0.1) }
        entries.append((PackageSignatures.fileName, signatures.encoded()))
        try write(entries: entries, to: package)
        return Signed(manifest: contents.manifest, replaced: replaced, keys: signatures.signatures.map(\.key))
    }
}
