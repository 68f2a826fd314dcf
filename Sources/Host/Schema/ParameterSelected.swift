#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a boolean parameter changes in one layout, so a tracker has one record where it once had
/// one per combination of units and keys (biolatency had 8): a field `present` only under some
/// parameters (a key: the disk, with per_disk), and display keys `if` a parameter is set (msecs
/// instead of usecs, a column "TIME (ms)", rows sorted by time). The plugin always emits the
/// same struct; the host resolves the schema for the tracker's parameters once, when it makes
/// the instance's RecordSource, so every consumer sees only the fields that exist.
public struct FieldOverride: Codable, Equatable {
    public var unit: String?
    public var scale: UInt64?
    public var decimals: Int?
    public var column: String?

    func validate(_ fail: (String) -> EunomiaError) throws {
        if let unit, let problem = Validate.displayTextProblem(unit, maxBytes: 32) { throw fail("unit \(problem)") }
        if let column, let problem = Validate.displayTextProblem(column, maxBytes: 64) { throw fail("column \(problem)") }
        if let scale, scale == 0 { throw fail("scale must be above 0") }
        if let d = decimals, !(0...9).contains(d) { throw fail("decimals \(d) is outside 0 to 9") }
        guard unit != nil || scale != nil || decimals != nil || column != nil else { throw fail("changes nothing (give unit, scale, decimals or column)") }
    }
}

public struct RecordOverride: Codable, Equatable {
    public var sort: String?
}

/// "name" or "!name": a boolean parameter, or its negation.
struct ParameterCondition {
    var parameter: String
    var negated: Bool

    init(_ text: String) {
        negated = text.hasPrefix("!")
        parameter = negated ? String(text.dropFirst()) : text
    }

    func holds(_ p: ResolvedParameters) -> Bool { p.bool(parameter) != negated }

    static func checkBoolean(_ name: String, in parameters: [ParameterSpec], what: String, _ fail: (String) -> EunomiaError) throws {
        guard let p = parameters.first(where: { $0.name == name }), p.type == .boolean else {
            throw fail("\(what) names '\(name)', which is not a boolean parameter")
        }
    }
}

extension FieldSpec {
    /// Present under any of the conditions `present` lists (none: always).
    func isPresent(_ p: ResolvedParameters) -> Bool {
        guard let present, !present.isEmpty else { return true }
        return present.contains { ParameterCondition($0).holds(p) }
    }

    func validateSelection(record: RecordLayout, parameters: [ParameterSpec], _ fail: (String) -> EunomiaError) throws {
        if let present {
            guard (1...8).contains(present.count) else { throw fail("present lists \(present.count) conditions, 1 to 8 are allowed") }
            for c in present { try ParameterCondition.checkBoolean(ParameterCondition(c).parameter, in: parameters, what: "present", fail) }
            // What other fields point at must exist whenever they do.
            let referrers = record.fields.filter { f in
                f.select == name || f.pid == name || (f.template.map { FieldSpec.parseTemplate($0).contains { $0.field == name } } ?? false)
                    || (f.templates?.values.contains { FieldSpec.parseTemplate($0).contains { $0.field == name } } ?? false)
            }
            if let r = referrers.first { throw fail("field '\(r.name)' refers to it, so it cannot depend on present") }
            // Sorted by it only where it exists: under an `if` of the very parameter it is present with.
            if record.sort == name || (record.choices ?? [:]).contains(where: { $0.value.sort == name && present != [$0.key] }) {
                throw fail("the record is sorted by it, so it cannot depend on present (except under `if` of its own parameter)")
            }
        }
        if let choices {
            guard choices.count <= 8 else { throw fail("if lists \(choices.count) parameters, at most 8") }
            for (param, o) in choices {
                try ParameterCondition.checkBoolean(param, in: parameters, what: "if", fail)
                try o.validate { fail("if \(param): \($0)") }
                if o.scale != nil || o.decimals != nil, !type.isInteger { throw fail("if \(param): scale and decimals apply to integer fields") }
                if o.unit != nil, type != .histogram { throw fail("if \(param): unit applies to histogram fields") }
            }
        }
    }

    /// The field as it is shown with these parameters.
    func resolved(_ p: ResolvedParameters) -> FieldSpec {
        guard let choices else { return self }
        var f = self
        for (param, o) in choices.sorted(by: { $0.key < $1.key }) where p.bool(param) {
            if let v = o.unit { f.unit = v }
            if let v = o.scale { f.scale = v }
            if let v = o.decimals { f.decimals = v }
            if let v = o.column { f.column = v }
        }
        f.choices = nil
        f.present = nil
        return f
    }
}

extension RecordLayout {
    func validateSelection(parameters: [ParameterSpec], _ fail: (String) -> EunomiaError) throws {
        guard let choices else { return }
        guard kind == .row else { throw fail("if (sort) applies to records of kind row") }
        guard choices.count <= 8 else { throw fail("if lists \(choices.count) parameters, at most 8") }
        for (param, o) in choices {
            try ParameterCondition.checkBoolean(param, in: parameters, what: "if", fail)
            if let sort = o.sort {
                guard let f = fields.first(where: { $0.name == sort }), f.type.isInteger, f.present == nil || f.present == [param] else {
                    throw fail("if \(param): sort names '\(sort)', which is not an integer field present in every report")
                }
            }
        }
    }
}

extension PluginSchema {
    /// This schema as a tracker with these parameters uses it: fields that are not `present`
    /// dropped, `if` choices applied. The schema itself when nothing depends on parameters.
    public func resolved(for p: ResolvedParameters) -> PluginSchema {
        guard records.contains(where: { r in r.choices != nil || r.fields.contains { $0.present != nil || $0.choices != nil } }) else { return self }
        var s = self
        for i in s.records.indices {
            let record = s.records[i]
            s.records[i].fields = record.fields.filter { $0.isPresent(p) }.map { $0.resolved(p) }
            for (param, o) in (record.choices ?? [:]).sorted(by: { $0.key < $1.key }) where p.bool(param) {
                if let sort = o.sort { s.records[i].sort = sort }
            }
            s.records[i].choices = nil
        }
        return s
    }
}
