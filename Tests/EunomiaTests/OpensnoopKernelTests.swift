import Foundation
import Logging
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

struct OpenRecord {
    let pid: Int
    let comm: String
    let fd: Int
    let err: Int
    let path: String

    static func parse(_ jsonLines: String) -> [OpenRecord] {
        jsonLines.split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return OpenRecord(pid: obj["pid"] as? Int ?? -1, comm: obj["comm"] as? String ?? "", fd: obj["fd"] as? Int ?? -99,
                              err: obj["err"] as? Int ?? -99, path: obj["path"] as? String ?? "")
        }
    }
}

/// opensnoop loaded into the real kernel, through the CLI and in-process.
final class OpensnoopKernelTests: XCTestCase {
    var dir: URL!
    var storeDir: URL!

    override func setUpWithError() throws {
        try TestSupport.requireKernel()
        dir = try TestSupport.temporaryDirectory()
        storeDir = dir.appendingPathComponent("store")
        try TestSupport.trustBuildKey(in: storeDir)
        let install = try TestSupport.eunomia(["plugin", "install", try TestSupport.opensnoopPackage().path], store: storeDir)
        XCTAssertEqual(install.status, 0, install.stderr)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func startTracer(_ extra: [String]) throws -> LiveProcess {
        let tracer = try LiveProcess(TestSupport.eunomiaBinary, ["run", "opensnoop", "-o", "json", "--duration", "30", "--log-level", "info"] + extra,
                                     environment: ["EUNOMIA_HOME": storeDir.path])
        XCTAssertTrue(tracer.wait(upTo: 20) { tracer.stderr.contains("attached") }, "tracer never attached: \(tracer.stderr)")
        return tracer
    }

    func testCLISeesTheTestsOwnOpen() throws {
        let tracer = try startTracer([])
        let path = dir.appendingPathComponent("opensnoop-probe-\(UUID().uuidString)").path
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let missing = path + "-missing"
        XCTAssertEqual(open(missing, O_RDONLY), -1)
        XCTAssertTrue(tracer.wait(upTo: 10) { tracer.stdout.contains(missing) }, "path never showed up")
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let records = OpenRecord.parse(tracer.stdout)
        let mine = try XCTUnwrap(records.first { $0.path == path }, "no record for \(path)")
        XCTAssertEqual(mine.pid, Int(getpid()))
        XCTAssertGreaterThanOrEqual(mine.fd, 0)
        XCTAssertEqual(mine.err, 0)
        let failed = try XCTUnwrap(records.first { $0.path == missing })
        XCTAssertEqual(failed.pid, Int(getpid()))
        XCTAssertEqual(failed.fd, -1)
        XCTAssertEqual(failed.err, Int(ENOENT))
        XCTAssertTrue(tracer.stderr.contains("opensnoop@0.1.0: "), tracer.stderr)
        XCTAssertTrue(tracer.stderr.contains(" 0 lost"), tracer.stderr)
        // The kernel's side (BPF statistics on for the run): ", kernel N runs, M ns/run", N > 0
        // (the test's own two opens ran the entry and exit programs at least twice each).
        let summary = try XCTUnwrap(tracer.stderr.split(separator: "\n").last { $0.hasPrefix("opensnoop@0.1.0: ") }, tracer.stderr)
        let kernel = try XCTUnwrap(summary.range(of: ", kernel "), "no kernel cost in \(summary)")
        let words = summary[kernel.upperBound...].split(separator: " ")
        XCTAssertGreaterThanOrEqual(words.count, 4, String(summary))
        let runs = try XCTUnwrap(UInt64(words[0]), String(summary))
        XCTAssertGreaterThanOrEqual(runs, 4, String(summary))
        XCTAssertEqual(words[1], "runs,", String(summary))
        XCTAssertGreaterThan(UInt64(words[2]) ?? 0, 0, String(summary))
        XCTAssertEqual(words[3], "ns/run", String(summary))
    }

    func testPidFilterExcludesOtherProcesses() throws {
        let fifo = dir.appendingPathComponent("go").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let theirs = dir.appendingPathComponent("theirs-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: theirs, contents: Data("x".utf8)))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "read x < \"$0\"; exec cat \"$1\" > /dev/null", fifo, theirs]
        try child.run()
        defer { if child.isRunning { child.terminate() } }

        let tracer = try startTracer(["--pid", String(child.processIdentifier)])
        let mine = dir.appendingPathComponent("mine-\(UUID().uuidString)").path
        close(open(mine, O_CREAT | O_WRONLY, 0o600))
        let go = open(fifo, O_WRONLY)
        XCTAssertGreaterThanOrEqual(go, 0)
        _ = write(go, "go\n", 3)
        close(go)
        child.waitUntilExit()
        XCTAssertTrue(tracer.wait(upTo: 10) { tracer.stdout.contains(theirs) }, "the traced child's open never showed up")
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let records = OpenRecord.parse(tracer.stdout)
        XCTAssertFalse(records.isEmpty)
        XCTAssertFalse(tracer.stdout.contains(mine), "an open by the test process passed a --pid filter for another process")
        XCTAssertEqual(Set(records.map(\.pid)), [Int(child.processIdentifier)])
        XCTAssertEqual(records.first { $0.path == theirs }?.comm, "cat")
    }

    /// In-process run: after the run the library is unmapped and no fd or thread is left behind.
    func testInProcessRunLeavesNothingBehind() throws {
        let store = Store(path: storeDir.path)
        let plugin = try store.resolve("opensnoop")
        // The test process hosts the tracker: its own opens are excluded unless include_host.
        let params = try ResolvedParameters(schema: plugin.schema, assignments: ["pid=\(getpid())", "include_host=true"])
        let path = dir.appendingPathComponent("inproc-\(UUID().uuidString)").path
        let fdsBefore = openFileDescriptors()
        let threadsBefore = threadCount()

        let captured = CapturedOutput()
        var iterations = 0
        var mappedWhileRunning = false
        let summary = try Runner.run(plugin: plugin, parameters: params, format: .json, duration: 20, output: captured.buffer,
                                     logger: Logger(label: "test")) {
            iterations += 1
            if iterations == 1 {
                mappedWhileRunning = mappedLibraries().contains(plugin.libraryURL.path)
                close(open(path, O_CREAT | O_WRONLY, 0o600))
            }
            return captured.bytes.count > 0 && String(decoding: captured.bytes, as: UTF8.self).contains(path)
        }
        XCTAssertGreaterThanOrEqual(summary.events, 1)
        XCTAssertEqual(summary.lost, 0)
        let record = try XCTUnwrap(OpenRecord.parse(captured.text).first { $0.path == path })
        XCTAssertEqual(record.pid, Int(getpid()))

        XCTAssertTrue(mappedWhileRunning)
        XCTAssertFalse(mappedLibraries().contains(plugin.libraryURL.path), "plugin library still mapped after the run")
        XCTAssertEqual(openFileDescriptors(), fdsBefore, "file descriptors (BPF maps, links, ring buffer) left open")
        XCTAssertEqual(threadCount(), threadsBefore, "threads left behind")
    }

    /// The descriptors a run could leave behind: files and anonymous inodes (BPF maps, programs,
    /// links, ring buffers, epoll, timerfd, eventfd). Pipes and sockets are left out: the run
    /// opens none (no pipe( or socket( in the runtime, the helper or the C glue), while
    /// processes and HTTP clients earlier tests started open and close theirs on threads of
    /// their own at any moment. So is the listing's own descriptor, gone by the time it is read.
    func openFileDescriptors() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { name -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"),
                  !target.hasPrefix("pipe:"), !target.hasPrefix("socket:"),
                  !(target.hasPrefix("/proc/") && target.hasSuffix("/fd")) else { return nil }
            return "\(name) -> \(target)"
        }.sorted()
    }

    func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
    }
}
