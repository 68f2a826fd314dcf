import Version

/// Which versions of a plugin a reference accepts: `NAME` or `NAME@latest` (any), `NAME@1.2.3`
/// (exactly), `NAME@^1.2` (same major: >=1.2.0 <2.0.0; for 0.x, same minor, as npm and Cargo
/// read it), `NAME@~1.2` (same minor: >=1.2.0 <1.3.0), or comparisons joined by spaces or commas
/// (`>=1.0.0 <2.0.0`). The highest matching version wins. Each version part is checked by
/// Validate.semver; anything else is refused with one line naming the reference.
public struct VersionRequirement: Equatable, CustomStringConvertible, Sendable {
    enum Bound: Equatable, Sendable {
        case atLeast(Version), above(Version), below(Version), atMost(Version), exactly(Version)

        func admits(_ v: Version) -> Bool {
            switch self {
            case .atLeast(let b): return v >= b
            case .above(let b): return v > b
            case .below(let b): return v < b
            case .atMost(let b): return v <= b
            case .exactly(let b): return v == b
            }
        }
    }

    let bounds: [Bound]
    public let description: String

    /// Any version.
    public static let any = VersionRequirement(bounds: [], description: "latest")

    public static func exactly(_ v: Version) -> VersionRequirement {
        VersionRequirement(bounds: [.exactly(v)], description: v.description)
    }

    init(bounds: [Bound], description: String) {
        self.bounds = bounds
        self.description = description
    }

    /// The version this requirement names exactly, if it is an exact one.
    public var exactVersion: Version? {
        if bounds.count == 1, case .exactly(let v) = bounds[0] { return v }
        return nil
    }

    public func admits(_ v: Version) -> Bool { bounds.allSatisfy { $0.admits(v) } }

    /// Parses the part after '@'. Returns nil when it is not one of the forms above.
    public static func parse(_ text: String) -> VersionRequirement? {
        guard !text.isEmpty, text.utf8.count <= 128 else { return nil }
        if text == "latest" || text == "*" { return .any }
        if let v = Validate.semver(text) { return .exactly(v) }
        if text.hasPrefix("^") || text.hasPrefix("~") {
            guard let base = partial(String(text.dropFirst())) else { return nil }
            let upper: Version
            if text.hasPrefix("~") || (base.major == 0 && base.given >= 2) {
                upper = base.major == 0 && text.hasPrefix("^") && base.minor == 0 && base.given == 3
                    ? Version(0, 0, base.patch + 1) : Version(base.major, base.minor + 1, 0)
            } else {
                upper = Version(base.major + 1, 0, 0)
            }
            return VersionRequirement(bounds: [.atLeast(base.version), .below(upper)], description: text)
        }
        var bounds: [Bound] = []
        for part in text.split(whereSeparator: { $0 == " " || $0 == "," }) {
            let p = String(part)
            let ops: [(String, (Version) -> Bound)] = [(">=", Bound.atLeast), ("<=", Bound.atMost), (">", Bound.above),
                                                      ("<", Bound.below), ("=", Bound.exactly)]
            guard let (op, make) = ops.first(where: { p.hasPrefix($0.0) }),
                  let v = Validate.semver(String(p.dropFirst(op.count))) else { return nil }
            bounds.append(make(v))
        }
        guard !bounds.isEmpty, bounds.count <= 8 else { return nil }
        return VersionRequirement(bounds: bounds, description: text)
    }

    /// "1", "1.2" or "1.2.3": the version with missing parts 0, and how many were given.
    private static func partial(_ text: String) -> (version: Version, major: Int, minor: Int, patch: Int, given: Int)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Int] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 9, p.allSatisfy(\.isASCII), p.allSatisfy(\.isNumber),
                  p == "0" || !p.hasPrefix("0"), let n = Int(p) else { return nil }
            numbers.append(n)
        }
        while numbers.count < 3 { numbers.append(0) }
        return (Version(numbers[0], numbers[1], numbers[2]), numbers[0], numbers[1], numbers[2], parts.count)
    }
}

/// NAME, NAME@VERSION or NAME@RANGE, as the config, the API and the CLI take a plugin.
public enum PluginReference {
    public static func parse(_ reference: String) throws -> (name: String, requirement: VersionRequirement) {
        let parts = reference.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, Validate.isPluginName(name) else {
            throw EunomiaError("\(reference.quotedForError) is not NAME or NAME@VERSION (a name is 1-64 characters of a-z, 0-9, '_' or '-')")
        }
        guard parts.count == 2 else { return (name, .any) }
        guard let requirement = VersionRequirement.parse(parts[1]) else {
            throw EunomiaError("\(parts[1].quotedForError) in \(reference.quotedForError) is not a version (1.2.3), a range (^1.2, ~1.2, >=1.0.0 <2.0.0) or latest")
        }
        return (name, requirement)
    }
}
