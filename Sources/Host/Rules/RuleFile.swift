import EunomiaSchema
import Foundation
import Yams

/// How much an alert matters, Falco's levels from its rules files (a subset).
public enum RulePriority: String, CaseIterable, Codable, Sendable, Comparable {
    case info, notice, warning, error, critical

    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: RulePriority, b: RulePriority) -> Bool { a.rank < b.rank }
    /// As alerts print it: Warning.
    public var title: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
}

/// One rule: when its condition holds for a record of one of its plugins, an alert.
public struct Rule: Sendable {
    public var name: String
    public var description: String
    public var condition: ConditionNode
    /// The condition as written, for messages.
    public var conditionText: String
    /// The alert's message: text with {field} placeholders.
    public var output: String
    public var priority: RulePriority
    public var tags: [String]
    public var plugins: [String]
    public var enabled: Bool
    /// Where the rule starts in its file: "rules.yaml:12".
    public var location: String
}

/// A rules file, in Falco's shape: a YAML sequence of `rule`, `macro` and `list` entries.
///
///     - list: shell_binaries
///       items: [sh, bash, dash]
///     - macro: shell
///       condition: comm in (shell_binaries)
///     - rule: Terminal shell in container
///       desc: A shell with a terminal started in a container.
///       plugin: execsnoop
///       condition: shell and tty != 0 and container.id != host
///       output: Shell in container (comm={comm} pid={pid} container={container.id})
///       priority: notice
///       tags: [container, shell]
///
/// Checked against the installed plugins' schemas as it loads: an unknown plugin or field, a
/// placeholder that is not a field, a bad priority, a duplicate rule: one line naming the file,
/// the line and the rule.
public struct RuleFile: Sendable {
    public private(set) var rules: [Rule] = []
    public let path: String

    public static let maxSize = 1 << 20
    static let maxEntries = 4096

    /// Reads `path`; `schema(plugin)` gives the installed schema of a plugin (nil: not installed).
    public static func load(path: String, schema: (String) -> PluginSchema?) throws -> RuleFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EunomiaError("rules file \(path.quotedForError): cannot be read (\(String(cString: strerror(errno))))")
        }
        guard data.count <= maxSize else {
            throw EunomiaError("rules file \(path.quotedForError): \(data.count) bytes, more than the \(maxSize >> 10) KiB a rules file may have")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EunomiaError("rules file \(path.quotedForError): not UTF-8 text")
        }
        return try parse(text, path: path, schema: schema)
    }

    public static func parse(_ text: String, path: String, schema: (String) -> PluginSchema?) throws -> RuleFile {
        let name = (path as NSString).lastPathComponent
        var file = RuleFile(path: path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw EunomiaError("\(name): not valid YAML: \(Self.describe(e))")
        } catch {
            throw EunomiaError("\(name): not valid YAML")
        }
        guard let root else { return file }
        guard case .sequence(let entries) = root else {
            throw EunomiaError("\(name):\(root.mark?.line ?? 1): a rules file is a list of rule, macro and list entries ('- rule: ...')")
        }
        guard entries.count <= maxEntries else { throw EunomiaError("\(name): \(entries.count) entries, at most \(maxEntries)") }
        var vocabulary = ConditionVocabulary()
        var seen = Set<String>()
        for entry in entries {
            let line = entry.mark?.line ?? 0
            let at = "\(name):\(line)"
            guard case .mapping(let map) = entry else { throw EunomiaError("\(at): an entry is a mapping with rule, macro or list") }
            var keys: [String: Node] = [:]
            for (k, v) in map {
                guard let key = k.string else { throw EunomiaError("\(at): a key that is not text") }
                keys[key] = v
            }
            func text(_ key: String, required: Bool = true) throws -> String? {
                guard let node = keys[key] else {
                    if required { throw EunomiaError("\(at): missing '\(key)'") }
                    return nil
                }
                guard case .scalar(let s) = node else { throw EunomiaError("\(name):\(node.mark?.line ?? line): '\(key)' must be text") }
                return s.string
            }
            func list(_ key: String) throws -> [String]? {
                guard let node = keys[key] else { return nil }
                switch node {
                case .scalar(let s): return [s.string]
                case .sequence(let items):
                    return try items.map {
                        guard case .scalar(let s) = $0 else { throw EunomiaError("\(name):\($0.mark?.line ?? line): '\(key)' lists only text") }
                        return s.string
                    }
                default: throw EunomiaError("\(name):\(node.mark?.line ?? line): '\(key)' must be text or a list of text")
                }
            }
            if let listName = try text("list", required: false) {
                try Self.checkName(listName, at: at, what: "list")
                let items = try list("items") ?? []
                guard !items.isEmpty else { throw EunomiaError("\(at): list '\(listName)' has no items") }
                vocabulary.define(list: listName, items.map { ConditionLiteral(text: $0, quoted: true, position: 0) })
            } else if let macroName = try text("macro", required: false) {
                try Self.checkName(macroName, at: at, what: "macro")
                let condition = try text("condition")!
                do {
                    vocabulary.define(macro: macroName, try ConditionParser.parse(condition, vocabulary: vocabulary))
                } catch let e as ConditionError {
                    throw EunomiaError("\(at): macro '\(macroName)': condition \(e)")
                }
            } else if let ruleName = try text("rule", required: false) {
                guard !ruleName.isEmpty, ruleName.utf8.count <= 128, Validate.displayTextProblem(ruleName, maxBytes: 128) == nil else {
                    throw EunomiaError("\(at): a rule name is printable text of 1 to 128 bytes")
                }
                guard seen.insert(ruleName).inserted else { throw EunomiaError("\(at): rule '\(ruleName)' is defined twice") }
                let rule = try Self.rule(ruleName, keys: keys, at: at, text: text, list: list, vocabulary: vocabulary, schema: schema)
                file.rules.append(rule)
            } else {
                throw EunomiaError("\(at): an entry needs 'rule', 'macro' or 'list'")
            }
        }
        return file
    }

    static func rule(_ name: String, keys: [String: Node], at: String, text: (String, Bool) throws -> String?,
                     list: (String) throws -> [String]?, vocabulary: ConditionVocabulary,
                     schema: (String) -> PluginSchema?) throws -> Rule {
        let known: Set<String> = ["rule", "desc", "condition", "output", "priority", "tags", "enabled", "plugin", "plugins"]
        if let odd = keys.keys.sorted().first(where: { !known.contains($0) }) {
            throw EunomiaError("\(at): rule '\(name)': unknown key '\(odd)' (\(known.sorted().joined(separator: ", ")))")
        }
        func fail(_ m: String) -> EunomiaError { EunomiaError("\(at): rule '\(name)': \(m)") }
        let conditionText = try text("condition", true)!
        let output = try text("output", true)!
        if let problem = Validate.displayTextProblem(output, maxBytes: 2048) { throw fail("output \(problem)") }
        let priorityText = (try text("priority", true)!).lowercased()
        let priority = RulePriority(rawValue: priorityText == "informational" ? "info" : priorityText)
        guard let priority else { throw fail("priority '\(priorityText)' is not one of \(RulePriority.allCases.map(\.rawValue).joined(separator: ", "))") }
        var enabled = true
        if let e = try text("enabled", false) {
            guard let b = Bool(e.lowercased()) else { throw fail("enabled is true or false, not '\(e)'") }
            enabled = b
        }
        let plugins = try list("plugin") ?? list("plugins") ?? []
        guard !plugins.isEmpty else { throw fail("names no plugin (plugin: NAME, or plugins: [A, B]): the trackers whose records it reads") }
        let tags = try list("tags") ?? []
        let condition: ConditionNode
        do {
            condition = try ConditionParser.parse(conditionText, vocabulary: vocabulary)
        } catch let e as ConditionError {
            throw fail("condition \(e)")
        }
        for plugin in plugins {
            guard let s = schema(plugin) else { throw fail("plugin '\(plugin)' is not installed (eunomia plugin install \(plugin))") }
            do {
                _ = try ConditionCompiler.compile(condition, schema: s, containers: nil)
            } catch let e as ConditionError {
                throw fail("condition, for \(plugin), \(e)")
            }
            for case let (_, field?) in FieldSpec.parseTemplate(output) {
                guard AlertText.known(field, in: s) else { throw fail("output names {\(field)}, which is not a field of \(plugin)") }
            }
        }
        return Rule(name: name, description: try text("desc", false) ?? "", condition: condition, conditionText: conditionText,
                    output: output, priority: priority, tags: tags, plugins: plugins, enabled: enabled, location: at)
    }

    static func checkName(_ name: String, at: String, what: String) throws {
        guard Validate.isIdentifier(name), !ConditionParser.keywords.contains(name) else {
            throw EunomiaError("\(at): \(what) name \(name.quotedForError) must be lower_snake_case (and not a keyword)")
        }
    }

    static func describe(_ e: YamlError) -> String {
        "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
    }
}
