import ArgumentParser
import EunomiaDaemon
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the server's security alerts as they are raised, until Ctrl-C.",
        discussion: """
            The server runs the rules files its config names (rules = ["/etc/eunomia/rules.yaml"]) over every tracker's records; each alert is one JSON object (docs/rules.md).

            Examples:
              eunomia alerts                       alerts as JSON lines
              eunomia alerts -o line               one readable line each
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, line }

    @OptionGroup var client: ClientOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "json: the server's JSON lines as they are; line: time, priority, rule and message.")
    var format: Format = .json

    func run() async throws {
        try await reportingErrorsAsync {
            let api = try client.api()
            let printer = AlertPrinter(lines: format == .line)
            try await api.stream("/api/v1/alerts?format=ndjson") { chunk in printer.feed(chunk) }
        }
    }
}

/// Prints whole alerts as they arrive: the JSON as it is, or each alert's line.
final class AlertPrinter: @unchecked Sendable {
    let lines: Bool
    private var pending: [UInt8] = []
    private let output = OutputBuffer(fd: STDOUT_FILENO)

    init(lines: Bool) { self.lines = lines }

    func feed(_ chunk: [UInt8]) -> Bool {
        pending.append(contentsOf: chunk)
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[..<nl])
            pending.removeSubrange(...nl)
            guard !line.isEmpty else { continue }
            if lines, let alert = try? JSONDecoder().decode(Alert.self, from: Data(line)) {
                output.appendTerminalText(alert.line)
            } else {
                output.appendTerminalText(String(decoding: line, as: UTF8.self))
            }
            output.appendVerbatim("\n")
        }
        output.flush()
        return !output.failed
    }
}
