import ArgumentParser
import EunomiaDaemon
import EunomiaHost
import Foundation

struct TrackerSwap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap",
        abstract: "Move a running tracker to another installed version of its plugin.",
        discussion: "VERSION is 1.2.3, ^1.2, ~1.2 or latest. On failure the old version keeps running.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "Tracker id.") var id: String
    @Argument(help: "Version or range: 1.2.3, ^1.2, ~1.2, latest.") var version: String

    func run() async throws {
        try await reportingErrorsAsync {
            let r = try await client.api().call(.POST, "/api/v1/trackers/\(segment(id))/swap", json: ["version": version]) as? [String: Any] ?? [:]
            print(Self.line(r, id: id))
        }
    }

    /// The swap report, as one line for people.
    static func line(_ r: [String: Any], id: String) -> String {
        func ref(_ key: String) -> String {
            let b = r[key] as? [String: Any] ?? [:]
            return "\(b["plugin"] as? String ?? "?")@\(b["version"] as? String ?? "?") (build \(b["build"] as? String ?? "?"))"
        }
        let line = String(format: "swapped %@: %@ -> %@, %@, %llu handed over, %llu lost in swap, %.1f ms",
                          r["tracker"] as? String ?? id, ref("from"), ref("to"), r["mode"] as? String ?? "?",
                          UInt64(r["handed_over"] as? Int ?? 0), UInt64(r["lost_in_swap"] as? Int ?? 0), r["duration_ms"] as? Double ?? 0)
        return TerminalText.sanitized(line)
    }
}
