import ArgumentParser
import CHostSupport
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

extension Key {
    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trust a public key: the store installs packages it signed.",
            discussion: """
                Checks FILE.pub (written by eunomia key generate) and copies the key into STORE/trusted-keys/KEYID.pub. Compare the fingerprint it prints with the one the key's owner gave you: trusting a key lets whoever holds its private half run code as root through this store.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Public key files (NAME.pub).") var files: [String]

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                for file in files {
                    let key = try KeyFiles.readPublic(file)
                    switch try store.trustStore.trust(key) {
                    case .trusted: print("trusted \(key.label), fingerprint \(key.key.fingerprint), in \(store.trustStore.directory.path)")
                    case .alreadyTrusted(let existing): print("already trusted: \(existing.label)")
                    }
                }
            }
        }
    }
}
