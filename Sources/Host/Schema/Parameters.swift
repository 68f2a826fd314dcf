import Foundation

/// User parameters checked against a schema, with defaults applied.
public struct ResolvedParameters: Equatable {
    public private(set) var values: [String: ParamValue]
    /// The assignments as given, to resolve again against another version's schema (a swap).
    public private(set) var assignments: [String]

    /// Parses KEY=VALUE assignments; a bare KEY sets a boolean parameter to true.
    public init(schema: PluginSchema, assignments: [String]) throws {
        var values: [String: ParamValue] = [:]
        for p in schema.parameters { values[p.name] = p.default }
        for a in assignments {
            let key: String
            let text: String
            if let eq = a.firstIndex(of: "=") {
                key = String(a[..<eq])
                text = String(a[a.index(after: eq)...])
            } else {
                key = a
                text = ""
            }
            guard let spec = schema.parameter(named: key) else {
                let known = schema.parameters.map(\.name).joined(separator: ", ")
                throw EunomiaError("'\(key)' is not a parameter of \(schema.name) (it has: \(known))")
            }
            if spec.type != .boolean && !a.contains("=") {
                throw EunomiaError("parameter '\(key)' needs a value: --param \(key)=VALUE")
            }
            values[key] = try spec.parse(text)
        }
        self.values = values
        self.assignments = assignments
    }

    public subscript(name: String) -> ParamValue? { values[name] }

    public func bool(_ name: String) -> Bool {
        if case .boolean(true)? = values[name] { return true }
        return false
    }

    /// The config object handed to the plugin's create; `cgroupIDs` are the container filter's
    /// cgroups (ABI 1.4's `_cgroup_ids`, a name no parameter can have).
    public func configJSON(cgroupIDs: [UInt64]? = nil) -> String {
        var object = values.mapValues { $0.jsonObject }
        if let cgroupIDs { object["_cgroup_ids"] = cgroupIDs.map { NSNumber(value: $0) } }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
