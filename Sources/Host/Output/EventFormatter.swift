import CHostSupport
import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

public enum OutputFormat: String, CaseIterable, Codable {
    case table, json, csv
    /// Stacks as `root;outer;...;inner count` lines, for flame graphs.
    case folded
}

/// Decodes records by their schema layout and writes them as table rows, JSON lines or CSV,
/// straight into an OutputBuffer: no per-event allocation, no Foundation formatting.
public final class EventFormatter: RecordSink {
    struct Column {
        let field: Int
        let width: Int
        let right: Bool
    }

    /// Everything about one record layout that the per-event path reads, in flat buffers.
    final class Layout {
        let record: RecordLayout
        let minimumSize: Int
        let maximumSize: Int
        let plans: UnsafeMutableBufferPointer<FieldPlan>
        let columns: UnsafeMutableBufferPointer<Column>
        /// Column headers, as the schema gives them (sanitised when printed).
        let headers: [String]
        /// `"name":` of every field, back to back; keyRanges[i] locates field i's.
        let keyBytes: UnsafeMutableBufferPointer<UInt8>
        let keyRanges: UnsafeMutableBufferPointer<Range<Int>>
        /// Report layouts: stack fields printed under table rows, sort key, row limit.
        var stackLines: [Int] = []
        var sortField: Int?
        var limit = 0
        var csvHeaderDone = false
        /// The cgroup_id field's offset, when the record carries the task's identity.
        let cgroupOffset: Int?

        init(record: RecordLayout, plans: [FieldPlan], columns: [Column]) {
            self.record = record
            cgroupOffset = record.cgroupIDOffset
            minimumSize = record.minimumSize
            maximumSize = record.size
            self.plans = .allocate(capacity: plans.count)
            _ = self.plans.initialize(from: plans)
            self.columns = .allocate(capacity: columns.count)
            _ = self.columns.initialize(from: columns)
            headers = columns.map { record.fields[$0.field].header }
            let keys = OutputBuffer { _ in true }
            var ranges: [Range<Int>] = []
            for f in record.fields {
                let start = keys.count
                JSONText.appendString(Array(f.name.utf8), to: keys)
                keys.append(UInt8(ascii: ":"))
                ranges.append(start..<keys.count)
            }
            keyBytes = .allocate(capacity: keys.count)
            _ = keyBytes.initialize(from: keys.contents)
            keyRanges = .allocate(capacity: ranges.count)
            _ = keyRanges.initialize(from: ranges)
        }

        deinit {
            plans.deallocate()
            columns.deallocate()
            keyBytes.deallocate()
            keyRanges.deallocate()
        }
    }

    public let format: OutputFormat
    public let output: OutputBuffer
    /// The lowest record id's layout, checked first (most plugins have one); then the rest.
    private let primary: Layout?
    private let others: [UInt32: Layout]
    private var valueNames: [ValueNames] = []
    private var bitNames: [BitNames] = []
    private var templates: [FieldPlan.Template] = []
    let units: [[UInt8]]
    let clock = WallClock()
    /// Holds composed text (templates, argv, stacks) before it is escaped for JSON or CSV.
    let scratch = OutputBuffer(capacity: 4096) { _ in true }
    public internal(set) var malformed: UInt64 = 0
    /// Reports printed (aggregating trackers).
    public internal(set) var reports: UInt64 = 0
    /// Report layouts by id order, and the records of the report being collected.
    let reportLayouts: [Layout]
    var pending: [UInt32: [[UInt8]]] = [:]
    /// Turns stack addresses into names; created only for schemas with stacks.
    let symbolizer: StackSymbolizer?
    /// Container fields for records with a cgroup id, when the host resolves containers.
    let containers: ContainerColumns?
    /// A table gains its CONTAINER column (first, with a new header line) at the first record
    /// from a container: a host with none keeps libbpf-tools' columns.
    private var containerColumn = false
    static let containerCell = Column(field: -1, width: 12, right: false)

    struct ValueNames {
        let names: [Int64: FieldPlan.Name]
    }

    struct BitNames {
        /// By bit value, ascending.
        let names: [(UInt64, FieldPlan.Name)]
        /// CSV: some name needs quotes, so the whole cell is quoted.
        let csvQuoted: Bool
    }

    /// `containerColumn`: a table shows the CONTAINER column from its first header (every
    /// record is a container's: the tracker is filtered to one).
    public init(schema: PluginSchema, parameters: ResolvedParameters, format: OutputFormat, output: OutputBuffer,
                containers: ContainerDirectory? = nil, containerColumn: Bool = false) {
        self.format = format
        self.output = output
        self.containers = containers.map(ContainerColumns.init)
        self.containerColumn = containerColumn && containers != nil
        var layouts: [Layout] = []
        var valueNames: [ValueNames] = []
        var bitNames: [BitNames] = []
        var templates: [FieldPlan.Template] = []
        var units: [[UInt8]] = []
        for record in schema.records.sorted(by: { $0.id < $1.id }) {
            // Stacks and histograms are multi-line: they follow the row instead of taking a column.
            let visible = record.fields.indices.filter {
                record.fields[$0].visibleInTable(parameters) && record.fields[$0].type != .stack && record.fields[$0].type != .histogram
            }
            let columns = visible.enumerated().map { n, i in
                let f = record.fields[i]
                // The last column is not padded, unless it is right-aligned (numbers line up under the header).
                let last = n == visible.count - 1 && f.align != .right
                return Column(field: i, width: last ? 0 : max(f.width ?? 0, TableText.width(f.header)), right: f.align == .right)
            }
            let plans = record.fields.map { f -> FieldPlan in
                switch f.type {
                case .string: return .string(offset: f.offset, size: f.size, argv: f.display == .argv)
                case .bool: return .bool(offset: f.offset)
                case .bytes where f.display == .ipv4 || f.display == .ipv6 || f.display == .ip:
                    return .address(offset: f.offset, size: f.size, unmapV4: f.display == .ip)
                case .bytes: return .bytes(offset: f.offset, size: f.size)
                case .stack:
                    let pidField = f.pid.flatMap { p in record.fields.firstIndex { $0.name == p } } ?? -1
                    return .stack(offset: f.offset, size: f.size, kernel: f.stack == .kernel, pidField: pidField)
                case .histogram:
                    units.append(Array((f.unit ?? "value").utf8))
                    return .histogram(offset: f.offset, slots: f.size / f.slotSize, wide: f.slotSize == 8, unit: units.count - 1)
                case .template:
                    func compile(_ text: String) -> [FieldPlan.Template.Segment] {
                        FieldSpec.parseTemplate(text).flatMap { literal, name -> [FieldPlan.Template.Segment] in
                            var segs: [FieldPlan.Template.Segment] = literal.isEmpty ? [] : [.literal(Array(literal.utf8))]
                            if let name, let i = record.fields.firstIndex(where: { $0.name == name }) { segs.append(.field(i)) }
                            return segs
                        }
                    }
                    var byValue: [Int64: [FieldPlan.Template.Segment]] = [:]
                    for (k, v) in f.templates ?? [:] { byValue[Int64(k)!] = compile(v) }
                    templates.append(FieldPlan.Template(fallback: f.template.map(compile) ?? [],
                                                        selector: f.select.flatMap { s in record.fields.firstIndex { $0.name == s } },
                                                        byValue: byValue))
                    return .template(templates.count - 1)
                default:
                    if f.display == .ipv4 || f.display == .ipv6 || f.display == .ip {
                        return .address(offset: f.offset, size: f.size, unmapV4: f.display == .ip)
                    }
                    let render: FieldPlan.IntegerRender
                    if let values = f.values {
                        valueNames.append(ValueNames(names: Dictionary(values.compactMap { k, v in Int64(k).map { ($0, FieldPlan.Name(v)) } }, uniquingKeysWith: { a, _ in a })))
                        render = .values(valueNames.count - 1)
                    } else if let bits = f.bits {
                        let names = bits.map { ($0.value, FieldPlan.Name($0.key)) }.sorted { $0.0 < $1.0 }
                        bitNames.append(BitNames(names: names, csvQuoted: names.contains { $0.1.csvQuoted }))
                        render = .bits(bitNames.count - 1)
                    } else if let scale = f.scale {
                        render = .scaled(divisor: scale, decimals: f.decimals ?? 0)
                    } else {
                        switch f.display {
                        case .timestamp?: render = .timestamp
                        case .openFlags?: render = .openFlags
                        case .octal?: render = .octal
                        case .hex?: render = .hex
                        case .signal?: render = .signal
                        case .capability?: render = .capability
                        case .syscall?: render = .syscall
                        case .errnoName?: render = .errnoName
                        default: render = .decimal
                        }
                    }
                    return .integer(offset: f.offset, type: f.type, render: render)
                }
            }
            let layout = Layout(record: record, plans: plans, columns: columns)
            layout.stackLines = record.fields.indices.filter { record.fields[$0].type == .stack && record.fields[$0].visibleInTable(parameters) }
            layout.sortField = record.sort.flatMap { s in record.fields.firstIndex { $0.name == s } }
            if let limit = record.limit, case .integer(let n)? = parameters[limit], n > 0 { layout.limit = Int(n) }
            layouts.append(layout)
        }
        primary = layouts.first
        // Validation makes ids unique; a hand-built schema keeps the first layout of an id.
        others = Dictionary(layouts.dropFirst().map { ($0.record.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.valueNames = valueNames
        self.bitNames = bitNames
        self.templates = templates
        self.units = units
        reportLayouts = layouts.filter { $0.record.isReport }
        symbolizer = schema.records.contains { $0.hasStacks } ? StackSymbolizer() : nil
    }

    /// Table and CSV headers, for the first event layout (reports print theirs with each report).
    public func writeHeader() {
        let first = primary.map { [$0] + others.values.sorted { $0.record.id < $1.record.id } }?.first { !$0.record.isReport }
        guard let first, format != .folded else { return }
        switch format {
        case .table:
            writeColumnHeaders(first)
        case .csv:
            for (i, f) in first.record.fields.enumerated() {
                if i > 0 { output.append(UInt8(ascii: ",")) }
                CSVText.append(f.name, to: output)
            }
            if containers != nil && first.cgroupOffset != nil { output.append(ContainerColumns.csvHeader) }
            output.append(UInt8(ascii: "\n"))
        case .json, .folded:
            break
        }
        output.flush()
    }

    public func consume(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool {
        let found: Layout?
        if let p = primary, p.record.id == recordID { found = p } else { found = others[recordID] }
        guard let layout = found, bytes.count >= layout.minimumSize, bytes.count <= layout.maximumSize else {
            malformed += 1
            return false
        }
        if layout.record.isReport {
            pending[recordID, default: []].append(Array(bytes))
            return true
        }
        writeRecord(layout, bytes)
        output.recordDone()
        return true
    }

    /// One record as a table line (plus its stacks), a JSON object or a CSV line.
    func writeRecord(_ layout: Layout, _ bytes: UnsafeRawBufferPointer, jsonPrefix: Bool = true) {
        let plans = layout.plans
        switch format {
        case .table:
            writeTableRow(layout, bytes)
            for i in layout.stackLines { writeStackLines(plans[i], plans, bytes) }
        case .json:
            writeJSONObject(layout, bytes)
            output.append(UInt8(ascii: "\n"))
        case .csv:
            for i in plans.indices {
                if i > 0 { output.append(UInt8(ascii: ",")) }
                write(plans[i], plans, bytes, .csv, to: output)
            }
            if let containers, let at = layout.cgroupOffset, at + 8 <= bytes.count {
                containers.appendCSV(cgroupID: loadInteger(at, .u64, bytes), to: output)
            }
            output.append(UInt8(ascii: "\n"))
        case .folded:
            break
        }
    }

    func writeTableRow(_ layout: Layout, _ bytes: UnsafeRawBufferPointer) {
        if let containers, let at = layout.cgroupOffset, at + 8 <= bytes.count {
            let cgroup = loadInteger(at, .u64, bytes)
            if !containerColumn && containers.isContainer(cgroupID: cgroup) {
                containerColumn = true
                writeColumnHeaders(layout)
            }
            if containerColumn {
                let start = output.count, wide = output.wideBytes
                containers.appendTable(cgroupID: cgroup, to: output)
                align(from: start, wide: wide, Self.containerCell)
                output.append(UInt8(ascii: " "))
            }
        }
        for (i, c) in layout.columns.enumerated() {
            if i > 0 { output.append(UInt8(ascii: " ")) }
            let start = output.count, wide = output.wideBytes
            write(layout.plans[c.field], layout.plans, bytes, .table, to: output)
            align(from: start, wide: wide, c)
        }
        output.append(UInt8(ascii: "\n"))
    }

    /// `{"field":value,...}` without a newline; `skip` leaves one field out.
    func writeJSONObject(_ layout: Layout, _ bytes: UnsafeRawBufferPointer, skip: Int = -1) {
        let plans = layout.plans
        output.append(UInt8(ascii: "{"))
        var first = true
        for i in plans.indices where i != skip {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            let key = layout.keyRanges[i]
            output.append(UnsafeRawBufferPointer(start: layout.keyBytes.baseAddress! + key.lowerBound, count: key.count))
            write(plans[i], plans, bytes, .json, to: output)
        }
        if let containers, let at = layout.cgroupOffset, at + 8 <= bytes.count {
            containers.appendJSON(cgroupID: loadInteger(at, .u64, bytes), to: output)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// Pads the cell written since `start` to its column; `wide` is output.wideBytes at `start`,
    /// so multi-byte characters count as one column each.
    @inline(__always) func align(from start: Int, wide: Int, _ c: Column) {
        guard c.width > 0 else { return }
        let w = output.wideBytes - wide
        if c.right { output.alignRight(from: start, width: c.width, wide: w) } else { output.padLeftAligned(from: start, width: c.width, wide: w) }
    }

    /// The header line of a table (events at the start, report rows with each report).
    func writeColumnHeaders(_ layout: Layout) {
        if containerColumn && layout.cgroupOffset != nil {
            let start = output.count, wide = output.wideBytes
            output.append(StaticString("CONTAINER"))
            align(from: start, wide: wide, Self.containerCell)
            output.append(UInt8(ascii: " "))
        }
        for (i, c) in layout.columns.enumerated() {
            if i > 0 { output.append(UInt8(ascii: " ")) }
            let start = output.count, wide = output.wideBytes
            TableText.append(layout.headers[i], to: output)
            align(from: start, wide: wide, c)
        }
        output.append(UInt8(ascii: "\n"))
    }

    enum Style { case table, json, csv }

    func write(_ plan: FieldPlan, _ plans: UnsafeMutableBufferPointer<FieldPlan>, _ bytes: UnsafeRawBufferPointer, _ style: Style, to out: OutputBuffer) {
        switch plan {
        case .string(let offset, let size, let argv):
            let available = max(0, min(size, bytes.count - offset))
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + available)])
            if argv {
                scratch.reset()
                var end = slice.count
                while end > 0 && slice[end - 1] == 0 { end -= 1 }
                for b in slice[..<end] { scratch.append(b == 0 ? 0x20 : b) }
                text(scratch.bytes, style, to: out)
            } else {
                var length = slice.count
                if let base = slice.baseAddress, let nul = memchr(base, 0, slice.count) {
                    length = base.distance(to: UnsafeRawPointer(nul))
                }
                text(UnsafeRawBufferPointer(rebasing: slice[..<length]), style, to: out)
            }
        case .bytes(let offset, let size):
            quoted(style, out) {
                for b in bytes[offset..<(offset + size)] { out.appendRadix(UInt64(b), radix: 16, minDigits: 2) }
            }
        case .bool(let offset):
            out.append(bytes[offset] != 0 ? StaticString("true") : StaticString("false"))
        case .address(let offset, let size, let unmapV4):
            var raw = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
            if unmapV4 && IPAddress.isV4Mapped(raw) { raw = UnsafeRawBufferPointer(rebasing: raw[12..<16]) }
            quoted(style, out) { IPAddress.append(raw, to: out) }
        case .integer(let offset, let type, let render):
            let raw = loadInteger(offset, type, bytes)
            writeInteger(raw, signed: type.isSigned, render, style, to: out)
        case .template(let index):
            let t = templates[index]
            var segments = t.fallback
            if let sel = t.selector, case .integer(let o, let type, _) = plans[sel] {
                segments = t.byValue[Int64(bitPattern: loadInteger(o, type, bytes))] ?? t.fallback
            }
            // A template is display text: composed as the table shows it (literals and fields
            // sanitised by TableText), then escaped for JSON or CSV. JSON therefore gets the
            // table's '?' for controls in a template; the fields themselves keep exact values.
            if style == .table {
                writeSegments(segments, plans, bytes, to: out)
            } else {
                scratch.reset()
                writeSegments(segments, plans, bytes, to: scratch)
                text(scratch.bytes, style, to: out)
            }
        case .stack:
            switch style {
            case .json:
                out.append(UInt8(ascii: "["))
                var first = true
                forEachFrame(plan, plans, bytes, flags: StackSymbolizer.full) { name in
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    JSONText.appendString(name, to: out)
                }
                out.append(UInt8(ascii: "]"))
            case .csv, .table:
                scratch.reset()
                forEachFrame(plan, plans, bytes, flags: StackSymbolizer.full) { name in
                    if scratch.count > 0 { scratch.append(UInt8(ascii: ";")) }
                    scratch.append(name)
                }
                text(scratch.bytes, style, to: out)
            }
        case .histogram(let offset, let slots, let wide, let unit):
            // Tables and CSV lay histograms out by themselves (ReportFormatter); JSON nests them.
            let counts = histogramCounts(offset, slots, wide, bytes)
            out.append(StaticString("{\"unit\":"))
            JSONText.appendString(units[unit], to: out)
            out.append(StaticString(",\"buckets\":["))
            let last = counts.lastIndex { $0 != 0 } ?? -1
            if last >= 0 {
                for i in 0...last {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    let (low, high) = Log2Histogram.bounds(i)
                    out.append(StaticString("{\"low\":")); out.appendDecimal(low)
                    out.append(StaticString(",\"high\":")); out.appendDecimal(high)
                    out.append(StaticString(",\"count\":")); out.appendDecimal(counts[i])
                    out.append(UInt8(ascii: "}"))
                }
            }
            out.append(StaticString("]}"))
        }
    }

    func writeSegments(_ segments: [FieldPlan.Template.Segment], _ plans: UnsafeMutableBufferPointer<FieldPlan>, _ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        for s in segments {
            switch s {
            case .literal(let text): TableText.append(text, to: out)
            case .field(let i):
                // A nested template or argv would reuse the scratch buffer; schemas cannot nest
                // templates, and argv inside a template is written straight out, its
                // arguments (split at the NULs, which no UTF-8 sequence holds) joined by spaces.
                if case .string(let offset, let size, true) = plans[i] {
                    let available = max(0, min(size, bytes.count - offset))
                    var end = offset + available
                    while end > offset && bytes[end - 1] == 0 { end -= 1 }
                    var at = offset
                    while at < end {
                        var stop = at
                        while stop < end && bytes[stop] != 0 { stop += 1 }
                        TableText.append(UnsafeRawBufferPointer(rebasing: bytes[at..<stop]), to: out)
                        if stop < end { out.append(UInt8(ascii: " ")) }
                        at = stop + 1
                    }
                } else {
                    write(plans[i], plans, bytes, .table, to: out)
                }
            }
        }
    }

    func text(_ bytes: UnsafeRawBufferPointer, _ style: Style, to out: OutputBuffer) {
        switch style {
        case .table: TableText.append(bytes, to: out)
        case .json: JSONText.appendString(bytes, to: out)
        case .csv: CSVText.append(bytes, to: out)
        }
    }

    func writeInteger(_ raw: UInt64, signed: Bool, _ render: FieldPlan.IntegerRender, _ style: Style, to out: OutputBuffer) {
        switch render {
        case .decimal:
            if signed { out.appendDecimal(Int64(bitPattern: raw)) } else { out.appendDecimal(raw) }
        case .timestamp:
            quoted(style, out) {
                if style == .table { clock.appendTimeOfDay(bootNanoseconds: raw, to: out) } else { clock.appendISO8601(bootNanoseconds: raw, to: out) }
            }
        case .openFlags:
            if style == .table { out.appendRadix(raw, radix: 8, minDigits: 8) } else { quoted(style, out) { OpenFlags.append(raw, to: out) } }
        case .octal:
            quoted(style, out) {
                if raw != 0 { out.append(UInt8(ascii: "0")) }
                out.appendRadix(raw, radix: 8)
            }
        case .hex:
            quoted(style, out) {
                out.append(StaticString("0x"))
                out.appendRadix(raw, radix: 16)
            }
        case .signal:
            quoted(style, out) { Signals.append(Int64(bitPattern: raw), to: out) }
        case .capability, .syscall:
            // Named values are strings in JSON, like `values`; numbers without a name stay numbers.
            let value = signed ? Int64(bitPattern: raw) : Int64(bitPattern: raw & 0x7fff_ffff_ffff_ffff)
            let isCapability: Bool
            if case .capability = render { isCapability = true } else { isCapability = false }
            if let name = isCapability ? Capabilities.name(of: value) : Syscalls.name(of: value) {
                quoted(style, out) { out.append(name) }
            } else {
                out.appendDecimal(value)
            }
        case .errnoName:
            // Named errors are strings in JSON, like `values`; successes stay numbers.
            let value = signed ? Int64(bitPattern: raw) : Int64(bitPattern: raw & 0x7fff_ffff_ffff_ffff)
            if let name = Errnos.name(ofResult: value) {
                quoted(style, out) {
                    out.append(UInt8(ascii: "-"))
                    out.append(name)
                }
            } else {
                out.appendDecimal(value)
            }
        case .values(let index):
            if let name = valueNames[index].names[Int64(bitPattern: raw)] {
                quoted(style, out, csv: name.csvQuoted) { appendName(name, style, to: out) }
            } else if signed {
                out.appendDecimal(Int64(bitPattern: raw))
            } else {
                out.appendDecimal(raw)
            }
        case .bits(let index):
            let table = bitNames[index]
            quoted(style, out, csv: table.csvQuoted) {
                guard raw != 0 else { out.append(StaticString("0x0")); return }
                var rest = raw
                var first = true
                for (bit, name) in table.names where bit != 0 && rest & bit == bit {
                    if !first { out.append(UInt8(ascii: "|")) }
                    appendName(name, style, to: out)
                    rest &= ~bit
                    first = false
                }
                if rest != 0 {
                    if !first { out.append(UInt8(ascii: "|")) }
                    out.append(StaticString("0x"))
                    out.appendRadix(rest, radix: 16)
                }
            }
        case .scaled(let divisor, let decimals):
            var magnitude = raw
            if signed && Int64(bitPattern: raw) < 0 {
                out.append(UInt8(ascii: "-"))
                magnitude = UInt64(bitPattern: 0 &- Int64(bitPattern: raw))
            }
            out.appendDecimal(magnitude / divisor)
            if decimals > 0 {
                var pow: UInt64 = 1
                for _ in 0..<decimals { pow *= 10 }
                let frac = (magnitude % divisor).multipliedFullWidth(by: pow)
                out.append(UInt8(ascii: "."))
                out.appendFixed(divisor.dividingFullWidth(frac).quotient, digits: decimals)
            }
        }
    }

    /// Wraps a value in quotes: always in JSON, in CSV when `csv` says the cell needs them.
    @inline(__always) func quoted(_ style: Style, _ out: OutputBuffer, csv: Bool = false, _ body: () -> Void) {
        let q = style == .json || (csv && style == .csv)
        if q { out.append(UInt8(ascii: "\"")) }
        body()
        if q { out.append(UInt8(ascii: "\"")) }
    }

    /// A schema name inside its value: escaped for JSON, neutralised for CSV, sanitised for tables.
    @inline(__always) func appendName(_ name: FieldPlan.Name, _ style: Style, to out: OutputBuffer) {
        switch style {
        case .json: out.append(name.json)
        case .csv: out.append(name.csv)
        case .table: TableText.append(name.raw, to: out)
        }
    }

    @inline(__always) func loadInteger(_ offset: Int, _ type: FieldType, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        switch type {
        case .u8: return UInt64(bytes.load(fromByteOffset: offset, as: UInt8.self))
        case .i8: return UInt64(bitPattern: Int64(bytes.load(fromByteOffset: offset, as: Int8.self)))
        case .u16: return UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        case .i16: return UInt64(bitPattern: Int64(bytes.loadUnaligned(fromByteOffset: offset, as: Int16.self)))
        case .u32: return UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        case .i32: return UInt64(bitPattern: Int64(bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
        case .u64, .i64: return bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        default: return 0
        }
    }
}

extension FieldType {
    var isSigned: Bool { self == .i8 || self == .i16 || self == .i32 || self == .i64 }
}
