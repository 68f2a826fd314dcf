import EunomiaSchema

/// Named pieces a condition may use: macros (conditions by name) and lists (values by name),
/// as a rules file defines them. Macros may use earlier macros and lists.
public struct ConditionVocabulary: Sendable {
    public private(set) var macros: [String: ConditionNode] = [:]
    public private(set) var lists: [String: [ConditionLiteral]] = [:]

    public init() {}

    public mutating func define(macro name: String, _ node: ConditionNode) { macros[name] = node }
    public mutating func define(list name: String, _ items: [ConditionLiteral]) { lists[name] = items }
}

/// Reads a condition into a ConditionNode. Errors name the byte position (from 1).
public struct ConditionParser {
    /// Deepest nesting of parentheses and `not`: far beyond any real condition, far below
    /// what the recursion could take.
    static let maxDepth = 64
    static let maxItems = 4096

    private var tokens: [ConditionToken]
    private var at = 0
    private var depth = 0
    private let vocabulary: ConditionVocabulary

    public static let keywords: Set<String> = ["and", "or", "not", "in", "exists", "startswith", "endswith", "contains", "glob"]

    public static func parse(_ source: String, vocabulary: ConditionVocabulary = ConditionVocabulary()) throws -> ConditionNode {
        var p = ConditionParser(tokens: try ConditionLexer.tokens(source), vocabulary: vocabulary)
        guard p.tokens.count > 1 else { throw ConditionError(position: 0, message: "the condition is empty") }
        let node = try p.parseOr()
        guard p.current.kind == .end else {
            throw ConditionError(position: p.current.position, message: "unexpected '\(p.current.text)' (expected and, or, or the end)")
        }
        return node
    }

    private init(tokens: [ConditionToken], vocabulary: ConditionVocabulary) {
        self.tokens = tokens
        self.vocabulary = vocabulary
    }

    private var current: ConditionToken { tokens[at] }
    private var next: ConditionToken { tokens[min(at + 1, tokens.count - 1)] }

    private func isKeyword(_ t: ConditionToken, _ word: String) -> Bool { t.kind == .word && t.text == word }

    private mutating func parseOr() throws -> ConditionNode {
        var parts = [try parseAnd()]
        while isKeyword(current, "or") {
            at += 1
            parts.append(try parseAnd())
        }
        return parts.count == 1 ? parts[0] : .or(parts)
    }

    private mutating func parseAnd() throws -> ConditionNode {
        var parts = [try parseUnary()]
        while isKeyword(current, "and") {
            at += 1
            parts.append(try parseUnary())
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    private mutating func parseUnary() throws -> ConditionNode {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else {
            throw ConditionError(position: current.position, message: "nested more than \(Self.maxDepth) deep")
        }
        let t = current
        if isKeyword(t, "not") {
            at += 1
            return .not(try parseUnary())
        }
        if t.kind == .open {
            at += 1
            let inner = try parseOr()
            guard current.kind == .close else {
                throw ConditionError(position: current.position, message: current.kind == .end
                    ? "'(' at \(t.position + 1) is not closed" : "expected ')' before '\(current.text)'")
            }
            at += 1
            return inner
        }
        guard t.kind == .word, !Self.keywords.contains(t.text) else {
            throw ConditionError(position: t.position, message: t.kind == .end
                ? "the condition ends where a check was expected" : "expected a field or a macro, found '\(t.text)'")
        }
        at += 1
        let field = t.text
        let after = current
        switch after.kind {
        case .op(let op):
            at += 1
            return .compare(field: field, position: t.position, op: ComparisonOperator(rawValue: op)!, value: try parseValue())
        case .word where after.text == "exists":
            at += 1
            return .exists(field: field, position: t.position)
        case .word where after.text == "in":
            at += 1
            return .oneOf(field: field, position: t.position, values: try parseList())
        case .word where ["startswith", "endswith", "contains", "glob"].contains(after.text):
            at += 1
            return .compare(field: field, position: t.position, op: ComparisonOperator(rawValue: after.text)!, value: try parseValue())
        default:
            if let macro = vocabulary.macros[field] { return macro }
            if after.kind == .end || after.kind == .close || isKeyword(after, "and") || isKeyword(after, "or") {
                throw ConditionError(position: t.position, message: "'\(field)' is not a macro; a field needs a comparison ('\(field) == ...', '\(field) exists')")
            }
            throw ConditionError(position: after.position, message: "expected an operator after '\(field)', found '\(after.text)' (==, !=, <, <=, >, >=, in, exists, startswith, endswith, contains, glob)")
        }
    }

    private mutating func parseValue() throws -> ConditionLiteral {
        let t = current
        switch t.kind {
        case .quoted:
            at += 1
            return ConditionLiteral(text: t.text, quoted: true, position: t.position)
        case .word where !Self.keywords.contains(t.text):
            at += 1
            return ConditionLiteral(text: t.text, quoted: false, position: t.position)
        default:
            throw ConditionError(position: t.position, message: t.kind == .end
                ? "the condition ends where a value was expected" : "expected a value, found '\(t.text)'")
        }
    }

    private mutating func parseList() throws -> [ConditionLiteral] {
        guard current.kind == .open else {
            throw ConditionError(position: current.position, message: "expected '(' after in: FIELD in (a, b, ...)")
        }
        at += 1
        var items: [ConditionLiteral] = []
        if current.kind == .close {
            throw ConditionError(position: current.position, message: "an empty list: in (...) needs at least one value")
        }
        while true {
            let value = try parseValue()
            // A bare word naming a list stands for its items (Falco's lists).
            if !value.quoted, let list = vocabulary.lists[value.text] { items += list } else { items.append(value) }
            guard items.count <= Self.maxItems else {
                throw ConditionError(position: value.position, message: "a list of more than \(Self.maxItems) values")
            }
            if current.kind == .comma { at += 1; continue }
            if current.kind == .close { at += 1; return items }
            throw ConditionError(position: current.position, message: current.kind == .end
                ? "the list is not closed with ')'" : "expected ',' or ')' in the list, found '\(current.text)'")
        }
    }
}
