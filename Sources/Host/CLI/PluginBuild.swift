import ArgumentParser
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Plugin {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a plugin folder into a package: the BPF object, the library and NAME-VERSION.pkg.",
            discussion: """
                DIR holds schema.json, NAME.bpf.c and the user-space C sources (what `eunomia plugin new` \
                scaffolds). The BPF program is compiled with clang -target bpf against the kit's BPF headers \
                and a vmlinux.h dumped from this kernel's BTF with bpftool; the library with cc against \
                `pkg-config --cflags --libs eunomia-plugin`, with the schema's name, version and ABI passed \
                as EUNOMIA_PLUGIN_NAME, EUNOMIA_PLUGIN_VERSION and EUNOMIA_PLUGIN_ABI_MAJOR/_MINOR. Then \
                the folder is packed as `eunomia plugin pack` does. Every command is printed as it runs.

                Needs clang, cc, bpftool, pkg-config and the kit (make install puts it under /usr/local; \
                set PKG_CONFIG_PATH for another prefix). CLANG and CC choose other compilers.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The plugin's folder.") var directory: String = "."
        @Option(name: .shortAndLong, help: "Where the build goes (default: DIR/build).") var output: String?
        @Option(help: "Compile against this vmlinux.h instead of one dumped from this kernel's BTF.") var vmlinux: String?

        func run() throws {
            _ = try global.setUp()
            try reportingErrors {
                let dir = URL(fileURLWithPath: directory)
                var builder = PluginBuilder(directory: dir, output: output.map { URL(fileURLWithPath: $0) } ?? dir.appendingPathComponent("build"),
                                            tools: ToolRunner(echo: { print($0) }),
                                            identify: { try LibraryProbe.probe($0, executable: selfExecutable) })
                builder.vmlinux = vmlinux.map { URL(fileURLWithPath: $0) }
                let package = try builder.build()
                print("packed \(package.path)")
            }
        }
    }
}
