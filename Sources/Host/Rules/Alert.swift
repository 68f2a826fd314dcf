import EunomiaSchema
import Foundation

/// One rule that fired on one record: what alerts print, stream and count.
public struct Alert: Codable, Sendable, Equatable {
    /// RFC 3339, UTC, milliseconds.
    public var time: String
    public var rule: String
    public var priority: RulePriority
    /// The rule's output with its placeholders filled in.
    public var output: String
    public var tags: [String]
    public var tracker: String
    public var plugin: String
    /// The record's fields as its JSON output has them (container metadata included).
    public var outputFields: [String: AlertValue]

    enum CodingKeys: String, CodingKey {
        case time, rule, priority, output, tags, tracker, plugin
        case outputFields = "output_fields"
    }

    /// The one-line form: `2026-12-02T10:41:00.123Z Warning Write below etc: <output> (tracker=opensnoop)`.
    public var line: String {
        "\(time) \(priority.title) \(rule): \(output) (tracker=\(tracker))"
    }

    /// One JSON object, keys sorted. Code points that act on a terminal (C1 controls, bidi
    /// overrides) are written as \u escapes: they can only be inside strings.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        guard text.unicodeScalars.contains(where: { $0.value >= 0x80 && TerminalSafety.isNeutralised($0.value) }) else { return text }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.value >= 0x80 && TerminalSafety.isNeutralised(u.value) {
                out.append(contentsOf: String(format: "\\u%04x", u.value).unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }
}

/// A field's value in an alert, as the JSON output had it.
public enum AlertValue: Codable, Sendable, Equatable {
    case string(String), integer(Int64), unsigned(UInt64), number(Double), bool(Bool), object([String: AlertValue]), array([AlertValue]), null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let u = try? c.decode(UInt64.self) { self = .unsigned(u) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([AlertValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: AlertValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let v): try c.encode(v)
        case .integer(let v): try c.encode(v)
        case .unsigned(let v): try c.encode(v)
        case .number(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .null: try c.encodeNil()
        }
    }

    /// As an output placeholder shows it.
    var text: String {
        switch self {
        case .string(let v): return v
        case .integer(let v): return String(v)
        case .unsigned(let v): return String(v)
        case .number(let v): return String(v)
        case .bool(let v): return String(v)
        case .null: return "<NA>"
        case .object, .array: return String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
        }
    }
}

/// Fills a rule's `{field}` placeholders from a record's JSON fields.
enum AlertText {
    /// Placeholders for container metadata, by where the JSON output keeps them.
    static let containerKeys: [String: String] = [
        "container.id": "id", "container.name": "name", "container.image": "image", "container.runtime": "runtime",
        "k8s.pod.name": "pod", "k8s.ns.name": "pod_namespace",
    ]

    static func known(_ field: String, in schema: PluginSchema) -> Bool {
        if containerKeys[field] != nil { return schema.records.contains { $0.cgroupIDOffset != nil } }
        return schema.records.contains { r in r.fields.contains { $0.name == field } }
    }

    /// `<NA>` where a record has no such value (a host process's container.name), as Falco prints.
    static func render(_ template: String, fields: [String: AlertValue]) -> String {
        var out = ""
        for (literal, field) in FieldSpec.parseTemplate(template) {
            out += literal
            guard let field else { continue }
            if let key = containerKeys[field] {
                if case .object(let c)? = fields["container"], let v = c[key] { out += v.text }
                else { out += field == "container.id" ? "host" : "<NA>" }
            } else {
                out += fields[field]?.text ?? "<NA>"
            }
        }
        return out
    }
}
