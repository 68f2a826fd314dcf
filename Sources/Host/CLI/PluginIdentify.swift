import ArgumentParser
import EunomiaHost
import Foundation

extension Plugin {
    /// The child `plugin pack` and `plugin lint` run to read a library's table: loading a
    /// library runs its constructors, which must never run inside the packing process.
    struct Identify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a plugin library's name, version and ABI, as its function table gives them (JSON).",
            shouldDisplay: false)
        @Argument(help: "The plugin's shared library.") var library: String

        func run() throws {
            try reportingErrors {
                let identity = try LibraryProbe.identify(URL(fileURLWithPath: library))
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                FileHandle.standardOutput.write(try encoder.encode(identity) + Data("\n".utf8))
            }
        }
    }
}

/// This executable, for the children that read plugin libraries.
let selfExecutable = "/proc/self/exe"
