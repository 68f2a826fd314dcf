import EunomiaSchema

/// What of a filter the kernel can do: a check `FIELD == VALUE` that must hold for every record
/// the filter passes (a term of the top-level `and`), on a field a parameter filters in the
/// kernel (the schema's `pushdown`), becomes that parameter — records the filter would drop
/// then never take ring-buffer space. The filter still checks every record: the parameter
/// only narrows what arrives.
public enum ConditionPushdown {
    public struct Assignment: Equatable {
        public var parameter: String
        public var value: String
        public var field: String
        public var assignment: String { "\(parameter)=\(value)" }
    }

    /// The parameters to set: only those still at their default (a value the user gave wins),
    /// and at most one value per parameter (`pid == 1 and pid == 2` is left to user space).
    public static func assignments(_ condition: ConditionNode, schema: PluginSchema, parameters: ResolvedParameters) -> [Assignment] {
        let terms: [ConditionNode]
        if case .and(let parts) = condition { terms = parts } else { terms = [condition] }
        var out: [Assignment] = []
        for case .compare(let field, _, .equal, let value) in terms {
            let key = field == ContainerAttribute.id.rawValue || field == ContainerAttribute.name.rawValue ? "container" : field
            guard let p = schema.parameters.first(where: { $0.pushdown == key }), parameters[p.name] == p.default else { continue }
            guard !out.contains(where: { $0.parameter == p.name }) else {
                out.removeAll { $0.parameter == p.name }
                continue
            }
            // Only values the parameter takes exactly as the field compares them.
            switch p.type {
            case .integer:
                guard let n = Int64(value.text), (p.min.map { n >= $0 } ?? true), (p.max.map { n <= $0 } ?? true) else { continue }
            case .string:
                guard !value.text.isEmpty, value.text.utf8.count <= (p.maxLength ?? 4096),
                      !value.text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { continue }
            case .boolean:
                continue
            }
            out.append(Assignment(parameter: p.name, value: value.text, field: field))
        }
        return out
    }
}
