import EunomiaPackages
import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import PluginABI

/// A plugin's shared library, opened with RTLD_NOW | RTLD_LOCAL so two versions of one
/// plugin never interpose on each other. Closed (dlclose) when the last reference goes,
/// which is after every PluginInstance created from it has been destroyed.
public final class PluginLibrary {
    public let path: String
    public let abi: ABIVersion
    public let name: String
    public let version: String
    let table: UnsafePointer<eunomia_plugin>
    private let handle: UnsafeMutableRawPointer

    /// Bytes of the table every ABI 1.x plugin must provide: everything up to get_stats.
    static let requiredTableSize = MemoryLayout<eunomia_plugin>.offset(of: \eunomia_plugin.get_stats)!
        + MemoryLayout<UnsafeRawPointer>.size

    /// True when the table has `member` (EUNOMIA_HAS_FIELD) and it is not NULL.
    func has<T>(_ member: KeyPath<eunomia_plugin, T?>) -> Bool {
        guard let offset = MemoryLayout<eunomia_plugin>.offset(of: member) else { return false }
        guard Int(table.pointee.struct_size) >= offset + MemoryLayout<UnsafeRawPointer>.size else { return false }
        // Loaded from its offset alone: the table may end right after it.
        return UnsafeRawPointer(table).load(fromByteOffset: offset, as: UnsafeRawPointer?.self) != nil
    }

    /// `label` names the library in errors when path is not its store path (/proc/self/fd/N).
    public init(path: String, label: String? = nil) throws {
        let label = label ?? path
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw EunomiaError("cannot load plugin library \(label): \(reason)")
        }
        func fail(_ message: String) -> EunomiaError {
            dlclose(handle)
            return EunomiaError("\(label): \(message)")
        }
        guard let symbol = dlsym(handle, "eunomia_plugin_entry") else {
            throw fail("does not export eunomia_plugin_entry")
        }
        let entry = unsafeBitCast(symbol, to: eunomia_plugin_entry_fn.self)
        guard let table = entry(UInt16(EUNOMIA_ABI_MAJOR), UInt16(EUNOMIA_ABI_MINOR)) else {
            throw fail("the plugin declined to run on eunomia ABI \(ArtifactChecks.hostABI)")
        }
        // Read the table through the pointer, member by member: a 1.1 plugin's table ends
        // before the 1.2 members, so a copy of the whole struct would read past it.
        let size = Int(table.pointee.struct_size)
        guard size >= PluginLibrary.requiredTableSize else {
            throw fail("function table has \(size) bytes, ABI 1.x needs at least \(PluginLibrary.requiredTableSize)")
        }
        let abi = ABIVersion(major: Int(table.pointee.abi_major), minor: Int(table.pointee.abi_minor))
        do {
            try ArtifactChecks.checkABI(abi, what: "plugin")
        } catch let e as EunomiaError {
            throw fail(e.message)
        }
        guard table.pointee.create != nil, table.pointee.start != nil, table.pointee.poll != nil, table.pointee.stop != nil,
              table.pointee.destroy != nil, table.pointee.get_stats != nil,
              let name = table.pointee.name, let version = table.pointee.version else {
            throw fail("function table has a NULL entry")
        }
        self.handle = handle
        self.table = table
        self.path = label
        self.abi = abi
        self.name = String(cString: name)
        self.version = String(cString: version)
    }

    deinit {
        dlclose(handle)
    }
}
