import CHostSupport
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import PluginABI

/// Checks on a package's files that need no code from the package to run.
package enum ArtifactChecks {
    package static let hostABI = ABIVersion(major: Int(EUNOMIA_ABI_MAJOR), minor: Int(EUNOMIA_ABI_MINOR))

    /// A plugin built for minor M runs on hosts with minor >= M of the same major.
    package static func checkABI(_ abi: ABIVersion, what: String) throws {
        guard abi.major == hostABI.major else {
            throw EunomiaError("\(what) was built for eunomia ABI \(abi); this host speaks ABI \(hostABI) (major versions must match)")
        }
        guard abi.minor <= hostABI.minor else {
            throw EunomiaError("\(what) needs eunomia ABI \(abi); this host speaks ABI \(hostABI): upgrade eunomia")
        }
    }

    static func elfInfo(_ url: URL) throws -> eh_elf_info {
        var info = eh_elf_info()
        var err = [CChar](repeating: 0, count: 256)
        guard eh_elf_inspect(url.path, &info, &err, err.count) == 0 else {
            throw EunomiaError("\(url.lastPathComponent): \(String(cString: err))")
        }
        return info
    }

    static var hostMachine: UInt16 {
        #if arch(x86_64)
        return 62 // EM_X86_64
        #elseif arch(arm64)
        return 183 // EM_AARCH64
        #else
        return 0
        #endif
    }

    static func checkLibrary(_ url: URL) throws {
        let info = try elfInfo(url)
        let name = url.lastPathComponent
        guard info.type == 3 else { throw EunomiaError("\(name): not a shared library (ELF type \(info.type))") }
        guard info.machine == hostMachine else {
            throw EunomiaError("\(name): built for ELF machine \(info.machine), this host is \(hostMachine)")
        }
        guard info.has_entry != 0 else {
            throw EunomiaError("\(name): does not export eunomia_plugin_entry (build with EUNOMIA_BPF_PLUGIN or export it)")
        }
        guard info.nodelete == 0 else {
            throw EunomiaError("\(name): is marked DF_1_NODELETE (as Go c-shared libraries are), so it could never be unloaded and hot swap would leak it")
        }
    }

    static func checkBPFObject(_ url: URL) throws {
        let info = try elfInfo(url)
        let name = url.lastPathComponent
        guard info.machine == 247 else { throw EunomiaError("\(name): not a BPF object (ELF machine \(info.machine), expected 247 EM_BPF)") }
        guard info.type == 1 else { throw EunomiaError("\(name): not a relocatable BPF object (ELF type \(info.type))") }
    }

    /// Every record layout that names a BTF struct must match it: size, and offset and size of each field.
    static func checkLayouts(_ schema: PluginSchema, bpfObject url: URL) throws {
        var err = [CChar](repeating: 0, count: 256)
        for record in schema.records {
            guard let structName = record.btfStruct else { continue }
            let what = "record '\(record.name)' (struct \(structName))"
            let size = eh_btf_struct_size(url.path, structName, &err, err.count)
            guard size >= 0 else { throw EunomiaError("\(url.lastPathComponent): \(String(cString: err))") }
            guard size == record.size else {
                throw EunomiaError("schema \(what) declares \(record.size) bytes but the BPF object's struct has \(size)")
            }
            for field in record.fields where field.type != .template {
                var offset: UInt32 = 0
                var fsize: UInt32 = 0
                guard eh_btf_member(url.path, structName, field.btfMember, &offset, &fsize, &err, err.count) == 0 else {
                    throw EunomiaError("schema \(what) field '\(field.name)': \(String(cString: err))")
                }
                guard offset == field.offset, fsize == field.size else {
                    throw EunomiaError("schema \(what) field '\(field.name)' is at offset \(field.offset) size \(field.size), the BPF object has offset \(offset) size \(fsize)")
                }
            }
        }
    }

    /// The running kernel offers what the plugin requires.
    static func checkKernel(_ req: Requirements?, plugin: String) throws {
        guard let req else { return }
        if req.btf == true && !FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") {
            throw EunomiaError("\(plugin) needs kernel BTF (/sys/kernel/btf/vmlinux), which this kernel lacks")
        }
        if let minimum = req.kernel {
            let running = KernelVersion.running
            guard let need = KernelVersion(minimum) else {
                throw EunomiaError("\(plugin): requires.kernel '\(minimum)' is not a kernel version like 5.8")
            }
            if let running, running < need {
                throw EunomiaError("\(plugin) needs Linux \(minimum) or newer; this kernel is \(running)")
            }
        }
        if let tracepoints = req.tracepoints, let root = Tracefs.root {
            for tp in tracepoints where !FileManager.default.fileExists(atPath: "\(root)/events/\(tp)") {
                throw EunomiaError("\(plugin) needs tracepoint \(tp), which this kernel lacks")
            }
        }
    }
}

enum Tracefs {
    /// Mounted tracefs, if any.
    static var root: String? {
        ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].first {
            FileManager.default.fileExists(atPath: "\($0)/events")
        }
    }
}

struct KernelVersion: Comparable, CustomStringConvertible {
    var parts: [Int]

    init?(_ text: String) {
        let numeric = text.prefix { $0.isNumber || $0 == "." }
        let parts = numeric.split(separator: ".").compactMap { Int($0) }
        guard !parts.isEmpty else { return nil }
        self.parts = parts
    }

    static var running: KernelVersion? {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return KernelVersion(release)
    }

    var description: String { parts.map(String.init).joined(separator: ".") }

    static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        for i in 0..<max(a.parts.count, b.parts.count) {
            let x = i < a.parts.count ? a.parts[i] : 0
            let y = i < b.parts.count ? b.parts[i] : 0
            if x != y { return x < y }
        }
        return false
    }
}
