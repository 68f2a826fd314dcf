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
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List installed plugins.",
            discussion: "SIGNED BY names the keys (id and name) whose signatures were verified at install, or says unsigned for a build installed with --allow-unsigned.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                let (plugins, damaged) = store.scan()
                if plugins.isEmpty && damaged.isEmpty {
                    print("no plugins installed in \(store.root.path)")
                    return
                }
                if !plugins.isEmpty {
                    let rows = plugins.map { [$0.name, $0.version, $0.buildID, $0.manifest.abi.description, $0.provenance.summary, $0.manifest.description] }
                    printTable(header: ["NAME", "VERSION", "BUILD", "ABI", "SIGNED BY", "DESCRIPTION"], rows: rows)
                }
                // One line each; the other plugins keep working.
                for d in damaged { print(TerminalText.sanitized("damaged \(d.path): \(d.reason)")) }
            }
        }
    }
}
