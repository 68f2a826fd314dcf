import Foundation
import XCTest

/// A Bearer token service for TestRegistry: docker-registry's `auth: token` checks JWTs
/// signed by a key whose certificate it is given; this serves such tokens from a small
/// python3 http.server, signed with openssl, granting whatever scope is asked, to a client
/// that sends the basic credentials (when `credentials` is set).
final class TokenServer {
    static let service = "eunomia-test"
    static let issuer = "eunomia-test-issuer"

    let certificate: URL
    let port: UInt16
    private let process: Process

    var realm: String { "http://127.0.0.1:\(port)/token" }

    init(in directory: URL, credentials: String?) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let key = directory.appendingPathComponent("token.key")
        certificate = directory.appendingPathComponent("token.pem")
        let made = try TestSupport.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path,
                                                            "-out", certificate.path, "-days", "1", "-subj", "/CN=eunomia-test-token"])
        guard made.status == 0 else { throw TestSupport.TestFailure("openssl req failed: \(made.stderr)") }
        let der = try TestSupport.run("/usr/bin/openssl", ["x509", "-in", certificate.path, "-outform", "DER", "-out", directory.appendingPathComponent("token.der").path])
        guard der.status == 0 else { throw TestSupport.TestFailure("openssl x509 failed: \(der.stderr)") }
        let certBase64 = try Data(contentsOf: directory.appendingPathComponent("token.der")).base64EncodedString()

        let script = directory.appendingPathComponent("token_server.py")
        try Data(Self.source.utf8).write(to: script)
        let portFile = directory.appendingPathComponent("port")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, key.path, certBase64, Self.issuer, Self.service, credentials ?? "", portFile.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let p = UInt16(text) {
                port = p
                return
            }
            guard process.isRunning else { break }
            usleep(100_000)
        }
        process.terminate()
        throw TestSupport.TestFailure("the token server did not start")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    private static let source = #"""
        import base64, http.server, json, subprocess, sys, time, urllib.parse
        key, cert, issuer, service, credentials, port_file = sys.argv[1:7]

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                if credentials and self.headers.get("Authorization") != "Basic " + base64.b64encode(credentials.encode()).decode():
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                access = []
                for scope in query.get("scope", []):
                    kind, name, actions = scope.split(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                header = {"alg": "RS256", "typ": "JWT", "x5c": [cert]}
                claims = {"iss": issuer, "sub": "tester", "aud": service, "exp": now + 300, "nbf": now - 10,
                          "iat": now, "jti": str(time.time_ns()), "access": access}
                signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
                signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing.encode(),
                                           capture_output=True, check=True).stdout
                body = json.dumps({"token": signing + "." + b64(signature)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.server_port))
        import os
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """#
}
