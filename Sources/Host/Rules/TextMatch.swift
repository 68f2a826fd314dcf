#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Text tests on raw bytes, without copying. An argv's NUL separators read as spaces, as the
/// outputs show them, so `args contains "-rf /"` matches what a person sees.
enum TextMatch {
    @inline(__always) static func byte(_ t: UnsafeRawBufferPointer, _ i: Int, _ argv: Bool) -> UInt8 {
        let b = t[i]
        return argv && b == 0 ? 0x20 : b
    }

    static func test(_ test: TextTest, _ text: UnsafeRawBufferPointer, argv: Bool, literal: UnsafeRawBufferPointer) -> Bool {
        switch test {
        case .equal:
            return text.count == literal.count && same(text, 0, literal, argv)
        case .startsWith:
            return text.count >= literal.count && same(text, 0, literal, argv)
        case .endsWith:
            return text.count >= literal.count && same(text, text.count - literal.count, literal, argv)
        case .contains:
            guard literal.count > 0 else { return true }
            guard text.count >= literal.count else { return false }
            if !argv { return find(literal, in: text) }
            for start in 0...(text.count - literal.count) where same(text, start, literal, argv) { return true }
            return false
        case .glob:
            return glob(literal, text, argv)
        }
    }

    /// Whether literal occurs in text: memchr to each candidate first byte, memcmp the rest.
    static func find(_ literal: UnsafeRawBufferPointer, in text: UnsafeRawBufferPointer) -> Bool {
        let base = text.baseAddress!, first = Int32(literal[0])
        var at = 0
        let last = text.count - literal.count
        while at <= last {
            guard let hit = memchr(base + at, first, last - at + 1) else { return false }
            let i = base.distance(to: UnsafeRawPointer(hit))
            if memcmp(base + i, literal.baseAddress!, literal.count) == 0 { return true }
            at = i + 1
        }
        return false
    }

    @inline(__always) static func same(_ text: UnsafeRawBufferPointer, _ start: Int, _ literal: UnsafeRawBufferPointer, _ argv: Bool) -> Bool {
        guard literal.count > 0 else { return true }
        if !argv { return memcmp(text.baseAddress! + start, literal.baseAddress!, literal.count) == 0 }
        for i in 0..<literal.count where byte(text, start + i, true) != literal[i] { return false }
        return true
    }

    /// Shell-style wildcards over the whole text: `*` any run, `?` one byte, `[abc]`, `[a-z]`,
    /// `[!x]` one byte of (or not of) a set; `\` makes the next byte literal. Backtracks only
    /// to the last `*`, so time stays linear in text × pattern.
    static func glob(_ pattern: UnsafeRawBufferPointer, _ text: UnsafeRawBufferPointer, _ argv: Bool) -> Bool {
        var p = 0, t = 0
        var starP = -1, starT = 0
        while t < text.count {
            if p < pattern.count {
                let c = pattern[p]
                if c == UInt8(ascii: "*") {
                    starP = p; starT = t; p += 1
                    continue
                }
                if let (matched, next) = single(pattern, p, byte(text, t, argv)), matched {
                    p = next; t += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starT += 1
            t = starT
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Whether the pattern element at p matches b, and where the next element starts.
    static func single(_ pattern: UnsafeRawBufferPointer, _ p: Int, _ b: UInt8) -> (Bool, Int)? {
        let c = pattern[p]
        switch c {
        case UInt8(ascii: "?"):
            return (true, p + 1)
        case UInt8(ascii: "\\") where p + 1 < pattern.count:
            return (pattern[p + 1] == b, p + 2)
        case UInt8(ascii: "["):
            var i = p + 1
            let negated = i < pattern.count && (pattern[i] == UInt8(ascii: "!") || pattern[i] == UInt8(ascii: "^"))
            if negated { i += 1 }
            var found = false
            var first = true
            while i < pattern.count && (first || pattern[i] != UInt8(ascii: "]")) {
                first = false
                let lo = pattern[i]
                if i + 2 < pattern.count && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
                    if lo <= b && b <= pattern[i + 2] { found = true }
                    i += 3
                } else {
                    if lo == b { found = true }
                    i += 1
                }
            }
            // An unclosed '[' is an ordinary byte.
            guard i < pattern.count else { return (c == b, p + 1) }
            return (found != negated, i + 1)
        default:
            return (c == b, p + 1)
        }
    }
}
