import Foundation
import XCTest
@testable import EunomiaSchema

/// One layout whose keys and units follow the parameters (`present`, `if`), as the host
/// resolves it for a tracker: what every consumer of its records then sees.
final class ParameterSelectedTests: XCTestCase {
    func resolved(_ plugin: String, _ assignments: [String]) throws -> RecordLayout {
        let schema = try TestSupport.bundledSchema(plugin)
        XCTAssertEqual(schema.records.count, 1, "\(plugin) has one layout")
        return try schema.resolved(for: ResolvedParameters(schema: schema, assignments: assignments)).records[0]
    }

    func testBiolatencyKeysAndUnitFollowItsParameters() throws {
        var r = try resolved("biolatency", [])
        XCTAssertEqual(r.fields.map(\.name), ["latency"])
        XCTAssertEqual(r.fields.last?.unit, "usecs")
        r = try resolved("biolatency", ["per_disk", "milliseconds"])
        XCTAssertEqual(r.fields.map(\.name), ["disk", "latency"])
        XCTAssertEqual(r.fields.last?.unit, "msecs")
        r = try resolved("biolatency", ["per_disk", "per_flag"])
        XCTAssertEqual(r.fields.map(\.name), ["disk", "op", "flags", "latency"])
        XCTAssertNil(r.fields.last?.choices, "resolved fields carry no choices")
    }

    func testSyscountRowsSortAndScaleFollowItsParameters() throws {
        var r = try resolved("syscount", [])
        XCTAssertEqual(r.fields.map(\.name), ["syscall", "nr", "count"])
        XCTAssertEqual(r.sort, "count")
        r = try resolved("syscount", ["by_process", "latency", "milliseconds"])
        XCTAssertEqual(r.fields.map(\.name), ["pid", "comm", "count", "time", "total_ns"])
        XCTAssertEqual(r.sort, "total_ns")
        let time = try XCTUnwrap(r.fields.first { $0.name == "time" })
        XCTAssertEqual(time.scale, 1_000_000)
        XCTAssertEqual(time.header, "TIME (ms)")
        r = try resolved("syscount", ["latency"])
        XCTAssertEqual(r.fields.first { $0.name == "time" }?.header, "TIME (us)")
    }

    func testRunqlatAndTcprttKeys() throws {
        XCTAssertEqual(try resolved("runqlat", ["per_thread"]).fields.map(\.name), ["tid", "comm", "latency"])
        XCTAssertEqual(try resolved("runqlat", ["per_process"]).fields.map(\.name), ["pid", "comm", "latency"])
        XCTAssertEqual(try resolved("tcprtt", ["by_remote_addr", "milliseconds"]).fields.map(\.name), ["raddr", "avg", "rtt"])
        XCTAssertEqual(try resolved("tcprtt", ["by_remote_addr", "milliseconds"]).fields.last?.unit, "msecs")
    }

    func testMistakesAreOneLine() throws {
        let base = try String(decoding: TestSupport.bundledSchemaData("runqlat"), as: UTF8.self)
        func refused(_ from: String, _ to: String) -> String {
            let edited = base.replacingOccurrences(of: from, with: to)
            XCTAssertNotEqual(edited, base, "the edit \(from) applies")
            do { _ = try PluginSchema.decode(Data(edited.utf8), source: "s.json"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refused(#""present" : "per_thread""#, #""present" : "interval""#).contains("field 'tid': present names 'interval', which is not a boolean parameter"),
                      refused(#""present" : "per_thread""#, #""present" : "interval""#))
        XCTAssertTrue(refused(#""unit" : "msecs""#, #""unit" : "ms\u0007""#).contains("if milliseconds: unit"), refused(#""unit" : "msecs""#, #""unit" : "ms\u0007""#))
    }
}
