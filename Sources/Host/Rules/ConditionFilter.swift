import EunomiaRecords
import EunomiaSchema

/// A filter over one tracker's records (`eunomia run --filter`, the API's `filter`): the
/// condition parsed once, compiled per source, so that during a swap each build's records are
/// read with its own schema.
public final class ConditionFilter: RecordFilter, @unchecked Sendable {
    public let text: String
    public let condition: ConditionNode
    /// Longest filter a request or a config may give (a rules file's conditions may be longer).
    /// Small enough that a request carrying one, even as JSON \u escapes (12 bytes a
    /// character), stays inside the API's 64 KiB body limit.
    public static let maxBytes = 4096
    let containers: ContainerDirectory?
    private var plans: [(source: RecordSource, plan: CompiledCondition?)] = []
    /// The previous record's source and plan, not retained (both held in `plans`).
    private unowned(unsafe) var lastSource: RecordSource?
    private var lastPlan: Unmanaged<CompiledCondition>?
    /// Sources whose schema the condition does not fit (a swap to a build without a field):
    /// none of their records pass, and this says why.
    public private(set) var mismatches: [String] = []

    /// Parses `text` and compiles it against `schema`, so a bad filter fails before anything runs.
    public init(_ text: String, schema: PluginSchema, vocabulary: ConditionVocabulary = ConditionVocabulary(),
                containers: ContainerDirectory?) throws {
        self.text = text
        self.containers = containers
        do {
            condition = try ConditionParser.parse(text, vocabulary: vocabulary)
            _ = try ConditionCompiler.compile(condition, schema: schema, containers: containers)
        } catch let e as ConditionError {
            throw EunomiaError("filter \(text.quotedForError) \(e)")
        }
    }

    public func sourceStarted(_ source: RecordSource) {
        guard !plans.contains(where: { $0.source === source }) else { return }
        do {
            plans.append((source, try ConditionCompiler.compile(condition, schema: source.schema, containers: containers)))
        } catch {
            plans.append((source, nil))
            mismatches.append("\(source.plugin) \(source.version): \(error)")
        }
    }

    public func sourceEnded(_ source: RecordSource) {
        plans.removeAll { $0.source === source }
        if lastSource === source {
            lastSource = nil
            lastPlan = nil
        }
    }

    public func matches(_ record: RecordView) -> Bool {
        if lastSource === record.source, let p = lastPlan {
            return p._withUnsafeGuaranteedRef { $0.matches(recordID: record.recordID, bytes: record.bytes) }
        }
        guard let found = plans.first(where: { $0.source === record.source }), let plan = found.plan else { return false }
        lastSource = found.source
        lastPlan = Unmanaged.passUnretained(plan)
        return plan.matches(recordID: record.recordID, bytes: record.bytes)
    }
}

/// One subscriber behind its own filter (an API stream's `filter`): the others see every record.
public final class FilteredSubscriber: RecordSubscriber {
    public let inner: RecordSubscriber
    public let filter: ConditionFilter

    public init(_ inner: RecordSubscriber, filter: ConditionFilter) {
        self.inner = inner
        self.filter = filter
    }

    public func sourceStarted(_ source: RecordSource) {
        filter.sourceStarted(source)
        inner.sourceStarted(source)
    }

    public func sourceEnded(_ source: RecordSource) {
        inner.sourceEnded(source)
        filter.sourceEnded(source)
    }

    /// A record the filter keeps out is not a drop: it was never wanted.
    public func consume(_ record: RecordView) -> Bool {
        filter.matches(record) ? inner.consume(record) : true
    }

    public func endReport(source: RecordSource, timestampNs: UInt64) { inner.endReport(source: source, timestampNs: timestampNs) }
    public func flush() -> UInt64 { inner.flush() }
    public func finish() { inner.finish() }
}
