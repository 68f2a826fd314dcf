import EunomiaOutput
import EunomiaRecords
import EunomiaSchema
import Foundation
import Synchronization

/// Where alerts go: a terminal, a log, the server's stream and counters.
public protocol AlertSink: AnyObject {
    func alert(_ alert: Alert)
}

/// The rules in force, replaced as a whole (a reload): engines notice at their next record.
public final class RuleBook: @unchecked Sendable {
    private let lock = NSLock()
    private var files: [RuleFile]
    private let changes = Atomic<UInt64>(0)

    public init(_ files: [RuleFile] = []) { self.files = files }

    public func replace(_ newFiles: [RuleFile]) {
        lock.withLock { files = newFiles }
        changes.add(1, ordering: .releasing)
    }

    public var generation: UInt64 { changes.load(ordering: .acquiring) }
    public var rules: [Rule] { lock.withLock { files.flatMap(\.rules) } }
    public var enabledCount: Int { rules.filter(\.enabled).count }
}

/// Runs the rules over one tracker's records, as a subscriber beside its outputs: each
/// enabled rule naming the source's plugin is compiled against the source's schema when the
/// source starts; a record is tested against those, and an alert renders the record once.
public final class RuleEngine: RecordSubscriber {
    public let tracker: String
    let book: RuleBook
    let sink: AlertSink
    let containers: ContainerDirectory?

    final class Compiled {
        let source: RecordSource
        /// The plans apart from their rules: a record walks only the plans, and touches a
        /// rule (strings, reference counted) only when its plan matched.
        let plans: [CompiledCondition]
        let rules: [Rule]
        /// Renders an alerting record as JSON, for its output fields.
        let formatter: EventFormatter
        let rendered: RenderedRecord
        init(source: RecordSource, rules: [(rule: Rule, plan: CompiledCondition)], containers: ContainerDirectory?) {
            self.source = source
            self.rules = rules.map { $0.rule }
            plans = rules.map { $0.plan }
            rendered = RenderedRecord()
            let r = rendered
            formatter = EventFormatter(schema: source.schema, parameters: source.parameters, format: .json,
                                       output: OutputBuffer(capacity: 1 << 14) { r.bytes += $0; return true }, containers: containers)
        }
    }

    final class RenderedRecord { var bytes: [UInt8] = [] }

    private var compiled: [Compiled] = []
    /// The previous record's plans: the next record is most likely from the same source.
    private var last: Compiled?
    private var seenGeneration: UInt64
    /// Alerts raised, and rules that could not be compiled for a source (a swap's new schema).
    public private(set) var alerts: UInt64 = 0
    public private(set) var problems: [String] = []

    public init(tracker: String, book: RuleBook, sink: AlertSink, containers: ContainerDirectory?) {
        self.tracker = tracker
        self.book = book
        self.sink = sink
        self.containers = containers
        seenGeneration = book.generation
    }

    /// How many rules apply to the tracker's current sources.
    public var activeRules: Int { compiled.reduce(0) { $0 + $1.plans.count } }

    public func sourceStarted(_ source: RecordSource) {
        guard !compiled.contains(where: { $0.source === source }) else { return }
        compiled.append(compile(source))
    }

    public func sourceEnded(_ source: RecordSource) {
        compiled.removeAll { $0.source === source }
        last = nil
    }

    func compile(_ source: RecordSource) -> Compiled {
        var rules: [(rule: Rule, plan: CompiledCondition)] = []
        for rule in book.rules where rule.enabled && rule.plugins.contains(source.plugin) {
            do {
                rules.append((rule, try ConditionCompiler.compile(rule.condition, schema: source.schema, containers: containers)))
            } catch {
                problems.append("\(rule.location): rule '\(rule.name)' does not fit \(source.plugin) \(source.version): \(error)")
            }
        }
        return Compiled(source: source, rules: rules, containers: containers)
    }

    public func consume(_ record: RecordView) -> Bool {
        if book.generation != seenGeneration {
            seenGeneration = book.generation
            compiled = compiled.map { compile($0.source) }
            last = nil
        }
        if last?.source !== record.source {
            guard let c = compiled.first(where: { $0.source === record.source }) else { return true }
            last = c
        }
        guard let c = last else { return true }
        for i in c.plans.indices where c.plans[i].matches(recordID: record.recordID, bytes: record.bytes) {
            fire(c.rules[i], c, record)
        }
        return true
    }

    func fire(_ rule: Rule, _ c: Compiled, _ record: RecordView) {
        c.rendered.bytes.removeAll(keepingCapacity: true)
        _ = c.formatter.consume(recordID: record.recordID, bytes: record.bytes)
        c.formatter.output.flush()
        let fields = (try? JSONDecoder().decode([String: AlertValue].self, from: Data(c.rendered.bytes))) ?? [:]
        alerts += 1
        sink.alert(Alert(time: Self.now(), rule: rule.name, priority: rule.priority,
                         output: AlertText.render(rule.output, fields: fields), tags: rule.tags,
                         tracker: tracker, plugin: record.source.plugin, outputFields: fields))
    }

    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, ts.tv_nsec / 1_000_000)
    }
}

/// Alerts as lines or JSON objects on an output (`eunomia run --rules`, the server's log).
public final class AlertWriter: AlertSink {
    public enum Style { case line, json }
    let output: OutputBuffer
    let style: Style
    public private(set) var written: UInt64 = 0

    public init(output: OutputBuffer, style: Style) {
        self.output = output
        self.style = style
    }

    public func alert(_ alert: Alert) {
        written += 1
        if style == .json { output.appendVerbatim(alert.json + "\n") } else { output.appendTerminalText(alert.line); output.appendVerbatim("\n") }
        output.flush()
    }
}
