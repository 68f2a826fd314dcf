import ArgumentParser
import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct Registry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the index of a registry: a folder of packages served as files or over HTTP.",
        discussion: """
            A registry is a folder holding index.json and the packages it lists (docs/registry.md). Publish one by copying packages into a folder, indexing it, and serving the folder as it is (any static web server):

              eunomia registry index /srv/eunomia
              eunomia plugin install opensnoop@^0.1 --registry https://plugins.example.com/eunomia
            """,
        subcommands: [Index.self])

    struct Index: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIR/index.json for the .pkg files in DIR.",
            discussion: "Each package is read and checked (manifest, file hashes, signatures); the index lists its name, version, ABI, size, SHA-256 and the key ids that signed it. The index is rebuilt from the packages there: a removed file drops out.")

        @Argument(help: "The registry folder.") var directory: String

        func run() throws {
            try reportingErrors {
                let outcome = try RegistryIndexBuilder.build(directory: URL(fileURLWithPath: directory))
                let versions = outcome.index.plugins.reduce(0) { $0 + $1.versions.count }
                let unsigned = outcome.index.plugins.flatMap(\.versions).filter(\.signedBy.isEmpty).count
                print("indexed \(outcome.index.plugins.count) plugin\(outcome.index.plugins.count == 1 ? "" : "s"), \(versions) version\(versions == 1 ? "" : "s") in \(outcome.path.path)"
                      + (unsigned > 0 ? " (\(unsigned) unsigned)" : ""))
            }
        }
    }
}
