import EunomiaPackages
import EunomiaSchema
import Foundation

/// `eunomia registry index DIR`: index.json for the packages in a folder, read from the
/// packages themselves (their manifests, whole-file hashes and signatures), never from their
/// file names. The index is rebuilt from what is there, so it lists exactly those files.
public enum RegistryIndexBuilder {
    public struct Outcome: Equatable {
        public let index: RegistryIndex
        public let packages: Int
        public let path: URL
    }

    public static func build(directory: URL) throws -> Outcome {
        let dir = directory.standardizedFileURL
        var st = stat()
        guard stat(dir.path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw EunomiaError("\(dir.path.quotedForError) is not a directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".pkg") }.sorted()
        } catch {
            throw EunomiaError("cannot list \(dir.path): \(error.localizedDescription)")
        }
        var plugins: [String: RegistryIndex.Plugin] = [:]
        var files: [String: String] = [:]  // "name version" -> file, for the duplicate error
        for name in names {
            let url = dir.appendingPathComponent(name)
            var lst = stat()
            // A registry serves its own files: a symlink could point anywhere on this machine.
            guard lstat(url.path, &lst) == 0, lst.st_mode & S_IFMT == S_IFREG else {
                throw EunomiaError("\(name): not a regular file (a registry holds its packages, not links to them)")
            }
            guard Validate.isPackageFileName(name) else {
                throw EunomiaError("\(name.quotedForError): not a plain file name ([A-Za-z0-9._+-])")
            }
            let s = try PackageArchive.summary(of: url)
            guard let version = Validate.semver(s.version) else { throw EunomiaError("\(name): version \(s.version.quotedForError) is not semantic") }
            let key = "\(s.name) \(s.version)"
            if let other = files[key] {
                throw EunomiaError("\(name) and \(other) are both \(s.name) \(s.version); a registry lists one package per version")
            }
            files[key] = name
            let release = RegistryIndex.Release(version: version, abi: s.abi, file: name, size: s.size, sha256: s.sha256,
                                                build: String(s.digest.prefix(12)), signedBy: s.signedBy)
            var plugin = plugins[s.name] ?? RegistryIndex.Plugin(name: s.name, description: s.description, versions: [])
            plugin.versions.append(release)
            plugin.versions.sort { $0.version > $1.version }
            // The newest version's description describes the plugin.
            if plugin.versions.first?.version == version { plugin.description = s.description }
            plugins[s.name] = plugin
        }
        let index = RegistryIndex(plugins: Array(plugins.values))
        let out = dir.appendingPathComponent(RegistryIndex.fileName)
        do {
            try index.encoded().write(to: out, options: .atomic)
        } catch {
            throw EunomiaError("cannot write \(out.path): \(error.localizedDescription)")
        }
        return Outcome(index: index, packages: names.count, path: out)
    }
}
