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
import Logging
import PluginABI

public struct TrackerStats: Equatable {
    public var emitted: UInt64
    public var lost: UInt64
}

/// What the host's C callbacks reach through host_ctx.
private final class CallbackContext {
    let sink: RecordSink
    /// The same sink, not retained per record: `sink` holds it as long as the context lives.
    unowned(unsafe) let recordSink: RecordSink
    let logger: Logger
    init(sink: RecordSink, logger: Logger) {
        self.sink = sink
        recordSink = sink
        self.logger = logger
    }
}

private let emitCallback: @convention(c) (UnsafeMutableRawPointer?, UInt32, UnsafeRawPointer?, UInt32) -> Int32 = {
    ctx, id, data, size in
    let context = Unmanaged<CallbackContext>.fromOpaque(ctx!).takeUnretainedValue()
    return context.recordSink.consume(recordID: id, bytes: UnsafeRawBufferPointer(start: data, count: Int(size))) ? 0 : 1
}

private let endReportCallback: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Int32 = { ctx, timestamp in
    let context = Unmanaged<CallbackContext>.fromOpaque(ctx!).takeUnretainedValue()
    context.sink.endReport(timestampNs: timestamp)
    return 0
}

private let logCallback: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Void = {
    ctx, level, message in
    guard let ctx, let message else { return }
    let context = Unmanaged<CallbackContext>.fromOpaque(ctx).takeUnretainedValue()
    let text = Logger.Message(stringLiteral: String(cString: message))
    switch Int(level) {
    case Int(EUNOMIA_LOG_ERROR): context.logger.error(text)
    case Int(EUNOMIA_LOG_WARN): context.logger.warning(text)
    case Int(EUNOMIA_LOG_INFO): context.logger.info(text)
    default: context.logger.debug(text)
    }
}

/// One instance of a plugin: create -> start -> poll* -> stop -> destroy. Not thread-safe:
/// the owner calls it from one thread at a time, as the ABI requires.
public final class PluginInstance {
    public let library: PluginLibrary
    private let context: CallbackContext
    private let hostAPI: UnsafeMutablePointer<eunomia_host_api>
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private static let errorSize = Int(EUNOMIA_ERROR_BUF_SIZE)
    private var instance: OpaquePointer?
    private var started = false

    public init(library: PluginLibrary, configJSON: String, bpfObject: URL, packageDirectory: URL,
                sink: RecordSink, logger: Logger) throws {
        self.library = library
        context = CallbackContext(sink: sink, logger: logger)
        hostAPI = .allocate(capacity: 1)
        hostAPI.initialize(to: eunomia_host_api(
            struct_size: UInt32(MemoryLayout<eunomia_host_api>.size),
            abi_major: UInt16(EUNOMIA_ABI_MAJOR), abi_minor: UInt16(EUNOMIA_ABI_MINOR),
            host_ctx: Unmanaged.passUnretained(context).toOpaque(),
            emit: emitCallback, log: logCallback, end_report: endReportCallback))
        errorBuffer = .allocate(capacity: PluginInstance.errorSize)
        errorBuffer.initialize(repeating: 0, count: PluginInstance.errorSize)

        var out: OpaquePointer?
        let status = configJSON.withCString { config in
            bpfObject.path.withCString { bpf in
                packageDirectory.path.withCString { dir in
                    var args = eunomia_create_args(
                        struct_size: UInt32(MemoryLayout<eunomia_create_args>.size), reserved: 0,
                        config_json: config, bpf_object_path: bpf, package_dir: dir, host: hostAPI)
                    return library.table.pointee.create(&args, &out, errorBuffer, PluginInstance.errorSize)
                }
            }
        }
        // Throwing here still runs deinit (every property is set), which frees the host API.
        if status != EUNOMIA_OK || out == nil { throw failure("create", status) }
        instance = out
    }

    deinit {
        destroy()
        release()
    }

    public func start() throws {
        try check("start", library.table.pointee.start(instance, errorBuffer, PluginInstance.errorSize))
        started = true
    }

    /// Waits up to timeoutMs and delivers pending records to the sink; returns how many.
    @discardableResult
    public func poll(timeoutMs: Int32) throws -> UInt64 {
        var delivered: UInt64 = 0
        try check("poll", library.table.pointee.poll(instance, timeoutMs, &delivered, errorBuffer, PluginInstance.errorSize))
        return delivered
    }

    public func stop() throws {
        guard started else { return }
        started = false
        try check("stop", library.table.pointee.stop(instance, errorBuffer, PluginInstance.errorSize))
    }

    // ABI 1.2; each answers "absent" for a 1.1 plugin.

    /// The descriptor to wait on for POLLIN before calling poll(timeoutMs: 0); nil: poll on a timer.
    public func waitFD() -> Int32? {
        guard let inst = instance, library.has(\.wait_fd), let fn = library.table.pointee.wait_fd else { return nil }
        let fd = fn(inst)
        return fd >= 0 ? fd : nil
    }

    /// The fd of the instance's map `name` (owned by the instance), or nil.
    public func mapFD(_ name: String) -> Int32? {
        guard let inst = instance, library.has(\.map_fd), let fn = library.table.pointee.map_fd else { return nil }
        let fd = name.withCString { fn(inst, $0) }
        return fd >= 0 ? fd : nil
    }

    public var supportsHandover: Bool { library.has(\.handover) && library.has(\.map_fd) }

    /// Before start: reuse the predecessor's maps (name, fd) and take the swap generation.
    /// Returns the names of the maps the instance took over.
    public func handover(generation: UInt32, maps: [(name: String, fd: Int32)]) throws -> Set<String> {
        guard let inst = instance, library.has(\.handover), let fn = library.table.pointee.handover else { return [] }
        var cNames = maps.map { strdup($0.name) }
        defer { cNames.forEach { free($0) } }
        var entries = maps.indices.map { i in
            eunomia_map_handover(name: UnsafePointer(cNames[i]), fd: maps[i].fd, result: eunomia_status(EUNOMIA_ERR_INVALID_ARGUMENT))
        }
        let status = entries.withUnsafeMutableBufferPointer { buf -> eunomia_status in
            var h = eunomia_handover(struct_size: UInt32(MemoryLayout<eunomia_handover>.size), generation: generation,
                                     n_maps: UInt32(buf.count), reserved: 0, maps: buf.baseAddress)
            return fn(inst, &h, errorBuffer, PluginInstance.errorSize)
        }
        try check("handover", status)
        cNames.removeAll(keepingCapacity: false)
        return Set(maps.indices.filter { entries[$0].result == eunomia_status(EUNOMIA_OK) }.map { maps[$0].name })
    }

    /// Detach for a successor: like stop, without the final report (1.1 plugins: stop).
    public func retire() throws {
        guard started else { return }
        guard library.has(\.retire), let fn = library.table.pointee.retire else { return try stop() }
        started = false
        try check("retire", fn(instance, errorBuffer, PluginInstance.errorSize))
    }

    /// ABI 1.3: the fds of the instance's loaded programs (none for older plugins or before start).
    public func programFDs() -> [Int32] {
        guard let inst = instance, library.has(\.prog_fds), let fn = library.table.pointee.prog_fds else { return [] }
        var fds = [Int32](repeating: -1, count: 64)
        var n = Int(fn(inst, &fds, UInt32(fds.count)))
        if n > fds.count, n <= 4096 {
            fds = [Int32](repeating: -1, count: n)
            n = Int(fn(inst, &fds, UInt32(fds.count)))
        }
        return Array(fds.prefix(max(0, min(n, fds.count))))
    }

    /// What the instance's programs cost the kernel so far; nil when the plugin cannot say (ABI < 1.3).
    public func kernelCost() -> KernelCost? {
        guard instance != nil, library.has(\.prog_fds), library.table.pointee.prog_fds != nil else { return nil }
        return KernelCost.of(programs: programFDs())
    }

    public func stats() -> TrackerStats {
        var s = eunomia_stats()
        s.struct_size = UInt32(MemoryLayout<eunomia_stats>.size)
        _ = library.table.pointee.get_stats(instance, &s)
        return TrackerStats(emitted: s.events_emitted, lost: s.events_lost)
    }

    /// Frees every resource of the instance; later calls do nothing.
    public func destroy() {
        guard let inst = instance else { return }
        if started { try? stop() }
        library.table.pointee.destroy(inst)
        instance = nil
    }

    private func release() {
        hostAPI.deinitialize(count: 1)
        hostAPI.deallocate()
        errorBuffer.deallocate()
    }

    private func check(_ call: String, _ status: eunomia_status) throws {
        if status != EUNOMIA_OK { throw failure(call, status) }
    }

    private func failure(_ call: String, _ status: eunomia_status) -> EunomiaError {
        errorBuffer[PluginInstance.errorSize - 1] = 0
        let detail = String(cString: errorBuffer)
        let code = String(cString: eunomia_status_name(status))
        return EunomiaError("\(library.name) \(call) failed: \(detail.isEmpty ? code : detail)")
    }
}
