import Foundation
import XCTest
@testable import EunomiaPackages

/// The plugin author kit as a third party uses it: outside the repository, with only what
/// `make install` put in a temporary prefix (the host binary, the headers, the helper library,
/// pkg-config and the make fragment) on PATH and PKG_CONFIG_PATH.
final class PluginKitTests: XCTestCase {
    /// A prefix with the kit installed by `make install`, and the environment that uses it.
    struct Kit {
        let root: URL
        let prefix: URL
        let store: URL
        var eunomia: String { prefix.appendingPathComponent("bin/eunomia").path }
        var environment: [String: String] {
            ["PATH": "\(prefix.path)/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
             "PKG_CONFIG_PATH": "\(prefix.path)/lib/pkgconfig", "EUNOMIA_HOME": store.path,
             "CLANG": Kit.clang]
        }

        /// The clang the build uses (the Swift toolchain's, on this machine), by absolute path:
        /// PATH above holds only the prefix and the system's directories.
        static var clang: String {
            let env = ProcessInfo.processInfo.environment
            if let c = env["CLANG"], c.hasPrefix("/") { return c }
            for dir in (env["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/clang") {
                return "\(dir)/clang"
            }
            return "clang"
        }

        init(_ label: String = #function) throws {
            root = try TestSupport.temporaryDirectory(label)
            prefix = root.appendingPathComponent("prefix")
            store = root.appendingPathComponent("store")
            // The kit as make install installs it (install-kit), and the host this test suite
            // tests: make's own bin/eunomia rule would run a Swift build inside the test.
            let install = try TestSupport.run("/usr/bin/make", ["-C", TestSupport.repoRoot.path, "--no-print-directory", "install-kit",
                                                                "PREFIX=\(prefix.path)"])
            guard install.status == 0 else { throw TestSupport.TestFailure("make install-kit: \(install.stderr)") }
            try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: TestSupport.eunomiaBinary, to: prefix.appendingPathComponent("bin/eunomia"))
        }

        @discardableResult
        func run(_ arguments: [String], in dir: URL? = nil) throws -> TestSupport.ProcessResult {
            if let dir {
                return try TestSupport.run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", dir.path] + arguments, environment: environment)
            }
            return try TestSupport.run(arguments[0].hasPrefix("/") ? arguments[0] : "/usr/bin/env", arguments[0].hasPrefix("/") ? Array(arguments.dropFirst()) : arguments, environment: environment)
        }
    }

    func testAThirdPartyScaffoldsBuildsSignsPublishesInstallsAndRunsAPlugin() throws {
        try TestSupport.requireKernel(tracepoints: ["sched/sched_process_exec"])
        let kit = try Kit()
        defer { try? FileManager.default.removeItem(at: kit.root) }
        let work = kit.root.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        XCTAssertEqual(try kit.run(["pkg-config", "--modversion", "eunomia-plugin"]).stdout, "\(ArtifactChecks.hostABI)\n")

        let new = try kit.run(["eunomia", "plugin", "new", "kitexec", "--template", "tracepoint"], in: work)
        XCTAssertEqual(new.status, 0, new.stderr)
        let dir = work.appendingPathComponent("kitexec")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)),
                       ["kitexec.bpf.c", "kitexec.c", "kitexec.h", "schema.json", "Makefile"])

        // make, through the kit's fragment, runs eunomia plugin build.
        let make = try kit.run(["make", "-C", dir.path])
        XCTAssertEqual(make.status, 0, make.stdout + make.stderr)
        XCTAssertTrue(make.stdout.contains("-DEUNOMIA_PLUGIN_NAME="), make.stdout)
        let pkg = dir.appendingPathComponent("build/kitexec-0.1.0.pkg")
        XCTAssertTrue(FileManager.default.fileExists(atPath: pkg.path), make.stdout)

        let lint = try kit.run(["eunomia", "plugin", "lint", pkg.path])
        XCTAssertEqual(lint.status, 0, lint.stdout + lint.stderr)
        XCTAssertTrue(lint.stdout.contains("ok    layout: record 'exec' matches struct event"), lint.stdout)
        XCTAssertTrue(lint.stdout.contains("ok    tracepoint/sched/sched_process_exec (handle_exec): tracepoint present"), lint.stdout)

        // Signed with the author's key, published in a registry, installed from it by name.
        let keys = kit.root.appendingPathComponent("keys")
        XCTAssertEqual(try kit.run(["eunomia", "key", "generate", "author", "--output", keys.path]).status, 0)
        let sign = try kit.run(["eunomia", "plugin", "sign", pkg.path, "--key", keys.appendingPathComponent("author.key").path])
        XCTAssertEqual(sign.status, 0, sign.stderr)
        let registry = kit.root.appendingPathComponent("registry")
        try FileManager.default.createDirectory(at: registry, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: pkg, to: registry.appendingPathComponent(pkg.lastPathComponent))
        let index = try kit.run(["eunomia", "registry", "index", registry.path])
        XCTAssertEqual(index.status, 0, index.stderr)
        XCTAssertEqual(try kit.run(["eunomia", "key", "trust", keys.appendingPathComponent("author.pub").path]).status, 0)
        let install = try kit.run(["eunomia", "plugin", "install", "--registry", registry.path, "kitexec"])
        XCTAssertEqual(install.status, 0, install.stderr)
        XCTAssertTrue(install.stdout.contains("signed by"), install.stdout)

        // Its event, from the real kernel: an exec of a file only this test has.
        let marker = work.appendingPathComponent("kit-marker-\(getpid())")
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: marker.path)
        let tracer = try LiveProcess(URL(fileURLWithPath: kit.eunomia), ["run", "kitexec", "-o", "json", "--duration", "60", "--log-level", "info"],
                                     environment: kit.environment)
        XCTAssertTrue(tracer.wait(upTo: 30) { tracer.stderr.contains("attached") }, tracer.stderr)
        _ = try TestSupport.run(marker.path, [])
        let seen = tracer.wait(upTo: 15) { TrackerHarness.records(tracer.stdout).contains { $0["filename"] as? String == marker.path } }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, "no exec of \(marker.path): \(tracer.stdout.suffix(2000)) \(tracer.stderr)")
        let record = TrackerHarness.records(tracer.stdout).first { $0["filename"] as? String == marker.path }
        XCTAssertEqual(record?["comm"] as? String, marker.lastPathComponent.prefix(15).description)
        XCTAssertNotNil(record?["cgroup_id"], "the task ids pack added: \(record ?? [:])")
    }

    /// Every template builds against the kit, lints clean and reports what it traces.
    func testEveryTemplateBuildsLintsAndRuns() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_openat", "raw_syscalls/sys_enter"])
        let kit = try Kit()
        defer { try? FileManager.default.removeItem(at: kit.root) }
        let marker = kit.root.appendingPathComponent("opened-\(getpid())").path
        let triggers: [String: (args: [String], trigger: () throws -> Void, match: ([String: Any]) -> Bool)] = [
            "entry-exit": (["failed", "true"], { _ = try TestSupport.run("/bin/cat", [marker]) },
                           { $0["path"] as? String == marker && $0["ret"] as? String == "-ENOENT" }),
            "periodic": ([], { _ = try TestSupport.run("/bin/ls", ["/"]) },
                         { ($0["rows"] as? [[String: Any]] ?? []).contains { ($0["count"] as? Int ?? 0) > 0 && $0["comm"] is String } }),
            "uprobe": (["symbol", "getaddrinfo"], { _ = try TestSupport.run("/usr/bin/getent", ["ahosts", "localhost"]) },
                       { $0["comm"] as? String == "getent" }),
        ]
        for (template, t) in triggers.sorted(by: { $0.key < $1.key }) {
            let name = "kit" + template.replacingOccurrences(of: "-", with: "")
            XCTAssertEqual(try kit.run(["eunomia", "plugin", "new", name, "--template", template, "-d", kit.root.path]).status, 0)
            let build = try kit.run(["eunomia", "plugin", "build", kit.root.appendingPathComponent(name).path])
            XCTAssertEqual(build.status, 0, "\(template): \(build.stdout) \(build.stderr)")
            let lint = try kit.run(["eunomia", "plugin", "lint", kit.root.appendingPathComponent(name).path])
            XCTAssertEqual(lint.status, 0, "\(template): \(lint.stdout) \(lint.stderr)")
            let pkg = kit.root.appendingPathComponent("\(name)/build/\(name)-0.1.0.pkg")
            let install = try kit.run(["eunomia", "plugin", "install", "--allow-unsigned", pkg.path])
            XCTAssertEqual(install.status, 0, "\(template): \(install.stderr)")
            var args = ["run", name, "-o", "json", "--duration", template == "periodic" ? "2" : "60", "--log-level", "info"]
            for pair in stride(from: 0, to: t.args.count, by: 2) { args += ["--param", "\(t.args[pair])=\(t.args[pair + 1])"] }
            let tracer = try LiveProcess(URL(fileURLWithPath: kit.eunomia), args, environment: kit.environment)
            XCTAssertTrue(tracer.wait(upTo: 30) { tracer.stderr.contains("attached") }, "\(template): \(tracer.stderr)")
            try t.trigger()
            let seen = tracer.wait(upTo: 15) { TrackerHarness.records(tracer.stdout).contains(where: t.match) }
            _ = tracer.interruptAndWait()
            XCTAssertTrue(seen, "\(template): \(tracer.stdout.suffix(1500)) \(tracer.stderr)")
        }
    }

    /// The port docs/plugin-author-guide.md walks through (docs/examples/filelife), built from
    /// a copy outside the repo as the guide builds it: a file created and deleted is reported
    /// with its age, in the guide's columns.
    func testTheGuidesFilelifePortReportsAShortLivedFile() throws {
        try TestSupport.requireKernel(tracepoints: ["syscalls/sys_enter_openat", "syscalls/sys_enter_unlinkat"])
        let kit = try Kit()
        defer { try? FileManager.default.removeItem(at: kit.root) }
        let dir = kit.root.appendingPathComponent("filelife")
        try FileManager.default.copyItem(at: TestSupport.repoRoot.appendingPathComponent("docs/examples/filelife"), to: dir)
        let make = try kit.run(["make", "-C", dir.path])
        XCTAssertEqual(make.status, 0, make.stdout + make.stderr)
        let pkg = dir.appendingPathComponent("build/filelife-0.1.0.pkg")
        let lint = try kit.run(["eunomia", "plugin", "lint", pkg.path])
        XCTAssertEqual(lint.status, 0, lint.stdout + lint.stderr)
        XCTAssertTrue(lint.stdout.contains("ok    layout: record 'deleted' matches struct event (312 bytes, 9 fields)"), lint.stdout)
        XCTAssertEqual(try kit.run(["eunomia", "plugin", "install", "--allow-unsigned", pkg.path]).status, 0)

        let file = kit.root.appendingPathComponent("short-lived-\(getpid())").path
        let tracer = try LiveProcess(URL(fileURLWithPath: kit.eunomia), ["run", "filelife", "-o", "json", "--duration", "60", "--log-level", "info"],
                                     environment: kit.environment)
        XCTAssertTrue(tracer.wait(upTo: 30) { tracer.stderr.contains("attached") }, tracer.stderr)
        _ = try TestSupport.run("/usr/bin/touch", [file])
        Thread.sleep(forTimeInterval: 0.3)
        _ = try TestSupport.run("/bin/rm", [file])
        let seen = tracer.wait(upTo: 15) { TrackerHarness.records(tracer.stdout).contains { $0["file"] as? String == file } }
        XCTAssertEqual(tracer.interruptAndWait(), 0, tracer.stderr)
        XCTAssertTrue(seen, "\(tracer.stdout.suffix(1500)) \(tracer.stderr)")
        let r = TrackerHarness.records(tracer.stdout).first { $0["file"] as? String == file }
        XCTAssertEqual(r?["comm"] as? String, "rm")
        let age = r?["age_s"] as? Double ?? -1
        XCTAssertTrue(age >= 0.25 && age < 10, "age \(age) s: \(r ?? [:])")
    }

    /// A build whose schema puts a field where the struct does not: lint names the field.
    func testLintNamesTheFieldWhoseLayoutDisagreesWithBTF() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let built = TestSupport.repoRoot.appendingPathComponent("build/plugins/opensnoop")
        for file in ["opensnoop.so", "opensnoop.bpf.o"] {
            try FileManager.default.copyItem(at: built.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        var schema = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Plugins/opensnoop/schema.json"), encoding: .utf8)
        schema = schema.replacingOccurrences(of: #"{"name": "pid", "column": "PID""#, with: #"{"name": "pid", "offset": 20, "size": 4, "type": "u32", "column": "PID""#)
        try schema.write(to: dir.appendingPathComponent("schema.json"), atomically: true, encoding: .utf8)
        let lint = try TestSupport.eunomia(["plugin", "lint", dir.path], store: dir.appendingPathComponent("store"))
        XCTAssertEqual(lint.status, 1, lint.stdout)
        XCTAssertTrue(lint.stdout.contains("fail  layout: schema record 'open' (struct event) field 'pid' is at offset 20 size 4, the BPF object has offset 16 size 4"), lint.stdout)
        XCTAssertTrue(lint.stderr.hasPrefix("eunomia: error: lint found 1 problem, "), lint.stderr)
        // A member the struct does not have.
        schema = schema.replacingOccurrences(of: #"{"name": "path", "column": "PATH"}"#, with: #"{"name": "pathname", "column": "PATH"}"#)
        try schema.write(to: dir.appendingPathComponent("schema.json"), atomically: true, encoding: .utf8)
        let missing = try TestSupport.eunomia(["plugin", "lint", dir.path], store: dir.appendingPathComponent("store"))
        XCTAssertTrue(missing.stdout.contains("fail  schema: schema.json: record 'open' field 'pathname': struct event has no member pathname"), missing.stdout)
    }

    /// pack reads the library's table in a child and refuses one that disagrees with the schema.
    func testPackRefusesALibraryWhoseABIOrVersionDisagreesWithTheSchema() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: TestSupport.repoRoot.appendingPathComponent("build/plugins/opensnoop/opensnoop.bpf.o"),
                                         to: work.appendingPathComponent("opensnoop.bpf.o"))
        try FileManager.default.copyItem(at: TestSupport.repoRoot.appendingPathComponent("Plugins/opensnoop/schema.json"),
                                         to: work.appendingPathComponent("schema.json"))
        // A library built for ABI 2.0, as a future kit would build it.
        let source = dir.appendingPathComponent("abi2.c")
        try """
            #include "eunomia/plugin.h"
            static const struct eunomia_plugin table = { .struct_size = sizeof(struct eunomia_plugin), .abi_major = 2, .abi_minor = 0,
                                                          .name = "opensnoop", .version = "0.1.0" };
            EUNOMIA_EXPORT const struct eunomia_plugin *eunomia_plugin_entry(uint16_t a, uint16_t b) { (void)a; (void)b; return &table; }
            """.write(to: source, atomically: true, encoding: .utf8)
        try TestSupport.compileLibrary(source, output: work.appendingPathComponent("opensnoop.so"))
        let store = dir.appendingPathComponent("store")
        var pack = try TestSupport.eunomia(["plugin", "pack", work.path, "-o", dir.path + "/"], store: store)
        XCTAssertEqual(pack.status, 1)
        XCTAssertEqual(pack.stderr, "eunomia: error: opensnoop.so was built for eunomia ABI 2.0 but schema.json says ABI 1.4: rebuild it, or leave abi out of the schema and pack takes the library's\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("opensnoop-0.1.0.pkg").path))

        // The real library, with a version the schema does not have.
        try FileManager.default.removeItem(at: work.appendingPathComponent("opensnoop.so"))
        try FileManager.default.copyItem(at: TestSupport.repoRoot.appendingPathComponent("build/plugins/opensnoop/opensnoop.so"),
                                         to: work.appendingPathComponent("opensnoop.so"))
        let text = try String(contentsOf: work.appendingPathComponent("schema.json"), encoding: .utf8)
        try text.replacingOccurrences(of: #""version": "0.1.0""#, with: #""version": "0.3.0""#)
            .write(to: work.appendingPathComponent("schema.json"), atomically: true, encoding: .utf8)
        pack = try TestSupport.eunomia(["plugin", "pack", work.path, "-o", dir.path + "/"], store: store)
        XCTAssertEqual(pack.status, 1)
        XCTAssertEqual(pack.stderr, "eunomia: error: opensnoop.so reports version 0.1.0 but schema.json says 0.3.0: build it with the schema's version (eunomia plugin build passes it as EUNOMIA_PLUGIN_VERSION)\n")
    }
}
