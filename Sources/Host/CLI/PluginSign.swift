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
    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign packages with a private key.",
            discussion: """
                Adds a detached Ed25519 signature over the package's manifest.json (which pins the SHA-256 of every file) as the package's signatures.json entry, so the signature travels with the file. manifest.json is left byte for byte as it was: the package's build id does not change.

                A package may carry several signatures (one per key); signing again with the same key replaces that key's signature. A store installs the package once it trusts one of the keys:
                  eunomia key generate release            writes release.key (secret) and release.pub
                  eunomia plugin sign opensnoop-0.1.0.pkg --key release.key
                  eunomia key trust release.pub           on each machine that installs it
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Private key file (NAME.key, from eunomia key generate).", valueName: "file")) var key: String
        @Argument(help: "Package files (.pkg), rewritten in place.") var packages: [String]

        func run() throws {
            _ = try global.setUp()
            try reportingErrors {
                let signing = try KeyFiles.readPrivate(key)
                for path in packages {
                    let signed = try PackageArchive.sign(URL(fileURLWithPath: path), with: signing)
                    let others = signed.keys.filter { $0 != signing.publicKey.key }.map(\.keyID)
                    print("\(signed.replaced ? "re-signed" : "signed") \(path) (\(signed.manifest.name) \(signed.manifest.version)) with key \(signing.publicKey.label)"
                          + (others.isEmpty ? "" : "; also signed by \(others.joined(separator: ", "))"))
                }
            }
        }
    }
}
