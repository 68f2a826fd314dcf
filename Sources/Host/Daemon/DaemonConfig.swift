import EunomiaHost
import EunomiaRegistry
import Foundation
import Logging

/// Where a tracker's records go besides API streams.
public enum OutputSpec: Equatable, Sendable, CustomStringConvertible {
    /// The server's log: one line per record, JSON.
    case log
    /// A JSON-lines file rotated by size: path, path.1 ... path.keep.
    case file(path: String, maxBytes: Int, keep: Int)

    public var description: String {
        switch self {
        case .log: return "log"
        case .file(let path, _, _): return "file:\(path)"
        }
    }
}

/// One `[[tracker]]` table of the config.
public struct TrackerSpec: Equatable, Sendable {
    public var id: String
    /// NAME, NAME@VERSION, NAME@^1.2, NAME@latest: checked by Store.resolve.
    public var plugin: String
    /// KEY=VALUE assignments, as the command line's --param takes them (KEY checked as an identifier).
    public var params: [String]
    public var outputs: [OutputSpec]
    /// Only the records for which this condition holds reach its outputs and streams (docs/rules.md).
    public var filter: String?
    /// Where the table starts in the config file, for messages.
    public var line: Int?

    public init(id: String, plugin: String, params: [String], outputs: [OutputSpec], filter: String? = nil, line: Int? = nil) {
        self.id = id
        self.plugin = plugin
        self.params = params
        self.outputs = outputs
        self.filter = filter
        self.line = line
    }

    /// What reload compares: the same id with another requirement, other params, outputs or filter is a change.
    func sameDefinition(as other: TrackerSpec) -> Bool {
        id == other.id && plugin == other.plugin && params.sorted() == other.params.sorted() && outputs == other.outputs
            && filter == other.filter
    }
}

public struct Limits: Equatable, Sendable {
    public var maxTrackers = 64
    public var streamQueueKB = 1024
    public var maxUploadMB = 128
    /// [metrics] max_label_sets: label sets eunomia_plugin_events_total keeps per tracker; the
    /// rest count under __other__ (0: no per-label counting).
    public var maxLabelSets = 1000

    public static let maxTrackersRange = 1...1024
    public static let streamQueueKBRange = 4...65536
    public static let maxUploadMBRange = 1...128
    public static let maxLabelSetsRange = 0...100_000

    public init() {}
}

/// eunomia.toml, checked: every key known, every value of the right type and in range.
public struct DaemonConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/eunomia/eunomia.toml"
    public static let defaultSocket = "/run/eunomia/eunomia.sock"
    public static let maxFileSize = 1 << 20

    /// The file it was read from, if any.
    public var path: String?
    public var store: String?
    public var socket: String?
    public var listen: ListenAddress?
    public var allowRemote = false
    public var logLevel: Logger.Level?
    public var limits = Limits()
    public var trackers: [TrackerSpec] = []
    /// Rules files (absolute paths), run over every tracker's records; reloaded on SIGHUP.
    public var rules: [String] = []
    /// [[registry]]: where `plugin install NAME`, search, outdated and upgrade look, in order.
    public var registries: [RegistryLocation] = []

    public init() {}

    /// Reads and checks a config file; every problem is one line naming the file, line and key.
    public static func load(path: String) throws -> DaemonConfig {
        let data: Data
        do {
            data = try SafeFile.read(path, maxBytes: maxFileSize)
        } catch let e as EunomiaError {
            throw EunomiaError("config \(path): \(e.message)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EunomiaError("config \(path): not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> DaemonConfig {
        let where_ = ConfigLocator(text: text, path: path)
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].filter { $0 == UInt8(ascii: "\n") }.count + 1
            throw EunomiaError("\(path) line \(line): contains a NUL byte")
        }
        if let (line, problem) = TOMLPreflight.problem(in: text) {
            throw EunomiaError("\(path) line \(line): \(problem)")
        }
        let table: TOMLNode
        switch try TOMLIsolation.parse(text) {
        case .success(let node): table = node
        case .failure(let f): throw EunomiaError("\(path)\(f.line.map { " line \($0)" } ?? ""): \(f.message)")
        }
        var config = DaemonConfig()
        config.path = path
        let known: Set<String> = ["store", "socket", "listen", "allow_remote", "log_level", "limits", "metrics", "tracker", "registry", "rules"]
        for key in table.keys where !known.contains(key) {
            throw where_.error(key: key, "unknown key (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let v = table["store"] {
            config.store = try where_.absolutePath(v, key: "store", maxBytes: 1024)
        }
        if let v = table["socket"] {
            // sun_path holds 108 bytes, the terminating NUL included.
            config.socket = try where_.absolutePath(v, key: "socket", maxBytes: 107)
        }
        if let v = table["listen"] {
            guard let s = v.string else { throw where_.typeError(key: "listen", v, "a string \"HOST:PORT\"") }
            do {
                config.listen = try ListenAddress.parse(s)
            } catch let e as EunomiaError {
                throw where_.error(key: "listen", e.message)
            }
        }
        if let v = table["allow_remote"] {
            guard let b = v.bool else { throw where_.typeError(key: "allow_remote", v, "true or false") }
            config.allowRemote = b
        }
        if let v = table["log_level"] {
            guard let s = v.string else { throw where_.typeError(key: "log_level", v, "a string") }
            guard let level = Logger.Level(rawValue: s) else {
                throw where_.error(key: "log_level", "\(s.quotedForError) is not one of trace, debug, info, notice, warning, error, critical")
            }
            config.logLevel = level
        }
        if let v = table["limits"] {
            guard let limits = v.table else { throw where_.typeError(key: "limits", v, "a table [limits]") }
            config.limits = try parseLimits(limits, where_)
        }
        if let v = table["metrics"] {
            guard let metrics = v.table else { throw where_.typeError(key: "metrics", v, "a table [metrics]") }
            config.limits.maxLabelSets = try parseMetrics(metrics, where_)
        }
        if let v = table["tracker"] {
            guard let array = v.array else { throw where_.typeError(key: "tracker", v, "tables [[tracker]]") }
            guard array.count <= config.limits.maxTrackers else {
                throw where_.error(key: "tracker", "\(array.count) trackers, more than limits.max_trackers (\(config.limits.maxTrackers))")
            }
            var ids: [String: Int] = [:]
            for index in 0..<array.count {
                guard let t = array[index].table else {
                    throw where_.error(key: "tracker", "entry \(index + 1) is not a table")
                }
                let spec = try parseTracker(t, index: index, where_)
                if let first = ids[spec.id] {
                    throw where_.error(section: "tracker", index: index, key: "id",
                                       "tracker id \(spec.id.quotedForError) is used twice (also by tracker \(first + 1))")
                }
                ids[spec.id] = index
                config.trackers.append(spec)
            }
            var files: [String: String] = [:]
            for (index, t) in config.trackers.enumerated() {
                for case .file(let p, _, _) in t.outputs {
                    if let other = files[p] {
                        throw where_.error(section: "tracker", index: index, key: "outputs",
                                           "file \(p.quotedForError) is already the output of tracker \(other.quotedForError)")
                    }
                    files[p] = t.id
                }
            }
        }
        if let v = table["registry"] { config.registries = try parseRegistries(v, where_) }
        if let v = table["rules"] { config.rules = try parseRules(v, where_) }
        if let listen = config.listen, !listen.isLoopback, !config.allowRemote {
            throw where_.error(key: "listen", "\(listen.description.quotedForError) is not a loopback address; set allow_remote = true to listen on it (the API gives root-equivalent control; every TCP request needs the token)")
        }
        return config
    }

    static func parseLimits(_ t: TOMLNode, _ where_: ConfigLocator) throws -> Limits {
        var limits = Limits()
        let known = ["max_trackers", "stream_queue_kb", "max_upload_mb"]
        for key in t.keys where !known.contains(key) {
            throw where_.error(section: "limits", key: key, "unknown key in [limits] (known: \(known.joined(separator: ", ")))")
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = t[key] else { return nil }
            guard let i = v.int else { throw where_.typeError(section: "limits", key: key, v, "an integer") }
            guard range.contains(i) else {
                throw where_.error(section: "limits", key: key, "\(i) is out of range (\(range.lowerBound) to \(range.upperBound))")
            }
            return i
        }
        if let v = try int("max_trackers", Limits.maxTrackersRange) { limits.maxTrackers = v }
        if let v = try int("stream_queue_kb", Limits.streamQueueKBRange) { limits.streamQueueKB = v }
        if let v = try int("max_upload_mb", Limits.maxUploadMBRange) { limits.maxUploadMB = v }
        return limits
    }

    static func parseTracker(_ t: TOMLNode, index: Int, _ where_: ConfigLocator) throws -> TrackerSpec {
        let known = ["id", "plugin", "params", "outputs", "filter"]
        func fail(_ key: String, _ message: String) -> EunomiaError {
            where_.error(section: "tracker", index: index, key: key, message)
        }
        for key in t.keys where !known.contains(key) {
            throw fail(key, "unknown key in [[tracker]] (known: \(known.joined(separator: ", ")))")
        }
        guard let idValue = t["id"] else { throw fail("", "[[tracker]] \(index + 1) has no id") }
        guard let id = idValue.string else { throw where_.typeError(section: "tracker", index: index, key: "id", idValue, "a string") }
        guard TrackerID.isValid(id) else { throw fail("id", "\(id.quotedForError) is not a tracker id (\(TrackerID.grammar))") }
        guard let pluginValue = t["plugin"] else { throw fail("", "tracker \(id.quotedForError) has no plugin") }
        guard let plugin = pluginValue.string else {
            throw where_.typeError(section: "tracker", index: index, key: "plugin", pluginValue, "a string NAME, NAME@VERSION or NAME@RANGE")
        }
        do {
            _ = try PluginReference.parse(plugin)
        } catch let e as EunomiaError {
            throw fail("plugin", e.message)
        }
        var params: [String] = []
        if let v = t["params"] {
            guard let table = v.table else {
                throw where_.typeError(section: "tracker", index: index, key: "params", v, "a table, e.g. params = { pid = 1234 }")
            }
            for key in table.keys.sorted() {
                guard let value = table[key] else { continue }
                guard Validate.isIdentifier(key) else { throw fail("params", "\(key.quotedForError) is not a parameter name") }
                switch value {
                case .string(let v): params.append("\(key)=\(v)")
                case .int(let v): params.append("\(key)=\(v)")
                case .bool(let v): params.append("\(key)=\(v ? "true" : "false")")
                default: throw fail("params", "parameter '\(key)' is \(value.article), not a string, integer or boolean")
                }
            }
        }
        var outputs: [OutputSpec] = []
        if let v = t["outputs"] {
            guard let array = v.array else {
                throw where_.typeError(section: "tracker", index: index, key: "outputs", v, "a list, e.g. [\"log\"]")
            }
            guard array.count <= 8 else { throw fail("outputs", "at most 8 outputs per tracker") }
            for i in 0..<array.count {
                let item = array[i]
                if let s = item.string {
                    guard s == "log" else {
                        throw fail("outputs", "\(s.quotedForError) is not an output (\"log\", or { type = \"file\", path = ... })")
                    }
                    outputs.append(.log)
                } else if let o = item.table {
                    outputs.append(try parseOutput(o, fail))
                } else {
                    throw fail("outputs", "entry \(i + 1) is \(item.article), not \"log\" or a table")
                }
            }
            if Set(outputs.map(\.description)).count != outputs.count { throw fail("outputs", "an output is listed twice") }
        }
        var filter: String?
        if let v = t["filter"] {
            guard let text = v.string else { throw where_.typeError(section: "tracker", index: index, key: "filter", v, "a string, a condition such as 'comm == \"cat\"'") }
            guard !text.isEmpty, text.utf8.count <= ConditionFilter.maxBytes else { throw fail("filter", "a filter is a condition of 1 to \(ConditionFilter.maxBytes) bytes") }
            filter = text
        }
        return TrackerSpec(id: id, plugin: plugin, params: params, outputs: outputs, filter: filter,
                           line: where_.headerLine(section: "tracker", index: index))
    }

    static func parseOutput(_ o: TOMLNode, _ fail: (String, String) -> EunomiaError) throws -> OutputSpec {
        for key in o.keys where !["type", "path", "max_mb", "keep"].contains(key) {
            throw fail("outputs", "unknown key \(key.quotedForError) in an output (known: type, path, max_mb, keep)")
        }
        guard let type = o["type"]?.string else { throw fail("outputs", "an output table needs type = \"file\"") }
        switch type {
        case "log":
            guard o.keys.count == 1 else { throw fail("outputs", "a log output takes no other keys") }
            return .log
        case "file":
            guard let path = o["path"]?.string else { throw fail("outputs", "a file output needs path = \"/ABSOLUTE/PATH\"") }
            if let problem = checkAbsolutePath(path, maxBytes: 1024) { throw fail("outputs", "path \(path.quotedForError) \(problem)") }
            var maxMB = 100, keep = 5
            if let v = o["max_mb"] {
                guard let i = v.int, (1...1_048_576).contains(i) else { throw fail("outputs", "max_mb must be an integer from 1 to 1048576") }
                maxMB = i
            }
            if let v = o["keep"] {
                guard let i = v.int, (0...100).contains(i) else { throw fail("outputs", "keep must be an integer from 0 to 100") }
                keep = i
            }
            return .file(path: path, maxBytes: maxMB << 20, keep: keep)
        default:
            throw fail("outputs", "output type \(type.quotedForError) is not \"log\" or \"file\"")
        }
    }

    /// Absolute, at most maxBytes, no control characters, no "." or ".." components.
    static func checkAbsolutePath(_ path: String, maxBytes: Int) -> String? {
        guard path.hasPrefix("/") else { return "is not an absolute path" }
        guard path.utf8.count <= maxBytes else { return "is longer than \(maxBytes) bytes" }
        guard !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return "contains a control character" }
        let parts = path.split(separator: "/")
        guard !parts.contains(where: { $0 == "." || $0 == ".." }) else { return "contains '.' or '..'" }
        guard !path.hasSuffix("/") else { return "names a directory" }
        return nil
    }

}

/// `HOST:PORT` for the TCP listener: an IPv4 address, `[IPv6]` or `localhost`; port 0 picks a free one.
public struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        var addr = in_addr()
        return inet_pton(AF_INET, host, &addr) == 1 && (UInt32(bigEndian: addr.s_addr) >> 24) == 127
    }

    public static func parse(_ text: String) throws -> ListenAddress {
        guard text.utf8.count <= 64, let colon = text.lastIndex(of: ":") else {
            throw EunomiaError("\(text.quotedForError) is not HOST:PORT (e.g. 127.0.0.1:8650)")
        }
        var host = String(text[..<colon])
        let portText = String(text[text.index(after: colon)...])
        guard let port = Int(portText), (0...65535).contains(port), portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw EunomiaError("\(portText.quotedForError) in \(text.quotedForError) is not a port (0 to 65535)")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            var a6 = in6_addr()
            guard inet_pton(AF_INET6, host, &a6) == 1 else { throw EunomiaError("\(host.quotedForError) is not an IPv6 address") }
        } else if host != "localhost" {
            var a4 = in_addr()
            guard inet_pton(AF_INET, host, &a4) == 1 else {
                throw EunomiaError("\(host.quotedForError) is not an IPv4 address, [IPv6] address or localhost")
            }
        }
        return ListenAddress(host: host, port: port)
    }
}

/// Tracker ids: `[a-z0-9][a-z0-9_.-]{0,63}`; they appear in URLs, logs and file names.
public enum TrackerID {
    public static let grammar = "1-64 characters of a-z, 0-9, '_', '.' or '-', starting with a letter or digit"

    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) }
        guard alnum(u[0]) else { return false }
        return u.allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// NAME-XXXXXXXX: the plugin name and 8 random hex digits.
    public static func generate(plugin: String) -> String {
        let suffix = String(format: "%08x", UInt32.random(in: 0...UInt32.max))
        return "\(plugin.prefix(55))-\(suffix)"
    }
}

/// The grammar of NAME[@REQUIREMENT], checked without a store (the store resolves it later).
/// Finds the line of a key in the config's text, for semantic errors (TOMLKit keeps no positions
/// for values). Sections are `[limits]`, `[[tracker]]` (counted) and `[tracker.params]`-style subtables.
struct ConfigLocator {
    let path: String
    /// (section, index of [[section]], key) -> line
    private var keys: [String: Int] = [:]
    private var headers: [String: Int] = [:]

    init(text: String, path: String) {
        self.path = path
        var section = ""
        var counts: [String: Int] = [:]
        var index = 0
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[[") , let end = line.range(of: "]]") {
                let name = line[line.index(line.startIndex, offsetBy: 2)..<end.lowerBound].trimmingCharacters(in: .whitespaces)
                index = counts[name, default: 0]
                counts[name] = index + 1
                section = name
                headers["\(name)#\(index)"] = n + 1
            } else if line.hasPrefix("["), let end = line.firstIndex(of: "]") {
                let name = line[line.index(after: line.startIndex)..<end].trimmingCharacters(in: .whitespaces)
                let top = name.split(separator: ".").first.map(String.init) ?? name
                // [tracker.params] belongs to the last [[tracker]]; [limits] starts its own section.
                if counts[top] != nil {
                    section = top
                    index = counts[top, default: 1] - 1
                    let sub = name.split(separator: ".").dropFirst().first.map(String.init) ?? ""
                    if keys["\(section)#\(index).\(sub)"] == nil { keys["\(section)#\(index).\(sub)"] = n + 1 }
                } else {
                    section = name
                    index = 0
                    headers["\(name)#0"] = n + 1
                }
            } else if let eq = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = line[..<eq].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                let first = key.split(separator: ".").first.map(String.init) ?? key
                let k = "\(section)#\(index).\(first)"
                if keys[k] == nil { keys[k] = n + 1 }
            }
        }
    }

    func line(section: String, index: Int, key: String) -> Int? {
        keys["\(section)#\(index).\(key)"] ?? headers["\(section)#\(index)"]
    }

    func headerLine(section: String, index: Int) -> Int? { headers["\(section)#\(index)"] }

    func error(section: String = "", index: Int = 0, key: String, _ message: String) -> EunomiaError {
        let at = line(section: section, index: index, key: key).map { " line \($0)" } ?? ""
        var name = key
        if !section.isEmpty { name = key.isEmpty ? section : "\(section).\(key)" }
        return EunomiaError("\(path)\(at): \(name.isEmpty ? "" : "\(name): ")\(message)")
    }

    func typeError(section: String = "", index: Int = 0, key: String, _ value: TOMLNode, _ expected: String) -> EunomiaError {
        error(section: section, index: index, key: key, "is \(value.article), expected \(expected)")
    }

    func absolutePath(_ value: TOMLNode, key: String, maxBytes: Int) throws -> String {
        guard let s = value.string else { throw typeError(key: key, value, "a string (an absolute path)") }
        if let problem = DaemonConfig.checkAbsolutePath(s, maxBytes: maxBytes) {
            throw error(key: key, "\(s.quotedForError) \(problem)")
        }
        return s
    }
}

/// What toml++ (inside TOMLKit) does not check before it asserts: a table header whose name
/// starts with a character no key can start with (`[[@x]]` aborts the process instead of being
/// a parse error). Found by DaemonConfigTests.testMutatedConfigsNeverTrap; this scan, aware of
/// strings, comments and brackets, refuses such a header first. Everything else is toml++'s to judge.
enum TOMLPreflight {
    static func problem(in text: String) -> (line: Int, message: String)? {
        let b = Array(text.utf8)
        var i = 0
        var line = 1
        var depth = 0           // [ and { of values, outside strings
        var atLineStart = true
        func isKeyStart(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
                || c == UInt8(ascii: "]")
        }
        func skipString(_ quote: UInt8) {
            // i is at the opening quote.
            let triple = i + 2 < b.count && b[i + 1] == quote && b[i + 2] == quote
            if triple {
                i += 3
                while i < b.count {
                    if b[i] == UInt8(ascii: "\n") { line += 1 }
                    if quote == UInt8(ascii: "\"") && b[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if i + 2 < b.count && b[i] == quote && b[i + 1] == quote && b[i + 2] == quote { i += 3; return }
                    i += 1
                }
                return
            }
            i += 1
            while i < b.count && b[i] != UInt8(ascii: "\n") {
                if quote == UInt8(ascii: "\"") && b[i] == UInt8(ascii: "\\") { i += 2; continue }
                if b[i] == quote { i += 1; return }
                i += 1
            }
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\n") {
                line += 1
                atLineStart = true
                i += 1
                continue
            }
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                i += 1
                continue
            }
            if c == UInt8(ascii: "#") {
                while i < b.count && b[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                atLineStart = false
                skipString(c)
                continue
            }
            if atLineStart && depth == 0 && c == UInt8(ascii: "[") {
                // A table header: [name] or [[name]].
                var j = i + 1
                if j < b.count && b[j] == UInt8(ascii: "[") { j += 1 }
                while j < b.count && (b[j] == UInt8(ascii: " ") || b[j] == UInt8(ascii: "\t")) { j += 1 }
                if j < b.count && !isKeyStart(b[j]) {
                    return (line, "a table name must start with a letter, a digit, '_', '-' or a quote")
                }
                // The rest of the header line is toml++'s to check.
                i = j
                atLineStart = false
                while i < b.count && b[i] != UInt8(ascii: "\n") {
                    if b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") { skipString(b[i]); continue }
                    if b[i] == UInt8(ascii: "#") { break }
                    i += 1
                }
                continue
            }
            atLineStart = false
            if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { depth += 1 }
            if (c == UInt8(ascii: "]") || c == UInt8(ascii: "}")) && depth > 0 { depth -= 1 }
            i += 1
        }
        return nil
    }
}
