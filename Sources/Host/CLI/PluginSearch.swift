import ArgumentParser
import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Plugin {
    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the plugins the registries hold, or those whose name or description contains TEXT.",
            discussion: "Registries: --registry first, then the config file's [[registry]] entries. A plugin is served by the first registry that lists it.")

        @OptionGroup var sources: RegistryOptions
        @Flag(help: "Every version, not only the newest.") var all = false
        @Argument(help: "Text to look for (case-insensitive).") var text: String?

        func run() async throws {
            try await reportingErrorsAsync {
                let resolver = try sources.resolver()
                var served = Set<String>()
                var rows: [[String]] = []
                for (location, index) in try await resolver.allIndexes() {
                    for plugin in index.plugins where served.insert(plugin.name).inserted {
                        if let text, !plugin.name.lowercased().contains(text.lowercased()),
                           !plugin.description.lowercased().contains(text.lowercased()) { continue }
                        for release in all ? plugin.versions : Array(plugin.versions.prefix(1)) {
                            let note = RegistryResolver.loadable(release) ? "" : " (ABI not loadable here)"
                            rows.append([plugin.name, release.version.description, release.abi + note,
                                         release.signedBy.isEmpty ? "unsigned" : release.signedBy.joined(separator: ","),
                                         location.description, plugin.description])
                        }
                    }
                }
                if rows.isEmpty {
                    print(text.map { "no plugin matches \($0.quotedForError)" } ?? "the registries list no plugins")
                    return
                }
                printTable(header: ["NAME", "VERSION", "ABI", "SIGNED BY", "REGISTRY", "DESCRIPTION"], rows: rows)
            }
        }
    }
}
