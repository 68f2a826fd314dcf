import CHostSupport
import EunomiaOutput
import EunomiaPackages
import EunomiaRecords
import EunomiaRuntime
import EunomiaSchema
import Foundation
import Logging

public struct RunSummary: Equatable {
    public var events: UInt64
    public var lost: UInt64
    /// Records the host could not decode (wrong id or size for the schema).
    public var malformed: UInt64
    /// Reports printed; nil for trackers that only stream events.
    public var reports: UInt64?
    public var seconds: Double
}

/// Runs one installed tracker until stopped, writing its events to an OutputBuffer.
public enum Runner {
    public static let pollTimeoutMs: Int32 = 100

    /// Longest --duration: ten years, far inside what nanosecond deadlines can hold.
    public static let maxDuration: Double = 10 * 365 * 86400

    /// Checks a duration in seconds: finite, positive, at most maxDuration.
    public static func checkDuration(_ seconds: Double) throws {
        guard seconds.isFinite, seconds > 0, seconds <= maxDuration else {
            throw EunomiaError("duration \(seconds) is not a number of seconds above 0 and at most \(Int(maxDuration)) (ten years)")
        }
    }

    /// Loads the plugin, starts it and polls on the calling thread until `shouldStop` returns
    /// true, the duration ends or the output is closed; then detaches and unloads.
    /// `outputFD`, when given, is watched for its reader going away (a closed pipe): the run
    /// ends within one poll interval instead of at the next event's failed write.
    public static func run(plugin: InstalledPlugin, parameters: ResolvedParameters, format: OutputFormat,
                           duration: Double?, output: OutputBuffer, outputFD: Int32? = nil, logger: Logger,
                           shouldStop: () -> Bool) throws -> RunSummary {
        if let duration { try checkDuration(duration) }
        let verified = try plugin.verifyFiles()
        let library = try PluginLibrary(path: verified.libraryPath, label: plugin.libraryURL.path)
        guard library.name == plugin.name else {
            throw EunomiaError("\(plugin.libraryURL.path) calls itself '\(library.name)', the package says '\(plugin.name)'")
        }
        if format == .folded && !plugin.schema.records.contains(where: { $0.kind == .row && $0.hasStacks }) {
            throw EunomiaError("-o folded needs a tracker that reports stacks (profile, memleak, ...); \(plugin.name) reports none")
        }
        let formatter = EventFormatter(schema: plugin.schema, parameters: parameters, format: format, output: output)
        let tracker = try PluginInstance(library: library, configJSON: parameters.configJSON(), bpfObject: plugin.bpfObjectURL,
                                  packageDirectory: plugin.directory, sink: formatter, logger: logger)
        defer { tracker.destroy() }
        try tracker.start()
        // Loading parsed the kernel's BTF (megabytes, freed again): hand that memory back.
        eh_release_free_memory()
        logger.info("\(plugin.reference) attached (build \(plugin.buildID))")
        formatter.writeHeader()

        let began = eh_monotonic_ns()
        // checkDuration bounds the product far below Int64.max.
        let deadline = duration.map { began + Int64($0 * 1e9) }
        var pollError: Error?
        let watch = outputFD.map(ConsumerWatch.init)
        while !shouldStop() && !output.failed && watch?.consumerGone != true {
            var timeout = pollTimeoutMs
            if let deadline {
                let left = deadline - eh_monotonic_ns()
                if left <= 0 { break }
                timeout = Int32(min(Int64(timeout), max(1, left / 1_000_000)))
            }
            do {
                try tracker.poll(timeoutMs: timeout)
            } catch {
                pollError = error
                break
            }
            output.flush()
        }
        try tracker.stop()
        output.flush()
        let stats = tracker.stats()
        tracker.destroy()
        withExtendedLifetime(verified) {}
        if let pollError { throw pollError }
        return RunSummary(events: stats.emitted, lost: stats.lost, malformed: formatter.malformed,
                          reports: plugin.schema.records.contains { $0.isReport } ? formatter.reports : nil,
                          seconds: Double(eh_monotonic_ns() - began) / 1e9)
    }
}

/// Notices that the reader of an output descriptor went away. A pipe whose read end closed
/// reports POLLERR on the write end, a hung-up terminal POLLHUP; files and /dev/null never do.
struct ConsumerWatch {
    let fd: Int32

    var consumerGone: Bool {
        var p = pollfd(fd: fd, events: 0, revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        return p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
    }
}
