import EunomiaSchema
import Foundation

/// Where the profile goes: a file opened before recording starts (an unwritable path fails
/// before any command runs or any tracing is paid for) and written at the end, or stdout.
public final class ProfileOutput {
    private let fd: Int32
    private let path: String?
    /// This run made the file: it is removed again if no profile was written into it, so a
    /// failed recording leaves nothing behind.
    private let created: Bool
    private var written = false

    /// Opens FILE for writing (created 0644 if need be), not yet truncated: a recording that
    /// fails leaves an older profile there as it was. nil: stdout.
    public init(path: String?) throws {
        self.path = path
        guard let path else { fd = STDOUT_FILENO; created = false; return }
        guard !path.isEmpty else { throw EunomiaError("-o needs a file name") }
        var opened = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0o644)
        created = opened >= 0
        if opened < 0 && errno == EEXIST { opened = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY) }
        guard opened >= 0 else {
            throw EunomiaError("cannot write the profile to \(path.quotedForError): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(opened, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(opened)
            if created { unlink(path) }
            throw EunomiaError("cannot write the profile to \(path.quotedForError): not a regular file")
        }
        fd = opened
    }

    deinit {
        guard let path else { return }
        close(fd)
        if created && !written { unlink(path) }
    }

    /// Replaces the file's content with data (or writes it to stdout).
    public func write(_ data: Data) throws {
        let name = path?.quotedForError ?? "stdout"
        if path != nil && ftruncate(fd, 0) != 0 {
            throw EunomiaError("cannot write the profile to \(name): \(String(cString: strerror(errno)))")
        }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw EunomiaError("cannot write the profile to \(name): \(String(cString: strerror(errno)))") }
                done += n
            }
        }
        written = true
    }
}
