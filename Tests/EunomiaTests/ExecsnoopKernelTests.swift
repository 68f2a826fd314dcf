import Foundation
import XCTest

/// execsnoop loaded into the real kernel: the test execs a script of its own and finds it.
final class ExecsnoopKernelTests: XCTestCase {
    var scripts: URL!

    override func setUpWithError() throws {
        scripts = try TestSupport.temporaryDirectory("execsnoop-scripts")
    }

    override func tearDownWithError() throws {
        if let scripts { try? FileManager.default.removeItem(at: scripts) }
    }

    /// A uniquely named executable script; its name (at most 15 bytes) becomes the comm.
    func makeScript() throws -> URL {
        let url = scripts.appendingPathComponent("es-\(UUID().uuidString.prefix(8).lowercased())")
        try "#!/bin/sh\nexit 0\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(url.path, 0o755), 0)
        return url
    }

    /// posix_spawn of a path that does not exist: the child's execve fails with ENOENT.
    func spawnMissing(_ path: String, _ args: [String]) -> Int32 {
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawn(&pid, path, nil, nil, argv, environ)
    }

    func run(_ script: URL, _ args: [String]) throws -> Int32 {
        let child = Process()
        child.executableURL = script
        child.arguments = args
        try child.run()
        child.waitUntilExit()
        XCTAssertEqual(child.terminationStatus, 0)
        return child.processIdentifier
    }

    func testExecOfAScriptShowsPidParentAndArguments() throws {
        let harness = try TrackerHarness("execsnoop")
        let tracer = try harness.start()
        let script = try makeScript()
        let tag = "tag-\(UUID().uuidString)"
        let missing = scripts.appendingPathComponent("missing-\(UUID().uuidString)").path
        XCTAssertEqual(spawnMissing(missing, ["x"]), ENOENT)
        let pid = try run(script, ["alpha", "two words", tag])
        let line = "\(script.path) alpha two words \(tag)"
        let records = harness.collect(tracer) { ($0["args"] as? String) == line }

        let mine = try XCTUnwrap(records.first { ($0["args"] as? String) == line })
        XCTAssertEqual(mine["pid"] as? Int, Int(pid))
        XCTAssertEqual(mine["ppid"] as? Int, Int(getpid()))
        XCTAssertEqual(mine["ret"] as? Int, 0)
        XCTAssertEqual(mine["comm"] as? String, script.lastPathComponent)
        XCTAssertEqual(mine["args_count"] as? Int, 4)
        XCTAssertEqual(mine["args_size"] as? Int, line.utf8.count + 1)
        XCTAssertEqual(mine["uid"] as? Int, Int(getuid()))
        XCTAssertFalse(records.contains { ($0["args"] as? String)?.contains(missing) == true },
                       "a failed exec showed up without fails=true")
    }

    func testFailedExecShowsErrorWithFails() throws {
        let harness = try TrackerHarness("execsnoop")
        let tracer = try harness.start(["--param", "fails=true"])
        let missing = scripts.appendingPathComponent("missing-\(UUID().uuidString)").path
        XCTAssertEqual(spawnMissing(missing, ["one", "two"]), ENOENT)
        let line = "\(missing) one two"
        let records = harness.collect(tracer) { ($0["args"] as? String) == line }

        let failed = try XCTUnwrap(records.first { ($0["args"] as? String) == line })
        XCTAssertEqual(failed["ret"] as? Int, -Int(ENOENT))
        XCTAssertEqual(failed["ppid"] as? Int, Int(getpid()))
        XCTAssertNotEqual(failed["pid"] as? Int, Int(getpid()))
    }

    func testMaxArgsCutsArgvShortWithEllipsisInTable() throws {
        let harness = try TrackerHarness("execsnoop")
        let script = try makeScript()
        let tracer = try harness.start(["--param", "max_args=3", "--param", "print_uid=true", "--comm", script.lastPathComponent],
                                       format: "table")
        let pid = try run(script, ["a1", "a2", "a3", "a4"])
        let ok = tracer.wait(upTo: 15) { tracer.stdout.contains("\(script.path) a1 a2 ...") }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(ok, tracer.stdout)

        let lines = tracer.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "UID    PCOMM            PID    PPID   RET ARGS")
        let comm = script.lastPathComponent.padding(toLength: 16, withPad: " ", startingAt: 0)
        let expected = String(format: "%-6d ", getuid()) + comm + String(format: " %-6d %-6d %3d ", pid, getpid(), 0)
            + "\(script.path) a1 a2 ..."
        XCTAssertEqual(lines.dropFirst().filter { !$0.isEmpty }, [expected], "only the traced comm should show")
    }
}
