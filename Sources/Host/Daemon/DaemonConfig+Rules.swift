import EunomiaHost

// `rules = ["/etc/eunomia/rules.yaml", ...]` (docs/rules.md): rules files run over every
// tracker's records. Their content is checked when the server starts or reloads, against the
// plugins installed then; here only that each is an absolute path.
extension DaemonConfig {
    static let maxRuleFiles = 32

    static func parseRules(_ v: TOMLNode, _ where_: ConfigLocator) throws -> [String] {
        guard let array = v.array else { throw where_.typeError(key: "rules", v, "a list of absolute paths, e.g. [\"/etc/eunomia/rules.yaml\"]") }
        guard array.count <= maxRuleFiles else { throw where_.error(key: "rules", "\(array.count) rules files, at most \(maxRuleFiles)") }
        var paths: [String] = []
        for i in 0..<array.count {
            let path = try where_.absolutePath(array[i], key: "rules", maxBytes: 1024)
            guard !paths.contains(path) else { throw where_.error(key: "rules", "\(path.quotedForError) is listed twice") }
            paths.append(path)
        }
        return paths
    }
}
