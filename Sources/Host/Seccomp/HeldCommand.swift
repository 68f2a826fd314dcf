import CHostSupport
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A command started held before its execve (held_spawn.c): recording attaches between
/// `spawn` and `release`, so the execve is the first syscall it sees of the command.
public final class HeldCommand {
    public let pid: Int32
    private var child: eh_held_child
    private var reaped: Int32?

    /// Resolves `command` as a shell does (a name with no slash through PATH) and checks that it
    /// is an executable file before anything starts: one line naming the command otherwise.
    public init(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let first = arguments.first, !first.isEmpty else {
            throw EunomiaError("no command after --: name the command to record, e.g. -- /bin/ls /")
        }
        let path = try HeldCommand.resolve(first, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        var child = eh_held_child(pid: -1, release_fd: -1, error_fd: -1)
        let env = environment.map { "\($0.key)=\($0.value)" }.sorted()
        let rc = HeldCommand.withCStrings(arguments) { argv in
            HeldCommand.withCStrings(env) { envp in eh_spawn_held(path, argv, envp, &child) }
        }
        guard rc == 0 else { throw EunomiaError("cannot start \(first.quotedForError): \(String(cString: strerror(-rc)))") }
        self.child = child
        pid = child.pid
    }

    deinit {
        // A command never released exits at once (its release pipe closes); reap it.
        eh_abandon_held(&child)
        if reaped == nil { _ = wait() }
    }

    /// Lets the command exec; throws (after reaping it) when execve failed.
    public func release(name: String) throws {
        let e = eh_release_held(&child)
        guard e == 0 else {
            _ = wait()
            throw EunomiaError("cannot execute \(name.quotedForError): \(String(cString: strerror(e)))")
        }
    }

    /// The exit status as a shell reports it (128 + signal for a killed command), once it has
    /// exited; nil while it runs.
    public func poll() -> Int32? {
        if let reaped { return reaped }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else {
            if r < 0 && errno == ECHILD { reaped = 127; return reaped }
            return nil
        }
        reaped = HeldCommand.shellStatus(status)
        return reaped
    }

    /// Waits for the command to exit and returns its status as poll does.
    @discardableResult
    public func wait() -> Int32 {
        while true {
            if let s = poll() { return s }
            var status: Int32 = 0
            let r = waitpid(pid, &status, 0)
            if r == pid { reaped = HeldCommand.shellStatus(status); return reaped! }
            if r < 0 && errno != EINTR { reaped = 127; return 127 }
        }
    }

    static func shellStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// The file execve will run: a path as it is, a bare name from the first PATH entry that
    /// has it as an executable regular file.
    static func resolve(_ command: String, path: String) throws -> String {
        func executable(_ p: String) -> Bool {
            var st = stat()
            return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(p, X_OK) == 0
        }
        if command.contains("/") {
            var st = stat()
            guard stat(command, &st) == 0 else {
                throw EunomiaError("cannot execute \(command.quotedForError): \(String(cString: strerror(errno)))")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw EunomiaError("cannot execute \(command.quotedForError): not a regular file") }
            guard access(command, X_OK) == 0 else { throw EunomiaError("cannot execute \(command.quotedForError): \(String(cString: strerror(errno)))") }
            return command
        }
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
            if executable(candidate) { return candidate }
        }
        throw EunomiaError("cannot execute \(command.quotedForError): command not found in PATH")
    }

    /// argv-style NULL-terminated C string arrays, alive for the call.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
