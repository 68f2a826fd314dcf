import EunomiaHost
import Foundation
import Logging

/// Reload: the config's trackers applied as one diff against the running set.
extension TrackerManager {
    // MARK: Config

    /// Brings the config's trackers to `specs`: added ones started, removed ones stopped, changed
    /// ones swapped (same plugin, same params and outputs, other requirement) or stopped and
    /// started again (params or outputs changed); unchanged ones are not touched, nor are trackers
    /// started over the API. Every spec is resolved against the store first: if any is bad, this
    /// throws and nothing changed. Failures after that (an attach refused by the kernel) are per
    /// tracker, in the summary.
    public func apply(_ specs: [TrackerSpec]) async throws -> ReloadSummary {
        try await blocking { [self] in
            reloadLock.lock()
            defer { reloadLock.unlock() }
            return try applyBlocking(specs)
        }
    }

    private func applyBlocking(_ specs: [TrackerSpec]) throws -> ReloadSummary {
        // 1. Check everything; change nothing.
        var prepared: [String: (InstalledPlugin, ResolvedParameters)] = [:]
        for spec in specs {
            do {
                prepared[spec.id] = try prepare(spec)
            } catch let e as EunomiaError {
                throw EunomiaError("tracker \(spec.id.quotedForError)\(spec.line.map { " (line \($0))" } ?? ""): \(e.message)",
                                   kind: e.kind == .conflict ? .conflict : .invalid)
            }
        }
        lock.lock()
        let current = trackers.values.filter { $0.origin == .config }
        let apiIDs = Set(trackers.values.filter { $0.origin == .api }.map(\.id)).union(pending.keys)
        let apiCount = trackers.values.filter { $0.origin == .api }.count
        lock.unlock()
        if let clash = specs.first(where: { apiIDs.contains($0.id) }) {
            throw EunomiaError("tracker \(clash.id.quotedForError) in the config is taken by a tracker started over the API", kind: .conflict)
        }
        guard apiCount + specs.count <= limits.maxTrackers else {
            throw EunomiaError("\(specs.count) config trackers and \(apiCount) API trackers exceed limits.max_trackers (\(limits.maxTrackers))", kind: .conflict)
        }
        // 2. Apply.
        var summary = ReloadSummary()
        let byID = Dictionary(uniqueKeysWithValues: specs.map { ($0.id, $0) })
        for t in current.sorted(by: { $0.id < $1.id }) where byID[t.id] == nil {
            do {
                if let (_, outputs) = try stopBlocking(t) { waitSync(outputs) }
                summary.stopped.append(t.id)
            } catch {
                summary.failed.append(.init(id: t.id, error: TrackerManager.mapped(error).message))
            }
        }
        for spec in specs {
            guard let (plugin, parameters) = prepared[spec.id] else { continue }
            let existing = current.first { $0.id == spec.id }
            do {
                guard let existing else {
                    _ = try startPrepared(spec, plugin: plugin, parameters: parameters, origin: .config, keepFailure: true)
                    summary.started.append(spec.id)
                    continue
                }
                lock.lock()
                let running = existing.running
                lock.unlock()
                if existing.spec.sameDefinition(as: spec), running != nil {
                    summary.unchanged.append(spec.id)
                    continue
                }
                if let running, existing.spec.params.sorted() == spec.params.sorted(), existing.spec.outputs == spec.outputs,
                   running.plugin.name == plugin.name {
                    // Another requirement: swapped when it now picks another build, else left as it is.
                    let other = running.plugin.buildID != plugin.buildID
                    if other {
                        existing.op.lock()
                        defer { existing.op.unlock() }
                        _ = try countedSwap(existing, running, to: plugin)
                    }
                    replaceSpec(existing, with: spec)
                    if other { summary.swapped.append(spec.id) } else { summary.unchanged.append(spec.id) }
                    continue
                }
                if let (_, outputs) = try stopBlocking(existing) { waitSync(outputs) }
                lock.lock()
                if trackers[spec.id] === existing { trackers[spec.id] = nil }
                lock.unlock()
                _ = try startPrepared(spec, plugin: plugin, parameters: parameters, origin: .config, keepFailure: true)
                summary.restarted.append(spec.id)
            } catch {
                summary.failed.append(.init(id: spec.id, error: TrackerManager.mapped(error).message))
            }
        }
        logger.notice("\(summary.line)")
        return summary
    }

    /// The tracker keeps running under a new spec (a requirement changed, the build swapped or not).
    private func replaceSpec(_ t: ManagedTracker, with spec: TrackerSpec) {
        lock.lock()
        t.spec = spec
        lock.unlock()
    }

    private func waitSync(_ outputs: [OutputPump]) {
        guard !outputs.isEmpty else { return }
        let done = DispatchSemaphore(value: 0)
        Task {
            for o in outputs { await o.finish() }
            done.signal()
        }
        _ = done.wait(timeout: .now() + 10)
    }
}
