import CHostSupport
import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reports: rows and histograms collected since the last end_report, printed together.
extension EventFormatter {
    public func endReport(timestampNs: UInt64) {
        reports += 1
        symbolizer?.beginReport()
        var printed = false
        for layout in reportLayouts {
            guard let rows = pending[layout.record.id], !rows.isEmpty else { continue }
            writeReport(layout, rows, timestampNs)
            printed = true
        }
        // An empty report still shows that the interval passed (and, in JSON, that nothing happened).
        if !printed, let first = reportLayouts.first { writeReport(first, [], timestampNs) }
        for key in pending.keys { pending[key]!.removeAll(keepingCapacity: true) }
        output.recordDone()
        output.flush()
    }

    private func ordered(_ layout: Layout, _ rows: [[UInt8]]) -> [[UInt8]] {
        var rows = rows
        if let sortField = layout.sortField, case .integer(let offset, let type, _) = layout.plans[sortField] {
            func key(_ row: [UInt8]) -> Int64 {
                row.withUnsafeBytes { raw in
                    let v = loadInteger(offset, type, raw)
                    // Unsigned keys beyond Int64 still order above everything else.
                    return type.isSigned ? Int64(bitPattern: v) : Int64(min(v, UInt64(Int64.max)))
                }
            }
            rows = rows.map { (key($0), $0) }.sorted { $0.0 > $1.0 }.map { $0.1 }
        }
        if layout.limit > 0 && rows.count > layout.limit { rows.removeSubrange(layout.limit...) }
        return rows
    }

    private func writeReport(_ layout: Layout, _ rows: [[UInt8]], _ timestamp: UInt64) {
        let rows = layout.record.kind == .row ? ordered(layout, rows) : rows
        switch format {
        case .table:
            output.append(UInt8(ascii: "["))
            clock.appendTimeOfDay(bootNanoseconds: timestamp, to: output)
            output.append(StaticString("]\n"))
            if layout.record.kind == .histogram {
                for row in rows { row.withUnsafeBytes { writeHistogramTable(layout, $0) } }
            } else {
                writeColumnHeaders(layout)
                for row in rows { row.withUnsafeBytes { writeRecord(layout, $0) } }
            }
            output.append(UInt8(ascii: "\n"))
        case .json:
            output.append(StaticString("{\"time\":\""))
            clock.appendISO8601(bootNanoseconds: timestamp, to: output)
            output.append(StaticString("\",\"report\":"))
            JSONText.appendString(Array(layout.record.name.utf8), to: output)
            output.append(layout.record.kind == .histogram ? StaticString(",\"histograms\":[") : StaticString(",\"rows\":["))
            for (i, row) in rows.enumerated() {
                if i > 0 { output.append(UInt8(ascii: ",")) }
                row.withUnsafeBytes { writeJSONObject(layout, $0) }
            }
            output.append(StaticString("]}\n"))
        case .csv:
            writeCSVReport(layout, rows, timestamp)
        case .folded:
            // Samples at different instructions of one function fold to the same line: merge them.
            var counts: [[UInt8]: UInt64] = [:]
            var order: [[UInt8]] = []
            for row in rows {
                guard let (line, count) = row.withUnsafeBytes({ foldedLine(layout, $0) }) else { continue }
                if counts[line] == nil { order.append(line) }
                counts[line, default: 0] += count
            }
            for line in order.sorted(by: { counts[$0]! > counts[$1]! }) {
                output.append(line)
                output.append(UInt8(ascii: " "))
                output.appendDecimal(counts[line]!)
                output.append(UInt8(ascii: "\n"))
            }
        }
    }

    private func histogramField(_ layout: Layout) -> (index: Int, counts: (UnsafeRawBufferPointer) -> [UInt64], unit: [UInt8])? {
        for (i, plan) in layout.plans.enumerated() {
            if case .histogram(let offset, let slots, let wide, let unit) = plan {
                return (i, { self.histogramCounts(offset, slots, wide, $0) }, units[unit])
            }
        }
        return nil
    }

    /// `disk = vda` key line (when the histogram has visible keys), then the bars.
    private func writeHistogramTable(_ layout: Layout, _ bytes: UnsafeRawBufferPointer) {
        guard let hist = histogramField(layout) else { return }
        if !layout.columns.isEmpty {
            for (n, c) in layout.columns.enumerated() {
                if n > 0 { output.append(UInt8(ascii: " ")) }
                TableText.append(layout.record.fields[c.field].name, to: output)
                output.append(StaticString(" = "))
                write(layout.plans[c.field], layout.plans, bytes, .table, to: output)
            }
            output.append(UInt8(ascii: "\n"))
        }
        Log2Histogram.appendTable(hist.counts(bytes), unit: hist.unit, to: output)
    }

    private func writeCSVReport(_ layout: Layout, _ rows: [[UInt8]], _ timestamp: UInt64) {
        let hist = histogramField(layout)
        let keys = layout.plans.indices.filter { $0 != hist?.index }
        if !layout.csvHeaderDone {
            layout.csvHeaderDone = true
            output.append(StaticString("time"))
            for i in keys { output.append(UInt8(ascii: ",")); CSVText.append(layout.record.fields[i].name, to: output) }
            if hist != nil { output.append(StaticString(",unit,low,high,count")) }
            output.append(UInt8(ascii: "\n"))
        }
        for row in rows {
            row.withUnsafeBytes { bytes in
                func prefix() {
                    clock.appendISO8601(bootNanoseconds: timestamp, to: output)
                    for i in keys {
                        output.append(UInt8(ascii: ","))
                        write(layout.plans[i], layout.plans, bytes, .csv, to: output)
                    }
                }
                guard let hist else {
                    prefix()
                    output.append(UInt8(ascii: "\n"))
                    return
                }
                let counts = hist.counts(bytes)
                guard let last = counts.lastIndex(where: { $0 != 0 }) else { return }
                for slot in 0...last {
                    prefix()
                    output.append(UInt8(ascii: ","))
                    CSVText.append(hist.unit, to: output)
                    let (low, high) = Log2Histogram.bounds(slot)
                    output.append(UInt8(ascii: ",")); output.appendDecimal(low)
                    output.append(UInt8(ascii: ",")); output.appendDecimal(high)
                    output.append(UInt8(ascii: ",")); output.appendDecimal(counts[slot])
                    output.append(UInt8(ascii: "\n"))
                }
            }
        }
    }

    /// `comm;outer;...;inner` and the row's count: user frames, then kernel frames, outermost first.
    private func foldedLine(_ layout: Layout, _ bytes: UnsafeRawBufferPointer) -> ([UInt8], UInt64)? {
        let plans = layout.plans
        let stacks = plans.indices.filter { if case .stack = plans[$0] { return true } else { return false } }
        guard !stacks.isEmpty else { return nil }
        let root = plans.indices.first { if case .string = plans[$0] { return true } else { return false } }
        scratch.reset()
        if let root { write(plans[root], plans, bytes, .table, to: scratch) }
        var line = scratch.contents
        // User stacks first: a flame graph grows from user code into the kernel.
        let userFirst = stacks.sorted { a, b in
            if case .stack(_, _, let ka, _) = plans[a], case .stack(_, _, let kb, _) = plans[b] { return !ka && kb }
            return false
        }
        for i in userFirst {
            var frames: [[UInt8]] = []
            forEachFrame(plans[i], plans, bytes, flags: StackSymbolizer.bare) { frames.append(Array($0)) }
            for frame in frames.reversed() {
                if !line.isEmpty { line.append(UInt8(ascii: ";")) }
                // Symbol names come from the traced process's files: sanitised like table text.
                // ';' and ' ' separate frames and the count in the folded format.
                scratch.reset()
                TableText.append(frame, to: scratch)
                line += scratch.contents.map { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: " ") ? UInt8(ascii: "_") : $0 }
            }
        }
        var count: UInt64 = 1
        if let sortField = layout.sortField, case .integer(let offset, let type, _) = plans[sortField] {
            count = loadInteger(offset, type, bytes)
        }
        return (line, count)
    }

    /// Each frame of a stack field, innermost first, as symbolizer text.
    func forEachFrame(_ plan: FieldPlan, _ plans: UnsafeMutableBufferPointer<FieldPlan>, _ bytes: UnsafeRawBufferPointer,
                      flags: Int32, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard case .stack(let offset, let size, let kernel, let pidField) = plan, let symbolizer else { return }
        var pid: Int32 = 0
        if !kernel, pidField >= 0, case .integer(let o, let type, _) = plans[pidField] {
            pid = Int32(truncatingIfNeeded: loadInteger(o, type, bytes))
        }
        let end = min(offset + size, bytes.count)
        var at = offset
        while at + 8 <= end {
            let address = bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            if address == 0 { break }
            if !kernel && pid <= 0 {
                // A user stack without its process cannot be symbolized.
                var hex = [UInt8]("0x".utf8)
                hex += Array(String(address, radix: 16).utf8)
                hex.withUnsafeBytes { body($0) }
            } else {
                body(symbolizer.name(pid: kernel ? 0 : pid, address: address, flags: flags))
            }
            at += 8
        }
    }

    /// A stack under a table row, one frame per line.
    func writeStackLines(_ plan: FieldPlan, _ plans: UnsafeMutableBufferPointer<FieldPlan>, _ bytes: UnsafeRawBufferPointer) {
        forEachFrame(plan, plans, bytes, flags: StackSymbolizer.full) { name in
            output.appendSpaces(8)
            TableText.append(name, to: output)
            output.append(UInt8(ascii: "\n"))
        }
    }

    func histogramCounts(_ offset: Int, _ slots: Int, _ wide: Bool, _ bytes: UnsafeRawBufferPointer) -> [UInt64] {
        (0..<slots).map { i in
            let at = offset + i * (wide ? 8 : 4)
            guard at + (wide ? 8 : 4) <= bytes.count else { return 0 }
            return wide ? bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                        : UInt64(bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))
        }
    }
}
