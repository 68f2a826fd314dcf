import ArgumentParser
import CHostSupport
import EunomiaDaemon
import EunomiaHost
import Foundation

struct TrackerEvents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print a tracker's live records until Ctrl-C or until the tracker stops.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, table }

    @OptionGroup var client: ClientOptions

    @Argument(help: "Tracker id.") var id: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "json: the server's JSON lines as they are; table: one column per field.")
    var format: Format = .json

    @Option(help: ArgumentHelp("Only the records for which this condition holds (docs/rules.md), e.g. 'comm == \"cat\"'; checked by the server.", valueName: "condition"))
    var filter: String?

    func run() async throws {
        try await reportingErrorsAsync {
            let api = try client.api()
            let printer = LinePrinter(table: format == .table)
            let query = filter.map { "&filter=\(segment($0))" } ?? ""
            try await api.stream("/api/v1/trackers/\(segment(id))/events?format=ndjson\(query)") { chunk in
                printer.feed(chunk)
            }
        }
    }
}

/// Prints whole lines as they arrive: JSON as it is, or a table whose columns are the first
/// record's keys (a report, with nested values, is printed as its JSON).
final class LinePrinter: @unchecked Sendable {
    let table: Bool
    private var pending: [UInt8] = []
    private var columns: [String]?
    private var widths: [Int] = []

    init(table: Bool) { self.table = table }

    func feed(_ chunk: [UInt8]) -> Bool {
        pending.append(contentsOf: chunk)
        var out = ""
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<nl], as: UTF8.self)
            pending.removeSubrange(...nl)
            guard !line.isEmpty else { continue }
            out += (table ? tableLine(line) : line) + "\n"
        }
        if !out.isEmpty {
            let bytes = Array(out.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress! + offset, bytes.count - offset) }
                if n <= 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
        }
        return true
    }

    private func tableLine(_ line: String) -> String {
        guard var object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            return TerminalText.sanitized(line)
        }
        // The container a record came from is a column of its id, as `eunomia run` shows it.
        if let container = object["container"] as? [String: Any] { object["container"] = container["id"] as? String ?? "?" }
        guard !object.values.contains(where: { $0 is [Any] || $0 is [String: Any] }) else {
            return TerminalText.sanitized(line)
        }
        var newHeader = false
        if columns == nil {
            let keys = LinePrinter.keysInOrder(line).filter { object[$0] != nil && $0 != "container" }
            columns = keys
            widths = keys.map { max($0.count, 6) }
            newHeader = true
        }
        // The first record from a container brings its column, first, under a new header.
        if object["container"] != nil, columns?.first != "container" {
            columns = ["container"] + (columns ?? [])
            widths = [12] + widths
            newHeader = true
        }
        let header = !newHeader ? "" : zip(columns ?? [], widths).map {
            $0.0.uppercased().padding(toLength: $0.1, withPad: " ", startingAt: 0)
        }.joined(separator: " ") + "\n"
        let cells = (columns ?? []).enumerated().map { i, key -> String in
            let text: String
            switch object[key] {
            case let s as String: text = s
            case nil, is NSNull: text = "-"
            case let v?: text = "\(v)"
            }
            let clean = TerminalText.sanitized(text)
            // Columns widen to the widest value seen so far (up to 40), so later lines line up.
            widths[i] = max(widths[i], min(clean.count, 40))
            return i == (columns?.count ?? 0) - 1 ? clean : clean.padding(toLength: max(widths[i], clean.count), withPad: " ", startingAt: 0)
        }
        return header + cells.joined(separator: " ")
    }

    /// The top-level keys of a JSON object line, in the order they appear.
    static func keysInOrder(_ line: String) -> [String] {
        var keys: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var current: [UInt8] = []
        var lastString: [UInt8]?
        for b in line.utf8 {
            if inString {
                if escaped { escaped = false; current.append(b); continue }
                if b == UInt8(ascii: "\\") { escaped = true; current.append(b); continue }
                if b == UInt8(ascii: "\"") { inString = false; lastString = current; continue }
                current.append(b)
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true; current = []
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; lastString = nil
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1; lastString = nil
            case UInt8(ascii: ":"):
                if depth == 1, let s = lastString,
                   let key = try? JSONSerialization.jsonObject(with: Data(("\"" + String(decoding: s, as: UTF8.self) + "\"").utf8), options: [.fragmentsAllowed]) as? String {
                    keys.append(key)
                }
                lastString = nil
            case UInt8(ascii: ","): lastString = nil
            default: break
            }
        }
        return keys
    }
}
