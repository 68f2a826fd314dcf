import CHostSupport
import EunomiaHost
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// What the command line says about the server; it wins over the config file.
public struct DaemonOptions: Sendable {
    /// --config FILE; nil: /etc/eunomia/eunomia.toml if it exists, else no config.
    public var configPath: String?
    public var socket: String?
    public var store: String?
    public var logLevel: Logger.Level?

    public init(configPath: String? = nil, socket: String? = nil, store: String? = nil, logLevel: Logger.Level? = nil) {
        self.configPath = configPath
        self.socket = socket
        self.store = store
        self.logLevel = logLevel
    }
}

/// `eunomia server`: the tracker manager, the Unix socket (and optional TCP listener) serving the
/// API, SIGHUP reloads; swift-service-lifecycle orders startup and shutdown (SIGTERM, SIGINT:
/// listeners close, open streams end, every tracker stops, files are flushed, exit 0).
public enum Daemon {
    /// How long SIGTERM waits for open connections before cutting them.
    static let shutdownGrace = Duration.seconds(5)

    /// The config file the options name: --config, else the default path if it exists, else none.
    public static func configPath(_ options: DaemonOptions) -> String? {
        if let p = options.configPath { return p }
        return FileManager.default.fileExists(atPath: DaemonConfig.defaultPath) ? DaemonConfig.defaultPath : nil
    }

    public static func loadConfig(_ options: DaemonOptions) throws -> DaemonConfig {
        guard let path = configPath(options) else { return DaemonConfig() }
        return try DaemonConfig.load(path: path)
    }

    /// --check-config: the file parses and checks, and every tracker's plugin and parameters
    /// resolve against the store. Returns a one-line summary.
    public static func checkConfig(path: String, store storePath: String?) throws -> String {
        let config = try DaemonConfig.load(path: path)
        let store = Store(path: storePath ?? config.store)
        for spec in config.trackers {
            do {
                let plugin = try store.resolve(spec.plugin)
                _ = try ResolvedParameters(schema: plugin.schema, assignments: spec.params)
                if let filter = spec.filter { _ = try ConditionFilter(filter, schema: plugin.schema, containers: nil) }
            } catch let e as EunomiaError {
                throw EunomiaError("\(path)\(spec.line.map { " line \($0)" } ?? ""): tracker \(spec.id.quotedForError): \(e.message)", kind: e.kind)
            }
        }
        let rules = try config.rules.map { try RuleFile.load(path: $0, schema: { try? store.resolve($0).schema }) }
        let ruleCount = rules.reduce(0) { $0 + $1.rules.count }
        return "\(path): ok (\(config.trackers.count) tracker\(config.trackers.count == 1 ? "" : "s")"
            + (config.rules.isEmpty ? "" : ", \(ruleCount) rule\(ruleCount == 1 ? "" : "s")") + ", store \(store.root.path))"
    }

    /// Runs until SIGTERM or SIGINT. Startup errors (a bad config, a socket in use) throw one line.
    public static func run(_ options: DaemonOptions) async throws {
        let config = try loadConfig(options)
        let level = options.logLevel ?? config.logLevel
            ?? ProcessInfo.processInfo.environment["EUNOMIA_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        HostLogging.bootstrap(level: level)
        var logger = Logger(label: "eunomia")
        logger.logLevel = level
        let store = Store(path: options.store ?? config.store)
        let socketPath = options.socket ?? config.socket ?? DaemonConfig.defaultSocket
        if let problem = DaemonConfig.checkAbsolutePath(socketPath, maxBytes: 107), options.socket != nil {
            throw EunomiaError("--socket \(socketPath.quotedForError) \(problem)")
        }
        try prepareSocketDirectory(socketPath)

        var token: (bytes: [UInt8], path: String)?
        if config.listen != nil {
            try createStoreRoot(store)
            let path = store.root.appendingPathComponent(ServerToken.fileName).path
            token = (try ServerToken.loadOrCreate(at: path), path)
        }

        let manager = try TrackerManager(store: store, limits: config.limits, logger: logger)
        do {
            manager.useRules(try manager.loadRules(config.rules))
            let summary = try await manager.apply(config.trackers)
            if !summary.failed.isEmpty { logger.error("\(summary.line)") }
        } catch {
            await manager.shutdown()
            throw error
        }

        let reloader = Reloader(options: options, running: config, manager: manager, logger: logger)
        let api = API(manager: manager, limits: config.limits, logger: logger, reload: { try await reloader.reload() })
        let tempSocket = (socketPath as NSString).deletingLastPathComponent + "/.eunomia.sock.\(getpid())"
        let log = logger
        unlink(tempSocket)
        let unixApp = Application(
            router: api.router(token: nil),
            configuration: .init(address: .unixDomainSocket(path: tempSocket), serverName: nil),
            onServerRunning: { _ in
                // Bound under a private name, made 0600, then renamed into place: the socket at
                // the public path never has any other mode.
                chmod(tempSocket, 0o600)
                if rename(tempSocket, socketPath) != 0 {
                    log.critical("cannot move the socket to \(socketPath): \(String(cString: strerror(errno)))")
                }
                announce("listening on unix:\(socketPath)")
            },
            logger: quiet(logger))
        // The group shuts its services down in reverse order: the trackers first (which ends
        // every open event stream), then SIGHUP handling, then the listeners, which by then
        // have no long-running request left to wait for.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: unixApp)]
        if let listen = config.listen, let token {
            let tcpApp = Application(
                router: api.router(token: token.bytes),
                configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? listen.port
                    let host = listen.host.contains(":") ? "[\(listen.host)]" : listen.host
                    announce("listening on http://\(host):\(port) (bearer token in \(token.path))")
                },
                logger: quiet(logger))
            services.append(.init(service: tcpApp))
        }
        services.append(.init(service: ReloadService(reloader: reloader, logger: logger), successTerminationBehavior: .ignore))
        let stopping = Locked(false)
        services.append(.init(service: TrackerService(manager: manager, stopping: stopping), successTerminationBehavior: .ignore))
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: quiet(logger))
        // A client that stopped reading its stream holds its connection open: after this long
        // the listeners are cancelled, which closes every connection.
        groupConfig.maximumGracefulShutdownDuration = Daemon.shutdownGrace
        groupConfig.maximumCancellationDuration = Daemon.shutdownGrace
        let group = ServiceGroup(configuration: groupConfig)
        var failure: Error?
        do {
            try await group.run()
        } catch {
            failure = error
        }
        if let f = failure, stopping.withLock({ $0 }) {
            // Asked to stop (SIGTERM, SIGINT), and it did: the trackers are down, the files flushed.
            logger.notice("connections still open after \(Daemon.shutdownGrace) were cut (\(describe(f)))")
            failure = nil
        }
        await manager.shutdown()
        unlink(tempSocket)
        if socketIsOurs(socketPath) { unlink(socketPath) }
        if let failure {
            if let e = failure as? EunomiaError { throw e }
            throw EunomiaError("server stopped: \(describe(failure))", kind: .failed)
        }
        announce("stopped")
    }

    /// Prints a line on stderr whatever the log level: what an operator needs at start and stop.
    static func announce(_ line: String) {
        FileHandle.standardError.write(Data("eunomia server: \(line)\n".utf8))
    }

    /// Hummingbird's and the service group's own chatter only from warning up.
    static func quiet(_ logger: Logger) -> Logger {
        var l = logger
        l.logLevel = max(logger.logLevel, .warning)
        return l
    }

    /// NIO's errors end in "(errno: N)" after the call that failed: say it as the system does.
    static func describe(_ error: Error) -> String {
        let text = "\(error)"
        if let n = SystemErrorText.errnoCode(in: text) {
            let call = text.contains("bind(") ? "bind: " : text.contains("listen(") ? "listen: " : ""
            return call + String(cString: strerror(n))
        }
        return text
    }

    /// The socket's directory exists (created 0755 if not). An existing socket that answers
    /// belongs to a running server: refused. A stale one is removed; anything else is refused.
    static func prepareSocketDirectory(_ path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        var st = stat()
        if lstat(dir, &st) != 0 {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            } catch {
                throw EunomiaError("cannot create \(dir): \((error as NSError).localizedDescription)", kind: .failed)
            }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw EunomiaError("\(dir) is not a directory")
        }
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw EunomiaError("\(path) exists and is not a socket; remove it or choose another --socket", kind: .conflict)
        }
        if connects(path) {
            throw EunomiaError("another server is listening on \(path)", kind: .conflict)
        }
        unlink(path)
    }

    static func connects(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// The socket at path is still ours (another server started since would have replaced it).
    static func socketIsOurs(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK && !connects(path)
    }

    static func createStoreRoot(_ store: Store) throws {
        if mkdir(store.root.path, 0o755) != 0 && errno != EEXIST {
            throw EunomiaError("cannot create the store \(store.root.path): \(String(cString: strerror(errno)))", kind: .failed)
        }
    }
}

/// Re-reads the config (SIGHUP, POST /api/v1/reload): a bad file changes nothing and says why in
/// one line; socket, listen, store, limits and log_level need a restart and are left as they are.
final class Reloader: @unchecked Sendable {
    let options: DaemonOptions
    let manager: TrackerManager
    let logger: Logger
    private let running: Locked<DaemonConfig>

    init(options: DaemonOptions, running: DaemonConfig, manager: TrackerManager, logger: Logger) {
        self.options = options
        self.running = Locked(running)
        self.manager = manager
        self.logger = logger
    }

    func reload() async throws -> ReloadSummary {
        let config: DaemonConfig
        do {
            config = try Daemon.loadConfig(options)
        } catch let e as EunomiaError {
            logger.error("reload refused, nothing changed: \(e.message)")
            throw e
        }
        let old = running.withLock { $0 }
        var ignored: [String] = []
        if config.socket != old.socket { ignored.append("socket") }
        if config.listen != old.listen || config.allowRemote != old.allowRemote { ignored.append("listen") }
        if config.store != old.store { ignored.append("store") }
        if config.limits != old.limits { ignored.append("limits") }
        if config.logLevel != old.logLevel { ignored.append("log_level") }
        if !ignored.isEmpty { logger.warning("reload: \(ignored.joined(separator: ", ")) changed; that takes a restart and is left as it is") }
        do {
            // Rules files are read again even when the list is the same: their content may have changed.
            let rules = try manager.loadRules(config.rules)
            let summary = try await manager.apply(config.trackers)
            manager.useRules(rules)
            running.withLock {
                $0.trackers = config.trackers
                $0.rules = config.rules
            }
            return summary
        } catch let e as EunomiaError {
            logger.error("reload refused, nothing changed: \(e.message)")
            throw e
        }
    }
}

/// Owns the trackers' lifetime in the service group: runs until graceful shutdown, then stops
/// every tracker. Listed last, so it shuts down first: its streams end before the listeners close.
struct TrackerService: Service {
    let manager: TrackerManager
    let stopping: Locked<Bool>

    func run() async throws {
        try? await gracefulShutdown()
        stopping.withLock { $0 = true }
        await manager.shutdown()
    }
}

/// SIGHUP: reload.
struct ReloadService: Service {
    let reloader: Reloader
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: reloading the config")
            _ = try? await reloader.reload()
        }
    }
}
