import EunomiaSchema

/// The common `container` parameter (ABI 1.4): a plugin built for 1.4 or later that declares it
/// gets the container's cgroup ids in its config, and its BPF side drops every other cgroup's
/// records. Resolved each time an instance is created (a start, a swap), so a container that
/// was restarted under the same name is found again.
public enum ContainerFilter {
    public static let parameter = "container"

    /// The container the parameters select, nil when none (empty, or a plugin whose `container`
    /// is its own, built before 1.4).
    public static func selector(_ parameters: ResolvedParameters, schema: PluginSchema) -> String? {
        guard schema.abi.major == 1 ? schema.abi.minor >= 4 : schema.abi.major > 1,
              case .string(let s)? = parameters[parameter], !s.isEmpty else { return nil }
        return s
    }

    /// The container and its cgroups, or nil when the parameters select none.
    public static func resolve(_ parameters: ResolvedParameters, schema: PluginSchema,
                               paths: CgroupPaths? = CgroupPaths()) throws -> ContainerLocator.Found? {
        guard let selector = selector(parameters, schema: schema) else { return nil }
        guard let paths else {
            throw EunomiaError("container \(selector.quotedForError): this host has no cgroup2 hierarchy mounted, which the container filter needs")
        }
        return try ContainerLocator(paths: paths).locate(selector)
    }
}
