import ArgumentParser
import EunomiaDaemon
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct TrackerStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a tracker in the server.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "Installed plugin: NAME, NAME@VERSION, NAME@^1.2 or NAME@latest.")
    var plugin: String

    @Option(help: ArgumentHelp("Tracker id ([a-z0-9][a-z0-9_.-]*); generated when not given.", valueName: "id"))
    var id: String?

    @Option(name: .customLong("param"), help: ArgumentHelp("Set a plugin parameter; a bare KEY sets a boolean to true. Repeatable.", valueName: "key=value"))
    var params: [String] = []

    @Option(help: ArgumentHelp("Trace only this container: its id, a unique id prefix (at least 4 hex digits) or its name (the plugin's container parameter, filtered in the kernel).", valueName: "id|name"))
    var container: String?

    @Option(help: ArgumentHelp("Only the records for which this condition holds reach the tracker's outputs and streams (docs/rules.md); exact pid, tid, uid, comm and container terms are applied in the kernel.", valueName: "condition"))
    var filter: String?

    func run() async throws {
        try await reportingErrorsAsync {
            // Sent as strings: the server parses each against the plugin's schema, as `run --param` does.
            var object: [String: Any] = [:]
            if let container { object[ContainerFilter.parameter] = container }
            for p in params {
                let parts = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                object[parts[0]] = parts.count == 2 ? parts[1] : "true"
            }
            var body: [String: Any] = ["plugin": plugin, "params": object]
            if let id { body["id"] = id }
            if let filter { body["filter"] = filter }
            let info = try await client.api().call(.POST, "/api/v1/trackers", json: body) as? [String: Any] ?? [:]
            let line = "started \(info["id"] as? String ?? "?"): \(info["plugin"] as? String ?? "?")@\(info["version"] as? String ?? "?") (build \(info["build"] as? String ?? "?"))"
            print(TerminalText.sanitized(line))
        }
    }
}
