import EunomiaPackages
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Version

/// The registries to search, in order, with their indexes read once per command. The first
/// registry that lists a plugin serves it: later ones are not consulted for that name, so a
/// registry further down the list cannot shadow a plugin with a higher version number.
public final class RegistryResolver {
    public let locations: [RegistryLocation]
    public let transport: HTTPTransport
    private var indexes: [RegistryIndex]?

    public init(locations: [RegistryLocation], transport: HTTPTransport) {
        self.locations = locations
        self.transport = transport
    }

    /// A plugin as one registry lists it.
    public struct Listing {
        public let location: RegistryLocation
        public let plugin: RegistryIndex.Plugin
    }

    /// A version chosen for installing, and where from.
    public struct Choice {
        public let location: RegistryLocation
        public let plugin: RegistryIndex.Plugin
        public let release: RegistryIndex.Release

        public var reference: String { "\(plugin.name)@\(release.version)" }

        /// The downloaded package is the plugin and version the index listed it as: an index
        /// may not hand out another (signed) plugin under a trusted name.
        public func checkIdentity(of file: URL) throws {
            let s = try PackageArchive.summary(of: file)
            guard s.name == plugin.name, Validate.semver(s.version) == release.version else {
                throw EunomiaError("\(location) lists \(release.file) as \(reference), but the package is \(s.name)@\(s.version); nothing was installed")
            }
        }
    }

    /// Every registry's index, in order; a registry that cannot be read is an error, not a
    /// silent gap (it could hold the version that should have won).
    public func allIndexes() async throws -> [(RegistryLocation, RegistryIndex)] {
        guard !locations.isEmpty else {
            throw EunomiaError("no registry to look in: give --registry DIR|URL, or add [[registry]] url = \"...\" to the config file", kind: .notFound)
        }
        if indexes == nil {
            var read: [RegistryIndex] = []
            for location in locations { read.append(try await location.index(transport: transport)) }
            indexes = read
        }
        return Array(zip(locations, indexes ?? []))
    }

    /// Where `name` comes from, or nil when no registry lists it.
    public func listing(_ name: String) async throws -> Listing? {
        for (location, index) in try await allIndexes() {
            if let plugin = index.plugin(named: name) { return Listing(location: location, plugin: plugin) }
        }
        return nil
    }

    /// The newest version of `name` that `requirement` admits and this host can load (its ABI);
    /// otherwise one line listing the versions there are.
    public func choose(_ name: String, _ requirement: VersionRequirement) async throws -> Choice {
        guard let listing = try await listing(name) else {
            let searched = locations.map(\.description).joined(separator: ", ")
            throw EunomiaError("no registry lists a plugin named \(name.quotedForError) (searched \(searched)); eunomia plugin search shows what they hold", kind: .notFound)
        }
        let versions = listing.plugin.versions
        let admitted = versions.filter { requirement.admits($0.version) }
        guard !admitted.isEmpty else {
            throw EunomiaError("\(name)@\(requirement) matches none of the versions \(listing.location) has: \(Self.list(versions))", kind: .notFound)
        }
        guard let release = admitted.first(where: { Self.loadable($0) }) else {
            let abis = Set(admitted.map(\.abi)).sorted().joined(separator: ", ")
            throw EunomiaError("\(name)@\(requirement): every matching version needs eunomia ABI \(abis); this host speaks ABI \(ArtifactChecks.hostABI) (versions: \(Self.list(versions)))", kind: .notFound)
        }
        return Choice(location: listing.location, plugin: listing.plugin, release: release)
    }

    /// Downloads the choice into `downloads`, checked against the index.
    public func fetch(_ choice: Choice, into downloads: DownloadDirectory) async throws -> URL {
        try await choice.location.fetch(choice.release, into: downloads, transport: transport)
    }

    /// Whether this host's ABI can load a release (the same rule install applies).
    public static func loadable(_ release: RegistryIndex.Release) -> Bool {
        let parts = release.abi.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return (try? ArtifactChecks.checkABI(ABIVersion(major: parts[0], minor: parts[1]), what: "")) != nil
    }

    static func list(_ versions: [RegistryIndex.Release]) -> String {
        versions.isEmpty ? "none" : versions.map { $0.version.description }.joined(separator: ", ")
    }
}
