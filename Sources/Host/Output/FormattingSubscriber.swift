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
    private var last: (source: RecordSource, formatter: EventFormatter)?
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
        if last?.source === source { last = nil }
    }

    @inline(__always) private func formatter(for source: RecordSource) -> EventFormatter? {
        if let last, last.source === source { return last.formatter }
        guard let found = formatters.first(where: { $0.source === source }) else { return nil }
        last = found
        return found.formatter
    }

    public func consume(_ record: RecordView) -> Bool {
        guard let f = formatter(for: record.source) else { return false }
        let ok = f.consume(recordID: record.recordID, bytes: record.bytes)
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
