import CHostSupport
import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Symbol names for stack addresses: kernel ones from /proc/kallsyms, user ones from the ELF
/// symbol tables of the files a process maps. Caches live for the formatter's lifetime;
/// per-process ones are revalidated at each report.
final class StackSymbolizer {
    static let full = Int32(EH_SYM_OFFSET | EH_SYM_MODULE)
    /// Names only, as flame graph tools expect.
    static let bare: Int32 = 0

    private let handle: OpaquePointer
    private let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: 1024)

    init() { handle = eh_symbolizer_new() }

    deinit {
        eh_symbolizer_free(handle)
        buffer.deallocate()
    }

    func beginReport() { eh_symbolizer_begin(handle) }

    /// The name of addr, valid until the next call.
    func name(pid: Int32, address: UInt64, flags: Int32) -> UnsafeRawBufferPointer {
        let n = eh_symbolize(handle, pid, address, flags, buffer, 1024)
        return UnsafeRawBufferPointer(start: buffer, count: n)
    }

    var stats: eh_symbolizer_stats {
        var s = eh_symbolizer_stats()
        eh_symbolizer_stats(handle, &s)
        return s
    }
}
