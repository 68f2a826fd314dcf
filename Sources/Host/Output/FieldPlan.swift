import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How one field is rendered, worked out once from the schema. Trivially copyable (tables of
/// names and templates live in the formatter), so the per-event path does no reference counting.
enum FieldPlan {
    case string(offset: Int, size: Int, argv: Bool)
    case bytes(offset: Int, size: Int)
    case bool(offset: Int)
    case address(offset: Int, size: Int, unmapV4: Bool)
    case integer(offset: Int, type: FieldType, render: IntegerRender)
    /// Index into EventFormatter.templates.
    case template(Int)
    /// Zero-terminated u64 addresses; user stacks read the process id from field pidField.
    case stack(offset: Int, size: Int, kernel: Bool, pidField: Int)
    /// log2 slots; unit indexes EventFormatter.units.
    case histogram(offset: Int, slots: Int, wide: Bool, unit: Int)

    enum IntegerRender {
        case decimal
        case timestamp
        case openFlags
        case octal
        case hex
        case signal
        case capability
        case syscall
        case errnoName
        /// Index into EventFormatter.valueNames.
        case values(Int)
        /// Index into EventFormatter.bitNames.
        case bits(Int)
        case scaled(divisor: UInt64, decimals: Int)
    }

    /// A value or bit name from the schema, ready for each format: JSON's escaped once here
    /// (the per-event path copies it), CSV's neutralised with its quotes doubled (the cell's
    /// own quotes come from the table it belongs to), the table's sanitised as it is written.
    struct Name {
        let raw: [UInt8]
        let json: [UInt8]
        let csv: [UInt8]
        /// CSV: the cell needs quotes (a comma or quote).
        let csvQuoted: Bool

        init(_ text: String) {
            raw = Array(text.utf8)
            json = JSONText.escaped(text)
            let cell = OutputBuffer(capacity: max(16, raw.count * 3 + 2)) { _ in true }
            CSVText.append(raw, to: cell)
            var bytes = cell.contents
            csvQuoted = bytes.first == UInt8(ascii: "\"")
            if csvQuoted { bytes = Array(bytes.dropFirst().dropLast()) }
            csv = bytes
        }
    }

    struct Template {
        /// Literal text is schema text: written through TableText like the fields around it.
        enum Segment { case literal([UInt8]), field(Int) }
        let fallback: [Segment]
        let selector: Int?
        let byValue: [Int64: [Segment]]
    }
}
