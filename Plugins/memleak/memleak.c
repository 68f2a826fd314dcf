/* memleak plugin: outstanding allocations by stack. With a pid, or a command it starts, it
 * attaches uprobes to the process's allocator (libc by default); otherwise it watches the
 * kernel's allocations through the kmem tracepoints. Reports list the stacks holding the
 * most outstanding bytes. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include <linux/types.h>

#include "memleak.h"

#define MAX_ARGS 64

struct state {
    int pid;         /* traced process; 0 in kernel mode */
    pid_t child;     /* the command memleak started; 0 if none */
    int release_fd;  /* the child execs the command when this pipe is written or closed */
    long long top;
    uint64_t older_ns;
    bool show_allocs;
    char object[256];
};

/* The allocator's functions: entry program, and the return program that records the result. */
static const struct {
    const char *symbol, *enter, *exit;
} probes[] = {
    { "malloc", "malloc_enter", "malloc_exit" },
    { "calloc", "calloc_enter", "calloc_exit" },
    { "realloc", "realloc_enter", "realloc_exit" },
    { "mmap", "mmap_enter", "mmap_exit" },
    { "posix_memalign", "posix_memalign_enter", "posix_memalign_exit" },
    { "aligned_alloc", "aligned_alloc_enter", "aligned_alloc_exit" },
    { "valloc", "valloc_enter", "valloc_exit" },
    { "memalign", "memalign_enter", "memalign_exit" },
    { "pvalloc", "pvalloc_enter", "pvalloc_exit" },
    { "free", "free_enter", NULL },
    { "munmap", "munmap_enter", NULL },
};

static void release_child(struct state *st)
{
    if (st->release_fd >= 0) {
        if (write(st->release_fd, "go", 2) < 0) {
            /* The child already gave up waiting; nothing to release. */
        }
        close(st->release_fd);
        st->release_fd = -1;
    }
}

static void free_state(void *p)
{
    struct state *st = p;
    if (st->child > 0) {
        /* The command lives only as long as its trace. A child still waiting sees the pipe
         * close and exits without running the command. */
        if (st->release_fd >= 0) {
            close(st->release_fd);
            st->release_fd = -1;
        } else {
            kill(st->child, SIGKILL);
        }
        waitpid(st->child, NULL, 0);
    }
    free(st);
}

/* Path of argv0 as execv needs it, found in the parent: the forked child may only make
 * async-signal-safe calls until it execs. */
static bool find_program(const char *argv0, char *path, size_t size)
{
    if (strchr(argv0, '/')) {
        snprintf(path, size, "%s", argv0);
        return access(path, X_OK) == 0;
    }
    const char *env = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", env ? env : "/usr/local/bin:/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(path, size, "%s/%s", dir, argv0);
        if (access(path, X_OK) == 0)
            return true;
    }
    return false;
}

/* Fork the command, held before exec until the probes are attached (libbpf-tools -c). */
static eunomia_status start_command(struct state *st, const char *command, char *err, size_t err_size)
{
    char *copy = strdup(command);
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (char *save = NULL, *arg = strtok_r(copy, " \t", &save); arg && argc < MAX_ARGS; arg = strtok_r(NULL, " \t", &save))
        argv[argc++] = arg;
    argv[argc] = NULL;
    char path[4096];
    if (argc == 0 || !find_program(argv[0], path, sizeof(path))) {
        snprintf(err, err_size, "command '%s': %s is not an executable file", command, argc ? argv[0] : "(empty)");
        free(copy);
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        free(copy);
        return EUNOMIA_ERR_INTERNAL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char go[2];
        close(fds[1]);
        if (read(fds[0], go, sizeof(go)) != sizeof(go))
            _exit(127);
        signal(SIGPIPE, SIG_DFL); /* the host ignores it; the command should not */
        execv(path, argv);
        _exit(127);
    }
    int fork_errno = errno;
    close(fds[0]);
    free(copy);
    if (pid < 0) {
        close(fds[1]);
        snprintf(err, err_size, "fork: %s", strerror(fork_errno));
        return EUNOMIA_ERR_INTERNAL;
    }
    st->child = pid;
    st->release_fd = fds[1];
    st->pid = pid;
    return EUNOMIA_OK;
}

/* Where an entry uprobe goes. glibc's free (x86-64) starts with `test %rdi,%rdi; jcc` (free(NULL)
 * returns at once). x86 uprobes emulate a jump but single-step a test out of line, and that
 * single step is slow under virtualization: 12.5 us against 0.9 us per free on the bench VM.
 * The jump sees the registers of the entry (test changes only flags), so a function starting
 * that way is probed on the jump; any other keeps the probe at the symbol. */
static uint64_t probe_offset(const char *path, uint64_t offset)
{
#if defined(__x86_64__)
    unsigned char code[5];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return offset;
    bool read_all = pread(fd, code, sizeof(code), (off_t)offset) == (ssize_t)sizeof(code);
    close(fd);
    if (!read_all)
        return offset;
    bool test_rdi = code[0] == 0x48 && code[1] == 0x85 && code[2] == 0xff;
    bool jcc = (code[3] >= 0x70 && code[3] <= 0x7f) || (code[3] == 0x0f && code[4] >= 0x80 && code[4] <= 0x8f);
    if (test_rdi && jcc)
        return offset + 3;
#else
    (void)path;
#endif
    return offset;
}

static eunomia_status attach(struct eunomia_bpf *bpf, char *err, size_t err_size)
{
    struct state *st = eunomia_bpf_user(bpf);
    if (!st->pid)
        return EUNOMIA_OK; /* kernel mode: the tracepoints are attached already */
    char path[4096];
    eunomia_status rc = eunomia_resolve_binary(st->object, st->pid, path, sizeof(path), err, err_size);
    if (rc != EUNOMIA_OK)
        return rc;
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        uint64_t offset;
        char why[256];
        /* Allocators differ (pvalloc left glibc's headers in 2.34): trace what exists. */
        if (eunomia_elf_symbol_offset(path, probes[i].symbol, &offset, why, sizeof(why)) != EUNOMIA_OK) {
            eunomia_bpf_log(bpf, EUNOMIA_LOG_INFO, "memleak: not tracing %s: %s", probes[i].symbol, why);
            continue;
        }
        /* The offset is resolved once here, not again per probe; entry probes may move past a
         * leading instruction the kernel would single-step (probe_offset). */
        rc = eunomia_bpf_attach_uprobe_offset(bpf, probes[i].enter, path, probe_offset(path, offset), false, st->pid,
                                              err, err_size);
        if (rc == EUNOMIA_OK && probes[i].exit)
            rc = eunomia_bpf_attach_uprobe_offset(bpf, probes[i].exit, path, offset, true, st->pid, err, err_size);
        if (rc != EUNOMIA_OK)
            return rc;
    }
    release_child(st);
    return EUNOMIA_OK;
}

struct outstanding {
    int64_t stack_id;
    uint64_t size, address, timestamp_ns;
};

struct combined {
    int64_t stack_id;
    uint64_t bytes, allocs;
    size_t first; /* the stack's allocations: all[first .. first + allocs) */
};

/* By stack, then largest first (the order show_allocs lists a stack's allocations in). */
static int by_stack(const void *a, const void *b)
{
    const struct outstanding *x = a, *y = b;
    if (x->stack_id != y->stack_id)
        return x->stack_id < y->stack_id ? -1 : 1;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static int by_bytes(const void *a, const void *b)
{
    const struct combined *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Outstanding allocations older than `older`, combined per stack, largest first. The map is
 * not cleared: an allocation stays outstanding until it is freed, as in libbpf-tools. */
static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    (void)final;
    struct state *st = eunomia_bpf_user(bpf);
    int allocs_fd = eunomia_bpf_map_fd(bpf, "allocs"), stacks_fd = eunomia_bpf_map_fd(bpf, "stack_traces");
    uint64_t *keys;
    struct alloc_info *infos;
    long count = eunomia_map_read_all(allocs_fd, sizeof(*keys), sizeof(*infos), false, (void **)&keys, (void **)&infos);
    struct outstanding *all = count >= 0 ? malloc((count ? (size_t)count : 1) * sizeof(*all)) : NULL;
    struct combined *stacks = count >= 0 ? malloc((count ? (size_t)count : 1) * sizeof(*stacks)) : NULL;
    if (!all || !stacks) {
        if (count >= 0) {
            free(keys);
            free(infos);
        }
        free(all);
        free(stacks);
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    uint64_t now = eunomia_now_ns();
    size_t n = 0, m = 0;
    for (long i = 0; i < count; i++)
        if (now - infos[i].timestamp_ns >= st->older_ns)
            all[n++] = (struct outstanding){ infos[i].stack_id, infos[i].size, keys[i], infos[i].timestamp_ns };
    free(keys);
    free(infos);
    qsort(all, n, sizeof(*all), by_stack);
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || stacks[m - 1].stack_id != all[i].stack_id)
            stacks[m++] = (struct combined){ all[i].stack_id, 0, 0, i };
        stacks[m - 1].bytes += all[i].size;
        stacks[m - 1].allocs++;
    }
    qsort(stacks, m, sizeof(*stacks), by_bytes);
    if (st->top > 0 && m > (size_t)st->top)
        m = (size_t)st->top;
    uint32_t record = st->pid ? 0 : 1;
    struct memleak_row row;
    for (size_t i = 0; i < m; i++) {
        memset(&row, 0, sizeof(row));
        row.bytes = stacks[i].bytes;
        row.allocs = stacks[i].allocs;
        row.pid = (uint32_t)st->pid;
        size_t frames = eunomia_bpf_read_stack(stacks_fd, stacks[i].stack_id, (uint64_t *)row.stack, MEMLEAK_FRAMES);
        /* Only the frames there are: the host reads the rest of a trailing stack as absent. */
        eunomia_bpf_emit(bpf, record, &row, offsetof(struct memleak_row, stack) + frames * sizeof(row.stack[0]));
    }
    for (size_t i = 0; st->show_allocs && i < m; i++) {
        for (size_t j = stacks[i].first; j < stacks[i].first + stacks[i].allocs; j++) {
            struct memleak_alloc_row a = {
                .address = all[j].address,
                .bytes = all[j].size,
                .age_ms = (now - all[j].timestamp_ns) / 1000000,
                .pid = (uint32_t)st->pid,
                .rank = (uint32_t)(i + 1),
            };
            eunomia_bpf_emit(bpf, 2, &a, sizeof(a));
        }
    }
    free(all);
    free(stacks);
    return EUNOMIA_OK;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->release_fd = -1;
    eunomia_bpf_set_user(bpf, st, free_state);
    st->pid = (int)eunomia_config_int(config, "pid", 0);
    st->top = eunomia_config_int(config, "top", 10);
    st->older_ns = (uint64_t)eunomia_config_int(config, "older", 0) * 1000000ull;
    st->show_allocs = eunomia_config_bool(config, "show_allocs");
    const char *object = eunomia_config_string(config, "object");
    snprintf(st->object, sizeof(st->object), "%s", object && *object ? object : "libc");
    uint64_t min_size = (uint64_t)eunomia_config_int(config, "min_size", 0);
    uint64_t max_size = (uint64_t)eunomia_config_int(config, "max_size", 0);
    uint64_t sample_rate = (uint64_t)eunomia_config_int(config, "sample_rate", 1);
    if (max_size == 0)
        max_size = (uint64_t)-1;
    if (min_size > max_size) {
        snprintf(err, err_size, "min_size %llu is above max_size %llu", (unsigned long long)min_size,
                 (unsigned long long)max_size);
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    const char *command = eunomia_config_string(config, "command");
    eunomia_status rc = EUNOMIA_OK;
    if (command && *command) {
        if (st->pid) {
            snprintf(err, err_size, "give either pid or command, not both");
            return EUNOMIA_ERR_INVALID_ARGUMENT;
        }
        rc = start_command(st, command, err, err_size);
        /* The child's pid becomes the BPF pid filter the helper set from the parameters. */
        uint32_t tgid = (uint32_t)st->pid;
        if (rc == EUNOMIA_OK)
            rc = eunomia_bpf_set_const(bpf, "eunomia_targ_tgid", &tgid, sizeof(tgid), err, err_size);
    }
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "min_size", &min_size, sizeof(min_size), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "max_size", &max_size, sizeof(max_size), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "sample_rate", &sample_rate, sizeof(sample_rate), err, err_size);
    /* One mode's programs only: uprobes for a process, the kmem tracepoints for the kernel. */
    if (rc == EUNOMIA_OK && st->pid)
        rc = eunomia_bpf_disable_section_prefix(bpf, "tracepoint/kmem/", err, err_size);
    if (rc == EUNOMIA_OK && st->pid && eunomia_config_bool(config, "percpu")) {
        snprintf(err, err_size, "percpu traces kernel allocations: give it without pid and command");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    if (rc == EUNOMIA_OK && (st->pid || !eunomia_config_bool(config, "percpu")))
        rc = eunomia_bpf_disable_section_prefix(bpf, "tracepoint/percpu/", err, err_size);
    if (rc == EUNOMIA_OK && !st->pid) {
        rc = eunomia_bpf_disable_section_prefix(bpf, "uprobe", err, err_size);
        if (rc == EUNOMIA_OK)
            rc = eunomia_bpf_disable_section_prefix(bpf, "uretprobe", err, err_size);
    }
    if (rc != EUNOMIA_OK)
        return rc;
    eunomia_bpf_events_unused(bpf);
    eunomia_bpf_set_attach(bpf, attach);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
