import CHostSupport
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// What one recording saw: syscall names with their counts, what had no name, and whether the
/// kernel side lost anything (a task it could not track, a syscall it could not count).
public struct Recording: Equatable, Sendable {
    public var counts: [String: UInt64] = [:]
    /// Placeholders the tracker reported for numbers it has no name for ("[unknown: 512]",
    /// "[32-bit: 11]"): never allowed by name, listed in a warning.
    public var unnamed: [String] = []
    public var lost: UInt64 = 0
    public var seconds: Double = 0
}

/// Collects the rows of the syscallrec tracker's reports: each report lists every syscall
/// since the start, so the last complete one is the recording.
final class SyscallRows: RecordSubscriber {
    private var pending = Recording()
    private(set) var latest: Recording?
    private(set) var malformed: UInt64 = 0

    func consume(_ record: RecordView) -> Bool {
        guard let layout = record.source.schema.record(id: record.recordID), layout.kind == .row,
              let name = layout.fields.first(where: { $0.name == "syscall" && $0.type == .string }),
              let count = layout.fields.first(where: { $0.name == "count" && $0.type == .u64 }),
              let text = SyscallRows.string(record.bytes, at: name.offset, size: name.size),
              let n = record.u64(at: count.offset) else {
            malformed += 1
            return true
        }
        // Only a name the architecture's table gave (known = 1) and that looks like one; a
        // placeholder or anything else is reported, never allowed.
        let known = layout.fields.first { $0.name == "known" }.flatMap { f in
            f.offset >= 0 && f.offset + 4 <= record.bytes.count ? record.bytes.loadUnaligned(fromByteOffset: f.offset, as: UInt32.self) : nil
        }
        if known == 1 && SeccompProfile.isSyscallName(text) {
            pending.counts[text, default: 0] &+= n
        } else {
            pending.unnamed.append(text)
        }
        return true
    }

    func endReport(source: RecordSource, timestampNs: UInt64) {
        latest = pending
        pending = Recording()
    }

    /// A NUL-terminated (or full-width) string field, nil when out of bounds or not UTF-8.
    static func string(_ bytes: UnsafeRawBufferPointer, at offset: Int, size: Int) -> String? {
        guard offset >= 0, size > 0, offset <= bytes.count - size else { return nil }
        let field = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(validating: field[..<end], as: UTF8.self)
    }
}

/// Runs the installed syscallrec tracker until told to stop and returns what it counted.
public enum SyscallRecorder {
    /// The bundled tracker this command records with.
    public static let plugin = "syscallrec"

    /// Finds the tracker in the store, with a one-line error that says how to install it.
    public static func installed(in store: Store) throws -> InstalledPlugin {
        do {
            return try store.resolve(plugin)
        } catch let e as EunomiaError where e.kind == .notFound {
            throw EunomiaError("the \(plugin) tracker is not installed in \(store.root.path): install it with `eunomia plugin install \(plugin) --registry DIR|URL` (or a \(plugin)-*.pkg file; make install-plugins installs the bundled ones)", kind: .notFound)
        }
    }

    /// Attaches the tracker with `assignments` (pid=, container=), calls `attached` (which may
    /// release a held command), then serves it until `shouldStop` (asked every 100 ms) or
    /// `loop.stop()` (from `started`, e.g. for signals) or the deadline, and stops it: the
    /// final report is the recording.
    public static func record(plugin: InstalledPlugin, assignments: [String], duration: Double?, logger: Logger,
                              started: (EventLoop) -> Void = { _ in }, attached: () throws -> Void = {},
                              shouldStop: () -> Bool = { false }) throws -> Recording {
        if let duration { try Runner.checkDuration(duration) }
        let parameters = try ResolvedParameters(schema: plugin.schema, assignments: assignments)
        let loop = try EventLoop(logger: logger)
        let rows = SyscallRows()
        let tracker = try RunningTracker(id: plugin.name, plugin: plugin, parameters: parameters, loop: loop, logger: logger)
        tracker.router.add(rows, name: "seccomp")
        let began = eh_monotonic_ns()
        do {
            try attached()
        } catch {
            _ = try? tracker.stop()
            throw error
        }
        started(loop)
        let deadline = duration.map { began + Int64($0 * 1e9) }
        while !shouldStop() {
            if case .failed = tracker.state { break }
            let slice = eh_monotonic_ns() + Runner.checkIntervalMs * 1_000_000
            let until = deadline.map { min($0, slice) } ?? slice
            if !loop.run(until: until) { break } // stop() was called
            if let deadline, eh_monotonic_ns() >= deadline { break }
        }
        var failure: String?
        if case .failed(let f) = tracker.state { failure = f }
        let counters = try tracker.stop()
        if let failure { throw EunomiaError(failure, kind: .failed) }
        guard var recording = rows.latest else {
            throw EunomiaError("\(plugin.reference) stopped without a report: nothing was recorded", kind: .failed)
        }
        if rows.malformed > 0 || counters.malformed > 0 {
            throw EunomiaError("\(plugin.reference) reported rows that do not match its schema: no profile written", kind: .failed)
        }
        recording.lost = counters.lost
        recording.seconds = Double(eh_monotonic_ns() - began) / 1e9
        return recording
    }
}
