import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ZIPFoundation

/// A zip entry is described twice: in the central directory (what `unzip -l` lists and what
/// we check names against) and in the local header in front of its data (what ZIPFoundation
/// extracts by). Tools that read one or the other must not see different files, so the two
/// must agree on name, compression method and, unless a data descriptor follows the data,
/// CRC-32 and sizes.
///
/// ZIPFoundation parses both headers but keeps them internal; we read its parsed values
/// through reflection rather than parse the archive a second time ourselves.
///
/// Content is inflated here too, with ZIPFoundation's public `Data.decompress`, from exactly
/// the entry's compressed bytes: its own extract (0.9.20) keeps reading past the entry and,
/// for a deflate stream that never ends, loops forever at the end of the file (found by the
/// package fuzzer).
enum ZipEntries {
    struct Header {
        var name: Data
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: UInt32
        var uncompressedSize: UInt32
        /// Central directory only.
        var localHeaderOffset: UInt32?
        /// Local header only: bytes between the fixed header and the data.
        var nameLength: UInt16?
        var extraLength: UInt16?
    }

    struct Headers {
        var central: Header
        var local: Header
    }

    static func headers(_ entry: Entry) -> Headers? {
        let parts = Dictionary(Mirror(reflecting: entry).children.compactMap { c in c.label.map { ($0, c.value) } },
                               uniquingKeysWith: { a, _ in a })
        guard let central = parts["centralDirectoryStructure"].flatMap(header),
              let local = parts["localFileHeader"].flatMap(header) else { return nil }
        return Headers(central: central, local: local)
    }

    /// What differs between the entry's two headers, or nil when they agree.
    static func mismatch(_ entry: Entry) -> String? {
        guard let h = headers(entry) else { return "its zip headers cannot be read" }
        let central = h.central, local = h.local
        if central.compressedSize == 0xFFFF_FFFF || central.uncompressedSize == 0xFFFF_FFFF || central.localHeaderOffset == 0xFFFF_FFFF {
            return "ZIP64 entries are not supported (a package is far below 4 GiB)"
        }
        if central.name != local.name { return "the local header names it '\(String(decoding: local.name, as: UTF8.self))'" }
        if central.method != local.method {
            return "compression method \(local.method) in the local header, \(central.method) in the central directory"
        }
        // Bit 3: CRC and sizes follow the data in a descriptor; the local header holds zeros.
        if central.flags & 0x8 == 0 && local.flags & 0x8 == 0 {
            if central.crc32 != local.crc32 { return "CRC-32 differs between the local header and the central directory" }
            if central.compressedSize != local.compressedSize || central.uncompressedSize != local.uncompressedSize {
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
        return Header(name: name, method: method, flags: flags, crc32: crc, compressedSize: compressed, uncompressedSize: uncompressed,
                      localHeaderOffset: fields["relativeOffsetOfLocalHeader"] as? UInt32,
                      nameLength: fields["fileNameLength"] as? UInt16, extraLength: fields["extraFieldLength"] as? UInt16)
    }

    enum ReadError: Error, Equatable {
        case unreadable(String)
        case tooLarge
    }

    /// The entry's content, at most limit bytes, and its CRC-32, read from `package` (the
    /// whole archive) within the entry's own compressed bytes. Call after mismatch() found none.
    static func content(of entry: Entry, in package: Data, limit: Int) throws -> (Data, CRC32) {
        guard let h = headers(entry), let offset = h.central.localHeaderOffset,
              let nameLength = h.local.nameLength, let extraLength = h.local.extraLength else {
            throw ReadError.unreadable("its zip headers cannot be read")
        }
        let start = Int(offset) + 30 + Int(nameLength) + Int(extraLength)
        let size = Int(h.central.compressedSize)
        guard start <= package.count, size <= package.count - start else {
            throw ReadError.unreadable("its data lies outside the file (truncated or corrupt package)")
        }
        let base = package.startIndex + start
        switch h.central.method {
        case 0:
            guard size <= limit else { throw ReadError.tooLarge }
            let data = Data(package[base..<(base + size)])
            return (data, data.crc32(checksum: 0))
        case 8:
            struct NoStreamEnd: Error {}
            var out = Data()
            let crc: CRC32
            do {
                crc = try Data.decompress(size: Int64(size), bufferSize: 1 << 16, skipCRC32: false, provider: { position, chunk in
                    guard position < Int64(size) else { throw NoStreamEnd() }
                    let from = base + Int(position)
                    var piece = Data(package[from..<(base + min(Int(position) + chunk, size))])
                    // ZIPFoundation tells zlib every chunk is full: pad the last one with zeros
                    // (never the next entry's bytes) rather than let zlib read past it.
                    if piece.count < chunk { piece.append(Data(count: chunk - piece.count)) }
                    return piece
                }, consumer: { data in
                    guard out.count + data.count <= limit else { throw ReadError.tooLarge }
                    out.append(data)
                })
            } catch ReadError.tooLarge {
                throw ReadError.tooLarge
            } catch is NoStreamEnd {
                throw ReadError.unreadable("its deflate stream does not end within the entry (corrupt package)")
            } catch {
                throw ReadError.unreadable("cannot be inflated (corrupt package)")
            }
            return (out, crc)
        default:
            throw ReadError.unreadable("compression method \(h.central.method) is not supported (only stored and deflate)")
        }
    }
}
