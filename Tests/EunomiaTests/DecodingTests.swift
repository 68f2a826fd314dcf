import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// Records are decoded generically from the schema and rendered per output format.
final class DecodingTests: XCTestCase {
    static let schemaJSON = """
    {
      "name": "demo", "version": "0.1.0", "description": "decoding test", "abi": {"major": 1, "minor": 0},
      "parameters": [
        {"name": "wide", "type": "boolean", "default": false, "description": "show the FLAGS column"}
      ],
      "records": [{
        "id": 0, "name": "ev", "size": 64,
        "fields": [
          {"name": "pid", "type": "u32", "offset": 0, "size": 4, "column": "PID", "width": 6},
          {"name": "ret", "type": "i32", "offset": 4, "size": 4, "column": "RET", "width": 4, "align": "right"},
          {"name": "flags", "type": "u32", "offset": 8, "size": 4, "display": "open_flags", "column": "FLAGS", "width": 8, "when": "wide"},
          {"name": "signo", "type": "u8", "offset": 12, "size": 1, "column": "SIG", "width": 7, "when": "!wide"},
          {"name": "sig", "type": "u8", "offset": 12, "size": 1, "display": "signal", "column": "SIG", "width": 7, "when": "wide"},
          {"name": "addr", "type": "bytes", "offset": 16, "size": 4, "display": "ipv4", "column": "ADDR", "width": 15},
          {"name": "secret", "type": "u64", "offset": 24, "size": 8, "hidden": true},
          {"name": "name", "type": "string", "offset": 32, "size": 32, "column": "NAME"}
        ]
      }]
    }
    """

    func record(pid: UInt32 = 42, ret: Int32 = -2, flags: UInt32 = 0o2000101, sig: UInt8 = 10, name: String = "hello", length: Int? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: pid, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: ret, toByteOffset: 4, as: Int32.self)
            b.storeBytes(of: flags, toByteOffset: 8, as: UInt32.self)
            b.storeBytes(of: sig, toByteOffset: 12, as: UInt8.self)
            b.storeBytes(of: UInt64(99), toByteOffset: 24, as: UInt64.self)
        }
        bytes[16] = 127; bytes[17] = 0; bytes[18] = 0; bytes[19] = 1
        let utf8 = Array(name.utf8.prefix(31))
        bytes.replaceSubrange(32..<(32 + utf8.count), with: utf8)
        return Array(bytes.prefix(length ?? 64))
    }

    func render(_ format: OutputFormat, params: [String] = [], records: [[UInt8]]) throws -> (String, EventFormatter) {
        let schema = try PluginSchema.decode(Data(Self.schemaJSON.utf8), source: "demo")
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: params),
                               format: format, output: captured.buffer)
        f.writeHeader()
        for r in records { _ = r.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) } }
        return (captured.text, f)
    }

    /// Decimal digits written two at a time: every length, both edges of each.
    func testDecimalsOfEveryLength() {
        var values: [UInt64] = [0, UInt64.max]
        var p: UInt64 = 1
        for _ in 0..<19 {
            p *= 10
            values += [p - 1, p, p + 1, p / 2 + 7]
        }
        let out = OutputBuffer { _ in true }
        for v in values {
            out.reset()
            out.appendDecimal(v)
            XCTAssertEqual(String(decoding: out.contents, as: UTF8.self), String(v))
        }
        for v: Int64 in [Int64.min, -1, -10, -99, 0, Int64.max] {
            out.reset()
            out.appendDecimal(v)
            XCTAssertEqual(String(decoding: out.contents, as: UTF8.self), String(v))
        }
    }

    func testTable() throws {
        let (text, _) = try render(.table, records: [record()])
        XCTAssertEqual(text, """
        PID     RET SIG     ADDR            NAME
        42       -2 10      127.0.0.1       hello

        """)
    }

    func testTableOptionalColumnAndOctalFlags() throws {
        let (text, _) = try render(.table, params: ["wide"], records: [record()])
        XCTAssertEqual(text.split(separator: "\n")[1], "42       -2 02000101 SIGUSR1 127.0.0.1       hello")
    }

    func testJSONHasEveryFieldTyped() throws {
        let (text, _) = try render(.json, records: [record()])
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertEqual(obj["pid"] as? Int, 42)
        XCTAssertEqual(obj["ret"] as? Int, -2)
        XCTAssertEqual(obj["flags"] as? String, "O_WRONLY|O_CREAT|O_CLOEXEC")
        XCTAssertEqual(obj["sig"] as? String, "SIGUSR1")
        XCTAssertEqual(obj["addr"] as? String, "127.0.0.1")
        XCTAssertEqual(obj["secret"] as? Int, 99)
        XCTAssertEqual(obj["name"] as? String, "hello")
    }

    func testJSONEscapesHostileStrings() throws {
        let nasty = "a\"b\\c\nd\u{1}é"
        let (text, _) = try render(.json, records: [record(name: nasty)])
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertEqual(obj["name"] as? String, nasty)
        var raw = record(name: "x")
        raw[32] = 0xFF // invalid UTF-8 still yields valid JSON
        let (text2, _) = try render(.json, records: [raw])
        let obj2 = try JSONSerialization.jsonObject(with: Data(text2.utf8)) as! [String: Any]
        XCTAssertEqual(obj2["name"] as? String, "\u{FFFD}")
    }

    func testTableNeutralisesControlCharacters() throws {
        let (text, _) = try render(.table, records: [record(name: "evil\u{1b}[2J\nline")])
        XCTAssertTrue(text.hasSuffix("evil?[2J?line\n"), text)
    }

    func testCSVQuotes() throws {
        let (text, _) = try render(.csv, records: [record(name: "a,\"b\"")])
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines[0], "pid,ret,flags,signo,sig,addr,secret,name")
        XCTAssertEqual(lines[1], #"42,-2,O_WRONLY|O_CREAT|O_CLOEXEC,10,SIGUSR1,127.0.0.1,99,"a,""b""""#)
    }

    func testShortTrailingStringAcceptedTruncatedFixedPartRejected() throws {
        let (text, f) = try render(.json, records: [record(name: "hello", length: 38), record(length: 20)])
        XCTAssertEqual(text.split(separator: "\n").count, 1)
        XCTAssertTrue(text.contains(#""name":"hello""#))
        XCTAssertEqual(f.malformed, 1)
    }

    func testTimestampRendering() throws {
        let schema = try PluginSchema.decode(Data("""
        {"name":"t","version":"1.0.0","description":"","abi":{"major":1,"minor":0},"parameters":[],
         "records":[{"id":0,"name":"r","size":8,"fields":[{"name":"ts","type":"u64","offset":0,"size":8,"display":"timestamp"}]}]}
        """.utf8), source: "t")
        var ts: UInt64 = 0
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        ts = UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: .json, output: captured.buffer)
        _ = withUnsafeBytes(of: &ts) { f.consume(recordID: 0, bytes: $0) }
        let obj = try JSONSerialization.jsonObject(with: Data(captured.text.utf8)) as! [String: String]
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let value = obj["ts"]!
        let trimmed = String(value.prefix(23)) + "Z" // ISO8601DateFormatter takes milliseconds
        let date = try XCTUnwrap(iso.date(from: trimmed), value)
        XCTAssertLessThan(abs(date.timeIntervalSinceNow), 5)
    }

    /// Formats records of a one-record schema (fields as JSON text) in every format.
    func renderAll(fields: String, size: Int, _ records: [[UInt8]]) throws -> [OutputFormat: String] {
        let schema = try PluginSchema.decode(Data("""
        {"name":"v","version":"1.0.0","description":"","abi":{"major":1,"minor":0},"parameters":[],
         "records":[{"id":0,"name":"r","size":\(size),"fields":[\(fields)]}]}
        """.utf8), source: "v")
        var result: [OutputFormat: String] = [:]
        for format in [OutputFormat.table, .json, .csv] {
            let captured = CapturedOutput()
            let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: format, output: captured.buffer)
            f.writeHeader()
            for r in records { XCTAssertTrue(r.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) }, "\(format): record of \(r.count) bytes refused") }
            XCTAssertEqual(f.malformed, 0)
            result[format] = captured.text
        }
        return result
    }

    func testCapabilityAndSyscallNames() throws {
        let fields = """
        {"name":"cap","type":"i32","offset":0,"size":4,"display":"capability","column":"CAP","width":14},
        {"name":"id","type":"u32","offset":4,"size":4,"display":"syscall","column":"SYSCALL","width":10},
        {"name":"n","type":"u32","offset":8,"size":4,"column":"N"}
        """
        func rec(_ cap: Int32, _ id: UInt32) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: 12)
            b.withUnsafeMutableBytes { $0.storeBytes(of: cap, toByteOffset: 0, as: Int32.self); $0.storeBytes(of: id, toByteOffset: 4, as: UInt32.self) }
            return b
        }
        #if arch(x86_64)
        let openat: UInt32 = 257, openatNumber = 257
        #elseif arch(arm64)
        let openat: UInt32 = 56, openatNumber = 56
        #endif
        let out = try renderAll(fields: fields, size: 12, [rec(21, openat), rec(0, 0), rec(40, 99_999), rec(41, 0), rec(-1, 0)])
        let table = try XCTUnwrap(out[.table]).split(separator: "\n").map(String.init)
        XCTAssertEqual(table[0], "CAP            SYSCALL    N")
        XCTAssertEqual(table[1], "CAP_SYS_ADMIN  openat     0")
        XCTAssertEqual(table[2], "CAP_CHOWN      read       0")
        XCTAssertEqual(table[3], "CAP_CHECKPOINT_RESTORE 99999      0", "unknown syscall numbers show as numbers")
        XCTAssertEqual(table[4], "41             read       0", "unknown capabilities show as numbers")
        XCTAssertEqual(table[5], "-1             read       0")
        let json = try XCTUnwrap(out[.json]).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(json[0]["cap"] as? String, "CAP_SYS_ADMIN")
        XCTAssertEqual(json[0]["id"] as? String, "openat")
        XCTAssertEqual(json[2]["id"] as? Int, 99_999, "a number without a name stays a JSON number")
        XCTAssertEqual(json[3]["cap"] as? Int, 41)
        let csv = try XCTUnwrap(out[.csv]).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "cap,id,n")
        XCTAssertEqual(csv[1], "CAP_SYS_ADMIN,openat,0")
        XCTAssertEqual(csv[4], "41,read,0")
        // The tables themselves: a few fixed points of linux/capability.h and the syscall table.
        XCTAssertEqual(Capabilities.names.count, 41)
        XCTAssertEqual(Capabilities.number(named: "CAP_BPF"), 39)
        XCTAssertEqual(Capabilities.number(named: "CAP_NET_BIND_SERVICE"), 10)
        XCTAssertEqual(Syscalls.number(named: "openat"), Int64(openatNumber))
        XCTAssertNil(Syscalls.number(named: ""))
        XCTAssertNil(Syscalls.number(named: "no_such_call"))
        #if arch(x86_64)
        XCTAssertEqual(Syscalls.name(of: 59)?.description, "execve")
        XCTAssertEqual(Syscalls.name(of: 435)?.description, "clone3")
        XCTAssertNil(Syscalls.name(of: 400), "x86_64 has no 335-423")
        #endif
    }

    /// eunomia_output_array: a record cut inside or before its trailing stack shows the frames
    /// it carries and no more; its fixed part must still be whole.
    func testShortStackShowsOnlyTheFramesSent() throws {
        // A user stack without a pid is shown as addresses (nothing to symbolize it with).
        let fields = """
        {"name":"pid","type":"u32","offset":0,"size":4,"column":"PID"},
        {"name":"frames","type":"u32","offset":4,"size":4,"column":"FRAMES"},
        {"name":"stack","type":"stack","stack":"user","pid":"pid","offset":8,"size":64}
        """
        func rec(_ frames: [UInt64], length: Int? = nil) -> [UInt8] {
            var b = [UInt8](repeating: 0xEE, count: 72) // garbage past what is sent
            b.replaceSubrange(0..<8, with: [UInt8](repeating: 0, count: 8))
            b[4] = UInt8(frames.count)
            for (i, f) in frames.enumerated() { withUnsafeBytes(of: f) { b.replaceSubrange((8 + 8 * i)..<(16 + 8 * i), with: $0) } }
            return Array(b.prefix(length ?? 8 + 8 * frames.count))
        }
        let full = [UInt64](repeating: 0xabc0, count: 8).enumerated().map { $0.element + UInt64($0.offset) }
        let out = try renderAll(fields: fields, size: 72, [
            rec([0x1111, 0x2222]),              // two frames sent
            rec([]),                            // no stack at all: the record ends where it begins
            rec([0x3333], length: 8 + 8 + 5),   // a torn frame is no frame
            rec(full),                          // the whole array, no terminating 0
        ])
        let json = try XCTUnwrap(out[.json]).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(json.count, 4)
        XCTAssertEqual(json[0]["stack"] as? [String], ["0x1111", "0x2222"])
        XCTAssertEqual(json[1]["stack"] as? [String], [])
        XCTAssertEqual(json[2]["stack"] as? [String], ["0x3333"])
        XCTAssertEqual(json[3]["stack"] as? [String], full.map { "0x" + String($0, radix: 16) })
        let csv = try XCTUnwrap(out[.csv]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(csv[1], "0,2,0x1111;0x2222")
        XCTAssertEqual(csv[2], "0,0,")
        let table = try XCTUnwrap(out[.table])
        XCTAssertEqual(table, """
        PID FRAMES
        0   2
                0x1111
                0x2222
        0   0
        0   1
                0x3333
        0   8

        """.replacingOccurrences(of: "0   8\n", with: "0   8\n" + full.map { "        0x" + String($0, radix: 16) + "\n" }.joined()))
        // Shorter than the fixed part: refused, as before.
        let schema = try PluginSchema.decode(Data("""
        {"name":"v","version":"1.0.0","description":"","abi":{"major":1,"minor":0},"parameters":[],
         "records":[{"id":0,"name":"r","size":72,"fields":[\(fields)]}]}
        """.utf8), source: "v")
        XCTAssertEqual(schema.records[0].minimumSize, 8)
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: .json, output: CapturedOutput().buffer)
        XCTAssertFalse(rec([], length: 6).withUnsafeBytes { f.consume(recordID: 0, bytes: $0) })
        XCTAssertEqual(f.malformed, 1)
    }

    /// A histogram (report) record may end inside its slots too: the missing ones are empty.
    func testShortHistogramMinimumSize() throws {
        let schema = try PluginSchema.decode(Data("""
        {"name":"h","version":"1.0.0","description":"","abi":{"major":1,"minor":1},"parameters":[],
         "records":[{"id":1,"name":"lat","kind":"histogram","size":136,"fields":[
           {"name":"disk","type":"u32","offset":0,"size":4},
           {"name":"slots","type":"histogram","offset":8,"size":128,"unit":"usecs"}]}]}
        """.utf8), source: "h")
        XCTAssertEqual(schema.records[0].minimumSize, 8, "up to where the slots begin")
    }

    func testSchemaErrorsNameTheProblem() {
        let bad = Self.schemaJSON.replacingOccurrences(of: #""offset": 32, "size": 32"#, with: #""offset": 40, "size": 32"#)
        XCTAssertThrowsError(try PluginSchema.decode(Data(bad.utf8), source: "demo")) {
            XCTAssertEqual("\($0)", "demo: record 'ev' field 'name': offset 40 + size 32 lies outside the record's 64 bytes")
        }
        let badType = Self.schemaJSON.replacingOccurrences(of: #""type": "u32", "offset": 0, "size": 4"#, with: #""type": "u32", "offset": 0, "size": 8"#)
        XCTAssertThrowsError(try PluginSchema.decode(Data(badType.utf8), source: "demo")) {
            XCTAssertTrue("\($0)".contains("type u32 has 4 bytes, not 8"), "\($0)")
        }
    }
}

final class ParameterTests: XCTestCase {
    func schema() throws -> PluginSchema {
        try TestSupport.bundledSchema("opensnoop")
    }

    func testDefaultsAndAssignments() throws {
        let p = try ResolvedParameters(schema: schema(), assignments: ["pid=12", "failed", "comm=bash", "extended=false"])
        XCTAssertEqual(p["pid"], .integer(12))
        XCTAssertEqual(p["failed"], .boolean(true))
        XCTAssertEqual(p["extended"], .boolean(false))
        XCTAssertEqual(p["uid"], .integer(-1))
        let config = try JSONSerialization.jsonObject(with: Data(p.configJSON().utf8)) as! [String: Any]
        XCTAssertEqual(config["comm"] as? String, "bash")
        XCTAssertEqual(config["failed"] as? Bool, true)
        XCTAssertEqual(config["ringbuf_kb"] as? Int, 512)
    }

    func testErrorsNameTheParameter() throws {
        let s = try schema()
        let cases: [(String, String)] = [
            ("nope=1", "'nope' is not a parameter of opensnoop (it has: pid, tid, uid, comm, container, failed, timestamp, print_uid, extended, ringbuf_kb, include_host)"),
            ("pid=abc", "parameter 'pid': 'abc' is not an integer"),
            ("pid=-1", "parameter 'pid': -1 is below the minimum 0"),
            ("failed=maybe", "parameter 'failed': 'maybe' is not a boolean (true or false)"),
            ("comm=averyveryverylongname", "parameter 'comm': 'averyveryverylongname' is longer than 15 bytes"),
            ("pid", "parameter 'pid' needs a value: --param pid=VALUE"),
        ]
        for (assignment, message) in cases {
            XCTAssertThrowsError(try ResolvedParameters(schema: s, assignments: [assignment])) {
                XCTAssertEqual("\($0)", message)
            }
        }
    }
}

/// values, bits, scale, argv and template fields.
final class DisplayFeatureTests: XCTestCase {
    static let schemaJSON = #"""
    {
      "name": "feat", "version": "0.1.0", "description": "display features", "abi": {"major": 1, "minor": 0},
      "parameters": [],
      "records": [{
        "id": 0, "name": "ev", "size": 64,
        "fields": [
          {"name": "op", "type": "u8", "offset": 0, "size": 1, "values": {"0": "MOUNT", "1": "UMOUNT"}, "column": "OP", "width": 6},
          {"name": "proto", "type": "u16", "offset": 2, "size": 2, "values": {"6": "TCP", "17": "UDP"}, "column": "PROTO", "width": 5},
          {"name": "flags", "type": "u32", "offset": 4, "size": 4, "bits": {"MS_RDONLY": 1, "MS_NOSUID": 2, "MS_NODEV": 4}, "column": "FLAGS", "width": 8},
          {"name": "age", "type": "i64", "offset": 8, "size": 8, "scale": 1000000000, "decimals": 2, "column": "AGE(s)", "width": 6},
          {"name": "target", "type": "string", "offset": 16, "size": 16, "hidden": true},
          {"name": "call", "type": "template", "select": "op", "template": "?", "templates": {"0": "mount(\"{target}\", {flags})", "1": "umount(\"{target}\")"}, "column": "CALL", "width": 4},
          {"name": "args", "type": "string", "offset": 32, "size": 32, "display": "argv", "column": "ARGS"}
        ]
      }]
    }
    """#

    func record(op: UInt8, proto: UInt16, flags: UInt32, age: Int64, target: String, args: [String]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: op, toByteOffset: 0, as: UInt8.self)
            b.storeBytes(of: proto, toByteOffset: 2, as: UInt16.self)
            b.storeBytes(of: flags, toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: age, toByteOffset: 8, as: Int64.self)
        }
        bytes.replaceSubrange(16..<(16 + target.utf8.count), with: Array(target.utf8))
        for a in args { bytes += Array(a.utf8) + [0] } // trailing argv, sent only as long as used
        return bytes
    }

    func render(_ format: OutputFormat, _ records: [[UInt8]]) throws -> String {
        let schema = try PluginSchema.decode(Data(Self.schemaJSON.utf8), source: "feat")
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: format, output: captured.buffer)
        f.writeHeader()
        for r in records { XCTAssertTrue(r.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) }) }
        return captured.text
    }

    func testTable() throws {
        let text = try render(.table, [
            record(op: 0, proto: 6, flags: 3, age: 1_234_567_890, target: "/mnt", args: ["ls", "-l", "/tmp"]),
            record(op: 1, proto: 99, flags: 0x104, age: -500_000_000, target: "/mnt", args: []),
        ])
        XCTAssertEqual(text, """
        OP     PROTO FLAGS    AGE(s) CALL ARGS
        MOUNT  TCP   MS_RDONLY|MS_NOSUID 1.23   mount("/mnt", MS_RDONLY|MS_NOSUID) ls -l /tmp
        UMOUNT 99    MS_NODEV|0x100 -0.50  umount("/mnt") 

        """)
    }

    func testJSON() throws {
        let text = try render(.json, [record(op: 0, proto: 17, flags: 0, age: 2_000_000_000, target: "/a\"b", args: ["sh", "-c", "echo hi"])])
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertEqual(obj["op"] as? String, "MOUNT")
        XCTAssertEqual(obj["proto"] as? String, "UDP")
        XCTAssertEqual(obj["flags"] as? String, "0x0")
        XCTAssertEqual(obj["age"] as? Double, 2.0)
        XCTAssertEqual(obj["call"] as? String, "mount(\"/a\"b\", 0x0)")
        XCTAssertEqual(obj["args"] as? String, "sh -c echo hi")
    }

    func testTemplateNamingUnknownFieldIsRejected() {
        let bad = Self.schemaJSON.replacingOccurrences(of: "umount(\\\"{target}\\\")", with: "umount(\\\"{nope}\\\")")
        XCTAssertThrowsError(try PluginSchema.decode(Data(bad.utf8), source: "feat")) {
            XCTAssertEqual("\($0)", "feat: record 'ev' field 'call': template refers to '{nope}', which is not a field of the record")
        }
    }
}

final class AddressDisplayTests: XCTestCase {
    func testIPDisplayUnmapsIPv4() throws {
        let schema = try PluginSchema.decode(Data("""
        {"name":"a","version":"1.0.0","description":"","abi":{"major":1,"minor":0},"parameters":[],
         "records":[{"id":0,"name":"r","size":32,"fields":[
           {"name":"a","type":"bytes","offset":0,"size":16,"display":"ip"},
           {"name":"b","type":"bytes","offset":16,"size":16,"display":"ip"}]}]}
        """.utf8), source: "a")
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[10] = 0xFF; bytes[11] = 0xFF; bytes[12] = 127; bytes[15] = 1 // ::ffff:127.0.0.1
        bytes[31] = 1 // ::1
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: .json, output: captured.buffer)
        XCTAssertTrue(bytes.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) })
        XCTAssertEqual(captured.text, #"{"a":"127.0.0.1","b":"::1"}"# + "\n")
    }
}

/// display errno_name: a syscall result shows -EINVAL for a failure, the number otherwise.
final class ErrnoNameTests: XCTestCase {
    func render(_ format: OutputFormat, _ value: Int32) throws -> String {
        let schema = try PluginSchema.decode(Data("""
        {"name": "e", "version": "0.1.0", "description": "errno names", "abi": {"major": 1, "minor": 0}, "parameters": [],
         "records": [{"id": 0, "name": "r", "size": 4, "fields": [
           {"name": "ret", "type": "i32", "offset": 0, "size": 4, "display": "errno_name", "column": "RET"}]}]}
        """.utf8), source: "e")
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: format, output: captured.buffer)
        var v = value
        _ = withUnsafeBytes(of: &v) { f.consume(recordID: 0, bytes: $0) }
        return captured.text
    }

    func testFailuresByNameSuccessesAsNumbers() throws {
        XCTAssertEqual(try render(.json, -22), "{\"ret\":\"-EINVAL\"}\n")
        XCTAssertEqual(try render(.json, 3), "{\"ret\":3}\n")
        XCTAssertEqual(try render(.table, -2), "-ENOENT\n")
        XCTAssertEqual(try render(.csv, -133), "-EHWPOISON\n")
        XCTAssertEqual(try render(.table, -4000), "-4000\n", "no such errno: the number")
    }
}
