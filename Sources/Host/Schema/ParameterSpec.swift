import Foundation

public enum ParameterType: String, Codable { case integer, boolean, string }

/// A typed parameter value, as given in config JSON.
public enum ParamValue: Codable, Equatable, CustomStringConvertible {
    case integer(Int64)
    case boolean(Bool)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .boolean(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an integer, boolean or string") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .integer(let v): try c.encode(v)
        case .boolean(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        }
    }

    public var description: String {
        switch self {
        case .integer(let v): return String(v)
        case .boolean(let v): return String(v)
        case .string(let v): return "\"\(v)\""
        }
    }

    var jsonObject: Any {
        switch self {
        case .integer(let v): return NSNumber(value: v)
        case .boolean(let v): return NSNumber(value: v)
        case .string(let v): return v
        }
    }
}

public struct ParameterSpec: Codable, Equatable {
    public var name: String
    public var type: ParameterType
    public var `default`: ParamValue
    public var description: String
    public var min: Int64?
    public var max: Int64?
    public var `enum`: [String]?
    public var maxLength: Int?
    /// The record field this parameter filters on in the kernel, exactly: set to V, it keeps
    /// the records whose FIELD == V (pid, comm, ...; "container" for the container parameter,
    /// which container.id == V and container.name == V select). A `--filter` term FIELD == V
    /// is then pushed down into it.
    public var pushdown: String?

    enum CodingKeys: String, CodingKey {
        case name, type, `default`, description, min, max, `enum`, pushdown, maxLength = "max_length"
    }

    func validate(source: String) throws {
        guard Validate.isIdentifier(name), !name.hasPrefix("_") else {
            throw EunomiaError("\(source): parameter name \(name.quotedForError) must be lower_snake_case, at most 64 bytes")
        }
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(source): parameter '\(name)': \(msg)") }
        if let problem = Validate.displayTextProblem(description, maxBytes: 1024) { throw fail("description \(problem)") }
        if type != .integer && (min != nil || max != nil) { throw fail("min and max apply to integer parameters") }
        if let lo = min, let hi = max, lo > hi { throw fail("min \(lo) is above max \(hi)") }
        if type != .string && `enum` != nil { throw fail("enum applies to string parameters") }
        if type != .string && maxLength != nil { throw fail("max_length applies to string parameters") }
        if let n = maxLength, !(0...4096).contains(n) { throw fail("max_length \(n) is outside 0 to 4096") }
        if let allowed = `enum` {
            guard !allowed.isEmpty, allowed.count <= 256 else { throw fail("enum must list 1 to 256 values") }
            guard Set(allowed).count == allowed.count else { throw fail("enum lists a value twice") }
            for v in allowed {
                if let problem = Validate.displayTextProblem(v, maxBytes: 256) { throw fail("enum value \(v.quotedForError) \(problem)") }
            }
        }
        do {
            _ = try check(`default`)
        } catch let e as EunomiaError {
            throw EunomiaError("\(source): default of \(e.message)")
        }
    }

    /// Validates a typed value against this parameter's constraints.
    func check(_ value: ParamValue) throws -> ParamValue {
        switch (type, value) {
        case (.integer, .integer(let v)):
            if let lo = min, v < lo { throw EunomiaError("parameter '\(name)': \(v) is below the minimum \(lo)") }
            if let hi = max, v > hi { throw EunomiaError("parameter '\(name)': \(v) is above the maximum \(hi)") }
        case (.boolean, .boolean):
            break
        case (.string, .string(let s)):
            if let allowed = `enum`, !allowed.contains(s) {
                throw EunomiaError("parameter '\(name)': \(s.quotedForError) is not one of \(allowed.joined(separator: ", "))")
            }
            // Strings go to the plugin in its config JSON; none is unbounded.
            let n = maxLength ?? 4096
            if s.utf8.count > n {
                throw EunomiaError("parameter '\(name)': \(s.quotedForError) is longer than \(n) bytes")
            }
            if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw EunomiaError("parameter '\(name)': \(s.quotedForError) contains a control character")
            }
        default:
            throw EunomiaError("parameter '\(name)': expected \(type.rawValue), got \(value)")
        }
        return value
    }

    /// Parses a command-line string into this parameter's type.
    func parse(_ text: String) throws -> ParamValue {
        switch type {
        case .integer:
            guard let v = Int64(text) ?? (text.hasPrefix("0x") ? Int64(text.dropFirst(2), radix: 16) : nil) else {
                throw EunomiaError("parameter '\(name)': \(text.quotedForError) is not an integer")
            }
            return try check(.integer(v))
        case .boolean:
            switch text.lowercased() {
            case "true", "1", "yes", "on", "": return .boolean(true)
            case "false", "0", "no", "off": return .boolean(false)
            default: throw EunomiaError("parameter '\(name)': \(text.quotedForError) is not a boolean (true or false)")
            }
        case .string:
            return try check(.string(text))
        }
    }
}
