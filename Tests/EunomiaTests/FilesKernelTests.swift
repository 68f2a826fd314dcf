import Foundation
import XCTest

/// files in the real kernel: a fixture writes 1 MiB to a unique file in 4 KiB writes and reads
/// it back; its row must show exactly those calls and bytes.
final class FilesKernelTests: XCTestCase {
    /// A compiled Tests/Fixtures/files_rw.c, started and waiting at its stdin gate.
    private final class Load {
        let process = Process()
        let gate = Pipe()
        let path: String
        var pid: Int { Int(process.processIdentifier) }

        init(_ harness: TrackerHarness) throws {
            let binary = harness.dir.appendingPathComponent("files_rw")
            let cc = try TestSupport.run("/usr/bin/cc", ["-O1", "-o", binary.path,
                                                         TestSupport.fixtures.appendingPathComponent("files_rw.c").path])
            XCTAssertEqual(cc.status, 0, cc.stderr)
            path = harness.dir.appendingPathComponent("files-\(UUID().uuidString.prefix(8))").path
            process.executableURL = binary
            process.arguments = [path]
            process.standardInput = gate
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        var name: String { (path as NSString).lastPathComponent }

        func run(file: StaticString = #filePath, line: UInt = #line) {
            gate.fileHandleForWriting.write(Data("go\n".utf8))
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "fixture failed", file: file, line: line)
        }
    }

    private static func rows(_ report: [String: Any]) -> [[String: Any]] {
        report["report"] as? String == "files" ? report["rows"] as? [[String: Any]] ?? [] : []
    }

    func testWriteThenReadOneMiB() throws {
        let harness = try TrackerHarness("files")
        let load = try Load(harness)
        // Counts kept across reports, so the row reaches its totals in some periodic report.
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "clear=false"])
        load.run()
        let name = load.name
        let reports = harness.collect(tracer) { report in
            FilesKernelTests.rows(report).contains { $0["file"] as? String == name && $0["rbytes"] as? Int == 1 << 20 }
        }
        let row = try XCTUnwrap(reports.flatMap(FilesKernelTests.rows).last { $0["file"] as? String == name }, "\(reports)")
        XCTAssertEqual(row["writes"] as? Int, 256, "\(row)")
        XCTAssertEqual(row["wbytes"] as? Int, 1 << 20, "\(row)")
        // 256 full reads and the one that finds the end of the file.
        XCTAssertEqual(row["reads"] as? Int, 257, "\(row)")
        XCTAssertEqual(row["rbytes"] as? Int, 1 << 20, "\(row)")
        XCTAssertEqual(row["r_kb"] as? Int, 1024, "\(row)")
        XCTAssertEqual(row["w_kb"] as? Int, 1024, "\(row)")
        XCTAssertEqual(row["type"] as? String, "R", "\(row)")
        XCTAssertEqual(row["pid"] as? Int, load.pid, "\(row)")
        XCTAssertEqual(row["tid"] as? Int, load.pid, "\(row)")
        XCTAssertEqual(row["comm"] as? String, "files_rw", "\(row)")
        var st = stat()
        XCTAssertEqual(stat(load.path, &st), 0)
        XCTAssertEqual(row["inode"] as? Int, Int(st.st_ino), "\(row)")
        let pids = Set(reports.flatMap(FilesKernelTests.rows).compactMap { $0["pid"] as? Int })
        XCTAssertEqual(pids, [load.pid], "the pid filter let others through")
    }

    func testTableSortedByWrittenBytes() throws {
        let harness = try TrackerHarness("files")
        let load = try Load(harness)
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "interval=0", "--param", "sort=wbytes"], format: "table")
        load.run()
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0 == "TID     COMM             READS  WRITES R_Kb    W_Kb    T FILE" }.count, 1, tracer.stdout)
        let row = try XCTUnwrap(lines.first { $0.hasSuffix(" " + load.name) }, tracer.stdout)
        let cols = row.split(separator: " ").map(String.init)
        XCTAssertEqual(cols, [String(load.pid), "files_rw", "257", "256", "1024", "1024", "R", load.name], row)
    }
}
