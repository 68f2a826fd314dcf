import Crypto
import EunomiaSchema
import Foundation

/// `HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`, the text after `oci://`, checked against the
/// distribution reference grammar byte by byte: the repository becomes a URL path and the tag
/// or digest its last segment, so nothing outside the grammar may get that far.
public struct OCIReference: Equatable, Sendable, CustomStringConvertible {
    /// A DNS name, an IPv4 address or a bracketed IPv6 address, as given.
    public let host: String
    public let port: Int?
    /// Path components of `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, joined by '/'.
    public let repository: String
    public let tag: String?
    /// `sha256:` and 64 lower-case hex digits; when given it decides, the tag is informative.
    public let digest: String?

    /// HOST or HOST:PORT: the key auth.json files use.
    public var authority: String { port.map { "\(host):\($0)" } ?? host }

    /// The tag or digest the manifest is fetched by (a digest wins over a tag).
    public var manifestReference: String { digest ?? tag ?? "latest" }

    public var description: String {
        "oci://\(authority)/\(repository)" + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
    }

    public init(host: String, port: Int?, repository: String, tag: String?, digest: String?) {
        self.host = host
        self.port = port
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// The same repository on the same registry, by digest.
    public func with(digest: String) -> OCIReference {
        OCIReference(host: host, port: port, repository: repository, tag: tag, digest: digest)
    }

    static let maxRepositoryLength = 255

    /// Parses the text after `oci://`; each bad part is one line naming it.
    public static func parse(_ text: String) throws -> OCIReference {
        let shown = "oci://\(text)".quotedForError
        guard let slash = text.firstIndex(of: "/") else {
            throw EunomiaError("\(shown): expected oci://HOST[:PORT]/REPOSITORY:TAG or .../REPOSITORY@sha256:DIGEST")
        }
        let (host, port) = try parseAuthority(String(text[..<slash]), shown: shown)
        var rest = String(text[text.index(after: slash)...])

        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            guard OCIDigest.isValid(d) else {
                throw EunomiaError("\(shown): digest \(d.quotedForError) is not sha256: followed by 64 lower-case hex digits")
            }
            digest = d
            rest = String(rest[..<at])
        }
        var tag: String?
        // A ':' after the last '/' starts the tag.
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let t = String(rest[rest.index(after: colon)...])
            guard isTag(Array(t.utf8)) else {
                throw EunomiaError("\(shown): tag \(t.quotedForError) is not [A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
            }
            tag = t
            rest = String(rest[..<colon])
        }
        guard !rest.isEmpty else { throw EunomiaError("\(shown): no repository after the host") }
        guard rest.utf8.count <= maxRepositoryLength else {
            throw EunomiaError("\(shown): the repository is longer than \(maxRepositoryLength) bytes")
        }
        for component in rest.split(separator: "/", omittingEmptySubsequences: false) where !isPathComponent(Array(component.utf8)) {
            throw EunomiaError("\(shown): repository component \(String(component).quotedForError) is not lower-case letters and digits separated by '.', '_', '__' or dashes")
        }
        guard tag != nil || digest != nil else {
            throw EunomiaError("\(shown): give a tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)")
        }
        return OCIReference(host: host, port: port, repository: rest, tag: tag, digest: digest)
    }

    // MARK: The grammar, byte by byte

    private static func parseAuthority(_ s: String, shown: String) throws -> (String, Int?) {
        var host = s, portText: String?
        if s.hasPrefix("[") {
            // [IPv6] or [IPv6]:PORT
            guard let close = s.firstIndex(of: "]") else { throw EunomiaError("\(shown): host \(s.quotedForError) has no closing ']'") }
            host = String(s[...close])
            let after = s[s.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw EunomiaError("\(shown): unexpected text after the host \(host.quotedForError)") }
                portText = String(after.dropFirst())
            }
            let inner = Array(host.utf8.dropFirst().dropLast())
            guard !inner.isEmpty, inner.count <= 45, inner.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                throw EunomiaError("\(shown): host \(host.quotedForError) is not an IPv6 address")
            }
        } else {
            if let colon = s.firstIndex(of: ":") {
                host = String(s[..<colon])
                portText = String(s[s.index(after: colon)...])
            }
            guard isDomain(Array(host.utf8)) else {
                throw EunomiaError("\(shown): host \(host.quotedForError) is not a host name (letters, digits, '-' and '.')")
            }
        }
        guard let portText else { return (host, nil) }
        let digits = Array(portText.utf8)
        guard (1...5).contains(digits.count), digits.allSatisfy(isDigit), let port = Int(portText), (1...65535).contains(port) else {
            throw EunomiaError("\(shown): port \(portText.quotedForError) is not a number from 1 to 65535")
        }
        return (host, port)
    }

    /// domain-component ('.' domain-component)*, each [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?.
    static func isDomain(_ u: [UInt8]) -> Bool {
        guard (1...253).contains(u.count) else { return false }
        for label in u.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last, label.count <= 63,
                  isAlnum(first), isAlnum(last),
                  label.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return true
    }

    /// [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    static func isPathComponent(_ u: [UInt8]) -> Bool {
        var i = 0
        func alnumRun() -> Bool {
            let start = i
            while i < u.count, isLowerAlnum(u[i]) { i += 1 }
            return i > start
        }
        guard alnumRun() else { return false }
        while i < u.count {
            switch u[i] {
            case UInt8(ascii: "."):
                i += 1
            case UInt8(ascii: "_"):
                i += 1
                if i < u.count, u[i] == UInt8(ascii: "_") { i += 1 }
            case UInt8(ascii: "-"):
                while i < u.count, u[i] == UInt8(ascii: "-") { i += 1 }
            default:
                return false
            }
            guard alnumRun() else { return false }
        }
        return true
    }

    /// [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
    static func isTag(_ u: [UInt8]) -> Bool {
        guard let first = u.first, u.count <= 128, isAlnum(first) || first == UInt8(ascii: "_") else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isDigit(_ c: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) }
    private static func isLowerAlnum(_ c: UInt8) -> Bool { isDigit(c) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) }
    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(c)
    }
}

/// OCI content digests: only sha256, only in its canonical form, before any goes into a URL.
public enum OCIDigest {
    public static func isValid(_ s: String) -> Bool {
        s.hasPrefix("sha256:") && Validate.isSHA256(String(s.dropFirst(7)))
    }

    public static func of(_ bytes: [UInt8]) -> String {
        "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The 64 hex digits, for HTTPTransport.download's check.
    public static func hex(_ digest: String) -> String { String(digest.dropFirst(7)) }
}
