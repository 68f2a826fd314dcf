import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// Rows and histograms are collected until end_report, then sorted, limited and printed.
final class ReportFormattingTests: XCTestCase {
    static let schemaJSON = """
    {
      "name": "agg", "version": "0.1.0", "description": "report test", "abi": {"major": 1, "minor": 1},
      "parameters": [
        {"name": "top", "type": "integer", "default": 2, "min": 0, "description": "rows"},
        {"name": "interval", "type": "integer", "default": 0, "min": 0, "description": "seconds"}
      ],
      "records": [
        { "id": 1, "name": "calls", "kind": "row", "size": 24, "sort": "count", "limit": "top",
          "fields": [
            {"name": "pid", "type": "u32", "offset": 0, "size": 4, "column": "PID", "width": 6},
            {"name": "comm", "type": "string", "offset": 8, "size": 8, "column": "COMM", "width": 8},
            {"name": "count", "type": "u64", "offset": 16, "size": 8, "column": "COUNT", "align": "right", "width": 8}
          ]},
        { "id": 2, "name": "latency", "kind": "histogram", "size": 24,
          "fields": [
            {"name": "disk", "type": "string", "offset": 0, "size": 8},
            {"name": "slots", "type": "histogram", "offset": 8, "size": 16, "unit": "usecs"}
          ]}
      ]
    }
    """

    func row(_ pid: UInt32, _ comm: String, _ count: UInt64) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 24)
        b.withUnsafeMutableBytes { $0.storeBytes(of: pid, toByteOffset: 0, as: UInt32.self); $0.storeBytes(of: count, toByteOffset: 16, as: UInt64.self) }
        b.replaceSubrange(8..<(8 + comm.utf8.count), with: Array(comm.utf8))
        return b
    }

    func histogram(_ disk: String, _ slots: [UInt32]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 24)
        b.replaceSubrange(0..<disk.utf8.count, with: Array(disk.utf8))
        b.withUnsafeMutableBytes { raw in
            for (i, v) in slots.enumerated() { raw.storeBytes(of: v, toByteOffset: 8 + 4 * i, as: UInt32.self) }
        }
        return b
    }

    func render(_ format: OutputFormat, _ params: [String] = [], _ reports: [[(UInt32, [UInt8])]]) throws -> String {
        let schema = try PluginSchema.decode(Data(Self.schemaJSON.utf8), source: "agg")
        let captured = CapturedOutput()
        let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: params),
                               format: format, output: captured.buffer)
        f.writeHeader()
        for report in reports {
            for (id, bytes) in report { XCTAssertTrue(bytes.withUnsafeBytes { f.consume(recordID: id, bytes: $0) }) }
            f.endReport(timestampNs: UInt64(clock_gettime_nsec_np_monotonic()))
        }
        return captured.text
    }

    func testRowsSortedDescendingAndLimited() throws {
        let text = try render(.json, [], [[(1, row(10, "low", 5)), (1, row(11, "high", 500)), (1, row(12, "mid", 50))]])
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, text)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(object["report"] as? String, "calls")
        XCTAssertNotNil(object["time"] as? String)
        let rows = try XCTUnwrap(object["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["comm"] as? String }, ["high", "mid"])
        XCTAssertEqual(rows.map { $0["count"] as? Int }, [500, 50])
    }

    func testLimitZeroShowsAllAndReportsAreSeparate() throws {
        let text = try render(.table, ["top=0"], [[(1, row(1, "a", 1)), (1, row(2, "b", 2)), (1, row(3, "c", 3))], [(1, row(4, "d", 4))]])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Each report opens with its [HH:MM:SS] time line; everything else is exact.
        XCTAssertEqual(lines.count, 11, text)
        guard lines.count == 11 else { return }
        for i in [0, 6] {
            XCTAssertTrue(lines[i].hasPrefix("[") && lines[i].hasSuffix("]"), "line \(i) is not a time line:\n\(text)")
        }
        XCTAssertEqual(Array(lines[1...5]), [
            "PID    COMM        COUNT",
            "3      c               3",
            "2      b               2",
            "1      a               1",
            "",
        ], "top=0 shows every row of the first report, sorted")
        XCTAssertEqual(Array(lines[7...]), [
            "PID    COMM        COUNT",
            "4      d               4",
            "",
            "",
        ], "the second report holds only its own rows:\n\(text)")
    }

    func testHistogramTableMatchesLibbpfTools() throws {
        let text = try render(.table, [], [[(2, histogram("vda", [0, 4, 2, 1]))]])
        let expected = """
        disk = vda
             usecs               : count    distribution
                 0 -> 1          : 0        |                                        |
                 2 -> 3          : 4        |****************************************|
                 4 -> 7          : 2        |********************                    |
                 8 -> 15         : 1        |**********                              |


        """
        let body = text.split(separator: "\n", maxSplits: 1).last.map(String.init)
        XCTAssertEqual(body, expected)
    }

    func testHistogramJSONAndCSV() throws {
        let json = try render(.json, [], [[(2, histogram("vda", [3, 0, 1, 0]))]])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let hist = try XCTUnwrap((object["histograms"] as? [[String: Any]])?.first)
        XCTAssertEqual(hist["disk"] as? String, "vda")
        let slots = try XCTUnwrap(hist["slots"] as? [String: Any])
        XCTAssertEqual(slots["unit"] as? String, "usecs")
        let buckets = try XCTUnwrap(slots["buckets"] as? [[String: Int]])
        XCTAssertEqual(buckets, [["low": 0, "high": 1, "count": 3], ["low": 2, "high": 3, "count": 0], ["low": 4, "high": 7, "count": 1]])

        let csv = try render(.csv, [], [[(2, histogram("vda", [3, 0, 1, 0]))]]).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "time,disk,unit,low,high,count")
        XCTAssertEqual(csv.count, 4)
        XCTAssertTrue(csv[3].hasSuffix(",vda,usecs,4,7,1"), csv[3])
    }

    func testEmptyReportStillShowsTheInterval() throws {
        let json = try render(.json, [], [[]])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["report"] as? String, "calls")
        XCTAssertEqual((object["rows"] as? [Any])?.count, 0)
    }

    func testSchemaErrorsNameTheProblem() {
        func error(_ replace: String, _ with: String) -> String {
            let json = Self.schemaJSON.replacingOccurrences(of: replace, with: with)
            do { _ = try PluginSchema.decode(Data(json.utf8), source: "agg"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(error(#""sort": "count""#, #""sort": "comm""#).contains("sort names 'comm', which is not an integer field"))
        XCTAssertTrue(error(#""limit": "top""#, #""limit": "nope""#).contains("limit names 'nope'"))
        XCTAssertTrue(error(#""kind": "histogram""#, #""kind": "row""#).contains("histogram fields belong in records of kind histogram"))
        XCTAssertTrue(error(#""size": 16, "unit""#, #""size": 14, "unit""#).contains("not a whole number of 4-byte slots"))
        XCTAssertTrue(error(#"{"name": "disk", "type": "string", "offset": 0, "size": 8}"#,
                            #"{"name": "disk", "type": "stack", "stack": "user", "offset": 0, "size": 8}"#).contains("a user stack needs \"pid\""))
    }
}

private func clock_gettime_nsec_np_monotonic() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
