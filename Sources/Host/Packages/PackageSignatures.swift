import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// signatures.json, the one package entry the manifest does not list: detached Ed25519
/// signatures over manifest.json's exact bytes (docs/package-format.md). The manifest pins
/// every other file's SHA-256, so a signature covers the whole package, and adding one leaves
/// the manifest, and with it the digest and the build id, unchanged.
public struct PackageSignatures: Equatable {
    public static let fileName = "signatures.json"
    public static let currentFormat = 1
    /// Far above what maxCount signatures take (about 200 bytes each).
    static let maxSize = 16 << 10
    static let maxCount = 16
    /// What is signed is this line followed by manifest.json: a signature made for anything
    /// else with the same key can never pass for a package signature.
    static let context = Data("eunomia package signature v1\n".utf8)

    public struct Signature: Equatable {
        public let key: PublicKey
        let signature: Data
    }

    /// In the order they were added; one per key.
    public private(set) var signatures: [Signature] = []

    public init() {}

    static func message(manifest: Data) -> Data { context + manifest }

    /// Signs manifest with key, replacing that key's earlier signature. Returns whether one was replaced.
    @discardableResult
    mutating func sign(manifest: Data, with key: SigningKey) throws -> Bool {
        let new = Signature(key: key.publicKey.key, signature: try key.signature(for: PackageSignatures.message(manifest: manifest)))
        if let i = signatures.firstIndex(where: { $0.key == new.key }) {
            signatures[i] = new
            return true
        }
        guard signatures.count < PackageSignatures.maxCount else {
            throw EunomiaError("the package already carries \(PackageSignatures.maxCount) signatures, the most it may have")
        }
        signatures.append(new)
        return false
    }

    // MARK: Encoding

    struct Document: Codable {
        struct Entry: Codable {
            var key_id: String
            var public_key: String
            var signature: String
        }
        var format: Int
        var signatures: [Entry]
    }

    /// Checks every field: a malformed entry is refused even when another signature is good,
    /// so nothing in the file is ever shown or used unchecked.
    static func decode(_ data: Data) throws -> PackageSignatures {
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(fileName): \(msg)") }
        guard data.count <= maxSize else { throw fail("\(data.count) bytes, more than the \(maxSize >> 10) KiB it may have") }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch let error as DecodingError {
            throw fail(describe(error))
        } catch {
            throw fail("not valid JSON")
        }
        guard document.format == currentFormat else {
            throw fail("format \(document.format) is not supported (this host reads format \(currentFormat))")
        }
        guard document.signatures.count <= maxCount else {
            throw fail("holds \(document.signatures.count) signatures, at most \(maxCount) are allowed")
        }
        var result = PackageSignatures()
        for (i, entry) in document.signatures.enumerated() {
            guard let raw = Data(base64Encoded: entry.public_key), let key = PublicKey(raw: raw) else {
                throw fail("signatures[\(i)].public_key \(entry.public_key.quotedForError) is not the base64 of a 32-byte Ed25519 public key")
            }
            guard entry.key_id == key.keyID else {
                throw fail("signatures[\(i)].key_id \(entry.key_id.quotedForError) does not match its public key (\(key.keyID))")
            }
            guard let signature = Data(base64Encoded: entry.signature), signature.count == 64 else {
                throw fail("signatures[\(i)] (key \(key.keyID)): signature is not the base64 of 64 bytes")
            }
            guard !result.signatures.contains(where: { $0.key == key }) else {
                throw fail("key \(key.keyID) signs twice")
            }
            result.signatures.append(Signature(key: key, signature: signature))
        }
        return result
    }

    func encoded() -> Data {
        let document = Document(format: PackageSignatures.currentFormat, signatures: signatures.map {
            Document.Entry(key_id: $0.key.keyID, public_key: $0.key.raw.base64EncodedString(), signature: $0.signature.base64EncodedString())
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Strings and integers: encoding cannot fail.
        return (try? encoder.encode(document)) ?? Data()
    }
}
