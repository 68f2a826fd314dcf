import EunomiaHost
import EunomiaMetrics
import Foundation
import Logging

/// Where the server's alerts go: the log (one line, at the rule's priority), the Prometheus
/// counter, and every client of /api/v1/alerts. Called on the event loop's thread, under a
/// tracker's delivery lock: it only formats, counts and queues.
final class AlertHub: AlertSink, @unchecked Sendable {
    private let logger: Logger
    private let metrics: MetricsExporter
    private let limitBytes: Int
    private let lock = NSLock()
    private var streams: [ObjectIdentifier: ChunkQueue] = [:]
    private var total: UInt64 = 0

    init(logger: Logger, metrics: MetricsExporter, limitBytes: Int) {
        self.logger = logger
        self.metrics = metrics
        self.limitBytes = limitBytes
    }

    var count: UInt64 { lock.withLock { total } }

    func alert(_ alert: Alert) {
        let level: Logger.Level
        switch alert.priority {
        case .info: level = .info
        case .notice: level = .notice
        case .warning: level = .warning
        case .error: level = .error
        case .critical: level = .critical
        }
        logger.log(level: level, "alert: \(alert.json)")
        metrics.alerted(rule: alert.rule, priority: alert.priority.rawValue)
        let line = Array((alert.json + "\n").utf8)
        let queues = lock.withLock { () -> [ChunkQueue] in
            total += 1
            return Array(streams.values)
        }
        // A client that does not keep up loses alerts, never the loop its time.
        for q in queues { _ = q.push(line) }
    }

    /// A live stream of alerts as JSON lines, from now on.
    func subscribe() -> AlertStream {
        let queue = ChunkQueue(limitBytes: limitBytes)
        lock.withLock { streams[ObjectIdentifier(queue)] = queue }
        return AlertStream(queue: queue) { [weak self] in
            self?.lock.withLock { _ = self?.streams.removeValue(forKey: ObjectIdentifier(queue)) }
        }
    }

    /// Ends every stream (shutdown).
    func closeAll() {
        let all = lock.withLock { () -> [ChunkQueue] in
            defer { streams.removeAll() }
            return Array(streams.values)
        }
        for q in all { q.close() }
    }
}

public final class AlertStream: @unchecked Sendable {
    private let queue: ChunkQueue
    private let detach: () -> Void
    private let once = NSLock()
    private var closed = false

    init(queue: ChunkQueue, detach: @escaping () -> Void) {
        self.queue = queue
        self.detach = detach
    }

    public func next() async -> [UInt8]? { await queue.next() }

    public func close() {
        let first = once.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        queue.close()
        detach()
    }
}
