import Foundation
import ZIPFoundation

/// A zip entry is described twice: in the central directory (what `unzip -l` lists and what
/// we check names against) and in the local header in front of its data (what ZIPFoundation
/// extracts by). Tools that read one or the other must not see different files, so the two
/// must agree on name, compression method and, unless a data descriptor follows the data,
/// CRC-32 and sizes.
///
/// ZIPFoundation parses both headers but keeps them internal; we read its parsed values
/// through reflection rather than parse the archive a second time ourselves.
enum ZipHeaders {
    struct Header {
        var name: Data
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: UInt32
        var uncompressedSize: UInt32
    }

    /// What differs between the entry's two headers, or nil when they agree.
    static func mismatch(_ entry: Entry) -> String? {
        let parts = Dictionary(Mirror(reflecting: entry).children.compactMap { c in c.label.map { ($0, c.value) } },
                               uniquingKeysWith: { a, _ in a })
        guard let central = parts["centralDirectoryStructure"].flatMap(header),
              let local = parts["localFileHeader"].flatMap(header) else {
            return "its zip headers cannot be read"
        }
        if central.name != local.name { return "the local header names it '\(String(decoding: local.name, as: UTF8.self))'" }
        if central.method != local.method {
            return "compression method \(local.method) in the local header, \(central.method) in the central directory"
        }
        // Bit 3: CRC and sizes follow the data in a descriptor; the local header holds zeros.
        if central.flags & 0x8 == 0 && local.flags & 0x8 == 0 {
            if central.crc32 != local.crc32 { return "CRC-32 differs between the local header and the central directory" }
            // ZIP64 entries keep their real sizes in an extra field and 0xFFFFFFFF here.
            if central.compressedSize != 0xFFFF_FFFF,
               central.compressedSize != local.compressedSize || central.uncompressedSize != local.uncompressedSize {
                return "sizes differ between the local header and the central directory"
            }
        }
        return nil
    }

    private static func header(_ value: Any) -> Header? {
        var fields: [String: Any] = [:]
        for c in Mirror(reflecting: value).children { if let l = c.label { fields[l] = c.value } }
        guard let name = fields["fileNameData"] as? Data,
              let method = fields["compressionMethod"] as? UInt16,
              let flags = fields["generalPurposeBitFlag"] as? UInt16,
              let crc = fields["crc32"] as? UInt32,
              let compressed = fields["compressedSize"] as? UInt32,
              let uncompressed = fields["uncompressedSize"] as? UInt32 else { return nil }
        return Header(name: name, method: method, flags: flags, crc32: crc, compressedSize: compressed, uncompressedSize: uncompressed)
    }
}
