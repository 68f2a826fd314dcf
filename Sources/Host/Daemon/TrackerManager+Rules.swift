import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

// Filters and security rules in the server: a tracker's `filter` (config or API), and the
// rules files of the config's `rules`, which run beside every tracker's outputs.
extension TrackerManager {
    /// The tracker's filter, compiled against the build it starts with, and the parameters
    /// with the filter's exact terms pushed down into the kernel.
    func prepareFilter(_ spec: TrackerSpec, plugin: InstalledPlugin, parameters: ResolvedParameters) throws
        -> (ConditionFilter?, ResolvedParameters) {
        guard let text = spec.filter else { return (nil, parameters) }
        let filter = try ConditionFilter(text, schema: plugin.schema, containers: containers)
        let (pushed, assignments) = try Runner.pushDown(filter, plugin: plugin, parameters: parameters, logger: logger)
        if !assignments.isEmpty {
            logger.info("tracker \(spec.id): filter terms applied in the kernel: \(assignments.map(\.assignment).joined(separator: ", "))")
        }
        return (filter, pushed)
    }

    /// Reads the rules files, checked against the plugins installed now. Nothing changes here:
    /// `useRules` puts what this returns in force.
    public func loadRules(_ paths: [String]) throws -> [RuleFile] {
        try paths.map { path in try RuleFile.load(path: path, schema: { try? store.resolve($0).schema }) }
    }

    /// Puts rules in force: every tracker's engine recompiles at its next record.
    public func useRules(_ files: [RuleFile]) {
        rules.replace(files)
        let n = rules.enabledCount
        if !files.isEmpty { logger.info("rules: \(n) enabled rule\(n == 1 ? "" : "s") from \(files.map(\.path).joined(separator: ", "))") }
    }

    /// Every tracker gets an engine, whatever the rules now: a reload may add rules for it.
    func attachRules(_ running: RunningTracker) {
        running.router.add(RuleEngine(tracker: running.id, book: rules, sink: alertHub, containers: containers), name: "rules")
    }

    /// A live stream of the alerts raised from now on (GET /api/v1/alerts).
    public func subscribeAlerts() -> AlertStream { alertHub.subscribe() }

    /// Alerts raised since the server started.
    public var alertCount: UInt64 { alertHub.count }
}
