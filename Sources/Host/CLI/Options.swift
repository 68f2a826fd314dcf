import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Plugin store directory (default: $EUNOMIA_HOME or /var/lib/eunomia).", valueName: "dir"))
    var store: String?

    @Option(name: .long, help: "Diagnostics on stderr: error, warning, info, debug, trace.")
    var logLevel: String = ProcessInfo.processInfo.environment["EUNOMIA_LOG_LEVEL"] ?? "warning"

    func setUp() throws -> (Store, Logger) {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level '\(logLevel)' is not one of error, warning, info, debug, trace")
        }
        HostLogging.bootstrap(level: level)
        return (Store(path: store), Logger(label: "eunomia"))
    }
}

/// Runs body, turning our errors into one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as EunomiaError {
        FileHandle.standardError.write(Data("eunomia: error: \(error.message)\n".utf8))
        throw ExitCode.failure
    }
}

extension OutputFormat: ExpressibleByArgument {}

/// Columns of text from the store and the schema, made safe for a terminal first.
func printTable(header: [String], rows: [[String]], indent: String = "") {
    let all = ([header] + rows).map { $0.map(TerminalText.sanitized) }
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
        print(indent + cells.joined(separator: "  "))
    }
}

/// Values of the run options, checked with one line that names the option and the problem.
enum CLIValue {
    static func integer<T: FixedWidthInteger>(_ text: String, what: String, in range: ClosedRange<T>) throws -> T {
        guard let v = T(text), range.contains(v) else {
            throw ValidationError("not \(what) (a whole number from \(range.lowerBound) to \(range.upperBound))")
        }
        return v
    }

    static func duration(_ text: String) throws -> Double {
        guard let v = Double(text), (try? Runner.checkDuration(v)) != nil else {
            throw ValidationError("not a number of seconds above 0 and at most \(Int(Runner.maxDuration)) (ten years)")
        }
        return v
    }
}

