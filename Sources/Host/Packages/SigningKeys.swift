import Crypto
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// An Ed25519 public key, named the way eunomia shows it: the key id is the first 16 hex
/// digits of the SHA-256 of its 32 raw bytes, the fingerprint all 64.
public struct PublicKey: Hashable, Sendable {
    public let raw: Data
    public let keyID: String
    public let fingerprint: String

    /// nil unless raw is 32 bytes swift-crypto accepts as an Ed25519 public key.
    init?(raw: Data) {
        guard raw.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else { return nil }
        self.raw = raw
        fingerprint = PackageArchive.sha256Hex(raw)
        keyID = String(fingerprint.prefix(16))
    }

    func isValidSignature(_ signature: Data, for message: Data) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// A key id as written: 16 lower-case hex digits. Checked before one becomes a file name.
    public static func isKeyID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return u.count == 16 && u.allSatisfy { Validate.isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}

/// A public key with the name its owner gave it: what a .pub file holds, and a trusted key.
public struct NamedPublicKey: Equatable, Sendable {
    public let name: String
    public let key: PublicKey
    public var keyID: String { key.keyID }
    /// "release (3f1c9a0b5d2e7f48)", for messages.
    public var label: String { "\(name) (\(key.keyID))" }
}

/// A private key that signs packages: what a .key file holds.
public struct SigningKey {
    public let name: String
    let privateKey: Curve25519.Signing.PrivateKey
    public let publicKey: NamedPublicKey

    init(name: String, privateKey: Curve25519.Signing.PrivateKey) {
        self.name = name
        self.privateKey = privateKey
        // A public key derived by swift-crypto is always 32 valid bytes.
        publicKey = NamedPublicKey(name: name, key: PublicKey(raw: privateKey.publicKey.rawRepresentation)!)
    }

    /// A new key pair from the system's random source.
    public static func generate(name: String) throws -> SigningKey {
        guard KeyFiles.isKeyName(name) else { throw EunomiaError("key name \(name.quotedForError) \(KeyFiles.nameRule)") }
        return SigningKey(name: name, privateKey: Curve25519.Signing.PrivateKey())
    }

    func signature(for message: Data) throws -> Data {
        do { return try privateKey.signature(for: message) } catch {
            throw EunomiaError("cannot sign with key \(publicKey.label): \(error)", kind: .failed)
        }
    }
}

/// Key files: small JSON documents, so every field is checked by one strict decoder.
///
///     NAME.pub  {"eunomia_key": 1, "type": "ed25519-public", "name": ..., "key_id": ..., "public_key": BASE64}
///     NAME.key  the same with "type": "ed25519-private" and "private_key": BASE64 (the 32-byte seed), mode 0600
///
/// key_id is redundant (it follows from public_key) and checked, so a file edited by hand or
/// a key id copied wrong is refused rather than believed.
public enum KeyFiles {
    static let format = 1
    static let publicType = "ed25519-public"
    static let privateType = "ed25519-private"
    /// Far above the ~250 bytes a key file has.
    static let maxSize = 4 << 10
    static let nameRule = "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit"

    /// Key names: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, so NAME.key is a plain file name.
    public static func isKeyName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count), Validate.isLowerAlnum(u[0]) || Validate.isUpper(u[0]) else { return false }
        return u.allSatisfy {
            Validate.isLowerAlnum($0) || Validate.isUpper($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    struct Document: Codable {
        var eunomia_key: Int
        var type: String
        var name: String
        var key_id: String
        var public_key: String
        var private_key: String?
    }

    // MARK: Reading

    /// A .pub file. A private key file is refused: trust is given to public keys only.
    public static func readPublic(_ path: String) throws -> NamedPublicKey {
        let (document, key) = try read(path)
        guard document.type == publicType else {
            throw EunomiaError("\(path): is a private key; give its public half (\(document.name).pub, written beside it by eunomia key generate)")
        }
        return key
    }

    /// A .key file, which must not be readable by group or others.
    public static func readPrivate(_ path: String) throws -> SigningKey {
        let (document, key) = try read(path)
        let name = path
        guard document.type == privateType, let seedText = document.private_key else {
            throw EunomiaError("\(name): is a public key; signing needs the private key (NAME.key, written by eunomia key generate)")
        }
        guard let seed = Data(base64Encoded: seedText), seed.count == 32,
              let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw EunomiaError("\(name): private_key is not the base64 of 32 bytes")
        }
        let signing = SigningKey(name: document.name, privateKey: privateKey)
        guard signing.publicKey == key else {
            throw EunomiaError("\(name): public_key is not the public half of private_key (the file was edited)")
        }
        return signing
    }

    /// Parses a key file of either type; every field is checked before it is used or shown.
    /// Errors say what is wrong; the caller names the file.
    static func decode(_ data: Data) throws -> (Document, NamedPublicKey) {
        func fail(_ msg: String) -> EunomiaError { EunomiaError(msg) }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch let error as DecodingError {
            throw fail("not an eunomia key file: \(describe(error))")
        } catch {
            throw fail("not an eunomia key file: not valid JSON")
        }
        guard document.eunomia_key == format else {
            throw fail("key file format \(document.eunomia_key) is not supported (this host reads format \(format))")
        }
        guard [publicType, privateType].contains(document.type) else {
            throw fail("type \(document.type.quotedForError) is not \(publicType) or \(privateType)")
        }
        guard isKeyName(document.name) else { throw fail("name \(document.name.quotedForError) \(nameRule)") }
        guard document.type == privateType || document.private_key == nil else {
            throw fail("a public key file holds a private_key: refusing it (keep private keys out of .pub files)")
        }
        guard let raw = Data(base64Encoded: document.public_key), let key = PublicKey(raw: raw) else {
            throw fail("public_key \(document.public_key.quotedForError) is not the base64 of a 32-byte Ed25519 public key")
        }
        guard document.key_id == key.keyID else {
            throw fail("key_id \(document.key_id.quotedForError) does not match its public key (\(key.keyID)): the file was edited or is corrupt")
        }
        return (document, NamedPublicKey(name: document.name, key: key))
    }

    private static func read(_ path: String) throws -> (Document, NamedPublicKey) {
        let name = path
        let (fd, size, st) = try openFile(path)
        defer { close(fd) }
        guard size <= Int64(maxSize) else { throw EunomiaError("\(name): is \(size) bytes; a key file is at most \(maxSize >> 10) KiB") }
        let data: Data
        do { data = try SafeFile.read(fd: fd, maxBytes: maxSize) } catch let e as EunomiaError { throw EunomiaError("\(name): \(e.message)") }
        let document: Document, key: NamedPublicKey
        do { (document, key) = try decode(data) } catch let e as EunomiaError { throw EunomiaError("\(name): \(e.message)") }
        if document.type == privateType && st.st_mode & 0o077 != 0 {
            throw EunomiaError("\(name): a private key readable by group or others is refused (chmod 600 \(path))")
        }
        return (document, key)
    }

    private static func openFile(_ path: String) throws -> (Int32, Int64, stat) {
        do { return try SafeFile.openRegular(path) } catch let e as EunomiaError { throw EunomiaError("\(path): \(e.message)") }
    }

    // MARK: Writing

    static func encode(_ document: Document) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Strings and an integer: encoding cannot fail.
        return ((try? encoder.encode(document)) ?? Data()) + Data("\n".utf8)
    }

    static func encodePublic(_ key: NamedPublicKey) -> Data {
        encode(Document(eunomia_key: format, type: publicType, name: key.name, key_id: key.keyID,
                        public_key: key.key.raw.base64EncodedString(), private_key: nil))
    }

    static func encodePrivate(_ key: SigningKey) -> Data {
        encode(Document(eunomia_key: format, type: privateType, name: key.name, key_id: key.publicKey.keyID,
                        public_key: key.publicKey.key.raw.base64EncodedString(),
                        private_key: key.privateKey.rawRepresentation.base64EncodedString()))
    }

    /// Writes DIR/NAME.key (0600) and DIR/NAME.pub (0644); neither may exist already.
    public static func write(_ key: SigningKey, into directory: URL) throws -> (privatePath: String, publicPath: String) {
        let privatePath = directory.appendingPathComponent("\(key.name).key").path
        let publicPath = directory.appendingPathComponent("\(key.name).pub").path
        for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) || isSymlink(path) {
            throw EunomiaError("\(path) exists already; refusing to overwrite a key (choose another name or --output directory)", kind: .conflict)
        }
        // A folder that does not exist yet is made, private: it holds a private key.
        if !FileManager.default.fileExists(atPath: directory.path) {
            guard mkdir(directory.path, 0o700) == 0 else {
                throw EunomiaError("cannot create \(directory.path): \(String(cString: strerror(errno)))")
            }
        }
        // O_EXCL: created here with this mode, never through a planted symlink.
        try SafeFile.writeNew(privatePath, encodePrivate(key), mode: 0o600)
        do {
            try SafeFile.writeNew(publicPath, encodePublic(key.publicKey), mode: 0o644)
        } catch {
            unlink(privatePath)
            throw error
        }
        return (privatePath, publicPath)
    }

    private static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }
}
