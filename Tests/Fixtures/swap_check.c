/*
 * swap_check: a hot swap of opensnoop against the real kernel, done as the host does it, checking
 * that every open is reported exactly once across the two versions.
 *
 *   build/tests/swap_check [PLUGIN_DIR]     (default: ../plugins/opensnoop beside this binary)
 *
 * Two copies of opensnoop.so are loaded (separate libraries, as two installed versions would
 * be). Instance A (generation 0) starts; a child opens uniquely named files in a loop and
 * another blocks opening a FIFO. Then B is created, takes over A's `start`, `eunomia_cutover`
 * and `eunomia_moment` maps with generation 1, and the slots are written as the host writes
 * them: slot[1] = UINT64_MAX, start B, T = now, slot[1] = T; the moments are cleared and A is
 * stopped and destroyed; the FIFO is released (its open, entered under A, returns under B
 * alone) and B drained. Every path must
 * come back exactly once from A or B. Prints one line; exits 0 when nothing was lost or
 * duplicated, 1 when something was, 2 when the check could not run. Needs root.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eunomia/plugin.h"

#define COMM "swapchk"   /* the children's name: the instances trace only them */
#define MAX_OPENS (1 << 20)
#define PATH_PREFIX_MAX 256

/* opensnoop's record (schema.json record 0). */
struct open_event {
    uint64_t ts, flags;
    uint32_t pid, tid, uid;
    int32_t fd, err;
    uint32_t mode;
    uint64_t cgroup_id;
    uint32_t mount_ns, pid_ns;
    char comm[16];
    char path[4096];
};

/* What one instance handed to its host. */
struct collector {
    const char *name;
    uint64_t records, foreign, fifo;
    uint32_t *seen; /* per file index: how often this instance reported it */
};

static char dir[PATH_PREFIX_MAX];
static char file_prefix[PATH_PREFIX_MAX + 8];
static char fifo_path[PATH_PREFIX_MAX + 8];
static bool verbose;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("swap_check: cannot run: ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int32_t collect(void *ctx, uint32_t record_id, const void *data, uint32_t size)
{
    struct collector *c = ctx;
    const struct open_event *e = data;
    if (record_id != 0 || size <= offsetof(struct open_event, path))
        return 1;
    c->records++;
    size_t room = size - offsetof(struct open_event, path);
    char path[sizeof(e->path) + 1];
    memcpy(path, e->path, room < sizeof(e->path) ? room : sizeof(e->path));
    path[room < sizeof(e->path) ? room : sizeof(e->path)] = '\0';
    size_t n = strlen(file_prefix);
    if (strcmp(path, fifo_path) == 0) {
        c->fifo++;
    } else if (strncmp(path, file_prefix, n) == 0) {
        char *end;
        unsigned long i = strtoul(path + n, &end, 10);
        if (*end || i >= MAX_OPENS)
            c->foreign++;
        else
            c->seen[i]++;
    } else {
        c->foreign++; /* another process named COMM: not ours */
    }
    return 0;
}

static void host_log(void *ctx, int32_t level, const char *message)
{
    struct collector *c = ctx;
    if (verbose || level <= EUNOMIA_LOG_WARN)
        fprintf(stderr, "[%s] %s\n", c->name, message);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    return verbose || level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

struct version {
    void *lib;
    const struct eunomia_plugin *table;
    eunomia_instance *inst;
    struct eunomia_host_api host;
    struct collector col;
};

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (in < 0 || out < 0)
        die("copying %s to %s: %s", from, to, strerror(errno));
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            die("writing %s: %s", to, strerror(errno));
    close(in);
    close(out);
}

static void load(struct version *v, const char *name, const char *so_copy, const char *bpf_object,
                 const char *package_dir)
{
    v->lib = dlopen(so_copy, RTLD_NOW | RTLD_LOCAL);
    if (!v->lib)
        die("dlopen %s: %s", so_copy, dlerror());
    eunomia_plugin_entry_fn entry = (eunomia_plugin_entry_fn)dlsym(v->lib, EUNOMIA_ENTRY_SYMBOL);
    v->table = entry ? entry(EUNOMIA_ABI_MAJOR, EUNOMIA_ABI_MINOR) : NULL;
    if (!v->table || !EUNOMIA_HAS_FIELD(v->table, struct eunomia_plugin, handover) || !v->table->handover ||
        !v->table->map_fd || !v->table->wait_fd)
        die("%s: no ABI 1.2 plugin table", so_copy);
    v->col.name = name;
    v->col.seen = calloc(MAX_OPENS, sizeof(*v->col.seen));
    if (!v->col.seen)
        die("out of memory");
    v->host = (struct eunomia_host_api){
        .struct_size = sizeof(v->host),
        .abi_major = EUNOMIA_ABI_MAJOR,
        .abi_minor = EUNOMIA_ABI_MINOR,
        .host_ctx = &v->col,
        .emit = collect,
        .log = host_log,
    };
    struct eunomia_create_args args = {
        .struct_size = sizeof(args),
        .config_json = "{\"comm\": \"" COMM "\"}",
        .bpf_object_path = bpf_object,
        .package_dir = package_dir,
        .host = &v->host,
    };
    char err[EUNOMIA_ERROR_BUF_SIZE];
    if (v->table->create(&args, &v->inst, err, sizeof(err)) != EUNOMIA_OK)
        die("%s create: %s", name, err);
}

static void start(struct version *v)
{
    char err[EUNOMIA_ERROR_BUF_SIZE];
    if (v->table->start(v->inst, err, sizeof(err)) != EUNOMIA_OK)
        die("%s start: %s", v->col.name, err);
}

/* Poll every running version for ms milliseconds, as a host with one thread would. */
static void pump(struct version **vs, int n, int ms)
{
    uint64_t end = now_ns() + (uint64_t)ms * 1000000ull;
    char err[EUNOMIA_ERROR_BUF_SIZE];
    do {
        for (int i = 0; i < n; i++) {
            uint64_t delivered;
            if (vs[i]->table->poll(vs[i]->inst, n > 1 ? 2 : 5, &delivered, err, sizeof(err)) != EUNOMIA_OK)
                die("%s poll: %s", vs[i]->col.name, err);
        }
    } while (now_ns() < end);
}

/* Zeros every CPU's eunomia_moment value, as the host does before it detaches the old version. */
static void clear_moments(int moment_fd)
{
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0)
        die("libbpf_num_possible_cpus: %d", cpus);
    void *zero = calloc((size_t)cpus, 16);
    uint32_t key = 0;
    if (!zero || bpf_map_update_elem(moment_fd, &key, zero, BPF_ANY))
        die("clearing eunomia_moment: %s", strerror(errno));
    free(zero);
}

static void write_slot(int cutover_fd, uint32_t slot, uint64_t value)
{
    if (bpf_map_update_elem(cutover_fd, &slot, &value, BPF_ANY))
        die("writing eunomia_cutover slot %u: %s", slot, strerror(errno));
}

/* Shared with the opening child. */
struct shared {
    volatile int stop;
    volatile unsigned long opened;
};

static void opener(struct shared *sh)
{
    prctl(PR_SET_NAME, COMM);
    char path[sizeof(file_prefix) + 16];
    unsigned long i;
    for (i = 0; !sh->stop && i < MAX_OPENS; i++) {
        snprintf(path, sizeof(path), "%s%lu", file_prefix, i);
        int fd = open(path, O_RDONLY | O_CLOEXEC); /* no such file: the failed open is traced too */
        if (fd >= 0)
            close(fd);
        sh->opened = i + 1;
        if (i % 16 == 15)
            usleep(200); /* a few thousand opens a second, across the whole swap */
    }
    _exit(0);
}

/* True once pid sits in openat(2), i.e. its entry has been traced. */
static bool in_openat(pid_t pid)
{
    char path[64], buf[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 && atol(buf) == SYS_openat;
}

static void exe_dir(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(out, size, "%s", self);
}

int main(int argc, char **argv)
{
    verbose = getenv("SWAP_CHECK_VERBOSE") != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    libbpf_set_print(libbpf_quiet);
    char plugin_dir[PATH_MAX + 32];
    if (argc > 1) {
        snprintf(plugin_dir, sizeof(plugin_dir), "%s", argv[1]);
    } else {
        char here[PATH_MAX];
        exe_dir(here, sizeof(here));
        snprintf(plugin_dir, sizeof(plugin_dir), "%s/../plugins/opensnoop", here);
    }
    char so[PATH_MAX + 64], bpf_object[PATH_MAX + 64];
    snprintf(so, sizeof(so), "%s/opensnoop.so", plugin_dir);
    snprintf(bpf_object, sizeof(bpf_object), "%s/opensnoop.bpf.o", plugin_dir);
    if (access(so, R_OK) || access(bpf_object, R_OK))
        die("no %s or %s (make plugins)", so, bpf_object);

    snprintf(dir, sizeof(dir), "/tmp/swap_check.XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(file_prefix, sizeof(file_prefix), "%s/f-", dir);
    snprintf(fifo_path, sizeof(fifo_path), "%s/fifo", dir);
    if (mkfifo(fifo_path, 0600))
        die("mkfifo: %s", strerror(errno));
    char so_a[PATH_PREFIX_MAX + 16], so_b[PATH_PREFIX_MAX + 16];
    snprintf(so_a, sizeof(so_a), "%s/a.so", dir);
    snprintf(so_b, sizeof(so_b), "%s/b.so", dir);
    copy_file(so, so_a);
    copy_file(so, so_b);

    struct version a = { 0 }, b = { 0 };
    load(&a, "A", so_a, bpf_object, plugin_dir);
    start(&a);
    if (a.table->wait_fd(a.inst) < 0)
        die("A has no wait_fd");
    int cutover_fd = a.table->map_fd(a.inst, "eunomia_cutover"), start_fd = a.table->map_fd(a.inst, "start");
    int moment_fd = a.table->map_fd(a.inst, "eunomia_moment");
    if (cutover_fd < 0 || start_fd < 0 || moment_fd < 0)
        die("A has no eunomia_cutover, eunomia_moment or start map");

    /* An open that blocks across the whole swap: entered under A alone. */
    pid_t fifo_child = fork();
    if (fifo_child == 0) {
        prctl(PR_SET_NAME, COMM);
        int fd = open(fifo_path, O_RDONLY | O_CLOEXEC);
        _exit(fd >= 0 ? 0 : 1);
    }
    struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    pid_t loop_child = fork();
    if (loop_child == 0)
        opener(sh);
    struct version *only_a[] = { &a }, *both[] = { &a, &b }, *only_b[] = { &b };
    for (int i = 0; i < 200 && !in_openat(fifo_child); i++)
        pump(only_a, 1, 10);
    if (!in_openat(fifo_child))
        die("the FIFO reader never blocked in openat");
    pump(only_a, 1, 200);

    /* The swap, as the host runs it. */
    load(&b, "B", so_b, bpf_object, plugin_dir);
    struct eunomia_map_handover maps[] = {
        { .name = "start", .fd = start_fd, .result = -1 },
        { .name = "eunomia_cutover", .fd = cutover_fd, .result = -1 },
        { .name = "eunomia_moment", .fd = moment_fd, .result = -1 },
    };
    struct eunomia_handover h = {
        .struct_size = sizeof(h), .generation = 1, .n_maps = 3, .maps = maps,
    };
    char err[EUNOMIA_ERROR_BUF_SIZE];
    if (b.table->handover(b.inst, &h, err, sizeof(err)) != EUNOMIA_OK)
        die("B handover: %s", err);
    for (int i = 0; i < 3; i++)
        if (maps[i].result != EUNOMIA_OK)
            die("B did not take over %s (status %d)", maps[i].name, (int)maps[i].result);
    const uint32_t next = (h.generation) & 1;
    write_slot(cutover_fd, next, UINT64_MAX); /* B owns nothing yet */
    start(&b);
    pump(both, 2, 150); /* both attached, A owns everything */
    uint64_t cut = now_ns();
    write_slot(cutover_fd, next, cut); /* from T on, B */
    pump(both, 2, 150);
    clear_moments(moment_fd); /* decisions A published before B was attached */

    char stop_err[EUNOMIA_ERROR_BUF_SIZE];
    if (a.table->stop(a.inst, stop_err, sizeof(stop_err)) != EUNOMIA_OK)
        die("A stop: %s", stop_err);
    struct eunomia_stats sa = { .struct_size = sizeof(sa) };
    a.table->get_stats(a.inst, &sa);
    a.table->destroy(a.inst);
    pump(only_b, 1, 100);

    /* Release the FIFO reader: its open returns now that only B is attached. */
    int w = open(fifo_path, O_WRONLY | O_CLOEXEC);
    if (w >= 0)
        close(w);
    int status = 0;
    waitpid(fifo_child, &status, 0);
    pump(only_b, 1, 100);
    sh->stop = 1;
    waitpid(loop_child, NULL, 0);
    pump(only_b, 1, 200);
    if (b.table->stop(b.inst, stop_err, sizeof(stop_err)) != EUNOMIA_OK)
        die("B stop: %s", stop_err);
    struct eunomia_stats sb = { .struct_size = sizeof(sb) };
    b.table->get_stats(b.inst, &sb);
    b.table->destroy(b.inst);

    unsigned long opened = sh->opened, lost = 0, duplicated = 0;
    for (unsigned long i = 0; i < opened; i++) {
        uint32_t n = a.col.seen[i] + b.col.seen[i];
        if (n == 0)
            lost++;
        else
            duplicated += n - 1;
        if (verbose && n != 1)
            fprintf(stderr, "%s%lu: A %u, B %u\n", file_prefix, i, a.col.seen[i], b.col.seen[i]);
    }
    uint64_t fifo = a.col.fifo + b.col.fifo;
    if (fifo == 0)
        lost++;
    else
        duplicated += fifo - 1;
    bool ok = lost == 0 && duplicated == 0 && sa.events_lost == 0 && sb.events_lost == 0;
    printf("swap_check: %lu opens + 1 blocked on a FIFO; A reported %llu, B %llu; FIFO open by %s; lost %lu, "
           "duplicated %lu, ring buffer losses %llu: %s\n",
           opened, (unsigned long long)a.col.records, (unsigned long long)b.col.records,
           fifo == 0 ? "nobody" : b.col.fifo && a.col.fifo ? "both" : b.col.fifo ? "B" : "A", lost, duplicated,
           (unsigned long long)(sa.events_lost + sb.events_lost), ok ? "ok" : "FAILED");

    char cmd[PATH_PREFIX_MAX + 16];
    snprintf(cmd, sizeof(cmd), "%s/a.so", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/b.so", dir);
    unlink(cmd);
    unlink(fifo_path);
    rmdir(dir);
    return ok ? 0 : 1;
}
