import ArgumentParser
import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Version

extension Plugin {
    struct Outdated: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show installed plugins that a registry has a newer version of.",
            discussion: "Compares the newest installed version of each plugin with the newest version its registry lists that this host can load. Exit status 0 either way; plugin upgrade installs them.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var sources: RegistryOptions

        func run() async throws {
            let (store, _) = try global.setUp()
            try await reportingErrorsAsync {
                let resolver = try sources.resolver()
                let newer = try await Upgrades.available(in: store, resolver: resolver, only: [])
                if newer.isEmpty {
                    print("every installed plugin is at the newest version its registry lists")
                    return
                }
                printTable(header: ["NAME", "INSTALLED", "AVAILABLE", "REGISTRY"],
                           rows: newer.map { [$0.name, $0.installed.description, $0.choice.release.version.description, $0.choice.location.description] })
            }
        }
    }
}

/// Installed plugins and what their registries offer beyond them.
enum Upgrades {
    struct Available {
        let name: String
        let installed: Version
        let choice: RegistryResolver.Choice
    }

    /// For each installed plugin (or each of `only`, NAME or NAME@RANGE), the newest version
    /// the requirement admits, when it is newer than the newest installed one. A plugin no
    /// registry lists is skipped when scanning all, and an error when named.
    static func available(in store: Store, resolver: RegistryResolver, only: [String]) async throws -> [Available] {
        var newest: [String: Version] = [:]
        for p in try store.list() where newest[p.name].map({ p.semver > $0 }) ?? true { newest[p.name] = p.semver }
        var wanted: [(String, VersionRequirement, named: Bool)] = []
        if only.isEmpty {
            wanted = newest.keys.sorted().map { ($0, .any, false) }
        } else {
            for text in only {
                let r = try PluginReference.parse(text)
                guard newest[r.name] != nil else {
                    throw EunomiaError("\(r.name) is not installed; plugin install \(r.name) installs it", kind: .notFound)
                }
                wanted.append((r.name, r.requirement, true))
            }
        }
        var result: [Available] = []
        for (name, requirement, named) in wanted {
            guard let installed = newest[name] else { continue }
            if !named, try await resolver.listing(name) == nil { continue }
            let choice = try await resolver.choose(name, requirement)
            if choice.release.version > installed { result.append(Available(name: name, installed: installed, choice: choice)) }
        }
        return result
    }
}
