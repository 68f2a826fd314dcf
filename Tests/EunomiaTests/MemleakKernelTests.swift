import Foundation
import XCTest

/// memleak in the real kernel: a fixture leaks from a known function; the report must find it.
final class MemleakKernelTests: XCTestCase {
    func compile(_ fixture: String, in dir: URL) throws -> URL {
        let exe = dir.appendingPathComponent(fixture)
        let cc = try TestSupport.run("/usr/bin/cc", ["-O0", "-g", "-fno-omit-frame-pointer",
                                                    TestSupport.fixtures.appendingPathComponent("\(fixture).c").path, "-o", exe.path])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        return exe
    }

    /// The rows of the last report named `name` in JSON output.
    func lastReport(_ output: String, _ name: String) -> [[String: Any]]? {
        TrackerHarness.records(output).last { $0["report"] as? String == name }?["rows"] as? [[String: Any]]
    }

    /// User mode on a command memleak starts: 100 blocks of 4096 bytes leaked from leaky_function,
    /// everything else (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc,
    /// mmap) freed again.
    func testLeakFromCommandIsAttributedToItsFunction() throws {
        let harness = try TrackerHarness("memleak")
        let exe = try compile("memleak_leaky", in: harness.dir)
        let tracer = try harness.start(["--param", "command=\(exe.path)", "--interval", "0", "--param", "show_allocs=true"])
        XCTAssertTrue(tracer.wait(upTo: 20) { tracer.stdout.contains("leaked") }, tracer.stderr)
        usleep(700_000) // older than the default 500 ms
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let rows = try XCTUnwrap(lastReport(tracer.stdout, "user_stacks"), tracer.stdout)
        let leak = try XCTUnwrap(rows.first { ($0["stack"] as? [String])?.contains { $0.hasPrefix("leaky_function+0x") } ?? false },
                                 "no stack through leaky_function: \(rows)")
        // main's loop calls leaky_function(4096) 100 times from one place: one stack, exactly those.
        XCTAssertEqual(leak["bytes"] as? Int, 100 * 4096, "\(leak)")
        XCTAssertEqual(leak["allocs"] as? Int, 100, "\(leak)")
        let frames = leak["stack"] as? [String] ?? []
        XCTAssertTrue(frames.contains { $0.hasPrefix("leaky_function+0x") && $0.hasSuffix(" [memleak_leaky]") }, "\(frames)")
        XCTAssertTrue(frames.contains { $0.hasPrefix("main+0x") }, "\(frames)")
        // Every other allocation was freed (or unmapped): nothing is outstanding from tidy_function.
        let tidy = rows.filter { ($0["stack"] as? [String])?.contains { $0.hasPrefix("tidy_function") } ?? false }
        XCTAssertEqual(tidy.count, 0, "freed allocations reported as outstanding: \(tidy)")
        XCTAssertEqual(rows.first?["bytes"] as? Int, leak["bytes"] as? Int, "the leak is the largest stack")

        // show_allocs lists the leaked blocks one by one under the stack's rank (1: the largest).
        let listed = try XCTUnwrap(lastReport(tracer.stdout, "allocations"), tracer.stdout)
        let blocks = listed.filter { $0["rank"] as? Int == 1 }
        XCTAssertEqual(blocks.count, 100)
        XCTAssertEqual(blocks.compactMap { $0["bytes"] as? Int }, Array(repeating: 4096, count: 100), "each block is 4096 bytes")
        XCTAssertEqual(Set(blocks.compactMap { $0["address"] as? String }).count, blocks.count, "distinct addresses")
        XCTAssertTrue(blocks.allSatisfy { ($0["age_ms"] as? Int ?? 0) >= 500 }, "older than the default 500 ms: \(blocks)")
    }

    /// User mode on a running process, by pid: the same leak, attributed the same way.
    func testLeakInProcessByPid() throws {
        let harness = try TrackerHarness("memleak")
        let exe = try compile("memleak_leaky", in: harness.dir)
        let leaky = try LiveProcess(exe, ["--wait"], environment: [:])
        defer { leaky.process.terminate(); leaky.process.waitUntilExit() }
        XCTAssertTrue(leaky.wait(upTo: 10) { leaky.stdout.contains("waiting") }, leaky.stderr)
        let tracer = try harness.start(["--pid", "\(leaky.process.processIdentifier)", "--interval", "0", "--param", "older=0"])
        kill(leaky.process.processIdentifier, SIGUSR1)
        XCTAssertTrue(leaky.wait(upTo: 20) { leaky.stdout.contains("leaked") }, leaky.stderr)
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let rows = try XCTUnwrap(lastReport(tracer.stdout, "user_stacks"), tracer.stdout)
        let leak = try XCTUnwrap(rows.first { ($0["stack"] as? [String])?.contains { $0.hasPrefix("leaky_function+0x") } ?? false },
                                 "no stack through leaky_function: \(rows)")
        XCTAssertEqual(leak["pid"] as? Int, Int(leaky.process.processIdentifier))
        XCTAssertEqual(leak["bytes"] as? Int, 100 * 4096, "\(leak)")
        XCTAssertEqual(leak["allocs"] as? Int, 100, "\(leak)")
    }

    /// Kernel mode (no pid, no command): pipes a process keeps open hold kernel allocations made
    /// in alloc_pipe_info, found through the kmem tracepoints.
    func testKernelAllocationsOfKeptPipes() throws {
        let harness = try TrackerHarness("memleak")
        let exe = try compile("memleak_pipes", in: harness.dir)
        let tracer = try harness.start(["--comm", "memleak_pipes", "--interval", "0", "--param", "older=0", "--param", "top=0"])
        let pipes = try LiveProcess(exe, [], environment: [:])
        defer { pipes.process.terminate(); pipes.process.waitUntilExit() }
        XCTAssertTrue(pipes.wait(upTo: 10) { pipes.stdout.contains("ready") }, pipes.stderr)
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)

        let rows = try XCTUnwrap(lastReport(tracer.stdout, "kernel_stacks"), tracer.stdout)
        let pipeInfo = rows.filter { ($0["stack"] as? [String])?.contains { $0.hasPrefix("alloc_pipe_info+0x") } ?? false }
        let allocs = pipeInfo.reduce(0) { $0 + ($1["allocs"] as? Int ?? 0) }
        XCTAssertGreaterThanOrEqual(allocs, 200, "200 kept pipes, allocations through alloc_pipe_info: \(pipeInfo)")
        XCTAssertNil(lastReport(tracer.stdout, "user_stacks"), "kernel mode reports kernel stacks only")
    }

    func testPidAndCommandTogetherAreRefused() throws {
        let harness = try TrackerHarness("memleak")
        let run = try TestSupport.eunomia(["run", "memleak", "--pid", "1", "--param", "command=/bin/true", "--duration", "1"], store: harness.store)
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("give either pid or command, not both"), run.stderr)
    }

    /// A process that does not map the library (a static binary) is refused by name: the
    /// library at the same path here is another file than the target's (a container's), and a
    /// uprobe on it would never fire.
    func testProcessNotMappingTheLibraryIsRefused() throws {
        let harness = try TrackerHarness("memleak")
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else { throw TestSupport.TestFailure("/bin/busybox is missing (make install-test-deps)") }
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/busybox")
        sleeper.arguments = ["sleep", "30"]
        try sleeper.run()
        defer { sleeper.terminate(); sleeper.waitUntilExit() }
        let pid = sleeper.processIdentifier
        let run = try TestSupport.eunomia(["run", "memleak", "--pid", "\(pid)", "--duration", "1"], store: harness.store)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("process \(pid) does not map libc"), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").filter { $0.hasPrefix("eunomia: error:") }.count, 1, run.stderr)
    }
}
