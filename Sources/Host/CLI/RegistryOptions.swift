import ArgumentParser
import EunomiaDaemon
import EunomiaHost
import EunomiaRegistry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where packages are fetched from: --registry URLs first, then the config file's
/// [[registry]] entries in order; how: --insecure, --auth-file.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("registry"),
            help: ArgumentHelp("A registry index to search first: a directory, http(s)://HOST/PATH or file://PATH (repeatable).", valueName: "url"))
    var registries: [String] = []

    @Option(help: ArgumentHelp("Config file whose [[registry]] entries are searched after --registry (default: /etc/eunomia/eunomia.toml when it exists).", valueName: "file"))
    var config: String?

    @Flag(help: "Allow plain http:// to hosts other than loopback (the package signature is still checked).")
    var insecure = false

    @Option(help: ArgumentHelp("Credentials for OCI registries, docker-style (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).", valueName: "file"))
    var authFile: String?

    var transport: HTTPTransport { HTTPTransport(insecure: insecure) }

    /// --registry entries first, then the config's [[registry]] entries, in order.
    func locations() throws -> [RegistryLocation] {
        var result = try registries.map { try RegistryLocation.parse($0, insecure: insecure) }
        let path = config ?? DaemonConfig.defaultPath
        if config != nil || FileManager.default.fileExists(atPath: path) {
            for location in try DaemonConfig.load(path: path).registries where !result.contains(location) {
                result.append(location)
            }
        }
        return result
    }

    func resolver() throws -> RegistryResolver {
        RegistryResolver(locations: try locations(), transport: transport)
    }
}
