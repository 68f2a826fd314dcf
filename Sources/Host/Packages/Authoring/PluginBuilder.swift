import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `eunomia plugin build DIR`: a plugin's BPF object, its library and its package, built
/// against the installed kit (pkg-config eunomia-plugin) the way the bundled trackers are.
package struct PluginBuilder {
    package var directory: URL
    package var output: URL
    /// vmlinux.h to compile against; nil: generated from the running kernel's BTF into output.
    package var vmlinux: URL?
    package var clang = ProcessInfo.processInfo.environment["CLANG"] ?? "clang"
    package var cc = ProcessInfo.processInfo.environment["CC"] ?? "cc"
    package var tools: ToolRunner
    package var identify: (URL) throws -> LibraryIdentity

    package init(directory: URL, output: URL, tools: ToolRunner, identify: @escaping (URL) throws -> LibraryIdentity) {
        self.directory = directory
        self.output = output
        self.tools = tools
        self.identify = identify
    }

    /// What the build reads from the schema: the single source of these three.
    package struct Identity {
        package var name: String
        package var version: String
        package var abi: ABIVersion?
    }

    package static func identity(of directory: URL) throws -> Identity {
        let url = directory.appendingPathComponent("schema.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EunomiaError("\(directory.path): no schema.json") }
        guard data.count <= PluginSchema.maxSize, let root = try? JSONValue.decode(data), root.isObject else {
            throw EunomiaError("\(url.path): not a JSON object")
        }
        guard let name = root["name"]?.string, Validate.isPluginName(name) else {
            throw EunomiaError("\(url.path): name must be a plugin name (lowercase letters, digits, '-' and '_')")
        }
        guard let version = root["version"]?.string, Validate.semver(version) != nil else {
            throw EunomiaError("\(url.path): version must be a semantic version such as 0.1.0")
        }
        var abi: ABIVersion?
        if let a = root["abi"] {
            guard let major = a["major"]?.int, let minor = a["minor"]?.int, (0...0xFFFF).contains(major), (0...0xFFFF).contains(minor) else {
                throw EunomiaError("\(url.path): abi must be {\"major\": N, \"minor\": N}")
            }
            abi = ABIVersion(major: Int(major), minor: Int(minor))
        }
        return Identity(name: name, version: version, abi: abi)
    }

    /// The kit's flags, as pkg-config gives them.
    struct Kit {
        var cflags: [String]
        var libs: [String]
        var bpfCflags: [String]
    }

    func kit() throws -> Kit {
        func query(_ args: [String]) throws -> [String] {
            let r = try tools.run(["pkg-config"] + args + ["eunomia-plugin"], quiet: true)
            guard r.status == 0 else {
                throw EunomiaError("pkg-config finds no eunomia-plugin: install the plugin kit (make install in eunomia's source tree), or point PKG_CONFIG_PATH at the prefix's lib/pkgconfig")
            }
            return String(decoding: r.stdout, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        }
        return Kit(cflags: try query(["--cflags"]), libs: try query(["--libs"]), bpfCflags: try query(["--variable=bpf_cflags"]))
    }

    static var targetArch: String {
        #if arch(arm64)
        return "arm64"
        #else
        return "x86"
        #endif
    }

    /// Builds everything and returns the package.
    package func build() throws -> URL {
        let id = try Self.identity(of: directory)
        let fm = FileManager.default
        let bpfSource = directory.appendingPathComponent("\(id.name).bpf.c")
        guard fm.fileExists(atPath: bpfSource.path) else {
            throw EunomiaError("\(directory.path): no \(id.name).bpf.c (the BPF program is named after the schema's name)")
        }
        let sources = try fm.contentsOfDirectory(atPath: directory.path).sorted()
            .filter { $0.hasSuffix(".c") && !$0.hasSuffix(".bpf.c") }
            .map { directory.appendingPathComponent($0).path }
        guard !sources.isEmpty else { throw EunomiaError("\(directory.path): no user-space C source (NAME.c)") }
        let kit = try kit()
        try fm.createDirectory(at: output, withIntermediateDirectories: true)

        let header: URL
        if let vmlinux { header = vmlinux } else {
            header = output.appendingPathComponent("vmlinux.h")
            if !fm.fileExists(atPath: header.path) {
                let btf = "/sys/kernel/btf/vmlinux"
                guard fm.fileExists(atPath: btf) else { throw EunomiaError("this kernel has no BTF (\(btf)): pass --vmlinux with a vmlinux.h") }
                let partial = output.appendingPathComponent("vmlinux.h.tmp")
                try tools.check(["bpftool", "btf", "dump", "file", btf, "format", "c"], what: "vmlinux.h", stdout: partial)
                try fm.moveItem(at: partial, to: header)
            }
        }
        let headerDir = header.deletingLastPathComponent().path

        let object = output.appendingPathComponent("\(id.name).bpf.o")
        try tools.check([clang, "-O2", "-g", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_\(Self.targetArch)"]
                        + kit.bpfCflags + ["-I", headerDir, "-I", directory.path, "-c", bpfSource.path, "-o", object.path],
                        what: "compiling \(bpfSource.lastPathComponent)")

        var defines = ["-DEUNOMIA_PLUGIN_NAME=\"\(id.name)\"", "-DEUNOMIA_PLUGIN_VERSION=\"\(id.version)\""]
        if let abi = id.abi { defines += ["-DEUNOMIA_PLUGIN_ABI_MAJOR=\(abi.major)", "-DEUNOMIA_PLUGIN_ABI_MINOR=\(abi.minor)"] }
        let library = output.appendingPathComponent("\(id.name).so")
        try tools.check([cc, "-O2", "-g", "-Wall", "-Wextra", "-fPIC", "-fvisibility=hidden"] + kit.cflags + defines
                        + ["-I", directory.path] + sources
                        + ["-o", library.path, "-shared", "-Wl,-z,defs", "-Wl,-z,now"] + kit.libs,
                        what: "linking \(library.lastPathComponent)")

        let schema = output.appendingPathComponent("schema.json")
        try? fm.removeItem(at: schema)
        try fm.copyItem(at: directory.appendingPathComponent("schema.json"), to: schema)
        return try PackageArchive.pack(directory: output, output: output.appendingPathComponent("\(id.name)-\(id.version).pkg"), identify: identify)
    }
}
