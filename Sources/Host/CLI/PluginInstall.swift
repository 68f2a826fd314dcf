import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

extension Plugin {
    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify packages and install them into the store.",
            discussion: "Checks hashes, ABI, schema, the BPF object and kernel requirements before anything is written; a bad package leaves the store unchanged.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Package files (.pkg).") var packages: [String]

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                for path in packages {
                    let (plugin, outcome) = try store.install(package: URL(fileURLWithPath: path))
                    let verb = outcome == .installed ? "installed" : "already installed"
                    print("\(verb) \(plugin.reference) (build \(plugin.buildID)) in \(plugin.directory.path)")
                }
            }
        }
    }
}
