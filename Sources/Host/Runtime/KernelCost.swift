import CHostSupport
import Glibc

/// What a tracker's BPF programs cost the kernel: how often they ran and for how long in all
/// (bpf_prog_info run_cnt and run_time_ns, counted while BPF statistics are on). Nil where the
/// plugin cannot name its programs (built for ABI 1.2 or older).
public struct KernelCost: Equatable, Sendable {
    public var programs: Int
    public var runCount: UInt64
    public var runTimeNs: UInt64

    public init(programs: Int = 0, runCount: UInt64 = 0, runTimeNs: UInt64 = 0) {
        self.programs = programs
        self.runCount = runCount
        self.runTimeNs = runTimeNs
    }

    public static func + (a: KernelCost, b: KernelCost) -> KernelCost {
        KernelCost(programs: a.programs + b.programs, runCount: a.runCount &+ b.runCount, runTimeNs: a.runTimeNs &+ b.runTimeNs)
    }

    /// The sum over programs' fds; a program whose info cannot be read counts nothing.
    static func of(programs fds: [Int32]) -> KernelCost {
        var cost = KernelCost(programs: fds.count)
        for fd in fds {
            var count: UInt64 = 0, ns: UInt64 = 0
            if eh_prog_run_stats(fd, &count, &ns) == 0 {
                cost.runCount &+= count
                cost.runTimeNs &+= ns
            }
        }
        return cost
    }
}

/// Turns BPF run-time statistics on for as long as it lives (BPF_ENABLE_STATS): the kernel turns
/// them off again when the fd closes, however the process ends, so kernel.bpf_stats_enabled is
/// never left changed. Statistics cost each program run two clock reads.
public final class BPFStatsSwitch: @unchecked Sendable {
    private var fd: Int32
    /// Why statistics are off, when they are (an old kernel, no CAP_SYS_ADMIN).
    public let failure: String?

    public init() {
        let rc = eh_enable_bpf_stats()
        fd = rc >= 0 ? rc : -1
        failure = rc >= 0 ? nil : String(cString: strerror(-rc))
    }

    public var isOn: Bool { fd >= 0 }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
