import CHostSupport
import EunomiaContainers
import EunomiaPackages
import EunomiaRecords
import EunomiaSchema
import Foundation
import Logging

/// One tracker across its whole life: started from a build, served by the event loop, swapped
/// to other versions while it keeps running, stopped. Its subscribers hang off `router` and
/// never notice a swap, except that a table reprints its header when the schema changed.
/// Control calls (swap, stop) are serialised; counters and state may be read from any thread.
public final class RunningTracker: @unchecked Sendable {
    public let id: String
    public let router = RecordRouter()
    public let startedAt = Date()
    private let loop: EventLoop
    private let logger: Logger
    private let control = NSLock()
    private let stateLock = NSLock()
    private var active: ActiveInstance
    private var retired = TrackerCounters(events: 0, lost: 0, malformed: 0)
    /// What the versions swapped away cost the kernel; nil once one could not say.
    private var retiredCost: KernelCost? = KernelCost()
    private var stopped = false
    private var swapCount = 0

    /// How long a retired version keeps being served after the cutover, so records written on
    /// other CPUs just before it reach the router before its programs are detached.
    public static let drainGraceNs: Int64 = 10_000_000
    /// How long a swap waits for calls left in entry maps that could not be handed over.
    public static let inFlightWaitNs: Int64 = 1_000_000_000

    /// Loads, starts and attaches the build, and has the loop serve it.
    public init(id: String, plugin: InstalledPlugin, parameters: ResolvedParameters, loop: EventLoop, logger: Logger) throws {
        self.id = id
        self.loop = loop
        self.logger = logger
        let first = try ActiveInstance(plugin: plugin, parameters: parameters, generation: 0, router: router, logger: logger)
        try first.start()
        active = first
        router.withDelivery { router.sourceStarted(first.source) }
        loop.add(first)
        logger.info("\(id): \(plugin.reference) attached (build \(plugin.buildID))")
    }

    deinit {
        if !stopped { _ = try? stop() }
    }

    public var plugin: InstalledPlugin { stateLock.withLock { active.plugin } }
    public var parameters: ResolvedParameters { stateLock.withLock { active.parameters } }
    /// The container its BPF side admits alone (the `container` parameter), nil for all.
    public var container: ContainerLocator.Found? { stateLock.withLock { active.container } }
    public var swaps: Int { stateLock.withLock { swapCount } }

    public var state: TrackerState {
        stateLock.withLock {
            if stopped { return .stopped }
            if let f = router.withDelivery({ active.failure }) { return .failed(f) }
            return .running
        }
    }

    public func counters() -> TrackerCounters {
        stateLock.withLock {
            let s = active.stats()
            let gate = active.gate
            return router.withDelivery {
                TrackerCounters(events: retired.events + gate.delivered, lost: retired.lost + s.lost,
                                malformed: retired.malformed + gate.malformed, handedOver: retired.handedOver + gate.handedOver,
                                duplicatesSuppressed: retired.duplicatesSuppressed + gate.suppressed)
            }
        }
    }

    /// What the tracker's programs cost the kernel over every version it ran (BPF statistics
    /// must be on: BPFStatsSwitch); nil when a version's plugin cannot name its programs.
    public func kernelCost() -> KernelCost? {
        stateLock.withLock {
            guard let r = retiredCost, let a = active.kernelCost() else { return nil }
            return KernelCost(programs: a.programs, runCount: r.runCount &+ a.runCount, runTimeNs: r.runTimeNs &+ a.runTimeNs)
        }
    }

    /// Detaches the tracker, delivers its final report and finishes every subscriber.
    @discardableResult
    public func stop() throws -> TrackerCounters {
        control.lock()
        defer { control.unlock() }
        guard !stateLock.withLock({ stopped }) else { return counters() }
        let current = active
        loop.remove(current)
        var failure: Error?
        do { try current.stop() } catch { failure = error }
        let totals = counters()
        router.withDelivery { router.sourceEnded(current.source) }
        // Under stateLock: counters() and kernelCost() read the instance until it is gone.
        stateLock.withLock { current.destroy() }
        stateLock.withLock { stopped = true }
        router.finish()
        logger.info("\(id): \(current.plugin.reference) detached")
        if let failure { throw failure }
        return totals
    }

    /// Swaps the running build for `plugin` with no event lost or delivered twice; the tracker's
    /// parameters are resolved again against the new schema. If the new build fails to load or
    /// attach, the old one keeps running untouched and the error says why.
    public func swap(to plugin: InstalledPlugin) throws -> SwapReport {
        control.lock()
        defer { control.unlock() }
        guard !stateLock.withLock({ stopped }) else { throw EunomiaError("tracker \(id) is stopped", kind: .conflict) }
        let began = eh_monotonic_ns()
        let old = active
        let parameters = try ResolvedParameters(schema: plugin.schema, assignments: old.parameters.assignments)
        let generation = old.source.generation &+ 1
        let new: ActiveInstance
        do {
            new = try ActiveInstance(plugin: plugin, parameters: parameters, generation: generation, router: router, logger: logger)
        } catch let e as EunomiaError {
            throw EunomiaError("swap of \(id) to \(plugin.reference) failed: \(e.message); \(old.plugin.reference) keeps running", kind: e.kind)
        }

        // Hand the state maps and the cutover map to the new instance before it loads.
        let wanted = plugin.schema.swap?.carryMaps ?? []
        var offered: [(name: String, fd: Int32)] = wanted.compactMap { name in old.mapFD(name).map { (name, $0) } }
        let cutoverFD = old.mapFD("eunomia_cutover")
        let momentFD = old.mapFD("eunomia_moment")
        let nextSlot = generation & 1
        var taken: Set<String> = []
        if let cutoverFD, new.instanceSupportsHandover {
            // Until the cutover the new instance owns nothing, the old one all it owned.
            _ = eh_map_update_u64(cutoverFD, nextSlot, UInt64.max)
            offered.append(("eunomia_cutover", cutoverFD))
            // Where both run for one hit, the new one takes the old one's decision from here.
            if let momentFD { offered.append(("eunomia_moment", momentFD)) }
        }
        if new.instanceSupportsHandover {
            taken = try failing(old, plugin) { try new.handover(generation: generation, maps: offered) }
        }
        let created = eh_monotonic_ns()
        try failing(old, plugin) { try new.start() }
        let attached = eh_monotonic_ns()

        // Cut over: from T on, events belong to the new instance.
        router.withDelivery { router.sourceStarted(new.source) }
        loop.add(new)
        let t = UInt64(eh_monotonic_ns())
        let kernelCutover = taken.contains("eunomia_cutover")
        let hostCutover = !kernelCutover && old.gate.hasEventTime && new.gate.hasEventTime
        if kernelCutover, let cutoverFD {
            _ = eh_map_update_u64(cutoverFD, nextSlot, t)
        }
        router.withDelivery {
            new.gate.handoverBefore = t
            if hostCutover {
                old.gate.hostGate = true
                old.gate.until = t
                new.gate.hostGate = true
                new.gate.from = t
            }
        }
        let cutoverDone = eh_monotonic_ns()
        logger.debug("\(id): swap to \(plugin.reference): verify, load and create \(Double(created - began) / 1e6) ms, load and attach \(Double(attached - created) / 1e6) ms, cut over \(Double(cutoverDone - attached) / 1e6) ms")
        let lostBefore = old.stats().lost

        // Drain the old instance: served a little longer, then retired (detached, ring buffer
        // handed over). Calls left in maps that could not be handed over get a bounded wait.
        let carried = wanted.filter { taken.contains($0) }
        let notCarried = wanted.filter { !taken.contains($0) }
        usleep(useconds_t(RunningTracker.drainGraceNs / 1000))
        var leftInFlight: UInt64 = 0
        if !notCarried.isEmpty {
            let deadline = eh_monotonic_ns() + RunningTracker.inFlightWaitNs
            repeat {
                leftInFlight = notCarried.compactMap { old.mapFD($0) }.reduce(0) { $0 + UInt64(max(0, eh_map_count_keys($1, 1 << 20))) }
                if leftInFlight == 0 { break }
                usleep(10_000)
            } while eh_monotonic_ns() < deadline
        }
        // Decisions the old version published for hits the new one never saw (before it was
        // attached) must not be taken by the new one once it runs alone: cleared now, while both
        // are still attached and long past T, when every hit is the new one's either way.
        if taken.contains("eunomia_moment"), let momentFD {
            let rc = eh_map_zero_array(momentFD)
            if rc != 0 { logger.warning("\(id): clearing eunomia_moment: \(String(cString: strerror(-rc)))") }
        }
        loop.remove(old)
        do { try old.retire() } catch { logger.warning("\(id): retiring \(old.plugin.reference): \(error)") }
        let oldStats = old.stats()
        router.withDelivery { router.sourceEnded(old.source) }
        let overlapEnd = eh_monotonic_ns()
        stateLock.withLock {
            router.withDelivery {
                retired.events += old.gate.delivered
                retired.malformed += old.gate.malformed
                retired.handedOver += old.gate.handedOver
                retired.duplicatesSuppressed += old.gate.suppressed
            }
            retired.lost += oldStats.lost
            if let r = retiredCost, let o = old.kernelCost() { retiredCost = r + o } else { retiredCost = nil }
            active = new
            swapCount += 1
        }
        old.destroy()
        let ended = eh_monotonic_ns()
        let report = SwapReport(
            tracker: id,
            from: BuildRef(plugin: old.plugin.name, version: old.plugin.version, build: old.plugin.buildID),
            to: BuildRef(plugin: plugin.name, version: plugin.version, build: plugin.buildID),
            mode: kernelCutover || hostCutover ? "cutover" : "overlap",
            cutoverNs: t,
            handedOver: router.withDelivery { new.gate.handedOver },
            duplicatesSuppressed: router.withDelivery { old.gate.suppressed + new.gate.suppressed },
            lostInSwap: (oldStats.lost - min(oldStats.lost, lostBefore)) + leftInFlight,
            overlapMs: kernelCutover || hostCutover ? nil : Double(overlapEnd - cutoverDone) / 1e6,
            durationMs: Double(ended - began) / 1e6,
            cutoverMs: Double(cutoverDone - began) / 1e6,
            carriedMaps: carried, notCarried: notCarried)
        logger.info("\(id): swapped \(old.plugin.reference) -> \(plugin.reference) in \(String(format: "%.1f", report.durationMs)) ms (\(report.mode), \(report.handedOver) handed over, \(report.lostInSwap) lost)")
        return report
    }

    /// Runs a step of a swap; on failure the new instance is dropped and the error names both versions.
    private func failing<T>(_ old: ActiveInstance, _ plugin: InstalledPlugin, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as EunomiaError {
            throw EunomiaError("swap of \(id) to \(plugin.reference) failed: \(e.message); \(old.plugin.reference) keeps running", kind: .failed)
        }
    }
}

extension ActiveInstance {
    var instanceSupportsHandover: Bool { instance?.supportsHandover ?? false }

    func handover(generation: UInt32, maps: [(name: String, fd: Int32)]) throws -> Set<String> {
        try instance?.handover(generation: generation, maps: maps) ?? []
    }
}
