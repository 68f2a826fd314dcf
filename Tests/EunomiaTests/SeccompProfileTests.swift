import Foundation
import XCTest
@testable import EunomiaSeccomp

/// The profile model without a kernel: both output shapes, architectures, and which strings
/// may become syscall names.
final class SeccompProfileTests: XCTestCase {
    func testOCIAndDockerShapes() throws {
        let arch = try XCTUnwrap(SeccompArchitecture(machine: "aarch64"))
        let profile = SeccompProfile(architecture: arch, names: ["write", "read", "write", "execve"])
        XCTAssertEqual(profile.names, ["execve", "read", "write"])
        let oci = try XCTUnwrap(JSONSerialization.jsonObject(with: profile.json(.oci)) as? [String: Any])
        XCTAssertEqual(oci["architectures"] as? [String], ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        XCTAssertEqual(oci["defaultAction"] as? String, "SCMP_ACT_ERRNO")
        let rules = try XCTUnwrap(oci["syscalls"] as? [[String: Any]])
        XCTAssertEqual(rules.first?["names"] as? [String], ["execve", "read", "write"])
        XCTAssertEqual(rules.first?["action"] as? String, "SCMP_ACT_ALLOW")
        let docker = try XCTUnwrap(JSONSerialization.jsonObject(with: profile.json(.docker)) as? [String: Any])
        XCTAssertNil(docker["architectures"])
        let map = try XCTUnwrap(docker["archMap"] as? [[String: Any]])
        XCTAssertEqual(map.first?["architecture"] as? String, "SCMP_ARCH_AARCH64")
        XCTAssertEqual(map.first?["subArchitectures"] as? [String], ["SCMP_ARCH_ARM"])
        // Sorted keys, pretty printed: the same recording makes the same file byte for byte.
        let text = String(decoding: try profile.json(.oci), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("{\n  \"architectures\""), text)
        XCTAssertTrue(text.hasSuffix("}\n"), text)
        XCTAssertEqual(SeccompArchitecture(machine: "x86_64")?.sub, ["SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        XCTAssertNil(SeccompArchitecture(machine: "riscv64"))
    }

    func testOnlyRealLookingNamesAreSyscallNames() {
        for good in ["read", "getdents64", "rt_sigreturn", "_llseek".dropFirst().description] {
            XCTAssertTrue(SeccompProfile.isSyscallName(good), good)
        }
        for bad in ["", "[unknown: 512]", "[32-bit: 11]", "Read", "1read", "read\n", "re ad", "ré", String(repeating: "a", count: 65)] {
            XCTAssertFalse(SeccompProfile.isSyscallName(bad), bad)
        }
    }
}
