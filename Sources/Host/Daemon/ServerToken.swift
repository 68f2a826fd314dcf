import EunomiaHost
import Foundation

/// The bearer token of the TCP listener: 32 random bytes as 64 hex digits, in STORE/server.token
/// (mode 0600, created at first start with O_EXCL, never overwritten).
public enum ServerToken {
    public static let fileName = "server.token"

    /// Reads the token file, creating it (and the store directory) first if there is none.
    /// A file that is not a private regular file of ours is refused rather than trusted.
    public static func loadOrCreate(at path: String) throws -> [UInt8] {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            var rng = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            let line = Array((hex + "\n").utf8)
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let ok = written == line.count && fsync(fd) == 0
            close(fd)
            guard ok else {
                unlink(path)
                throw EunomiaError("cannot write \(path): \(String(cString: strerror(errno)))", kind: .failed)
            }
            return Array(hex.utf8)
        }
        guard errno == EEXIST else {
            throw EunomiaError("cannot create \(path): \(String(cString: strerror(errno)))", kind: .failed)
        }
        let rfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard rfd >= 0 else { throw EunomiaError("cannot read \(path): \(String(cString: strerror(errno)))", kind: .failed) }
        defer { close(rfd) }
        var st = stat()
        guard fstat(rfd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw EunomiaError("\(path) is not a regular file; remove it and start again to get a new token")
        }
        guard st.st_mode & 0o077 == 0, st.st_uid == geteuid() else {
            throw EunomiaError("\(path) is readable or writable by others, or not owned by this user; chmod 600 it (or remove it for a new token)")
        }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { Foundation.read(rfd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw EunomiaError("\(path) is empty; remove it and start again to get a new token") }
        let text = buffer[0..<n].filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard text.count >= 32, text.count <= 128, text.allSatisfy({ isHex($0) }) else {
            throw EunomiaError("\(path) does not hold a token (hex digits); remove it and start again to get a new one")
        }
        return Array(text)
    }

    /// Reads a token for a client (--token-file): the first line, trimmed.
    public static func read(clientFile path: String) throws -> String {
        let data: Data
        do {
            data = try SafeFile.read(path, maxBytes: 4096)
        } catch let e as EunomiaError {
            throw EunomiaError("token file \(path): \(e.message)")
        }
        let text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let token = text.trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.utf8.allSatisfy(isHex) else {
            throw EunomiaError("token file \(path) does not hold a token (hex digits)")
        }
        return token
    }

    static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }

    /// Compares in time that depends only on the lengths, never on where the first difference is.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0
    }
}
