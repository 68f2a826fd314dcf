import EunomiaPackages
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a registry index lives: a directory on this machine, or an HTTP(S) base URL under
/// which index.json and the packages it lists are found.
public struct RegistryLocation: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case directory(URL)
        case http(URL)
    }

    public let kind: Kind
    /// Allows plain http to a host that is not loopback (the config's `insecure = true`).
    public let insecure: Bool

    public var description: String {
        switch kind {
        case .directory(let url): return url.path
        case .http(let url): return url.absoluteString
        }
    }

    /// A path (relative ones against the working directory), file:///PATH, or
    /// http(s)://HOST[:PORT][/PATH]; one line otherwise.
    public static func parse(_ text: String, insecure: Bool = false) throws -> RegistryLocation {
        func fail(_ why: String) -> EunomiaError { EunomiaError("registry \(text.quotedForError) \(why)") }
        guard !text.isEmpty, text.utf8.count <= 2048, !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
            throw fail("is not a directory or an http(s):// URL (at most 2048 bytes, no spaces or control characters)")
        }
        if !text.contains("://") {
            let cwd = FileManager.default.currentDirectoryPath
            let path = text.hasPrefix("/") ? text : cwd + "/" + text
            return RegistryLocation(kind: .directory(URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL), insecure: insecure)
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            throw fail("is not a directory or an http(s):// URL")
        }
        switch scheme {
        case "file":
            guard url.host == nil || url.host == "" || url.host == "localhost", url.path.hasPrefix("/") else {
                throw fail("is not file:///ABSOLUTE/PATH")
            }
            return RegistryLocation(kind: .directory(URL(fileURLWithPath: url.path, isDirectory: true).standardizedFileURL), insecure: insecure)
        case "http", "https":
            guard url.query == nil, url.fragment == nil else { throw fail("has a query or fragment; give the folder that holds index.json") }
            var base = url.absoluteString
            if base.hasSuffix("/" + RegistryIndex.fileName) { base.removeLast(RegistryIndex.fileName.count) }
            while base.hasSuffix("/") { base.removeLast() }
            guard let baseURL = URL(string: base + "/") else { throw fail("is not a URL") }
            let location = RegistryLocation(kind: .http(baseURL), insecure: insecure)
            try HTTPTransport(insecure: insecure).check(baseURL)
            return location
        default:
            throw fail("has scheme \(scheme.quotedForError): use a directory, file://, http:// or https:// (oci:// goes to plugin install and push)")
        }
    }

    /// index.json, fetched and checked.
    public func index(transport: HTTPTransport) async throws -> RegistryIndex {
        switch kind {
        case .directory(let dir):
            let path = dir.appendingPathComponent(RegistryIndex.fileName).path
            let data: Data
            do {
                data = try SafeFile.read(path, maxBytes: RegistryIndex.maxSize)
            } catch let e as EunomiaError {
                throw EunomiaError("registry \(dir.path): \(e.message)")
            }
            return try RegistryIndex.decode(data, source: path)
        case .http(let base):
            let url = base.appendingPathComponent(RegistryIndex.fileName)
            let r = try await client(transport).send(.GET, url, cap: RegistryIndex.maxSize)
            guard r.status == 200 else {
                throw EunomiaError("registry \(description): GET \(RegistryIndex.fileName) answered HTTP \(r.status)", kind: r.status == 404 ? .notFound : .failed)
            }
            return try RegistryIndex.decode(Data(r.body), source: url.absoluteString)
        }
    }

    /// Copies a listed package into `downloads`, checking its size and SHA-256 against the
    /// index as the bytes arrive; returns the copy, which nothing but this process can change.
    public func fetch(_ release: RegistryIndex.Release, into downloads: DownloadDirectory, transport: HTTPTransport) async throws -> URL {
        let destination = downloads.file(named: release.file)
        switch kind {
        case .directory(let dir):
            try Self.copy(dir.appendingPathComponent(release.file), to: destination, release)
        case .http(let base):
            try await client(transport).download(base.appendingPathComponent(release.file), to: destination,
                                                 expectedSize: release.size, sha256: release.sha256)
        }
        return destination
    }

    private func client(_ transport: HTTPTransport) -> HTTPTransport {
        insecure && !transport.insecure ? HTTPTransport(insecure: true, timeout: transport.timeout) : transport
    }

    /// The directory case of fetch: read once (capped), checked, written to our own file.
    private static func copy(_ source: URL, to destination: URL, _ release: RegistryIndex.Release) throws {
        let data: Data
        do {
            data = try SafeFile.read(source.path, maxBytes: Int(release.size))
        } catch let e as EunomiaError {
            throw EunomiaError("\(source.path): not the \(release.size) bytes the index lists (\(e.message)); nothing was installed")
        }
        guard data.count == release.size else {
            throw EunomiaError("\(source.path): \(data.count) bytes, the index lists \(release.size) (replaced or truncated); nothing was installed")
        }
        guard PackageArchive.sha256Hex(data) == release.sha256 else {
            throw EunomiaError("\(source.path): SHA-256 differs from the index's (corrupt or tampered with); nothing was installed")
        }
        try SafeFile.writePrivate(destination.path, data)
    }
}
