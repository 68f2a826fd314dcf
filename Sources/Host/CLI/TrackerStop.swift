import ArgumentParser
import EunomiaDaemon
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct TrackerStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a tracker: it detaches, delivers its final report and ends its streams.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "Tracker id.") var id: String

    func run() async throws {
        try await reportingErrorsAsync {
            let info = try await client.api().call(.DELETE, "/api/v1/trackers/\(segment(id))") as? [String: Any] ?? [:]
            print(TerminalText.sanitized("stopped \(info["id"] as? String ?? id): \(info["events"] as? Int ?? 0) events, \(info["lost"] as? Int ?? 0) lost"))
        }
    }
}
