#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The process's resident memory and CPU time, read at scrape time from the kernel
/// (process_resident_memory_bytes, process_cpu_seconds_total: the names every exporter uses).
public struct ProcessStats: Sendable {
    public var residentBytes: Double
    public var cpuSeconds: Double
    public var openFDs: Double
    public var startTimeSeconds: Double

    /// Now. A value that cannot be read is 0 (a scrape never fails on it).
    public static func current() -> ProcessStats {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return ProcessStats(residentBytes: residentBytes(), cpuSeconds: cpu, openFDs: openFDs(), startTimeSeconds: startTime)
    }

    /// /proc/self/statm's second field is resident pages.
    static func residentBytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func openFDs() -> Double {
        Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0)
    }

    /// Taken once, when the metrics module is first used (close enough to the process start
    /// for a server: the exporter is made at startup).
    static let startTime = Date().timeIntervalSince1970
}
