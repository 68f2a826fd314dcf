/// What the container runtime itself still does after it loaded the profile: runc installs the
/// filter in its init process (a Go program) shortly before it execve's the container's
/// command, so the profile must also allow what the init does after that moment, whatever the
/// command does. `spoc record --base-syscalls` adds such a set too.
///
/// Found by experiment with runc 1.1.5 here (docs/seccomp.md#the-base-syscalls): strace of
/// the init thread from its PR_SET_SECCOMP to its execve, then each name taken out of a
/// working profile in turn: every name below made `runc run` fail when refused (futex and
/// rt_sigreturn only in some runs: they depend on Go's scheduling). Called but not needed
/// (runc copes with EPERM): epoll_ctl, faccessat2, fcntl, getpid.
public enum BaseSyscalls {
    /// Each name, why the runtime needs it once the filter is on, and whether only a process
    /// with noNewPrivileges false needs it: runc applies the filter before it drops
    /// privileges then (it needs CAP_SYS_ADMIN for it), so more of its set-up follows.
    public static let entries: [(name: String, why: String, onlyWithoutNoNewPrivileges: Bool)] = [
        ("close", "closes the log pipe and the exec fifo", false),
        ("execve", "replaces the init with the container's command", false),
        ("fstatfs", "checks that /proc/self/fd is on procfs before closing inherited descriptors", false),
        ("futex", "Go runtime: threads wake each other (some runs)", false),
        ("getdents64", "lists /proc/self/fd to close inherited descriptors", false),
        ("newfstatat", "stats /dev/null while setting up the user", true),
        ("openat", "opens the exec fifo and /proc/self/fd", false),
        ("rt_sigreturn", "Go runtime: returns from a preemption signal's handler (some runs)", false),
        ("write", "tells runc through the exec fifo that it is about to exec", false),
        ("capget", "reads its capabilities before dropping them", true),
        ("capset", "drops capabilities to the process's set", true),
        ("chdir", "changes to the process's cwd", true),
        ("fstat", "checks stdin/stdout/stderr while setting up the user", true),
        ("getcwd", "verifies that the working directory is inside the container", true),
        ("getppid", "checks that its parent is still there", true),
        ("prctl", "drops the capability bounding set, sets keep-caps", true),
        ("read", "reads /proc/self/status", true),
        ("setgid", "switches to the process's group", true),
        ("setgroups", "sets the supplementary groups", true),
        ("setuid", "switches to the process's user", true),
    ]

    public static var names: [String] { entries.map(\.name) }
}
