import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

struct Eunomia: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eunomia",
        abstract: "Load eBPF tracker plugins at runtime and print what they see.",
        discussion: """
            Trackers are plugins: a C library, its BPF object and a schema, shipped as one .pkg file.
            Install a package into the store, then run the tracker by name:

              eunomia plugin install build/packages/opensnoop-0.1.0.pkg
              eunomia run opensnoop --comm bash -o json

            The store is /var/lib/eunomia unless --store or EUNOMIA_HOME says otherwise.
            Tracing needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF.
            """,
        subcommands: [Run.self, Plugin.self])
}

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

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an installed tracker and print its events until Ctrl-C.",
        discussion: """
            Events go to stdout; diagnostics and the final summary (events, lost) to stderr.
            Parameters come from the plugin's schema (see: eunomia plugin info NAME).

            Examples:
              eunomia run opensnoop                          all opens, as a table
              eunomia run opensnoop --pid 1234 -o json       one process, JSON lines
              eunomia run opensnoop@0.1.0 --param failed     only failed opens, pinned version
              eunomia run opensnoop --duration 10 -o csv > opens.csv
              eunomia run syscount --interval 5              top syscalls every 5 s
              eunomia run profile --pid 1234 --duration 30 --folded > stacks.folded

            Aggregating trackers (syscount, biolatency, memleak, profile, ...) print a report every --interval seconds and a final one when stopped (Ctrl-C or --duration).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Installed plugin: NAME (highest version) or NAME@VERSION.")
    var plugin: String

    @Option(name: .customLong("param"), help: ArgumentHelp("Set a plugin parameter; a bare KEY sets a boolean to true. Repeatable.", valueName: "key=value"))
    var params: [String] = []

    // .unconditional: a value such as -1 reaches the check below (which names what is wrong)
    // instead of being taken for an option ("Missing value").
    @Option(parsing: .unconditional, help: "Trace only this process id (the plugin's pid parameter).",
            transform: { try CLIValue.integer($0, what: "a process id", in: 1...UInt32.max) })
    var pid: UInt32?

    @Option(parsing: .unconditional, help: "Trace only this command name (the plugin's comm parameter).")
    var comm: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table, json (one object per line), csv, or folded (stacks as 'comm;outer;...;inner count' lines for flame graphs).")
    var format: OutputFormat = .table

    @Flag(help: "Same as -o folded.")
    var folded = false

    @Option(parsing: .unconditional, help: "Seconds between reports of an aggregating tracker (its interval parameter); 0 reports only at the end.",
            transform: { try CLIValue.integer($0, what: "a number of seconds", in: 0...86400) })
    var interval: UInt32?

    @Option(parsing: .unconditional, help: "Stop after this many seconds (fractions allowed, at most ten years).",
            transform: { try CLIValue.duration($0) })
    var duration: Double?

    func run() throws {
        let (store, logger) = try global.setUp()
        try reportingErrors {
            let installed = try store.resolve(plugin)
            var assignments = params
            if let pid { assignments.append("pid=\(pid)") }
            if let comm { assignments.append("comm=\(comm)") }
            if let interval { assignments.append("interval=\(interval)") }
            let parameters = try ResolvedParameters(schema: installed.schema, assignments: assignments)
            eh_install_stop_signals()
            let output = OutputBuffer(fd: STDOUT_FILENO)
            let summary = try Runner.run(plugin: installed, parameters: parameters, format: folded ? .folded : format, duration: duration,
                                         output: output, outputFD: STDOUT_FILENO, logger: logger, shouldStop: { eh_stop_requested() != 0 })
            let what = summary.reports.map { "\($0) report\($0 == 1 ? "" : "s")" } ?? "\(summary.events) events"
            var line = String(format: "%@: %@, %llu lost in %.1fs", installed.reference, what, summary.lost, summary.seconds)
            if summary.malformed > 0 { line += ", \(summary.malformed) records did not match the schema" }
            if summary.lost > 0 { line += " (raise --param ringbuf_kb to lose fewer)" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

struct Plugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install, inspect, remove and pack tracker plugins.",
        subcommands: [Install.self, List.self, Info.self, Remove.self, Pack.self])

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify packages and install them into the store.",
            discussion: "Checks hashes, ABI, schema, the BPF object and kernel requirements before anything is written; a bad package leaves the store unchanged.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Package files (.pkg).") var packages: [String]

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                for path in packages {
                    let (plugin, outcome) = try store.install(package: URL(fileURLWithPath: path))
                    let verb = outcome == .installed ? "installed" : "already installed"
                    print("\(verb) \(plugin.reference) (build \(plugin.buildID)) in \(plugin.directory.path)")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List installed plugins.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                let (plugins, damaged) = store.scan()
                if plugins.isEmpty && damaged.isEmpty {
                    print("no plugins installed in \(store.root.path)")
                    return
                }
                if !plugins.isEmpty {
                    let rows = plugins.map { [$0.name, $0.version, $0.buildID, $0.manifest.abi.description, $0.manifest.description] }
                    printTable(header: ["NAME", "VERSION", "BUILD", "ABI", "DESCRIPTION"], rows: rows)
                }
                // One line each; the other plugins keep working.
                for d in damaged { print(TerminalText.sanitized("damaged \(d.path): \(d.reason)")) }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a plugin: parameters and event fields.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "NAME or NAME@VERSION.") var plugin: String

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                let p = try store.resolve(plugin)
                print("\(p.name) \(p.version)  (build \(p.buildID), ABI \(p.manifest.abi))")
                print("  \(TerminalText.sanitized(p.schema.description))")
                print("  installed in \(p.directory.path)\n")
                print("Parameters (--param KEY=VALUE):")
                printTable(header: ["NAME", "TYPE", "DEFAULT", "DESCRIPTION"], rows: p.schema.parameters.map { param in
                    var desc = param.description
                    if param.min != nil || param.max != nil { desc += " [\(param.min.map(String.init) ?? "")..\(param.max.map(String.init) ?? "")]" }
                    if let e = param.enum { desc += " {\(e.joined(separator: ","))}" }
                    return [param.name, param.type.rawValue, param.default.description, desc]
                }, indent: "  ")
                for record in p.schema.records {
                    switch record.kind {
                    case .event: print("\nEvent '\(record.name)' (\(record.size) bytes max):")
                    case .row:
                        var how = record.sort.map { ", sorted by \($0)" } ?? ""
                        if let limit = record.limit { how += ", at most \(limit) rows" }
                        print("\nReport rows '\(record.name)' (\(record.size) bytes\(how)):")
                    case .histogram: print("\nReport histogram '\(record.name)' (\(record.size) bytes; other fields are its keys):")
                    }
                    printTable(header: ["FIELD", "TYPE", "DISPLAY", "COLUMN"], rows: record.fields.map { f in
                        var col = f.header
                        if f.hidden == true { col += " (json/csv only)" } else if let c = f.whenCondition { col += c.negated ? " (without \(c.parameter))" : " (with \(c.parameter))" }
                        var display = f.display?.rawValue ?? "-"
                        if f.type == .stack { display = "\(f.stack?.rawValue ?? "") stack, symbolized" }
                        if f.type == .histogram { display = "log2, \(f.unit ?? "value")"; col = "-" }
                        return [f.name, f.type.rawValue, display, col]
                    }, indent: "  ")
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a plugin version (NAME@VERSION) or every version (NAME).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "NAME or NAME@VERSION.") var plugin: String

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                for removed in try store.remove(plugin) { print("removed \(removed)") }
            }
        }
    }

    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack a plugin build directory into a .pkg file.",
            discussion: "DIR holds schema.json, one *.so and one *.bpf.o. The schema's record layouts are checked against the BPF object's BTF.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Build directory of the plugin.") var directory: String
        @Option(name: .shortAndLong, help: "Output file, or a directory to write NAME-VERSION.pkg into.") var output: String

        func run() throws {
            _ = try global.setUp()
            try reportingErrors {
                let written = try PackageArchive.pack(directory: URL(fileURLWithPath: directory),
                                                      output: URL(fileURLWithPath: output, isDirectory: output.hasSuffix("/")))
                print("packed \(written.path)")
            }
        }
    }
}

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

// Errors are one line on stderr ("eunomia: error: ..."), usage errors included; --help and
// --version print as usual.
do {
    var command = try Eunomia.parseAsRoot()
    try command.run()
} catch let error as ExitCode {
    Eunomia.exit(withError: error)
} catch {
    let code = Eunomia.exitCode(for: error)
    if code == .success {
        Eunomia.exit(withError: error)
    }
    var message = Eunomia.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    if message.hasPrefix("Error: ") { message.removeFirst(7) }
    FileHandle.standardError.write(Data("eunomia: error: \(EunomiaError(message).message) (see --help)\n".utf8))
    Eunomia.exit(withError: ExitCode(code.rawValue))
}
