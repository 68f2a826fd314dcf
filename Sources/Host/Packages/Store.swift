import EunomiaSchema
import Foundation
import Version

/// One installed build of a plugin: STORE/plugins/NAME/VERSION-DIGEST/.
public struct InstalledPlugin: Equatable {
    public let manifest: PackageManifest
    public let schema: PluginSchema
    public let directory: URL
    /// First 12 hex digits of the package digest; part of the directory name.
    public let buildID: String
    /// The manifest's semantic version (checked when the build was read).
    public let semver: Version
    /// Who vouched for it at install (provenance.json, written by the host).
    public let provenance: Provenance
    /// The store's trusted keys, which the provenance is checked against before every load.
    public let trustStore: TrustStore

    public var name: String { manifest.name }
    public var version: String { manifest.version }
    public var libraryURL: URL { directory.appendingPathComponent(manifest.library) }
    public var bpfObjectURL: URL { directory.appendingPathComponent(manifest.bpfObject) }
    public var reference: String { "\(name)@\(version)" }
}

/// A store entry that cannot be used, and why; every other entry keeps working.
public struct DamagedEntry: Error, Equatable {
    /// Relative to the store root: plugins/NAME/VERSION-BUILD.
    public let path: String
    public let reason: String
    /// What the directory names claim, when they parse.
    public let name: String?
    public let version: Version?
}

/// The plugin store. Each build of each version lives in its own content-addressed directory,
/// so a library path that is loaded is never overwritten by a later install.
public struct Store {
    public let root: URL
    public static let defaultPath = "/var/lib/eunomia"

    /// --store, else $EUNOMIA_HOME, else /var/lib/eunomia.
    public init(path: String? = nil) {
        let env = ProcessInfo.processInfo.environment["EUNOMIA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        root = URL(fileURLWithPath: path ?? env ?? Store.defaultPath, isDirectory: true).standardizedFileURL
    }

    var pluginsDir: URL { root.appendingPathComponent("plugins", isDirectory: true) }
    /// STORE/trusted-keys/: whose signatures install accepts.
    public var trustStore: TrustStore { TrustStore(storeRoot: root) }
    var stagingDir: URL { root.appendingPathComponent("staging", isDirectory: true) }

    public enum InstallOutcome: Equatable { case installed, alreadyInstalled }

    // MARK: Paths

    /// STORE/plugins/NAME/VERSION-BUILD for validated parts, checked to stay under plugins/
    /// once symlinks in the store's own path are resolved.
    func buildDirectory(name: String, version: String, buildID: String) throws -> URL {
        guard Validate.isPluginName(name), Validate.semver(version) != nil, Validate.isBuildID(buildID) else {
            throw EunomiaError("refusing store path for \(name.quotedForError) \(version.quotedForError) \(buildID.quotedForError)")
        }
        let dir = pluginsDir.appendingPathComponent(name, isDirectory: true)
            .appendingPathComponent("\(version)-\(buildID)", isDirectory: true)
        try checkContained(dir)
        return dir
    }

    /// The path, with its deepest existing ancestor resolved by realpath(3), lies under
    /// plugins/ resolved. (URL.resolvingSymlinksInPath leaves a path whose last part does not
    /// exist yet as it is, so a symlinked plugins/NAME would pass it.)
    func checkContained(_ url: URL) throws {
        let base = Store.realPath(pluginsDir.path)
        var existing = url.standardizedFileURL
        var rest: [String] = []
        while Store.realPathIfExists(existing.path) == nil, existing.path != "/" {
            rest.insert(existing.lastPathComponent, at: 0)
            existing.deleteLastPathComponent()
        }
        let resolved = ([Store.realPath(existing.path)] + rest).joined(separator: "/")
        guard resolved.hasPrefix(base + "/") else {
            throw EunomiaError("refusing \(url.path): it resolves to \(resolved), outside the store's \(base)")
        }
    }

    private static func realPathIfExists(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    private static func realPath(_ path: String) -> String { realPathIfExists(path) ?? path }

    // MARK: Installing

    /// Verifies the package and moves it into place with one rename; on any error the store is
    /// unchanged (directories this call created are removed again). The package must carry a
    /// valid signature by a key in the trust store unless allowUnsigned; the build's
    /// provenance.json records which keys vouched, or that none did.
    public func install(package: URL, allowUnsigned: Bool = false) throws -> (InstalledPlugin, InstallOutcome) {
        var created: [URL] = []
        var done = false
        defer { if !done { for dir in created.reversed() { rmdir(dir.path) } } }
        for dir in [root, stagingDir, pluginsDir] {
            if mkdir(dir.path, 0o755) == 0 {
                created.append(dir)
            } else if errno != EEXIST {
                throw EunomiaError("cannot create the plugin store at \(dir.path): \(String(cString: strerror(errno)))")
            }
        }
        cleanStaging()
        let staging = try StagingDirectory(parent: stagingDir)
        defer { staging.remove() }
        let policy = SignaturePolicy(trusted: trustStore.keys(), allowUnsigned: allowUnsigned)
        let verified = try PackageArchive.extractAndVerify(package, into: staging.contents, policy: policy)
        let buildID = String(verified.digest.prefix(12))
        let dest = try buildDirectory(name: verified.manifest.name, version: verified.manifest.version, buildID: buildID)
        // Beside the extracted files, created with O_EXCL: had the package put a file by this
        // name there (the manifest cannot list one), the install would fail here.
        try SafeFile.writeNew(staging.contents.appendingPathComponent(Provenance.fileName).path, verified.provenance.encoded())
        var plugin = InstalledPlugin(manifest: verified.manifest, schema: verified.schema, directory: dest, buildID: buildID,
                                     semver: Validate.semver(verified.manifest.version)!, provenance: verified.provenance,
                                     trustStore: trustStore)
        let nameDir = dest.deletingLastPathComponent()
        if mkdir(nameDir.path, 0o755) == 0 {
            created.append(nameDir)
        } else if errno != EEXIST {
            throw EunomiaError("cannot create \(nameDir.path): \(String(cString: strerror(errno)))")
        }
        // Checked again now that it exists: it may have been there already, as a symlink.
        try checkContained(nameDir)
        if rename(staging.contents.path, dest.path) != 0 {
            let err = errno
            // Another install of the same build won the race: its content is this content.
            guard (err == EEXIST || err == ENOTEMPTY), isDirectory(dest) else {
                throw EunomiaError("cannot move the package into \(dest.path): \(String(cString: strerror(err)))")
            }
            plugin = try recordProvenance(of: plugin)
            done = true
            return (plugin, .alreadyInstalled)
        }
        done = true
        return (plugin, .installed)
    }

    /// The same build was installed before: keys that vouch now are added to its record (so
    /// signing a package installed unsigned and installing it again marks it signed), and
    /// nothing is taken away. A build without a readable record (installed by an eunomia
    /// before signatures) gets this install's.
    private func recordProvenance(of plugin: InstalledPlugin) throws -> InstalledPlugin {
        let file = plugin.directory.appendingPathComponent(Provenance.fileName)
        let existing = try? Provenance.decode(SafeFile.read(file.path, maxBytes: Provenance.maxSize))
        let merged = existing?.merged(with: plugin.provenance) ?? plugin.provenance
        if merged != existing {
            let staging = plugin.directory.appendingPathComponent(".\(Provenance.fileName).\(getpid()).tmp")
            unlink(staging.path)
            try SafeFile.writeNew(staging.path, merged.encoded())
            guard rename(staging.path, file.path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(staging.path)
                throw EunomiaError("cannot record who signed \(plugin.reference) in \(file.path): \(reason)", kind: .failed)
            }
        }
        return InstalledPlugin(manifest: plugin.manifest, schema: plugin.schema, directory: plugin.directory, buildID: plugin.buildID,
                               semver: plugin.semver, provenance: merged, trustStore: plugin.trustStore)
    }

    /// Removes staging directories left by installs that died (kill -9, power loss): one is
    /// stale when no process holds its lock.
    public func cleanStaging() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: stagingDir.path) else { return }
        for name in names {
            let dir = stagingDir.appendingPathComponent(name)
            if name.hasPrefix("install-") {
                StagingDirectory.removeIfAbandoned(dir)
            } else if name.hasPrefix("new-"), StagingDirectory.creatorIsGone(name) || isOlderThanAMinute(dir) {
                // Left by a process that died between mkdir and rename.
                StagingDirectory.removeIfAbandoned(dir)
            }
        }
    }

    private func isOlderThanAMinute(_ dir: URL) -> Bool {
        guard let age = try? dir.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate else { return false }
        return Date().timeIntervalSince(age) > 60
    }

    // MARK: Reading

    /// Every installed build that can be read, and every entry that cannot.
    public func scan() -> (plugins: [InstalledPlugin], damaged: [DamagedEntry]) {
        var plugins: [InstalledPlugin] = []
        var damaged: [DamagedEntry] = []
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: pluginsDir.path) else { return ([], []) }
        for name in names.sorted() {
            let nameDir = pluginsDir.appendingPathComponent(name, isDirectory: true)
            guard Validate.isPluginName(name), isDirectory(nameDir) else {
                damaged.append(DamagedEntry(path: "plugins/\(name)", reason: "not a plugin directory", name: nil, version: nil))
                continue
            }
            for build in ((try? FileManager.default.contentsOfDirectory(atPath: nameDir.path)) ?? []).sorted() {
                switch load(name: name, build: build) {
                case .success(let p): plugins.append(p)
                case .failure(let d): damaged.append(d)
                }
            }
        }
        return (plugins.sorted { ($0.name, $0.semver) < ($1.name, $1.semver) }, damaged)
    }

    /// Every installed build that can be read, by name then version.
    public func list() throws -> [InstalledPlugin] { scan().plugins }

    public func damaged() -> [DamagedEntry] { scan().damaged }

    /// One build directory, checked: its name, its manifest (whose digest is the build id) and
    /// its schema. The files' hashes are checked again before anything is loaded (verifyFiles).
    func load(name: String, build: String) -> Result<InstalledPlugin, DamagedEntry> {
        let relative = "plugins/\(name)/\(build)"
        let dash = build.lastIndex(of: "-")
        let version = dash.map { String(build[..<$0]) } ?? ""
        let buildID = dash.map { String(build[build.index(after: $0)...]) } ?? ""
        let semver = Validate.semver(version)
        func damaged(_ reason: String) -> Result<InstalledPlugin, DamagedEntry> {
            .failure(DamagedEntry(path: relative, reason: EunomiaError(reason).message, name: name, version: semver))
        }
        guard let semver, Validate.isBuildID(buildID) else { return damaged("not a build directory (VERSION-BUILD)") }
        let dir = pluginsDir.appendingPathComponent(name, isDirectory: true).appendingPathComponent(build, isDirectory: true)
        guard isDirectory(dir) else { return damaged("not a directory") }
        do {
            let manifestData = try readStoreFile(dir, PackageManifest.fileName, max: PackageManifest.maxSize)
            guard PackageArchive.sha256Hex(manifestData).hasPrefix(buildID) else {
                return damaged("manifest.json does not hash to the build id \(buildID) (changed since install)")
            }
            let manifest = try PackageManifest.decode(manifestData)
            guard manifest.name == name, manifest.version == version else {
                return damaged("manifest.json says \(manifest.name)@\(manifest.version)")
            }
            let schema = try PluginSchema.decode(readStoreFile(dir, manifest.schema, max: PluginSchema.maxSize), source: manifest.schema)
            if let disagreement = manifest.disagreement(with: schema) { return damaged(disagreement) }
            let provenance = try Store.readProvenance(dir)
            return .success(InstalledPlugin(manifest: manifest, schema: schema, directory: dir, buildID: buildID, semver: semver,
                                            provenance: provenance, trustStore: trustStore))
        } catch let e as EunomiaError {
            return damaged(e.message)
        } catch {
            return damaged("\(error)")
        }
    }

    /// A build's provenance.json. Missing, the build was not installed by this eunomia's
    /// `plugin install` (an older one, or copied in by hand): nothing says who vouched for it.
    static func readProvenance(_ dir: URL) throws -> Provenance {
        let path = dir.appendingPathComponent(Provenance.fileName).path
        let data: Data
        do {
            data = try SafeFile.read(path, maxBytes: Provenance.maxSize)
        } catch let e as EunomiaError {
            if e.message == "no such file" {
                throw EunomiaError("\(Provenance.fileName): no such file, so nothing records who signed it (installed by an eunomia without signatures, or copied in by hand): install its package again")
            }
            throw EunomiaError("\(Provenance.fileName): \(e.message)")
        }
        return try Provenance.decode(data)
    }

    private func readStoreFile(_ dir: URL, _ file: String, max: Int) throws -> Data {
        do {
            return try SafeFile.read(dir.appendingPathComponent(file).path, maxBytes: max)
        } catch let e as EunomiaError {
            throw EunomiaError("\(file): \(e.message)")
        }
    }

    /// NAME picks the highest installed version; NAME@VERSION that version (newest install if
    /// several builds); NAME@RANGE (^1.2, ~1.2, >=1.0.0 <2.0.0, latest) the highest it admits.
    public func resolve(_ reference: String) throws -> InstalledPlugin {
        let (name, requirement) = try Store.parseRequirement(reference)
        let version = requirement.exactVersion
        let contents = scan()
        let all = contents.plugins.filter { $0.name == name }
        let candidates = all.filter { requirement.admits($0.semver) }
        if let newest = candidates.max(by: { ($0.semver, modified($0.directory)) < ($1.semver, modified($1.directory)) }) {
            return newest
        }
        let broken = contents.damaged.filter { $0.name == name && ($0.version.map(requirement.admits) ?? (version == nil)) }
        if let d = broken.first {
            throw EunomiaError("\(reference) is damaged in \(root.path) (\(d.path): \(d.reason)); remove it with: eunomia plugin remove \(reference), then install the package again")
        }
        guard !all.isEmpty else {
            throw EunomiaError("plugin '\(name)' is not installed in \(root.path) (install it with: eunomia plugin install FILE.pkg)", kind: .notFound)
        }
        throw EunomiaError("\(reference) is not installed (installed: \(all.map(\.version).joined(separator: ", ")))", kind: .notFound)
    }

    /// Removes one version (NAME@VERSION) or every version (NAME), damaged builds included.
    /// Running hosts keep their mapped copy.
    @discardableResult
    public func remove(_ reference: String) throws -> [String] {
        let (name, version) = try Store.parse(reference)
        let contents = scan()
        var dirs: [(URL, String)] = contents.plugins.filter { $0.name == name && (version == nil || $0.semver == version) }
            .map { ($0.directory, "\($0.reference) (build \($0.buildID))") }
        for d in contents.damaged where d.name == name && d.version != nil && (version == nil || d.version == version) {
            dirs.append((root.appendingPathComponent(d.path), "damaged \(d.path)"))
        }
        guard !dirs.isEmpty else { throw EunomiaError("\(reference) is not installed in \(root.path)") }
        for (dir, _) in dirs {
            try checkContained(dir)
            do { try FileManager.default.removeItem(at: dir) } catch {
                throw EunomiaError("cannot remove \(dir.path): \((error as NSError).localizedDescription)")
            }
        }
        let nameDir = pluginsDir.appendingPathComponent(name)
        if (try? FileManager.default.contentsOfDirectory(atPath: nameDir.path))?.isEmpty == true { rmdir(nameDir.path) }
        return dirs.map(\.1)
    }

    /// NAME or NAME@REQUIREMENT (VersionRequirement), each checked against its grammar.
    static func parseRequirement(_ reference: String) throws -> (String, VersionRequirement) {
        let r = try PluginReference.parse(reference)
        return (r.name, r.requirement)
    }

    /// NAME or NAME@VERSION, each checked against its grammar.
    static func parse(_ reference: String) throws -> (String, Version?) {
        let parts = reference.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, Validate.isPluginName(name) else {
            throw EunomiaError("\(reference.quotedForError) is not NAME or NAME@VERSION (a name is 1-64 characters of a-z, 0-9, '_' or '-')")
        }
        if parts.count == 2 {
            guard let v = Validate.semver(parts[1]) else {
                throw EunomiaError("\(parts[1].quotedForError) in \(reference.quotedForError) is not a semantic version like 1.2.3")
            }
            return (name, v)
        }
        return (name, nil)
    }

    private func isDirectory(_ url: URL) -> Bool {
        var st = stat()
        return lstat(url.path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
    }

    private func modified(_ url: URL) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
    }
}

/// staging/install-PID-RANDOM: a directory held by an flock while its install runs, so the
/// next install can tell an abandoned one (its process died) from one in progress.
struct StagingDirectory {
    let path: URL
    /// Where the package is extracted; renamed into the store when it verified.
    var contents: URL { path.appendingPathComponent("build", isDirectory: true) }
    private let lockFD: Int32

    init(parent: URL) throws {
        let unique = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Created as new-*, locked, then renamed: an install-* directory is locked from the
        // moment it has that name, so cleanup never takes one that is being set up.
        let fresh = parent.appendingPathComponent("new-\(unique)", isDirectory: true)
        path = parent.appendingPathComponent("install-\(unique)", isDirectory: true)
        guard mkdir(fresh.path, 0o700) == 0 else {
            throw EunomiaError("cannot create \(fresh.path): \(String(cString: strerror(errno)))")
        }
        lockFD = open(fresh.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lockFD >= 0, flock(lockFD, LOCK_EX | LOCK_NB) == 0, rename(fresh.path, path.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if lockFD >= 0 { close(lockFD) }
            rmdir(fresh.path)
            throw EunomiaError("cannot set up \(path.path): \(reason)")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(at: path)
        close(lockFD)
    }

    /// new-PID-RANDOM names the process that made it: when that process is gone, the directory
    /// is abandoned whatever its age (a live PID may be a reused one: then the age decides).
    static func creatorIsGone(_ name: String) -> Bool {
        let parts = name.split(separator: "-")
        guard parts.count == 3, let pid = Int32(parts[1]), pid > 0 else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    static func removeIfAbandoned(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // Taking the lock means its owner is gone (locks die with their process).
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return }
        try? FileManager.default.removeItem(at: dir)
    }
}
