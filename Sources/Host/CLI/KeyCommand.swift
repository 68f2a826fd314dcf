import ArgumentParser
import CHostSupport
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create signing keys and choose which keys the store trusts.",
        discussion: """
            eunomia plugin install accepts a package only when it carries a valid signature by a key in the store's trust store (STORE/trusted-keys/), unless --allow-unsigned is given.

              eunomia key generate release           a key pair: release.key (keep it secret) and release.pub
              eunomia plugin sign FILE.pkg --key release.key
              eunomia key trust release.pub          this store now installs what release signs
              eunomia key list                       trusted keys, and signers of installed builds
              eunomia key untrust ID                 builds only that key signed no longer load
            """,
        subcommands: [Generate.self, Trust.self, List.self, Untrust.self])
}
