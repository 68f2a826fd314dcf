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
        /// Small files after the big one: name, bytes written in one write(2), bytes per read(2).
        let small: [(path: String, size: Int, readSize: Int)]
        var pid: Int { Int(process.processIdentifier) }

        init(_ harness: TrackerHarness, small sizes: [(size: Int, readSize: Int)] = []) throws {
            let binary = harness.dir.appendingPathComponent("files_rw")
            let cc = try TestSupport.run("/usr/bin/cc", ["-O1", "-o", binary.path,
                                                         TestSupport.fixtures.appendingPathComponent("files_rw.c").path])
            XCTAssertEqual(cc.status, 0, cc.stderr)
            path = harness.dir.appendingPathComponent("files-\(UUID().uuidString.prefix(8))").path
            small = sizes.map { (harness.dir.appendingPathComponent("small-\(UUID().uuidString.prefix(8))").path, $0.size, $0.readSize) }
            process.executableURL = binary
            process.arguments = [path] + small.map { "\($0.path):\($0.size):\($0.readSize)" }
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

    /// The load's files, each ranked differently by bytes written and by reads: a 1 MiB file
    /// (256 writes, 257 reads) and three small ones written once, read back in small pieces.
    static let smallFiles = [(size: 3072, readSize: 1024), (size: 2048, readSize: 16), (size: 1024, readSize: 1)]

    /// Runs the load under `sort=KEY` and returns its table rows, split into columns, in the
    /// order printed, and the row each file must have: the big one, then the small ones.
    private func sortedRows(_ key: String) throws -> (rows: [[String]], expected: [[String]]) {
        let harness = try TrackerHarness("files")
        let load = try Load(harness, small: Self.smallFiles)
        let tracer = try harness.start(["--pid", String(load.pid), "--param", "interval=0", "--param", "sort=\(key)"], format: "table")
        load.run()
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0 == "TID     COMM             READS  WRITES R_Kb    W_Kb    T FILE" }.count, 1, tracer.stdout)
        // Every row of the report: the pid filter leaves only the fixture's files.
        let rows = lines.drop { !$0.hasPrefix("TID ") }.dropFirst().filter { !$0.isEmpty }.map { $0.split(separator: " ").map(String.init) }
        let pid = String(load.pid)
        let big = [pid, "files_rw", "257", "256", "1024", "1024", "R", load.name]
        let small = load.small.map { file -> [String] in
            // Reads until one returns 0 at the end of the file.
            let reads = (file.size + file.readSize - 1) / file.readSize + 1
            return [pid, "files_rw", "\(reads)", "1", "\(file.size / 1024)", "\(file.size / 1024)", "R", (file.path as NSString).lastPathComponent]
        }
        return (rows, [big] + small)
    }

    func testTableSortedByWrittenBytes() throws {
        // 1 MiB, 3072, 2048, 1024 bytes written.
        let (rows, files) = try sortedRows("wbytes")
        XCTAssertEqual(rows, [files[0], files[1], files[2], files[3]], "sort=wbytes: most bytes written first")
    }

    func testTableSortedByReads() throws {
        // 257, 4, 129, 1025 reads.
        let (rows, files) = try sortedRows("reads")
        XCTAssertEqual(rows, [files[3], files[0], files[2], files[1]], "sort=reads: most reads first")
    }
}
