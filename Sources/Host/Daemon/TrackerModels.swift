import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
    /// What its BPF programs cost the kernel (runs, total ns) while BPF statistics were on;
    /// nil when its plugin cannot name its programs (ABI < 1.3) or it is not running.
    public var bpfRunCount: UInt64?
    public var bpfRunTimeNs: UInt64?
    /// The tracker's filter, and the records it kept from every output and stream.
    public var filter: String? = nil
    public var filtered: UInt64? = nil

    enum CodingKeys: String, CodingKey {
        case id, plugin, version, build, requirement, params, state, events, lost, malformed, dropped, streams
        case startedAt = "started_at", lastError = "last_error", swaps, origin, outputs
        case bpfRunCount = "bpf_run_count", bpfRunTimeNs = "bpf_run_time_ns", filter, filtered
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
        try c.encode(bpfRunCount, forKey: .bpfRunCount)
        try c.encode(bpfRunTimeNs, forKey: .bpfRunTimeNs)
        try c.encodeIfPresent(filter, forKey: .filter)
        try c.encodeIfPresent(filtered, forKey: .filtered)
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
