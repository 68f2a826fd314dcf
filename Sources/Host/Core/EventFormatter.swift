import CHostSupport
import Foundation

public enum OutputFormat: String, CaseIterable, Codable {
    case table, json, csv
}

/// Decodes records by their schema layout and writes them as table rows, JSON lines or CSV,
/// straight into an OutputBuffer: no per-event allocation, no Foundation formatting.
public final class EventFormatter: RecordSink {
    struct Column {
        let field: FieldSpec
        let width: Int
        let right: Bool
    }

    struct Layout {
        let record: RecordLayout
        let minimumSize: Int
        let tableColumns: [Column]
        /// `"name":` for each field, pre-encoded.
        let jsonKeys: [[UInt8]]
    }

    public let format: OutputFormat
    public let output: OutputBuffer
    private let layouts: [UInt32: Layout]
    private let clock = WallClock()
    public private(set) var malformed: UInt64 = 0

    public init(schema: PluginSchema, parameters: ResolvedParameters, format: OutputFormat, output: OutputBuffer) {
        self.format = format
        self.output = output
        var layouts: [UInt32: Layout] = [:]
        for record in schema.records {
            let visible = record.fields.filter { f in
                f.hidden != true && (f.when.map { parameters.bool($0) } ?? true)
            }
            let columns = visible.enumerated().map { i, f in
                Column(field: f, width: i == visible.count - 1 ? 0 : max(f.width ?? 0, f.header.utf8.count),
                       right: f.align == .right)
            }
            let keys = record.fields.map { f -> [UInt8] in
                let out = OutputBuffer { _ in true }
                JSONText.appendString(Array(f.name.utf8), to: out)
                out.append(UInt8(ascii: ":"))
                return out.contents
            }
            layouts[record.id] = Layout(record: record, minimumSize: record.minimumSize, tableColumns: columns, jsonKeys: keys)
        }
        self.layouts = layouts
    }

    /// Table and CSV headers, for the first record layout.
    public func writeHeader() {
        guard let first = layouts.values.min(by: { $0.record.id < $1.record.id }) else { return }
        switch format {
        case .table:
            for (i, c) in first.tableColumns.enumerated() {
                if i > 0 { output.append(UInt8(ascii: " ")) }
                let start = output.count
                output.append(c.field.header)
                if c.right { output.alignRight(from: start, width: c.width) } else { output.padLeftAligned(from: start, width: c.width) }
            }
            output.append(UInt8(ascii: "\n"))
        case .csv:
            for (i, f) in first.record.fields.enumerated() {
                if i > 0 { output.append(UInt8(ascii: ",")) }
                output.append(f.name)
            }
            output.append(UInt8(ascii: "\n"))
        case .json:
            break
        }
        output.flush()
    }

    public func consume(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool {
        guard let layout = layouts[recordID], bytes.count >= layout.minimumSize, bytes.count <= layout.record.size else {
            malformed += 1
            return false
        }
        switch format {
        case .table:
            for (i, c) in layout.tableColumns.enumerated() {
                if i > 0 { output.append(UInt8(ascii: " ")) }
                let start = output.count
                writeValue(c.field, bytes, style: .table)
                if c.width > 0 {
                    if c.right { output.alignRight(from: start, width: c.width) } else { output.padLeftAligned(from: start, width: c.width) }
                }
            }
            output.append(UInt8(ascii: "\n"))
        case .json:
            output.append(UInt8(ascii: "{"))
            for (i, f) in layout.record.fields.enumerated() {
                if i > 0 { output.append(UInt8(ascii: ",")) }
                output.append(layout.jsonKeys[i])
                writeValue(f, bytes, style: .json)
            }
            output.append(StaticString("}\n"))
        case .csv:
            for (i, f) in layout.record.fields.enumerated() {
                if i > 0 { output.append(UInt8(ascii: ",")) }
                writeValue(f, bytes, style: .csv)
            }
            output.append(UInt8(ascii: "\n"))
        }
        output.recordDone()
        return true
    }

    enum Style { case table, json, csv }

    private func writeValue(_ f: FieldSpec, _ bytes: UnsafeRawBufferPointer, style: Style) {
        if f.display == .ipv4 || f.display == .ipv6 {
            quoted(style) { IPAddress.append(UnsafeRawBufferPointer(rebasing: bytes[f.offset..<(f.offset + f.size)]), to: output) }
            return
        }
        switch f.type {
        case .string:
            let available = max(0, min(f.size, bytes.count - f.offset))
            let slice = UnsafeRawBufferPointer(rebasing: bytes[f.offset..<(f.offset + available)])
            let text = UnsafeRawBufferPointer(rebasing: slice[..<(slice.firstIndex(of: 0) ?? slice.endIndex)])
            switch style {
            case .table: TableText.append(text, to: output)
            case .json: JSONText.appendString(text, to: output)
            case .csv: CSVText.append(text, to: output)
            }
            return
        case .bytes:
            let quote = style == .json
            if quote { output.append(UInt8(ascii: "\"")) }
            for b in bytes[f.offset..<(f.offset + f.size)] { output.appendRadix(UInt64(b), radix: 16, minDigits: 2) }
            if quote { output.append(UInt8(ascii: "\"")) }
            return
        case .bool:
            output.append(bytes[f.offset] != 0 ? StaticString("true") : StaticString("false"))
            return
        default:
            break
        }
        let raw = loadInteger(f, bytes)
        switch f.display {
        case nil, .errno?:
            if f.type.isSigned { output.appendDecimal(Int64(bitPattern: raw)) } else { output.appendDecimal(raw) }
        case .timestamp?:
            let quote = style == .json
            if quote { output.append(UInt8(ascii: "\"")) }
            if style == .table { clock.appendTimeOfDay(bootNanoseconds: raw, to: output) } else { clock.appendISO8601(bootNanoseconds: raw, to: output) }
            if quote { output.append(UInt8(ascii: "\"")) }
        case .openFlags?:
            if style == .table {
                output.appendRadix(raw, radix: 8, minDigits: 8)
            } else {
                quoted(style) { OpenFlags.append(raw, to: output) }
            }
        case .octal?:
            quoted(style) {
                if raw != 0 { output.append(UInt8(ascii: "0")) }
                output.appendRadix(raw, radix: 8)
            }
        case .hex?:
            quoted(style) {
                output.append(StaticString("0x"))
                output.appendRadix(raw, radix: 16)
            }
        case .signal?:
            quoted(style) { Signals.append(Int64(bitPattern: raw), to: output) }
        case .ipv4?, .ipv6?:
            break // rendered above, whatever the type
        }
    }

    @inline(__always) private func quoted(_ style: Style, _ body: () -> Void) {
        if style == .json { output.append(UInt8(ascii: "\"")) }
        body()
        if style == .json { output.append(UInt8(ascii: "\"")) }
    }

    @inline(__always) private func loadInteger(_ f: FieldSpec, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        switch f.type {
        case .u8: return UInt64(bytes.load(fromByteOffset: f.offset, as: UInt8.self))
        case .i8: return UInt64(bitPattern: Int64(bytes.load(fromByteOffset: f.offset, as: Int8.self)))
        case .u16: return UInt64(bytes.loadUnaligned(fromByteOffset: f.offset, as: UInt16.self))
        case .i16: return UInt64(bitPattern: Int64(bytes.loadUnaligned(fromByteOffset: f.offset, as: Int16.self)))
        case .u32: return UInt64(bytes.loadUnaligned(fromByteOffset: f.offset, as: UInt32.self))
        case .i32: return UInt64(bitPattern: Int64(bytes.loadUnaligned(fromByteOffset: f.offset, as: Int32.self)))
        case .u64, .i64: return bytes.loadUnaligned(fromByteOffset: f.offset, as: UInt64.self)
        default: return 0
        }
    }
}

extension FieldType {
    var isSigned: Bool { self == .i8 || self == .i16 || self == .i32 || self == .i64 }
}

/// Converts bpf_ktime_get_ns() (CLOCK_MONOTONIC) to wall-clock text, caching the per-second part.
final class WallClock {
    private let offset: Int64
    private var hmsSecond: Int64 = .min
    private var hms = [UInt8](repeating: 0, count: 8)
    private var isoSecond: Int64 = .min
    private var iso = [UInt8](repeating: 0, count: 19)

    init() {
        let mono = eh_monotonic_ns()
        let real = eh_realtime_ns()
        offset = real - mono
    }

    private func epochNanoseconds(_ boot: UInt64) -> Int64 { Int64(bitPattern: boot) &+ offset }

    func appendTimeOfDay(bootNanoseconds: UInt64, to out: OutputBuffer) {
        let second = epochNanoseconds(bootNanoseconds) / 1_000_000_000
        if second != hmsSecond {
            var buf: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &buf) { raw in
                eh_format_hms(second, raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                for i in 0..<8 { hms[i] = raw[i] }
            }
            hmsSecond = second
        }
        out.append(hms)
    }

    func appendISO8601(bootNanoseconds: UInt64, to out: OutputBuffer) {
        let ns = epochNanoseconds(bootNanoseconds)
        let second = ns / 1_000_000_000
        if second != isoSecond {
            var fields: (Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &fields) { raw in
                eh_utc_fields(second, raw.baseAddress!.assumingMemoryBound(to: Int32.self))
            }
            let scratch = OutputBuffer(capacity: 32) { _ in true }
            scratch.appendFixed(UInt64(fields.0), digits: 4); scratch.append(UInt8(ascii: "-"))
            scratch.appendFixed(UInt64(fields.1), digits: 2); scratch.append(UInt8(ascii: "-"))
            scratch.appendFixed(UInt64(fields.2), digits: 2); scratch.append(UInt8(ascii: "T"))
            scratch.appendFixed(UInt64(fields.3), digits: 2); scratch.append(UInt8(ascii: ":"))
            scratch.appendFixed(UInt64(fields.4), digits: 2); scratch.append(UInt8(ascii: ":"))
            scratch.appendFixed(UInt64(fields.5), digits: 2)
            iso = scratch.contents
            isoSecond = second
        }
        out.append(iso)
        out.append(UInt8(ascii: "."))
        out.appendFixed(UInt64(ns - second * 1_000_000_000), digits: 9)
        out.append(UInt8(ascii: "Z"))
    }
}
