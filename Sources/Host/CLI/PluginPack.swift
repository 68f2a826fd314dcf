import ArgumentParser
import CHostSupport
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

extension Plugin {
    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack a plugin build directory into a .pkg file.",
            discussion: """
                DIR holds schema.json, one *.so and one *.bpf.o. The package gets the schema completed: the \
                parameters it names in "common", and the offsets, sizes and types its event records leave \
                out, taken from the BPF object's BTF. Name, version and ABI must agree with the library's own \
                table, read in a child process; every layout is checked against BTF.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Build directory of the plugin.") var directory: String
        @Option(name: .shortAndLong, help: "Output file, or a directory to write NAME-VERSION.pkg into.") var output: String

        func run() throws {
            _ = try global.setUp()
            try reportingErrors {
                let written = try PackageArchive.pack(directory: URL(fileURLWithPath: directory),
                                                      output: URL(fileURLWithPath: output, isDirectory: output.hasSuffix("/")),
                                                      identify: { try LibraryProbe.probe($0, executable: selfExecutable) })
                print("packed \(written.path)")
            }
        }
    }
}
