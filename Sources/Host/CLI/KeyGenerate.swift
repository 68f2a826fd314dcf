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
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate an Ed25519 key pair for signing packages.",
            discussion: """
                Writes NAME.key (the private key, mode 0600: whoever has it can sign packages your stores install) and NAME.pub (the public key, to give to every store that should trust it) into the current directory or --output. Neither file may exist already.

                The key id, which messages and eunomia key list show, is the first 16 hex digits of the SHA-256 of the raw public key; the fingerprint is all 64.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key name: 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'.") var name: String
        @Option(name: .shortAndLong, help: ArgumentHelp("Directory to write NAME.key and NAME.pub into.", valueName: "dir")) var output: String = "."

        func run() throws {
            _ = try global.setUp()
            try reportingErrors {
                let key = try SigningKey.generate(name: name)
                let (privatePath, publicPath) = try KeyFiles.write(key, into: URL(fileURLWithPath: output, isDirectory: true))
                print("generated key \(key.publicKey.label)")
                print("  private key: \(privatePath) (keep it secret; sign with: eunomia plugin sign FILE.pkg --key \(privatePath))")
                print("  public key:  \(publicPath) (trust it with: eunomia key trust \(publicPath))")
                print("  fingerprint: \(key.publicKey.key.fingerprint)")
            }
        }
    }
}
