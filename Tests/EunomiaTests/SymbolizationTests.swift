import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// Stack addresses become `func+0xoff [module]` from /proc/kallsyms and the ELF symbol tables
/// of the files a process maps: the real tables of this machine, no fixtures.
final class SymbolizationTests: XCTestCase {
    /// Address of a text symbol in /proc/kallsyms (zero for non-root readers).
    func kernelAddress(_ name: String) -> UInt64? {
        for line in readProcFile("/proc/kallsyms").split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count >= 3, parts[2] == name, parts[1] == "T" || parts[1] == "t" { return UInt64(parts[0], radix: 16) }
        }
        return nil
    }

    func testKernelAddress() throws {
        try TestSupport.requireKernel()
        let schedule = try XCTUnwrap(kernelAddress("schedule"))
        XCTAssertNotEqual(schedule, 0, "kallsyms hides addresses from this user")
        let s = StackSymbolizer()
        XCTAssertEqual(String(decoding: s.name(pid: 0, address: schedule, flags: StackSymbolizer.full), as: UTF8.self), "schedule+0x0")
        XCTAssertEqual(String(decoding: s.name(pid: 0, address: schedule + 0x21, flags: StackSymbolizer.full), as: UTF8.self), "schedule+0x21")
        XCTAssertEqual(String(decoding: s.name(pid: 0, address: schedule + 0x21, flags: StackSymbolizer.bare), as: UTF8.self), "schedule")
    }

    func testUserAddressInThisProcess() throws {
        let malloc = try XCTUnwrap(dlsym(dlopen(nil, RTLD_NOW), "malloc"))
        let s = StackSymbolizer()
        let name = String(decoding: s.name(pid: getpid(), address: UInt64(UInt(bitPattern: malloc)) + 4, flags: StackSymbolizer.full), as: UTF8.self)
        XCTAssertTrue(name.hasPrefix("malloc+0x4 [libc.so"), name)
    }

    /// A row's kernel stack, through the formatter: JSON array, folded line, table frames.
    func testStackFieldInReports() throws {
        try TestSupport.requireKernel()
        let schedule = try XCTUnwrap(kernelAddress("schedule"))
        let outer = try XCTUnwrap(kernelAddress("do_syscall_64"))
        let schema = try PluginSchema.decode(Data("""
        {"name": "st", "version": "0.1.0", "description": "stacks", "abi": {"major": 1, "minor": 1}, "parameters": [],
         "records": [{"id": 0, "name": "stacks", "kind": "row", "sort": "count", "size": 48, "fields": [
           {"name": "count", "type": "u64", "offset": 0, "size": 8, "column": "COUNT"},
           {"name": "comm", "type": "string", "offset": 8, "size": 8, "column": "COMM"},
           {"name": "kstack", "type": "stack", "stack": "kernel", "offset": 16, "size": 32}]}]}
        """.utf8), source: "st")
        var row = [UInt8](repeating: 0, count: 48)
        row.withUnsafeMutableBytes { b in
            b.storeBytes(of: UInt64(7), toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: schedule + 0x10, toByteOffset: 16, as: UInt64.self)
            b.storeBytes(of: outer + 0x20, toByteOffset: 24, as: UInt64.self)
        }
        row.replaceSubrange(8..<12, with: Array("spin".utf8))
        // The same functions at other instructions: a separate row, the same folded line.
        var sibling = row
        sibling.withUnsafeMutableBytes { b in
            b.storeBytes(of: UInt64(5), toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: schedule + 0x18, toByteOffset: 16, as: UInt64.self)
        }
        func render(_ format: OutputFormat, _ rows: [[UInt8]]) throws -> String {
            let captured = CapturedOutput()
            let f = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []), format: format, output: captured.buffer)
            for r in rows { XCTAssertTrue(r.withUnsafeBytes { f.consume(recordID: 0, bytes: $0) }) }
            f.endReport(timestampNs: 0)
            return captured.text
        }
        let json = try render(.json, [row])
        XCTAssertTrue(json.contains(#""kstack":["schedule+0x10","do_syscall_64+0x20"]"#), json)
        XCTAssertEqual(try render(.folded, [row]), "spin;do_syscall_64;schedule 7\n")
        XCTAssertEqual(try render(.folded, [sibling, row]), "spin;do_syscall_64;schedule 12\n")
        let table = try render(.table, [row]).split(separator: "\n").map(String.init)
        XCTAssertEqual(table.suffix(2), ["        schedule+0x10", "        do_syscall_64+0x20"])
    }

    /// A process's cached maps are dropped when it execs (the same pid, another program) or exits.
    func testProcessCacheFollowsExecAndExit() throws {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "sleep 1; exec sleep 30"]
        try shell.run()
        defer { if shell.isRunning { shell.terminate() }; shell.waitUntilExit() }
        let pid = shell.processIdentifier
        // The shell's own text: an executable mapping of the program /bin/sh runs (dash here).
        // Until the spawned child's exec is done its maps are the runner's, or only a stack.
        let sh = URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path
        var maps: [Substring] = []
        let execDone = Date().addingTimeInterval(10)
        repeat {
            maps = readProcFile("/proc/\(pid)/maps").split(separator: "\n")
            if maps.contains(where: { $0.contains(" r-xp ") && $0.hasSuffix(sh) }) { break }
            usleep(5_000)
        } while Date() < execDone
        let exe = try XCTUnwrap(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"))
        XCTAssertEqual(exe, sh)
        let text = try XCTUnwrap(maps.first { $0.contains(" r-xp ") && $0.hasSuffix(exe) }, "\(maps)")
        let start = try XCTUnwrap(UInt64(text.split(separator: "-")[0], radix: 16))
        let module = "[" + (exe as NSString).lastPathComponent + "]"

        let s = StackSymbolizer()
        func name() -> String { String(decoding: s.name(pid: pid, address: start + 0x40, flags: StackSymbolizer.full), as: UTF8.self) }
        XCTAssertTrue(name().hasSuffix(module), name())
        // After the exec, the next report must not reuse the shell's maps.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == exe { usleep(20_000) }
        s.beginReport()
        XCTAssertFalse(name().hasSuffix(module), "stale symbol after exec: \(name())")
        shell.terminate()
        shell.waitUntilExit()
        s.beginReport()
        XCTAssertFalse(name().hasSuffix(module), "symbol of an exited process: \(name())")
    }
}
