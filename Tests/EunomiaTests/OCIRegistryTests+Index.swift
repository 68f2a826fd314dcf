import Foundation
import XCTest
@testable import EunomiaPackages
@testable import EunomiaRegistry
@testable import EunomiaSchema

/// Several architectures under one tag, and the parts that need no registry: the reference
/// grammar, WWW-Authenticate challenges, auth.json, ELF machines.
extension OCIRegistryTests {
    /// opensnoop with its library's e_machine set to EM_AARCH64: unsigned (its hashes changed).
    func arm64Package() throws -> URL {
        var p = try HostilePackage.opensnoop()
        let i = try XCTUnwrap(p.files.firstIndex { $0.0.hasSuffix(".so") })
        p.files[i].1[18] = 183
        p.files[i].1[19] = 0
        return try p.write(to: dir.appendingPathComponent("opensnoop-arm64.pkg"))
    }

    func testSeveralArchitecturesBecomeAnIndex() async throws {
        let r = try startRegistry()
        let amd64 = try TestSupport.opensnoopPackage(), arm64 = try arm64Package()
        XCTAssertEqual(try PackageArchive.architecture(of: amd64), "amd64")
        XCTAssertEqual(try PackageArchive.architecture(of: arm64), "arm64")
        let target = "oci://\(r.authority)/eunomia/opensnoop:multi"
        let digest = try push([amd64, arm64], to: target, store: dir.appendingPathComponent("push-store"))

        let raw = try r.skopeoRaw("eunomia/opensnoop:multi")
        XCTAssertEqual(raw["mediaType"] as? String, "application/vnd.oci.image.index.v1+json")
        let manifests = try XCTUnwrap(raw["manifests"] as? [[String: Any]])
        let platforms = manifests.compactMap { ($0["platform"] as? [String: String]).map { "\($0["os"] ?? "")/\($0["architecture"] ?? "")" } }
        XCTAssertEqual(platforms, ["linux/amd64", "linux/arm64"])

        // This host (amd64) gets the signed amd64 build, by tag and by the index's digest.
        let store = try trustedStore("store")
        let installed = try cli(["plugin", "install", target], store: store)
        XCTAssertEqual(installed.status, 0, installed.stderr)
        XCTAssertTrue(installed.stdout.contains("signed by"), installed.stdout)
        let byDigest = try cli(["plugin", "install", "oci://\(r.authority)/eunomia/opensnoop@\(digest)"], store: store)
        XCTAssertEqual(byDigest.status, 0, byDigest.stderr)
        XCTAssertTrue(byDigest.stdout.hasPrefix("already installed"), byDigest.stdout)

        // A host of another architecture is told which there are.
        let client = OCIClient(reference: try OCIReference.parse("\(r.authority)/eunomia/opensnoop:multi"), transport: HTTPTransport(), credentials: nil)
        let download = try DownloadDirectory()
        do {
            _ = try await OCIPull(client: client, architecture: "riscv64").fetch(into: download)
            XCTFail("an index without riscv64 was resolved")
        } catch let e as EunomiaError {
            XCTAssertTrue(e.message.hasSuffix("has no package for linux/riscv64; it has: amd64, arm64"), e.message)
        }

        // Different plugins, or one architecture twice, under one tag: refused before any upload.
        let other = try TestSupport.package("execsnoop")
        assertOneLineError(try cli(["plugin", "push", amd64.path, other.path, target], store: store),
                           contains: ["must be the same plugin and version"])
        assertOneLineError(try cli(["plugin", "push", amd64.path, amd64.path, target], store: store),
                           contains: ["are both for amd64"])
    }

    /// Manifests with our media types whose layer descriptor lies: distribution checks only
    /// that the blobs exist, so each reaches install, which must refuse it in one line.
    func testLyingLayerDescriptorsAreRefused() async throws {
        let r = try startRegistry()
        let client = OCIClient(reference: try OCIReference.parse("\(r.authority)/eunomia/liar:x"), transport: HTTPTransport(), credentials: nil)
        let config = Array("{}".utf8), layer = Array("not a package".utf8)
        try await client.pushBlob(config, digest: OCIDigest.of(config))
        try await client.pushBlob(layer, digest: OCIDigest.of(layer))
        func manifest(_ tag: String, sizes: [Int64]) async throws {
            let m = OCIImageManifest(
                schemaVersion: 2, mediaType: OCIMediaType.imageManifest, artifactType: nil,
                config: OCIDescriptor(mediaType: OCIMediaType.pluginConfig, digest: OCIDigest.of(config), size: Int64(config.count)),
                layers: sizes.map { OCIDescriptor(mediaType: OCIMediaType.pluginLayer, digest: OCIDigest.of(layer), size: $0) })
            try await client.pushManifest(try OCIJSON.encode(m), mediaType: OCIMediaType.imageManifest, tag: tag)
        }
        try await manifest("huge", sizes: [200 << 20])
        try await manifest("short", sizes: [5])
        try await manifest("long", sizes: [20])
        try await manifest("two", sizes: [13, 13])
        let store = try trustedStore("store")
        let base = "oci://\(r.authority)/eunomia/liar"
        assertOneLineError(try cli(["plugin", "install", "\(base):huge"], store: store), contains: ["declares 209715200 bytes; at most 134217728"])
        assertOneLineError(try cli(["plugin", "install", "\(base):short"], store: store), contains: ["sent more than the 5 bytes"])
        assertOneLineError(try cli(["plugin", "install", "\(base):long"], store: store), contains: ["sent 13 bytes, the registry lists 20"])
        assertOneLineError(try cli(["plugin", "install", "\(base):two"], store: store), contains: ["has 2 layers"])
        XCTAssertTrue(try cli(["plugin", "list"], store: store).stdout.hasPrefix("no plugins installed"))
    }

    // MARK: No registry needed

    func testReferenceGrammar() throws {
        let r = try OCIReference.parse("ghcr.io:443/org/eunomia__plugins/open-snoop.x:v1.2_3")
        XCTAssertEqual(r, OCIReference(host: "ghcr.io", port: 443, repository: "org/eunomia__plugins/open-snoop.x", tag: "v1.2_3", digest: nil))
        let d = "sha256:" + String(repeating: "ab", count: 32)
        XCTAssertEqual(try OCIReference.parse("localhost/a---b@\(d)").digest, d)
        XCTAssertEqual(try OCIReference.parse("[::1]:5000/a:b").authority, "[::1]:5000")
        XCTAssertEqual(try OCIReference.parse("h/a:t@\(d)").manifestReference, d)

        let bad: [(String, String)] = [
            ("host-only", "expected oci://HOST"),
            ("-host/a:b", "host '-host'"),
            ("host:0/a:b", "port '0'"),
            ("host:99999/a:b", "port '99999'"),
            ("host:x/a:b", "port 'x'"),
            ("host/a", "give a tag"),
            ("host/:b", "no repository"),
            ("host/a//b:c", "repository component ''"),
            ("host/a._b:c", "repository component 'a._b'"),
            ("host/a___b:c", "repository component 'a___b'"),
            ("host/a-:c", "repository component 'a-'"),
            ("host/UP:c", "repository component 'UP'"),
            ("host/a:.t", "tag '.t'"),
            ("host/a:" + String(repeating: "t", count: 129), "is not [A-Za-z0-9_]"),
            ("host/a@sha256:ABC", "digest 'sha256:ABC'"),
            ("host/a@md5:" + String(repeating: "0", count: 32), "digest"),
            ("host/a\u{1b}[31m:t", "repository component"),
        ]
        for (text, expected) in bad {
            XCTAssertThrowsError(try OCIReference.parse(text), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(expected), "\(text): \(message)")
                XCTAssertFalse(message.contains("\n") || message.contains("\u{1b}"), message)
            }
        }
    }

    func testChallengesAndAuthFiles() throws {
        let c = try XCTUnwrap(OCIChallenge.parse(#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#))
        XCTAssertEqual(c.scheme, "bearer")
        XCTAssertEqual(c.parameters, ["realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"])
        XCTAssertEqual(OCIChallenge.parse(#"Basic realm="eunomia-test""#)?.scheme, "basic")
        XCTAssertNil(OCIChallenge.parse(#"Bearer realm="unterminated"#))

        let file = dir.appendingPathComponent("auth.json")
        let auth = Data("user:pa:ss".utf8).base64EncodedString()
        try JSONSerialization.data(withJSONObject: ["auths": ["https://Registry.example:5000/v1/": ["auth": auth], "other": ["auth": "!!"]]]).write(to: file)
        let found = try XCTUnwrap(try OCICredentials.lookup(authority: "registry.example:5000", authFile: file.path))
        XCTAssertEqual(found.user, "user")
        XCTAssertEqual(found.password, "pa:ss")
        XCTAssertFalse("\(found)".contains("pa:ss"))
        XCTAssertNil(try OCICredentials.lookup(authority: "elsewhere", authFile: file.path))
        XCTAssertThrowsError(try OCICredentials.lookup(authority: "other", authFile: file.path)) { error in
            XCTAssertTrue("\(error)".contains("is not base64 of USER:PASSWORD"), "\(error)")
        }
        XCTAssertThrowsError(try OCICredentials.lookup(authority: "x", authFile: dir.appendingPathComponent("none.json").path)) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertEqual(OCICredentials.defaultFiles(environment: ["XDG_RUNTIME_DIR": "/run/user/1", "HOME": "/home/u"]),
                       ["/run/user/1/containers/auth.json", "/home/u/.docker/config.json"])
    }

    func testELFMachines() {
        func header(_ machine: UInt16, bigEndian: Bool = false) -> [UInt8] {
            var h: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, bigEndian ? 2 : 1] + [UInt8](repeating: 0, count: 14)
            h[18] = bigEndian ? UInt8(machine >> 8) : UInt8(machine & 0xff)
            h[19] = bigEndian ? UInt8(machine & 0xff) : UInt8(machine >> 8)
            return h
        }
        XCTAssertEqual(ELFMachine.architecture(ofELF: header(62)), "amd64")
        XCTAssertEqual(ELFMachine.architecture(ofELF: header(183)), "arm64")
        XCTAssertEqual(ELFMachine.architecture(ofELF: header(22, bigEndian: true)), "s390x")
        XCTAssertNil(ELFMachine.architecture(ofELF: header(9999)))
        XCTAssertNil(ELFMachine.architecture(ofELF: Array("#!/bin/sh\n".utf8)))
    }
}
