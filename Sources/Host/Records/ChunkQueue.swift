#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A bounded queue of byte chunks from one producer thread (the event loop) to one async
/// consumer (an API stream). A full queue refuses the chunk, and the producer counts what it
/// held as dropped: a slow client costs itself records, never the loop or another tracker.
public final class ChunkQueue: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var bytes = 0
    private var closed = false
    private var waiter: CheckedContinuation<[UInt8]?, Never>?
    public let limitBytes: Int

    public init(limitBytes: Int) {
        self.limitBytes = max(limitBytes, 1)
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    /// True when another chunk of n bytes would not fit.
    public func isFull(adding n: Int = 1) -> Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return bytes > 0 && bytes + n > limitBytes
    }

    /// Queues a chunk; false when the queue is full or closed. An empty queue takes any chunk.
    public func push(_ chunk: [UInt8]) -> Bool {
        pthread_mutex_lock(&lock)
        if closed || (bytes > 0 && bytes + chunk.count > limitBytes) {
            pthread_mutex_unlock(&lock)
            return false
        }
        if let w = waiter {
            waiter = nil
            pthread_mutex_unlock(&lock)
            w.resume(returning: chunk)
            return true
        }
        chunks.append(chunk)
        bytes += chunk.count
        pthread_mutex_unlock(&lock)
        return true
    }

    /// The next chunk, waiting for one; nil once the queue is closed and empty.
    public func next() async -> [UInt8]? {
        await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
            pthread_mutex_lock(&lock)
            if head < chunks.count {
                let chunk = chunks[head]
                head += 1
                bytes -= chunk.count
                if head == chunks.count || head > 1024 {
                    chunks.removeFirst(head)
                    head = 0
                }
                pthread_mutex_unlock(&lock)
                c.resume(returning: chunk)
            } else if closed {
                pthread_mutex_unlock(&lock)
                c.resume(returning: nil)
            } else {
                waiter = c
                pthread_mutex_unlock(&lock)
            }
        }
    }

    /// No more chunks: the consumer gets what is queued, then nil.
    public func close() {
        pthread_mutex_lock(&lock)
        closed = true
        let w = waiter
        waiter = nil
        pthread_mutex_unlock(&lock)
        w?.resume(returning: nil)
    }
}
