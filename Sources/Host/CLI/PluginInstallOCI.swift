import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Plugin.Install {
    /// oci://HOST[:PORT]/REPO:TAG or ...@sha256:DIGEST: the package is downloaded into a
    /// private directory with its manifest and layer digests checked (OCIPull), then
    /// installed as a file would be, signature check included.
    func installOCI(_ text: String, into store: Store) async throws -> (InstalledPlugin, Store.InstallOutcome) {
        let reference = try OCIReference.parse(text)
        let credentials = try OCICredentials.lookup(authority: reference.authority, authFile: sources.authFile)
        let client = OCIClient(reference: reference, transport: sources.transport, credentials: credentials)
        let directory = try DownloadDirectory()
        let (file, _) = try await OCIPull(client: client).fetch(into: directory)
        // The directory (and the download in it) is removed when it goes: not before the install.
        // Errors name the reference: the file name in them is the registry's title annotation.
        do {
            return try withExtendedLifetime(directory) { try store.install(package: file, allowUnsigned: allowUnsigned) }
        } catch let e as EunomiaError {
            throw EunomiaError("\(reference): \(e.message)", kind: e.kind)
        }
    }
}
