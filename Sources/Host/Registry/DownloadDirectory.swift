import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A private directory (mkdtemp, mode 0700) that downloads land in before they are verified
/// and installed; removed with everything in it when the install is over.
public final class DownloadDirectory {
    public let url: URL

    public init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        var template = Array("\(base)/eunomia-download.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw EunomiaError("cannot create a download directory in \(base): \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: String(cString: p), isDirectory: true)
    }

    /// A path inside for a file whose name came from a registry: only its checked last part.
    public func file(named name: String) -> URL {
        url.appendingPathComponent(Validate.isPackageFileName(name) ? name : "package.pkg")
    }

    deinit {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) {
            for n in names { unlink(url.appendingPathComponent(n).path) }
        }
        rmdir(url.path)
    }
}
