import EunomiaSchema
import Foundation
import NIOHTTP1

/// Blobs and manifests over the distribution API (OCI distribution spec, "push" and "pull").
extension OCIClient {
    /// Most bytes a manifest or an index may have: ours are well under 4 KiB.
    static let maxManifestSize = 4 << 20

    /// A manifest as fetched: its bytes, the media type it declares, and its digest (the
    /// SHA-256 of exactly these bytes, checked against what was asked for).
    struct FetchedManifest {
        var bytes: [UInt8]
        var mediaType: String
        var digest: String
    }

    func blobExists(_ digest: String) async throws -> Bool {
        let r = try await send(.HEAD, url("blobs/\(digest)"), cap: 0)
        switch r.status {
        case 200: return true
        case 404: return false
        default: throw unexpected(r, "checking for blob \(digest.prefix(19))…")
        }
    }

    /// Uploads a blob unless the registry has it: POST for an upload location, then one
    /// monolithic PUT of the bytes to it with ?digest=.
    func pushBlob(_ bytes: [UInt8], digest: String) async throws {
        if try await blobExists(digest) { return }
        let what = "uploading blob \(digest.prefix(19))…"
        let start = try await send(.POST, url("blobs/uploads/"), headers: ["Content-Length": "0"], body: [], cap: 64 << 10)
        guard start.status == 202 else { throw unexpected(start, what) }
        guard let location = start.headers.first(name: "Location"),
              let resolved = URL(string: location, relativeTo: base)?.absoluteURL,
              var components = URLComponents(url: resolved, resolvingAgainstBaseURL: false) else {
            throw EunomiaError("\(what): \(reference.authority) gave no upload location")
        }
        components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "digest", value: digest)]
        guard let target = components.url else { throw EunomiaError("\(what): \(reference.authority) gave an upload location that is not a URL") }
        let headers: HTTPHeaders = ["Content-Type": "application/octet-stream", "Content-Length": "\(bytes.count)"]
        let done = try await send(.PUT, target, headers: headers, body: bytes, cap: 64 << 10)
        guard done.status == 201 else { throw unexpected(done, what) }
        try checkDigestHeader(done.headers, expected: digest, what: "blob")
    }

    /// PUTs a manifest or an index under `tag` (or its own digest when nil) and returns its digest.
    @discardableResult
    func pushManifest(_ bytes: [UInt8], mediaType: String, tag: String?) async throws -> String {
        let digest = OCIDigest.of(bytes)
        let name = tag ?? digest
        let r = try await send(.PUT, url("manifests/\(name)"), headers: ["Content-Type": mediaType], body: bytes, cap: 64 << 10)
        guard r.status == 201 else { throw unexpected(r, "pushing the manifest \(name)") }
        try checkDigestHeader(r.headers, expected: digest, what: "manifest")
        return digest
    }

    /// GETs the manifest or index `name` (a tag or a digest), accepting both OCI types, and
    /// checks its digest: against `name` when it is one, against `expected` when given (a
    /// descriptor's), and against the registry's Docker-Content-Digest when it sends one.
    func fetchManifest(_ name: String, expected: String? = nil) async throws -> FetchedManifest {
        let accept = "\(OCIMediaType.imageManifest), \(OCIMediaType.imageIndex)"
        let r = try await send(.GET, url("manifests/\(name)"), headers: ["Accept": accept], cap: Self.maxManifestSize)
        guard r.status == 200 else {
            if r.status == 404 { throw EunomiaError("\(reference.authority) has no manifest \(name.quotedForError) in \(reference.repository.quotedForError)", kind: .notFound) }
            throw unexpected(r, "fetching the manifest \(name)")
        }
        let digest = OCIDigest.of(r.body)
        for wanted in [OCIDigest.isValid(name) ? name : nil, expected].compactMap({ $0 }) where wanted != digest {
            throw EunomiaError("the manifest \(reference.repository)@\(wanted.prefix(19))… from \(reference.authority) has digest \(digest.prefix(19))…: digest mismatch (corrupt or tampered with); nothing was installed")
        }
        try checkDigestHeader(r.headers, expected: digest, what: "manifest")
        let declared = (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["mediaType"] as? String
        let contentType = r.headers.first(name: "Content-Type").map { String($0.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces) }
        return FetchedManifest(bytes: r.body, mediaType: declared ?? contentType ?? "", digest: digest)
    }

    /// The registry's Docker-Content-Digest, when present, must be the digest computed here.
    private func checkDigestHeader(_ headers: HTTPHeaders, expected: String, what: String) throws {
        guard let header = headers.first(name: "Docker-Content-Digest") else { return }
        guard header == expected else {
            let shown = OCIDigest.isValid(header) ? "\(header.prefix(19))…" : "a malformed digest"
            throw EunomiaError("\(reference.authority) says the \(what) digest is \(shown), its bytes hash to \(expected.prefix(19))…: digest mismatch")
        }
    }

    var blobURLBase: URL { base.appendingPathComponent("blobs") }
}
