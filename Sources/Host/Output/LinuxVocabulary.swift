import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

// Linux vocabularies the display hints name: open flags, signals, errnos, capabilities, system
// calls, IP addresses.

/// open(2) flags by name (Linux generic values, as on x86_64 and arm64).
package enum OpenFlags {
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

    /// The access mode a name stands for (O_RDONLY 0, O_WRONLY 1, O_RDWR 2): the low two bits
    /// hold a number, not flags.
    package static func accessMode(named name: String) -> UInt64? {
        switch name {
        case "O_RDONLY": return 0
        case "O_WRONLY": return 1
        case "O_RDWR": return 2
        default: return nil
        }
    }

    /// The bit of a flag name (O_CREAT 0o100), as the names above spell them.
    package static func bit(named name: String) -> UInt64? {
        names.first { $0.1.description == name }?.0
    }
}

package enum Signals {
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

    /// A signal's number by the name the output shows (SIGKILL 9, SIGRT3 35).
    package static func number(named name: String) -> Int64? {
        if let i = names.firstIndex(where: { $0.description == name }), i > 0 { return Int64(i) }
        if name.hasPrefix("SIGRT"), let n = Int64(name.dropFirst(5)), (0...32).contains(n), String(n) == String(name.dropFirst(5)) { return 32 + n }
        return nil
    }
}

/// Linux errno names (asm-generic), indexed by number; "" where a number has none.
package enum Errnos {
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

    /// An errno's number by name (ENOENT 2).
    package static func number(named name: String) -> Int64? {
        guard !name.isEmpty, let i = names.firstIndex(where: { $0.description == name }) else { return nil }
        return Int64(i)
    }
}

/// Capability numbers by name (linux/capability.h), CAP_CHOWN 0 to CAP_CHECKPOINT_RESTORE 40.
package enum Capabilities {
    static let names: [StaticString] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// The name of capability value, if it has one (numbers past the table show as numbers).
    static func name(of value: Int64) -> StaticString? {
        value >= 0 && value < names.count ? names[Int(value)] : nil
    }

    /// A capability's number by the name the output shows (CAP_SYS_ADMIN 21).
    package static func number(named name: String) -> Int64? {
        names.firstIndex { $0.description == name }.map { Int64($0) }
    }
}

/// System call names by number (SyscallNames, generated from Plugins/syscount's table) for
/// the architecture the host runs on, which is the one the traced kernel numbers by.
package enum Syscalls {
    static func name(of value: Int64) -> StaticString? {
        guard value >= 0, value < SyscallNames.names.count else { return nil }
        let name = SyscallNames.names[Int(value)]
        return name.utf8CodeUnitCount > 0 ? name : nil
    }

    /// A system call's number by name (openat 257 on x86_64, 56 on arm64).
    package static func number(named name: String) -> Int64? {
        guard !name.isEmpty else { return nil }
        return SyscallNames.names.firstIndex { $0.description == name }.map { Int64($0) }
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
