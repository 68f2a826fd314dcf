import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// libbpf-tools' log2 histograms: slot i holds values in [2^i, 2^(i+1)), slot 0 also holds 0.
enum Log2Histogram {
    static func bounds(_ slot: Int) -> (low: UInt64, high: UInt64) {
        if slot == 0 { return (0, 1) }
        let low: UInt64 = 1 << UInt64(slot)
        return (low, slot >= 63 ? UInt64.max : (low << 1) - 1)
    }

    /// The `usecs : count distribution` block print_log2_hist prints.
    static func appendTable(_ counts: [UInt64], unit: [UInt8], to out: OutputBuffer) {
        guard let last = counts.lastIndex(where: { $0 != 0 }) else { return }
        let maxCount = counts.max() ?? 0
        let narrow = last <= 32
        let numberWidth = narrow ? 10 : 20
        let stars = narrow ? 40 : 20
        out.appendSpaces(narrow ? 5 : 15)
        var start = out.count
        let wide = out.wideBytes
        TableText.append(unit, to: out)
        out.padLeftAligned(from: start, width: narrow ? 19 : 29, wide: out.wideBytes - wide)
        out.append(StaticString(" : count    distribution\n"))
        for i in 0...last {
            let (low, high) = bounds(i)
            start = out.count
            out.appendDecimal(low)
            out.alignRight(from: start, width: numberWidth)
            out.append(StaticString(" -> "))
            start = out.count
            out.appendDecimal(high)
            out.padLeftAligned(from: start, width: numberWidth)
            out.append(StaticString(" : "))
            start = out.count
            out.appendDecimal(counts[i])
            out.padLeftAligned(from: start, width: 8)
            out.append(StaticString(" |"))
            let filled = maxCount == 0 ? 0 : Int(counts[i].multipliedFullWidth(by: UInt64(stars)).low / maxCount)
            for _ in 0..<filled { out.append(UInt8(ascii: "*")) }
            out.appendSpaces(stars - filled)
            out.append(StaticString("|\n"))
        }
    }
}
