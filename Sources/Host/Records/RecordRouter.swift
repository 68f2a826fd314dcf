#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Hands each record of one tracker to every subscriber, counting per subscriber what it
/// dropped. Subscribers are peers: an encoder, an API stream and (later) metrics and rules
/// each see the same RecordView; none re-parses another's output.
///
/// Threading: deliveries come from whichever thread serves an instance of the tracker (the
/// event loop; the thread that stops or retires an instance), so every delivery runs under
/// `withDelivery`, which holds the router's lock for a whole batch (one poll), not per record.
/// Adding and removing subscribers takes the same lock.
public final class RecordRouter {
    final class Entry {
        let subscriber: RecordSubscriber
        /// The same subscriber, not retained per record (`subscriber` owns it).
        unowned(unsafe) let recordSubscriber: RecordSubscriber
        let name: String
        var dropped: UInt64 = 0
        init(_ subscriber: RecordSubscriber, name: String) {
            self.subscriber = subscriber
            recordSubscriber = subscriber
            self.name = name
        }
    }

    private var lock = pthread_mutex_t()
    private var entries: [Entry] = []
    /// Drops of subscribers already removed, so a tracker's totals never go down.
    private var removedDrops: [String: UInt64] = [:]
    private var finished = false
    /// Sources delivering now, announced to subscribers that join later.
    private var current: [RecordSource] = []
    /// Records must pass it to reach any subscriber (nil: all pass).
    private var filter: RecordFilter?
    /// The same filter, not retained per record (`filter` owns it).
    private unowned(unsafe) var recordFilter: RecordFilter?
    private var filteredOut: UInt64 = 0

    public init() { pthread_mutex_init(&lock, nil) }

    deinit { pthread_mutex_destroy(&lock) }

    /// Runs body with the delivery lock held: deliver, endReport and flush are called inside it.
    @inline(__always) public func withDelivery<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    /// Adds a subscriber; it sees records from the next delivery on. A subscriber added after
    /// the tracker finished is finished at once.
    public func add(_ subscriber: RecordSubscriber, name: String) {
        let done = withDelivery { () -> Bool in
            if !finished {
                entries.append(Entry(subscriber, name: name))
                for s in current { subscriber.sourceStarted(s) }
            }
            return finished
        }
        if done { subscriber.finish() }
    }

    /// Removes a subscriber (a client went away); its drops stay counted under its name.
    public func remove(_ subscriber: RecordSubscriber) {
        withDelivery {
            if let i = entries.firstIndex(where: { $0.subscriber === subscriber }) {
                removedDrops[entries[i].name, default: 0] += entries[i].dropped
                entries.remove(at: i)
            }
        }
    }

    /// Dropped records per subscriber name, removed subscribers included.
    public func dropped() -> [String: UInt64] {
        withDelivery {
            var all = removedDrops
            for e in entries { all[e.name, default: 0] += e.dropped }
            return all
        }
    }

    public var subscriberCount: Int { withDelivery { entries.count } }

    /// Sets the filter every record must pass; the sources delivering now are announced to it.
    public func setFilter(_ newFilter: RecordFilter?) {
        withDelivery {
            filter = newFilter
            recordFilter = newFilter
            if let newFilter { for s in current { newFilter.sourceStarted(s) } }
        }
    }

    /// Records the filter kept from every subscriber.
    public var filtered: UInt64 { withDelivery { filteredOut } }

    // Delivery: call inside withDelivery.

    @inline(__always) public func deliver(_ record: RecordView) {
        if let f = recordFilter, !f.matches(record) {
            filteredOut &+= 1
            return
        }
        // Entries are owned by `entries`, which only add and remove change, under the delivery
        // lock this runs in: iterated unretained, so a record costs no reference counting here.
        entries.withUnsafeBufferPointer { all in
            for i in all.indices {
                let e = Unmanaged.passUnretained(all[i])
                e._withUnsafeGuaranteedRef { entry in
                    if !entry.recordSubscriber.consume(record) { entry.dropped &+= 1 }
                }
            }
        }
    }

    public func sourceStarted(_ source: RecordSource) {
        current.append(source)
        filter?.sourceStarted(source)
        for e in entries { e.subscriber.sourceStarted(source) }
    }

    public func sourceEnded(_ source: RecordSource) {
        current.removeAll { $0 === source }
        for e in entries { e.subscriber.sourceEnded(source) }
        filter?.sourceEnded(source)
    }

    public func endReport(source: RecordSource, timestampNs: UInt64) {
        for e in entries { e.subscriber.endReport(source: source, timestampNs: timestampNs) }
    }

    public func flush() {
        for e in entries { e.dropped &+= e.subscriber.flush() }
    }

    /// The tracker stopped: flush and finish every subscriber; later ones are finished on add.
    public func finish() {
        let all = withDelivery { () -> [Entry] in
            finished = true
            for e in entries { e.dropped &+= e.subscriber.flush() }
            return entries
        }
        for e in all { e.subscriber.finish() }
    }
}
