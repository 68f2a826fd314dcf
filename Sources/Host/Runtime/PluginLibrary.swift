import EunomiaPackages
import EunomiaRecords
import EunomiaSchema
import Foundation
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
        return Int(table.pointee.struct_size) >= offset + MemoryLayout<UnsafeRawPointer>.size && table.pointee[keyPath: member] != nil
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
        let t = table.pointee
        let abi = ABIVersion(major: Int(t.abi_major), minor: Int(t.abi_minor))
        do {
            try ArtifactChecks.checkABI(abi, what: "plugin")
        } catch let e as EunomiaError {
            throw fail(e.message)
        }
        guard Int(t.struct_size) >= PluginLibrary.requiredTableSize else {
            throw fail("function table has \(t.struct_size) bytes, ABI \(abi) needs at least \(PluginLibrary.requiredTableSize)")
        }
        guard t.create != nil, t.start != nil, t.poll != nil, t.stop != nil, t.destroy != nil, t.get_stats != nil,
              let name = t.name, let version = t.version else {
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
