import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaPackages
@testable import EunomiaSchema

/// Package signatures and the trust store, on real packages, real key files and real stores:
/// who may install, what is refused, and what each refusal says.
final class SigningTests: XCTestCase {
    var dir: URL!
    var storeURL: URL { dir.appendingPathComponent("store") }
    var store: Store { Store(path: storeURL.path) }

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// opensnoop from make's build files, packed by the test: valid, and unsigned.
    func unsignedPackage(_ name: String = "plain.pkg", version: String? = nil) throws -> URL {
        var p = try HostilePackage.opensnoop()
        if let version { p.setIdentity("version", version) }
        return try p.write(to: dir.appendingPathComponent(name))
    }

    func key(_ name: String) throws -> SigningKey { try SigningKey.generate(name: name) }

    func trust(_ key: SigningKey, in store: Store? = nil) throws {
        XCTAssertEqual(try (store ?? self.store).trustStore.trust(key.publicKey), .trusted)
    }

    func cli(_ arguments: [String]) throws -> TestSupport.ProcessResult { try TestSupport.eunomia(arguments, store: storeURL) }

    func assertInstallRefused(_ pkg: URL, allowUnsigned: Bool = false, _ parts: String..., file: StaticString = #filePath, line: UInt = #line) {
        let before = TestSupport.snapshot(dir)
        XCTAssertThrowsError(try store.install(package: pkg, allowUnsigned: allowUnsigned), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertEqual(message.split(separator: "\n", omittingEmptySubsequences: false).count, 1, "not one line: \(message)", file: file, line: line)
            for p in parts { XCTAssertTrue(message.contains(p), "\(message)\n  does not contain: \(p)", file: file, line: line) }
        }
        XCTAssertEqual(TestSupport.snapshot(dir), before, "a refused package changed the store", file: file, line: line)
    }

    // MARK: Install

    func testUnsignedIsRefusedUnlessAllowedAndThenMarked() throws {
        let pkg = try unsignedPackage()
        var result = try cli(["plugin", "install", pkg.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "eunomia: error: plain.pkg: opensnoop 0.1.0 is not signed, and this store installs only packages signed by a key it trusts: sign it (eunomia plugin sign FILE.pkg --key NAME.key), trust the signer's public key (eunomia key trust FILE.pub), or install it unsigned with --allow-unsigned (HTTP API: ?allow_unsigned=true)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: storeURL.path), "a refused package created the store")

        result = try cli(["plugin", "install", "--allow-unsigned", pkg.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let plugin = try store.resolve("opensnoop")
        XCTAssertEqual(result.stdout, "installed opensnoop@0.1.0 (build \(plugin.buildID)) in \(plugin.directory.path), unsigned\n")
        XCTAssertEqual(result.stderr, "eunomia: warning: opensnoop@0.1.0 is installed unsigned: no key this store trusts signed it (--allow-unsigned)\n")
        XCTAssertEqual(plugin.provenance, .unsigned)
        XCTAssertNoThrow(try plugin.verifyFiles())
        // The host's record, read-only, beside the files.
        let record = plugin.directory.appendingPathComponent("provenance.json")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: record.path)[.posixPermissions] as? Int, 0o444)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: record)) as? [String: Any]
        XCTAssertEqual(json?["unsigned"] as? Bool, true)

        let list = try cli(["plugin", "list"])
        XCTAssertTrue(list.stdout.split(separator: "\n")[0].contains("SIGNED BY"), list.stdout)
        XCTAssertTrue(list.stdout.split(separator: "\n")[1].contains("  unsigned  "), list.stdout)
        let info = try cli(["plugin", "info", "opensnoop"])
        XCTAssertTrue(info.stdout.contains("\n  unsigned: installed with --allow-unsigned, no trusted key signed it\n"), info.stdout)
    }

    func testASignatureByAnUntrustedKeyIsRefusedNamingTheKey() throws {
        let pkg = try unsignedPackage()
        let alice = try key("alice")
        try PackageArchive.sign(pkg, with: alice)
        try trust(try key("bob"))
        assertInstallRefused(pkg, "plain.pkg: opensnoop 0.1.0 is signed only by key \(alice.publicKey.keyID), which this store does not trust: trust the signer's public key (eunomia key trust FILE.pub), or install it unsigned with --allow-unsigned")
        // --allow-unsigned takes it, as unsigned: alice vouches for nothing here.
        XCTAssertEqual(try store.install(package: pkg, allowUnsigned: true).0.provenance, .unsigned)
    }

    func testSignedAndTrustedInstallsAndIsListedWithItsKey() throws {
        let pkg = try unsignedPackage()
        let keys = dir.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        var result = try cli(["key", "generate", "release", "--output", keys.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let privatePath = keys.appendingPathComponent("release.key").path, publicPath = keys.appendingPathComponent("release.pub").path
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: privatePath)[.posixPermissions] as? Int, 0o600)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: publicPath)[.posixPermissions] as? Int, 0o644)
        let release = try KeyFiles.readPublic(publicPath)
        let id = release.keyID
        XCTAssertEqual(id, String(release.key.fingerprint.prefix(16)))
        XCTAssertEqual(release.key.fingerprint, PackageArchive.sha256Hex(release.key.raw))
        XCTAssertTrue(result.stdout.hasPrefix("generated key release (\(id))\n"), result.stdout)
        // A second generate never overwrites a key.
        result = try cli(["key", "generate", "release", "--output", keys.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "eunomia: error: \(privatePath) exists already; refusing to overwrite a key (choose another name or --output directory)\n")

        let manifestBefore = try XCTUnwrap(try PackageEntries.entry("manifest.json", in: pkg))
        result = try cli(["plugin", "sign", pkg.path, "--key", privatePath])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "signed \(pkg.path) (opensnoop 0.1.0) with key release (\(id))\n")
        XCTAssertEqual(try PackageEntries.entry("manifest.json", in: pkg), manifestBefore, "signing changed manifest.json")
        XCTAssertNotNil(try PackageEntries.entry("signatures.json", in: pkg))

        result = try cli(["plugin", "install", pkg.path])
        XCTAssertEqual(result.status, 1, "installed before the key was trusted")
        result = try cli(["key", "trust", publicPath])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "trusted release (\(id)), fingerprint \(release.key.fingerprint), in \(storeURL.path)/trusted-keys\n")
        XCTAssertEqual(try cli(["key", "trust", publicPath]).stdout, "already trusted: release (\(id))\n")

        result = try cli(["plugin", "install", pkg.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        let plugin = try store.resolve("opensnoop")
        XCTAssertEqual(plugin.buildID, String(PackageArchive.sha256Hex(manifestBefore).prefix(12)), "the build id is the unsigned package's")
        XCTAssertEqual(result.stdout, "installed opensnoop@0.1.0 (build \(plugin.buildID)) in \(plugin.directory.path), signed by \(id) (release)\n")
        guard case .signed(let vouchers) = plugin.provenance else { return XCTFail("\(plugin.provenance)") }
        XCTAssertEqual(vouchers.map(\.key), [release])
        XCTAssertNoThrow(try plugin.verifyFiles())

        XCTAssertTrue(try cli(["plugin", "list"]).stdout.contains("  \(id) (release)  "))
        XCTAssertTrue(try cli(["plugin", "info", "opensnoop"]).stdout.contains("\n  signed by release (\(id)), fingerprint \(release.key.fingerprint)\n"))
        let keyList = try cli(["key", "list"]).stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(keyList.count, 2, keyList.joined(separator: "\n"))
        XCTAssertEqual(keyList.last?.split(separator: " ", omittingEmptySubsequences: true), [Substring(id), "release", Substring(release.key.fingerprint), "yes", "1"])
    }

    func testAValidSignatureDoesNotCoverAChangedFile() throws {
        let pkg = try unsignedPackage()
        let release = try key("release")
        try PackageArchive.sign(pkg, with: release)
        try trust(release)

        var entries = try PackageEntries.read(pkg)
        let so = try XCTUnwrap(entries.firstIndex { $0.0 == "opensnoop.so" })
        entries[so].1[entries[so].1.count / 2] ^= 0xff
        let changedFile = dir.appendingPathComponent("changed-file.pkg")
        try PackageEntries.write(entries, to: changedFile)
        assertInstallRefused(changedFile, "changed-file.pkg: opensnoop.so: SHA-256 mismatch (package is corrupt or was tampered with)")

        // The manifest changed under its signature (here the description, which no file hash covers).
        entries = try PackageEntries.read(pkg)
        let m = try XCTUnwrap(entries.firstIndex { $0.0 == "manifest.json" })
        var manifest = try PackageManifest.decode(entries[m].1)
        manifest.description = "something else"
        entries[m].1 = manifest.encoded()
        let changedManifest = dir.appendingPathComponent("changed-manifest.pkg")
        try PackageEntries.write(entries, to: changedManifest)
        let refusal = "changed-manifest.pkg: the signature by trusted key release (\(release.publicKey.keyID)) does not verify: manifest.json was changed after signing, or the signature is corrupt"
        assertInstallRefused(changedManifest, refusal)
        // Not merely unsigned: --allow-unsigned does not take a package that fails a trusted key.
        assertInstallRefused(changedManifest, allowUnsigned: true, refusal)
        XCTAssertNoThrow(try store.install(package: pkg))
    }

    func testUntrustThenInstallIsRefusedAndTheBuildStopsLoading() throws {
        let pkg = try unsignedPackage()
        let release = try key("release")
        try PackageArchive.sign(pkg, with: release)
        try trust(release)
        let (plugin, _) = try store.install(package: pkg)
        XCTAssertNoThrow(try plugin.verifyFiles())
        let id = release.publicKey.keyID

        var result = try cli(["key", "untrust", id])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "untrusted release (\(id))\nno longer loads (no other trusted key signed it): opensnoop@0.1.0 (build \(plugin.buildID))\n")
        assertInstallRefused(pkg, "is signed only by key \(id), which this store does not trust")

        let refusal = "opensnoop@0.1.0 (build \(plugin.buildID)): signed only by release (\(id)), which this store no longer trusts; refusing to load it (trust the key again with: eunomia key trust FILE.pub, or remove the build and install the package again, with --allow-unsigned if no trusted key signs it)"
        XCTAssertThrowsError(try store.resolve("opensnoop").verifyFiles()) { XCTAssertEqual("\($0)", refusal) }
        result = try cli(["run", "opensnoop", "--duration", "1"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "eunomia: error: \(refusal)\n")
        let keyList = try cli(["key", "list"]).stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(keyList.last?.split(separator: " ", omittingEmptySubsequences: true).suffix(2), ["no", "1"], keyList.joined(separator: "\n"))
        result = try cli(["key", "untrust", id])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "eunomia: error: key \(id) is not trusted in \(storeURL.path)/trusted-keys (trusted: none)\n")

        try trust(release)
        XCTAssertNoThrow(try store.resolve("opensnoop").verifyFiles())
    }

    func testSeveralSignaturesCoexist() throws {
        let pkg = try unsignedPackage()
        let manifest = try XCTUnwrap(try PackageEntries.entry("manifest.json", in: pkg))
        let alice = try key("alice"), bob = try key("bob")
        XCTAssertFalse(try PackageArchive.sign(pkg, with: alice).replaced)
        XCTAssertEqual(try PackageArchive.sign(pkg, with: bob).keys, [alice.publicKey.key, bob.publicKey.key])
        let firstAlice = try PackageArchive.read(pkg).signatures.signatures[0]
        let again = try PackageArchive.sign(pkg, with: alice)
        XCTAssertTrue(again.replaced)
        XCTAssertEqual(again.keys, [alice.publicKey.key, bob.publicKey.key])
        XCTAssertEqual(try PackageArchive.read(pkg).signatures.signatures[0].key, firstAlice.key)
        XCTAssertEqual(try PackageEntries.entry("manifest.json", in: pkg), manifest)

        // A store that trusts one of them takes it, vouched for by that one.
        try trust(bob)
        guard case .signed(let vouchers) = try store.install(package: pkg).0.provenance else { return XCTFail() }
        XCTAssertEqual(vouchers.map(\.key.name), ["bob"])
        // One that trusts both records both.
        let both = Store(path: dir.appendingPathComponent("both").path)
        try trust(alice, in: both)
        try trust(bob, in: both)
        XCTAssertEqual(try both.install(package: pkg).0.provenance.summary,
                       "\(alice.publicKey.keyID) (alice), \(bob.publicKey.keyID) (bob)")

        // Installed unsigned first, then again once a signer is trusted: the same build, now signed.
        let later = Store(path: dir.appendingPathComponent("later").path)
        XCTAssertEqual(try later.install(package: pkg, allowUnsigned: true).0.provenance, .unsigned)
        try trust(alice, in: later)
        let (upgraded, outcome) = try later.install(package: pkg)
        XCTAssertEqual(outcome, .alreadyInstalled)
        XCTAssertEqual(upgraded.provenance.summary, "\(alice.publicKey.keyID) (alice)")
        XCTAssertEqual(try later.resolve("opensnoop"), upgraded)
        // And installing it unsigned again (alice untrusted meanwhile) takes nothing away.
        _ = try later.trustStore.untrust(alice.publicKey.keyID)
        XCTAssertEqual(try later.install(package: pkg, allowUnsigned: true).0.provenance, upgraded.provenance)
    }

    // MARK: Hostile input

    func testHostileKeyFilesAreOneLineAndTrustNothing() throws {
        let good = try key("good")
        let pub = String(decoding: KeyFiles.encodePublic(good.publicKey), as: UTF8.self)
        let b64 = good.publicKey.key.raw.base64EncodedString()
        let id = good.publicKey.keyID
        func document(_ edit: (inout [String: Any]) -> Void) -> String {
            var d = try! JSONSerialization.jsonObject(with: Data(pub.utf8)) as! [String: Any]
            edit(&d)
            return String(decoding: try! JSONSerialization.data(withJSONObject: d, options: [.sortedKeys]), as: UTF8.self)
        }
        let cases: [(String, String, String)] = [
            ("text.pub", "not a key", "text.pub: not an eunomia key file: "),
            ("empty.pub", "{}", "empty.pub: not an eunomia key file: missing key 'eunomia_key'"),
            ("format.pub", document { $0["eunomia_key"] = 2 }, "format.pub: key file format 2 is not supported (this host reads format 1)"),
            ("huge-number.pub", #"{"eunomia_key": 1e400, "type": "ed25519-public", "name": "x", "key_id": "x", "public_key": "x"}"#, "huge-number.pub: not an eunomia key file"),
            ("type.pub", document { $0["type"] = "rsa" }, "type.pub: type 'rsa' is not ed25519-public or ed25519-private"),
            ("name.pub", document { $0["name"] = "evil\u{1b}[31m" }, "name.pub: name 'evil\\u{1b}[31m' must be 1-64 characters"),
            ("bidi.pub", document { $0["name"] = "a\u{202e}b" }, "bidi.pub: name 'a\\u{202e}b' must be"),
            ("base64.pub", document { $0["public_key"] = "!!!" }, "base64.pub: public_key '!!!' is not the base64 of a 32-byte Ed25519 public key"),
            ("short.pub", document { $0["public_key"] = Data(count: 31).base64EncodedString() }, "short.pub: public_key"),
            ("id.pub", document { $0["key_id"] = "0000000000000000" }, "id.pub: key_id '0000000000000000' does not match its public key (\(id)): the file was edited or is corrupt"),
            ("private-inside.pub", document { $0["private_key"] = b64 }, "private-inside.pub: a public key file holds a private_key"),
            ("nested.pub", String(repeating: "[", count: 4000), "nested.pub: not an eunomia key file"),
            ("big.pub", String(repeating: " ", count: 5000) + pub, "big.pub: is \(5000 + pub.utf8.count) bytes; a key file is at most 4 KiB"),
        ]
        for (name, content, expected) in cases {
            let file = dir.appendingPathComponent(name)
            try Data(content.utf8).write(to: file)
            let result = try cli(["key", "trust", file.path])
            XCTAssertEqual(result.status, 1, name)
            XCTAssertTrue(result.stderr.hasPrefix("eunomia: error: \(dir.path)/\(expected)"), "\(name): \(result.stderr)")
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "\(name): \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: storeURL.path), "a refused key created the store")

        // The wrong half, or a key not kept private, for each command.
        let keys = try KeyFiles.write(good, into: dir)
        var result = try cli(["key", "trust", keys.privatePath])
        XCTAssertEqual(result.stderr, "eunomia: error: \(keys.privatePath): is a private key; give its public half (good.pub, written beside it by eunomia key generate)\n")
        result = try cli(["plugin", "sign", try unsignedPackage().path, "--key", keys.publicPath])
        XCTAssertEqual(result.stderr, "eunomia: error: \(keys.publicPath): is a public key; signing needs the private key (NAME.key, written by eunomia key generate)\n")
        chmod(keys.privatePath, 0o644)
        result = try cli(["plugin", "sign", try unsignedPackage().path, "--key", keys.privatePath])
        XCTAssertEqual(result.stderr, "eunomia: error: \(keys.privatePath): a private key readable by group or others is refused (chmod 600 \(keys.privatePath))\n")
        let link = dir.appendingPathComponent("link.pub")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: keys.publicPath)
        XCTAssertEqual(try cli(["key", "trust", link.path]).stderr, "eunomia: error: \(link.path): is a symbolic link (give the file itself)\n")
        XCTAssertEqual(try cli(["key", "trust", dir.path]).stderr, "eunomia: error: \(dir.path): is a directory, not a regular file\n")
        XCTAssertEqual(try cli(["key", "untrust", "../../etc/passwd"]).stderr, "eunomia: error: '../../etc/passwd' is not a key id (16 hex digits, as eunomia key list shows)\n")
        XCTAssertEqual(try cli(["key", "generate", "../evil", "--output", dir.path]).stderr,
                       "eunomia: error: key name '../evil' must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit\n")

        // Damaged files in the trust store trust nothing and stop nothing else.
        try trust(good)
        let trusted = store.trustStore.directory
        try Data("junk".utf8).write(to: trusted.appendingPathComponent("0123456789abcdef.pub"))
        try Data("x".utf8).write(to: trusted.appendingPathComponent("README"))
        let other = try key("other")
        let otherFile = trusted.appendingPathComponent("\(other.publicKey.keyID).pub")
        try KeyFiles.encodePublic(other.publicKey).write(to: otherFile)
        chmod(otherFile.path, 0o666)
        let list = try cli(["key", "list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, list.stdout)
        XCTAssertTrue(lines[1].hasPrefix("\(id)  good  "), lines[1])
        XCTAssertTrue(lines.contains { $0.hasPrefix("damaged trusted-keys/0123456789abcdef.pub: not an eunomia key file: ") }, list.stdout)
        XCTAssertTrue(lines.contains("damaged trusted-keys/\(other.publicKey.keyID).pub: is writable by group or others (not trusted)"), list.stdout)
        XCTAssertTrue(lines.contains("damaged trusted-keys/README: not a trusted key file (KEYID.pub) (not trusted)"), list.stdout)
        let pkg = try unsignedPackage("other.pkg")
        try PackageArchive.sign(pkg, with: other)
        assertInstallRefused(pkg, "is signed only by key \(other.publicKey.keyID), which this store does not trust")
        XCTAssertEqual(try cli(["key", "untrust", "0123456789abcdef"]).stdout, "untrusted damaged trusted-keys/0123456789abcdef.pub\n")
    }

    func testHostileSignatureEntriesAreOneLine() throws {
        let release = try key("release")
        try trust(release)
        let base = try unsignedPackage()
        try PackageArchive.sign(base, with: release)
        let good = try XCTUnwrap(try PackageEntries.entry("signatures.json", in: base))
        let entry = try XCTUnwrap(((try JSONSerialization.jsonObject(with: good) as? [String: Any])?["signatures"] as? [[String: Any]])?.first)
        let id = release.publicKey.keyID
        func signatures(_ list: [[String: Any]], format: Int = 1) -> Data {
            try! JSONSerialization.data(withJSONObject: ["format": format, "signatures": list], options: [.sortedKeys])
        }
        func edited(_ edit: (inout [String: Any]) -> Void) -> Data {
            var e = entry
            edit(&e)
            return signatures([e])
        }
        let cases: [(String, Data, String)] = [
            ("garbage", Data("garbage".utf8), "signatures.json: top level: The given data was not valid JSON."),
            ("format", signatures([], format: 2), "signatures.json: format 2 is not supported (this host reads format 1)"),
            ("missing", Data(#"{"format": 1}"#.utf8), "signatures.json: missing key 'signatures'"),
            ("many", signatures(Array(repeating: entry, count: 17)), "signatures.json: holds 17 signatures, at most 16 are allowed"),
            ("twice", signatures([entry, entry]), "signatures.json: key \(id) signs twice"),
            ("key", edited { $0["public_key"] = "AAAA" }, "signatures.json: signatures[0].public_key 'AAAA' is not the base64 of a 32-byte Ed25519 public key"),
            ("id", edited { $0["key_id"] = "ffffffffffffffff" }, "signatures.json: signatures[0].key_id 'ffffffffffffffff' does not match its public key (\(id))"),
            ("control", edited { $0["key_id"] = "\u{1b}]0;pwned\u{7}" }, "signatures.json: signatures[0].key_id '\\u{1b}]0;pwned\\u{7}' does not match"),
            ("short", edited { $0["signature"] = Data(count: 63).base64EncodedString() }, "signatures.json: signatures[0] (key \(id)): signature is not the base64 of 64 bytes"),
            ("type", edited { $0["signature"] = 5 }, "signatures.json: signatures[0].signature"),
            ("forged", edited { $0["signature"] = Data(count: 64).base64EncodedString() },
             "the signature by trusted key release (\(id)) does not verify: manifest.json was changed after signing, or the signature is corrupt"),
            ("big", Data(repeating: UInt8(ascii: " "), count: 20 << 10), "entry 'signatures.json' inflates to more than 16 KiB"),
        ]
        for (name, content, expected) in cases {
            var entries = try PackageEntries.read(base)
            entries[entries.firstIndex { $0.0 == "signatures.json" }!].1 = content
            let pkg = dir.appendingPathComponent("\(name).pkg")
            try PackageEntries.write(entries, to: pkg)
            // Malformed signatures are refused even when unsigned packages are allowed.
            assertInstallRefused(pkg, allowUnsigned: true, "\(name).pkg: \(expected)")
        }

        // A package cannot list the host's record, nor its own signatures, as one of its files.
        for reserved in ["provenance.json", "signatures.json"] {
            var p = try HostilePackage.opensnoop()
            p.files.append((reserved, Data(#"{"format": 1, "unsigned": false, "signed_by": []}"#.utf8)))
            let pkg = try p.write(to: dir.appendingPathComponent("reserved-\(reserved).pkg"))
            assertInstallRefused(pkg, allowUnsigned: true,
                                 "reserved-\(reserved).pkg: manifest.json: file '\(reserved)' has a name the host reserves (provenance.json, signatures.json)")
        }
    }

    // MARK: The store

    /// What an install records cannot be skipped by putting a build into the store by hand.
    func testABuildCopiedIntoTheStoreIsNotTrustedBlindly() throws {
        let release = try key("release")
        let pkg = try unsignedPackage()
        try PackageArchive.sign(pkg, with: release)
        let elsewhere = Store(path: dir.appendingPathComponent("elsewhere").path)
        try trust(release, in: elsewhere)
        let (source, _) = try elsewhere.install(package: pkg)

        // Without its record: damaged, never loaded.
        let target = storeURL.appendingPathComponent("plugins/opensnoop/\(source.directory.lastPathComponent)")
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.directory, to: target)
        try FileManager.default.removeItem(at: target.appendingPathComponent("provenance.json"))
        XCTAssertEqual(store.damaged().map(\.reason), ["provenance.json: no such file, so nothing records who signed it (installed by an eunomia without signatures, or copied in by hand): install its package again"])
        let run = try cli(["run", "opensnoop", "--duration", "1"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.hasPrefix("eunomia: error: opensnoop is damaged in \(storeURL.path)"), run.stderr)

        // With it, signed by a key this store does not trust: listed, and refused at load.
        try FileManager.default.copyItem(at: source.directory.appendingPathComponent("provenance.json"), to: target.appendingPathComponent("provenance.json"))
        let copied = try store.resolve("opensnoop")
        XCTAssertThrowsError(try copied.verifyFiles()) { XCTAssertTrue("\($0)".contains("which this store no longer trusts; refusing to load it"), "\($0)") }

        // A record edited to vouch with a bogus signature, in a store that trusts the key.
        try trust(release)
        XCTAssertNoThrow(try store.resolve("opensnoop").verifyFiles())
        let record = target.appendingPathComponent("provenance.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: record)) as! [String: Any]
        var signedBy = json["signed_by"] as! [[String: Any]]
        signedBy[0]["signature"] = Data(count: 64).base64EncodedString()
        json["signed_by"] = signedBy
        chmod(record.path, 0o644)
        try JSONSerialization.data(withJSONObject: json).write(to: record)
        XCTAssertThrowsError(try store.resolve("opensnoop").verifyFiles()) {
            XCTAssertEqual("\($0)", "opensnoop@0.1.0 (build \(copied.buildID)): provenance.json: the signature by release (\(release.publicKey.keyID)) does not verify over manifest.json (changed since install); refusing to load it (trust the key again with: eunomia key trust FILE.pub, or remove the build and install the package again, with --allow-unsigned if no trusted key signs it)")
        }
        // Writable by others, the record could be changed between check and load.
        try FileManager.default.removeItem(at: record)
        try FileManager.default.copyItem(at: source.directory.appendingPathComponent("provenance.json"), to: record)
        chmod(record.path, 0o666)
        XCTAssertThrowsError(try store.resolve("opensnoop").verifyFiles()) {
            XCTAssertEqual("\($0)", "opensnoop@0.1.0 (build \(copied.buildID)): provenance.json is writable by group or others; refusing to load it (remove the build with: eunomia plugin remove opensnoop@0.1.0, then install the package again)")
        }
    }

    private func chmod(_ path: String, _ mode: mode_t) {
        XCTAssertEqual(Glibc.chmod(path, mode), 0, path)
    }
}
