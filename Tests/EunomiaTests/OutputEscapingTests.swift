import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// A plugin controls its schema's strings and the data it traces: neither may break a JSON line,
/// a CSV record or the terminal a table (or a CSV file) is shown on.
final class OutputEscapingTests: XCTestCase {
    static let schemaJSON = """
    {
      "name": "hostile", "version": "0.1.0", "description": "escaping", "abi": {"major": 1, "minor": 1},
      "parameters": [],
      "records": [
        { "id": 0, "name": "ev", "size": 64,
          "fields": [
            {"name": "op", "type": "u8", "offset": 0, "size": 1, "values": {"0": "A"}, "column": "OP", "width": 6},
            {"name": "tag", "type": "u8", "offset": 1, "size": 1, "column": "TAG", "width": 4},
            {"name": "flags", "type": "u32", "offset": 4, "size": 4, "bits": {"B": 1}, "column": "FLAGS", "width": 8},
            {"name": "call", "type": "template", "template": "<{op}>", "column": "CALL", "width": 4},
            {"name": "name", "type": "string", "offset": 8, "size": 56, "column": "NAME"}
          ]},
        { "id": 2, "name": "latency", "kind": "histogram", "size": 24,
          "fields": [
            {"name": "disk", "type": "string", "offset": 0, "size": 8},
            {"name": "slots", "type": "histogram", "offset": 8, "size": 16, "unit": "usecs"}
          ]}
      ]
    }
    """

    /// The schema above with hostile text patched in after decoding, so the test does not depend
    /// on what schema validation accepts.
    static func hostileSchema() throws -> PluginSchema {
        var schema = try PluginSchema.decode(Data(schemaJSON.utf8), source: "hostile")
        var fields = schema.records[0].fields
        fields[0].values = ["0": "a\"b\\c", "1": "d,e", "2": "h\u{e9}\u{e9}"]
        fields[1].name = "we\"ird,name"
        fields[1].column = "T\u{1b}G"
        fields[2].bits = ["x\ny": 1, "OK": 2, "p\"q": 4]
        fields[3].template = "\u{9b}<{op}>\n"
        schema.records[0].fields = fields
        schema.records[1].fields[0].name = "di\u{1b}sk"
        schema.records[1].fields[1].unit = "u\"s\u{9b}\n"
        return schema
    }

    func event(op: UInt8 = 0, tag: UInt8 = 7, flags: UInt32 = 3, name: [UInt8] = Array("hi".utf8)) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes[0] = op
        bytes[1] = tag
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: flags, toByteOffset: 4, as: UInt32.self) }
        return bytes + name.prefix(55) + [0]
    }

    func render(_ format: OutputFormat, _ records: [[UInt8]], header: Bool = true) throws -> [UInt8] {
        let schema = try Self.hostileSchema()
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []),
                               format: format, output: captured.buffer)
        if header { f.writeHeader() }
        for r in records { XCTAssertTrue(r.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) }) }
        captured.buffer.flush()
        return captured.bytes
    }

    func renderHistogram(_ format: OutputFormat) throws -> [UInt8] {
        let schema = try Self.hostileSchema()
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []),
                               format: format, output: captured.buffer)
        var b = [UInt8](repeating: 0, count: 24)
        b.replaceSubrange(0..<3, with: Array("vda".utf8))
        b.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(3), toByteOffset: 8, as: UInt32.self) }
        XCTAssertTrue(b.withUnsafeBytes { f.consume(recordID: 2, bytes: $0) })
        f.endReport(timestampNs: 1_000_000_000)
        captured.buffer.flush()
        return captured.bytes
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: schema text

    func testJSONEscapesSchemaNamesAndRoundTrips() throws {
        let out = try render(.json, [event(), event(op: 1, flags: 7)])
        let lines = text(out).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(String(lines[0]), #"{"op":"a\"b\\c","we\"ird,name":7,"flags":"x\ny|OK","call":"?<a\"b\\c>?","name":"hi"}"#)
        XCTAssertEqual(String(lines[1]), #"{"op":"d,e","we\"ird,name":7,"flags":"x\ny|OK|p\"q","call":"?<d,e>?","name":"hi"}"#)
        XCTAssertEqual(lines[2], "")
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(first["op"] as? String, "a\"b\\c")
        XCTAssertEqual(first["we\"ird,name"] as? Int, 7)
        XCTAssertEqual(first["flags"] as? String, "x\ny|OK")
        XCTAssertEqual(first["call"] as? String, "?<a\"b\\c>?", "templates are display text, composed like the table")
        let second = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        XCTAssertEqual(second["flags"] as? String, "x\ny|OK|p\"q")
    }

    func testTableNeutralisesSchemaNames() throws {
        let out = text(try render(.table, [event(), event(op: 1, flags: 7), event(op: 2, flags: 0)]))
        XCTAssertEqual(out, """
        OP     T?G  FLAGS    CALL NAME
        a"b\\c  7    x?y|OK   ?<a"b\\c>? hi
        d,e    7    x?y|OK|p"q ?<d,e>? hi
        h\u{e9}\u{e9}    7    0x0      ?<h\u{e9}\u{e9}>? hi

        """)
    }

    func testCSVQuotesHeaderNamesAndCells() throws {
        let out = text(try render(.csv, [event(), event(op: 1, flags: 7), event(op: 2, flags: 0)]))
        XCTAssertEqual(out, """
        op,"we""ird,name",flags,call,name
        "a""b\\c",7,"x?y|OK","?<a""b\\c>?",hi
        "d,e",7,"x?y|OK|p""q","?<d,e>?",hi
        h\u{e9}\u{e9},7,"0x0",?<h\u{e9}\u{e9}>?,hi

        """)
    }

    func testHistogramUnitAndKeyName() throws {
        let json = try renderHistogram(.json)
        let line = text(json)
        XCTAssertTrue(line.contains(#""di\u001bsk":"vda","slots":{"unit":"u\"s\u009b\n","buckets":[{"low":0,"high":1,"count":3}]}"#), line)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let hist = try XCTUnwrap((object["histograms"] as? [[String: Any]])?.first)
        XCTAssertEqual((hist["slots"] as? [String: Any])?["unit"] as? String, "u\"s\u{9b}\n")
        XCTAssertEqual(hist["di\u{1b}sk"] as? String, "vda")

        let table = text(try renderHistogram(.table)).split(separator: "\n").map(String.init)
        XCTAssertEqual(table[1], "di?sk = vda")
        XCTAssertEqual(table[2], "     u\"s??               : count    distribution")

        let csv = text(try renderHistogram(.csv)).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "time,di?sk,unit,low,high,count")
        XCTAssertTrue(csv[1].hasSuffix(#",vda,"u""s??",0,1,3"#), csv[1])
    }

    // MARK: traced data

    /// Hostile data: the bytes each format writes for it (inside the JSON quotes).
    static let dataCases: [(input: [UInt8], table: String, csv: String, json: String)] = [
        ([0x1B] + Array("[2J".utf8), "?[2J", "?[2J", #"\u001b[2J"#),
        ([0x41, 0x9B, 0x42], "A?B", "A\u{FFFD}B", "A\u{FFFD}B"),             // raw CSI byte: invalid UTF-8
        ([0x41, 0xC2, 0x9B, 0x42], "A?B", "A?B", #"A\u009bB"#),              // U+009B CSI
        ([0xC2, 0x85], "?", "?", #"\u0085"#),                                // U+0085 NEL
        ([0x61, 0xE2, 0x80, 0xA8, 0x62], "a?b", "a?b", #"a\u2028b"#),        // LINE SEPARATOR
        ([0xE2, 0x80, 0xA9], "?", "?", #"\u2029"#),
        ([0x61, 0xE2, 0x80, 0xAE, 0x62], "a?b", "a?b", #"a\u202eb"#),        // RIGHT-TO-LEFT OVERRIDE
        ([0xD8, 0x9C, 0xE2, 0x80, 0x8E, 0xE2, 0x80, 0x8F, 0xE2, 0x80, 0xAA, 0xE2, 0x81, 0xA6, 0xE2, 0x81, 0xA9],
         "??????", "??????", #"\u061c\u200e\u200f\u202a\u2066\u2069"#),
        ([0xFF], "?", "\u{FFFD}", "\u{FFFD}"),
        ([0x78, 0xE2, 0x82], "x??", "x\u{FFFD}\u{FFFD}", "x\u{FFFD}\u{FFFD}"),                 // truncated at the end
        ([0xE2, 0x82, 0x41], "??A", "\u{FFFD}\u{FFFD}A", "\u{FFFD}\u{FFFD}A"),                 // truncated, then ASCII
        ([0xF0, 0x9F, 0x98], "???", String(repeating: "\u{FFFD}", count: 3), String(repeating: "\u{FFFD}", count: 3)),
        ([0xC0, 0xAF], "??", "\u{FFFD}\u{FFFD}", "\u{FFFD}\u{FFFD}"),                         // overlong '/'
        ([0xED, 0xA0, 0x80], "???", String(repeating: "\u{FFFD}", count: 3), String(repeating: "\u{FFFD}", count: 3)), // surrogate
        ([0xF4, 0x90, 0x80, 0x80], "????", String(repeating: "\u{FFFD}", count: 4), String(repeating: "\u{FFFD}", count: 4)), // > U+10FFFF
        ([0x09, 0x0A, 0x0D, 0x7F], "????", "????", #"\t\n\r\u007f"#),
        (Array("caf\u{e9} \u{1F600} \u{a0}\u{2027}".utf8), "caf\u{e9} \u{1F600} \u{a0}\u{2027}",
         "caf\u{e9} \u{1F600} \u{a0}\u{2027}", "caf\u{e9} \u{1F600} \u{a0}\u{2027}"),       // printable: as is
        (Array("a,\"b\"\\".utf8), "a,\"b\"\\", "\"a,\"\"b\"\"\\\"", #"a,\"b\"\\"#),
    ]

    func testDataBytesPerFormat() throws {
        for (n, c) in Self.dataCases.enumerated() {
            let table = try render(.table, [event(name: c.input)], header: false)
            XCTAssertEqual(text(table), "a\"b\\c  7    x?y|OK   ?<a\"b\\c>? " + c.table + "\n", "case \(n)")
            XCTAssertEqual(table, Array(("a\"b\\c  7    x?y|OK   ?<a\"b\\c>? " + c.table + "\n").utf8), "case \(n)")

            let csv = try render(.csv, [event(name: c.input)], header: false)
            XCTAssertEqual(csv, Array(("\"a\"\"b\\c\",7,\"x?y|OK\",\"?<a\"\"b\\c>?\"," + c.csv + "\n").utf8), "case \(n): \(text(csv))")

            let json = try render(.json, [event(name: c.input)])
            let expected = #"{"op":"a\"b\\c","we\"ird,name":7,"flags":"x\ny|OK","call":"?<a\"b\\c>?","name":""# + c.json + "\"}\n"
            XCTAssertEqual(json, Array(expected.utf8), "case \(n): \(text(json))")
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.dropLast())) as? [String: Any], "case \(n)")
            let valid = String(validating: c.input, as: UTF8.self)
            // Valid text comes back exactly; each invalid byte as one U+FFFD.
            XCTAssertEqual(object["name"] as? String, valid ?? c.csv, "case \(n)")
            XCTAssertEqual(object["we\"ird,name"] as? Int, 7)
        }
    }

    func testEveryOutputIsValidUTF8() throws {
        let all = Self.dataCases.flatMap { $0.input }
        for format in [OutputFormat.table, .json, .csv] {
            let out = try render(format, [event(name: Array(all.prefix(55))), event(name: Array(all.suffix(55)))])
            XCTAssertNotNil(String(validating: out, as: UTF8.self), "\(format)")
            XCTAssertFalse(out.contains(0x1B), "\(format)")
        }
    }

    func testTableColumnsCountCharactersNotBytes() throws {
        // 'héé' is 5 bytes, 3 columns: padded to the 6-column OP like 'd,e'.
        let lines = text(try render(.table, [event(op: 2), event(op: 1)])).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[1].firstRange(of: "7")?.lowerBound.utf16Offset(in: lines[1]),
                       lines[2].firstRange(of: "7")?.lowerBound.utf16Offset(in: lines[2]))
    }

    func testTemplateArgvIsSanitised() throws {
        var schema = try PluginSchema.decode(Data("""
        {"name": "a", "version": "0.1.0", "description": "", "abi": {"major": 1, "minor": 0}, "parameters": [],
         "records": [{"id": 0, "name": "r", "size": 32, "fields": [
           {"name": "call", "type": "template", "template": "run {args}", "column": "CALL"},
           {"name": "args", "type": "string", "offset": 0, "size": 32, "display": "argv", "hidden": true}]}]}
        """.utf8), source: "a")
        schema.records[0].fields[0].template = "\u{202e}run {args}\u{7f}"
        for (format, expected) in [(OutputFormat.table, "?run sh -c a?b ??\u{e9}?\n"),
                                   (.csv, "?run sh -c a?b ??\u{e9}?,sh -c a?b \u{FFFD}?\u{e9}\n"),
                                   (.json, #"{"call":"?run sh -c a?b ??\#u{e9}?","args":"sh -c a\u001bb \#u{FFFD}\u2028\#u{e9}"}"# + "\n")] {
            let captured = CapturedOutput()
            let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []),
                                   format: format, output: captured.buffer)
            let record: [UInt8] = Array("sh\0-c\0a".utf8) + [0x1B, 0x62, 0x20, 0xFF, 0xE2, 0x80, 0xA8, 0xC3, 0xA9, 0, 0]
            XCTAssertTrue(record.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) })
            XCTAssertEqual(captured.text, expected, "\(format)")
        }
    }

    func testTerminalTextSanitized() {
        XCTAssertEqual(TerminalText.sanitized("Trace open()\u{1b}[2J\n\u{9b}31m \u{202e}evil\u{2028}caf\u{e9}\u{7f}"),
                       "Trace open()?[2J??31m ?evil?caf\u{e9}?")
        XCTAssertEqual(TerminalText.sanitized("plain text, 100% ASCII"), "plain text, 100% ASCII")
        XCTAssertEqual(TerminalText.sanitized(""), "")
    }

    // MARK: the escapers against a byte-at-a-time model

    /// One scalar of a valid UTF-8 sequence at i, decided by the standard library.
    func modelDecode(_ s: [UInt8], _ i: Int) -> (Int, UInt32)? {
        let b = s[i]
        let len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
        guard len > 1, i + len <= s.count, let str = String(validating: s[i..<(i + len)], as: UTF8.self),
              str.unicodeScalars.count == 1 else { return nil }
        return (len, str.unicodeScalars.first!.value)
    }

    func modelNeutralised(_ v: UInt32) -> Bool {
        (0x80...0x9F).contains(v) || [0x061C, 0x200E, 0x200F, 0x2028, 0x2029].contains(v)
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    func model(_ s: [UInt8], _ format: OutputFormat) -> [UInt8] {
        var out: [UInt8] = []
        var quote = false
        var i = 0
        let fffd = Array("\u{FFFD}".utf8)
        while i < s.count {
            let b = s[i]
            if b < 0x80 {
                switch format {
                case .json:
                    switch b {
                    case 0x22: out += Array(#"\""#.utf8)
                    case 0x5C: out += Array(#"\\"#.utf8)
                    case 0x0A: out += Array(#"\n"#.utf8)
                    case 0x09: out += Array(#"\t"#.utf8)
                    case 0x0D: out += Array(#"\r"#.utf8)
                    case 0..<0x20, 0x7F: out += Array(String(format: "\\u%04x", Int(b)).utf8)
                    default: out.append(b)
                    }
                default:
                    if b == 0x22 && format == .csv { quote = true; out += [b, b] } else {
                        if b == 0x2C && format == .csv { quote = true }
                        out.append(b < 0x20 || b == 0x7F ? 0x3F : b)
                    }
                }
                i += 1
            } else if let (len, v) = modelDecode(s, i) {
                if modelNeutralised(v) {
                    out += format == .json ? Array(String(format: "\\u%04x", Int(v)).utf8) : [0x3F]
                } else {
                    out += s[i..<(i + len)]
                }
                i += len
            } else {
                out += format == .table ? [0x3F] : fffd
                i += 1
            }
        }
        if format == .json { return [0x22] + out + [0x22] }
        return quote ? [0x22] + out + [0x22] : out
    }

    func testEscapersMatchModelOnRandomBytes() {
        // Deterministic: a xorshift generator, bytes drawn mostly from the interesting ones, at
        // every position relative to the 8-byte runs the fast path scans.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        let pieces: [[UInt8]] = [
            Array("abcdefgh".utf8), [0x2C], [0x22], [0x5C], [0x20], [0x7E], [0x7F], [0x1B], [0x0A], [0x0D], [0x09], [0x01],
            [0x9B], [0xFF], [0x80], [0xC2, 0x9B], [0xC2, 0xA0], [0xC3, 0xA9], [0xE2, 0x80, 0xA8], [0xE2, 0x80, 0xAE],
            [0xE2, 0x81, 0xA6], [0xD8, 0x9C], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98, 0x80],
            [0xF0, 0x9F, 0x98], [0xF4, 0x90, 0x80, 0x80], [0xEF, 0xBF, 0xBD],
        ]
        for _ in 0..<3000 {
            var s: [UInt8] = []
            let n = Int(next() % 12)
            for _ in 0..<n {
                let r = next()
                if r % 3 == 0 {
                    s += Array(repeating: UInt8(0x61 + r % 26), count: Int((r >> 8) % 11))
                } else if r % 7 == 1 {
                    s.append(UInt8(truncatingIfNeeded: r >> 16))
                } else {
                    s += pieces[Int((r >> 4) % UInt64(pieces.count))]
                }
            }
            for format in [OutputFormat.table, .csv, .json] {
                let out = OutputBuffer(capacity: 16) { _ in true }
                s.withUnsafeBytes { raw in
                    switch format {
                    case .table: TableText.append(raw, to: out)
                    case .csv: CSVText.append(raw, to: out)
                    default: JSONText.appendString(raw, to: out)
                    }
                }
                XCTAssertEqual(out.contents, model(s, format), "\(format) of \(s)")
            }
        }
    }
}
