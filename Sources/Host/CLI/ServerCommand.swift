import ArgumentParser
import EunomiaDaemon
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

struct Server: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the eunomia daemon (the default), or tell a running one to reload its config.",
        discussion: """
            eunomia server [--config FILE] [--socket PATH]     run in the foreground until SIGTERM or SIGINT
            eunomia server --check-config FILE                 check a config file and exit
            eunomia server reload                              re-read the config (as SIGHUP does)

            The API is served on a Unix socket (default /run/eunomia/eunomia.sock, mode 0600) and, with
            listen = "127.0.0.1:PORT" in the config, on TCP with a bearer token (STORE/server.token).
            See docs/http-api.md and docs/cli.md.
            """,
        subcommands: [ServerRun.self, ServerReload.self],
        defaultSubcommand: ServerRun.self)
}

struct ServerRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon in the foreground (what `eunomia server` does).")

    @Option(help: ArgumentHelp("Config file (default: /etc/eunomia/eunomia.toml if it exists).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Control socket (default: the config's socket, else /run/eunomia/eunomia.sock).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Plugin store directory (default: the config's store, $EUNOMIA_HOME or /var/lib/eunomia).", valueName: "dir"))
    var store: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (default: the config's, $EUNOMIA_LOG_LEVEL or info).")
    var logLevel: String?

    @Option(help: ArgumentHelp("Check this config file (syntax, keys, plugins and parameters against the store) and exit.", valueName: "file"))
    var checkConfig: String?

    func run() async throws {
        var level: Logger.Level?
        if let logLevel {
            guard let l = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error")
            }
            level = l
        }
        try await reportingErrorsAsync {
            if let checkConfig {
                print(try Daemon.checkConfig(path: checkConfig, store: store))
                return
            }
            try await Daemon.run(DaemonOptions(configPath: config, socket: socket, store: store, logLevel: level))
        }
    }
}
