import EunomiaOutput
import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Compiles a parsed condition against a plugin's schema: fields resolved to offsets and types,
/// literals converted once (names such as SIGKILL or O_WRONLY to numbers, addresses to bytes),
/// so evaluating a record reads bytes and compares. Every mistake is found here, before any
/// record arrives: an unknown field, a value the field's type cannot hold, an operator the
/// field's type has no meaning for.
public struct ConditionCompiler {
    /// Most steps a compiled condition may have (macros can multiply a condition's size).
    static let maxSteps = 50_000

    private var steps: [ConditionStep] = []
    private var children: [Int32] = []
    private var numbers: [Int128] = []
    private var literals: [[UInt8]] = []
    private let schema: PluginSchema

    public static func compile(_ node: ConditionNode, schema: PluginSchema, containers: ContainerDirectory?) throws -> CompiledCondition {
        var c = ConditionCompiler(schema: schema)
        try c.checkFields(node)
        var roots: [(id: UInt32, root: Int32, minimum: Int32)] = []
        for record in schema.records {
            let root = try c.step(node, record)
            roots.append((record.id, root, Int32(record.minimumSize)))
        }
        return CompiledCondition(steps: c.steps, children: c.children, numbers: c.numbers, literals: c.literals,
                                 roots: roots, containers: containers)
    }

    private init(schema: PluginSchema) { self.schema = schema }

    /// Every field the condition names must be a field of some record of the plugin.
    private func checkFields(_ node: ConditionNode) throws {
        let carriesCgroup = schema.records.contains { $0.cgroupIDOffset != nil }
        func check(_ name: String, _ position: Int) throws {
            if ContainerAttribute(rawValue: name) != nil {
                guard carriesCgroup else {
                    throw ConditionError(position: position, message: "'\(name)': \(schema.name)'s records carry no cgroup id, so no container")
                }
                return
            }
            guard schema.records.contains(where: { r in r.fields.contains { $0.name == name } }) else {
                var names: [String] = []
                for r in schema.records { for f in r.fields where !names.contains(f.name) { names.append(f.name) } }
                if carriesCgroup { names += ContainerAttribute.allCases.map(\.rawValue) }
                throw ConditionError(position: position, message: "unknown field '\(name)' (\(schema.name) has: \(names.joined(separator: ", ")))")
            }
        }
        switch node {
        case .and(let parts), .or(let parts): for p in parts { try checkFields(p) }
        case .not(let inner): try checkFields(inner)
        case .compare(let f, let at, _, _), .oneOf(let f, let at, _), .exists(let f, let at): try check(f, at)
        }
    }

    private mutating func add(_ s: ConditionStep, at position: Int) throws -> Int32 {
        guard steps.count < Self.maxSteps else {
            throw ConditionError(position: position, message: "the condition expands to more than \(Self.maxSteps) checks (macros within macros?)")
        }
        steps.append(s)
        return Int32(steps.count - 1)
    }

    private mutating func literal(_ bytes: [UInt8]) -> Int32 {
        literals.append(bytes)
        return Int32(literals.count - 1)
    }

    private mutating func step(_ node: ConditionNode, _ record: RecordLayout) throws -> Int32 {
        switch node {
        case .and(let parts), .or(let parts):
            var ids: [Int32] = []
            for p in parts { ids.append(try step(p, record)) }
            let first = Int32(children.count)
            children += ids
            if case .and = node { return try add(.all(first: first, count: Int32(ids.count)), at: 0) }
            return try add(.any(first: first, count: Int32(ids.count)), at: 0)
        case .not(let inner):
            return try add(.not(try step(inner, record)), at: 0)
        case .exists(let name, let at):
            if let attribute = ContainerAttribute(rawValue: name) {
                guard let cgroup = record.cgroupIDOffset else { return try add(.constant(false), at: at) }
                return try add(.containerExists(attribute, cgroup: Int32(cgroup)), at: at)
            }
            return try add(.constant(record.fields.contains { $0.name == name }), at: at)
        case .compare(let name, let at, let op, let value):
            if let attribute = ContainerAttribute(rawValue: name) {
                let test = try Self.textTest(op, name: name, at: at)
                guard let cgroup = record.cgroupIDOffset else { return try add(.constant(false), at: at) }
                return try add(.container(attribute, cgroup: Int32(cgroup), test: test, literal: literal(Array(value.text.utf8)),
                                          negate: op == .notEqual), at: at)
            }
            guard let field = record.fields.first(where: { $0.name == name }) else { return try add(.constant(false), at: at) }
            return try add(try compare(field, op, value, at: at, record: record), at: at)
        case .oneOf(let name, let at, let values):
            if let attribute = ContainerAttribute(rawValue: name) {
                guard let cgroup = record.cgroupIDOffset else { return try add(.constant(false), at: at) }
                let first = Int32(literals.count)
                for v in values { _ = literal(Array(v.text.utf8)) }
                return try add(.containerIn(attribute, cgroup: Int32(cgroup), first: first, count: Int32(values.count)), at: at)
            }
            guard let field = record.fields.first(where: { $0.name == name }) else { return try add(.constant(false), at: at) }
            return try add(try oneOf(field, values, at: at, record: record), at: at)
        }
    }

    static func textTest(_ op: ComparisonOperator, name: String, at: Int) throws -> TextTest {
        switch op {
        case .equal, .notEqual: return .equal
        case .startsWith: return .startsWith
        case .endsWith: return .endsWith
        case .contains: return .contains
        case .glob: return .glob
        default:
            throw ConditionError(position: at, message: "'\(name)' is text: '\(op.rawValue)' needs a number (use ==, !=, startswith, endswith, contains, glob or in)")
        }
    }

    private mutating func compare(_ field: FieldSpec, _ op: ComparisonOperator, _ value: ConditionLiteral, at: Int, record: RecordLayout) throws -> ConditionStep {
        let offset = Int32(field.offset), size = Int32(field.size)
        switch FieldKind(field) {
        case .text(let argv):
            let test = try Self.textTest(op, name: field.name, at: at)
            return .text(offset: offset, size: size, argv: argv, test: test, literal: literal(Array(value.text.utf8)), negate: op == .notEqual)
        case .address:
            guard op == .equal || op == .notEqual else {
                throw ConditionError(position: at, message: "'\(field.name)' is an address: use ==, != or in")
            }
            let first = Int32(literals.count)
            _ = literal(try Self.address(value, field))
            return .bytesIn(offset: offset, size: size, first: first, count: 1, negate: op == .notEqual)
        case .boolean:
            guard op == .equal || op == .notEqual else {
                throw ConditionError(position: at, message: "'\(field.name)' is a boolean: use == true, == false or !=")
            }
            // True is any nonzero byte: field == true and field != false test byte != 0.
            let b = try Self.boolean(value, field)
            return .integer(offset: offset, width: 1, signed: false, op: b == (op == .equal) ? .notEqual : .equal, value: 0)
        case .integer(let width, let signed):
            switch op {
            case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual:
                return .integer(offset: offset, width: width, signed: signed, op: op, value: try Self.integer(value, field, in: record))
            case .contains:
                return try Self.flag(value, field, offset: offset, width: width)
            default:
                throw ConditionError(position: at, message: "'\(field.name)' is a number: '\(op.rawValue)' applies to text (use ==, !=, <, <=, >, >=, in\(field.bits != nil || field.display == .openFlags ? ", contains" : ""))")
            }
        case .opaque(let what):
            throw ConditionError(position: at, message: "'\(field.name)' is \(what) and cannot be compared; only 'exists' applies")
        }
    }

    private mutating func oneOf(_ field: FieldSpec, _ values: [ConditionLiteral], at: Int, record: RecordLayout) throws -> ConditionStep {
        let offset = Int32(field.offset), size = Int32(field.size)
        switch FieldKind(field) {
        case .text(let argv):
            let first = Int32(literals.count)
            for v in values { _ = literal(Array(v.text.utf8)) }
            return .textIn(offset: offset, size: size, argv: argv, first: first, count: Int32(values.count))
        case .address:
            let first = Int32(literals.count)
            for v in values { _ = literal(try Self.address(v, field)) }
            return .bytesIn(offset: offset, size: size, first: first, count: Int32(values.count), negate: false)
        case .boolean:
            let first = Int32(numbers.count)
            for v in values { numbers.append(try Self.boolean(v, field) ? 1 : 0) }
            return .integerIn(offset: offset, width: 1, signed: false, first: first, count: Int32(values.count))
        case .integer(let width, let signed):
            let first = Int32(numbers.count)
            for v in values { numbers.append(try Self.integer(v, field, in: record)) }
            return .integerIn(offset: offset, width: width, signed: signed, first: first, count: Int32(values.count))
        case .opaque(let what):
            throw ConditionError(position: at, message: "'\(field.name)' is \(what) and cannot be compared; only 'exists' applies")
        }
    }
}

/// What a condition can do with a field, by its type and display hint.
enum FieldKind {
    case text(argv: Bool)
    case address
    case boolean
    case integer(width: UInt8, signed: Bool)
    case opaque(String)

    init(_ f: FieldSpec) {
        switch f.type {
        case .string: self = .text(argv: f.display == .argv)
        case .bool: self = .boolean
        case .u8, .u16, .u32, .u64: self = .integer(width: UInt8(f.size), signed: false)
        case .i8, .i16, .i32, .i64: self = .integer(width: UInt8(f.size), signed: true)
        case .bytes:
            self = [.ip, .ipv4, .ipv6].contains(f.display) ? .address : .opaque("raw bytes")
        case .template: self = .opaque("text composed for display from other fields (compare those)")
        case .stack: self = .opaque("a stack")
        case .histogram: self = .opaque("a histogram")
        }
    }
}
