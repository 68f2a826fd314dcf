import Foundation

/// JSON string escaping (RFC 8259) of raw bytes; invalid UTF-8 is replaced with U+FFFD so
/// every line stays valid JSON whatever a process put in its path or comm.
enum JSONText {
    /// Bytes that JSON strings carry as they are: printable ASCII except '"' and '\\'.
    @inline(__always) static func isPlain(_ b: UInt8) -> Bool { b >= 0x20 && b < 0x80 && b != 0x22 && b != 0x5C }

    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        out.append(UInt8(ascii: "\""))
        var i = 0
        let n = bytes.count
        while i < n {
            // Copy the longest run of plain bytes in one go: paths and names are mostly plain.
            var j = i
            while j < n && isPlain(bytes[j]) { j += 1 }
            if j > i {
                out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                i = j
                if i == n { break }
            }
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case 0x22: out.append(StaticString("\\\""))
                case 0x5C: out.append(StaticString("\\\\"))
                case 0x0A: out.append(StaticString("\\n"))
                case 0x09: out.append(StaticString("\\t"))
                case 0x0D: out.append(StaticString("\\r"))
                default:
                    out.append(StaticString("\\u00"))
                    out.appendRadix(UInt64(b), radix: 16, minDigits: 2)
                }
                i += 1
            } else {
                let len = UTF8Validation.sequenceLength(bytes, at: i)
                if len > 0 {
                    out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + len)]))
                    i += len
                } else {
                    out.append(StaticString("\u{FFFD}"))
                    i += 1
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendString(_ bytes: [UInt8], to out: OutputBuffer) {
        bytes.withUnsafeBytes { appendString($0, to: out) }
    }
}

enum UTF8Validation {
    /// Length of the valid multi-byte UTF-8 sequence starting at i, or 0.
    static func sequenceLength(_ s: UnsafeRawBufferPointer, at i: Int) -> Int {
        let b0 = s[i]
        let len: Int
        var lowest: UInt32
        switch b0 {
        case 0xC2...0xDF: len = 2; lowest = 0x80
        case 0xE0...0xEF: len = 3; lowest = 0x800
        case 0xF0...0xF4: len = 4; lowest = 0x10000
        default: return 0
        }
        guard i + len <= s.count else { return 0 }
        var cp = UInt32(b0) & (0xFF >> (len + 1))
        for j in 1..<len {
            let b = s[i + j]
            guard b & 0xC0 == 0x80 else { return 0 }
            cp = (cp << 6) | UInt32(b & 0x3F)
        }
        lowest = max(lowest, 0)
        guard cp >= lowest, cp <= 0x10FFFF, !(0xD800...0xDFFF).contains(cp) else { return 0 }
        return len
    }
}

/// Table cells: printable as is, control characters shown as '?', so a hostile file name
/// cannot move the cursor or fake a line.
enum TableText {
    static func append(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        let start = out.count
        out.append(bytes)
        sanitize(out, from: start)
    }

    static func sanitize(_ out: OutputBuffer, from start: Int) {
        for i in start..<out.count where out.storage[i] < 0x20 || out.storage[i] == 0x7F {
            out.storage[i] = UInt8(ascii: "?")
        }
    }
}

/// CSV cells (RFC 4180): quoted when they hold a comma, quote or line break.
enum CSVText {
    static func append(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) {
        let special = bytes.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
        guard special else {
            out.append(bytes)
            return
        }
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// open(2) flags by name (Linux generic values, as on x86_64 and arm64).
enum OpenFlags {
    static let names: [(UInt64, StaticString)] = [
        (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"), (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"), (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"), (0o20000000, "__O_TMPFILE"),
    ]

    static func append(_ flags: UInt64, to out: OutputBuffer) {
        switch flags & 3 {
        case 0: out.append(StaticString("O_RDONLY"))
        case 1: out.append(StaticString("O_WRONLY"))
        case 2: out.append(StaticString("O_RDWR"))
        default: out.append(StaticString("O_ACCMODE"))
        }
        var rest = flags & ~3
        guard rest != 0 else { return }
        for (bit, name) in names where rest & bit != 0 {
            out.append(UInt8(ascii: "|"))
            out.append(name)
            rest &= ~bit
        }
        if rest != 0 {
            out.append(StaticString("|0"))
            out.appendRadix(rest, radix: 8)
        }
    }
}

enum Signals {
    static let names: [StaticString] = [
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
        "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ]

    static func append(_ signal: Int64, to out: OutputBuffer) {
        if signal >= 0 && signal < names.count {
            out.append(names[Int(signal)])
        } else if signal >= 32 && signal <= 64 {
            out.append(StaticString("SIGRT"))
            out.appendDecimal(signal - 32)
        } else {
            out.appendDecimal(signal)
        }
    }
}

/// Linux errno names (asm-generic), indexed by number; "" where a number has none.
enum Errnos {
    static let names: [StaticString] = [
        "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD", "EAGAIN",
        "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR", "EINVAL",
        "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM",
        "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "", "ENOMSG", "EIDRM",
        "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR",
        "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", "", "EBFONT", "ENOSTR", "ENODATA", "ETIME", "ENOSR", "ENONET",
        "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM", "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG",
        "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD", "ELIBSCN", "ELIBMAX", "ELIBEXEC",
        "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE",
        "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT",
        "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET",
        "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN",
        "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL", "EISNAM", "EREMOTEIO",
        "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED",
        "EOWNERDEAD", "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
    ]

    /// The name of -value when value is a known negative errno (a syscall's failure).
    static func name(ofResult value: Int64) -> StaticString? {
        guard value < 0, value > -Int64(names.count), names[Int(-value)].utf8CodeUnitCount > 0 else { return nil }
        return names[Int(-value)]
    }
}

enum IPAddress {
    /// ::ffff:a.b.c.d
    static func isV4Mapped(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw.count == 16 && raw[10] == 0xFF && raw[11] == 0xFF && raw[0..<10].allSatisfy { $0 == 0 }
    }

    static func append(_ raw: UnsafeRawBufferPointer, to out: OutputBuffer) {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = raw.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) != nil else {
            out.append(StaticString("?"))
            return
        }
        text.withUnsafeBytes { out.append(UnsafeRawBufferPointer(rebasing: $0[..<strlen(text)])) }
    }
}
