import Foundation
import XCTest
@testable import EunomiaPackages
@testable import EunomiaRegistry
@testable import EunomiaSchema

/// `plugin push` and `plugin install oci://` against a real docker-registry on 127.0.0.1,
/// looked at with skopeo; stores are real stores, packages the bundled signed builds.
final class OCIRegistryTests: XCTestCase {
    var dir: URL!
    var registry: TestRegistry?
    var tokenServer: TokenServer?

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        registry?.stop()
        registry = nil
        tokenServer?.stop()
        tokenServer = nil
        try? FileManager.default.removeItem(at: dir)
    }

    func startRegistry(htpasswd: String? = nil, advertisedHost: String? = nil, token: TokenServer? = nil) throws -> TestRegistry {
        let r = try TestRegistry(in: dir.appendingPathComponent("registry-\(UUID().uuidString.prefix(6))"),
                                 htpasswd: htpasswd, advertisedHost: advertisedHost, token: token)
        registry = r
        return r
    }

    /// A store trusting the build key.
    func trustedStore(_ name: String) throws -> URL {
        let store = dir.appendingPathComponent(name)
        try TestSupport.trustBuildKey(in: store)
        return store
    }

    /// The CLI with no auth file of the user's or the machine's in sight.
    @discardableResult
    func cli(_ arguments: [String], store: URL) throws -> TestSupport.ProcessResult {
        try TestSupport.run(TestSupport.eunomiaBinary.path, arguments,
                            environment: ["EUNOMIA_HOME": store.path, "HOME": dir.path, "REGISTRY_AUTH_FILE": "", "XDG_RUNTIME_DIR": ""])
    }

    func assertOneLineError(_ r: TestSupport.ProcessResult, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected a failure: \(r.stdout)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line expected: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("eunomia: error: "), r.stderr, file: file, line: line)
        for p in parts { XCTAssertTrue(r.stderr.contains(p), "\(p.debugDescription) not in: \(r.stderr)", file: file, line: line) }
    }

    /// Pushes with the CLI and returns the manifest digest from its last line.
    func push(_ packages: [URL], to target: String, store: URL, extra: [String] = []) throws -> String {
        let r = try cli(["plugin", "push"] + packages.map(\.path) + [target] + extra, store: store)
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasPrefix("pushed \(target)@sha256:"), r.stdout)
        guard let at = last.range(of: "@sha256:") else { throw TestSupport.TestFailure("no digest in: \(r.stdout)") }
        return String(last[last.index(after: at.lowerBound)...])
    }

    func sha256(_ url: URL) throws -> String { "sha256:" + PackageArchive.sha256Hex(try Data(contentsOf: url)) }

    // MARK: Push, inspect, install

    func testPushThenInstallByTagAndByDigest() throws {
        let r = try startRegistry()
        let pkg = try TestSupport.opensnoopPackage()
        let summary = try PackageArchive.summary(of: pkg)
        let target = "oci://\(r.authority)/eunomia/opensnoop:\(summary.version)"
        let pushStore = dir.appendingPathComponent("push-store")
        // Again: every blob is there already (HEAD). With SOURCE_DATE_EPOCH the created
        // annotation is fixed, so the same package gives the same manifest digest.
        func pushAt(_ epoch: String) throws -> String {
            let r = try TestSupport.run(TestSupport.eunomiaBinary.path, ["plugin", "push", pkg.path, target],
                                        environment: ["EUNOMIA_HOME": pushStore.path, "HOME": dir.path, "SOURCE_DATE_EPOCH": epoch])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout
        }
        XCTAssertEqual(try pushAt("1700000000"), try pushAt("1700000000"))
        XCTAssertNotEqual(try pushAt("1700000000"), try pushAt("1700000001"))
        let digest = try push([pkg], to: target, store: pushStore)

        let raw = try r.skopeoRaw("eunomia/opensnoop:\(summary.version)")
        XCTAssertEqual(raw["schemaVersion"] as? Int, 2)
        XCTAssertEqual(raw["mediaType"] as? String, "application/vnd.oci.image.manifest.v1+json")
        XCTAssertEqual(raw["artifactType"] as? String, "application/vnd.eunomia.plugin.config.v1+json")
        let config = try XCTUnwrap(raw["config"] as? [String: Any])
        XCTAssertEqual(config["mediaType"] as? String, "application/vnd.eunomia.plugin.config.v1+json")
        let layers = try XCTUnwrap(raw["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, 1)
        XCTAssertEqual(layers[0]["mediaType"] as? String, "application/vnd.eunomia.plugin.layer.v1+zip")
        XCTAssertEqual(layers[0]["digest"] as? String, try sha256(pkg))
        XCTAssertEqual((layers[0]["size"] as? NSNumber)?.int64Value, summary.size)
        XCTAssertEqual((layers[0]["annotations"] as? [String: String])?["org.opencontainers.image.title"], "opensnoop-\(summary.version).pkg")
        let annotations = try XCTUnwrap(raw["annotations"] as? [String: String])
        XCTAssertEqual(annotations["org.opencontainers.image.version"], summary.version)
        XCTAssertEqual(annotations["org.opencontainers.image.description"], summary.description)
        XCTAssertNotNil(annotations["org.opencontainers.image.created"])

        // The config blob says what the package is.
        let configBlob = try Data(contentsOf: r.blobFile(try XCTUnwrap(config["digest"] as? String)))
        let described = try XCTUnwrap(try JSONSerialization.jsonObject(with: configBlob) as? [String: Any])
        XCTAssertEqual(described["name"] as? String, "opensnoop")
        XCTAssertEqual(described["sha256"] as? String, summary.sha256)
        XCTAssertEqual(described["signed_by"] as? [String], summary.signedBy)

        let byTag = try trustedStore("by-tag")
        let installed = try cli(["plugin", "install", target], store: byTag)
        XCTAssertEqual(installed.status, 0, installed.stderr)
        XCTAssertTrue(installed.stdout.hasPrefix("installed opensnoop@\(summary.version) (build "), installed.stdout)
        XCTAssertTrue(installed.stdout.contains("signed by"), installed.stdout)
        let list = try cli(["plugin", "list"], store: byTag)
        XCTAssertTrue(list.stdout.contains("opensnoop") && list.stdout.contains("(local-build)"), list.stdout)

        let byDigest = try trustedStore("by-digest")
        let viaDigest = try cli(["plugin", "install", "oci://\(r.authority)/eunomia/opensnoop@\(digest)"], store: byDigest)
        XCTAssertEqual(viaDigest.status, 0, viaDigest.stderr)
        XCTAssertTrue(viaDigest.stdout.contains("signed by"), viaDigest.stdout)

        // A digest the registry does not have is refused by the registry, in one line.
        let other = "sha256:" + String(repeating: "0", count: 64)
        assertOneLineError(try cli(["plugin", "install", "oci://\(r.authority)/eunomia/opensnoop@\(other)"], store: byDigest),
                           contains: ["has no manifest", other])
    }

    func testATamperedLayerIsRefusedAndTheStoreStaysEmpty() throws {
        let r = try startRegistry()
        let pkg = try TestSupport.opensnoopPackage()
        let target = "oci://\(r.authority)/eunomia/opensnoop:tampered"
        _ = try push([pkg], to: target, store: dir.appendingPathComponent("push-store"))
        let layerDigest = try sha256(pkg)
        let blob = r.blobFile(layerDigest)
        var bytes = try Data(contentsOf: blob)
        XCTAssertEqual(bytes.count, try Data(contentsOf: pkg).count)
        bytes[bytes.count / 2] ^= 0x5a  // same size, other bytes
        try bytes.write(to: blob)

        let store = try trustedStore("store")
        let before = TestSupport.snapshot(store)
        let refused = try cli(["plugin", "install", target], store: store)
        assertOneLineError(refused, contains: [String(layerDigest.prefix(19)), "differs", "tampered"])
        XCTAssertEqual(TestSupport.snapshot(store), before)
        XCTAssertTrue(try cli(["plugin", "list"], store: store).stdout.hasPrefix("no plugins installed"))
    }

    func testAnUnsignedPackageNeedsAllowUnsigned() throws {
        let r = try startRegistry()
        let unsigned = try HostilePackage.opensnoop().write(to: dir.appendingPathComponent("opensnoop-unsigned.pkg"))
        let target = "oci://\(r.authority)/eunomia/opensnoop:unsigned"
        _ = try push([unsigned], to: target, store: dir.appendingPathComponent("push-store"))

        let store = try trustedStore("store")
        assertOneLineError(try cli(["plugin", "install", target], store: store), contains: ["is not signed", "--allow-unsigned"])
        XCTAssertTrue(try cli(["plugin", "list"], store: store).stdout.hasPrefix("no plugins installed"))
        let allowed = try cli(["plugin", "install", "--allow-unsigned", target], store: store)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stdout.contains(", unsigned"), allowed.stdout)
    }

    // MARK: Authentication

    func testBasicAuthNeedsTheAuthFile() throws {
        let r = try startRegistry(htpasswd: try TestRegistry.htpasswdLine(user: "pusher", password: "s3cret-pw"))
        let pkg = try TestSupport.opensnoopPackage()
        let target = "oci://\(r.authority)/eunomia/opensnoop:auth"
        let store = try trustedStore("store")

        assertOneLineError(try cli(["plugin", "push", pkg.path, target], store: store),
                           contains: ["requires authentication", "--auth-file"])
        let wrong = dir.appendingPathComponent("wrong.json")
        try r.writeAuthFile(wrong, user: "pusher", password: "not-it")
        let refused = try cli(["plugin", "push", pkg.path, target, "--auth-file", wrong.path], store: store)
        assertOneLineError(refused, contains: ["refused the credentials"])
        XCTAssertFalse(refused.stderr.contains("not-it"), refused.stderr)

        let auth = dir.appendingPathComponent("auth.json")
        try r.writeAuthFile(auth, user: "pusher", password: "s3cret-pw")
        _ = try push([pkg], to: target, store: store, extra: ["--auth-file", auth.path])
        assertOneLineError(try cli(["plugin", "install", target], store: store), contains: ["requires authentication"])
        let installed = try cli(["plugin", "install", target, "--auth-file", auth.path], store: store)
        XCTAssertEqual(installed.status, 0, installed.stderr)
        XCTAssertFalse(installed.stdout.contains("s3cret") || installed.stderr.contains("s3cret"))
        // The same auth file through the environment, as podman and skopeo read it.
        let other = try trustedStore("other")
        let viaEnvironment = try TestSupport.run(TestSupport.eunomiaBinary.path, ["plugin", "install", target],
                                                 environment: ["EUNOMIA_HOME": other.path, "HOME": dir.path, "REGISTRY_AUTH_FILE": auth.path])
        XCTAssertEqual(viaEnvironment.status, 0, viaEnvironment.stderr)
    }

    func testBearerTokensFromTheRealm() throws {
        let token = try TokenServer(in: dir.appendingPathComponent("token"), credentials: "puller:t0ken-pw")
        tokenServer = token
        let r = try startRegistry(token: token)
        let pkg = try TestSupport.opensnoopPackage()
        let target = "oci://\(r.authority)/eunomia/opensnoop:bearer"
        let store = try trustedStore("store")

        assertOneLineError(try cli(["plugin", "push", pkg.path, target], store: store), contains: ["requires authentication"])
        let auth = dir.appendingPathComponent("auth.json")
        try r.writeAuthFile(auth, user: "puller", password: "t0ken-pw")
        // A pull token first (HEAD of a blob), then the push challenge's wider scope.
        _ = try push([pkg], to: target, store: store, extra: ["--auth-file", auth.path])
        let installed = try cli(["plugin", "install", target, "--auth-file", auth.path], store: store)
        XCTAssertEqual(installed.status, 0, installed.stderr)
        XCTAssertTrue(installed.stdout.contains("signed by"), installed.stdout)
    }

    // MARK: One-line refusals

    func testAManifestThatIsNotAPluginIsOneLine() async throws {
        let r = try startRegistry()
        let reference = try OCIReference.parse("\(r.authority)/other/image:v1")
        let client = OCIClient(reference: reference, transport: HTTPTransport(), credentials: nil)
        let config = Array("{}".utf8), layer = Array("not a package".utf8)
        try await client.pushBlob(config, digest: OCIDigest.of(config))
        try await client.pushBlob(layer, digest: OCIDigest.of(layer))
        let manifest = OCIImageManifest(
            schemaVersion: 2, mediaType: OCIMediaType.imageManifest, artifactType: nil,
            config: OCIDescriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: OCIDigest.of(config), size: Int64(config.count)),
            layers: [OCIDescriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: OCIDigest.of(layer), size: Int64(layer.count))])
        try await client.pushManifest(try OCIJSON.encode(manifest), mediaType: OCIMediaType.imageManifest, tag: "v1")

        let store = try trustedStore("store")
        assertOneLineError(try cli(["plugin", "install", "oci://\(r.authority)/other/image:v1"], store: store),
                           contains: ["is not a eunomia plugin", "application/vnd.oci.image.config.v1+json"])
        assertOneLineError(try cli(["plugin", "install", "oci://\(r.authority)/Other/image:v1"], store: store),
                           contains: ["repository component 'Other'"])
        assertOneLineError(try cli(["plugin", "install", "oci://\(r.authority)/other/image:-v1"], store: store),
                           contains: ["tag '-v1'"])
        assertOneLineError(try cli(["plugin", "install", "oci://\(r.authority)/other/image:missing"], store: store),
                           contains: ["has no manifest 'missing'"])
        XCTAssertTrue(try cli(["plugin", "list"], store: store).stdout.hasPrefix("no plugins installed"))
    }

    func testPlainHTTPToAnotherHostIsRefused() throws {
        // The registry hands out upload URLs on a host that is not loopback, over http.
        let r = try startRegistry(advertisedHost: "http://registry.invalid:5000")
        let pkg = try TestSupport.opensnoopPackage()
        let store = dir.appendingPathComponent("store")
        assertOneLineError(try cli(["plugin", "push", pkg.path, "oci://\(r.authority)/eunomia/opensnoop:http"], store: store),
                           contains: ["refusing plain http to 'registry.invalid'", "--insecure"])
        // Given directly, a host that is not loopback is spoken to over https; --insecure makes it http.
        let remote = try OCIReference.parse("registry.invalid:5000/eunomia/opensnoop:1")
        XCTAssertEqual(OCIClient(reference: remote, transport: HTTPTransport(), credentials: nil).base.scheme, "https")
        XCTAssertEqual(OCIClient(reference: remote, transport: HTTPTransport(insecure: true), credentials: nil).base.scheme, "http")
        XCTAssertThrowsError(try HTTPTransport().check(URL(string: "http://registry.invalid:5000/v2/")!)) { error in
            XCTAssertTrue("\(error)".contains("refusing plain http to 'registry.invalid'"), "\(error)")
        }
    }
}
