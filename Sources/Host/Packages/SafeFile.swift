import Crypto
import EunomiaSchema
import Foundation

/// Reading files that an attacker may have put in place: only regular files, opened without
/// following a final symlink and without blocking on a FIFO, never read past a cap.
package enum SafeFile {
    /// Opens path read-only and returns the descriptor of a regular file, or throws one line
    /// (starting with what is wrong: "is a directory", "no such file").
    static func openRegular(_ path: String) throws -> (fd: Int32, size: Int64, stat: stat) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ELOOP: throw EunomiaError("is a symbolic link (give the file itself)")
            case ENOENT: throw EunomiaError("no such file")
            case EACCES, EPERM: throw EunomiaError("permission denied")
            default: throw EunomiaError("cannot open: \(String(cString: strerror(errno)))")
            }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw EunomiaError("cannot stat: \(reason)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw EunomiaError("is \(kind(st.st_mode)), not a regular file")
        }
        // Regular files never block; clear O_NONBLOCK so reads behave as usual.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int64(st.st_size), st)
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// The whole content of a regular file of at most maxBytes.
    package static func read(_ path: String, maxBytes: Int) throws -> Data {
        let (fd, size, _) = try openRegular(path)
        defer { close(fd) }
        guard size <= Int64(maxBytes) else {
            throw EunomiaError("is \(size) bytes, more than the \(maxBytes >> 10) KiB allowed")
        }
        return try read(fd: fd, maxBytes: maxBytes)
    }

    /// Hands every chunk read from fd to body, until end of file.
    static func readChunks(fd: Int32, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, chunk) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EunomiaError("read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Reads to end of file, failing past maxBytes (a file that grows while read).
    static func read(fd: Int32, maxBytes: Int) throws -> Data {
        var data = Data()
        try readChunks(fd: fd) { chunk in
            guard data.count + chunk.count <= maxBytes else { throw EunomiaError("is more than the \(maxBytes >> 10) KiB allowed") }
            data.append(contentsOf: chunk)
        }
        return data
    }

    /// SHA-256 (lower-case hex) and length of everything read from fd.
    static func sha256(fd: Int32) throws -> (digest: String, size: Int64) {
        var hasher = SHA256()
        var size: Int64 = 0
        try readChunks(fd: fd) { chunk in
            hasher.update(bufferPointer: chunk)
            size += Int64(chunk.count)
        }
        return (PackageArchive.hex(hasher.finalize()), size)
    }

    /// Creates path (which must not exist) read-only with exactly data in it.
    static func writeNew(_ path: String, _ data: Data, mode: mode_t = 0o444) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw EunomiaError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { try writeAll(fd, $0, path: path) }
        // The umask may have narrowed the mode; make it exactly what was asked.
        _ = fchmod(fd, mode)
    }

    /// Writes every byte of raw to fd (short writes and EINTR retried); `path` names it in errors.
    package static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer, path: String) throws {
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let n = write(fd, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw EunomiaError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Creates path (which must not exist) mode 0600 with exactly data in it: a private copy.
    package static func writePrivate(_ path: String, _ data: Data) throws {
        try writeNew(path, data, mode: 0o600)
    }
}
