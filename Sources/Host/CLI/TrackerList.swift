import ArgumentParser
import EunomiaDaemon
import EunomiaHost
import Foundation

struct TrackerList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the server's trackers: build, state, events, lost and dropped records, kernel cost.")

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print the server's JSON as it is.") var json = false

    func run() async throws {
        try await reportingErrorsAsync {
            let result = try await client.api().call(.GET, "/api/v1/trackers")
            if json {
                let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let trackers = (result as? [String: Any])?["trackers"] as? [[String: Any]] ?? []
            if trackers.isEmpty {
                print("no trackers")
                return
            }
            let rows = trackers.map { t -> [String] in
                let dropped = (t["dropped"] as? [String: Any] ?? [:]).values.compactMap { $0 as? Int }.reduce(0, +)
                return [t["id"] as? String ?? "", "\(t["plugin"] as? String ?? "")@\(t["version"] as? String ?? "")",
                        t["build"] as? String ?? "", t["state"] as? String ?? "", "\(t["events"] as? Int ?? 0)",
                        "\(t["lost"] as? Int ?? 0)", "\(dropped)", TrackerList.kernelCost(t), "\(t["swaps"] as? Int ?? 0)", t["origin"] as? String ?? "",
                        t["last_error"] as? String ?? ""]
            }
            printTable(header: ["ID", "PLUGIN", "BUILD", "STATE", "EVENTS", "LOST", "DROPPED", "KERNEL", "SWAPS", "ORIGIN", "ERROR"], rows: rows)
        }
    }

    /// KERNEL: the time its BPF programs ran and the mean per run ("12.3ms 850ns/run"); "-" when
    /// its plugin cannot say (ABI < 1.3).
    static func kernelCost(_ t: [String: Any]) -> String {
        guard let runs = t["bpf_run_count"] as? Int, let ns = t["bpf_run_time_ns"] as? Int else { return "-" }
        let total = Double(ns) >= 1e9 ? String(format: "%.2fs", Double(ns) / 1e9) : String(format: "%.1fms", Double(ns) / 1e6)
        return runs == 0 ? total : "\(total) \(ns / runs)ns/run"
    }
}
