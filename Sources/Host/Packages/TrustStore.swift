import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// STORE/trusted-keys/: the public keys whose signatures install accepts, one KEYID.pub each
/// (the key file format of KeyFiles). Read afresh by every install and before every load.
public struct TrustStore: Equatable, Sendable {
    public let directory: URL
    public static let directoryName = "trusted-keys"

    init(storeRoot: URL) {
        directory = storeRoot.appendingPathComponent(TrustStore.directoryName, isDirectory: true)
    }

    /// A file in the directory that is not a trusted key, and why.
    public struct DamagedKey: Equatable {
        /// Relative to the store root: trusted-keys/FILE.
        public let path: String
        public let reason: String
    }

    /// Every key that can be read, and every file that cannot. A damaged file trusts nothing:
    /// the store fails closed.
    public func scan() -> (keys: [NamedPublicKey], damaged: [DamagedKey]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return ([], []) }
        var keys: [NamedPublicKey] = []
        var damaged: [DamagedKey] = []
        for name in names.sorted() {
            let path = "\(TrustStore.directoryName)/\(name)"
            // Left by a trust that died between write and rename.
            if name.hasPrefix(".") && name.hasSuffix(".tmp") { continue }
            do {
                keys.append(try read(name))
            } catch let e as EunomiaError {
                damaged.append(DamagedKey(path: path, reason: e.message))
            } catch {
                damaged.append(DamagedKey(path: path, reason: "\(error)"))
            }
        }
        return (keys.sorted { ($0.name, $0.keyID) < ($1.name, $1.keyID) }, damaged)
    }

    public func keys() -> [NamedPublicKey] { scan().keys }

    /// KEYID.pub, a regular file owned by root or this user and not writable by group or
    /// others (whoever could write it could vouch for any package), holding that key.
    private func read(_ file: String) throws -> NamedPublicKey {
        let id = file.hasSuffix(".pub") ? String(file.dropLast(4)) : ""
        guard PublicKey.isKeyID(id) else { throw EunomiaError("not a trusted key file (KEYID.pub)") }
        let (fd, size, st) = try SafeFile.openRegular(directory.appendingPathComponent(file).path)
        defer { close(fd) }
        guard st.st_uid == 0 || st.st_uid == geteuid() else { throw EunomiaError("is owned by uid \(st.st_uid)") }
        guard st.st_mode & 0o022 == 0 else { throw EunomiaError("is writable by group or others") }
        guard size <= Int64(KeyFiles.maxSize) else { throw EunomiaError("is \(size) bytes, more than a key file has") }
        let (document, key) = try KeyFiles.decode(try SafeFile.read(fd: fd, maxBytes: KeyFiles.maxSize))
        guard document.type == KeyFiles.publicType else { throw EunomiaError("is not a public key file") }
        guard key.keyID == id else { throw EunomiaError("holds key \(key.keyID), not \(id)") }
        return key
    }

    public enum TrustOutcome: Equatable {
        case trusted
        /// This key was trusted already (under the name given).
        case alreadyTrusted(NamedPublicKey)
    }

    /// Adds key, written in the canonical form (never the caller's bytes), with one rename.
    public func trust(_ key: NamedPublicKey) throws -> TrustOutcome {
        let existing = scan()
        if let same = existing.keys.first(where: { $0.keyID == key.keyID }) {
            guard same.key == key.key else {
                throw EunomiaError("a different key with id \(key.keyID) is trusted already (\(same.name)); untrust it first: eunomia key untrust \(key.keyID)", kind: .conflict)
            }
            return .alreadyTrusted(same)
        }
        for dir in [directory.deletingLastPathComponent(), directory] where mkdir(dir.path, 0o755) != 0 && errno != EEXIST {
            throw EunomiaError("cannot create \(dir.path): \(String(cString: strerror(errno)))", kind: .failed)
        }
        let target = directory.appendingPathComponent("\(key.keyID).pub")
        let staging = directory.appendingPathComponent(".\(key.keyID).\(getpid()).tmp")
        unlink(staging.path)
        try SafeFile.writeNew(staging.path, KeyFiles.encodePublic(key), mode: 0o644)
        guard rename(staging.path, target.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(staging.path)
            throw EunomiaError("cannot write \(target.path): \(reason)", kind: .failed)
        }
        return .trusted
    }

    /// Removes the key with this id (or a damaged file by that name); returns what was removed,
    /// for a message. Builds only it signed no longer load.
    public func untrust(_ id: String) throws -> String {
        guard PublicKey.isKeyID(id) else {
            throw EunomiaError("\(id.quotedForError) is not a key id (16 hex digits, as eunomia key list shows)")
        }
        let (keys, damaged) = scan()
        let file = directory.appendingPathComponent("\(id).pub")
        let removed: String
        if let key = keys.first(where: { $0.keyID == id }) {
            removed = key.label
        } else if let d = damaged.first(where: { $0.path == "\(TrustStore.directoryName)/\(id).pub" }) {
            removed = "damaged \(d.path)"
        } else {
            let known = keys.map(\.label).joined(separator: ", ")
            throw EunomiaError("key \(id) is not trusted in \(directory.path) (trusted: \(known.isEmpty ? "none" : known))", kind: .notFound)
        }
        guard unlink(file.path) == 0 else {
            throw EunomiaError("cannot remove \(file.path): \(String(cString: strerror(errno)))", kind: .failed)
        }
        return removed
    }
}
