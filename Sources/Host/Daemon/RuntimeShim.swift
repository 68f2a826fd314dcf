// TEMPORARY: stand-ins for the runtime API announced for EunomiaRuntime/EunomiaRecords/EunomiaOutput
// (EventLoop, RunningTracker, RecordRouter, StreamSubscriber, SwapReport), so the daemon builds
// before the runtime lands. Declarations here shadow the imported ones; this file is deleted when
// main's "runtime:" commit is merged.
import EunomiaHost
import Foundation
import Logging

final class EventLoop {
    init(logger: Logger) throws {}
    func startThread() {}
    func shutdown() {}
}

enum TrackerState: Equatable {
    case running
    case failed(String)
}

struct BuildRef: Codable, Sendable, Equatable {
    var plugin: String
    var version: String
    var build: String
}

struct SwapReport: Codable, Sendable {
    var tracker: String
    var from: BuildRef
    var to: BuildRef
    var mode: String
    var cutoverNs: UInt64
    var handedOver: UInt64
    var duplicatesSuppressed: UInt64
    var lostInSwap: UInt64
    var overlapMs: Double?
    var durationMs: Double
    var carriedMaps: [String]
    var notCarried: [String]
}

struct TrackerCounters: Codable, Sendable {
    var events: UInt64
    var lost: UInt64
    var malformed: UInt64
}

protocol RecordSubscriber: AnyObject {}

final class RecordRouter {
    func add(_ subscriber: RecordSubscriber, name: String) {}
    func remove(_ subscriber: RecordSubscriber) {}
    func dropped() -> [String: UInt64] { [:] }
}

final class StreamSubscriber: RecordSubscriber {
    init(format: OutputFormat, parameters: ResolvedParameters, limitBytes: Int) {}
    func next() async -> [UInt8]? { nil }
    func close() {}
    var dropped: UInt64 { 0 }
}

final class RunningTracker {
    let id: String
    let router = RecordRouter()
    let startedAt = Date()
    var plugin: InstalledPlugin { fatalError("unreachable: the shim never constructs a tracker") }
    var parameters: ResolvedParameters { fatalError("unreachable") }
    var state: TrackerState { .running }
    var swaps: Int { 0 }

    init(id: String, plugin: InstalledPlugin, parameters: ResolvedParameters, loop: EventLoop, logger: Logger) throws {
        self.id = id
        throw EunomiaError("trackers cannot run yet: this build predates the runtime", kind: .failed)
    }

    func counters() -> TrackerCounters { TrackerCounters(events: 0, lost: 0, malformed: 0) }
    func swap(to plugin: InstalledPlugin, parameters: ResolvedParameters) throws -> SwapReport {
        throw EunomiaError("unreachable", kind: .failed)
    }
    func stop() throws -> TrackerCounters { counters() }
}
