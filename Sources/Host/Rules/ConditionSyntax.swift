import EunomiaSchema

// The condition language's syntax: a subset of Falco's condition grammar
// (falcosecurity/libs userspace/libsinsp/filter/parser.h), shared by `--filter` and rules.
//
//   condition := or
//   or        := and ("or" and)*
//   and       := unary ("and" unary)*
//   unary     := "not" unary | "(" condition ")" | check | MACRO
//   check     := FIELD "exists" | FIELD CMP value | FIELD "in" "(" value ("," value)* ")"
//   CMP       := "==" | "=" | "!=" | "<" | "<=" | ">" | ">=" | "startswith" | "endswith" | "contains" | "glob"
//   value     := "quoted text" | 'quoted text' | BAREWORD (a number, a name such as SIGKILL, a path)
//
// Inside `in (...)` a bare word naming a list expands to the list's items (rules files).

/// Comparison operators, as written.
public enum ComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case startsWith = "startswith", endsWith = "endswith", contains, glob
}

/// A literal on the right of a check: its text, whether it was quoted, and where it began
/// (a byte offset into the condition, counted from 1 in messages).
public struct ConditionLiteral: Equatable, Sendable {
    public var text: String
    public var quoted: Bool
    public var position: Int

    public init(text: String, quoted: Bool, position: Int) {
        self.text = text
        self.quoted = quoted
        self.position = position
    }
}

/// A parsed condition, before it meets a schema. Macros are expanded and lists inlined.
public indirect enum ConditionNode: Equatable, Sendable {
    case and([ConditionNode])
    case or([ConditionNode])
    case not(ConditionNode)
    case compare(field: String, position: Int, op: ComparisonOperator, value: ConditionLiteral)
    case oneOf(field: String, position: Int, values: [ConditionLiteral])
    case exists(field: String, position: Int)

    /// Field names the condition reads, in order of first use.
    public var fields: [String] {
        var seen: [String] = []
        func walk(_ n: ConditionNode) {
            switch n {
            case .and(let parts), .or(let parts): parts.forEach(walk)
            case .not(let inner): walk(inner)
            case .compare(let f, _, _, _), .oneOf(let f, _, _), .exists(let f, _):
                if !seen.contains(f) { seen.append(f) }
            }
        }
        walk(self)
        return seen
    }
}

/// A condition that could not be read or compiled: where and what, in one line.
public struct ConditionError: Error, CustomStringConvertible {
    /// Byte offset from 0; shown counting from 1, as editors count columns.
    public var position: Int
    public var message: String
    public var description: String { "at \(position + 1): \(message)" }
}

struct ConditionToken: Equatable {
    enum Kind: Equatable { case word, quoted, open, close, comma, op(String), end }
    var kind: Kind
    var text: String
    var position: Int
}

/// Splits a condition into tokens. Works on UTF-8 bytes; quoted text may hold any printable
/// text, bare words no spaces, quotes, parentheses, commas or operator characters.
struct ConditionLexer {
    static let maxLength = 16 << 10

    static func tokens(_ source: String) throws -> [ConditionToken] {
        let bytes = Array(source.utf8)
        guard bytes.count <= maxLength else {
            throw ConditionError(position: 0, message: "the condition is \(bytes.count) bytes long, at most \(maxLength) are allowed")
        }
        var out: [ConditionToken] = []
        var i = 0
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case 0x20, 0x09, 0x0A, 0x0D:
                i += 1
            case UInt8(ascii: "("):
                out.append(.init(kind: .open, text: "(", position: i)); i += 1
            case UInt8(ascii: ")"):
                out.append(.init(kind: .close, text: ")", position: i)); i += 1
            case UInt8(ascii: ","):
                out.append(.init(kind: .comma, text: ",", position: i)); i += 1
            case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<"), UInt8(ascii: ">"):
                let start = i
                let twoByte = i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "=")
                i += twoByte ? 2 : 1
                let op = text(start..<i)
                guard ["==", "=", "!=", "<", "<=", ">", ">="].contains(op) else {
                    throw ConditionError(position: start, message: "'\(op)' is not an operator (did you mean '!=' or 'not'?)")
                }
                out.append(.init(kind: .op(op == "=" ? "==" : op), text: op, position: start))
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                let start = i
                var value: [UInt8] = []
                i += 1
                var closed = false
                while i < bytes.count {
                    let c = bytes[i]
                    if c == b { closed = true; i += 1; break }
                    if c < 0x20 || c == 0x7F {
                        throw ConditionError(position: i, message: "a control character inside quoted text")
                    }
                    if c == UInt8(ascii: "\\") {
                        guard i + 1 < bytes.count else { break }
                        switch bytes[i + 1] {
                        case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): value.append(bytes[i + 1])
                        case UInt8(ascii: "n"): value.append(0x0A)
                        case UInt8(ascii: "t"): value.append(0x09)
                        default:
                            throw ConditionError(position: i, message: "unknown escape '\\\(text((i + 1)..<(i + 2)))' (use \\\\, \\\", \\', \\n or \\t)")
                        }
                        i += 2
                        continue
                    }
                    value.append(c)
                    i += 1
                }
                guard closed else { throw ConditionError(position: start, message: "quoted text is not closed") }
                out.append(.init(kind: .quoted, text: String(decoding: value, as: UTF8.self), position: start))
            default:
                if b < 0x20 || b == 0x7F {
                    throw ConditionError(position: i, message: "a control character outside quoted text")
                }
                let start = i
                while i < bytes.count, !Self.endsWord(bytes[i]) { i += 1 }
                out.append(.init(kind: .word, text: text(start..<i), position: start))
            }
        }
        out.append(.init(kind: .end, text: "", position: bytes.count))
        return out
    }

    static func endsWord(_ b: UInt8) -> Bool {
        switch b {
        case 0x00...0x20, 0x7F, UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: "="),
             UInt8(ascii: "!"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'"):
            return true
        default:
            return false
        }
    }
}
