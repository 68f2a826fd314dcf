import CHostSupport
import EunomiaOutput
import EunomiaPackages
import EunomiaRecords
import EunomiaRuntime
import EunomiaSchema
import EunomiaContainers
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging

public struct RunSummary: Equatable {
    public var events: UInt64
    public var lost: UInt64
    /// Records the host could not decode (wrong id or size for the schema).
    public var malformed: UInt64
    /// Reports printed; nil for trackers that only stream events.
    public var reports: UInt64?
    public var seconds: Double
    /// What the tracker's BPF programs cost the kernel during the run (BPF statistics on for it);
    /// nil when that is not known, and `kernelUnknown` says why.
    public var kernel: KernelCost? = nil
    public var kernelUnknown: String? = nil
    /// Records the filter kept out (nil: no filter), and the filter's terms the kernel applied.
    public var filtered: UInt64? = nil
    public var pushedDown: [ConditionPushdown.Assignment] = []
    /// Alerts the rules raised (nil: no rules).
    public var alerts: UInt64? = nil
}

/// Rules over a run's records: the rules, where alerts go, and whether events print too.
public struct RunRules {
    public var book: RuleBook
    public var sink: AlertSink
    public var showEvents: Bool

    public init(book: RuleBook, sink: AlertSink, showEvents: Bool) {
        self.book = book
        self.sink = sink
        self.showEvents = showEvents
    }
}

/// Runs one installed tracker until stopped, writing its events to an OutputBuffer.
public enum Runner {
    /// Longest --duration: ten years, far inside what nanosecond deadlines can hold.
    public static let maxDuration: Double = 10 * 365 * 86400

    /// Checks a duration in seconds: finite, positive, at most maxDuration.
    public static func checkDuration(_ seconds: Double) throws {
        guard seconds.isFinite, seconds > 0, seconds <= maxDuration else {
            throw EunomiaError("duration \(seconds) is not a number of seconds above 0 and at most \(Int(maxDuration)) (ten years)")
        }
    }

    /// Loads the plugin, starts it and serves it from an event loop on the calling thread until
    /// `shouldStop` returns true (asked every `checkIntervalMs`), `loop.stop()` is called (from
    /// `started`, which receives the loop, e.g. for signal handlers), the duration ends, the
    /// tracker fails or the output is closed; then detaches and unloads.
    /// `outputFD`, when given, is watched for its reader going away (a closed pipe): the run
    /// ends within one check interval instead of at the next event's failed write.
    public static func run(plugin: InstalledPlugin, parameters: ResolvedParameters, format: OutputFormat,
                           filter: String? = nil, rules: RunRules? = nil,
                           duration: Double?, output: OutputBuffer, outputFD: Int32? = nil, lineBuffered: Bool = false,
                           logger: Logger, started: (EventLoop) -> Void = { _ in },
                           shouldStop: @escaping () -> Bool = { false }) throws -> RunSummary {
        if let duration { try checkDuration(duration) }
        if format == .folded && !plugin.schema.records.contains(where: { $0.kind == .row && $0.hasStacks }) {
            throw EunomiaError("-o folded needs a tracker that reports stacks (profile, memleak, ...); \(plugin.name) reports none")
        }
        let loop = try EventLoop(logger: logger)
        // BPF run-time statistics for the run's kernel cost: back to what the sysctl says at exit.
        let stats = BPFStatsSwitch()
        // Every record that carries a cgroup id names its container: a JSON object, CSV
        // columns, a table's CONTAINER column.
        let carriesTask = plugin.schema.records.contains { $0.cgroupIDOffset != nil }
        let containers = carriesTask && format != .folded ? ContainerCache() : nil
        let encoder = FormattingSubscriber(format: format, output: output, lineBuffered: lineBuffered, containers: containers)
        let recordFilter = try filter.map { try ConditionFilter($0, schema: plugin.schema, containers: containers) }
        var parameters = parameters
        var pushed: [ConditionPushdown.Assignment] = []
        if let recordFilter {
            (parameters, pushed) = try pushDown(recordFilter, plugin: plugin, parameters: parameters, logger: logger)
        }
        let tracker = try RunningTracker(id: plugin.name, plugin: plugin, parameters: parameters, loop: loop, logger: logger)
        tracker.router.setFilter(recordFilter)
        if let containers {
            if let found = tracker.container {
                containers.remember(found)
                encoder.containerColumn = true
            }
            containers.prime()
        }
        if rules?.showEvents ?? true { tracker.router.add(encoder, name: "output") }
        let engine = rules.map { RuleEngine(tracker: plugin.name, book: $0.book, sink: $0.sink, containers: containers) }
        if let engine { tracker.router.add(engine, name: "rules") }
        started(loop)

        let began = eh_monotonic_ns()
        // checkDuration bounds the product far below Int64.max.
        let deadline = duration.map { began + Int64($0 * 1e9) }
        let watch = outputFD.map(ConsumerWatch.init)
        while !shouldStop() && !output.failed && watch?.consumerGone != true {
            if case .failed = tracker.state { break }
            let slice = eh_monotonic_ns() + checkIntervalMs * 1_000_000
            let until = deadline.map { min($0, slice) } ?? slice
            let timedOut = loop.run(until: until)
            if !timedOut { break } // stop() was called
            if let deadline, eh_monotonic_ns() >= deadline { break }
        }
        var failure: String?
        if case .failed(let f) = tracker.state { failure = f }
        let cost = tracker.kernelCost()
        let counters = try tracker.stop()
        let filtered = recordFilter.map { _ in tracker.router.filtered }
        output.flush()
        let statsOn = stats.isOn
        stats.close()
        if let failure { throw EunomiaError(failure, kind: .failed) }
        return RunSummary(events: counters.events, lost: counters.lost, malformed: counters.malformed + encoder.malformed,
                          reports: plugin.schema.records.contains { $0.isReport } ? encoder.reports : nil,
                          seconds: Double(eh_monotonic_ns() - began) / 1e9,
                          kernel: statsOn ? cost : nil,
                          kernelUnknown: !statsOn ? "BPF statistics could not be turned on: \(stats.failure ?? "?")"
                              : cost == nil ? "the plugin does not name its BPF programs (ABI < 1.3)" : nil,
                          filtered: filtered, pushedDown: pushed, alerts: engine?.alerts)
    }

    /// The filter's terms the kernel can apply, as parameters (ConditionPushdown). A container
    /// term is pushed down only when the container runs now: a filter waits for one that is
    /// yet to start, where `--container` would refuse it.
    public static func pushDown(_ filter: ConditionFilter, plugin: InstalledPlugin, parameters: ResolvedParameters,
                         logger: Logger) throws -> (ResolvedParameters, [ConditionPushdown.Assignment]) {
        var pushed = ConditionPushdown.assignments(filter.condition, schema: plugin.schema, parameters: parameters)
        pushed.removeAll { a in
            guard a.parameter == ContainerFilter.parameter else { return false }
            guard let paths = CgroupPaths(), (try? ContainerLocator(paths: paths).locate(a.value)) != nil else { return true }
            return false
        }
        guard !pushed.isEmpty else { return (parameters, []) }
        for a in pushed { logger.debug("filter: \(a.field) == \(a.value) applied in the kernel (\(a.assignment))") }
        return (try ResolvedParameters(schema: plugin.schema, assignments: parameters.assignments + pushed.map(\.assignment)), pushed)
    }

    /// How often a run checks shouldStop, the output's reader and the tracker's health. Records
    /// never wait for it: the loop delivers them as they come.
    public static let checkIntervalMs: Int64 = 100
}

/// Notices that the reader of an output descriptor went away. A pipe whose read end closed
/// reports POLLERR on the write end, a hung-up terminal POLLHUP; files and /dev/null never do.
struct ConsumerWatch {
    let fd: Int32

    var consumerGone: Bool {
        var p = pollfd(fd: fd, events: 0, revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        return p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
    }
}
