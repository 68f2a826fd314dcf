import Foundation
import XCTest

/// A real registry for the OCI tests: Debian's docker-registry (CNCF distribution 2.8) on
/// 127.0.0.1 with its storage in a temporary directory, and skopeo to look at what it holds.
/// Missing tools are a failure, not a skip: these tests are the OCI feature's only proof.
final class TestRegistry {
    static let registryBinary = "/usr/bin/docker-registry"
    static let skopeoBinary = "/usr/bin/skopeo"

    let root: URL
    let port: UInt16
    private let process: Process
    private let log: FileHandle

    var authority: String { "127.0.0.1:\(port)" }

    /// Starts a registry storing under `directory`/storage. `htpasswd`: "user:bcrypt" lines
    /// for basic auth; `advertisedHost`: the http.host it builds upload URLs with.
    init(in directory: URL, htpasswd: String? = nil, advertisedHost: String? = nil, token: TokenServer? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.registryBinary) else {
            throw TestSupport.TestFailure("\(Self.registryBinary) is missing: apt-get install docker-registry (make install-deps)")
        }
        root = directory.appendingPathComponent("storage")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        port = try Self.freePort()
        var config = """
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(root.path)
            http:
              addr: 127.0.0.1:\(port)

            """
        if let advertisedHost { config += "  host: \(advertisedHost)\n" }
        if let htpasswd {
            let file = directory.appendingPathComponent("htpasswd")
            try Data((htpasswd + "\n").utf8).write(to: file)
            config += "auth:\n  htpasswd:\n    realm: eunomia-test\n    path: \(file.path)\n"
        }
        if let token {
            config += "auth:\n  token:\n    realm: \(token.realm)\n    service: \(TokenServer.service)\n"
                + "    issuer: \(TokenServer.issuer)\n    rootcertbundle: \(token.certificate.path)\n"
        }
        let configFile = directory.appendingPathComponent("registry.yml")
        try Data(config.utf8).write(to: configFile)
        let logFile = directory.appendingPathComponent("registry.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        log = try FileHandle(forWritingTo: logFile)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.registryBinary)
        process.arguments = ["serve", configFile.path]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitUntilListening(logFile)
    }

    /// Ends the registry this test started (by its own process, never by name).
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? log.close()
    }

    deinit { stop() }

    private func waitUntilListening(_ logFile: URL) throws {
        for _ in 0..<100 {
            if !process.isRunning {
                let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                throw TestSupport.TestFailure("docker-registry exited: \(text.suffix(500))")
            }
            if let fd = try? Loopback.connect(.v4, port: port) {
                close(fd)
                return
            }
            usleep(100_000)
        }
        throw TestSupport.TestFailure("docker-registry is not listening on \(authority) after 10 s")
    }

    private static func freePort() throws -> UInt16 {
        let (fd, port) = try Loopback.bound(.v4, type: Int32(SOCK_STREAM.rawValue))
        close(fd)
        return port
    }

    /// A bcrypt htpasswd line, made with python3's crypt module.
    static func htpasswdLine(user: String, password: String) throws -> String {
        let script = "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))"
        let r = try TestSupport.run("/usr/bin/python3", ["-W", "ignore", "-c", script, password])
        let hash = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, hash.hasPrefix("$2") else { throw TestSupport.TestFailure("python3 crypt made no bcrypt hash: \(r.stderr)") }
        return "\(user):\(hash)"
    }

    /// `skopeo inspect --raw` of REPO:TAG (or REPO@DIGEST): the manifest as the registry holds it.
    func skopeoRaw(_ repositoryAndTag: String, credentials: String? = nil) throws -> [String: Any] {
        guard FileManager.default.isExecutableFile(atPath: Self.skopeoBinary) else {
            throw TestSupport.TestFailure("\(Self.skopeoBinary) is missing: apt-get install skopeo (make install-deps)")
        }
        var args = ["inspect", "--raw", "--tls-verify=false"]
        if let credentials { args += ["--creds", credentials] }
        let r = try TestSupport.run(Self.skopeoBinary, args + ["docker://\(authority)/\(repositoryAndTag)"])
        guard r.status == 0, let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw TestSupport.TestFailure("skopeo inspect failed (\(r.status)): \(r.stderr)")
        }
        return object
    }

    /// The data file of a blob in the registry's storage.
    func blobFile(_ digest: String) -> URL {
        let hex = String(digest.dropFirst("sha256:".count))
        return root.appendingPathComponent("docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data")
    }

    /// A docker-style auth.json for this registry.
    func writeAuthFile(_ url: URL, user: String, password: String) throws {
        let auth = Data("\(user):\(password)".utf8).base64EncodedString()
        let json = try JSONSerialization.data(withJSONObject: ["auths": [authority: ["auth": auth]]])
        try json.write(to: url)
    }
}
