import EunomiaSchema
import Foundation

/// The two shapes a recorded profile is written in.
public enum SeccompFormat: String, CaseIterable, Sendable {
    /// The OCI runtime spec's `linux.seccomp` object (runc, crun, containerd, CRI-O, Kubernetes'
    /// localhost profiles): `architectures` is a flat list.
    case oci
    /// Docker's `--security-opt seccomp=FILE`: the architectures as an `archMap` of a native
    /// architecture and the ones its kernel also runs (subArchitectures).
    case docker
}

/// The libseccomp architectures of a machine: its own and those its kernel also runs
/// (x86_64: i386 and x32 binaries; aarch64: 32-bit ARM). A profile must name all of them, or a
/// 32-bit binary's syscalls would pass by the filter's architecture check unmatched.
public struct SeccompArchitecture: Equatable, Sendable {
    public let native: String
    public let sub: [String]

    public init(native: String, sub: [String]) {
        self.native = native
        self.sub = sub
    }

    /// From uname's machine name; nil for a machine the recorder has no syscall names for.
    public init?(machine: String) {
        switch machine {
        case "x86_64": self.init(native: "SCMP_ARCH_X86_64", sub: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        case "aarch64", "arm64": self.init(native: "SCMP_ARCH_AARCH64", sub: ["SCMP_ARCH_ARM"])
        default: return nil
        }
    }

    /// This machine's, or an error naming it.
    public static func current() throws -> SeccompArchitecture {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let arch = SeccompArchitecture(machine: machine) else {
            throw EunomiaError("seccomp profiles can be recorded on x86_64 and aarch64 only, not on \(machine)")
        }
        return arch
    }
}

/// An allow-list profile: every recorded syscall allowed, everything else refused with EPERM
/// (SCMP_ACT_ERRNO's default errno in runc, crun and Docker).
public struct SeccompProfile: Equatable, Sendable {
    public let architecture: SeccompArchitecture
    /// Sorted, without duplicates.
    public let names: [String]

    public init(architecture: SeccompArchitecture, names: some Sequence<String>) {
        self.architecture = architecture
        self.names = Set(names).sorted()
    }

    /// A syscall name as libseccomp knows it: lower-case letters, digits and underscores. What
    /// is not one (a placeholder for an unknown number, anything a plugin made up) never
    /// reaches a profile.
    public static func isSyscallName(_ s: String) -> Bool {
        guard let first = s.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), s.utf8.count <= 64 else {
            return false
        }
        return s.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") }
    }

    /// The profile as JSON: keys sorted, pretty printed, a final newline.
    public func json(_ format: SeccompFormat) throws -> Data {
        let rule: [String: Any] = ["names": names, "action": "SCMP_ACT_ALLOW"]
        var object: [String: Any] = ["defaultAction": "SCMP_ACT_ERRNO", "syscalls": names.isEmpty ? [] : [rule]]
        switch format {
        case .oci:
            object["architectures"] = [architecture.native] + architecture.sub
        case .docker:
            object["archMap"] = [["architecture": architecture.native, "subArchitectures": architecture.sub]]
        }
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(UInt8(ascii: "\n"))
        return data
    }
}
