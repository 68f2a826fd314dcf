import AsyncHTTPClient
import Crypto
import EunomiaPackages
import EunomiaSchema
import Foundation
import NIOCore
import NIOHTTP1

/// HTTP(S) for registries, through AsyncHTTPClient: every body capped, every failure one line
/// naming the URL. Plain http:// only to a loopback host unless the caller allows it
/// (--insecure): an index or a manifest read in the clear can be swapped on the way, and
/// although signatures still guard what is installed, a downgrade to an older signed build
/// or a refused install is all an attacker on the path would need.
public struct HTTPTransport: Sendable {
    public struct Response: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: [UInt8]

        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// Allow http:// to a host that is not loopback.
    public let insecure: Bool
    public let timeout: TimeAmount

    public init(insecure: Bool = false, timeout: TimeAmount = .seconds(60)) {
        self.insecure = insecure
        self.timeout = timeout
    }

    /// One client per process, as AsyncHTTPClient wants: connection errors reported at once,
    /// redirects followed (registries hand blobs out from storage by redirect) up to 5, never
    /// from https to http.
    private static let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.connectionPool.retryConnectionEstablishment = false
        c.timeout.connect = .seconds(10)
        c.timeout.read = .seconds(30)
        c.redirectConfiguration = .follow(max: 5, allowCycles: false)
        c.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()

    /// Refuses a URL this transport may not fetch: not http(s), credentials in it, or plain
    /// http to a non-loopback host without `insecure`.
    public func check(_ url: URL) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw EunomiaError("\(url.absoluteString.quotedForError) is not an http:// or https:// URL")
        }
        guard url.user == nil, url.password == nil else {
            throw EunomiaError("\(Self.redacted(url)) carries credentials in the URL; put them in auth.json instead")
        }
        if scheme == "http" && !insecure && !Self.isLoopback(host) {
            throw EunomiaError("refusing plain http to \(host.quotedForError) (\(Self.redacted(url))): use https, or --insecure if you mean it")
        }
    }

    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h == "[::1]" || h.hasPrefix("127.")
    }

    /// The URL as errors may show it (no user info, no query: tokens travel there).
    public static func redacted(_ url: URL) -> String {
        guard var c = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "the URL" }
        c.user = nil
        c.password = nil
        c.query = nil
        return (c.string ?? "the URL").quotedForError
    }

    /// One request; the body is collected up to `cap` bytes (more is an error, not a truncation).
    public func send(_ method: HTTPMethod, _ url: URL, headers: HTTPHeaders = [:], body: [UInt8]? = nil,
                     cap: Int = 4 << 20) async throws -> Response {
        try check(url)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response: HTTPClientResponse
        do {
            response = try await Self.client.execute(request, timeout: timeout)
        } catch {
            throw failure(url, error)
        }
        do {
            let buffer = try await response.body.collect(upTo: cap)
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
        } catch is NIOTooManyBytesError {
            throw EunomiaError("\(Self.redacted(url)) answered with more than \(Self.bytes(cap)); refusing it")
        } catch {
            throw failure(url, error)
        }
    }

    /// Streams a GET into a new file at `destination` (created with O_EXCL, mode 0600),
    /// refusing it once more than `expectedSize` bytes arrive, and checks the size and the
    /// SHA-256 when it ends. On any failure the file is removed. Returns the response headers.
    @discardableResult
    public func download(_ url: URL, headers: HTTPHeaders = [:], to destination: URL, expectedSize: Int64,
                         sha256 expected: String) async throws -> HTTPHeaders {
        try check(url)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers = headers
        let fd = open(destination.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw EunomiaError("cannot create \(destination.path): \(String(cString: strerror(errno)))")
        }
        var finished = false
        defer {
            close(fd)
            if !finished { unlink(destination.path) }
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.client.execute(request, timeout: timeout)
        } catch {
            throw failure(url, error)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            throw EunomiaError("\(Self.redacted(url)) answered HTTP \(response.status.code) \(response.status.reasonPhrase)")
        }
        var hasher = SHA256()
        var received: Int64 = 0
        do {
            for try await buffer in response.body {
                received += Int64(buffer.readableBytes)
                guard received <= expectedSize else {
                    throw EunomiaError("\(Self.redacted(url)) sent more than the \(expectedSize) bytes the registry lists; refusing it")
                }
                try buffer.withUnsafeReadableBytes { raw in
                    hasher.update(bufferPointer: raw)
                    try SafeFile.writeAll(fd, raw, path: destination.path)
                }
            }
        } catch let e as EunomiaError {
            throw e
        } catch {
            throw failure(url, error)
        }
        guard received == expectedSize else {
            throw EunomiaError("\(Self.redacted(url)) sent \(received) bytes, the registry lists \(expectedSize) (truncated or replaced)")
        }
        let actual = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard actual == expected.lowercased() else {
            throw EunomiaError("\(Self.redacted(url)): SHA-256 \(actual.prefix(16))… differs from the registry's \(expected.prefix(16))… (corrupt or tampered with); nothing was installed")
        }
        finished = true
        return response.headers
    }

    private func failure(_ url: URL, _ error: Error) -> EunomiaError {
        var why: String
        if let e = error as? HTTPClientError {
            why = e == .deadlineExceeded || e == .readTimeout ? "timed out" : e.description
        } else {
            why = "\(error)"
        }
        // NIO's connect errors end in "(errno: N)": say it as the system does.
        if let n = SystemErrorText.errnoCode(in: why) { why = String(cString: strerror(n)) }
        return EunomiaError("cannot fetch \(Self.redacted(url)): \(why)", kind: .failed)
    }

    static func bytes(_ n: Int) -> String { n >= 1 << 20 ? "\(n >> 20) MiB" : "\(n >> 10) KiB" }
}
