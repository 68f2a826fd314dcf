import ArgumentParser
import EunomiaDaemon
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct ServerReload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Tell the running server to re-read its config (POST /api/v1/reload; the same as SIGHUP).",
        discussion: "A config that does not check leaves every tracker as it was; the error says why.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await reportingErrorsAsync {
            let result = try await client.api().call(.POST, "/api/v1/reload")
            let summary = result as? [String: Any] ?? [:]
            func list(_ key: String) -> [String] { summary[key] as? [String] ?? [] }
            var parts: [String] = []
            for key in ["started", "stopped", "swapped", "restarted", "unchanged"] {
                let ids = list(key)
                parts.append("\(ids.count) \(key)" + (ids.isEmpty || key == "unchanged" ? "" : " (\(ids.joined(separator: ", ")))"))
            }
            print(TerminalText.sanitized("reloaded: " + parts.joined(separator: ", ")))
            for f in summary["failed"] as? [[String: Any]] ?? [] {
                print(TerminalText.sanitized("failed \(f["id"] as? String ?? "?"): \(f["error"] as? String ?? "?")"))
            }
        }
    }
}
