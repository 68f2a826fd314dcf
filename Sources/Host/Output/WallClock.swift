import CHostSupport
import EunomiaRecords
import EunomiaSchema

/// Converts bpf_ktime_get_ns() (CLOCK_MONOTONIC) to wall-clock text, caching the per-second part.
final class WallClock {
    private let offset: Int64
    private var hmsSecond: Int64 = .min
    /// The cached texts live in buffers of their own: appending an array property per record
    /// retained and released it every time.
    private let hms = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 1)
    private var isoSecond: Int64 = .min
    private let iso = UnsafeMutableRawBufferPointer.allocate(byteCount: 19, alignment: 1)

    init() {
        let mono = eh_monotonic_ns()
        let real = eh_realtime_ns()
        offset = real - mono
        hms.initializeMemory(as: UInt8.self, repeating: 0)
        iso.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        hms.deallocate()
        iso.deallocate()
    }

    private func epochNanoseconds(_ boot: UInt64) -> Int64 { Int64(bitPattern: boot) &+ offset }

    /// Whole seconds, rounded down: a timestamp before 1970 (garbage in a record, or a clock
    /// set back) still splits into a second and a non-negative nanosecond part.
    private static func floorSeconds(_ ns: Int64) -> Int64 {
        let s = ns / 1_000_000_000
        return ns % 1_000_000_000 < 0 ? s - 1 : s
    }

    func appendTimeOfDay(bootNanoseconds: UInt64, to out: OutputBuffer) {
        let second = WallClock.floorSeconds(epochNanoseconds(bootNanoseconds))
        if second != hmsSecond {
            var buf: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &buf) { raw in
                eh_format_hms(second, raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                for i in 0..<8 { hms[i] = raw[i] }
            }
            hmsSecond = second
        }
        out.append(UnsafeRawBufferPointer(hms))
    }

    func appendISO8601(bootNanoseconds: UInt64, to out: OutputBuffer) {
        let ns = epochNanoseconds(bootNanoseconds)
        let second = WallClock.floorSeconds(ns)
        if second != isoSecond {
            var fields: (Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &fields) { raw in
                eh_utc_fields(second, raw.baseAddress!.assumingMemoryBound(to: Int32.self))
            }
            // Int64 nanoseconds span the years 1677-2262, so every field is small and positive;
            // clamping keeps that true whatever the C library returned.
            func field(_ v: Int32) -> UInt64 { UInt64(min(max(v, 0), 9999)) }
            let scratch = OutputBuffer(capacity: 32) { _ in true }
            scratch.appendFixed(field(fields.0), digits: 4); scratch.append(UInt8(ascii: "-"))
            scratch.appendFixed(field(fields.1), digits: 2); scratch.append(UInt8(ascii: "-"))
            scratch.appendFixed(field(fields.2), digits: 2); scratch.append(UInt8(ascii: "T"))
            scratch.appendFixed(field(fields.3), digits: 2); scratch.append(UInt8(ascii: ":"))
            scratch.appendFixed(field(fields.4), digits: 2); scratch.append(UInt8(ascii: ":"))
            scratch.appendFixed(field(fields.5), digits: 2)
            let text = scratch.contents
            for i in 0..<min(text.count, iso.count) { iso[i] = text[i] }
            isoSecond = second
        }
        out.append(UnsafeRawBufferPointer(iso))
        out.append(UInt8(ascii: "."))
        out.appendFixed(UInt64(ns - second * 1_000_000_000), digits: 9)
        out.append(UInt8(ascii: "Z"))
    }
}
