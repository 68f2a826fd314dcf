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
    struct Untrust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop trusting a key.",
            discussion: """
                Removes STORE/trusted-keys/ID.pub. Packages it signed are refused by install from now on, and installed builds that no other trusted key signed no longer load (eunomia run and tracker start refuse them; running trackers keep running). Builds installed with --allow-unsigned are not affected.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id: 16 hex digits, as eunomia key list shows.") var id: String

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                let removed = try store.trustStore.untrust(id)
                print("untrusted \(removed)")
                let trusted = store.trustStore.keys().map(\.key)
                let stranded = store.scan().plugins.filter { p in
                    guard case .signed(let vouchers) = p.provenance else { return false }
                    return !vouchers.contains { v in trusted.contains(v.key.key) }
                }
                if !stranded.isEmpty {
                    print("no longer loads (no other trusted key signed it): \(stranded.map { "\($0.reference) (build \($0.buildID))" }.joined(separator: ", "))")
                }
            }
        }
    }
}
