import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// An installed build whose files were checked against its manifest just now, with the
/// library held open: the library is loaded through that descriptor (/proc/self/fd/N), so
/// what dlopen maps is the file that was hashed, not whatever a path names a moment later.
public final class VerifiedBuild {
    public let plugin: InstalledPlugin
    private let libraryFD: Int32

    /// Path that opens the verified library itself.
    public var libraryPath: String { "/proc/self/fd/\(libraryFD)" }

    init(plugin: InstalledPlugin, libraryFD: Int32) {
        self.plugin = plugin
        self.libraryFD = libraryFD
    }

    deinit { close(libraryFD) }
}

extension InstalledPlugin {
    /// Re-checks the build before anything of it is loaded: manifest.json still hashes to
    /// the build id and is the manifest this build was read with; provenance.json is the
    /// record it was read with, and unless it says unsigned, a signature in it still
    /// verifies over manifest.json with a key the store trusts now; every file the manifest
    /// lists is a regular file (not a symlink) owned by root or this user, not writable by
    /// group or others, with the size and SHA-256 the manifest pins. Throws one line naming
    /// the first file that changed.
    public func verifyFiles() throws -> VerifiedBuild {
        func changed(_ file: String, _ what: String) -> EunomiaError {
            EunomiaError("\(reference) (build \(buildID)): installed file \(file) \(what); refusing to load it (remove the build with: eunomia plugin remove \(reference), then install the package again)")
        }
        let manifestData: Data
        do {
            manifestData = try SafeFile.read(directory.appendingPathComponent(PackageManifest.fileName).path, maxBytes: PackageManifest.maxSize)
        } catch let e as EunomiaError {
            throw changed(PackageManifest.fileName, e.message)
        }
        guard PackageArchive.sha256Hex(manifestData).hasPrefix(buildID),
              (try? PackageManifest.decode(manifestData)) == manifest else {
            throw changed(PackageManifest.fileName, "changed since install (it no longer hashes to the build id)")
        }
        do {
            try checkOwnership(Provenance.fileName)
            guard try Store.readProvenance(directory) == provenance else {
                throw EunomiaError("\(Provenance.fileName) changed since the store was read")
            }
        } catch let e as EunomiaError {
            throw EunomiaError("\(reference) (build \(buildID)): \(e.message); refusing to load it (remove the build with: eunomia plugin remove \(reference), then install the package again)")
        }
        do {
            try provenance.check(manifest: manifestData, trusted: trustStore.keys())
        } catch let e as EunomiaError {
            throw EunomiaError("\(reference) (build \(buildID)): \(e.message); refusing to load it (trust the key again with: eunomia key trust FILE.pub, or remove the build and install the package again, with --allow-unsigned if no trusted key signs it)", kind: e.kind)
        }
        var library: Int32 = -1
        do {
            for file in manifest.files {
                let opened: (fd: Int32, size: Int64, stat: stat)
                do {
                    opened = try SafeFile.openRegular(directory.appendingPathComponent(file.path).path)
                } catch let e as EunomiaError {
                    throw changed(file.path, e.message)
                }
                var keep = false
                defer { if !keep { close(opened.fd) } }
                let st = opened.stat
                guard st.st_uid == 0 || st.st_uid == geteuid() else { throw changed(file.path, "is owned by uid \(st.st_uid)") }
                guard st.st_mode & 0o022 == 0 else { throw changed(file.path, "is writable by group or others") }
                guard opened.size == file.size else {
                    throw changed(file.path, "changed since install (\(opened.size) bytes, the manifest says \(file.size))")
                }
                let (digest, size) = try SafeFile.sha256(fd: opened.fd)
                guard size == file.size, digest == file.sha256 else { throw changed(file.path, "changed since install (SHA-256 mismatch)") }
                if file.path == manifest.library {
                    keep = true
                    library = opened.fd
                }
            }
        } catch {
            if library >= 0 { close(library) }
            throw error
        }
        guard library >= 0 else { throw changed(manifest.library, "is not listed in the manifest") }
        return VerifiedBuild(plugin: self, libraryFD: library)
    }

    /// The host's record is held to the rule of the files it vouches for: a regular file owned
    /// by root or this user, not writable by group or others.
    private func checkOwnership(_ file: String) throws {
        let opened: (fd: Int32, size: Int64, stat: stat)
        do {
            opened = try SafeFile.openRegular(directory.appendingPathComponent(file).path)
        } catch let e as EunomiaError {
            throw EunomiaError("\(file): \(e.message)")
        }
        defer { close(opened.fd) }
        guard opened.stat.st_uid == 0 || opened.stat.st_uid == geteuid() else { throw EunomiaError("\(file) is owned by uid \(opened.stat.st_uid)") }
        guard opened.stat.st_mode & 0o022 == 0 else { throw EunomiaError("\(file) is writable by group or others") }
    }
}
