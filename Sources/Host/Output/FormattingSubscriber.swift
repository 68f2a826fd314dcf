import EunomiaRecords
import EunomiaSchema

/// Encodes a tracker's records (table, JSON lines, CSV or folded) into one OutputBuffer, with one
/// EventFormatter per source: during a swap the old and the new build each decode their own
/// records with their own schema. When a source with another schema starts, a table or CSV
/// stream prints the new header; JSON consumers see the new fields from that record on.
public final class FormattingSubscriber: RecordSubscriber {
    public let format: OutputFormat
    public let output: OutputBuffer
    /// Flush after every record (a table on a terminal): a person is reading.
    let lineBuffered: Bool
    private var formatters: [(source: RecordSource, formatter: EventFormatter)] = []
    /// The source of the previous record and its formatter, not retained (both are held in
    /// `formatters`; sourceEnded clears them with the entry): a retain and release of each per
    /// record were a measurable part of a storm's cost.
    private unowned(unsafe) var lastSource: RecordSource?
    private var lastFormatter: Unmanaged<EventFormatter>?
    private var headerSchema: PluginSchema?
    /// Container metadata for records that carry a cgroup id (nil: none written).
    let containers: ContainerDirectory?
    /// Tables show the CONTAINER column from the start (a tracker filtered to one container).
    public var containerColumn = false
    /// Records of retired sources that did not match their schema.
    private var retiredMalformed: UInt64 = 0
    private var retiredReports: UInt64 = 0

    public init(format: OutputFormat, output: OutputBuffer, lineBuffered: Bool = false, containers: ContainerDirectory? = nil) {
        self.format = format
        self.containers = containers
        self.output = output
        self.lineBuffered = lineBuffered
    }

    /// Records that did not match their schema (wrong id or size), over every source.
    public var malformed: UInt64 { formatters.reduce(retiredMalformed) { $0 + $1.formatter.malformed } }
    /// Reports written, over every source.
    public var reports: UInt64 { formatters.reduce(retiredReports) { $0 + $1.formatter.reports } }

    public func sourceStarted(_ source: RecordSource) {
        guard !formatters.contains(where: { $0.source === source }) else { return }
        let f = EventFormatter(schema: source.schema, parameters: source.parameters, format: format, output: output,
                               containers: containers, containerColumn: containerColumn)
        formatters.append((source, f))
        if headerSchema != source.schema {
            headerSchema = source.schema
            f.writeHeader()
        }
    }

    public func sourceEnded(_ source: RecordSource) {
        guard let i = formatters.firstIndex(where: { $0.source === source }) else { return }
        retiredMalformed += formatters[i].formatter.malformed
        retiredReports += formatters[i].formatter.reports
        formatters.remove(at: i)
        if lastSource === source {
            lastSource = nil
            lastFormatter = nil
        }
    }

    @inline(__always) private func formatter(for source: RecordSource) -> EventFormatter? {
        if lastSource === source, let f = lastFormatter { return f.takeUnretainedValue() }
        guard let found = formatters.first(where: { $0.source === source }) else { return nil }
        lastSource = found.source
        lastFormatter = Unmanaged.passUnretained(found.formatter)
        return found.formatter
    }

    public func consume(_ record: RecordView) -> Bool {
        let ok: Bool
        if lastSource === record.source, let f = lastFormatter {
            // The common case, a record of the same source as the last: no retain, no release.
            ok = f._withUnsafeGuaranteedRef { $0.consume(recordID: record.recordID, bytes: record.bytes) }
        } else {
            guard let f = formatter(for: record.source) else { return false }
            ok = f.consume(recordID: record.recordID, bytes: record.bytes)
        }
        if lineBuffered { output.flush() }
        return ok
    }

    public func endReport(source: RecordSource, timestampNs: UInt64) {
        formatter(for: source)?.endReport(timestampNs: timestampNs)
    }

    public func flush() -> UInt64 {
        output.flush()
        return 0
    }

    public func finish() { output.flush() }
}
