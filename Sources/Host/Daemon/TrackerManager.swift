import EunomiaHost
import EunomiaMetrics
import Foundation
import Logging

/// A build a tracker runs (or is about to): what plugin removal must not take away.
struct BuildKey: Hashable {
    var name: String
    var version: String
    var buildID: String

    init(name: String, version: String, buildID: String) {
        self.name = name
        self.version = version
        self.buildID = buildID
    }

    init(_ p: InstalledPlugin) {
        name = p.name
        version = p.version
        buildID = p.buildID
    }
}

/// One tracker the server manages, across swaps. Control operations on it hold `op`, on a
/// blocking thread: one at a time per tracker, while other trackers proceed in parallel.
final class ManagedTracker: @unchecked Sendable {
    let id: String
    let origin: TrackerOrigin
    /// What it was started from; a reload that only changes the requirement updates it in place.
    var spec: TrackerSpec
    let op = NSLock()
    // Guarded by the manager's lock.
    var running: RunningTracker?
    var outputs: [OutputPump] = []
    var lastError: String?
    var stopped = false
    /// API streams connected now.
    var streams = 0
    /// eunomia_plugin_events_total's counter on its router, when its schema marks labels.
    var labels: LabelSetCounter?
    /// Its histogram reports as Prometheus histograms, when its schema has histogram records.
    var histograms: HistogramCollector?
    /// The build it tried to run when it never started (state failed).
    var failedBuild: InstalledPlugin?
    var failedAt = Date()

    init(id: String, origin: TrackerOrigin, spec: TrackerSpec) {
        self.id = id
        self.origin = origin
        self.spec = spec
    }
}

/// The running trackers: one EventLoop serving all of them, a table id -> tracker, per-tracker
/// serialisation of control operations, max_trackers, and the builds in use (which plugin removal
/// refuses to take). Every error is an EunomiaError whose kind the API maps to a status.
public final class TrackerManager: @unchecked Sendable {
    public let store: Store
    public let limits: Limits
    let logger: Logger
    private let loop: EventLoop
    let lock = NSLock()
    // Guarded by lock:
    var trackers: [String: ManagedTracker] = [:]
    /// Ids being started, with the build each will run.
    var pending: [String: BuildKey] = [:]
    /// Builds a swap in progress is moving to.
    private var swapping: [String: BuildKey] = [:]
    private var closed = false
    private var streamCount = 0
    /// One reload at a time.
    let reloadLock = NSLock()
    /// The Prometheus exposition and the metrics only it keeps (swaps, alerts).
    public let metrics: MetricsExporter
    /// The security rules in force (the config's `rules`), run beside every tracker's outputs.
    public let rules = RuleBook()
    /// Where their alerts go: the log, the counter, /api/v1/alerts.
    let alertHub: AlertHub
    /// BPF run-time statistics, on while the manager runs (each tracker's kernel cost).
    let bpfStats = BPFStatsSwitch()
    /// cgroup id -> container, shared by every tracker's outputs, streams and metric labels.
    public let containers = ContainerCache()
    /// Malformed records of trackers already stopped (guarded by lock): the host total never goes down.
    var stoppedMalformed: UInt64 = 0

    public init(store: Store, limits: Limits, logger: Logger) throws {
        self.store = store
        self.limits = limits
        self.logger = logger
        let metrics = MetricsExporter()
        self.metrics = metrics
        alertHub = AlertHub(logger: logger, metrics: metrics, limitBytes: limits.streamQueueKB << 10)
        loop = try EventLoop(logger: logger)
        loop.startThread()
        containers.prime()
        if let why = bpfStats.failure {
            logger.warning("BPF statistics are off (\(why)): trackers' kernel cost reads 0")
        }
    }

    /// RFC 3339 with milliseconds; a value type, so safe from every request's thread.
    private static func timestamp(_ d: Date) -> String {
        d.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    // MARK: Starting

    /// Checks a start request that needs no store: the id, the reference's grammar, parameter names.
    static func check(_ spec: TrackerSpec) throws {
        guard TrackerID.isValid(spec.id) else {
            throw EunomiaError("\(spec.id.quotedForError) is not a tracker id (\(TrackerID.grammar))")
        }
        _ = try PluginReference.parse(spec.plugin)
        for p in spec.params {
            let key = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard Validate.isIdentifier(key) else {
                throw EunomiaError("\(key.quotedForError) is not a parameter name ([a-z_][a-z0-9_]*, at most 64 characters)")
            }
        }
    }

    /// The build and parameters a spec asks for, against the store as it is now.
    func prepare(_ spec: TrackerSpec) throws -> (InstalledPlugin, ResolvedParameters) {
        try TrackerManager.check(spec)
        let plugin = try store.resolve(spec.plugin)
        let parameters = try ResolvedParameters(schema: plugin.schema, assignments: spec.params)
        return (plugin, parameters)
    }

    /// Starts a tracker. A nil id gets one generated (NAME-XXXXXXXX).
    public func start(id: String?, plugin: String, params: [String], outputs: [OutputSpec] = [], filter: String? = nil,
                      origin: TrackerOrigin = .api) async throws -> TrackerInfo {
        let name = (try? PluginReference.parse(plugin).name) ?? "tracker"
        var spec = TrackerSpec(id: id ?? TrackerID.generate(plugin: name), plugin: plugin, params: params, outputs: outputs, filter: filter)
        if id == nil {
            // A generated id that happens to be taken gets another.
            for _ in 0..<8 where isTaken(spec.id) { spec.id = TrackerID.generate(plugin: name) }
        }
        let s = spec
        return try await blocking { [self] in
            let (installed, parameters) = try prepare(s)
            return try startPrepared(s, plugin: installed, parameters: parameters, origin: origin, keepFailure: false)
        }
    }

    private func isTaken(_ id: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return trackers[id] != nil || pending[id] != nil
    }

    /// Reserves the id, loads and attaches the tracker, opens its outputs. Blocking.
    /// keepFailure: a tracker that fails to attach stays listed as failed (config trackers).
    func startPrepared(_ spec: TrackerSpec, plugin: InstalledPlugin, parameters: ResolvedParameters,
                               origin: TrackerOrigin, keepFailure: Bool) throws -> TrackerInfo {
        try reserve(spec.id, build: BuildKey(plugin))
        var sinks: [(String, OutputSink)] = []
        let running: RunningTracker
        do {
            for o in spec.outputs { sinks.append((o.description, try OutputPump.sink(for: o, trackerID: spec.id, logger: logger))) }
            let (filter, filtered) = try prepareFilter(spec, plugin: plugin, parameters: parameters)
            running = try RunningTracker(id: spec.id, plugin: plugin, parameters: filtered, loop: loop, logger: logger)
            running.router.setFilter(filter)
            if let found = running.container { containers.remember(found) }
        } catch {
            for (_, s) in sinks { s.close() }
            let e = TrackerManager.mapped(error)
            let managed = ManagedTracker(id: spec.id, origin: origin, spec: spec)
            managed.lastError = e.message
            managed.failedBuild = plugin
            lock.lock()
            pending[spec.id] = nil
            if keepFailure && !closed { trackers[spec.id] = managed }
            lock.unlock()
            logger.error("tracker \(spec.id) (\(plugin.reference), build \(plugin.buildID)) did not start: \(e.message)")
            throw e
        }
        let managed = ManagedTracker(id: spec.id, origin: origin, spec: spec)
        managed.running = running
        managed.outputs = sinks.map { OutputPump(name: $0.0, sink: $0.1, tracker: running, queueBytes: limits.streamQueueKB << 10, containers: containers) }
        lock.lock()
        pending[spec.id] = nil
        let shuttingDown = closed
        if !shuttingDown { trackers[spec.id] = managed }
        lock.unlock()
        if !shuttingDown {
            attachLabelCounter(managed, running)
            attachHistograms(managed, running)
            attachRules(running)
        }
        if shuttingDown {
            // shutdown() ran while this one attached: it is not in the table, so stop it here.
            _ = try? running.stop()
            throw EunomiaError("the server is shutting down", kind: .conflict)
        }
        logger.info("tracker \(spec.id) started: \(plugin.reference) (build \(plugin.buildID))")
        return info(managed)
    }

    private func reserve(_ id: String, build: BuildKey) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw EunomiaError("the server is shutting down", kind: .conflict) }
        if trackers[id] != nil {
            throw EunomiaError("tracker \(id.quotedForError) already exists", kind: .conflict)
        }
        guard pending[id] == nil else { throw EunomiaError("tracker \(id.quotedForError) is being started", kind: .conflict) }
        guard trackers.count + pending.count < limits.maxTrackers else {
            throw EunomiaError("\(limits.maxTrackers) trackers exist, the limit (limits.max_trackers); stop one first", kind: .conflict)
        }
        pending[id] = build
    }

    // MARK: Reading

    public func list() -> [TrackerInfo] {
        lock.lock()
        let all = trackers.values.sorted { $0.id < $1.id }
        lock.unlock()
        return all.map(info)
    }

    public func get(_ id: String) throws -> TrackerInfo {
        try info(find(id))
    }

    private func find(_ id: String) throws -> ManagedTracker {
        guard TrackerID.isValid(id) else {
            throw EunomiaError("\(id.quotedForError) is not a tracker id (\(TrackerID.grammar))")
        }
        lock.lock()
        defer { lock.unlock() }
        if let t = trackers[id] { return t }
        if pending[id] != nil { throw EunomiaError("tracker \(id.quotedForError) is being started", kind: .conflict) }
        throw EunomiaError("no tracker \(id.quotedForError)", kind: .notFound)
    }

    private func info(_ t: ManagedTracker) -> TrackerInfo {
        lock.lock()
        let running = t.running
        let lastError = t.lastError
        let spec = t.spec
        let streams = t.streams
        lock.unlock()
        guard let running else {
            let p = t.failedBuild
            return TrackerInfo(id: t.id, plugin: p?.name ?? "", version: p?.version ?? "", build: p?.buildID ?? "",
                               requirement: spec.plugin, params: [:], state: "failed", events: 0, lost: 0, malformed: 0,
                               dropped: [:], streams: 0, startedAt: TrackerManager.timestamp(t.failedAt), lastError: lastError, swaps: 0,
                               origin: t.origin, outputs: spec.outputs.map(\.description))
        }
        let plugin = running.plugin
        let counters = running.counters()
        var state = "running"
        var error = lastError
        switch running.state {
        case .running: break
        case .failed(let why):
            state = "failed"
            error = why
        case .stopped:
            state = "stopped"
        }
        let cost = running.kernelCost()
        var info = TrackerInfo(id: t.id, plugin: plugin.name, version: plugin.version, build: plugin.buildID,
                               requirement: spec.plugin, params: running.parameters.values, state: state,
                               events: counters.events, lost: counters.lost, malformed: counters.malformed,
                               dropped: running.router.dropped(), streams: streams, startedAt: TrackerManager.timestamp(running.startedAt),
                               lastError: error, swaps: running.swaps, origin: t.origin, outputs: spec.outputs.map(\.description),
                               bpfRunCount: cost?.runCount, bpfRunTimeNs: cost?.runTimeNs)
        if let filter = spec.filter {
            info.filter = filter
            info.filtered = running.router.filtered
        }
        return info
    }

    // MARK: Stopping

    /// Stops a tracker: detached, final report delivered, every subscriber finished, its outputs
    /// written out. Returns its last state.
    public func stop(_ id: String) async throws -> TrackerInfo {
        let t = try find(id)
        let result = try await blocking { [self] in try stopBlocking(t) }
        if let result { await finishOutputs(result.1); return result.0 }
        throw EunomiaError("no tracker \(id.quotedForError)", kind: .notFound)
    }

    /// Nil when another call stopped it first.
    func stopBlocking(_ t: ManagedTracker) throws -> (TrackerInfo, [OutputPump])? {
        t.op.lock()
        defer { t.op.unlock() }
        lock.lock()
        let already = t.stopped
        let running = t.running
        lock.unlock()
        if already { return nil }
        var last = info(t)
        if let running {
            do {
                let counters = try running.stop()
                lock.lock()
                stoppedMalformed &+= counters.malformed
                lock.unlock()
                last.events = counters.events
                last.lost = counters.lost
                last.malformed = counters.malformed
            } catch {
                let e = TrackerManager.mapped(error)
                lock.lock()
                t.lastError = e.message
                lock.unlock()
                throw e
            }
        }
        lock.lock()
        t.stopped = true
        if trackers[t.id] === t { trackers[t.id] = nil }
        let outputs = t.outputs
        let histograms = t.histograms
        lock.unlock()
        histograms?.unregister()
        logger.info("tracker \(t.id) stopped: \(last.events) events, \(last.lost) lost")
        return (last, outputs)
    }

    private func finishOutputs(_ outputs: [OutputPump]) async {
        for o in outputs { await o.finish() }
    }

    // MARK: Swapping

    /// Moves a tracker to another version of its plugin: VERSION, ^RANGE, ~RANGE or latest. The
    /// same parameters are checked against the new build's schema first; on any failure the old
    /// build keeps running.
    public func swap(_ id: String, version: String) async throws -> SwapReport {
        guard VersionRequirement.parse(version) != nil else {
            throw EunomiaError("\(version.quotedForError) is not a version (1.2.3), a range (^1.2, ~1.2, >=1.0.0 <2.0.0) or latest")
        }
        let t = try find(id)
        return try await blocking { [self] in
            t.op.lock()
            defer { t.op.unlock() }
            lock.lock()
            let running = t.running
            let stopped = t.stopped
            lock.unlock()
            guard !stopped else { throw EunomiaError("no tracker \(id.quotedForError)", kind: .notFound) }
            guard let running else { throw EunomiaError("tracker \(id.quotedForError) is not running (\(t.lastError ?? "failed"))", kind: .conflict) }
            let current = running.plugin
            let target = try store.resolve("\(current.name)@\(version)")
            // Checked here for a 400 naming the parameter; the runtime resolves them again.
            _ = try ResolvedParameters(schema: target.schema, assignments: running.parameters.assignments)
            lock.lock()
            swapping[id] = BuildKey(target)
            lock.unlock()
            defer {
                lock.lock()
                swapping[id] = nil
                lock.unlock()
            }
            do {
                let report = try countedSwap(t, running, to: target)
                logger.info("tracker \(id) swapped: \(current.reference) -> \(target.reference) (build \(target.buildID)), mode \(report.mode)")
                return report
            } catch {
                throw TrackerManager.mapped(error)
            }
        }
    }

    // MARK: Streams

    /// A bounded live stream of the tracker's records as JSON lines.
    /// `filter`: only the records for which this condition holds (checked against the build
    /// running now; a bad one is refused with the position it fails at).
    public func subscribe(_ id: String, filter: String? = nil) throws -> EventStream {
        let t = try find(id)
        lock.lock()
        defer { lock.unlock() }
        guard let running = t.running, !t.stopped else {
            throw EunomiaError("tracker \(id.quotedForError) is not running", kind: .conflict)
        }
        let subscriber = StreamSubscriber(format: .json, limitBytes: limits.streamQueueKB << 10, containers: containers)
        var attached: RecordSubscriber = subscriber
        if let filter {
            attached = FilteredSubscriber(subscriber, filter: try ConditionFilter(filter, schema: running.plugin.schema, containers: containers))
        }
        streamCount += 1
        t.streams += 1
        running.router.add(attached, name: "stream-\(streamCount)")
        let router = running.router
        let box = UncheckedBox(attached)
        return EventStream(subscriber: subscriber, detach: { [self] in
            router.remove(box.value)
            lock.lock()
            t.streams -= 1
            lock.unlock()
        })
    }

    // MARK: Plugins

    /// Builds that trackers run or are about to (starting, swapping), with the trackers using each.
    func buildsInUse() -> [BuildKey: [String]] {
        lock.lock()
        defer { lock.unlock() }
        var result: [BuildKey: [String]] = [:]
        for t in trackers.values { if let r = t.running { result[BuildKey(r.plugin), default: []].append(t.id) } }
        for (id, b) in pending { result[b, default: []].append(id) }
        for (id, b) in swapping { result[b, default: []].append(id) }
        return result
    }

    /// Ids of the trackers running each installed build, for GET /plugins.
    public func trackersUsing(name: String, version: String, buildID: String) -> [String] {
        (buildsInUse()[BuildKey(name: name, version: version, buildID: buildID)] ?? []).sorted()
    }

    /// Removes NAME (every version) or NAME@VERSION; refused (409) while a tracker runs one of those builds.
    public func removePlugin(_ reference: String) async throws -> [String] {
        let parts = reference.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, Validate.isPluginName(name) else {
            throw EunomiaError("\(reference.quotedForError) is not NAME or NAME@VERSION (a name is 1-64 characters of a-z, 0-9, '_' or '-')")
        }
        if parts.count == 2, Validate.semver(parts[1]) == nil {
            throw EunomiaError("\(parts[1].quotedForError) is not a semantic version like 1.2.3")
        }
        let version: String? = parts.count == 2 ? parts[1] : nil
        return try await blocking { [self] in
            // Held across the check and the removal: no start can reserve a build in between.
            lock.lock()
            defer { lock.unlock() }
            var users: [String] = []
            for t in trackers.values {
                if let r = t.running, r.plugin.name == name, version == nil || r.plugin.version == version { users.append(t.id) }
            }
            for (id, b) in pending.merging(swapping, uniquingKeysWith: { a, _ in a })
            where b.name == name && (version == nil || b.version == version) {
                users.append(id)
            }
            if !users.isEmpty {
                throw EunomiaError("\(reference) is in use by tracker\(users.count == 1 ? "" : "s") \(users.sorted().joined(separator: ", ")); stop \(users.count == 1 ? "it" : "them") first", kind: .conflict)
            }
            let contents = store.scan()
            let semver = version.flatMap(Validate.semver)
            let present = contents.plugins.contains { $0.name == name && (semver == nil || $0.semver == semver) }
                || contents.damaged.contains { $0.name == name && $0.version != nil && (semver == nil || $0.version == semver) }
            guard present else { throw EunomiaError("\(reference) is not installed", kind: .notFound) }
            return try store.remove(reference)
        }
    }

    // MARK: Shutdown

    /// Stops every tracker (each delivering its final report and finishing its subscribers), waits
    /// for the outputs to be written, then stops the event loop. Idempotent.
    public func shutdown() async {
        let (wasClosed, all) = closeTable()
        if wasClosed { return }
        for t in all {
            do {
                if let (_, outputs) = try await blocking({ [self] in try stopBlocking(t) }) { await finishOutputs(outputs) }
            } catch {
                logger.error("tracker \(t.id): stopping failed: \(error)")
            }
        }
        // Starts that were attaching when closed was set stop themselves (startPrepared).
        alertHub.closeAll()
        loop.shutdown()
        bpfStats.close()
        logger.info("all trackers stopped")
    }

    private func closeTable() -> (Bool, [ManagedTracker]) {
        lock.lock()
        defer { lock.unlock() }
        let wasClosed = closed
        closed = true
        return (wasClosed, Array(trackers.values))
    }

    static func mapped(_ error: Error) -> EunomiaError {
        if let e = error as? EunomiaError { return e }
        return EunomiaError("\(error)", kind: .failed)
    }
}

/// Carries a non-Sendable reference into a @Sendable closure that only hands it back.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
