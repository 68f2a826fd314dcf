import EunomiaRecords
import EunomiaRules
import EunomiaSchema
import Foundation
import XCTest

/// The condition language against real schemas and hand-built records: parsing, compiling
/// (with the errors a person sees) and evaluating.
final class ConditionTests: XCTestCase {
    func schema(_ plugin: String) throws -> PluginSchema {
        try TestSupport.bundledSchema(plugin)
    }

    /// An opensnoop record (layout from its schema): flags@8 pid@16 tid@20 uid@24 fd@28 err@32 comm@56 path@72.
    func openRecord(pid: UInt32 = 100, uid: UInt32 = 1000, fd: Int32 = 3, err: Int32 = 0, flags: UInt64 = 0,
                    comm: String = "cat", path: String = "/etc/passwd") -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 72)
        func put<T>(_ v: T, _ at: Int) { withUnsafeBytes(of: v) { for (i, x) in $0.enumerated() { b[at + i] = x } } }
        put(flags, 8); put(pid, 16); put(pid, 20); put(uid, 24); put(fd, 28); put(err, 32)
        for (i, c) in comm.utf8.prefix(15).enumerated() { b[56 + i] = c }
        b += Array(path.utf8) + [0]
        return b
    }

    func matches(_ condition: String, _ record: [UInt8], plugin: String = "opensnoop") throws -> Bool {
        let plan = try ConditionCompiler.compile(try ConditionParser.parse(condition), schema: schema(plugin), containers: nil)
        return record.withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) }
    }

    func error(_ condition: String, plugin: String = "opensnoop") -> String {
        do {
            _ = try ConditionCompiler.compile(try ConditionParser.parse(condition), schema: schema(plugin), containers: nil)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testComparisonsAndLogic() throws {
        let r = openRecord(pid: 42, uid: 0, comm: "cat", path: "/etc/shadow")
        XCTAssertTrue(try matches(#"comm == "cat" and uid == 0"#, r))
        XCTAssertTrue(try matches(#"comm = cat and not uid != 0"#, r))
        XCTAssertFalse(try matches(#"comm == "ca""#, r))
        XCTAssertTrue(try matches(#"pid > 41 and pid <= 42 and pid >= 42 and pid < 43"#, r))
        XCTAssertTrue(try matches(#"(comm == "sh" or comm == "cat") and path startswith "/etc/""#, r))
        XCTAssertFalse(try matches(#"comm == "sh" or (comm == "cat" and path endswith "passwd")"#, r))
        XCTAssertTrue(try matches(#"path contains "sha" and path glob "/etc/*dow" and path glob "/e?c/[rs]hadow""#, r))
        XCTAssertFalse(try matches(#"path glob "/etc/*wd""#, r))
        XCTAssertTrue(try matches(#"comm in (sh, bash, "cat") and pid in (1, 42)"#, r))
        XCTAssertFalse(try matches(#"comm in (sh, bash)"#, r))
        XCTAssertTrue(try matches("path exists and comm exists", r))
        XCTAssertTrue(try matches("pid == 0x2a and fd == 3", r))
    }

    func testNamesCompareAsShown() throws {
        // err has display errno: ENOENT is 2; flags has display open_flags.
        let failed = openRecord(fd: -1, err: 2, flags: 0o1101) // O_WRONLY|O_CREAT|O_TRUNC
        XCTAssertTrue(try matches(#"err == ENOENT and err == 2"#, failed))
        XCTAssertTrue(try matches(#"flags contains "O_WRONLY" and flags contains O_CREAT and flags contains O_TRUNC"#, failed))
        XCTAssertFalse(try matches(#"flags contains O_RDONLY"#, failed))
        XCTAssertFalse(try matches(#"flags contains O_RDWR or flags contains O_APPEND"#, failed))
        XCTAssertTrue(try matches(#"flags contains O_RDONLY"#, openRecord(flags: 0o2000000)))
        XCTAssertTrue(try matches("fd < 0", failed))
        // sigsnoop: sig is shown as a number, its twin signal (the same bytes) by name.
        let sig = try schema("sigsnoop")
        let field = try XCTUnwrap(sig.records[0].fields.first { $0.name == "sig" })
        var b = [UInt8](repeating: 0, count: sig.records[0].size)
        b[field.offset] = 9
        let plan = try ConditionCompiler.compile(try ConditionParser.parse(#"sig == "SIGKILL" and sig == 9 and sig in (SIGTERM, SIGKILL)"#), schema: sig, containers: nil)
        XCTAssertTrue(b.withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
        b[field.offset] = 15
        XCTAssertFalse(b.withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
    }

    func testCapabilityAndSyscallNamesCompareAsShown() throws {
        let schema = try PluginSchema.decode(Data("""
        {"name":"v","version":"1.0.0","description":"","abi":{"major":1,"minor":0},"parameters":[],
         "records":[{"id":0,"name":"r","size":8,"fields":[
           {"name":"cap","type":"i32","offset":0,"size":4,"display":"capability"},
           {"name":"id","type":"u32","offset":4,"size":4,"display":"syscall"}]}]}
        """.utf8), source: "v")
        #if arch(x86_64)
        let openat: UInt32 = 257, read: UInt32 = 0
        #elseif arch(arm64)
        let openat: UInt32 = 56, read: UInt32 = 63
        #endif
        func rec(_ cap: Int32, _ id: UInt32) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: 8)
            b.withUnsafeMutableBytes { $0.storeBytes(of: cap, toByteOffset: 0, as: Int32.self); $0.storeBytes(of: id, toByteOffset: 4, as: UInt32.self) }
            return b
        }
        func matches(_ condition: String, _ record: [UInt8]) throws -> Bool {
            let plan = try ConditionCompiler.compile(try ConditionParser.parse(condition), schema: schema, containers: nil)
            return record.withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) }
        }
        let admin = rec(21, openat)
        XCTAssertTrue(try matches("cap == CAP_SYS_ADMIN and id == openat", admin))
        XCTAssertTrue(try matches(#"cap == "CAP_SYS_ADMIN" and cap == 21 and id == \#(openat)"#, admin))
        XCTAssertTrue(try matches("cap in (CAP_NET_ADMIN, CAP_SYS_ADMIN) and id in (read, openat)", admin))
        XCTAssertFalse(try matches("cap == CAP_NET_RAW or id == read", admin))
        XCTAssertTrue(try matches("cap != CAP_SYS_ADMIN and id == read", rec(13, read)))
        XCTAssertTrue(try matches("cap == CAP_CHECKPOINT_RESTORE", rec(40, 0)))
        func error(_ condition: String) -> String {
            do { _ = try ConditionCompiler.compile(try ConditionParser.parse(condition), schema: schema, containers: nil); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(error("cap == CAP_NOPE"), "at 8: 'CAP_NOPE' is not a number or a name for 'cap' (a capability name such as CAP_SYS_ADMIN)")
        XCTAssertEqual(error("id == opnat"), "at 7: 'opnat' is not a number or a name for 'id' (a system call name such as openat)")
    }

    func testMistakesNameThePosition() {
        XCTAssertEqual(error(#"comm == "cat" and commm == "x""#),
                       "at 19: unknown field 'commm' (opensnoop has: time, uid, pid, tid, cgroup_id, mount_ns, pid_ns, comm, fd, err, flags, mode, path, container.id, container.name, container.image, container.runtime, k8s.pod.name, k8s.ns.name)")
        XCTAssertEqual(error(#"pid == "cat""#), "at 8: 'cat' is not a number for 'pid'")
        XCTAssertEqual(error(#"pid == -1"#), "at 8: -1 is outside what 'pid' (u32) holds: 0 to 4294967295")
        XCTAssertEqual(error(#"comm > 3"#), "at 1: 'comm' is text: '>' needs a number (use ==, !=, startswith, endswith, contains, glob or in)")
        XCTAssertEqual(error(#"err == ENOPE"#), "at 8: 'ENOPE' is not a number or a name for 'err' (an errno name such as ENOENT)")
        XCTAssertEqual(error(#"flags contains O_BOGUS"#), "at 16: 'O_BOGUS' is not a flag of 'flags' (O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, ...)")
        XCTAssertEqual(error(#"(comm == "cat""#), "at 15: '(' at 1 is not closed")
        XCTAssertEqual(error(#"comm == "cat"#), "at 9: quoted text is not closed")
        XCTAssertEqual(error(#"comm "cat""#), "at 6: expected an operator after 'comm', found 'cat' (==, !=, <, <=, >, >=, in, exists, startswith, endswith, contains, glob)")
        XCTAssertEqual(error(#"comm == "cat" and"#), "at 18: the condition ends where a check was expected")
        XCTAssertEqual(error(#"comm in ()"#), "at 10: an empty list: in (...) needs at least one value")
        XCTAssertEqual(error(#"shell_procs"#), "at 1: 'shell_procs' is not a macro; a field needs a comparison ('shell_procs == ...', 'shell_procs exists')")
        XCTAssertEqual(error(""), "at 1: the condition is empty")
        XCTAssertEqual(error(#"pid =! 3"#), "at 6: '!' is not an operator (did you mean '!=' or 'not'?)")
        XCTAssertEqual(error(#"container.id == x"#, plugin: "syscount"), "at 1: 'container.id': syscount's records carry no cgroup id, so no container")
        XCTAssertEqual(error(String(repeating: "(", count: 100) + "pid == 1" + String(repeating: ")", count: 100)), "at 65: nested more than 64 deep")
    }

    func testMacrosAndLists() throws {
        var vocabulary = ConditionVocabulary()
        vocabulary.define(list: "shells", try ["sh", "bash", "dash"].map { ConditionLiteral(text: $0, quoted: false, position: 0) })
        vocabulary.define(macro: "shell", try ConditionParser.parse("comm in (shells, zsh)", vocabulary: vocabulary))
        let node = try ConditionParser.parse("shell and not uid == 0", vocabulary: vocabulary)
        let plan = try ConditionCompiler.compile(node, schema: schema("opensnoop"), containers: nil)
        XCTAssertTrue(openRecord(comm: "dash").withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
        XCTAssertTrue(openRecord(comm: "zsh").withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
        XCTAssertFalse(openRecord(uid: 0, comm: "dash").withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
        XCTAssertFalse(openRecord(comm: "cat").withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
    }

    func testArgvReadsAsShownAndShortRecordsDoNotMatch() throws {
        let exec = try schema("execsnoop")
        let args = try XCTUnwrap(exec.records[0].fields.first { $0.name == "args" })
        var b = [UInt8](repeating: 0, count: args.offset)
        b += Array("/bin/rm\0-rf\0/tmp/x\0".utf8)
        let plan = try ConditionCompiler.compile(try ConditionParser.parse(#"args == "/bin/rm -rf /tmp/x" and args contains "-rf /tmp" and args startswith "/bin/""#), schema: exec, containers: nil)
        XCTAssertTrue(b.withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
        // Shorter than the fixed fields: never a match (the encoders count it as malformed).
        XCTAssertFalse(Array(b.prefix(20)).withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) })
        // A record id the schema does not have.
        XCTAssertFalse(b.withUnsafeBytes { plan.matches(recordID: 7, bytes: $0) })
    }

    func testPushdownTakesOnlyExactTopLevelTerms() throws {
        let s = try schema("opensnoop")
        let defaults = try ResolvedParameters(schema: s, assignments: [])
        func pushed(_ c: String, _ p: ResolvedParameters? = nil) throws -> [String] {
            ConditionPushdown.assignments(try ConditionParser.parse(c), schema: s, parameters: p ?? defaults).map(\.assignment)
        }
        XCTAssertEqual(try pushed(#"comm == "cat" and uid == 0 and path startswith "/etc""#), ["comm=cat", "uid=0"])
        XCTAssertEqual(try pushed(#"comm == "cat" or uid == 0"#), [])
        XCTAssertEqual(try pushed(#"not pid == 3"#), [])
        XCTAssertEqual(try pushed(#"pid == 3 and pid == 4"#), [])
        XCTAssertEqual(try pushed(#"container.name == web and tid == 9"#), ["container=web", "tid=9"])
        XCTAssertEqual(try pushed(#"comm == "cat""#, try ResolvedParameters(schema: s, assignments: ["comm=sh"])), [])
    }

    /// Hostile conditions (filters come from API requests): random cuts, splices and bytes of
    /// valid ones are parsed and compiled; every outcome is a result or a ConditionError,
    /// never a trap, and whatever compiles evaluates on short and long records alike.
    func testMutatedConditionsNeverTrap() throws {
        let s = try schema("opensnoop")
        let seeds = [#"comm == "cat" and (uid != 0 or not path startswith "/etc/")"#, #"flags contains O_CREAT and err in (ENOENT, 13)"#,
                     #"path glob "/e[!x]c/*[a-z]?" or container.id != host"#, #"fd >= -1 and mode exists and k8s.pod.name == 'x\'y'"#]
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("()=!<>\"' ,\\andortexists0x9-./*?[]".utf8) + [0, 0x7F, 0xC3, 0x28, 0xE2, 0x80, 0xAE]
        let record = openRecord()
        for _ in 0..<3000 {
            var bytes = Array(seeds.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
                case 1: bytes.insert(alphabet.randomElement(using: &rng)!, at: Int.random(in: 0...bytes.count, using: &rng))
                case 2 where !bytes.isEmpty: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
                default: bytes += Array(seeds.randomElement(using: &rng)!.utf8.suffix(Int.random(in: 0...20, using: &rng)))
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let node = try? ConditionParser.parse(text), let plan = try? ConditionCompiler.compile(node, schema: s, containers: nil) else { continue }
            for cut in [0, 8, 72, record.count] {
                _ = Array(record.prefix(cut)).withUnsafeBytes { plan.matches(recordID: 0, bytes: $0) }
            }
        }
    }
}
