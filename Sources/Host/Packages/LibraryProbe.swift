import EunomiaSchema
import Foundation
import PluginABI

/// Reads a plugin library's own account of itself (name, version, ABI) from its function
/// table. Loading a library runs its constructors, so the host never does it in-process at
/// pack time: `probe` runs `eunomia plugin identify LIB` in a child and reads its answer.
package enum LibraryProbe {
    /// A child that does not answer in this long is killed (a constructor that hangs).
    static let timeout: TimeInterval = 10

    package static func probe(_ library: URL, executable: String) throws -> LibraryIdentity {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["plugin", "identify", library.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw EunomiaError("cannot run \(executable) to read \(library.lastPathComponent)'s table: \(error.localizedDescription)")
        }
        let killer = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let reason = String(decoding: errors.prefix(512), as: UTF8.self)
                .split(separator: "\n").last.map(String.init) ?? "it exited with signal \(process.terminationStatus)"
            throw EunomiaError(reason.hasPrefix("eunomia: error: ") ? String(reason.dropFirst(16)) : reason)
        }
        do {
            return try JSONDecoder().decode(LibraryIdentity.self, from: output)
        } catch {
            throw EunomiaError("\(library.lastPathComponent): the child that read its table gave no answer")
        }
    }

    /// In the child: dlopen, call the entry with this host's ABI, read the table's identity.
    package static func identify(_ library: URL) throws -> LibraryIdentity {
        let label = library.lastPathComponent
        guard let handle = dlopen(library.path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw EunomiaError("cannot load \(label): \(reason)")
        }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, EUNOMIA_ENTRY_SYMBOL) else { throw EunomiaError("\(label): does not export eunomia_plugin_entry") }
        let entry = unsafeBitCast(symbol, to: eunomia_plugin_entry_fn.self)
        guard let table = entry(UInt16(EUNOMIA_ABI_MAJOR), UInt16(EUNOMIA_ABI_MINOR)) else {
            throw EunomiaError("\(label): eunomia_plugin_entry returned no table for ABI \(ArtifactChecks.hostABI)")
        }
        // Only the members every ABI 1.x table starts with.
        let minimum = MemoryLayout<eunomia_plugin>.offset(of: \eunomia_plugin.create)!
        guard Int(table.pointee.struct_size) >= minimum else {
            throw EunomiaError("\(label): its function table has \(table.pointee.struct_size) bytes, too few for a name and version")
        }
        guard let name = table.pointee.name, let version = table.pointee.version else {
            throw EunomiaError("\(label): its function table has no name or version")
        }
        func text(_ p: UnsafePointer<CChar>) -> String {
            String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: min(strnlen(p, 256), 256)), as: UTF8.self)
        }
        return LibraryIdentity(name: text(name), version: text(version),
                               abi: ABIVersion(major: Int(table.pointee.abi_major), minor: Int(table.pointee.abi_minor)))
    }
}
