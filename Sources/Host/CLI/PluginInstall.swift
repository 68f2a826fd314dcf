import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

extension Plugin {
    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify packages and install them into the store.",
            discussion: """
                Checks hashes, ABI, schema, the BPF object and kernel requirements before anything is written; a bad package leaves the store unchanged.

                A package must carry a valid signature by a key the store trusts (eunomia key list). To install one you built or got from someone you trust:
                  eunomia plugin sign FILE.pkg --key NAME.key     (as the signer)
                  eunomia key trust NAME.pub                      (once per store)
                --allow-unsigned installs a package no trusted key signed, with a warning; plugin list shows it as unsigned.
                """)
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Install packages that no trusted key signed (recorded as unsigned, with a warning).") var allowUnsigned = false
        @Argument(help: "Package files (.pkg).") var packages: [String]

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                for path in packages {
                    let (plugin, outcome) = try store.install(package: URL(fileURLWithPath: path), allowUnsigned: allowUnsigned)
                    let verb = outcome == .installed ? "installed" : "already installed"
                    switch plugin.provenance {
                    case .unsigned:
                        print("\(verb) \(plugin.reference) (build \(plugin.buildID)) in \(plugin.directory.path), unsigned")
                        FileHandle.standardError.write(Data("eunomia: warning: \(plugin.reference) is installed unsigned: no key this store trusts signed it (--allow-unsigned)\n".utf8))
                    case .signed:
                        print("\(verb) \(plugin.reference) (build \(plugin.buildID)) in \(plugin.directory.path), signed by \(plugin.provenance.summary)")
                    }
                }
            }
        }
    }
}
