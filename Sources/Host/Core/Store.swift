import Foundation
import Version

/// One installed build of a plugin: STORE/plugins/NAME/VERSION-DIGEST/.
public struct InstalledPlugin: Equatable {
    public let manifest: PackageManifest
    public let schema: PluginSchema
    public let directory: URL
    /// First 12 hex digits of the package digest; part of the directory name.
    public let buildID: String

    public var name: String { manifest.name }
    public var version: String { manifest.version }
    public var semver: Version { Version(manifest.version) ?? Version(0, 0, 0) }
    public var libraryURL: URL { directory.appendingPathComponent(manifest.library) }
    public var bpfObjectURL: URL { directory.appendingPathComponent(manifest.bpfObject) }
    public var reference: String { "\(name)@\(version)" }
}

/// The plugin store. Each build of each version lives in its own content-addressed directory,
/// so a library path that is loaded is never overwritten by a later install.
public struct Store {
    public let root: URL
    public static let defaultPath = "/var/lib/eunomia"

    /// --store, else $EUNOMIA_HOME, else /var/lib/eunomia.
    public init(path: String? = nil) {
        let env = ProcessInfo.processInfo.environment["EUNOMIA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        root = URL(fileURLWithPath: path ?? env ?? Store.defaultPath, isDirectory: true)
    }

    var pluginsDir: URL { root.appendingPathComponent("plugins", isDirectory: true) }
    var stagingDir: URL { root.appendingPathComponent("staging", isDirectory: true) }

    public enum InstallOutcome: Equatable { case installed, alreadyInstalled }

    /// Verifies the package and moves it into place with one rename; on any error the store is unchanged.
    public func install(package: URL) throws -> (InstalledPlugin, InstallOutcome) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: stagingDir, withIntermediateDirectories: true)
            try fm.createDirectory(at: pluginsDir, withIntermediateDirectories: true)
        } catch {
            throw EunomiaError("cannot create the plugin store at \(root.path): \(error.localizedDescription)")
        }
        let staging = stagingDir.appendingPathComponent("install-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? fm.removeItem(at: staging) }
        let verified = try PackageArchive.extractAndVerify(package, into: staging)
        let buildID = String(verified.digest.prefix(12))
        let nameDir = pluginsDir.appendingPathComponent(verified.manifest.name, isDirectory: true)
        let dest = nameDir.appendingPathComponent("\(verified.manifest.version)-\(buildID)", isDirectory: true)
        let plugin = InstalledPlugin(manifest: verified.manifest, schema: verified.schema, directory: dest, buildID: buildID)
        if fm.fileExists(atPath: dest.path) { return (plugin, .alreadyInstalled) }
        try fm.createDirectory(at: nameDir, withIntermediateDirectories: true)
        guard rename(staging.path, dest.path) == 0 else {
            throw EunomiaError("cannot move the package into \(dest.path): \(String(cString: strerror(errno)))")
        }
        return (plugin, .installed)
    }

    /// Every installed build, by name then version.
    public func list() throws -> [InstalledPlugin] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: pluginsDir.path) else { return [] }
        var result: [InstalledPlugin] = []
        for name in names.sorted() {
            let nameDir = pluginsDir.appendingPathComponent(name, isDirectory: true)
            for build in (try? fm.contentsOfDirectory(atPath: nameDir.path)) ?? [] {
                let dir = nameDir.appendingPathComponent(build, isDirectory: true)
                result.append(try load(dir))
            }
        }
        return result.sorted { ($0.name, $0.semver) < ($1.name, $1.semver) }
    }

    func load(_ dir: URL) throws -> InstalledPlugin {
        do {
            let manifest = try PackageManifest.decode(Data(contentsOf: dir.appendingPathComponent(PackageManifest.fileName)))
            let schema = try PluginSchema.decode(Data(contentsOf: dir.appendingPathComponent(manifest.schema)), source: manifest.schema)
            let buildID = String(dir.lastPathComponent.split(separator: "-").last ?? "")
            return InstalledPlugin(manifest: manifest, schema: schema, directory: dir, buildID: buildID)
        } catch {
            throw EunomiaError("store entry \(dir.path) is damaged: \(error); remove it and install the package again")
        }
    }

    /// NAME picks the highest installed version; NAME@VERSION that version (newest install if several builds).
    public func resolve(_ reference: String) throws -> InstalledPlugin {
        let (name, version) = try Store.parse(reference)
        let all = try list().filter { $0.name == name }
        guard !all.isEmpty else {
            throw EunomiaError("plugin '\(name)' is not installed in \(root.path) (install it with: eunomia plugin install FILE.pkg)")
        }
        if let version {
            let builds = all.filter { $0.semver == version }
            guard let newest = builds.max(by: { modified($0.directory) < modified($1.directory) }) else {
                throw EunomiaError("\(name)@\(version) is not installed (installed: \(all.map(\.version).joined(separator: ", ")))")
            }
            return newest
        }
        let top = all.map(\.semver).max()!
        return all.filter { $0.semver == top }.max { modified($0.directory) < modified($1.directory) }!
    }

    /// Removes one version (NAME@VERSION) or every version (NAME). Running hosts keep their mapped copy.
    @discardableResult
    public func remove(_ reference: String) throws -> [InstalledPlugin] {
        let (name, version) = try Store.parse(reference)
        let matches = try list().filter { $0.name == name && (version == nil || $0.semver == version) }
        guard !matches.isEmpty else { throw EunomiaError("\(reference) is not installed in \(root.path)") }
        for p in matches { try FileManager.default.removeItem(at: p.directory) }
        let nameDir = pluginsDir.appendingPathComponent(name)
        if (try? FileManager.default.contentsOfDirectory(atPath: nameDir.path))?.isEmpty == true {
            try? FileManager.default.removeItem(at: nameDir)
        }
        return matches
    }

    static func parse(_ reference: String) throws -> (String, Version?) {
        let parts = reference.split(separator: "@", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty else { throw EunomiaError("'\(reference)' is not NAME or NAME@VERSION") }
        if parts.count == 2 {
            guard let v = Version(parts[1]) else { throw EunomiaError("'\(parts[1])' in '\(reference)' is not a version like 1.2.3") }
            return (name, v)
        }
        return (name, nil)
    }

    private func modified(_ url: URL) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
    }
}
