import EunomiaHost
import EunomiaMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PluginABI
import ServiceLifecycle

public enum DaemonInfo {
    public static let hostVersion = "0.1.0"
    public static var abi: ABIVersion { ABIVersion(major: Int(EUNOMIA_ABI_MAJOR), minor: Int(EUNOMIA_ABI_MINOR)) }
    /// JSON request bodies (everything but package uploads) are at most this long.
    static let maxJSONBody = 64 << 10
}

/// The HTTP API, /api/v1 (docs/http-api.md; the OpenAPI document is OpenAPIDocument.json). The
/// same routes serve the Unix socket (no token: the socket's mode is the access control) and
/// the TCP listener (every request needs the bearer token).
struct API: Sendable {
    let manager: TrackerManager
    let limits: Limits
    let logger: Logger
    let reload: @Sendable () async throws -> ReloadSummary
    let startedAt = Date()

    func router(token: [UInt8]?) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        // Middlewares first: routes capture the chain when they are added.
        router.add(middleware: ErrorMiddleware(logger: logger))
        if let token { router.add(middleware: TokenAuth(token: token)) }
        let v1 = router.group("api/v1")

        // Prometheus scrapes here (docs/prometheus.md); on TCP it needs the token like the rest.
        router.get("metrics") { _, _ -> Response in
            let text = manager.metricsExposition()
            return Response(status: .ok, headers: [.contentType: MetricsExporter.contentType],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }

        v1.get("health") { _, _ -> Response in
            struct Health: Encodable { let status: String; let trackers: Int; let uptime_s: Double }
            return try json(Health(status: "ok", trackers: manager.list().count, uptime_s: Date().timeIntervalSince(startedAt)))
        }
        v1.get("version") { _, _ -> Response in
            struct Version: Encodable { let version: String; let abi: ABIVersion; let api: String }
            return try json(Version(version: DaemonInfo.hostVersion, abi: DaemonInfo.abi, api: "v1"))
        }
        v1.get("openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }

        // Plugins.
        v1.get("plugins") { _, _ -> Response in
            let (plugins, damaged) = try await blocking { manager.store.scan() }
            return try json(PluginList(plugins: plugins, damaged: damaged, manager: manager))
        }
        v1.post("plugins") { request, _ -> Response in
            try await install(request)
        }
        v1.delete("plugins/:name") { _, context -> Response in
            let name = try context.parameters.require("name")
            return try json(Removed(removed: try await manager.removePlugin(name)))
        }
        v1.delete("plugins/:name/:version") { _, context -> Response in
            let name = try context.parameters.require("name")
            let version = try context.parameters.require("version")
            guard !name.contains("@"), !version.contains("@") else {
                throw EunomiaError("\("\(name)/\(version)".quotedForError) is not NAME/VERSION")
            }
            return try json(Removed(removed: try await manager.removePlugin("\(name)@\(version)")))
        }

        // Trackers.
        v1.get("trackers") { _, _ -> Response in
            struct List: Encodable { let trackers: [TrackerInfo] }
            return try json(List(trackers: manager.list()))
        }
        v1.post("trackers") { request, _ -> Response in
            let body = try await jsonObject(request, known: ["id", "plugin", "params", "filter"])
            guard let pluginValue = body["plugin"] else { throw EunomiaError("missing \"plugin\" (NAME, NAME@VERSION or NAME@RANGE)") }
            guard case .string(let plugin) = pluginValue else { throw EunomiaError("\"plugin\" must be a string") }
            var id: String?
            switch body["id"] {
            case nil, .null?: id = nil
            case .string(let s)?: id = s
            default: throw EunomiaError("\"id\" must be a string")
            }
            let params = try assignments(body["params"])
            var filter: String?
            switch body["filter"] {
            case nil, .null?: filter = nil
            case .string(let s)? where !s.isEmpty && s.utf8.count <= ConditionFilter.maxBytes: filter = s
            default: throw EunomiaError("\"filter\" must be a condition of 1 to \(ConditionFilter.maxBytes) bytes, such as \"comm == 'cat'\"")
            }
            let info = try await manager.start(id: id, plugin: plugin, params: params, filter: filter, origin: .api)
            return try json(info, status: .created)
        }
        v1.get("trackers/:id") { _, context -> Response in
            try json(manager.get(try context.parameters.require("id")))
        }
        v1.delete("trackers/:id") { _, context -> Response in
            try json(await manager.stop(try context.parameters.require("id")))
        }
        v1.post("trackers/:id/swap") { request, context -> Response in
            let id = try context.parameters.require("id")
            let body = try await jsonObject(request, known: ["version"])
            guard case .string(let version)? = body["version"] else {
                throw EunomiaError("\"version\" must be a string: 1.2.3, ^1.2, ~1.2 or latest")
            }
            return try json(await manager.swap(id, version: version))
        }
        v1.get("trackers/:id/events") { request, context -> Response in
            try events(request, id: try context.parameters.require("id"))
        }
        v1.get("alerts") { request, _ -> Response in
            try alerts(request)
        }
        v1.post("reload") { _, _ -> Response in
            try json(await reload())
        }
        return router
    }

    // MARK: Handlers

    /// The body goes to a private temporary file (0600, O_EXCL), at most limits.max_upload_mb,
    /// then through Store.install: the same verification as `eunomia plugin install`, the
    /// signature rule included (?allow_unsigned=true is --allow-unsigned).
    func install(_ request: Request) async throws -> Response {
        let allowUnsigned: Bool
        switch request.uri.queryParameters["allow_unsigned"].map(String.init) {
        case nil, "false"?: allowUnsigned = false
        case "true"?: allowUnsigned = true
        case let other?: throw EunomiaError("allow_unsigned \(other.quotedForError) is not true or false")
        }
        var template = Array((NSTemporaryDirectory() + "/eunomia-upload-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw EunomiaError("cannot create a temporary file: \(String(cString: strerror(errno)))", kind: .failed) }
        let path = String(cString: template)
        defer { unlink(path) }
        let limit = limits.maxUploadMB << 20
        var total = 0
        do {
            defer { close(fd) }
            for try await buffer in request.body {
                total += buffer.readableBytes
                guard total <= limit else {
                    throw HTTPError(.contentTooLarge, message: "package is larger than \(limits.maxUploadMB) MiB (limits.max_upload_mb)")
                }
                try buffer.withUnsafeReadableBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw EunomiaError("cannot write the upload: \(String(cString: strerror(errno)))", kind: .failed)
                        }
                        offset += n
                    }
                }
            }
        }
        guard total > 0 else { throw EunomiaError("empty body: send the .pkg file's bytes (Content-Type: application/octet-stream)") }
        let store = manager.store
        let (plugin, outcome) = try await blocking {
            do {
                return try store.install(package: URL(fileURLWithPath: path), allowUnsigned: allowUnsigned)
            } catch let e as EunomiaError {
                // The verifier names the file it read: here, a temporary name of no use to the client.
                let name = (path as NSString).lastPathComponent
                throw EunomiaError("package: " + e.message.replacingOccurrences(of: path, with: "upload")
                    .replacingOccurrences(of: name, with: "upload"), kind: e.kind)
            }
        }
        struct Installed: Encodable {
            let installed: Bool
            let name: String
            let version: String
            let build: String
            let directory: String
            let unsigned: Bool
            let signed_by: [SignedBy]
        }
        logger.info("plugin \(plugin.reference) (build \(plugin.buildID)) \(outcome == .installed ? "installed" : "already installed") over the API, \(plugin.provenance == .unsigned ? "unsigned" : "signed by \(plugin.provenance.summary)")")
        if plugin.provenance == .unsigned {
            logger.warning("plugin \(plugin.reference) (build \(plugin.buildID)) is installed unsigned: no key this store trusts signed it (allow_unsigned=true)")
        }
        return try json(Installed(installed: outcome == .installed, name: plugin.name, version: plugin.version,
                                  build: plugin.buildID, directory: plugin.directory.path,
                                  unsigned: plugin.provenance == .unsigned, signed_by: SignedBy.list(plugin.provenance)),
                        status: outcome == .installed ? .created : .ok)
    }

    enum StreamFormat { case sse, ndjson }

    /// ?format=sse|ndjson, else the Accept header's text/event-stream, else NDJSON.
    func streamFormat(_ request: Request) throws -> StreamFormat {
        if let f = request.uri.queryParameters["format"] {
            switch f {
            case "sse": return .sse
            case "ndjson": return .ndjson
            default: throw EunomiaError("format \(String(f).quotedForError) is not sse or ndjson")
            }
        }
        return request.headers[.accept]?.contains("text/event-stream") == true ? .sse : .ndjson
    }

    func events(_ request: Request, id: String) throws -> Response {
        let format = try streamFormat(request)
        var filter: String?
        if let f = request.uri.queryParameters["filter"] {
            guard !f.isEmpty, f.utf8.count <= ConditionFilter.maxBytes else { throw EunomiaError("filter must be a condition of 1 to \(ConditionFilter.maxBytes) bytes") }
            filter = String(f)
        }
        let stream = try manager.subscribe(id, filter: filter)
        let headers: HTTPFields = [
            .contentType: format == .sse ? "text/event-stream" : "application/x-ndjson",
            .cacheControl: "no-cache",
        ]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { stream.close() }
            if format == .sse {
                // A comment: lets the client see the stream is open before the first record.
                try await writer.write(ByteBuffer(string: ": tracker \(id)\n\n"))
            }
            try await request.body.consumeWithInboundCloseHandler { _ in
                try await withGracefulShutdownHandler {
                    while let chunk = await stream.next() {
                        try await writer.write(ByteBuffer(bytes: format == .sse ? API.sseFrames(chunk) : chunk))
                    }
                } onGracefulShutdown: {
                    stream.close()
                }
            } onInboundClosed: {
                stream.close()
            }
            try await writer.finish(nil)
        })
    }

    /// GET /api/v1/alerts: the alerts raised from now on, as NDJSON or SSE (like events).
    func alerts(_ request: Request) throws -> Response {
        let format = try streamFormat(request)
        let stream = manager.subscribeAlerts()
        let headers: HTTPFields = [
            .contentType: format == .sse ? "text/event-stream" : "application/x-ndjson",
            .cacheControl: "no-cache",
        ]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { stream.close() }
            if format == .sse { try await writer.write(ByteBuffer(string: ": alerts\n\n")) }
            try await request.body.consumeWithInboundCloseHandler { _ in
                try await withGracefulShutdownHandler {
                    while let chunk = await stream.next() {
                        try await writer.write(ByteBuffer(bytes: format == .sse ? API.sseFrames(chunk) : chunk))
                    }
                } onGracefulShutdown: {
                    stream.close()
                }
            } onInboundClosed: {
                stream.close()
            }
            try await writer.finish(nil)
        })
    }

    /// Each JSON line becomes one event: `data: LINE\n\n`.
    static func sseFrames(_ chunk: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(chunk.count + 16)
        for line in chunk.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            out.append(contentsOf: Array("data: ".utf8))
            out.append(contentsOf: line)
            out.append(contentsOf: [UInt8(ascii: "\n"), UInt8(ascii: "\n")])
        }
        return out
    }

    // MARK: JSON

    /// A JSON object body with only the known keys.
    func jsonObject(_ request: Request, known: Set<String>) async throws -> [String: JSONValue] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: DaemonInfo.maxJSONBody)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "request body is larger than \(DaemonInfo.maxJSONBody / 1024) KiB")
        }
        guard buffer.readableBytes > 0 else { throw EunomiaError("empty body: send a JSON object") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw EunomiaError("body is not valid JSON")
        }
        guard case .object(let object) = value else { throw EunomiaError("body must be a JSON object") }
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw EunomiaError("unknown key \(unknown.quotedForError) (known: \(known.sorted().joined(separator: ", ")))")
        }
        return object
    }

    /// {"pid": 1234, "failed": true, "comm": "bash"} as KEY=VALUE assignments.
    func assignments(_ params: JSONValue?) throws -> [String] {
        guard let params, params != .null else { return [] }
        guard case .object(let object) = params else { throw EunomiaError("\"params\" must be an object of parameter: value") }
        guard object.count <= 64 else { throw EunomiaError("\"params\" has more than 64 entries") }
        var result: [String] = []
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard Validate.isIdentifier(key) else {
                throw EunomiaError("\(key.quotedForError) is not a parameter name ([a-z_][a-z0-9_]*, at most 64 characters)")
            }
            switch value {
            case .string(let s): result.append("\(key)=\(s)")
            case .bool(let b): result.append("\(key)=\(b)")
            case .integer(let i): result.append("\(key)=\(i)")
            case .double(let d): result.append("\(key)=\(d)")
            default: throw EunomiaError("parameter '\(key)' must be a string, an integer or a boolean")
            }
        }
        return result
    }
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var data = try encoder.encode(value)
    data.append(UInt8(ascii: "\n"))
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
}

func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
    struct Body: Encodable { let error: String }
    // EunomiaError made the message one safe line already; this one cannot fail to encode.
    return (try? json(Body(error: EunomiaError(message).message), status: status))
        ?? Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"error\"}\n")))
}

extension EunomiaError.Kind {
    var status: HTTPResponse.Status {
        switch self {
        case .invalid: return .badRequest
        case .notFound: return .notFound
        case .conflict: return .conflict
        case .failed: return .unprocessableContent
        }
    }
}

/// Every failure as {"error": "..."}: EunomiaError by kind, Hummingbird's own errors by their
/// status (unknown route 404, body too large 413), anything else 500 (a bug, logged).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as EunomiaError {
            if e.kind == .failed { logger.warning("\(request.method) \(request.uri.path): \(e.message)") }
            return errorResponse(e.kind.status, e.message)
        } catch let e as HTTPError {
            let message: String
            switch e.status {
            case .notFound: message = "no such endpoint: \(request.method) \(request.uri.path.prefix(200))"
            case .contentTooLarge: message = e.body ?? "request body too large"
            default: message = e.body ?? e.status.reasonPhrase
            }
            return errorResponse(e.status, message)
        } catch is NIOTooManyBytesError {
            return errorResponse(.contentTooLarge, "request body too large")
        } catch {
            logger.error("\(request.method) \(request.uri.path): internal error: \(error)")
            return errorResponse(.internalServerError, "internal error: \(error)")
        }
    }
}

/// TCP requests carry `Authorization: Bearer TOKEN`; anything else gets 401 before any route runs.
struct TokenAuth: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.authorization].flatMap { h -> [UInt8]? in
            guard h.hasPrefix("Bearer ") else { return nil }
            return Array(h.utf8.dropFirst(7))
        }
        guard let given, ServerToken.equal(given, token) else {
            var r = errorResponse(.unauthorized, "missing or wrong token: send Authorization: Bearer TOKEN (the token is in STORE/server.token)")
            r.headers[.wwwAuthenticate] = "Bearer"
            return r
        }
        return try await next(request, context)
    }
}

/// A key that vouched for an installed build.
struct SignedBy: Encodable {
    let key_id: String
    let name: String
    let fingerprint: String

    static func list(_ provenance: Provenance) -> [SignedBy] {
        guard case .signed(let vouchers) = provenance else { return [] }
        return vouchers.map { SignedBy(key_id: $0.key.keyID, name: $0.key.name, fingerprint: $0.key.key.fingerprint) }
    }
}

/// GET /api/v1/plugins.
struct PluginList: Encodable {
    struct Build: Encodable {
        let version: String
        let build: String
        let abi: String
        let description: String
        let directory: String
        let in_use_by: [String]
        let unsigned: Bool
        let signed_by: [SignedBy]
    }
    struct Plugin: Encodable {
        let name: String
        let versions: [Build]
    }
    struct Damaged: Encodable {
        let path: String
        let reason: String
    }

    let plugins: [Plugin]
    let damaged: [Damaged]

    init(plugins installed: [InstalledPlugin], damaged broken: [DamagedEntry], manager: TrackerManager) {
        var byName: [String: [Build]] = [:]
        var order: [String] = []
        for p in installed {
            if byName[p.name] == nil { order.append(p.name) }
            byName[p.name, default: []].append(Build(
                version: p.version, build: p.buildID, abi: p.manifest.abi.description, description: p.manifest.description,
                directory: p.directory.path, in_use_by: manager.trackersUsing(name: p.name, version: p.version, buildID: p.buildID),
                unsigned: p.provenance == .unsigned, signed_by: SignedBy.list(p.provenance)))
        }
        plugins = order.map { Plugin(name: $0, versions: byName[$0] ?? []) }
        damaged = broken.map { Damaged(path: $0.path, reason: $0.reason) }
    }
}

struct Removed: Encodable {
    let removed: [String]
}

/// Any JSON value, decoded strictly (a number with a fraction is a double, not an integer).
enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
