import CHostSupport
import EunomiaContainers
import EunomiaPackages
import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// One loaded instance of one build, as the event loop serves it: the verified files, the
/// library, the plugin instance and its gate into the tracker's router.
final class ActiveInstance: LoopSource {
    let plugin: InstalledPlugin
    let parameters: ResolvedParameters
    let gate: InstanceGate
    let source: RecordSource
    private let verified: VerifiedBuild
    private(set) var instance: PluginInstance?
    private let router: RecordRouter
    private let logger: Logger
    private(set) var waitFD: Int32?
    /// Set on the loop thread when poll failed; read under the router's lock.
    private(set) var failure: String?
    /// Kernel-side losses before this instance was retired or stopped.
    private(set) var finalStats: TrackerStats?
    /// The container its BPF side admits alone (the `container` parameter), nil for all.
    let container: ContainerLocator.Found?

    /// Verifies the build's files, loads its library through the verified descriptor and
    /// creates the instance (nothing is loaded into the kernel yet).
    init(plugin: InstalledPlugin, parameters: ResolvedParameters, generation: UInt32, router: RecordRouter, logger: Logger) throws {
        self.plugin = plugin
        self.parameters = parameters
        self.router = router
        self.logger = logger
        verified = try plugin.verifyFiles()
        let library = try PluginLibrary(path: verified.libraryPath, label: plugin.libraryURL.path)
        guard library.name == plugin.name else {
            throw EunomiaError("\(plugin.libraryURL.path) calls itself '\(library.name)', the package says '\(plugin.name)'")
        }
        source = RecordSource(schema: plugin.schema, parameters: parameters, plugin: plugin.name, version: plugin.version,
                              build: plugin.buildID, generation: generation)
        gate = InstanceGate(router: router, source: source)
        container = try ContainerFilter.resolve(parameters, schema: plugin.schema)
        if let container {
            logger.info("\(plugin.reference): only container \(container.container.runtime.rawValue) \(container.container.shortID) (\(container.cgroupIDs.count) cgroup\(container.cgroupIDs.count == 1 ? "" : "s")), filtered in the kernel")
        }
        do {
            instance = try PluginInstance(library: library, configJSON: parameters.configJSON(cgroupIDs: container?.cgroupIDs), bpfObject: plugin.bpfObjectURL,
                                          packageDirectory: plugin.directory, sink: gate, logger: logger)
        } catch let e as EunomiaError {
            throw EunomiaError(e.message, kind: .failed)
        }
    }

    /// Loads and attaches the programs.
    func start() throws {
        guard let instance else { return }
        do {
            try instance.start()
        } catch let e as EunomiaError {
            throw EunomiaError(e.message, kind: .failed)
        }
        // Loading parsed the kernel's BTF (megabytes, freed again): hand that memory back.
        eh_release_free_memory()
        waitFD = instance.waitFD()
    }

    func service() -> Bool {
        router.withDelivery {
            guard let instance, failure == nil else { return false }
            do {
                try instance.poll(timeoutMs: 0)
            } catch {
                failure = "\(error)"
                logger.error("\(plugin.reference): \(error)")
                router.flush()
                return false
            }
            router.flush()
            return true
        }
    }

    /// Stops the instance (final report included) delivering inside the router's lock; the
    /// loop must no longer serve it.
    func stop() throws {
        guard let instance else { return }
        try router.withDelivery {
            defer { router.flush() }
            try instance.stop()
        }
        finalStats = instance.stats()
    }

    /// Retires the instance for a successor: detached, ring buffer handed over, no final report.
    /// Runs without the router's lock (the successor is being served meanwhile): the records it
    /// hands over are buffered by the gate and delivered afterwards under the lock.
    func retire() throws {
        guard let instance else { return }
        router.withDelivery { gate.buffering = true }
        var failure: Error?
        do { try instance.retire() } catch { failure = error }
        router.withDelivery {
            gate.drain()
            router.flush()
        }
        finalStats = instance.stats()
        if let failure { throw failure }
    }

    func stats() -> TrackerStats { finalStats ?? instance?.stats() ?? TrackerStats(emitted: 0, lost: 0) }

    /// Read before destroy closes the programs, so a stopped or retired instance still tells.
    private var finalCost: KernelCost??

    func kernelCost() -> KernelCost? {
        if let finalCost { return finalCost }
        return instance?.kernelCost()
    }

    /// Destroys the instance; the library closes when nothing else holds it.
    func destroy() {
        if finalStats == nil { finalStats = instance?.stats() }
        if finalCost == nil { finalCost = .some(instance?.kernelCost()) }
        instance?.destroy()
        instance = nil
        withExtendedLifetime(verified) {}
    }

    func mapFD(_ name: String) -> Int32? { instance?.mapFD(name) }
}
