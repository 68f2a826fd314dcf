import EunomiaSchema
import Foundation
import NIOHTTP1

/// One repository on one registry, spoken to through HTTPTransport: anonymous first, and on
/// a 401 what `WWW-Authenticate` asks for (Basic, or a Bearer token from the realm), once.
///
/// The scheme is https, except for a loopback host or with `insecure` (--insecure), where it
/// is http: as docker and skopeo treat localhost and registries listed as insecure. Every URL
/// the registry hands back (upload locations, the token realm) goes through
/// HTTPTransport.check again, so a registry cannot send us to plain http elsewhere.
public final class OCIClient {
    public let reference: OCIReference
    let transport: HTTPTransport
    let credentials: OCICredentials?
    /// The Authorization header that worked, reused for the requests after it.
    private var authorization: String?

    public init(reference: OCIReference, transport: HTTPTransport, credentials: OCICredentials?) {
        self.reference = reference
        self.transport = transport
        self.credentials = credentials
    }

    var base: URL {
        let scheme = transport.insecure || HTTPTransport.isLoopback(reference.host) ? "http" : "https"
        // Host, port and repository passed OCIReference's grammar: nothing here needs escaping.
        return URL(string: "\(scheme)://\(reference.authority)/v2/\(reference.repository)/")!
    }

    func url(_ path: String) -> URL { base.appendingPathComponent(path) }

    /// Headers to send with a request this client did not make itself (a blob download).
    var authorizationHeaders: HTTPHeaders {
        var h = HTTPHeaders()
        if let authorization { h.add(name: "Authorization", value: authorization) }
        return h
    }

    /// One request, authenticated if the registry asks to be. A 401 after a token is
    /// answered once more: a push's token for pull is not one for push, and the new
    /// challenge names the wider scope.
    func send(_ method: HTTPMethod, _ url: URL, headers: HTTPHeaders = [:], body: [UInt8]? = nil, cap: Int = 4 << 20) async throws -> HTTPTransport.Response {
        var h = headers
        // Credentials and tokens go to the registry itself only, not to an upload location
        // it names elsewhere.
        guard isRegistry(url) else { return try await transport.send(method, url, headers: h, body: body, cap: cap) }
        if let authorization { h.replaceOrAdd(name: "Authorization", value: authorization) }
        let first = try await transport.send(method, url, headers: h, body: body, cap: cap)
        guard first.status == 401 else { return first }
        let answer = try await authenticate(first)
        guard answer != authorization else { throw refusal(first) }
        authorization = answer
        h.replaceOrAdd(name: "Authorization", value: answer)
        let second = try await transport.send(method, url, headers: h, body: body, cap: cap)
        if second.status == 401 { throw refusal(second) }
        return second
    }

    /// Same scheme, host and port as the registry's base URL.
    func isRegistry(_ url: URL) -> Bool {
        url.scheme?.lowercased() == base.scheme && url.host?.lowercased() == base.host?.lowercased() && url.port == base.port
    }

    /// The Authorization header for the challenge in a 401.
    private func authenticate(_ response: HTTPTransport.Response) async throws -> String {
        guard let header = response.headers.first(name: "WWW-Authenticate"), let challenge = OCIChallenge.parse(header) else {
            throw EunomiaError("\(reference.authority) answered 401 Unauthorized without a WWW-Authenticate challenge it can be answered by")
        }
        switch challenge.scheme {
        case "basic":
            guard let credentials else { throw noCredentials() }
            return credentials.authorizationHeader
        case "bearer":
            return "Bearer " + (try await token(challenge))
        default:
            throw EunomiaError("\(reference.authority) asks for \(challenge.scheme.quotedForError) authentication; only Basic and Bearer are supported")
        }
    }

    static let maxTokenResponse = 1 << 20

    /// GET realm?service=...&scope=..., with the basic credentials if there are any; the
    /// answer is {"token": ...} or {"access_token": ...}.
    private func token(_ challenge: OCIChallenge) async throws -> String {
        guard let realm = challenge.parameters["realm"], var components = URLComponents(string: realm), components.host != nil else {
            throw EunomiaError("\(reference.authority) asks for a Bearer token without a realm URL to get it from")
        }
        var query = components.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        if let scope = challenge.parameters["scope"] { query.append(URLQueryItem(name: "scope", value: scope)) }
        components.queryItems = query.isEmpty ? nil : query
        guard let url = components.url else { throw EunomiaError("the token realm of \(reference.authority) is not a URL") }
        var headers = HTTPHeaders()
        if let credentials { headers.add(name: "Authorization", value: credentials.authorizationHeader) }
        let response = try await transport.send(.GET, url, headers: headers, cap: Self.maxTokenResponse)
        if response.status == 401 || response.status == 403 {
            throw credentials == nil ? noCredentials()
                : EunomiaError("the token service \(HTTPTransport.redacted(url)) refused the credentials for \(reference.authority) (HTTP \(response.status))")
        }
        guard response.isSuccess else {
            throw EunomiaError("the token service \(HTTPTransport.redacted(url)) answered HTTP \(response.status)")
        }
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard let token = (object?["token"] as? String) ?? (object?["access_token"] as? String), !token.isEmpty,
              token.utf8.count <= 64 << 10, token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw EunomiaError("the token service \(HTTPTransport.redacted(url)) did not answer with a usable token")
        }
        return token
    }

    private func noCredentials() -> EunomiaError {
        EunomiaError("\(reference.authority) requires authentication and no credentials for it were found (--auth-file, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)")
    }

    private func refusal(_ response: HTTPTransport.Response) -> EunomiaError {
        credentials == nil ? noCredentials()
            : EunomiaError("\(reference.authority) refused the credentials for \(reference.repository.quotedForError) (HTTP 401 Unauthorized)")
    }

    /// One line for a response that is not what was asked for, with the registry's own error
    /// code (OCI error body {"errors": [{"code", "message"}]}) when it gave one.
    func unexpected(_ response: HTTPTransport.Response, _ what: String) -> EunomiaError {
        var detail = ""
        if let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
           let errors = object["errors"] as? [[String: Any]], let e = errors.first {
            let code = (e["code"] as? String).map { "\($0.prefix(64))" } ?? ""
            let message = (e["message"] as? String).map { "\($0.prefix(200))" } ?? ""
            detail = ": " + [code, message].filter { !$0.isEmpty }.joined(separator: " ")
        }
        return EunomiaError("\(what): \(reference.authority) answered HTTP \(response.status)\(detail)", kind: response.status == 404 ? .notFound : .failed)
    }
}
