#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Version

/// The grammars every string from a package, a schema or a command line is checked against
/// before it reaches a path, a table or the kernel. One definition each, used everywhere.
public enum Validate {
    /// Plugin names: `[a-z0-9][a-z0-9_-]{0,63}`; they become a directory name in the store.
    public static func isPluginName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count), isLowerAlnum(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Semantic Versioning 2.0.0 exactly (semver.org's grammar): no leading zeros in numeric
    /// identifiers, ASCII only, and every numeric part fits the comparison type. At most 128
    /// bytes, since the version is part of a directory name.
    public static func semver(_ s: String) -> Version? {
        guard s.utf8.count <= 128, isSemverSyntax(Array(s.utf8)) else { return nil }
        // Version parses what the grammar accepted; it refuses numbers beyond Int.
        return Version(s)
    }

    /// semver.org's grammar, checked byte by byte (Version's own parser is lenient: it takes
    /// "01.2.3" and "1.2.3-"): MAJOR.MINOR.PATCH, numbers without leading zeros; then
    /// optionally "-" and dot-separated pre-release identifiers ([0-9A-Za-z-]+, a numeric one
    /// without a leading zero); then optionally "+" and dot-separated build identifiers.
    /// No regular expression: Foundation's goes through ICU, which costs the server memory.
    static func isSemverSyntax(_ u: [UInt8]) -> Bool {
        let plus = u.firstIndex(of: UInt8(ascii: "+")) ?? u.count
        let dash = u[..<plus].firstIndex(of: UInt8(ascii: "-")) ?? plus
        func parts(_ r: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] { r.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) }
        func isNumber(_ p: ArraySlice<UInt8>) -> Bool { !p.isEmpty && p.allSatisfy(isDigit) && (p.count == 1 || p.first != UInt8(ascii: "0")) }
        func isIdentifier(_ p: ArraySlice<UInt8>) -> Bool {
            !p.isEmpty && p.allSatisfy { isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: "-") }
        }
        let core = parts(u[..<dash])
        guard core.count == 3, core.allSatisfy(isNumber) else { return false }
        if dash < plus {
            for p in parts(u[(dash + 1)..<plus]) {
                guard isIdentifier(p), !p.allSatisfy(isDigit) || isNumber(p) else { return false }
            }
        }
        if plus < u.count {
            guard parts(u[(plus + 1)...]).allSatisfy(isIdentifier) else { return false }
        }
        return true
    }

    /// What a schema and its manifest both declare, checked the same way in both.
    package static func identity(name: String, version: String, description: String, abi: ABIVersion, requires: Requirements?,
                         _ fail: (String) -> EunomiaError) throws {
        guard isPluginName(name) else {
            throw fail("name \(name.quotedForError) must be 1-64 characters of a-z, 0-9, '_' or '-', starting with a letter or digit")
        }
        guard semver(version) != nil else {
            throw fail("version \(version.quotedForError) is not a semantic version (semver.org 2.0.0, e.g. 1.2.3 or 1.2.3-rc.1)")
        }
        if let problem = displayTextProblem(description, maxBytes: 1024) { throw fail("description \(problem)") }
        try abi.validate(fail)
        try requires?.validate(fail)
    }

    /// Field, record and parameter names: `[a-z_][a-z0-9_]{0,63}` (JSON keys, CSV headers, C identifiers).
    public static func isIdentifier(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count), !isDigit(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") }
    }

    /// C identifiers of either case (BTF struct and member names), at most 128 bytes.
    package static func isCIdentifier(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...128).contains(u.count), !isDigit(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: "_") }
    }

    /// Names of files inside a package: `[A-Za-z0-9][A-Za-z0-9._+-]{0,127}`. ASCII only, so a
    /// zip name decoded as CP437 cannot smuggle a control byte in as a graphic character.
    public static func isPackageFileName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...128).contains(u.count), isLowerAlnum(u[0]) || isUpper(u[0]) else { return false }
        return u.allSatisfy {
            isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+")
        }
    }

    /// A SHA-256 as the manifest writes it: 64 lower-case hex digits.
    package static func isSHA256(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return u.count == 64 && u.allSatisfy { isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// A build id: the first 12 lower-case hex digits of a package digest.
    package static func isBuildID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return u.count == 12 && u.allSatisfy { isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// `requires.kernel`: 1 to 3 dot-separated numbers of at most 4 digits ("5.8", "6.1.0").
    static func isKernelVersion(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return (1...3).contains(parts.count) && parts.allSatisfy { p in (1...4).contains(p.utf8.count) && p.utf8.allSatisfy(isDigit) }
    }

    /// `requires.tracepoints`: `category/event`, each `[A-Za-z0-9_]` (tracefs names), so the
    /// existence check can only ever look at tracefs/events/CATEGORY/EVENT.
    package static func isTracepoint(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { p in
            (1...128).contains(p.utf8.count) && p.utf8.allSatisfy { isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: "_") }
        }
    }

    /// Text shown to people (descriptions, column headers, value names, units): at most
    /// maxBytes of UTF-8 with no C0 or C1 control, DEL, line/paragraph separator or bidi
    /// control, so it cannot move a cursor, fake a line or reorder what a terminal shows.
    /// Returns what is wrong, or nil.
    package static func displayTextProblem(_ s: String, maxBytes: Int) -> String? {
        if s.utf8.count > maxBytes { return "is longer than \(maxBytes) bytes" }
        if let bad = s.unicodeScalars.first(where: isUnsafeForDisplay) {
            return "contains the control character U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4))"
        }
        return nil
    }

    /// C0, DEL, and what the output formats neutralise beyond ASCII (C1, U+2028/2029, bidi
    /// controls): the same set the table and CSV escapers replace.
    static func isUnsafeForDisplay(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x20 || c.value == 0x7F || (c.value >= 0x80 && TerminalSafety.isNeutralised(c.value))
    }

    @inline(__always) package static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) package static func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    @inline(__always) package static func isLowerAlnum(_ b: UInt8) -> Bool { isDigit(b) || (b >= 0x61 && b <= 0x7A) }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }

    /// The string quoted for an error message, with anything unsafe for a terminal escaped
    /// and long input cut, so an error about hostile input is itself one safe line.
    package var quotedForError: String {
        var out = "'"
        for (i, c) in unicodeScalars.enumerated() {
            if i >= 80 { out += "..."; break }
            if Validate.isUnsafeForDisplay(c) || c == "\\" {
                out += c == "\\" ? "\\\\" : "\\u{\(String(c.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out + "'"
    }
}
