import AsyncHTTPClient
import EunomiaHost
import Foundation
import NIOCore
import NIOHTTP1

/// One client for the process: connection failures are reported at once (the default retries
/// with backoff until the connect timeout, which turns "no server" into a minute's wait).
private let sharedClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(10)
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

/// The CLI's side of the API: the Unix socket by default, or http://HOST:PORT with the bearer
/// token. A non-2xx answer becomes an EunomiaError with the server's one line and its kind.
public struct APIClient: Sendable {
    public enum Endpoint: Sendable {
        case unix(path: String)
        case http(base: String, token: String)

        var description: String {
            switch self {
            case .unix(let path): return "unix:\(path)"
            case .http(let base, _): return base
            }
        }
    }

    public let endpoint: Endpoint

    public init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    /// --server URL: http://HOST:PORT only (the server speaks no TLS; put one in front for that).
    public static func checkServerURL(_ text: String) throws -> String {
        guard text.utf8.count <= 256, let url = URL(string: text), url.scheme == "http", let host = url.host, !host.isEmpty,
              url.user == nil, url.password == nil, url.query == nil, url.fragment == nil, url.path.isEmpty || url.path == "/"
        else {
            throw EunomiaError("--server \(text.quotedForError) is not http://HOST:PORT")
        }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    private func url(_ path: String) throws -> String {
        switch endpoint {
        case .unix(let socket):
            guard let u = URL(httpURLWithSocketPath: socket, uri: path) else {
                throw EunomiaError("--socket \(socket.quotedForError) cannot be used as a socket path")
            }
            return u.absoluteString
        case .http(let base, _):
            return base + path
        }
    }

    private func request(_ method: HTTPMethod, _ path: String, body: [UInt8]?, contentType: String) throws -> HTTPClientRequest {
        var r = HTTPClientRequest(url: try url(path))
        r.method = method
        if case .http(_, let token) = endpoint { r.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            r.headers.add(name: "Content-Type", value: contentType)
            r.body = .bytes(ByteBuffer(bytes: body))
        }
        return r
    }

    /// One request; returns the JSON body of a 2xx answer.
    public func call(_ method: HTTPMethod, _ path: String, json: Any? = nil, raw: [UInt8]? = nil,
                     timeout: TimeAmount = .seconds(120)) async throws -> Any {
        var body = raw
        var contentType = "application/octet-stream"
        if let json {
            body = Array(try JSONSerialization.data(withJSONObject: json))
            contentType = "application/json"
        }
        let r = try request(method, path, body: body, contentType: contentType)
        let response: HTTPClientResponse
        do {
            response = try await sharedClient.execute(r, timeout: timeout)
        } catch {
            throw unreachable(error)
        }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let data = Data(bytes.readableBytesView)
        let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        guard (200..<300).contains(Int(response.status.code)) else {
            throw APIClient.error(status: Int(response.status.code), body: object)
        }
        guard let object else { throw EunomiaError("the server answered \(response.status.code) with a body that is not JSON", kind: .failed) }
        return object
    }

    /// GET a stream; calls onChunk with each piece of the body until the server ends it.
    public func stream(_ path: String, onChunk: @Sendable ([UInt8]) -> Bool) async throws {
        let r = try request(.GET, path, body: nil, contentType: "")
        let response: HTTPClientResponse
        do {
            response = try await sharedClient.execute(r, deadline: .distantFuture)
        } catch {
            throw unreachable(error)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            throw APIClient.error(status: Int(response.status.code),
                                  body: try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)))
        }
        for try await buffer in response.body {
            if !onChunk(Array(buffer.readableBytesView)) { break }
        }
    }

    static func error(status: Int, body: Any?) -> EunomiaError {
        let kind: EunomiaError.Kind
        switch status {
        case 400: kind = .invalid
        case 404: kind = .notFound
        case 409: kind = .conflict
        default: kind = .failed
        }
        if let dict = body as? [String: Any], let message = dict["error"] as? String {
            return EunomiaError(message, kind: kind)
        }
        return EunomiaError("the server answered HTTP \(status)", kind: kind)
    }

    private func unreachable(_ error: Error) -> EunomiaError {
        var why = "\(error)"
        // NIO's connect errors end in "(errno: N)": say it as the system does.
        if let n = SystemErrorText.errnoCode(in: why) {
            why = String(cString: strerror(n))
        } else if let e = error as? HTTPClientError {
            why = e.description
        }
        let hint: String
        if case .unix = endpoint { hint = " (is `eunomia server` running? as root?)" } else { hint = "" }
        return EunomiaError("cannot reach the server at \(endpoint.description): \(why)\(hint)", kind: .failed)
    }
}
