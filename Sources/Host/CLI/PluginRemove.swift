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
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a plugin version (NAME@VERSION) or every version (NAME).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "NAME or NAME@VERSION.") var plugin: String

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                for removed in try store.remove(plugin) { print("removed \(removed)") }
            }
        }
    }
}
