import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The CPU a package's library was built for, named as OCI platforms (and Go) name it:
/// what `plugin push` puts in an image index, read from the library's ELF header.
extension PackageArchive {
    /// Reads and checks `package` (PackageArchive.read), then its library's e_machine.
    public static func architecture(of package: URL) throws -> String {
        let contents = try read(package)
        guard let library = contents.files.first(where: { $0.0.path == contents.manifest.library })?.1 else {
            throw EunomiaError("\(package.lastPathComponent): the manifest's library \(contents.manifest.library.quotedForError) is missing")
        }
        guard let arch = ELFMachine.architecture(ofELF: [UInt8](library.prefix(20))) else {
            throw EunomiaError("\(package.lastPathComponent): \(contents.manifest.library.quotedForError) is not an ELF file for a CPU eunomia knows")
        }
        return arch
    }
}

/// ELF e_machine values and the architecture names OCI gives them.
public enum ELFMachine {
    static let names: [UInt16: String] = [
        62: "amd64",    // EM_X86_64
        183: "arm64",   // EM_AARCH64
        3: "386",       // EM_386
        40: "arm",      // EM_ARM
        243: "riscv64", // EM_RISCV
        21: "ppc64le",  // EM_PPC64
        22: "s390x",    // EM_S390
    ]

    /// From the first 20 bytes of an ELF file: the magic, EI_DATA (byte 5) for the byte
    /// order, e_machine at offset 18. nil when it is not ELF or names another CPU.
    public static func architecture(ofELF header: [UInt8]) -> String? {
        guard header.count >= 20, header[0] == 0x7f, header[1] == 0x45, header[2] == 0x4c, header[3] == 0x46 else { return nil }
        let machine: UInt16
        switch header[5] {
        case 1: machine = UInt16(header[18]) | UInt16(header[19]) << 8
        case 2: machine = UInt16(header[18]) << 8 | UInt16(header[19])
        default: return nil
        }
        return names[machine]
    }

    /// This host's CPU in the same names (uname's machine: x86_64, aarch64, ...).
    public static var host: String {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch machine {
        case "x86_64": return "amd64"
        case "aarch64", "arm64": return "arm64"
        case "i386", "i686": return "386"
        case "riscv64": return "riscv64"
        case "ppc64le": return "ppc64le"
        case "s390x": return "s390x"
        default: return machine.hasPrefix("arm") ? "arm" : machine
        }
    }
}
