import EunomiaSchema
import Foundation

/// A user name and password for one registry, from a docker-style auth.json. Never part of
/// an error message or a description: only `authorizationHeader` shows them, to the registry.
public struct OCICredentials: Sendable, CustomStringConvertible {
    let user: String
    let password: String

    public var description: String { "credentials for \(user.quotedForError)" }

    var authorizationHeader: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    static let maxFileSize = 1 << 20

    /// Where to look when --auth-file is not given, in order, as podman and skopeo do, then docker.
    static func defaultFiles(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var files: [String] = []
        if let f = environment["REGISTRY_AUTH_FILE"], !f.isEmpty { files.append(f) }
        if let d = environment["XDG_RUNTIME_DIR"], !d.isEmpty { files.append("\(d)/containers/auth.json") }
        if let h = environment["HOME"], !h.isEmpty { files.append("\(h)/.docker/config.json") }
        return files
    }

    /// The credentials for `authority` (HOST or HOST:PORT): from `authFile` when given (it must
    /// exist), else from the first default file that exists. nil when none has an entry.
    public static func lookup(authority: String, authFile: String?) throws -> OCICredentials? {
        if let authFile {
            guard FileManager.default.fileExists(atPath: authFile) else {
                throw EunomiaError("--auth-file \(authFile.quotedForError) does not exist")
            }
            return try read(authFile, authority: authority)
        }
        for file in defaultFiles() where FileManager.default.fileExists(atPath: file) {
            return try read(file, authority: authority)
        }
        return nil
    }

    /// `{"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}`; keys written as
    /// URLs (https://HOST/v1/, docker's old form) match too.
    static func read(_ path: String, authority: String) throws -> OCICredentials? {
        let shown = path.quotedForError
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EunomiaError("cannot read auth file \(shown)") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxFileSize + 1)) ?? Data()
        guard data.count <= maxFileSize else { throw EunomiaError("auth file \(shown) is larger than 1 MiB") }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw EunomiaError("auth file \(shown) is not a JSON object")
        }
        guard let auths = root["auths"] else { return nil }
        guard let entries = auths as? [String: Any] else { throw EunomiaError("auth file \(shown): \"auths\" is not an object") }
        let key = entries.keys.sorted().first { normalized($0) == authority.lowercased() }
        guard let key else { return nil }
        guard let entry = entries[key] as? [String: Any], let auth = entry["auth"] as? String else {
            throw EunomiaError("auth file \(shown): the entry for \(key.quotedForError) has no \"auth\" string")
        }
        // The error never quotes the value: it is the password.
        guard let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }),
              let colon = decoded.firstIndex(of: ":") else {
            throw EunomiaError("auth file \(shown): the \"auth\" of \(key.quotedForError) is not base64 of USER:PASSWORD")
        }
        return OCICredentials(user: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
    }

    /// "https://HOST:PORT/v1/" → "host:port".
    private static func normalized(_ key: String) -> String {
        var k = key.lowercased()
        for scheme in ["https://", "http://"] where k.hasPrefix(scheme) { k.removeFirst(scheme.count) }
        if let slash = k.firstIndex(of: "/") { k = String(k[..<slash]) }
        return k
    }
}

/// A `WWW-Authenticate` challenge: `Basic realm="..."` or
/// `Bearer realm="https://...",service="...",scope="..."` (RFC 7235 auth-params).
struct OCIChallenge: Equatable {
    var scheme: String
    var parameters: [String: String]

    /// The first challenge in the header; nil if it cannot be read.
    static func parse(_ header: String) -> OCIChallenge? {
        let u = Array(header.utf8)
        var i = 0
        func skipSpace() { while i < u.count, u[i] == 0x20 || u[i] == 0x09 { i += 1 } }
        func token() -> String {
            let start = i
            while i < u.count, u[i] != 0x20, u[i] != 0x09, u[i] != UInt8(ascii: "="), u[i] != UInt8(ascii: ",") { i += 1 }
            return String(decoding: u[start..<i], as: UTF8.self)
        }
        skipSpace()
        let scheme = token()
        guard !scheme.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while i < u.count {
            skipSpace()
            let name = token().lowercased()
            skipSpace()
            guard !name.isEmpty, i < u.count, u[i] == UInt8(ascii: "=") else { break }
            i += 1
            skipSpace()
            var value: [UInt8] = []
            if i < u.count, u[i] == UInt8(ascii: "\"") {
                i += 1
                while i < u.count, u[i] != UInt8(ascii: "\"") {
                    if u[i] == UInt8(ascii: "\\"), i + 1 < u.count { i += 1 }
                    value.append(u[i])
                    i += 1
                }
                guard i < u.count else { return nil }
                i += 1
            } else {
                while i < u.count, u[i] != UInt8(ascii: ","), u[i] != 0x20 { value.append(u[i]); i += 1 }
            }
            parameters[name] = String(decoding: value, as: UTF8.self)
            skipSpace()
            if i < u.count, u[i] == UInt8(ascii: ",") { i += 1 }
        }
        return OCIChallenge(scheme: scheme.lowercased(), parameters: parameters)
    }
}
