import ArgumentParser
import CHostSupport
import EunomiaHost
import EunomiaRegistry
import Foundation
import Logging

extension Plugin {
    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify packages and install them into the store: from a file, a registry, or an OCI registry.",
            discussion: """
                Each argument is one of:
                  PATH.pkg                         a package file
                  NAME, NAME@1.2.3, NAME@^1.2      the newest allowed version in the registries (--registry, [[registry]]);
                                                   also ~1.2.3, ">=1.0.0 <2.0.0" and latest
                  oci://HOST[:PORT]/REPO:TAG       an OCI registry (or REPO@sha256:DIGEST)

                Checks the download against what the registry listed (size and SHA-256, or the OCI digests), then hashes, ABI, schema, the BPF object and kernel requirements, before anything is written; a bad package leaves the store unchanged.

                A package must carry a valid signature by a key the store trusts (eunomia key list). To install one you built or got from someone you trust:
                  eunomia plugin sign FILE.pkg --key NAME.key     (as the signer)
                  eunomia key trust NAME.pub                      (once per store)
                --allow-unsigned installs a package no trusted key signed, with a warning; plugin list shows it as unsigned.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var sources: RegistryOptions
        @Flag(help: "Install packages that no trusted key signed (recorded as unsigned, with a warning).") var allowUnsigned = false
        @Argument(help: "Package files (.pkg), plugin references (NAME[@VERSION|@RANGE]) or oci:// references.") var packages: [String]

        func run() async throws {
            let (store, _) = try global.setUp()
            try await reportingErrorsAsync {
                var resolver: RegistryResolver?
                for argument in packages {
                    let (plugin, outcome): (InstalledPlugin, Store.InstallOutcome)
                    switch try PackageSource.parse(argument) {
                    case .file(let url):
                        (plugin, outcome) = try store.install(package: url, allowUnsigned: allowUnsigned)
                    case .named(let name, let requirement):
                        if resolver == nil { resolver = try sources.resolver() }
                        (plugin, outcome) = try await Self.install(name, requirement, from: resolver!, into: store, allowUnsigned: allowUnsigned)
                    case .oci(let text):
                        (plugin, outcome) = try await installOCI(text, into: store)
                    }
                    Self.report(plugin, outcome)
                }
            }
        }

        /// The newest allowed version from the registries: downloaded into a private directory,
        /// checked against the index, then verified and installed as a file is.
        static func install(_ name: String, _ requirement: VersionRequirement, from resolver: RegistryResolver, into store: Store,
                            allowUnsigned: Bool) async throws -> (InstalledPlugin, Store.InstallOutcome) {
            let choice = try await resolver.choose(name, requirement)
            let downloads = try DownloadDirectory()
            let file = try await resolver.fetch(choice, into: downloads)
            // The directory (and the download in it) is removed when it goes: not before the install.
            return try withExtendedLifetime(downloads) {
                try choice.checkIdentity(of: file)
                return try store.install(package: file, allowUnsigned: allowUnsigned)
            }
        }

        static func report(_ plugin: InstalledPlugin, _ outcome: Store.InstallOutcome) {
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
