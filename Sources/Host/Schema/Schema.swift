import Foundation
import Version

/// A plugin's schema.json: identity, parameters and the binary layout of its records.
public struct PluginSchema: Codable, Equatable {
    public var name: String
    public var version: String
    public var description: String
    public var abi: ABIVersion
    public var requires: Requirements?
    public var parameters: [ParameterSpec]
    public var records: [RecordLayout]
    /// What a successor version needs to carry on from this one in a hot swap.
    public var swap: SwapSpec?

    public static func decode(_ data: Data, source: String) throws -> PluginSchema {
        guard data.count <= maxSize else {
            throw EunomiaError("\(source): \(data.count) bytes, more than the \(maxSize >> 10) KiB a schema may have")
        }
        let schema: PluginSchema
        do {
            schema = try JSONDecoder().decode(PluginSchema.self, from: data)
        } catch let error as DecodingError {
            throw EunomiaError("\(source): \(describe(error))")
        } catch {
            throw EunomiaError("\(source): not valid JSON")
        }
        try schema.validate(source: source)
        return schema
    }

    public func record(id: UInt32) -> RecordLayout? { records.first { $0.id == id } }
    public func parameter(named name: String) -> ParameterSpec? { parameters.first { $0.name == name } }

    public var semver: Version? { Version(version) }

    /// Largest schema.json read; the biggest bundled one is a few KiB.
    public static let maxSize = 1 << 20
    static let maxRecords = 64
    static let maxParameters = 64
    /// Largest record: far beyond any ring buffer record a tracker sends (stacks of 127
    /// frames are 1 KiB), small enough that nothing sized by it can exhaust memory.
    public static let maxRecordSize = 1 << 20

    func validate(source: String) throws {
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(source): \(msg)") }
        try Validate.identity(name: name, version: version, description: description, abi: abi, requires: requires, fail)
        guard parameters.count <= PluginSchema.maxParameters else { throw fail("declares \(parameters.count) parameters, at most \(PluginSchema.maxParameters) are allowed") }
        guard records.count <= PluginSchema.maxRecords else { throw fail("declares \(records.count) records, at most \(PluginSchema.maxRecords) are allowed") }
        var seen = Set<String>()
        for p in parameters {
            guard seen.insert(p.name).inserted else { throw fail("parameter '\(p.name)' is declared twice") }
            try p.validate(source: source)
        }
        guard !records.isEmpty else { throw fail("declares no records") }
        try swap?.validate(fail)
        var ids = Set<UInt32>()
        var names = Set<String>()
        for r in records {
            guard ids.insert(r.id).inserted else { throw fail("record id \(r.id) is declared twice") }
            guard names.insert(r.name).inserted else { throw fail("record name '\(r.name)' is declared twice") }
            try r.validate(source: source, parameters: parameters)
        }
        // After the records: a pushdown names one of their fields.
        for p in parameters {
            guard let field = p.pushdown else { continue }
            if field == "container" {
                guard p.type == .string, records.contains(where: { $0.cgroupIDOffset != nil }) else {
                    throw fail("parameter '\(p.name)': pushdown container needs a string parameter and records with a cgroup_id field")
                }
                continue
            }
            guard let f = records.lazy.flatMap(\.fields).first(where: { $0.name == field }) else {
                throw fail("parameter '\(p.name)': pushdown \(field.quotedForError) is not a field of any record")
            }
            let fits = p.type == .integer ? f.type.isInteger && f.values == nil && f.scale == nil && f.display == nil : p.type == .string && f.type == .string
            guard fits else {
                throw fail("parameter '\(p.name)': pushdown '\(field)' is a \(f.type.rawValue) field, which a \(p.type.rawValue) parameter cannot filter exactly")
            }
        }
    }
}

/// The schema's `swap` object: the BPF maps holding state a successor must reuse (entry maps
/// of calls in flight, counts, histograms, outstanding allocations).
public struct SwapSpec: Codable, Equatable {
    public var carryMaps: [String]

    enum CodingKeys: String, CodingKey { case carryMaps = "carry_maps" }

    /// Maps the helper owns per instance or hands over itself.
    static let reserved: Set<String> = ["events", "eunomia_lost", "eunomia_wakeup", "eunomia_cutover", "eunomia_moment"]

    func validate(_ fail: (String) -> EunomiaError) throws {
        guard carryMaps.count <= 32 else { throw fail("swap.carry_maps lists \(carryMaps.count) maps, at most 32") }
        guard Set(carryMaps).count == carryMaps.count else { throw fail("swap.carry_maps lists a map twice") }
        for m in carryMaps {
            // BPF object names hold 15 bytes.
            guard Validate.isCIdentifier(m), m.utf8.count <= 15 else {
                throw fail("swap.carry_maps: \(m.quotedForError) is not a BPF map name (a C identifier of at most 15 bytes)")
            }
            guard !SwapSpec.reserved.contains(m) else { throw fail("swap.carry_maps: '\(m)' belongs to the helper and is never listed") }
        }
    }
}

public struct ABIVersion: Codable, Equatable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public var description: String { "\(major).\(minor)" }

    /// Both parts are the ABI's uint16 numbers.
    func validate(_ fail: (String) -> EunomiaError) throws {
        guard (0...0xFFFF).contains(major), (0...0xFFFF).contains(minor) else {
            throw fail("abi \(major).\(minor) is not two numbers from 0 to 65535")
        }
    }
}

/// What the kernel must offer; checked at install time without loading the plugin.
public struct Requirements: Codable, Equatable, Sendable {
    /// Minimum kernel version, "5.8".
    public var kernel: String?
    /// Needs /sys/kernel/btf/vmlinux (CO-RE).
    public var btf: Bool?
    /// "category/event" tracepoints that must exist.
    public var tracepoints: [String]?

    func validate(_ fail: (String) -> EunomiaError) throws {
        if let kernel, !Validate.isKernelVersion(kernel) {
            throw fail("requires.kernel \(kernel.quotedForError) is not a kernel version like 5.8 or 6.1.0")
        }
        if let tracepoints {
            guard tracepoints.count <= 256 else { throw fail("requires.tracepoints lists \(tracepoints.count) tracepoints, at most 256 are allowed") }
            for tp in tracepoints where !Validate.isTracepoint(tp) {
                throw fail("requires.tracepoints entry \(tp.quotedForError) is not CATEGORY/EVENT of letters, digits and '_'")
            }
        }
    }
}

public enum FieldType: String, Codable {
    case u8, u16, u32, u64, i8, i16, i32, i64, bool, string, bytes
    /// Not in the record: text composed from other fields by `template`.
    case template
    /// u64 instruction addresses up to the first 0, symbolized by the host.
    case stack
    /// log2 histogram slots (u32 or u64, per `element`): slot i counts values in [2^i, 2^(i+1)).
    case histogram

    /// Fixed size of the type, nil for variable-size string and bytes.
    var fixedSize: Int? {
        switch self {
        case .u8, .i8, .bool: return 1
        case .u16, .i16: return 2
        case .u32, .i32: return 4
        case .u64, .i64: return 8
        case .string, .bytes, .template, .stack, .histogram: return nil
        }
    }

    var isInteger: Bool { fixedSize != nil && self != .bool }

    /// Fields a record may end inside of, or before: every reader bounds them by the record's
    /// length (strings to their end, stacks to whole frames, histograms to whole slots).
    /// Not bytes: addresses and conditions on them read all of their bytes.
    public var mayArriveShort: Bool { self == .string || self == .template || self == .stack || self == .histogram }
}

/// How a field is shown; decoding is the same everywhere, rendering differs per output format.
public enum DisplayHint: String, Codable {
    /// bpf_ktime_get_ns() value: wall-clock time in every output.
    case timestamp
    /// An errno value.
    case errno
    /// A syscall's return value: negative errnos by name (-EINVAL), anything else as a number.
    case errnoName = "errno_name"
    /// open(2) flags: octal in tables (as libbpf-tools), O_* names in JSON and CSV.
    case openFlags = "open_flags"
    case octal
    case hex
    /// A signal number: its name (SIGKILL).
    case signal
    /// A capability number: its name (CAP_SYS_ADMIN); numbers without one as numbers.
    case capability
    /// A system call number of the host's architecture: its name (openat); numbers without one
    /// (or on an architecture the host has no table for) as numbers.
    case syscall
    /// 4 bytes, network order.
    case ipv4
    /// 16 bytes, network order.
    case ipv6
    /// 16 bytes, network order, either family: IPv4-mapped addresses (::ffff:a.b.c.d) print as IPv4.
    case ip
    /// NUL-separated strings (an argv), shown joined by spaces.
    case argv
}

/// What a field means to the host, beyond its value: the event's time, or the task identity
/// every event record carries (bpf/eunomia.bpf.h EUNOMIA_TASK_IDS), which the host maps to a
/// container with no plugin-specific code.
public enum FieldRole: String, Codable {
    case eventTime = "event_time"
    case cgroupID = "cgroup_id"
    case mountNamespace = "mount_ns"
    case pidNamespace = "pid_ns"
}

public enum Alignment: String, Codable { case left, right }

/// Whose addresses a stack field holds.
public enum StackKind: String, Codable { case user, kernel }

/// What a record is: one event, printed at once, or part of a periodic report.
public enum RecordKind: String, Codable {
    case event
    /// A row of a top-N table; rows are collected until the plugin closes the report.
    case row
    /// One histogram (its other fields are keys), collected like rows.
    case histogram
}

public struct FieldSpec: Codable, Equatable {
    public var name: String
    public var type: FieldType
    public var offset: Int
    public var size: Int
    public var display: DisplayHint?
    /// Table and CSV header; defaults to the upper-cased name.
    public var column: String?
    /// Minimum table column width.
    public var width: Int?
    public var align: Alignment?
    /// The table shows this column only when this boolean parameter is true ("name"), or
    /// only when it is false ("!name").
    public var when: String?
    /// Never shown in the table; still in JSON and CSV.
    public var hidden: Bool?
    /// Member of the record's BTF struct this field mirrors, when its name differs.
    public var member: String?
    /// Integer fields: names for values ("6": "TCP"); unmapped values show as numbers.
    public var values: [String: String]?
    /// Integer fields: names of flag bits ("MS_RDONLY": 1), shown joined by '|'.
    public var bits: [String: UInt64]?
    /// Integer fields: shown as value / scale with `decimals` digits (ns -> ms: 1000000, 3).
    public var scale: UInt64?
    public var decimals: Int?
    /// Template fields: text with {field} placeholders.
    public var template: String?
    /// Template fields: per-value templates chosen by the integer field named by `select`;
    /// `template` is the fallback.
    public var templates: [String: String]?
    public var select: String?
    /// Stack fields: whose addresses; user stacks name the field holding the process id in `pid`.
    public var stack: StackKind?
    public var pid: String?
    /// Histogram fields: slot type (u32, the default, or u64) and the unit printed ("usecs").
    public var element: FieldType?
    public var unit: String?
    /// What the field means to the host, whatever its name: `event_time` marks the time the
    /// event began (CLOCK_MONOTONIC ns, a u64), which a swap's cutover compares against.
    public var role: FieldRole?
    /// Event records: the server counts events per distinct value of the fields so marked
    /// (eunomia_plugin_events_total; docs/prometheus.md). Integer, bool and string fields only.
    public var metricLabel: Bool?
    /// The field exists only when one of these boolean parameters is true ("name") or false
    /// ("!name"): a key a parameter selects (ParameterSelected.swift).
    public var present: [String]?
    /// Display keys that change when a boolean parameter is true: {"milliseconds": {"unit": "msecs"}}.
    public var choices: [String: FieldOverride]?

    enum CodingKeys: String, CodingKey {
        case name, type, offset, size, display, column, width, align, when, hidden, member, values, bits, scale,
             decimals, template, templates, select, stack, pid, element, unit, role, present
        case metricLabel = "metric_label"
        case choices = "if"
    }

    /// Label names the server gives every per-plugin series itself, or that Prometheus reserves.
    public static let reservedLabelNames: Set<String> = ["tracker", "plugin", "version", "le", "quantile", "instance", "job"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(FieldType.self, forKey: .type)
        // Template fields occupy no bytes of the record.
        offset = try type == .template ? c.decodeIfPresent(Int.self, forKey: .offset) ?? 0 : c.decode(Int.self, forKey: .offset)
        size = try type == .template ? c.decodeIfPresent(Int.self, forKey: .size) ?? 0 : c.decode(Int.self, forKey: .size)
        display = try c.decodeIfPresent(DisplayHint.self, forKey: .display)
        column = try c.decodeIfPresent(String.self, forKey: .column)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        align = try c.decodeIfPresent(Alignment.self, forKey: .align)
        when = try c.decodeIfPresent(String.self, forKey: .when)
        hidden = try c.decodeIfPresent(Bool.self, forKey: .hidden)
        member = try c.decodeIfPresent(String.self, forKey: .member)
        values = try c.decodeIfPresent([String: String].self, forKey: .values)
        bits = try c.decodeIfPresent([String: UInt64].self, forKey: .bits)
        scale = try c.decodeIfPresent(UInt64.self, forKey: .scale)
        decimals = try c.decodeIfPresent(Int.self, forKey: .decimals)
        template = try c.decodeIfPresent(String.self, forKey: .template)
        templates = try c.decodeIfPresent([String: String].self, forKey: .templates)
        select = try c.decodeIfPresent(String.self, forKey: .select)
        stack = try c.decodeIfPresent(StackKind.self, forKey: .stack)
        pid = try c.decodeIfPresent(String.self, forKey: .pid)
        element = try c.decodeIfPresent(FieldType.self, forKey: .element)
        unit = try c.decodeIfPresent(String.self, forKey: .unit)
        role = try c.decodeIfPresent(FieldRole.self, forKey: .role)
        metricLabel = try c.decodeIfPresent(Bool.self, forKey: .metricLabel)
        // One condition, or a list of them (any holds).
        if let one = try? c.decodeIfPresent(String.self, forKey: .present) { present = [one] }
        else { present = try c.decodeIfPresent([String].self, forKey: .present) }
        choices = try c.decodeIfPresent([String: FieldOverride].self, forKey: .choices)
    }

    /// Size of one histogram slot.
    package var slotSize: Int { element == .u64 ? 8 : 4 }

    /// Widest table column a schema may ask for.
    static let maxWidth = 256

    /// The integer keys of a `values` or `templates` table. Keys must be canonical decimals
    /// ("1", "-5"; not "01", "+1" or "-0"): distinct strings are then distinct numbers, so
    /// no two names claim one value and the formatter's tables cannot collide.
    static func integerKeys<V>(_ table: [String: V], table name: String, fail: (String) -> EunomiaError) throws -> [Int64: V] {
        guard table.count <= 4096 else { throw fail("\(name) has \(table.count) entries, at most 4096") }
        var result: [Int64: V] = [:]
        for (key, value) in table.sorted(by: { $0.key < $1.key }) {
            guard let n = Int64(key), String(n) == key else {
                throw fail("\(name) key \(key.quotedForError) is not an integer written in plain decimal")
            }
            result[n] = value
        }
        return result
    }

    public var header: String { column ?? name.uppercased() }
    public var btfMember: String { member ?? name }

    /// Literal text and field names of a template, in order.
    package static func parseTemplate(_ text: String) -> [(literal: String, field: String?)] {
        var parts: [(String, String?)] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            parts.append((String(rest[..<open]), String(rest[rest.index(after: open)..<close])))
            rest = rest[rest.index(after: close)...]
        }
        parts.append((String(rest), nil))
        return parts
    }

    private func validateTemplate(record: RecordLayout, fail: (String) -> EunomiaError) throws {
        guard template != nil || templates != nil else { throw fail("a template field needs template or templates") }
        guard offset == 0 && size == 0 else { throw fail("a template field occupies no bytes of the record: drop offset and size") }
        let texts = [template].compactMap { $0 } + (templates.map { Array($0.values) } ?? [])
        guard texts.count <= 1025 else { throw fail("templates has more than 1024 entries") }
        for text in texts {
            if let problem = Validate.displayTextProblem(text, maxBytes: 1024) { throw fail("template \(problem)") }
            for case let (_, name?) in FieldSpec.parseTemplate(text) {
                guard let f = record.fields.first(where: { $0.name == name }), f.type != .template else {
                    throw fail("template refers to '{\(name)}', which is not a field of the record")
                }
            }
        }
        if templates != nil {
            guard let sel = select, let f = record.fields.first(where: { $0.name == sel }), f.type.isInteger else {
                throw fail("templates need select naming an integer field")
            }
            _ = try FieldSpec.integerKeys(templates!, table: "templates", fail: fail)
        }
    }

    func validate(source: String, record: RecordLayout, parameters: [ParameterSpec]) throws {
        func fail(_ msg: String) -> EunomiaError {
            EunomiaError("\(source): record '\(record.name)' field '\(name)': \(msg)")
        }
        if let c = whenCondition {
            guard let p = parameters.first(where: { $0.name == c.parameter }), p.type == .boolean else {
                throw fail("'when' names '\(c.parameter)', which is not a boolean parameter")
            }
        }
        if let column, let problem = Validate.displayTextProblem(column, maxBytes: 64) { throw fail("column \(problem)") }
        try validateSelection(record: record, parameters: parameters, fail)
        if let w = width, !(0...FieldSpec.maxWidth).contains(w) { throw fail("width \(w) is outside 0 to \(FieldSpec.maxWidth)") }
        if let member, !Validate.isCIdentifier(member) { throw fail("member \(member.quotedForError) is not a C identifier") }
        if let unit, let problem = Validate.displayTextProblem(unit, maxBytes: 32) { throw fail("unit \(problem)") }
        switch role {
        case .eventTime? where type != .u64 || size != 8, .cgroupID? where type != .u64 || size != 8:
            throw fail("role \(role!.rawValue) needs a u64 field")
        case .mountNamespace? where type != .u32 || size != 4, .pidNamespace? where type != .u32 || size != 4:
            throw fail("role \(role!.rawValue) needs a u32 field")
        default: break
        }
        if metricLabel == true {
            guard record.kind == .event else { throw fail("metric_label applies to fields of event records") }
            guard type.isInteger || type == .bool || type == .string else {
                throw fail("metric_label needs an integer, bool or string field")
            }
            // Field names are lower_snake_case, so valid Prometheus label names, but a few are taken.
            guard !FieldSpec.reservedLabelNames.contains(name), !name.hasPrefix("__") else {
                throw fail("'\(name)' cannot be a metric label (reserved: \(FieldSpec.reservedLabelNames.sorted().joined(separator: ", ")), or a leading __)")
            }
        }
        if type == .template {
            try validateTemplate(record: record, fail: fail)
            return
        }
        // record.size is at most maxRecordSize, so once both are in range the sum cannot overflow.
        guard offset >= 0, size > 0, offset <= record.size, size <= record.size - offset else {
            throw fail("offset \(offset) + size \(size) lies outside the record's \(record.size) bytes")
        }
        if values != nil || bits != nil || scale != nil {
            guard type.isInteger else { throw fail("values, bits and scale need an integer type") }
            guard [values != nil, bits != nil, scale != nil, display != nil].filter({ $0 }).count == 1 else {
                throw fail("use only one of display, values, bits and scale")
            }
        }
        if let values {
            _ = try FieldSpec.integerKeys(values, table: "values", fail: fail)
            for name in values.values {
                if let problem = Validate.displayTextProblem(name, maxBytes: 64) { throw fail("values name \(name.quotedForError) \(problem)") }
            }
        }
        if let bits {
            guard bits.count <= 64 else { throw fail("bits has \(bits.count) entries, at most 64") }
            var masks: [UInt64: String] = [:]
            for (name, mask) in bits.sorted(by: { $0.key < $1.key }) {
                if let problem = Validate.displayTextProblem(name, maxBytes: 64) { throw fail("bits name \(name.quotedForError) \(problem)") }
                guard !name.isEmpty else { throw fail("bits has an empty name") }
                guard mask != 0 else { throw fail("bits '\(name)' is 0, which no flag can be") }
                if let other = masks.updateValue(name, forKey: mask) { throw fail("bits '\(other)' and '\(name)' are both \(mask)") }
            }
        }
        if let scale, scale == 0 { throw fail("scale must be positive") }
        if let d = decimals, !(0...9).contains(d) { throw fail("decimals must be 0 to 9") }
        if display == .argv && type != .string { throw fail("display argv needs type string") }
        if let fixed = type.fixedSize, fixed != size {
            throw fail("type \(type.rawValue) has \(fixed) bytes, not \(size)")
        }
        if type == .stack {
            guard size % 8 == 0 else { throw fail("a stack holds 8-byte addresses; size \(size) is not a multiple of 8") }
            guard let kind = stack else { throw fail("a stack field needs \"stack\": \"user\" or \"kernel\"") }
            if kind == .user {
                guard let p = pid, let f = record.fields.first(where: { $0.name == p }), f.type.isInteger else {
                    throw fail("a user stack needs \"pid\" naming the integer field that holds the process id")
                }
            }
        }
        if type == .histogram {
            guard record.kind == .histogram else { throw fail("histogram fields belong in records of kind histogram") }
            guard element == nil || element == .u32 || element == .u64 else { throw fail("histogram element must be u32 or u64") }
            guard size % slotSize == 0 else { throw fail("size \(size) is not a whole number of \(slotSize)-byte slots") }
            guard size / slotSize <= 64 else { throw fail("a log2 histogram has at most 64 slots") }
        }
        switch display {
        case .timestamp? where type != .u64: throw fail("display timestamp needs type u64")
        case .ipv4? where size != 4: throw fail("display ipv4 needs 4 bytes")
        case .ipv6? where size != 16, .ip? where size != 16: throw fail("display \(display!.rawValue) needs 16 bytes")
        case .errno?, .errnoName?, .openFlags?, .octal?, .hex?, .signal?, .capability?, .syscall?:
            if !type.isInteger { throw fail("display \(display!.rawValue) needs an integer type") }
        default: break
        }
    }

    /// The boolean parameter named by `when` ("name", or "!name" for its negation).
    public var whenCondition: (parameter: String, negated: Bool)? {
        guard let w = when else { return nil }
        return w.hasPrefix("!") ? (String(w.dropFirst()), true) : (w, false)
    }

    /// Whether the table shows this field with these parameters.
    package func visibleInTable(_ parameters: ResolvedParameters) -> Bool {
        guard hidden != true else { return false }
        guard let c = whenCondition else { return true }
        return parameters.bool(c.parameter) != c.negated
    }
}

public struct RecordLayout: Codable, Equatable {
    public var id: UInt32
    public var name: String
    /// Struct in the BPF object's BTF that this layout mirrors; checked at pack and install time.
    public var btfStruct: String?
    /// Full size of the record. A record may arrive shorter when its last fields are strings,
    /// stacks or histograms (only the used part is sent; see minimumSize).
    public var size: Int
    public var fields: [FieldSpec]
    public var kind: RecordKind
    /// Rows: integer field the rows are sorted by, largest first (else the plugin's order).
    public var sort: String?
    /// Rows: integer parameter holding the most rows a report shows (0: all).
    public var limit: String?
    /// What a boolean parameter changes when true: {"latency": {"sort": "total_ns"}}.
    public var choices: [String: RecordOverride]?

    enum CodingKeys: String, CodingKey { case id, name, btfStruct = "btf_struct", size, fields, kind, sort, limit, choices = "if" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(UInt32.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        btfStruct = try c.decodeIfPresent(String.self, forKey: .btfStruct)
        size = try c.decode(Int.self, forKey: .size)
        fields = try c.decode([FieldSpec].self, forKey: .fields)
        kind = try c.decodeIfPresent(RecordKind.self, forKey: .kind) ?? .event
        sort = try c.decodeIfPresent(String.self, forKey: .sort)
        limit = try c.decodeIfPresent(String.self, forKey: .limit)
        choices = try c.decodeIfPresent([String: RecordOverride].self, forKey: .choices)
    }

    /// Label fields per record: each multiplies the series a tracker can make.
    public static let maxMetricLabels = 4

    public var isReport: Bool { kind != .event }
    public var hasStacks: Bool { fields.contains { $0.type == .stack } }
    /// Offset of the field with role event_time, if the record has one.
    public var eventTimeOffset: Int? { fields.first { $0.role == .eventTime }?.offset }

    /// Offset of the field with role cgroup_id, if the record carries the task's identity.
    public var cgroupIDOffset: Int? { fields.first { $0.role == .cgroupID }?.offset }

    /// Bytes a record must have: everything up to the end of the furthest fixed-size field.
    /// Strings, stacks and histograms may be cut short (eunomia_output_tail and
    /// eunomia_output_array send only the used part): what is missing of a string reads as its
    /// end, of a stack as no more frames, of a histogram as empty slots.
    public var minimumSize: Int {
        fields.map { $0.type.mayArriveShort ? $0.offset : $0.offset + $0.size }.max() ?? 0
    }

    func validate(source: String, parameters: [ParameterSpec]) throws {
        guard Validate.isIdentifier(name) else {
            throw EunomiaError("\(source): record name \(name.quotedForError) must be lower_snake_case, at most 64 bytes")
        }
        guard (1...PluginSchema.maxRecordSize).contains(size) else {
            throw EunomiaError("\(source): record '\(name)' has size \(size), outside 1 to \(PluginSchema.maxRecordSize)")
        }
        if let btfStruct, !Validate.isCIdentifier(btfStruct) {
            throw EunomiaError("\(source): record '\(name)': btf_struct \(btfStruct.quotedForError) is not a C identifier")
        }
        guard !fields.isEmpty else { throw EunomiaError("\(source): record '\(name)' has no fields") }
        guard fields.count <= 256 else { throw EunomiaError("\(source): record '\(name)' has \(fields.count) fields, at most 256") }
        for f in fields where !Validate.isIdentifier(f.name) {
            throw EunomiaError("\(source): record '\(name)' field name \(f.name.quotedForError) must be lower_snake_case, at most 64 bytes")
        }
        var seen = Set<String>()
        for f in fields {
            guard seen.insert(f.name).inserted else {
                throw EunomiaError("\(source): record '\(name)' declares field '\(f.name)' twice")
            }
            try f.validate(source: source, record: self, parameters: parameters)
        }
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(source): record '\(name)': \(msg)") }
        for role in [FieldRole.eventTime, .cgroupID, .mountNamespace, .pidNamespace] where fields.filter({ $0.role == role }).count > 1 {
            throw fail("more than one field has role \(role.rawValue)")
        }
        if fields.filter({ $0.metricLabel == true }).count > RecordLayout.maxMetricLabels {
            throw fail("more than \(RecordLayout.maxMetricLabels) fields are metric labels")
        }
        if kind == .histogram && fields.filter({ $0.type == .histogram }).count != 1 {
            throw fail("a histogram record needs exactly one histogram field")
        }
        if let sort {
            guard kind == .row else { throw fail("sort applies to records of kind row") }
            guard let f = fields.first(where: { $0.name == sort }), f.type.isInteger else {
                throw fail("sort names '\(sort)', which is not an integer field")
            }
        }
        if let limit {
            guard kind == .row else { throw fail("limit applies to records of kind row") }
            guard let p = parameters.first(where: { $0.name == limit }), p.type == .integer else {
                throw fail("limit names '\(limit)', which is not an integer parameter")
            }
        }
        try validateSelection(parameters: parameters, fail)
    }
}

package func describe(_ error: DecodingError) -> String {
    func path(_ ctx: DecodingError.Context) -> String {
        let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return p.isEmpty ? "top level" : String(p.drop(while: { $0 == "." }))
    }
    switch error {
    case .keyNotFound(let key, let ctx):
        let at = path(ctx)
        return "missing key '\(key.stringValue)'" + (ctx.codingPath.isEmpty ? "" : " in \(at)")
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
        return "\(path(ctx)): \(ctx.debugDescription)"
    case .dataCorrupted(let ctx):
        if let underlying = ctx.underlyingError as NSError? {
            return "not valid JSON (\(underlying.localizedDescription))"
        }
        return "\(path(ctx)): \(ctx.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}
