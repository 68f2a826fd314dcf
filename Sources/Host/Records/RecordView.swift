import EunomiaSchema

/// Where records come from: one instance of one build of a plugin. During a hot swap two
/// sources feed one tracker, each with its own schema; subscribers decode a record with the
/// schema of its source. Compared by identity.
public final class RecordSource {
    /// The plugin's schema resolved for the parameters (PluginSchema.resolved): only the fields
    /// these parameters make present, with the units and columns they choose.
    public let schema: PluginSchema
    public let plugin: String
    public let version: String
    public let build: String
    /// Swap generation: 0 for a tracker's first instance, one more for each swap.
    public let generation: UInt32
    /// The tracker's parameters as this build's schema resolved them (what decides columns).
    public let parameters: ResolvedParameters

    public init(schema: PluginSchema, parameters: ResolvedParameters, plugin: String, version: String, build: String,
                generation: UInt32) {
        self.schema = schema.resolved(for: parameters)
        self.parameters = parameters
        self.plugin = plugin
        self.version = version
        self.build = build
        self.generation = generation
    }
}

/// One record as its plugin emitted it, borrowed for one delivery: no copy, no decoding until a
/// subscriber reads a field. Every subscriber of a tracker sees the same view.
public struct RecordView {
    /// Not retained: a view lives only for one delivery (its bytes are the ring buffer's, gone
    /// after it), and its source outlives every delivery of its records. A retain and release
    /// per record per subscriber cost the storm more than the view itself.
    public unowned(unsafe) let source: RecordSource
    public let recordID: UInt32
    public let bytes: UnsafeRawBufferPointer

    public init(source: RecordSource, recordID: UInt32, bytes: UnsafeRawBufferPointer) {
        self.source = source
        self.recordID = recordID
        self.bytes = bytes
    }

    /// The u64 at offset, if the record holds it.
    @inline(__always) public func u64(at offset: Int) -> UInt64? {
        guard offset >= 0, offset <= bytes.count - 8 else { return nil }
        return bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    }
}

/// A consumer of one tracker's records across swaps: an encoder writing a file or stdout, an API
/// stream, later metrics and rules. Called by one thread at a time (the router serialises).
public protocol RecordSubscriber: AnyObject {
    /// An instance began delivering (a start, or the new side of a swap): its records follow.
    func sourceStarted(_ source: RecordSource)
    /// An instance delivered its last record (stopped, or retired by a swap).
    func sourceEnded(_ source: RecordSource)
    /// Returns false when the subscriber dropped the record (its queue was full); the router counts it.
    func consume(_ record: RecordView) -> Bool
    /// The report records of `source` since its last report form one report, taken at timestampNs.
    func endReport(source: RecordSource, timestampNs: UInt64)
    /// The end of a batch: hand on what was buffered. Returns how many records that were
    /// accepted by consume were lost on the way after all (a full queue); the router counts them.
    func flush() -> UInt64
    /// The tracker stopped: no record follows.
    func finish()
}

extension RecordSubscriber {
    public func sourceStarted(_ source: RecordSource) {}
    public func sourceEnded(_ source: RecordSource) {}
    public func endReport(source: RecordSource, timestampNs: UInt64) {}
    public func flush() -> UInt64 { 0 }
    public func finish() {}
}
