import CHostSupport
import Crypto
import EunomiaSchema
import Foundation
import ZIPFoundation

/// A package whose files were extracted and every check passed.
public struct VerifiedPackage {
    public let manifest: PackageManifest
    public let schema: PluginSchema
    public let directory: URL
    /// SHA-256 of manifest.json, which covers every file's hash: the package's identity.
    public let digest: String
    /// Who vouched for it, decided by the SignaturePolicy install gave.
    public let provenance: Provenance
}

/// A package read into memory with every check that needs neither the disk nor a key passed:
/// the zip, the manifest, each file's size and SHA-256, the schema, signatures.json's form.
package struct PackageContents {
    package let manifest: PackageManifest
    /// manifest.json exactly as packed: what the digest hashes and signatures sign.
    package let manifestData: Data
    /// In the manifest's order.
    package let files: [(PackageManifest.FileEntry, Data)]
    package let schema: PluginSchema
    /// Empty when the package has no signatures.json.
    package let signatures: PackageSignatures
}

/// .pkg files: a zip archive of manifest.json plus the files it lists (docs/package-format.md).
public enum PackageArchive {
    static let maxFileSize: UInt64 = 64 << 20
    static let maxEntries = 64

    // MARK: Packing

    /// Packs a build directory holding schema.json, one *.so and one *.bpf.o. `output` may be a
    /// directory, in which case the package is named NAME-VERSION.pkg inside it. The schema is
    /// completed first (SchemaCompletion: common parameters, layouts from BTF) and must agree
    /// with the library's own name, version and ABI, which `identify` reads in a child process.
    @discardableResult
    package static func pack(directory: URL, output: URL, identify: (URL) throws -> LibraryIdentity) throws -> URL {
        let fm = FileManager.default
        let schemaURL = directory.appendingPathComponent("schema.json")
        guard let source = fm.contents(atPath: schemaURL.path) else {
            throw EunomiaError("\(directory.path): no schema.json")
        }
        let names = try fm.contentsOfDirectory(atPath: directory.path).sorted()
        func single(_ suffix: String) throws -> String {
            let found = names.filter { $0.hasSuffix(suffix) }
            guard found.count == 1 else {
                throw EunomiaError("\(directory.path): expected exactly one *\(suffix) file, found \(found.count)")
            }
            return found[0]
        }
        let library = try single(".so")
        let bpfObject = try single(".bpf.o")
        let libraryURL = directory.appendingPathComponent(library), objectURL = directory.appendingPathComponent(bpfObject)
        // Cheap checks first: only an ELF shared library with the entry is ever loaded.
        try ArtifactChecks.checkLibrary(libraryURL)
        try ArtifactChecks.checkBPFObject(objectURL)
        let identity = try identify(libraryURL)
        let schemaData = try SchemaCompletion.complete(source, bpfObject: objectURL, library: identity, libraryName: library)
        let schema = try PluginSchema.decode(schemaData, source: "schema.json")
        try checkContents(schema: schema, library: libraryURL, bpfObject: objectURL)

        // Read once: what is hashed is what is packed.
        let contents = try [bpfObject, library].map { name in
            (name, try Data(contentsOf: directory.appendingPathComponent(name)))
        } + [("schema.json", schemaData)]
        let files = contents.map { PackageManifest.FileEntry(path: $0.0, size: Int64($0.1.count), sha256: sha256Hex($0.1)) }
        let manifest = PackageManifest(
            format: PackageManifest.currentFormat, name: schema.name, version: schema.version,
            description: schema.description, abi: schema.abi, requires: schema.requires,
            library: library, bpfObject: bpfObject, schema: "schema.json", files: files)

        var isDir: ObjCBool = false
        var target = output
        if output.hasDirectoryPath || (fm.fileExists(atPath: output.path, isDirectory: &isDir) && isDir.boolValue) {
            try fm.createDirectory(at: output, withIntermediateDirectories: true)
            target = output.appendingPathComponent("\(schema.name)-\(schema.version).pkg")
        }
        try write(entries: [(PackageManifest.fileName, manifest.encoded())] + contents, to: target)
        return target
    }

    /// Writes a package holding exactly these entries, deflated, in this order: into a
    /// temporary file beside target, then renamed over it, so target is never half written.
    static func write(entries: [(String, Data)], to target: URL) throws {
        let fm = FileManager.default
        let staging = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        try? fm.removeItem(at: staging)
        defer { try? fm.removeItem(at: staging) }
        do {
            let archive = try Archive(url: staging, accessMode: .create)
            for (path, data) in entries {
                try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
        } catch {
            throw EunomiaError("cannot write \(target.path): \(error)", kind: .failed)
        }
        guard rename(staging.path, target.path) == 0 else {
            throw EunomiaError("cannot write \(target.path): \(String(cString: strerror(errno)))", kind: .failed)
        }
    }

    // MARK: Verifying

    /// Largest package file read, and most bytes all of its entries may inflate to.
    static let maxPackageSize = 128 << 20
    static let maxTotalSize: UInt64 = 256 << 20

    /// Extracts `package` into `directory` (which must not exist) and checks everything that
    /// can be checked without loading the plugin. Throws one line naming the first problem.
    /// Everything is read and checked in memory first, then the signatures against `policy`;
    /// files are written only after that, read-only, so the ELF and BTF parsers (libelf,
    /// libbpf) only ever see a package the policy accepted, and the schema is decoded from
    /// the bytes that were hashed.
    public static func extractAndVerify(_ package: URL, into directory: URL, policy: SignaturePolicy) throws -> VerifiedPackage {
        let label = package.lastPathComponent
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(label): \(msg)") }
        let contents = try read(package)
        let manifest = contents.manifest, manifestData = contents.manifestData, schema = contents.schema
        let provenance: Provenance
        do {
            provenance = try policy.provenance(manifest: manifestData, signatures: contents.signatures,
                                               plugin: "\(manifest.name) \(manifest.version)")
        } catch let e as EunomiaError {
            throw fail(e.message)
        }

        // Only now does anything reach the disk: the ELF and BTF checks read files.
        guard mkdir(directory.path, 0o755) == 0 else {
            throw fail("cannot create \(directory.path): \(String(cString: strerror(errno)))")
        }
        do {
            for (file, data) in contents.files { try SafeFile.writeNew(directory.appendingPathComponent(file.path).path, data) }
            try SafeFile.writeNew(directory.appendingPathComponent(PackageManifest.fileName).path, manifestData)
            try checkContents(schema: schema, library: directory.appendingPathComponent(manifest.library),
                              bpfObject: directory.appendingPathComponent(manifest.bpfObject))
            try ArtifactChecks.checkKernel(manifest.requires, plugin: "\(manifest.name) \(manifest.version)")
        } catch let e as EunomiaError {
            throw fail(e.message)
        }
        return VerifiedPackage(manifest: manifest, schema: schema, directory: directory,
                               digest: sha256Hex(manifestData), provenance: provenance)
    }

    /// Reads `package` into memory and runs every check that needs neither the disk nor a
    /// key (steps 1-7 of docs/package-format.md). Errors start with the file's name.
    package static func read(_ package: URL) throws -> PackageContents {
        let label = package.lastPathComponent
        func fail(_ msg: String) -> EunomiaError { EunomiaError("\(label): \(msg)") }
        let packageData: Data
        do {
            packageData = try SafeFile.read(package.path, maxBytes: maxPackageSize)
        } catch let e as EunomiaError {
            throw fail(e.message)
        }
        // ZIPFoundation parses the central directory from a private copy of the bytes: a file
        // no one else can change. Not Archive(data:): its in-memory file (0.9.20) traps on a
        // seek past the end, which a hostile offset asks for (found by the package fuzzer).
        let copy = packageData.withUnsafeBytes { eh_private_file("eunomia-package", $0.baseAddress, $0.count) }
        guard copy >= 0 else { throw fail("cannot copy the package into memory: \(String(cString: strerror(errno)))") }
        defer { close(copy) }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: "/proc/self/fd/\(copy)"), accessMode: .read)
        } catch {
            throw fail("not a valid package: the zip archive is unreadable (truncated or corrupt)")
        }
        var entries: [String: Entry] = [:]
        var declaredTotal: UInt64 = 0
        for entry in archive {
            let path = entry.path
            guard Validate.isPackageFileName(path) else {
                throw fail("entry \(path.quotedForError) is not a plain file name (only [A-Za-z0-9._+-]: absolute paths, '/', '..' and control characters are refused)")
            }
            guard entry.type == .file else { throw fail("entry '\(path)' is a \(entry.type), only regular files are allowed") }
            guard entries.updateValue(entry, forKey: path) == nil else { throw fail("entry '\(path)' appears twice") }
            guard entries.count <= maxEntries else { throw fail("more than \(maxEntries) entries") }
            guard entry.uncompressedSize <= maxFileSize else {
                throw fail("entry '\(path)' is larger than \(maxFileSize >> 20) MiB")
            }
            declaredTotal += entry.uncompressedSize
            guard declaredTotal <= maxTotalSize else { throw fail("entries add up to more than \(maxTotalSize >> 20) MiB") }
            if let problem = ZipEntries.mismatch(entry) { throw fail("entry '\(path)': \(problem)") }
        }
        guard let manifestEntry = entries[PackageManifest.fileName] else { throw fail("no manifest.json") }
        let manifestData = try read(manifestEntry, from: packageData, limit: PackageManifest.maxSize, label: label)
        let manifest: PackageManifest
        do { manifest = try PackageManifest.decode(manifestData) } catch let e as EunomiaError { throw fail(e.message) }
        guard manifest.format == PackageManifest.currentFormat else {
            throw fail("package format \(manifest.format) is not supported (this host reads format \(PackageManifest.currentFormat))")
        }
        do { try ArtifactChecks.checkABI(manifest.abi, what: "plugin \(manifest.name) \(manifest.version)") } catch let e as EunomiaError { throw fail(e.message) }

        let listed = Set(manifest.files.map(\.path))
        guard listed.count == manifest.files.count else { throw fail("manifest lists a file twice") }
        guard !listed.contains(PackageManifest.fileName) else { throw fail("manifest lists manifest.json among its files") }
        let present = Set(entries.keys).subtracting([PackageManifest.fileName, PackageSignatures.fileName])
        if let extra = present.subtracting(listed).sorted().first { throw fail("entry '\(extra)' is not listed in the manifest") }
        if let missing = listed.subtracting(present).sorted().first { throw fail("'\(missing)' is listed in the manifest but missing") }
        for role in [manifest.library, manifest.bpfObject, manifest.schema] where !listed.contains(role) {
            throw fail("manifest names '\(role)' but does not list it in files")
        }
        guard Set([manifest.library, manifest.bpfObject, manifest.schema]).count == 3 else {
            throw fail("manifest gives one file two roles (library, bpf_object, schema)")
        }

        var contents: [(PackageManifest.FileEntry, Data)] = []
        for file in manifest.files.sorted(by: { $0.path < $1.path }) {
            let limit = file.path == manifest.schema ? PluginSchema.maxSize : Int(maxFileSize)
            let data = try read(entries[file.path]!, from: packageData, limit: limit, label: label)
            guard data.count == file.size else {
                throw fail("\(file.path): \(data.count) bytes, the manifest says \(file.size) (package is corrupt or was tampered with)")
            }
            guard sha256Hex(data) == file.sha256 else {
                throw fail("\(file.path): SHA-256 mismatch (package is corrupt or was tampered with)")
            }
            contents.append((file, data))
        }
        let schema: PluginSchema
        do {
            schema = try PluginSchema.decode(contents.first { $0.0.path == manifest.schema }!.1, source: manifest.schema)
        } catch let e as EunomiaError {
            throw fail(e.message)
        }
        if let disagreement = manifest.disagreement(with: schema) { throw fail(disagreement) }
        var signatures = PackageSignatures()
        if let entry = entries[PackageSignatures.fileName] {
            let data = try read(entry, from: packageData, limit: PackageSignatures.maxSize, label: label)
            do { signatures = try PackageSignatures.decode(data) } catch let e as EunomiaError { throw fail(e.message) }
        }
        // In the manifest's order, the order pack wrote them.
        let byPath = Dictionary(contents.map { ($0.0.path, $0) }, uniquingKeysWith: { a, _ in a })
        return PackageContents(manifest: manifest, manifestData: manifestData, files: manifest.files.compactMap { byPath[$0.path] },
                               schema: schema, signatures: signatures)
    }

    static func checkContents(schema: PluginSchema, library: URL, bpfObject: URL) throws {
        try ArtifactChecks.checkABI(schema.abi, what: "plugin \(schema.name) \(schema.version)")
        try ArtifactChecks.checkLibrary(library)
        try ArtifactChecks.checkBPFObject(bpfObject)
        try ArtifactChecks.checkLayouts(schema, bpfObject: bpfObject)
    }

    /// An entry's content, inflated up to limit bytes, with its CRC-32 and size checked
    /// against the zip headers.
    private static func read(_ entry: Entry, from package: Data, limit: Int, label: String) throws -> Data {
        let data: Data
        let crc: CRC32
        do {
            (data, crc) = try ZipEntries.content(of: entry, in: package, limit: limit)
        } catch ZipEntries.ReadError.tooLarge {
            throw EunomiaError("\(label): entry '\(entry.path)' inflates to more than \(limit >> 10) KiB")
        } catch ZipEntries.ReadError.unreadable(let why) {
            throw EunomiaError("\(label): entry '\(entry.path)': \(why)")
        }
        guard crc == entry.checksum else {
            throw EunomiaError("\(label): entry '\(entry.path)': CRC-32 \(String(crc, radix: 16)) does not match its zip header's \(String(entry.checksum, radix: 16)) (package is corrupt)")
        }
        guard UInt64(data.count) == entry.uncompressedSize else {
            throw EunomiaError("\(label): entry '\(entry.path)' inflates to \(data.count) bytes, its zip header says \(entry.uncompressedSize)")
        }
        return data
    }

    package static func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// What a registry says about a package, read from the package itself with every check that
/// needs neither the disk nor a key passed (PackageArchive.read): the index builder and the
/// OCI push describe a package by this, never by its file name.
public struct PackageSummary: Equatable, Sendable {
    public let name: String
    public let version: String
    public let description: String
    public let abi: String
    /// The manifest's kernel requirements as its JSON object (nil when it states none).
    public let requires: Requirements?
    /// Size and SHA-256 of the .pkg file as a whole: what a download is checked against.
    public let size: Int64
    public let sha256: String
    /// SHA-256 of manifest.json: the build id's source (its first 12 hex digits).
    public let digest: String
    /// The key ids of every signature in the package, verified against the manifest; whether
    /// a store trusts them is install's decision, not the index's.
    public let signedBy: [String]
}

extension PackageArchive {
    /// Reads and checks `package` (see PackageSummary); a bad signature is an error here too.
    public static func summary(of package: URL) throws -> PackageSummary {
        let contents = try read(package)
        let data = try SafeFile.read(package.path, maxBytes: maxPackageSize)
        let message = PackageSignatures.message(manifest: contents.manifestData)
        var signers: [String] = []
        for s in contents.signatures.signatures {
            guard s.key.isValidSignature(s.signature, for: message) else {
                throw EunomiaError("\(package.lastPathComponent): the signature by key \(s.key.keyID) does not verify (package is corrupt or was tampered with)")
            }
            signers.append(s.key.keyID)
        }
        let m = contents.manifest
        return PackageSummary(name: m.name, version: m.version, description: m.description, abi: m.abi.description,
                              requires: m.requires, size: Int64(data.count), sha256: sha256Hex(data),
                              digest: sha256Hex(contents.manifestData), signedBy: signers)
    }
}
