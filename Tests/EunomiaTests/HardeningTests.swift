import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// The hardening findings (issue 9), each tried as an attacker would: exactly one line of
/// error, a non-zero exit, and nothing changed in the store or around it.
final class HardeningTests: XCTestCase {
    var dir: URL!
    var storeURL: URL { dir.appendingPathComponent("store") }
    var store: Store { Store(path: storeURL.path) }

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory()
        try TestSupport.trustBuildKey(in: storeURL)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Installs opensnoop so the store is populated, then expects `eunomia plugin install pkg`
    /// to fail with exactly `expected` and leave the whole test directory as it was. Hostile
    /// packages are unsigned: --allow-unsigned, so the check under test is the one that refuses.
    func assertInstallRefused(_ pkg: URL, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try store.install(package: try TestSupport.opensnoopPackage())
        let before = TestSupport.snapshot(dir)
        let result = try TestSupport.eunomia(["plugin", "install", "--allow-unsigned", pkg.path], store: storeURL)
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr, "eunomia: error: \(expected)\n", file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        XCTAssertEqual(TestSupport.snapshot(dir), before, "the store or its surroundings changed", file: file, line: line)
    }

    func hostile(_ edit: (inout HostilePackage) -> Void) throws -> HostilePackage {
        var p = try HostilePackage.opensnoop()
        edit(&p)
        return p
    }

    // 1. The version is part of a store path.
    func testTraversalThroughTheVersionIsRefused() throws {
        let evil = "1.0.0-a-x/../../../../../ESCAPED"
        let pkg = try hostile { $0.setIdentity("version", evil) }.write(to: dir.appendingPathComponent("evil.pkg"))
        try assertInstallRefused(pkg, "evil.pkg: manifest.json: version '\(evil)' is not a semantic version (semver.org 2.0.0, e.g. 1.2.3 or 1.2.3-rc.1)")
        // The old code wrote the build to a directory five levels up from plugins/opensnoop/.
        for up in [dir!, dir.deletingLastPathComponent(), URL(fileURLWithPath: "/tmp")] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: up.path)) ?? []
            XCTAssertFalse(names.contains { $0.hasPrefix("ESCAPED") }, "escaped into \(up.path)")
        }
        // A plugins/NAME planted as a symlink out of the store is not followed.
        let outside = dir.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: storeURL.appendingPathComponent("plugins"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: storeURL.appendingPathComponent("plugins/execsnoop"), withDestinationURL: outside)
        let planted = try TestSupport.eunomia(["plugin", "install", try TestSupport.package("execsnoop").path], store: storeURL)
        XCTAssertEqual(planted.status, 1)
        XCTAssertTrue(planted.stderr.hasPrefix("eunomia: error: refusing \(storeURL.path)/plugins/execsnoop/0.1.0-"), planted.stderr)
        XCTAssertTrue(planted.stderr.hasSuffix(", outside the store's \(storeURL.resolvingSymlinksInPath().path)/plugins\n"), planted.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), [])

        // The same grammar holds for references.
        XCTAssertThrowsError(try store.resolve("opensnoop@1.0.0-a/../../x")) {
            XCTAssertEqual("\($0)", "'1.0.0-a/../../x' in 'opensnoop@1.0.0-a/../../x' is not a version (1.2.3), a range (^1.2, ~1.2, >=1.0.0 <2.0.0) or latest")
        }
        XCTAssertThrowsError(try store.resolve("../etc")) {
            XCTAssertEqual("\($0)", "'../etc' is not NAME or NAME@VERSION (a name is 1-64 characters of a-z, 0-9, '_' or '-')")
        }
    }

    // 2. Installed files are verified before every load.
    func testChangedStoreFilesAreRefusedBeforeLoading() throws {
        let (plugin, _) = try store.install(package: try TestSupport.opensnoopPackage())
        let so = plugin.libraryURL
        let bpf = plugin.bpfObjectURL
        let soSize = plugin.manifest.files.first { $0.path == "opensnoop.so" }!.size
        let bpfSize = plugin.manifest.files.first { $0.path == "opensnoop.bpf.o" }!.size
        let prefix = "eunomia: error: opensnoop@0.1.0 (build \(plugin.buildID)): installed file"
        let advice = "refusing to load it (remove the build with: eunomia plugin remove opensnoop@0.1.0, then install the package again)"

        // Files are written read-only.
        for f in plugin.manifest.files {
            let mode = (try FileManager.default.attributesOfItem(atPath: plugin.directory.appendingPathComponent(f.path).path)[.posixPermissions] as! Int)
            XCTAssertEqual(mode, 0o444, f.path)
        }

        let original = try Data(contentsOf: so)
        try chmod(so, 0o644)
        try (original + Data([0])).write(to: so)
        try chmod(so, 0o444)
        var result = try TestSupport.eunomia(["run", "opensnoop", "--duration", "1"], store: storeURL)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "\(prefix) opensnoop.so changed since install (\(soSize + 1) bytes, the manifest says \(soSize)); \(advice)\n")

        // Same size, one byte flipped.
        var flipped = original
        flipped[flipped.count / 2] ^= 0xff
        try chmod(so, 0o644)
        try flipped.write(to: so)
        try chmod(so, 0o444)
        result = try TestSupport.eunomia(["run", "opensnoop", "--duration", "1"], store: storeURL)
        XCTAssertEqual(result.stderr, "\(prefix) opensnoop.so changed since install (SHA-256 mismatch); \(advice)\n")

        // A different ELF in its place: its constructor must never run.
        let marker = dir.appendingPathComponent("constructor-ran")
        let evil = dir.appendingPathComponent("evil.c")
        try """
            #include <stdio.h>
            __attribute__((constructor)) static void ran(void) { FILE *f = fopen("\(marker.path)", "w"); if (f) fclose(f); }
            int eunomia_plugin_entry;
            """.write(to: evil, atomically: true, encoding: .utf8)
        try chmod(so, 0o644)
        try FileManager.default.removeItem(at: so)
        try TestSupport.compileLibrary(evil, output: so)
        result = try TestSupport.eunomia(["run", "opensnoop", "--duration", "1"], store: storeURL)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("\(prefix) opensnoop.so changed since install ("), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path), "dlopen ran the replaced library's constructor")
        try FileManager.default.removeItem(at: so)
        try original.write(to: so)
        try chmod(so, 0o444)

        // A symlink to the original file is not the file.
        let moved = dir.appendingPathComponent("moved.so")
        try FileManager.default.moveItem(at: so, to: moved)
        try FileManager.default.createSymbolicLink(at: so, withDestinationURL: moved)
        result = try TestSupport.eunomia(["run", "opensnoop", "--duration", "1"], store: storeURL)
        XCTAssertEqual(result.stderr, "\(prefix) opensnoop.so is a symbolic link (give the file itself); \(advice)\n")
        try FileManager.default.removeItem(at: so)
        try FileManager.default.moveItem(at: moved, to: so)

        // A writable file could be changed between the check and the load.
        try chmod(so, 0o666)
        result = try TestSupport.eunomia(["run", "opensnoop", "--duration", "1"], store: storeURL)
        XCTAssertEqual(result.stderr, "\(prefix) opensnoop.so is writable by group or others; \(advice)\n")
        try chmod(so, 0o444)

        // The BPF object, appended to.
        let bpfData = try Data(contentsOf: bpf)
        try chmod(bpf, 0o644)
        try (bpfData + Data("x".utf8)).write(to: bpf)
        try chmod(bpf, 0o444)
        result = try TestSupport.eunomia(["run", "opensnoop", "--duration", "1"], store: storeURL)
        XCTAssertEqual(result.stderr, "\(prefix) opensnoop.bpf.o changed since install (\(bpfSize + 1) bytes, the manifest says \(bpfSize)); \(advice)\n")

        // Restored, the build verifies and loads again.
        try chmod(bpf, 0o644)
        try bpfData.write(to: bpf)
        try chmod(bpf, 0o444)
        XCTAssertNoThrow(try store.resolve("opensnoop").verifyFiles())
    }

    private func chmod(_ url: URL, _ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    // 3. Numbers from a schema are range-checked; nothing overflows.
    func testHugeOffsetsAndSizesAreRefused() throws {
        var pkg = try hostile { $0.editField("pid") { $0["offset"] = Int64.max } }.write(to: dir.appendingPathComponent("offset.pkg"))
        try assertInstallRefused(pkg, "offset.pkg: schema.json: record 'open' field 'pid': offset 9223372036854775807 + size 4 lies outside the record's 4168 bytes")
        pkg = try hostile { $0.editField("path") { $0["size"] = Int64.max } }.write(to: dir.appendingPathComponent("size.pkg"))
        try assertInstallRefused(pkg, "size.pkg: schema.json: record 'open' field 'path': offset 72 + size 9223372036854775807 lies outside the record's 4168 bytes")
        pkg = try hostile { p in
            var records = p.schema["records"] as! [[String: Any]]
            records[0]["size"] = Int64.max
            p.schema["records"] = records
        }.write(to: dir.appendingPathComponent("record.pkg"))
        try assertInstallRefused(pkg, "record.pkg: schema.json: record 'open' has size 9223372036854775807, outside 1 to 1048576")
    }

    // 4. Tables are checked for duplicates, sizes that drive allocations are capped.
    func testSchemaThatWouldCrashEveryRunIsRefused() throws {
        var pkg = try hostile { $0.editField("fd") { $0["values"] = ["1": "one", "01": "also one"] } }
            .write(to: dir.appendingPathComponent("values.pkg"))
        try assertInstallRefused(pkg, "values.pkg: schema.json: record 'open' field 'fd': values key '01' is not an integer written in plain decimal")
        pkg = try hostile { $0.editField("pid") { $0["width"] = Int64(1) << 40 } }.write(to: dir.appendingPathComponent("width.pkg"))
        try assertInstallRefused(pkg, "width.pkg: schema.json: record 'open' field 'pid': width 1099511627776 is outside 0 to 256")
        pkg = try hostile { $0.editField("flags") { $0.removeValue(forKey: "display"); $0["bits"] = ["A": 1, "B": 1] } }
            .write(to: dir.appendingPathComponent("bits.pkg"))
        try assertInstallRefused(pkg, "bits.pkg: schema.json: record 'open' field 'flags': bits 'A' and 'B' are both 1")
    }

    // 5 and 13. Durations and process ids are checked before anything is attached.
    func testBadDurationsAndPidsAreOneLine() throws {
        _ = try store.install(package: try TestSupport.opensnoopPackage())
        let cases: [([String], String)] = [
            (["--duration", "inf"], "The value 'inf' is invalid for '--duration <duration>': not a number of seconds above 0 and at most 315360000 (ten years)"),
            (["--duration", "1e300"], "The value '1e300' is invalid for '--duration <duration>': not a number of seconds above 0 and at most 315360000 (ten years)"),
            (["--duration", "1e10"], "The value '1e10' is invalid for '--duration <duration>': not a number of seconds above 0 and at most 315360000 (ten years)"),
            (["--duration", "nan"], "The value 'nan' is invalid for '--duration <duration>': not a number of seconds above 0 and at most 315360000 (ten years)"),
            (["--duration", "-1"], "The value '-1' is invalid for '--duration <duration>': not a number of seconds above 0 and at most 315360000 (ten years)"),
            (["--pid", "-1"], "The value '-1' is invalid for '--pid <pid>': not a process id (a whole number from 1 to 4294967295)"),
            (["--pid", "4294967296"], "The value '4294967296' is invalid for '--pid <pid>': not a process id (a whole number from 1 to 4294967295)"),
            (["--interval", "-5"], "The value '-5' is invalid for '--interval <interval>': not a number of seconds (a whole number from 0 to 86400)"),
            (["--param", "pid=-1"], "parameter 'pid': -1 is below the minimum 0"),
            (["--param", "comm=a\u{1b}[31m"], "parameter 'comm': 'a\\u{1b}[31m' contains a control character"),
        ]
        for (args, expected) in cases {
            let result = try TestSupport.eunomia(["run", "opensnoop"] + args, store: storeURL)
            XCTAssertNotEqual(result.status, 0, "\(args)")
            let suffix = expected.hasPrefix("The value") ? " (see --help)" : ""
            XCTAssertEqual(result.stderr, "eunomia: error: \(expected)\(suffix)\n", "\(args)")
        }
        XCTAssertThrowsError(try Runner.checkDuration(.infinity))
        XCTAssertNoThrow(try Runner.checkDuration(0.001))
    }

    // 7. Only regular files are read as packages: no hang on a directory or a FIFO.
    func testDirectoriesFIFOsAndSymlinksAreNotPackages() throws {
        let sub = dir.appendingPathComponent("adir.pkg")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try assertInstallRefused(sub, "adir.pkg: is a directory, not a regular file")
        let fifo = dir.appendingPathComponent("fifo.pkg")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        try assertInstallRefused(fifo, "fifo.pkg: is a FIFO, not a regular file")
        let link = dir.appendingPathComponent("link.pkg")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: try TestSupport.opensnoopPackage())
        try assertInstallRefused(link, "link.pkg: is a symbolic link (give the file itself)")
        try assertInstallRefused(dir.appendingPathComponent("missing.pkg"), "missing.pkg: no such file")
        // Larger than any package may be (a sparse file: nothing is read).
        let huge = dir.appendingPathComponent("huge.pkg")
        XCTAssertTrue(FileManager.default.createFile(atPath: huge.path, contents: nil))
        XCTAssertEqual(truncate(huge.path, off_t(129 << 20)), 0)
        try assertInstallRefused(huge, "huge.pkg: is 135266304 bytes, more than the 131072 KiB allowed")
    }

    // 8. A closed stdout ends the run at once, not at the next event.
    func testClosedStdoutEndsAQuietRun() throws {
        try TestSupport.requireKernel()
        _ = try store.install(package: try TestSupport.opensnoopPackage())
        // A process that opens nothing: the tracker stays quiet.
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["120"]
        try sleeper.run()
        defer { sleeper.terminate() }
        let process = Process()
        process.executableURL = TestSupport.eunomiaBinary
        process.arguments = ["run", "opensnoop", "-o", "json", "--pid", "\(sleeper.processIdentifier)", "--duration", "60"]
        process.environment = ProcessInfo.processInfo.environment.merging(["EUNOMIA_HOME": storeURL.path]) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // As `| head -1` does once it has its line: the reader goes away.
        try out.fileHandleForReading.close()
        let started = Date()
        while process.isRunning && Date().timeIntervalSince(started) < 30 { usleep(50_000) }
        let stillRunning = process.isRunning
        if stillRunning { process.interrupt() }
        process.waitUntilExit()
        XCTAssertFalse(stillRunning, "eunomia kept running for 30 s after its stdout was closed")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(stderr.hasPrefix("opensnoop@0.1.0: 0 events, 0 lost in "), stderr)
    }

    // 9. One damaged entry does not stop the others.
    func testDamagedEntriesAreReportedAndSkipped() throws {
        let (opensnoop, _) = try store.install(package: try TestSupport.opensnoopPackage())
        let (execsnoop, _) = try store.install(package: try TestSupport.package("execsnoop"))
        try FileManager.default.removeItem(at: execsnoop.directory.appendingPathComponent("schema.json"))
        let stray = storeURL.appendingPathComponent("plugins/opensnoop/junk")
        try FileManager.default.createDirectory(at: stray, withIntermediateDirectories: true)

        let list = try TestSupport.eunomia(["plugin", "list"], store: storeURL)
        XCTAssertEqual(list.status, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, list.stdout)
        XCTAssertTrue(lines[1].hasPrefix("opensnoop  0.1.0    \(opensnoop.buildID)  \(opensnoop.manifest.abi)"), lines[1])
        XCTAssertEqual(lines[2], "damaged plugins/execsnoop/\(execsnoop.directory.lastPathComponent): schema.json: no such file")
        XCTAssertEqual(lines[3], "damaged plugins/opensnoop/junk: not a build directory (VERSION-BUILD)")

        XCTAssertEqual(try store.resolve("opensnoop"), opensnoop)
        XCTAssertNoThrow(try store.resolve("opensnoop").verifyFiles())
        let run = try TestSupport.eunomia(["run", "execsnoop"], store: storeURL)
        XCTAssertEqual(run.stderr, "eunomia: error: execsnoop is damaged in \(storeURL.path) (plugins/execsnoop/\(execsnoop.directory.lastPathComponent): schema.json: no such file); remove it with: eunomia plugin remove execsnoop, then install the package again\n")
        let removed = try TestSupport.eunomia(["plugin", "remove", "execsnoop"], store: storeURL)
        XCTAssertEqual(removed.stdout, "removed damaged plugins/execsnoop/\(execsnoop.directory.lastPathComponent)\n")
        XCTAssertEqual(store.damaged().map(\.path), ["plugins/opensnoop/junk"])
    }

    // 10. Staging is cleaned up; concurrent installs agree; a refused package leaves no store behind.
    func testLeftoversRacesAndFreshStores() throws {
        // A refused package does not create the store.
        let garbage = dir.appendingPathComponent("garbage.pkg")
        try Data("not a zip".utf8).write(to: garbage)
        let fresh = dir.appendingPathComponent("fresh-store")
        let refused = try TestSupport.eunomia(["plugin", "install", garbage.path], store: fresh)
        XCTAssertEqual(refused.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh.path), "a refused package created the store")

        // What an install killed with -9 leaves behind (no process holds its lock) is removed by
        // the next install; a directory whose install still runs (its lock held) is not.
        _ = try store.install(package: try TestSupport.opensnoopPackage())
        let staging = storeURL.appendingPathComponent("staging")
        let abandoned = staging.appendingPathComponent("install-99999-1")
        try FileManager.default.createDirectory(at: abandoned.appendingPathComponent("build"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: abandoned.appendingPathComponent("build/opensnoop.so"))
        let busy = staging.appendingPathComponent("install-99999-2")
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        let lock = open(busy.path, O_RDONLY | O_DIRECTORY)
        XCTAssertEqual(flock(lock, LOCK_EX), 0)
        defer { close(lock) }
        // A new-* directory (made, not yet locked and renamed) of a process that is gone is
        // abandoned at once; a live process's waits a minute (its setup may be under way).
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        try FileManager.default.createDirectory(at: staging.appendingPathComponent("new-\(gone.processIdentifier)-7"), withIntermediateDirectories: true)
        let settingUp = staging.appendingPathComponent("new-\(getpid())-8")
        try FileManager.default.createDirectory(at: settingUp, withIntermediateDirectories: true)
        _ = try store.install(package: try TestSupport.package("execsnoop"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: staging.path).sorted(), ["install-99999-2", "new-\(getpid())-8"])
        try FileManager.default.removeItem(at: settingUp)

        // A real kill -9 mid-install: its staging directory is gone after the next install.
        let big = try TestSupport.package("memleak")
        for _ in 0..<5 {
            let p = Process()
            p.executableURL = TestSupport.eunomiaBinary
            p.arguments = ["plugin", "install", big.path]
            p.environment = ["EUNOMIA_HOME": storeURL.path]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            usleep(20_000)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            try? store.remove("memleak")
        }
        _ = try store.install(package: try TestSupport.package("exitsnoop"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: staging.path), ["install-99999-2"])

        // Eight concurrent installs of one build: one installs it, the rest find it installed.
        let pkg = try TestSupport.package("sigsnoop")
        let group = DispatchGroup()
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [TestSupport.ProcessResult] = []
        }
        let results = Results()
        let storePath = storeURL
        for _ in 0..<8 {
            group.enter()
            DispatchQueue.global().async {
                let r = try? TestSupport.eunomia(["plugin", "install", pkg.path], store: storePath)
                results.lock.lock(); if let r { results.all.append(r) }; results.lock.unlock()
                group.leave()
            }
        }
        group.wait()
        let outputs = results.all
        XCTAssertEqual(outputs.count, 8)
        XCTAssertEqual(outputs.filter { $0.status != 0 }.map(\.stderr), [])
        XCTAssertEqual(outputs.filter { $0.stdout.hasPrefix("installed sigsnoop@") }.count, 1, outputs.map(\.stdout).joined())
        XCTAssertEqual(outputs.filter { $0.stdout.hasPrefix("already installed sigsnoop@") }.count, 7)
        XCTAssertEqual(try store.list().filter { $0.name == "sigsnoop" }.count, 1)
        XCTAssertEqual(store.damaged(), [])
    }

    // 11. CRCs, local headers, and sizes are checked as the format doc says.
    func testZipIntegrityAndSizeCaps() throws {
        let good = try HostilePackage.opensnoop().write(to: dir.appendingPathComponent("good.pkg"))

        var zip = try ZipBytes(good)
        zip.xor(zip.central("schema.json").0 + 16, 0x01)
        try zip.save(dir.appendingPathComponent("central-crc.pkg"))
        var crc = try ZipBytes(good)
        crc.xor(crc.central("schema.json").0 + 16, 0x01)
        crc.xor(crc.local("schema.json").0 + 14, 0x01)
        try crc.save(dir.appendingPathComponent("both-crc.pkg"))
        zip = try ZipBytes(good)
        zip.xor(zip.local("schema.json").0 + 14, 0x01)
        try zip.save(dir.appendingPathComponent("local-crc.pkg"))
        zip = try ZipBytes(good)
        let nameAt = zip.local("schema.json").1
        zip.data[nameAt] = UInt8(ascii: "t")
        try zip.save(dir.appendingPathComponent("local-name.pkg"))
        let stored = try HostilePackage.opensnoop().write(to: dir.appendingPathComponent("stored.pkg"), stored: true)
        zip = try ZipBytes(stored)
        zip.set16(zip.local("schema.json").0 + 8, 8)
        try zip.save(dir.appendingPathComponent("local-method.pkg"))

        let original = try ZipBytes(good)
        let at = original.central("schema.json").0 + 16
        let schemaCRC = (0..<4).reduce(UInt32(0)) { $0 | UInt32(original.data[at + $1]) << (8 * UInt32($1)) }
        XCTAssertNoThrow(try Store(path: dir.appendingPathComponent("s2").path).install(package: good, allowUnsigned: true))
        try assertInstallRefused(dir.appendingPathComponent("central-crc.pkg"),
                                 "central-crc.pkg: entry 'schema.json': CRC-32 differs between the local header and the central directory")
        try assertInstallRefused(dir.appendingPathComponent("both-crc.pkg"),
                                 "both-crc.pkg: entry 'schema.json': CRC-32 \(String(schemaCRC, radix: 16)) does not match its zip header's \(String(schemaCRC ^ 1, radix: 16)) (package is corrupt)")
        try assertInstallRefused(dir.appendingPathComponent("local-crc.pkg"),
                                 "local-crc.pkg: entry 'schema.json': CRC-32 differs between the local header and the central directory")
        try assertInstallRefused(dir.appendingPathComponent("local-name.pkg"),
                                 "local-name.pkg: entry 'schema.json': the local header names it 'tchema.json'")
        try assertInstallRefused(dir.appendingPathComponent("local-method.pkg"),
                                 "local-method.pkg: entry 'schema.json': compression method 8 in the local header, 0 in the central directory")

        // Found by the package fuzzer: a deflate stream that never ends made install hang.
        let hang = TestSupport.repoRoot.appendingPathComponent("Tests/Fuzz/regressions/package/deflate-without-end-hangs.bin")
        let hangCopy = dir.appendingPathComponent("hang.pkg")
        try FileManager.default.copyItem(at: hang, to: hangCopy)
        try assertInstallRefused(hangCopy, "hang.pkg: entry 'manifest.json': its deflate stream does not end within the entry (corrupt package)")

        // Found by the package fuzzer: an offset past the end trapped ZIPFoundation's in-memory archive.
        let seek = TestSupport.repoRoot.appendingPathComponent("Tests/Fuzz/regressions/package/zip-offset-past-end-traps-in-memory-archive.bin")
        let seekCopy = dir.appendingPathComponent("seek.pkg")
        try FileManager.default.copyItem(at: seek, to: seekCopy)
        try assertInstallRefused(seekCopy, "seek.pkg: no manifest.json")

        // A small package whose manifest inflates past what any entry may be.
        var bomb = try HostilePackage.opensnoop()
        bomb.manifestEdits.append { $0["padding"] = String(repeating: " ", count: 65 << 20) }
        let bombURL = try bomb.write(to: dir.appendingPathComponent("bomb.pkg"))
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: bombURL.path)[.size] as! Int, 1 << 20)
        try assertInstallRefused(bombURL, "bomb.pkg: entry 'manifest.json' is larger than 64 MiB")
        var big = try HostilePackage.opensnoop()
        big.manifestEdits.append { $0["padding"] = String(repeating: " ", count: 300 << 10) }
        try assertInstallRefused(try big.write(to: dir.appendingPathComponent("big.pkg")), "big.pkg: entry 'manifest.json' inflates to more than 256 KiB")
    }

    // 12. Strict where it must be.
    func testLenientInputsAreRefused() throws {
        func refuse(_ name: String, _ expected: String, _ edit: (inout HostilePackage) -> Void) throws {
            try assertInstallRefused(try hostile(edit).write(to: dir.appendingPathComponent(name)), "\(name): \(expected)")
        }
        try refuse("upper.pkg", "manifest.json: file 'opensnoop.bpf.o' has sha256 '\(try sha("opensnoop.bpf.o").uppercased())', not 64 lower-case hex digits") { p in
            p.manifestEdits.append { m in
                var files = m["files"] as! [[String: Any]]
                files[0]["sha256"] = (files[0]["sha256"] as! String).uppercased()
                m["files"] = files
            }
        }
        try refuse("abi.pkg", "manifest.json: abi 1.-5 is not two numbers from 0 to 65535") { $0.setIdentity("abi", ["major": 1, "minor": -5]) }
        try refuse("zero.pkg", "manifest.json: version '01.0.0' is not a semantic version (semver.org 2.0.0, e.g. 1.2.3 or 1.2.3-rc.1)") { $0.setIdentity("version", "01.0.0") }
        try refuse("accent.pkg", "manifest.json: version '1.0.0-é' is not a semantic version (semver.org 2.0.0, e.g. 1.2.3 or 1.2.3-rc.1)") { $0.setIdentity("version", "1.0.0-é") }
        try refuse("kernel.pkg", "manifest.json: requires.kernel '5.8; rm -rf /' is not a kernel version like 5.8 or 6.1.0") { p in
            p.setIdentity("requires", ["kernel": "5.8; rm -rf /"])
        }
        try refuse("tp.pkg", "manifest.json: requires.tracepoints entry '../../../../etc/passwd' is not CATEGORY/EVENT of letters, digits and '_'") { p in
            p.setIdentity("requires", ["tracepoints": ["../../../../etc/passwd"]])
        }
        try refuse("enum.pkg", "schema.json: parameter 'pid': enum applies to string parameters") { p in
            p.editParameter("pid") { $0["enum"] = ["1", "2"] }
        }
        try refuse("ansi.pkg", "manifest.json: description contains the control character U+001B") { p in
            p.setIdentity("description", "\u{1b}[2J\u{1b}[31mpwned")
        }
        try refuse("column.pkg", "schema.json: record 'open' field 'pid': column contains the control character U+009B") { p in
            p.editField("pid") { $0["column"] = "P\u{9b}31m" }
        }
        try refuse("bidi.pkg", "schema.json: record 'open' field 'fd': values name 'a\\u{202e}b' contains the control character U+202E") { p in
            p.editField("fd") { $0["values"] = ["1": "a\u{202e}b"] }
        }
        // A zip name with a control byte and no UTF-8 flag is read as CP437, where 0x01 is '☺'.
        var cp437 = try HostilePackage.opensnoop()
        cp437.extraEntries = [("a\u{1}.so", Data("x".utf8))]
        let url = try cp437.write(to: dir.appendingPathComponent("cp437.pkg"))
        var zip = try ZipBytes(url)
        let (central, _) = zip.central("a\u{1}.so")
        zip.set16(central + 8, zip.get16(central + 8) & ~0x0800)
        let (local, _) = zip.local("a\u{1}.so")
        zip.set16(local + 6, zip.get16(local + 6) & ~0x0800)
        try zip.save(url)
        try assertInstallRefused(url, "cp437.pkg: entry 'a☺.so' is not a plain file name (only [A-Za-z0-9._+-]: absolute paths, '/', '..' and control characters are refused)")
    }

    // Found by the schema fuzzer: a timestamp field holding a value that lies before 1970
    // once the boot offset is added (the 2^63 bit set, or 0 on a long-running machine).
    func testTimestampsOutsideTheClockFormatWithoutTrapping() throws {
        let schema = try PluginSchema.decode(Data("""
            {"name": "clock", "version": "1.0.0", "description": "t", "abi": {"major": 1, "minor": 0}, "parameters": [],
             "records": [{"id": 0, "name": "ev", "size": 8,
               "fields": [{"name": "time", "type": "u64", "offset": 0, "size": 8, "display": "timestamp", "column": "TIME", "width": 8}]}]}
            """.utf8), source: "clock.json")
        for value: UInt64 in [0, 1 << 63, UInt64.max, UInt64(Int64.max)] {
            for format in [OutputFormat.table, .json, .csv] {
                let out = CapturedOutput()
                let formatter = EventFormatter(schema: schema, parameters: try ResolvedParameters(schema: schema, assignments: []),
                                               format: format, output: out.buffer)
                var bytes = value
                XCTAssertTrue(withUnsafeBytes(of: &bytes) { formatter.consume(recordID: 0, bytes: $0) })
                let line = out.lines.last ?? ""
                switch format {
                case .table: XCTAssertEqual(line.count, 8, "\(value): \(line)")
                case .json:
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                    let time = try XCTUnwrap(object?["time"], line)
                    XCTAssertNotNil(time.range(of: #"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$"#, options: .regularExpression), time)
                default: XCTAssertEqual(line.count, 30, "\(value): \(line)")
                }
            }
        }
    }

    private func sha(_ file: String) throws -> String {
        let data = try Data(contentsOf: TestSupport.repoRoot.appendingPathComponent("build/plugins/opensnoop/\(file)"))
        return PackageArchive.sha256Hex(data)
    }
}
