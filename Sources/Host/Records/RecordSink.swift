import EunomiaSchema

/// Receives the records of one tracker, on whichever thread is delivering them (the event
/// loop's, or the one stopping an instance); one delivery at a time. Encoders, API streams and
/// later metrics and rules are all sinks, peers under a RecordRouter.
public protocol RecordSink: AnyObject {
    /// One record, borrowed for the call. Returns false when the sink dropped it (the caller
    /// counts it against this sink).
    func consume(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool
    /// The records of kind row or histogram since the last call form one report, taken at
    /// timestampNs (CLOCK_MONOTONIC).
    func endReport(timestampNs: UInt64)
    /// The end of a batch (one poll of the plugin): a moment to hand buffered output on.
    func flush()
}

extension RecordSink {
    public func endReport(timestampNs: UInt64) {}
    public func flush() {}
}

/// Decides which records go on, before any subscriber sees them: a tracker's filter
/// (`--filter`, a start's `filter`) or one API stream's. Called under the router's delivery lock,
/// one record at a time; compiles what it needs per source when the source starts.
public protocol RecordFilter: AnyObject {
    func sourceStarted(_ source: RecordSource)
    func sourceEnded(_ source: RecordSource)
    func matches(_ record: RecordView) -> Bool
}
