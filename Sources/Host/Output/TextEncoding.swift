import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Every string that reaches an output format goes through that format's one escaping path:
// JSONText for JSON, TableText for tables (and folded stacks), CSVText for CSV. That holds for
// traced data (file names, comm) and for schema text alike (field and value names, bit names,
// units, headers, template literals): a plugin controls both, so neither is trusted.

/// Finds runs of bytes an escaper copies unchanged, eight bytes at a time.
enum PlainRun {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The end of the run of printable ASCII (0x20...0x7E) other than `stop1` and `stop2` that
    /// starts at i (with `stops` false, any printable ASCII byte continues the run).
    @inline(__always)
    static func end(_ bytes: UnsafeRawBufferPointer, from i: Int, stops: Bool, _ stop1: UInt8, _ stop2: UInt8) -> Int {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return i }
        var i = i
        while i + 8 <= n {
            let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // High bit of a byte set: below 0x20, or 0x7F and above (0x7F + 1 sets it; a carry
            // out of a byte comes only from 0xFF, which is flagged itself).
            var flagged = ((w &- ones &* 0x20) & ~w) | w | (w &+ ones)
            if stops {
                let a = w ^ (ones &* UInt64(stop1)), b = w ^ (ones &* UInt64(stop2))
                flagged |= ((a &- ones) & ~a) | ((b &- ones) & ~b)
            }
            if flagged & highs != 0 { break }
            i += 8
        }
        while i < n {
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            if b < 0x20 || b >= 0x7F || (stops && (b == stop1 || b == stop2)) { break }
            i += 1
        }
        return i
    }
}

/// JSON string escaping (RFC 8259) of raw bytes. The output is always valid UTF-8: each byte
/// that is not part of a valid UTF-8 sequence becomes U+FFFD. Beyond what RFC 8259 requires,
/// DEL, C1 controls, U+2028/U+2029 and bidi controls are written as \uXXXX escapes: parsers
/// get the same string back, and a JSON file shown on a terminal cannot drive it.
enum JSONText {
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(bytes, to: out)
        out.append(UInt8(ascii: "\""))
    }

    static func appendString(_ bytes: [UInt8], to out: OutputBuffer) {
        bytes.withUnsafeBytes { appendString($0, to: out) }
    }

    /// The escaped text without the surrounding quotes.
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        var i = 0
        let n = bytes.count
        while i < n {
            // Copy the longest run of plain bytes in one go: paths and names are mostly plain.
            let j = PlainRun.end(bytes, from: i, stops: true, 0x22, 0x5C)
            if j > i {
                out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                i = j
                if i == n { break }
            }
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case 0x22: out.append(StaticString("\\\""))
                case 0x5C: out.append(StaticString("\\\\"))
                case 0x0A: out.append(StaticString("\\n"))
                case 0x09: out.append(StaticString("\\t"))
                case 0x0D: out.append(StaticString("\\r"))
                default: appendUnicodeEscape(UInt32(b), to: out)
                }
                i += 1
            } else {
                let (len, scalar) = UTF8Validation.decode(bytes, at: i)
                if len == 0 {
                    out.append(StaticString("\u{FFFD}"))
                    i += 1
                } else {
                    if TerminalSafety.isNeutralised(scalar) {
                        appendUnicodeEscape(scalar, to: out)
                    } else {
                        out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + len)]))
                    }
                    i += len
                }
            }
        }
    }

    /// \uXXXX of a BMP scalar.
    @inline(__always) static func appendUnicodeEscape(_ scalar: UInt32, to out: OutputBuffer) {
        out.append(StaticString("\\u"))
        out.appendRadix(UInt64(scalar), radix: 16, minDigits: 4)
    }

    /// The escaped form of schema text, computed once at formatter set-up.
    static func escaped(_ text: String) -> [UInt8] {
        let buffer = OutputBuffer(capacity: max(16, text.utf8.count * 6)) { _ in true }
        Array(text.utf8).withUnsafeBytes { appendEscaped($0, to: buffer) }
        return buffer.contents
    }
}

enum UTF8Validation {
    /// Length of the valid multi-byte UTF-8 sequence starting at i, or 0.
    static func sequenceLength(_ s: UnsafeRawBufferPointer, at i: Int) -> Int { decode(s, at: i).length }

    /// Length and scalar of the valid multi-byte UTF-8 sequence starting at i; length 0 when
    /// the bytes there are no such sequence (a stray continuation byte, a truncated or
    /// overlong sequence, a surrogate, a value above U+10FFFF).
    @inline(__always)
    static func decode(_ s: UnsafeRawBufferPointer, at i: Int) -> (length: Int, scalar: UInt32) {
        let b0 = s[i]
        let len: Int
        let lowest: UInt32
        switch b0 {
        case 0xC2...0xDF: len = 2; lowest = 0x80
        case 0xE0...0xEF: len = 3; lowest = 0x800
        case 0xF0...0xF4: len = 4; lowest = 0x10000
        default: return (0, 0)
        }
        guard i + len <= s.count else { return (0, 0) }
        var cp = UInt32(b0) & (0xFF >> (len + 1))
        for j in 1..<len {
            let b = s[i + j]
            guard b & 0xC0 == 0x80 else { return (0, 0) }
            cp = (cp << 6) | UInt32(b & 0x3F)
        }
        guard cp >= lowest, cp <= 0x10FFFF, !(0xD800...0xDFFF).contains(cp) else { return (0, 0) }
        return (len, cp)
    }
}

/// Table cells (and folded stack lines): what a terminal shows as text passes, anything that
/// could move the cursor, fake a line, recolour or reorder the screen is shown as '?':
/// every C0 control (newline and tab included), DEL, and the code points TerminalSafety
/// names, one '?' per code point. Each byte that is not part of a valid UTF-8 sequence is
/// one '?' as well (rather than U+FFFD): a '?' is one byte for one column, so a broken name
/// keeps the same width it had, and the output stays valid UTF-8.
/// Columns are padded by code points, not bytes (OutputBuffer.wideBytes), so names in any
/// script line up as long as each character takes one column.
enum TableText {
    static func append(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        var i = 0
        let n = bytes.count
        while i < n {
            let j = PlainRun.end(bytes, from: i, stops: false, 0, 0)
            if j > i {
                out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                i = j
                if i == n { break }
            }
            if bytes[i] < 0x80 {
                out.append(UInt8(ascii: "?"))
                i += 1
                continue
            }
            let (len, scalar) = UTF8Validation.decode(bytes, at: i)
            if len == 0 {
                out.append(UInt8(ascii: "?"))
                i += 1
            } else {
                if TerminalSafety.isNeutralised(scalar) {
                    out.append(UInt8(ascii: "?"))
                } else {
                    out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + len)]))
                    out.wideBytes += len - 1
                }
                i += len
            }
        }
    }

    static func append(_ bytes: [UInt8], to out: OutputBuffer) {
        bytes.withUnsafeBytes { append($0, to: out) }
    }

    static func append(_ text: String, to out: OutputBuffer) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0), to: out) }
    }

    /// Columns `text` takes in a table (one per code point once sanitised).
    static func width(_ text: String) -> Int {
        let buffer = OutputBuffer(capacity: max(16, text.utf8.count)) { _ in true }
        append(text, to: buffer)
        return buffer.count - buffer.wideBytes
    }
}

/// Untrusted text (plugin descriptions, names) made safe to print on a terminal, by the rule
/// table output uses: controls, C1, line separators and bidi controls become '?'.
public enum TerminalText {
    public static func sanitized(_ text: String) -> String {
        let buffer = OutputBuffer(capacity: max(16, text.utf8.count)) { _ in true }
        TableText.append(text, to: buffer)
        return String(decoding: buffer.contents, as: UTF8.self)
    }
}

/// CSV cells (RFC 4180): a cell holding a comma or a quote is quoted, its quotes doubled.
/// The output is always valid UTF-8 (each invalid byte becomes U+FFFD) and is neutralised
/// like a table cell, so `cat file.csv` on a terminal is as safe as the table: C0 controls,
/// DEL, C1, U+2028/U+2029 and bidi controls become '?'. That includes CR and LF, which RFC
/// 4180 would allow inside a quoted cell: every record stays one line, for line-based tools.
enum CSVText {
    static func append(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        let start = out.count
        var quote = false
        var i = 0
        let n = bytes.count
        while i < n {
            let j = PlainRun.end(bytes, from: i, stops: true, 0x2C, 0x22)
            if j > i {
                out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                i = j
                if i == n { break }
            }
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case 0x2C: quote = true; out.append(b)
                case 0x22: quote = true; out.append(b); out.append(b)
                default: out.append(UInt8(ascii: "?"))
                }
                i += 1
                continue
            }
            let (len, scalar) = UTF8Validation.decode(bytes, at: i)
            if len == 0 {
                out.append(StaticString("\u{FFFD}"))
                i += 1
            } else {
                if TerminalSafety.isNeutralised(scalar) {
                    out.append(UInt8(ascii: "?"))
                } else {
                    out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + len)]))
                }
                i += len
            }
        }
        if quote {
            out.insert(UInt8(ascii: "\""), at: start)
            out.append(UInt8(ascii: "\""))
        }
    }

    static func append(_ bytes: [UInt8], to out: OutputBuffer) {
        bytes.withUnsafeBytes { append($0, to: out) }
    }

    static func append(_ text: String, to out: OutputBuffer) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0), to: out) }
    }
}

extension OutputBuffer {
    /// Text that came from records, packages or rules, made safe for a terminal the way table
    /// cells are (controls and terminal-acting code points as '?').
    public func appendTerminalText(_ text: String) {
        var t = text
        t.withUTF8 { TableText.append(UnsafeRawBufferPointer($0), to: self) }
    }

    /// Text already safe for where it goes (JSON that escaped every control).
    public func appendVerbatim(_ text: String) {
        var t = text
        t.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }
}
