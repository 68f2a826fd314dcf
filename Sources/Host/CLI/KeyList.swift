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
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List trusted keys, and the keys that signed installed builds.",
            discussion: "TRUSTED is no for a key that signed installed builds but is not in the trust store (untrusted since): those builds do not load unless another trusted key signed them. BUILDS counts the installed builds each key signed.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (store, _) = try global.setUp()
            try reportingErrors {
                let (trusted, damaged) = store.trustStore.scan()
                var signers: [NamedPublicKey] = []
                var builds: [PublicKey: Int] = [:]
                for p in store.scan().plugins {
                    guard case .signed(let vouchers) = p.provenance else { continue }
                    for v in vouchers {
                        builds[v.key.key, default: 0] += 1
                        if !trusted.contains(where: { $0.key == v.key.key }) && !signers.contains(where: { $0.key == v.key.key }) {
                            signers.append(v.key)
                        }
                    }
                }
                if trusted.isEmpty && signers.isEmpty && damaged.isEmpty {
                    print("no trusted keys in \(store.trustStore.directory.path) (add one with: eunomia key trust FILE.pub)")
                    return
                }
                let rows = trusted.map { ($0, "yes") } + signers.map { ($0, "no") }
                if !rows.isEmpty {
                    printTable(header: ["ID", "NAME", "FINGERPRINT", "TRUSTED", "BUILDS"], rows: rows.map { key, isTrusted in
                        [key.keyID, key.name, key.key.fingerprint, isTrusted, String(builds[key.key] ?? 0)]
                    })
                }
                for d in damaged { print(TerminalText.sanitized("damaged \(d.path): \(d.reason) (not trusted)")) }
            }
        }
    }
}
