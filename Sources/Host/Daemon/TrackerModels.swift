import EunomiaHost
import Foundation
import Logging

// What the API says about trackers: the bodies of its answers, and a client's event stream.

/// Who started a tracker: the config (reload owns it) or the API (reload never touches it).
public enum TrackerOrigin: String, Codable, Sendable {
    case config
    case api
}

/// What GET /api/v1/trackers/{id} returns.
public struct TrackerInfo: Codable, @unchecked Sendable, Equatable {
    public var id: String
    public var plugin: String
    public var version: String
    public var build: String
    /// The plugin reference it was started with (NAME, NAME@VERSION, NAME@^1.2 ...).
    public var requirement: String
    public var params: [String: ParamValue]
    /// running, or failed (last_error says why).
    public var state: String
    public var events: UInt64
    public var lost: UInt64
    public var malformed: UInt64
    /// Records dropped per subscriber (outputs and API streams), by name.
    public var dropped: [String: UInt64]
    /// API event streams connected now.
    public var streams: Int
    public var startedAt: String
    public var lastError: String?
    public var swaps: Int
    public var origin: TrackerOrigin
    public var outputs: [String]

    enum CodingKeys: String, CodingKey {
        case id, plugin, version, build, requirement, params, state, events, lost, malformed, dropped, streams
        case startedAt = "started_at", lastError = "last_error", swaps, origin, outputs
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(plugin, forKey: .plugin)
        try c.encode(version, forKey: .version)
        try c.encode(build, forKey: .build)
        try c.encode(requirement, forKey: .requirement)
        try c.encode(params, forKey: .params)
        try c.encode(state, forKey: .state)
        try c.encode(events, forKey: .events)
        try c.encode(lost, forKey: .lost)
        try c.encode(malformed, forKey: .malformed)
        try c.encode(dropped, forKey: .dropped)
        try c.encode(streams, forKey: .streams)
        try c.encode(startedAt, forKey: .startedAt)
        // Always present (null when there is none), as the OpenAPI document says.
        try c.encode(lastError, forKey: .lastError)
        try c.encode(swaps, forKey: .swaps)
        try c.encode(origin, forKey: .origin)
        try c.encode(outputs, forKey: .outputs)
    }
}

/// What POST /api/v1/trackers/{id}/swap returns: the runtime's SwapReport, in the API's snake_case.
public struct SwapResult: Codable, Sendable {
    public struct Build: Codable, Sendable, Equatable {
        public var plugin: String
        public var version: String
        public var build: String
    }

    public var tracker: String
    public var from: Build
    public var to: Build
    public var mode: String
    public var cutoverNs: UInt64
    public var handedOver: UInt64
    public var duplicatesSuppressed: UInt64
    public var lostInSwap: UInt64
    public var overlapMs: Double?
    public var durationMs: Double
    public var cutoverMs: Double
    public var carriedMaps: [String]
    public var notCarried: [String]

    enum CodingKeys: String, CodingKey {
        case tracker, from, to, mode
        case cutoverNs = "cutover_ns", handedOver = "handed_over", duplicatesSuppressed = "duplicates_suppressed"
        case lostInSwap = "lost_in_swap", overlapMs = "overlap_ms", durationMs = "duration_ms", cutoverMs = "cutover_ms"
        case carriedMaps = "carried_maps", notCarried = "not_carried"
    }

    init(_ r: SwapReport) {
        tracker = r.tracker
        from = Build(plugin: r.from.plugin, version: r.from.version, build: r.from.build)
        to = Build(plugin: r.to.plugin, version: r.to.version, build: r.to.build)
        mode = r.mode
        cutoverNs = r.cutoverNs
        handedOver = r.handedOver
        duplicatesSuppressed = r.duplicatesSuppressed
        lostInSwap = r.lostInSwap
        overlapMs = r.overlapMs
        durationMs = r.durationMs
        cutoverMs = r.cutoverMs
        carriedMaps = r.carriedMaps
        notCarried = r.notCarried
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tracker, forKey: .tracker)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(mode, forKey: .mode)
        try c.encode(cutoverNs, forKey: .cutoverNs)
        try c.encode(handedOver, forKey: .handedOver)
        try c.encode(duplicatesSuppressed, forKey: .duplicatesSuppressed)
        try c.encode(lostInSwap, forKey: .lostInSwap)
        try c.encode(overlapMs, forKey: .overlapMs)
        try c.encode(durationMs, forKey: .durationMs)
        try c.encode(cutoverMs, forKey: .cutoverMs)
        try c.encode(carriedMaps, forKey: .carriedMaps)
        try c.encode(notCarried, forKey: .notCarried)
    }
}

/// What a reload did, by tracker id.
public struct ReloadSummary: Codable, Sendable, Equatable {
    public struct Failure: Codable, Sendable, Equatable {
        public var id: String
        public var error: String
    }

    public var started: [String] = []
    public var stopped: [String] = []
    public var swapped: [String] = []
    /// Params or outputs changed: stopped and started again.
    public var restarted: [String] = []
    public var unchanged: [String] = []
    public var failed: [Failure] = []

    public var line: String {
        "reload: \(started.count) started, \(stopped.count) stopped, \(swapped.count) swapped, \(restarted.count) restarted, \(unchanged.count) unchanged, \(failed.count) failed"
            + failed.map { "; \($0.id): \($0.error)" }.joined()
    }
}

/// A live record stream for one API client: a bounded StreamSubscriber on the tracker's router.
public final class EventStream: @unchecked Sendable {
    private let subscriber: StreamSubscriber
    private let detach: @Sendable () -> Void
    private let closed = Locked(false)

    init(subscriber: StreamSubscriber, detach: @escaping @Sendable () -> Void) {
        self.subscriber = subscriber
        self.detach = detach
    }

    /// The next chunk of whole JSON lines; nil once the tracker stopped or close() was called.
    public func next() async -> [UInt8]? { await subscriber.next() }

    /// Ends the stream and removes the subscriber (idempotent).
    public func close() {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        guard first else { return }
        subscriber.close()
        detach()
    }
}
