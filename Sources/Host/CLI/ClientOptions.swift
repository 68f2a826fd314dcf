import ArgumentParser
import EunomiaDaemon
import EunomiaHost
import Foundation

/// How a command reaches the server: the Unix socket, or TCP with the bearer token.
struct ServerAddress: ParsableArguments {
    @Option(help: ArgumentHelp("The server's control socket (default: /run/eunomia/eunomia.sock).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Talk to the server over TCP instead: http://HOST:PORT (needs the token).", valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("Token for --server (default: STORE/server.token).", valueName: "file"))
    var tokenFile: String?

    /// The client; `store` is where the default token file is.
    func api(store: String?) throws -> APIClient {
        if let server {
            let base = try APIClient.checkServerURL(server)
            let file = tokenFile ?? Store(path: store).root.appendingPathComponent(ServerToken.fileName).path
            return APIClient(endpoint: .http(base: base, token: try ServerToken.read(clientFile: file)))
        }
        if tokenFile != nil { throw EunomiaError("--token-file goes with --server (the Unix socket needs no token)") }
        let path = socket ?? DaemonConfig.defaultSocket
        guard path.hasPrefix("/"), path.utf8.count <= 107, !path.utf8.contains(0) else {
            throw EunomiaError("--socket \(path.quotedForError) is not an absolute path of at most 107 bytes")
        }
        return APIClient(endpoint: .unix(path: path))
    }
}

/// The client commands' options: the server's address, and the store its token is in.
struct ClientOptions: ParsableArguments {
    @OptionGroup var address: ServerAddress

    @Option(help: ArgumentHelp("Plugin store directory, where the default token file is (default: $EUNOMIA_HOME or /var/lib/eunomia).", valueName: "dir"))
    var store: String?

    func api() throws -> APIClient { try address.api(store: store) }
}

/// As reportingErrors, for async commands.
func reportingErrorsAsync(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as EunomiaError {
        FileHandle.standardError.write(Data("eunomia: error: \(error.message)\n".utf8))
        throw ExitCode.failure
    }
}

/// A path segment built from a checked id or name.
func segment(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
}

/// Runs an async command's run() (top-level code would pick the synchronous overload, which prints help).
func runAsync(_ command: AsyncParsableCommand) async throws {
    var command = command
    try await command.run()
}
