import CHostSupport
import EunomiaSchema
import Foundation

/// `eunomia plugin lint`: everything that would make a package fail to pack, install or load
/// on this machine, found before anyone installs it. Runs no plugin code in this process: the
/// library's table is read in a child, the BPF object is opened but never loaded.
package struct PluginLint {
    package enum Level: String { case ok, warn, fail }
    package struct Finding {
        package var level: Level
        package var subject: String
        package var text: String
    }

    package private(set) var findings: [Finding] = []
    package private(set) var title = ""
    package var problems: Int { findings.filter { $0.level == .fail }.count }
    package var warnings: Int { findings.filter { $0.level == .warn }.count }

    private mutating func note(_ level: Level, _ subject: String, _ text: String) { findings.append(Finding(level: level, subject: subject, text: text)) }

    /// Lints a .pkg file, a build folder (schema.json, one *.so, one *.bpf.o) or a plugin
    /// folder whose build/ holds one.
    package static func run(_ target: URL, identify: (URL) throws -> LibraryIdentity) throws -> PluginLint {
        var lint = PluginLint()
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: target.path, isDirectory: &isDir) else { throw EunomiaError("\(target.path): no such file or folder") }
        if isDir.boolValue {
            let build = isBuildFolder(target) ? target : target.appendingPathComponent("build")
            guard isBuildFolder(build) else {
                throw EunomiaError("\(target.path): no build to lint (schema.json, NAME.so and NAME.bpf.o here or in build/): run eunomia plugin build first")
            }
            try lint.lintBuild(build, identify: identify)
        } else {
            try lint.lintPackage(target, identify: identify)
        }
        return lint
    }

    static func isBuildFolder(_ dir: URL) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.contains("schema.json") && names.filter { $0.hasSuffix(".so") }.count == 1 && names.filter { $0.hasSuffix(".bpf.o") }.count == 1
    }

    mutating func lintBuild(_ dir: URL, identify: (URL) throws -> LibraryIdentity) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        let library = dir.appendingPathComponent(names.first { $0.hasSuffix(".so") }!)
        let object = dir.appendingPathComponent(names.first { $0.hasSuffix(".bpf.o") }!)
        let source = try Data(contentsOf: dir.appendingPathComponent("schema.json"))
        title = dir.path
        let identity = lintLibrary(library, identify: identify)
        // The schema as pack would write it; a disagreement with the library is its own finding.
        let completed: Data
        do {
            completed = try SchemaCompletion.complete(source, bpfObject: object, library: nil, abiFallback: identity?.abi)
        } catch let e as EunomiaError {
            note(.fail, "schema", e.message)
            lintObject(object, schema: nil)
            return
        }
        lintRest(schemaData: completed, library: library, object: object, identity: identity)
    }

    mutating func lintPackage(_ pkg: URL, identify: (URL) throws -> LibraryIdentity) throws {
        title = pkg.path
        let contents = try PackageArchive.read(pkg)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eunomia-lint-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (file, data) in contents.files { try SafeFile.writeNew(dir.appendingPathComponent(file.path).path, data) }
        let library = dir.appendingPathComponent(contents.manifest.library), object = dir.appendingPathComponent(contents.manifest.bpfObject)
        note(contents.signatures.signatures.isEmpty ? .warn : .ok, "signatures",
             contents.signatures.signatures.isEmpty ? "none: a store that requires signatures refuses it (eunomia plugin sign)" : "\(contents.signatures.signatures.count), not checked here (install checks them against the store's trusted keys)")
        let identity = lintLibrary(library, identify: identify)
        let schemaData = contents.files.first { $0.0.path == contents.manifest.schema }?.1 ?? Data()
        lintRest(schemaData: schemaData, library: library, object: object, identity: identity)
    }

    private mutating func lintLibrary(_ library: URL, identify: (URL) throws -> LibraryIdentity) -> LibraryIdentity? {
        do {
            try ArtifactChecks.checkLibrary(library)
            let identity = try identify(library)
            do {
                try ArtifactChecks.checkABI(identity.abi, what: "it")
                note(.ok, "library", "\(library.lastPathComponent) exports eunomia_plugin_entry: \(identity.name) \(identity.version), ABI \(identity.abi) (this host: \(ArtifactChecks.hostABI))")
            } catch let e as EunomiaError {
                note(.fail, "library", "\(library.lastPathComponent) (\(identity.name) \(identity.version)): \(e.message)")
            }
            return identity
        } catch let e as EunomiaError {
            note(.fail, "library", e.message)
        } catch {
            note(.fail, "library", "\(error)")
        }
        return nil
    }

    private mutating func lintRest(schemaData: Data, library: URL, object: URL, identity: LibraryIdentity?) {
        let schema: PluginSchema
        do {
            schema = try PluginSchema.decode(schemaData, source: "schema.json")
        } catch let e as EunomiaError {
            note(.fail, "schema", e.message)
            lintObject(object, schema: nil)
            return
        } catch {
            note(.fail, "schema", "\(error)")
            return
        }
        title = "\(schema.name) \(schema.version) (\(title))"
        note(.ok, "schema", "\(schema.parameters.count) parameters with defaults of their types, \(schema.records.count) record\(schema.records.count == 1 ? "" : "s")")
        if let identity {
            if identity.name != schema.name || identity.version != schema.version || identity.abi != schema.abi {
                note(.fail, "identity", "the library says \(identity.name) \(identity.version) ABI \(identity.abi), the schema \(schema.name) \(schema.version) ABI \(schema.abi): build with eunomia plugin build, which passes the schema's")
            } else {
                note(.ok, "identity", "library and schema agree: \(schema.name) \(schema.version), ABI \(schema.abi)")
            }
        }
        do {
            try ArtifactChecks.checkBPFObject(object)
            try ArtifactChecks.checkLayouts(schema, bpfObject: object)
            let described = schema.records.filter { $0.btfStruct != nil }
            let others = schema.records.count - described.count
            note(.ok, "layout", described.map { "record '\($0.name)' matches struct \($0.btfStruct!) (\($0.size) bytes, \($0.fields.count) fields)" }.joined(separator: "; ")
                 + (others > 0 ? (described.isEmpty ? "" : "; ") + "\(others) record\(others == 1 ? "" : "s") without btf_struct, not checkable" : ""))
        } catch let e as EunomiaError {
            note(.fail, "layout", e.message)
        } catch {
            note(.fail, "layout", "\(error)")
        }
        do {
            try ArtifactChecks.checkKernel(schema.requires, plugin: schema.name)
            if let r = schema.requires { note(.ok, "requires", describe(r)) }
        } catch let e as EunomiaError {
            note(.fail, "requires", "install refuses it here: \(e.message)")
        } catch {}
        lintObject(object, schema: schema)
    }

    private func describe(_ r: Requirements) -> String {
        var parts: [String] = []
        if let k = r.kernel { parts.append("Linux \(k)+") }
        if r.btf == true { parts.append("BTF") }
        if let t = r.tracepoints, !t.isEmpty { parts.append("\(t.count) tracepoint\(t.count == 1 ? "" : "s")") }
        return "this kernel has " + (parts.isEmpty ? "everything" : parts.joined(separator: ", "))
    }

    // MARK: The BPF object

    /// Licenses the kernel counts as GPL-compatible (license_is_gpl_compatible): without one,
    /// GPL-only helpers (bpf_probe_read_*, bpf_get_stack...) fail to load.
    static let gplCompatible: Set<String> = ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"]

    private mutating func lintObject(_ object: URL, schema: PluginSchema?) {
        var err = [CChar](repeating: 0, count: 256)
        var text = [CChar](repeating: 0, count: 128)
        if eh_elf_section_text(object.path, "license", &text, text.count, &err, err.count) == 0 {
            let license = String(cString: text)
            if Self.gplCompatible.contains(license) {
                note(.ok, "license", license)
            } else {
                note(.fail, "license", "\(license.isEmpty ? "empty" : license.quotedForError) is not GPL-compatible: the kernel refuses the GPL-only helpers every tracker uses (char LICENSE[] SEC(\"license\") = \"GPL\";)")
            }
        } else {
            let why = String(cString: err)
            if why.hasPrefix("has no ") {
                note(.fail, "license", "the BPF object \(why): add char LICENSE[] SEC(\"license\") = \"GPL\";")
            } else {
                note(.fail, "license", "the BPF object cannot be read: \(why)")
            }
        }
        var buffer = [CChar](repeating: 0, count: 16384)
        let count = eh_bpf_program_sections(object.path, &buffer, buffer.count, &err, err.count)
        guard count >= 0 else {
            note(.fail, "programs", String(cString: err))
            return
        }
        let programs = buffer.split(separator: 0, omittingEmptySubsequences: true).prefix(Int(count))
            .map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        guard !programs.isEmpty else {
            note(.fail, "programs", "the BPF object has no programs")
            return
        }
        var attachable = 0
        var probe = AttachProbe()
        // A uprobe the plugin attaches itself to the binary and symbol its parameters name.
        if let schema, case .string(let binary)? = schema.parameter(named: "binary")?.default,
           case .string(let symbol)? = schema.parameter(named: "symbol")?.default {
            probe.uprobeTarget = (binary, symbol)
        }
        for entry in programs {
            let parts = entry.split(separator: " ", maxSplits: 1).map(String.init)
            let section = parts[0], name = parts.count > 1 ? parts[1] : "?"
            let (level, text) = probe.check(section: section)
            if level != .fail { attachable += 1 }
            note(level == .fail ? .warn : level, "\(section) (\(name))", text)
        }
        if attachable == 0 { note(.fail, "programs", "none of the \(programs.count) programs can attach on this kernel") }
    }
}

/// Whether a program's attach point exists on the running kernel, by its section name.
struct AttachProbe {
    let tracefs = Tracefs.root
    /// The defaults of the plugin's `binary` and `symbol` parameters, where it has them.
    var uprobeTarget: (binary: String, symbol: String)?

    func check(section: String) -> (PluginLint.Level, String) {
        let fm = FileManager.default
        let kind = section.split(separator: "/", maxSplits: 1).first.map(String.init) ?? section
        let target = section.dropFirst(kind.count + 1)
        switch kind {
        case "tracepoint", "tp":
            guard let tracefs else { return (.fail, "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)") }
            return fm.fileExists(atPath: "\(tracefs)/events/\(target)") ? (.ok, "tracepoint present")
                : (.fail, "no tracepoint \(target) on this kernel: the helper skips the program; list it in requires.tracepoints if the tracker cannot do without it")
        case "tp_btf":
            switch eh_kernel_btf_has("btf_trace_\(target)", 8 /* BTF_KIND_TYPEDEF */) {
            case 1: return (.ok, "raw tracepoint \(target) in the kernel's BTF")
            case 0: return (.fail, "the kernel's BTF has no raw tracepoint \(target): keep a raw_tp/ copy and disable one of the two in configure (eunomia_tp_btf_available)")
            default: return (.fail, "this kernel has no BTF (/sys/kernel/btf/vmlinux)")
            }
        case "raw_tp", "raw_tracepoint":
            guard let tracefs else { return (.fail, "tracefs is not mounted") }
            let categories = (try? fm.contentsOfDirectory(atPath: "\(tracefs)/events")) ?? []
            return categories.contains { fm.fileExists(atPath: "\(tracefs)/events/\($0)/\(target)") } ? (.ok, "raw tracepoint present")
                : (.fail, "no tracepoint \(target) on this kernel")
        case "kprobe", "kretprobe":
            guard let tracefs, fm.fileExists(atPath: "\(tracefs)/kprobe_events") else {
                return (.fail, "this kernel has no kprobes (CONFIG_KPROBE_EVENTS): keep a tracepoint fallback and choose it in configure with eunomia_kprobe_available")
            }
            let symbol = target.split(separator: "+").first.map(String.init) ?? String(target)
            return Self.kernelHasSymbol(symbol) ? (.ok, "kprobe on \(symbol)") : (.fail, "no kernel function \(symbol) (/proc/kallsyms)")
        case "fentry", "fexit", "fmod_ret", "lsm":
            switch eh_kernel_btf_has(kind == "lsm" ? "bpf_lsm_\(target)" : String(target), 12 /* BTF_KIND_FUNC */) {
            case 1: return (.warn, "\(target) is in the kernel's BTF, but BPF trampolines are refused on some kernels (EPERM): keep a fallback")
            case 0: return (.fail, "no kernel function \(target) in BTF")
            default: return (.fail, "this kernel has no BTF")
            }
        case "uprobe", "uretprobe", "uprobe.s", "uretprobe.s":
            if !target.isEmpty {
                // SEC("uprobe/PATH:FUNCTION"), attached by libbpf.
                let parts = target.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { return (.fail, "\(target) is not PATH:FUNCTION") }
                return Self.checkUprobe(binary: parts[0], symbol: parts[1], how: "its section")
            }
            guard let (binary, symbol) = uprobeTarget else {
                return (.ok, "attached at run time by the plugin's attach callback (eunomia_bpf_attach_uprobe); no binary and symbol parameters to check")
            }
            return Self.checkUprobe(binary: binary, symbol: symbol, how: "the binary and symbol parameters' defaults")
        case "perf_event":
            return (.ok, "attached at run time by the plugin (eunomia_bpf_attach_perf_event)")
        case "iter", "iter.s":
            return (.ok, "BPF iterator \(target)")
        default:
            return (.warn, "not a section kind eunomia's helper attaches (\(kind)); attach it in the plugin's attach callback")
        }
    }

    /// Where the helper looks for a library named without a path (eunomia_resolve_binary also
    /// looks among the files the target process maps).
    static let libraryDirectories = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                                     "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]

    static func resolveBinary(_ binary: String) -> String? {
        let fm = FileManager.default
        if binary.contains("/") { return fm.fileExists(atPath: binary) ? binary : nil }
        let stem = binary.hasPrefix("lib") ? binary : "lib\(binary)"
        for dir in libraryDirectories {
            guard let names = try? fm.contentsOfDirectory(atPath: dir) else { continue }
            // The file itself, then its versioned names, then the bare .so, which is often a
            // linker script (libc.so): the first that is ELF.
            let candidates = names.filter { $0 == binary }.sorted() + names.filter { $0.hasPrefix("\(stem).so.") }.sorted()
                + names.filter { $0 == "\(stem).so" }
            if let hit = candidates.first(where: { isELF("\(dir)/\($0)") }) { return "\(dir)/\(hit)" }
        }
        return nil
    }

    static func isELF(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x7F, 0x45, 0x4C, 0x46])
    }

    static func checkUprobe(binary: String, symbol: String, how: String) -> (PluginLint.Level, String) {
        guard let path = resolveBinary(binary) else { return (.fail, "\(binary) (\(how)) is not a file or a library in \(libraryDirectories.prefix(2).joined(separator: ", ")) ...") }
        switch eh_elf_has_function(path, symbol) {
        case 1: return (.ok, "\(symbol) in \(path) (\(how))")
        case 0: return (.fail, "\(path) has no function \(symbol) (\(how))")
        default: return (.fail, "\(path) is not a readable ELF file (\(how))")
        }
    }

    static func kernelHasSymbol(_ symbol: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/kallsyms") else { return false }
        let needle = Array(" \(symbol)".utf8)
        // Lines are "ADDRESS TYPE NAME[\t[MODULE]]".
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let last = line.lastIndex(of: UInt8(ascii: " ")) else { continue }
            var end = line.endIndex
            if let tab = line[last...].firstIndex(of: UInt8(ascii: "\t")) { end = tab }
            if line[last..<end].elementsEqual(needle) { return true }
        }
        return false
    }
}
