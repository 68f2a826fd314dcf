import ArgumentParser
import CHostSupport
import EunomiaDaemon
import EunomiaHost
import Foundation
import Logging

struct Eunomia: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eunomia",
        abstract: "Load eBPF tracker plugins at runtime and print what they see.",
        discussion: """
            Trackers are plugins: a C library, its BPF object and a schema, shipped as one .pkg file.
            Install a package into the store (a file, a plugin by name from a registry, or an OCI
            reference), then run the tracker by name:

              eunomia plugin install opensnoop --registry build/registry
              eunomia plugin install build/packages/opensnoop-0.1.0.pkg
              eunomia run opensnoop --comm bash -o json

            Or run the daemon and drive it (docs/http-api.md):

              eunomia server --config /etc/eunomia/eunomia.toml
              eunomia tracker start opensnoop --id opens

            Install accepts packages signed by a key the store trusts (eunomia key --help):

              eunomia key trust build/keys/local-build.pub

            The store is /var/lib/eunomia unless --store or EUNOMIA_HOME says otherwise.
            Tracing needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF.
            """,
        version: "\(DaemonInfo.hostVersion) (plugin ABI \(DaemonInfo.abi))",
        subcommands: [Run.self, Plugin.self, Registry.self, Key.self, Server.self, Tracker.self, Alerts.self, Seccomp.self])
}

// Errors are one line on stderr ("eunomia: error: ..."), usage errors included; --help and
// --version print as usual.
// The config parser's isolated child (TOMLIsolation): not a command for people.
if CommandLine.arguments.count == 2 && CommandLine.arguments[1] == TOMLIsolation.childArgument {
    TOMLIsolation.childMain()
}

do {
    var command = try Eunomia.parseAsRoot()
    // Client and server commands are async (they talk HTTP); the rest run synchronously.
    if let asyncCommand = command as? AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch let error as ExitCode {
    Eunomia.exit(withError: error)
} catch {
    let code = Eunomia.exitCode(for: error)
    if code == .success {
        Eunomia.exit(withError: error)
    }
    var message = Eunomia.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    if message.hasPrefix("Error: ") { message.removeFirst(7) }
    FileHandle.standardError.write(Data("eunomia: error: \(EunomiaError(message).message) (see --help)\n".utf8))
    Eunomia.exit(withError: ExitCode(code.rawValue))
}
