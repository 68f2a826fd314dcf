import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Who vouched for an installed build, as the host decided at install time. It is recorded in
/// the build's directory as provenance.json, written by the host: a package cannot supply it
/// (the name is reserved, and install creates it with O_EXCL beside the extracted files).
public enum Provenance: Equatable, Sendable {
    /// Installed with --allow-unsigned: no key the store trusted signed it.
    case unsigned
    /// Signatures that verified against keys the store trusted at install, each re-verified
    /// against the trust store before every load.
    case signed([Voucher])

    public struct Voucher: Equatable, Sendable {
        /// The key as the trust store named it at install.
        public let key: NamedPublicKey
        let signature: Data
    }

    public static let fileName = "provenance.json"
    static let currentFormat = 1
    static let maxSize = 16 << 10

    /// "3f1c9a0b5d2e7f48 (release), ..." or "unsigned", for tables and messages.
    public var summary: String {
        switch self {
        case .unsigned: return "unsigned"
        case .signed(let vouchers): return vouchers.map { "\($0.key.keyID) (\($0.key.name))" }.joined(separator: ", ")
        }
    }

    /// The same provenance with other's vouchers added (the newer wins per key); unsigned
    /// adds nothing, so a second install without a signature never takes one away.
    func merged(with other: Provenance) -> Provenance {
        guard case .signed(let new) = other else { return self }
        guard case .signed(let old) = self else { return other }
        return .signed(old.filter { o in !new.contains { $0.key.key == o.key.key } } + new)
    }

    // MARK: At load

    /// Throws unless the build was installed unsigned or one of its vouchers still verifies
    /// with a key the store trusts now (untrusting a key stops the builds only it signed).
    func check(manifest: Data, trusted: [NamedPublicKey]) throws {
        guard case .signed(let vouchers) = self else { return }
        let message = PackageSignatures.message(manifest: manifest)
        let current = vouchers.filter { v in trusted.contains { $0.key == v.key.key } }
        if current.contains(where: { $0.key.key.isValidSignature($0.signature, for: message) }) { return }
        if let v = current.first {
            throw EunomiaError("\(Provenance.fileName): the signature by \(v.key.label) does not verify over manifest.json (changed since install)")
        }
        throw EunomiaError("signed only by \(vouchers.map(\.key.label).joined(separator: ", ")), which this store no longer trusts", kind: .conflict)
    }

    // MARK: The record

    struct Document: Codable {
        struct Entry: Codable {
            var key_id: String
            var name: String
            var public_key: String
            var signature: String
        }
        var format: Int
        var unsigned: Bool
        var signed_by: [Entry]
    }

    func encoded() -> Data {
        var document = Document(format: Provenance.currentFormat, unsigned: true, signed_by: [])
        if case .signed(let vouchers) = self {
            document.unsigned = false
            document.signed_by = vouchers.map {
                Document.Entry(key_id: $0.key.keyID, name: $0.key.name, public_key: $0.key.key.raw.base64EncodedString(),
                               signature: $0.signature.base64EncodedString())
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(document)) ?? Data()
    }

    /// Read from the store, which only the host writes; checked all the same, so a damaged
    /// record is a damaged build, never a trap.
    static func decode(_ data: Data) throws -> Provenance {
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(fileName): \(msg)") }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch let error as DecodingError {
            throw fail(describe(error))
        } catch {
            throw fail("not valid JSON")
        }
        guard document.format == currentFormat else { throw fail("format \(document.format) is not supported") }
        guard document.unsigned == document.signed_by.isEmpty else {
            throw fail(document.unsigned ? "says unsigned and lists signatures" : "lists no signature and does not say unsigned")
        }
        if document.unsigned { return .unsigned }
        guard document.signed_by.count <= PackageSignatures.maxCount else { throw fail("lists too many signatures") }
        return .signed(try document.signed_by.map { e in
            guard KeyFiles.isKeyName(e.name), let raw = Data(base64Encoded: e.public_key), let key = PublicKey(raw: raw),
                  key.keyID == e.key_id, let signature = Data(base64Encoded: e.signature), signature.count == 64 else {
                throw fail("signature by \(e.key_id.quotedForError) is malformed")
            }
            return Voucher(key: NamedPublicKey(name: e.name, key: key), signature: signature)
        })
    }
}

/// What install demands of a package's signatures (docs/security.md).
public struct SignaturePolicy {
    /// The store's trusted keys, read when the install began.
    public let trusted: [NamedPublicKey]
    /// --allow-unsigned: a package no trusted key signed is installed, recorded as unsigned.
    public let allowUnsigned: Bool

    public init(trusted: [NamedPublicKey], allowUnsigned: Bool) {
        self.trusted = trusted
        self.allowUnsigned = allowUnsigned
    }

    /// The build's provenance, or one line saying why it may not be installed. A signature
    /// by a trusted key that does not verify is refused even with allowUnsigned: a package
    /// that claims a key you trust and fails is tampered with, not merely unsigned.
    func provenance(manifest: Data, signatures: PackageSignatures, plugin: String) throws -> Provenance {
        let message = PackageSignatures.message(manifest: manifest)
        var vouchers: [Provenance.Voucher] = []
        var untrusted: [String] = []
        for s in signatures.signatures {
            guard let key = trusted.first(where: { $0.key.keyID == s.key.keyID }) else {
                untrusted.append(s.key.keyID)
                continue
            }
            guard key.key == s.key else {
                throw EunomiaError("\(PackageSignatures.fileName): the signature by key \(s.key.keyID) carries a different public key than the trusted key \(key.label) (forged or corrupt)")
            }
            guard key.key.isValidSignature(s.signature, for: message) else {
                throw EunomiaError("the signature by trusted key \(key.label) does not verify: manifest.json was changed after signing, or the signature is corrupt")
            }
            vouchers.append(Provenance.Voucher(key: key, signature: s.signature))
        }
        if !vouchers.isEmpty { return .signed(vouchers) }
        if allowUnsigned { return .unsigned }
        let fix = "trust the signer's public key (eunomia key trust FILE.pub), or install it unsigned with --allow-unsigned (HTTP API: ?allow_unsigned=true)"
        if untrusted.isEmpty {
            throw EunomiaError("\(plugin) is not signed, and this store installs only packages signed by a key it trusts: sign it (eunomia plugin sign FILE.pkg --key NAME.key), \(fix)")
        }
        throw EunomiaError("\(plugin) is signed only by \(untrusted.count == 1 ? "key" : "keys") \(untrusted.joined(separator: ", ")), which this store does not trust: \(fix)")
    }
}
