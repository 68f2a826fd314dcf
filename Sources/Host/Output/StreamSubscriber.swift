import EunomiaRecords
import EunomiaSchema

/// One client's stream of a tracker's records (an API client reading Server-Sent Events or
/// NDJSON), encoded on the loop thread into a bounded queue the client drains at its own pace.
/// What does not fit is dropped and counted, whole records at a time: a slow client never
/// stalls the loop or another subscriber.
public final class StreamSubscriber: RecordSubscriber, @unchecked Sendable {
    private let queue: ChunkQueue
    private let encoder: FormattingSubscriber
    /// Records encoded since the buffer last went to the queue.
    private var unsent: UInt64 = 0
    private var droppedSinceFlush: UInt64 = 0
    private var droppedTotal: UInt64 = 0

    public init(format: OutputFormat, limitBytes: Int, containers: ContainerDirectory? = nil) {
        let queue = ChunkQueue(limitBytes: limitBytes)
        self.queue = queue
        // The writer runs when the buffer flushes: at batch ends and whenever it is half full.
        weak var owner: StreamSubscriber?
        encoder = FormattingSubscriber(format: format, output: OutputBuffer(capacity: 1 << 16) { bytes in
            guard let me = owner else { return true }
            if !queue.push(Array(bytes)) { me.droppedSinceFlush += me.unsent }
            me.unsent = 0
            return true
        }, containers: containers)
        owner = self
    }

    /// Records this stream lost because its client did not keep up.
    public var dropped: UInt64 { droppedTotal + droppedSinceFlush }

    /// The next chunk of whole lines; nil once the tracker stopped or close() was called.
    public func next() async -> [UInt8]? { await queue.next() }

    /// The client went away: the queue ends (remove the subscriber from its router too).
    public func close() { queue.close() }

    public func sourceStarted(_ source: RecordSource) { encoder.sourceStarted(source) }
    public func sourceEnded(_ source: RecordSource) { encoder.sourceEnded(source) }

    public func consume(_ record: RecordView) -> Bool {
        // A full queue: do not even encode it.
        if queue.isFull() { return false }
        guard encoder.consume(record) else { return false }
        unsent += 1
        return true
    }

    public func endReport(source: RecordSource, timestampNs: UInt64) {
        encoder.endReport(source: source, timestampNs: timestampNs)
    }

    public func flush() -> UInt64 {
        _ = encoder.flush()
        let n = droppedSinceFlush
        droppedTotal += n
        droppedSinceFlush = 0
        return n
    }

    public func finish() {
        _ = encoder.flush()
        queue.close()
    }
}
