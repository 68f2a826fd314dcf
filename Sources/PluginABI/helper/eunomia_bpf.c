#define _GNU_SOURCE
#include "eunomia_bpf.h"
#include "eunomia_bpf_internal.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum state { CREATED, RUNNING, STOPPED };

struct eunomia_bpf {
    struct bpf_object *obj;
    struct ring_buffer *rb;
    struct bpf_link **links;
    size_t n_links;
    const struct eunomia_host_api *host;
    enum state state;
    int lost_map_fd;
    uint64_t emitted;
    uint64_t refused; /* records the host declined */
    eunomia_bpf_report_fn report;
    eunomia_bpf_attach_fn attach;
    uint64_t interval_ns; /* 0: report only at stop */
    int epoll_fd;            /* ABI 1.2 wait_fd: the ring buffer's epoll fd, and timer_fd */
    int timer_fd;            /* expires every interval_ns; -1 without reports (or timerfd) */
    int batch_fd;            /* one-shot: brings a busy consumer back after EUNOMIA_BATCH_NS */
    volatile uint32_t *wakeup; /* eunomia_wakeup's value, mmapped; NULL: through wakeup_map_fd */
    size_t wakeup_len;
    int wakeup_map_fd; /* -1: the BPF object has no eunomia_wakeup (built before ABI 1.2) */
    void *user;
    void (*free_user)(void *);
};

#define FAIL(code, ...)                                \
    do {                                               \
        snprintf(err, err_size, __VA_ARGS__);          \
        return (code);                                 \
    } while (0)

struct bpf_object *eunomia_bpf_object(struct eunomia_bpf *bpf) { return bpf->obj; }

void eunomia_bpf_log(struct eunomia_bpf *bpf, int32_t level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bpf->host->log(bpf->host->host_ctx, level, msg);
}

bool eunomia_config_bool(const json_t *config, const char *key)
{
    return json_is_true(json_object_get(config, key));
}

long long eunomia_config_int(const json_t *config, const char *key, long long fallback)
{
    const json_t *v = json_object_get(config, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

const char *eunomia_config_string(const json_t *config, const char *key)
{
    const json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool eunomia_tracepoint_exists(const char *category, const char *event)
{
    static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
    char path[512];
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        snprintf(path, sizeof(path), "%s/events/%s/%s", roots[i], category, event);
        if (access(path, F_OK) == 0)
            return true;
    }
    return false;
}

bool eunomia_tp_btf_available(const char *event)
{
    struct btf *vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux)
        return false;
    char name[256];
    snprintf(name, sizeof(name), "btf_trace_%s", event);
    bool found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0;
    btf__free(vmlinux);
    return found;
}

bool eunomia_kprobe_available(const char *symbol)
{
    if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) != 0)
        return false;
    if (!symbol)
        return true;
    FILE *f = fopen("/proc/kallsyms", "re");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    size_t len = strlen(symbol);
    while (!found && fgets(line, sizeof(line), f)) {
        /* "ffffffff81000000 T name [module]" */
        char *name = strchr(line, ' ');
        name = name ? strchr(name + 1, ' ') : NULL;
        if (name && strncmp(name + 1, symbol, len) == 0 && (name[1 + len] == '\n' || name[1 + len] == ' ' ||
                                                            name[1 + len] == '\t' || name[1 + len] == '\0'))
            found = true;
    }
    fclose(f);
    return found;
}

eunomia_status eunomia_bpf_disable_section_prefix(struct eunomia_bpf *bpf, const char *prefix, char *err,
                                                  size_t err_size)
{
    (void)err;
    (void)err_size;
    struct bpf_program *prog;
    size_t len = strlen(prefix);
    bpf_object__for_each_program(prog, bpf->obj) {
        if (strncmp(bpf_program__section_name(prog), prefix, len) == 0)
            bpf_program__set_autoload(prog, false);
    }
    return EUNOMIA_OK;
}

static struct bpf_map *find_rodata(struct bpf_object *obj)
{
    struct bpf_map *map;
    bpf_object__for_each_map(map, obj) {
        const char *name = bpf_map__name(map);
        size_t len = strlen(name);
        if (bpf_map__is_internal(map) && len >= 7 && strcmp(name + len - 7, ".rodata") == 0)
            return map;
    }
    return NULL;
}

eunomia_status eunomia_bpf_set_const(struct eunomia_bpf *bpf, const char *name, const void *value, size_t size,
                                     char *err, size_t err_size)
{
    if (bpf->state != CREATED)
        FAIL(EUNOMIA_ERR_STATE, "cannot set %s: the BPF object is already loaded", name);
    struct btf *btf = bpf_object__btf(bpf->obj);
    struct bpf_map *map = find_rodata(bpf->obj);
    int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
    if (!map || sec_id < 0)
        FAIL(EUNOMIA_ERR_BPF, "BPF object has no .rodata section with BTF; cannot set %s", name);
    size_t data_size = 0;
    /* libbpf 1.1 declares the initial value const, yet it is the writable image loaded later. */
    char *data = (char *)bpf_map__initial_value(map, &data_size);
    const struct btf_type *sec = btf__type_by_id(btf, sec_id);
    const struct btf_var_secinfo *vsi = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, vsi++) {
        const struct btf_type *var = btf__type_by_id(btf, vsi->type);
        if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
            continue;
        if (vsi->size != size)
            FAIL(EUNOMIA_ERR_INTERNAL, "BPF constant %s has %u bytes, plugin wrote %zu", name, vsi->size, size);
        if (!data || vsi->offset + size > data_size)
            FAIL(EUNOMIA_ERR_BPF, "BPF constant %s lies outside .rodata", name);
        memcpy(data + vsi->offset, value, size);
        return EUNOMIA_OK;
    }
    FAIL(EUNOMIA_ERR_INTERNAL, "BPF object has no constant named %s", name);
}

eunomia_status eunomia_bpf_disable_program(struct eunomia_bpf *bpf, const char *prog_name, char *err,
                                           size_t err_size)
{
    struct bpf_program *prog = bpf_object__find_program_by_name(bpf->obj, prog_name);
    if (!prog)
        FAIL(EUNOMIA_ERR_INTERNAL, "BPF object has no program named %s", prog_name);
    bpf_program__set_autoload(prog, false);
    return EUNOMIA_OK;
}

/* The filters every tracker shares; parameters absent from the plugin's schema stay unset. */
static eunomia_status apply_common(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    eunomia_status rc;
    uint32_t tgid = (uint32_t)eunomia_config_int(config, "pid", 0);
    uint32_t tid = (uint32_t)eunomia_config_int(config, "tid", 0);
    uint32_t uid = (uint32_t)eunomia_config_int(config, "uid", -1);
    char comm[16] = { 0 };
    const char *c = eunomia_config_string(config, "comm");
    if (c)
        strncpy(comm, c, sizeof(comm) - 1);
    if ((rc = eunomia_bpf_set_const(bpf, "eunomia_targ_tgid", &tgid, sizeof(tgid), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "eunomia_targ_tid", &tid, sizeof(tid), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "eunomia_targ_uid", &uid, sizeof(uid), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "eunomia_targ_comm", comm, sizeof(comm), err, err_size)))
        return rc;

    long long interval = eunomia_config_int(config, "interval", 0);
    if (interval < 0)
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "interval=%lld: must be 0 (report at the end) or a number of seconds",
             interval);
    bpf->interval_ns = (uint64_t)interval * 1000000000ull;

    long long kb = eunomia_config_int(config, "ringbuf_kb", 0);
    if (kb > 0) {
        struct bpf_map *rb = bpf_object__find_map_by_name(bpf->obj, "events");
        long page = sysconf(_SC_PAGESIZE);
        unsigned long long bytes = (unsigned long long)kb * 1024;
        if ((bytes & (bytes - 1)) || bytes < (unsigned long long)page)
            FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "ringbuf_kb=%lld: must be a power of two of at least %ld", kb,
                 page / 1024);
        if (!rb || bpf_map__set_max_entries(rb, (uint32_t)bytes))
            FAIL(EUNOMIA_ERR_BPF, "cannot size the events ring buffer to %lld KiB", kb);
    }
    return EUNOMIA_OK;
}

eunomia_status eunomia_bpf_create(const struct eunomia_create_args *args, eunomia_bpf_configure_fn configure,
                                  eunomia_instance **out, char *err, size_t err_size)
{
    if (!EUNOMIA_HAS_FIELD(args, struct eunomia_create_args, host) || !args->host ||
        !EUNOMIA_HAS_FIELD(args->host, struct eunomia_host_api, log))
        FAIL(EUNOMIA_ERR_ABI, "host passed create arguments older than this plugin understands");
    json_error_t jerr;
    json_t *config = json_loads(args->config_json ? args->config_json : "{}", 0, &jerr);
    if (!json_is_object(config)) {
        json_decref(config);
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "config is not a JSON object: %s", jerr.text);
    }
    struct eunomia_bpf *bpf = calloc(1, sizeof(*bpf));
    if (!bpf) {
        json_decref(config);
        FAIL(EUNOMIA_ERR_NO_MEMORY, "out of memory");
    }
    bpf->host = args->host;
    bpf->lost_map_fd = -1;
    bpf->epoll_fd = bpf->timer_fd = bpf->batch_fd = bpf->wakeup_map_fd = -1;
    eunomia_status rc = EUNOMIA_OK;
    bpf->obj = bpf_object__open_file(args->bpf_object_path, NULL);
    if (!bpf->obj) {
        snprintf(err, err_size, "cannot open BPF object %s: %s", args->bpf_object_path, strerror(errno));
        rc = EUNOMIA_ERR_BPF;
    }
    if (rc == EUNOMIA_OK)
        rc = apply_common(bpf, config, err, err_size);
    if (rc == EUNOMIA_OK && configure)
        rc = configure(bpf, config, err, err_size);
    json_decref(config);
    if (rc != EUNOMIA_OK) {
        eunomia_bpf_destroy((eunomia_instance *)bpf);
        return rc;
    }
    *out = (eunomia_instance *)bpf;
    return EUNOMIA_OK;
}

int eunomia_bpf_emit(struct eunomia_bpf *bpf, uint32_t record_id, const void *data, size_t size)
{
    if (bpf->host->emit(bpf->host->host_ctx, record_id, data, (uint32_t)size) == 0) {
        bpf->emitted++;
        return 0;
    }
    bpf->refused++;
    return 1;
}

static int forward(void *ctx, void *data, size_t size)
{
    /* Empty records only wake the consumer (eunomia_output). */
    if (size)
        eunomia_bpf_emit(ctx, 0, data, size);
    return 0;
}

uint64_t eunomia_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void eunomia_bpf_set_report(struct eunomia_bpf *bpf, eunomia_bpf_report_fn fn) { bpf->report = fn; }
void eunomia_bpf_set_attach(struct eunomia_bpf *bpf, eunomia_bpf_attach_fn fn) { bpf->attach = fn; }

void eunomia_bpf_set_user(struct eunomia_bpf *bpf, void *user, void (*free_fn)(void *))
{
    if (bpf->free_user && bpf->user && bpf->user != user)
        bpf->free_user(bpf->user);
    bpf->user = user;
    bpf->free_user = free_fn;
}

void *eunomia_bpf_user(struct eunomia_bpf *bpf) { return bpf->user; }

int eunomia_bpf_map_fd(struct eunomia_bpf *bpf, const char *name)
{
    struct bpf_map *map = bpf_object__find_map_by_name(bpf->obj, name);
    return map ? bpf_map__fd(map) : -1;
}

long eunomia_map_read_all(int map_fd, size_t key_size, size_t value_size, bool clear, void **keys, void **values)
{
    *keys = *values = NULL;
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
        return -1;
    size_t cap = info.max_entries ? info.max_entries : 1;
    char *k = malloc(cap * key_size), *v = malloc(cap * value_size);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    size_t n = 0;
    void *prev = NULL;
    while (n < cap && bpf_map_get_next_key(map_fd, prev, k + n * key_size) == 0) {
        prev = k + n * key_size;
        n++;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        void *key = k + i * key_size, *value = v + m * value_size;
        if (clear && bpf_map_lookup_and_delete_elem(map_fd, key, value)) {
            /* Hash maps take lookup-and-delete from 5.14 on; before, an update may slip in
             * between the two calls and be lost. */
            if (errno == ENOENT || bpf_map_lookup_elem(map_fd, key, value))
                continue;
            bpf_map_delete_elem(map_fd, key);
        } else if (!clear && bpf_map_lookup_elem(map_fd, key, value)) {
            continue;
        }
        if (m != i)
            memcpy(k + m * key_size, key, key_size);
        m++;
    }
    *keys = k;
    *values = v;
    return (long)m;
}

void eunomia_bpf_events_unused(struct eunomia_bpf *bpf)
{
    struct bpf_map *events = bpf_object__find_map_by_name(bpf->obj, "events");
    if (events)
        bpf_map__set_max_entries(events, (uint32_t)sysconf(_SC_PAGESIZE));
}

size_t eunomia_bpf_read_stack(int stack_map_fd, int64_t id, uint64_t *addrs, size_t max)
{
    memset(addrs, 0, max * sizeof(*addrs));
    if (id < 0 || stack_map_fd < 0)
        return 0;
    /* The map's value size is fixed at its creation (PERF_MAX_STACK_DEPTH frames by default,
     * 127); read into a buffer of that size, then keep what the caller has room for. */
    uint64_t frames[256] = { 0 };
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(stack_map_fd, &info, &len) || info.value_size > sizeof(frames))
        return 0;
    uint32_t key = (uint32_t)id;
    if (bpf_map_lookup_elem(stack_map_fd, &key, frames))
        return 0;
    size_t n = 0;
    size_t cap = info.value_size / sizeof(uint64_t);
    while (n < cap && n < max && frames[n]) {
        addrs[n] = frames[n];
        n++;
    }
    return n;
}

/* Run the plugin's report callback and close the report. */
static eunomia_status run_report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    eunomia_status rc = bpf->report(bpf, final, err, err_size);
    if (EUNOMIA_HAS_FIELD(bpf->host, struct eunomia_host_api, end_report) && bpf->host->end_report)
        bpf->host->end_report(bpf->host->host_ctx, eunomia_now_ns());
    return rc;
}

static void detach_all(struct eunomia_bpf *bpf)
{
    for (size_t i = 0; i < bpf->n_links; i++)
        bpf_link__destroy(bpf->links[i]);
    free(bpf->links);
    bpf->links = NULL;
    bpf->n_links = 0;
}

/* Tracepoints a kernel lacks (open(2) on arm64, openat2 before 5.6, ...) would fail the
 * attach; programs on them are skipped. Tracepoints a plugin cannot do without are listed in
 * its schema's requires.tracepoints and checked at install time. */
static void skip_missing_tracepoints(struct eunomia_bpf *bpf)
{
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, bpf->obj) {
        const char *sec = bpf_program__section_name(prog);
        const char *rest = NULL;
        if (strncmp(sec, "tracepoint/", 11) == 0)
            rest = sec + 11;
        else if (strncmp(sec, "tp/", 3) == 0)
            rest = sec + 3;
        const char *slash = rest ? strchr(rest, '/') : NULL;
        if (!slash || !bpf_program__autoload(prog))
            continue;
        char category[64];
        snprintf(category, sizeof(category), "%.*s", (int)(slash - rest), rest);
        if (!eunomia_tracepoint_exists(category, slash + 1)) {
            bpf_program__set_autoload(prog, false);
            eunomia_bpf_log(bpf, EUNOMIA_LOG_INFO, "skipping %s: this kernel has no tracepoint %s/%s",
                            bpf_program__name(prog), category, slash + 1);
        }
    }
}

/* Sections that name no target ("uprobe", "uretprobe", "perf_event") cannot attach by
 * themselves: the plugin's attach callback gives them their binary, symbol or frequency. */
static bool needs_manual_attach(const struct bpf_program *prog)
{
    const char *sec = bpf_program__section_name(prog);
    return strcmp(sec, "uprobe") == 0 || strcmp(sec, "uretprobe") == 0 || strcmp(sec, "perf_event") == 0 ||
           strcmp(sec, "uprobe.s") == 0 || strcmp(sec, "uretprobe.s") == 0;
}

eunomia_status eunomia_bpf_add_link_(struct eunomia_bpf *bpf, struct bpf_link *link)
{
    struct bpf_link **links = realloc(bpf->links, (bpf->n_links + 1) * sizeof(*links));
    if (!links) {
        bpf_link__destroy(link);
        return EUNOMIA_ERR_NO_MEMORY;
    }
    bpf->links = links;
    bpf->links[bpf->n_links++] = link;
    return EUNOMIA_OK;
}

/* How long a consumer that just took records lets the next ones gather before it looks again.
 * An idle consumer is woken by the first record (eunomia_wakeup); one that found records is
 * busy, so instead of being woken per record it comes back on this timer (or when 64 KiB are
 * pending): under a storm that is one wakeup per millisecond, not one per event, and no record
 * waits longer than this once the first of a burst has woken the consumer. */
#ifndef EUNOMIA_BATCH_NS
#define EUNOMIA_BATCH_NS 1000000ull
#endif

/* Clears the asleep flag: the consumer is awake and will look again on its batch timer. */
static void mark_awake(struct eunomia_bpf *bpf)
{
    if (bpf->wakeup)
        __atomic_store_n(bpf->wakeup, 0, __ATOMIC_RELAXED);
}

/* Tell the BPF side the consumer is about to sleep: the next record wakes it (eunomia_output).
 * A sequentially consistent store, so the ring buffer is read only after the flag is visible. */
static void mark_asleep(struct eunomia_bpf *bpf)
{
    if (bpf->wakeup) {
        __atomic_store_n(bpf->wakeup, 1, __ATOMIC_SEQ_CST);
    } else if (bpf->wakeup_map_fd >= 0) {
        uint32_t key = 0, one = 1;
        bpf_map_update_elem(bpf->wakeup_map_fd, &key, &one, BPF_ANY);
    }
}

/* The wakeup side of start: the epoll fd wait_fd returns (ring buffer, report timer) and the
 * mapping of the "consumer asleep" flag. Failing here fails start: the host may rely on wait_fd. */
static eunomia_status setup_wakeup(struct eunomia_bpf *bpf, char *err, size_t err_size)
{
    bpf->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (bpf->epoll_fd < 0)
        FAIL(EUNOMIA_ERR_INTERNAL, "epoll_create1: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN };
    ev.data.fd = ring_buffer__epoll_fd(bpf->rb);
    if (epoll_ctl(bpf->epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev))
        FAIL(EUNOMIA_ERR_INTERNAL, "epoll_ctl (ring buffer): %s", strerror(errno));
    if (bpf->report && bpf->interval_ns) {
        bpf->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (bpf->timer_fd < 0)
            FAIL(EUNOMIA_ERR_INTERNAL, "timerfd_create: %s", strerror(errno));
        struct itimerspec its = { 0 };
        its.it_interval.tv_sec = (time_t)(bpf->interval_ns / 1000000000ull);
        its.it_interval.tv_nsec = (long)(bpf->interval_ns % 1000000000ull);
        its.it_value = its.it_interval;
        ev.data.fd = bpf->timer_fd;
        if (timerfd_settime(bpf->timer_fd, 0, &its, NULL) || epoll_ctl(bpf->epoll_fd, EPOLL_CTL_ADD, bpf->timer_fd, &ev))
            FAIL(EUNOMIA_ERR_INTERNAL, "report timer: %s", strerror(errno));
    }
    bpf->batch_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (bpf->batch_fd < 0)
        FAIL(EUNOMIA_ERR_INTERNAL, "timerfd_create: %s", strerror(errno));
    ev.data.fd = bpf->batch_fd;
    if (epoll_ctl(bpf->epoll_fd, EPOLL_CTL_ADD, bpf->batch_fd, &ev))
        FAIL(EUNOMIA_ERR_INTERNAL, "epoll_ctl (batch timer): %s", strerror(errno));
    struct bpf_map *wakeup = bpf_object__find_map_by_name(bpf->obj, "eunomia_wakeup");
    if (wakeup) {
        bpf->wakeup_map_fd = bpf_map__fd(wakeup);
        long page = sysconf(_SC_PAGESIZE);
        bpf->wakeup_len = (size_t)page;
        void *p = mmap(NULL, bpf->wakeup_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf->wakeup_map_fd, 0);
        if (p == MAP_FAILED)
            eunomia_bpf_log(bpf, EUNOMIA_LOG_DEBUG, "cannot mmap eunomia_wakeup (%s): setting it by syscall",
                            strerror(errno));
        else
            bpf->wakeup = p;
    }
    mark_asleep(bpf);
    return EUNOMIA_OK;
}

static void teardown_wakeup(struct eunomia_bpf *bpf)
{
    if (bpf->wakeup)
        munmap((void *)bpf->wakeup, bpf->wakeup_len);
    bpf->wakeup = NULL;
    bpf->wakeup_map_fd = -1;
    if (bpf->timer_fd >= 0)
        close(bpf->timer_fd);
    if (bpf->batch_fd >= 0)
        close(bpf->batch_fd);
    if (bpf->epoll_fd >= 0)
        close(bpf->epoll_fd);
    bpf->timer_fd = bpf->batch_fd = bpf->epoll_fd = -1;
}

eunomia_status eunomia_bpf_start(eunomia_instance *inst, char *err, size_t err_size)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (bpf->state != CREATED)
        FAIL(EUNOMIA_ERR_STATE, "start called twice");
    skip_missing_tracepoints(bpf);
    int e = bpf_object__load(bpf->obj);
    if (e)
        FAIL(EUNOMIA_ERR_BPF, "loading BPF programs failed: %s (run with --log-level debug for the verifier log)",
             strerror(-e));
    size_t n = 0;
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, bpf->obj) n++;
    bpf->links = calloc(n ? n : 1, sizeof(*bpf->links));
    if (!bpf->links)
        FAIL(EUNOMIA_ERR_NO_MEMORY, "out of memory");
    bpf_object__for_each_program(prog, bpf->obj) {
        if (!bpf_program__autoload(prog) || needs_manual_attach(prog))
            continue;
        struct bpf_link *link = bpf_program__attach(prog);
        if (!link) {
            e = -errno;
            detach_all(bpf);
            FAIL(EUNOMIA_ERR_BPF, "attaching %s (%s) failed: %s", bpf_program__name(prog),
                 bpf_program__section_name(prog), strerror(-e));
        }
        bpf->links[bpf->n_links++] = link;
    }
    struct bpf_map *events = bpf_object__find_map_by_name(bpf->obj, "events");
    if (!events) {
        detach_all(bpf);
        FAIL(EUNOMIA_ERR_BPF, "BPF object has no ring buffer map named events");
    }
    bpf->rb = ring_buffer__new(bpf_map__fd(events), forward, bpf, NULL);
    if (!bpf->rb) {
        e = -errno;
        detach_all(bpf);
        FAIL(EUNOMIA_ERR_BPF, "cannot open the events ring buffer: %s", strerror(-e));
    }
    eunomia_status rc = bpf->attach ? bpf->attach(bpf, err, err_size) : EUNOMIA_OK;
    if (rc == EUNOMIA_OK)
        rc = setup_wakeup(bpf, err, err_size);
    if (rc != EUNOMIA_OK) {
        detach_all(bpf);
        teardown_wakeup(bpf);
        ring_buffer__free(bpf->rb);
        bpf->rb = NULL;
        return rc;
    }
    struct bpf_map *lost = bpf_object__find_map_by_name(bpf->obj, "eunomia_lost");
    bpf->lost_map_fd = lost ? bpf_map__fd(lost) : -1;
    bpf->state = RUNNING;
    return EUNOMIA_OK;
}

/* True when a periodic report is due: the report timer expired since the last look. Reading
 * it clears its readiness; several missed expirations make one report, and the cadence stays
 * the timer's (one interval after start, then every interval). */
static bool report_due(struct eunomia_bpf *bpf)
{
    uint64_t expirations = 0;
    return bpf->timer_fd >= 0 &&
           read(bpf->timer_fd, &expirations, sizeof(expirations)) == (ssize_t)sizeof(expirations) && expirations > 0;
}

eunomia_status eunomia_bpf_poll(eunomia_instance *inst, int32_t timeout_ms, uint64_t *delivered, char *err,
                                size_t err_size)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    *delivered = 0;
    if (bpf->state != RUNNING)
        FAIL(EUNOMIA_ERR_STATE, "poll called on an instance that is not running");
    uint64_t before = bpf->emitted;
    if (timeout_ms != 0) {
        /* A 1.1 host waits here; a 1.2 host waits on wait_fd and calls poll with 0. The epoll set
         * holds the ring buffer and the report timer, so a due report ends the wait too. */
        struct epoll_event evs[2];
        if (epoll_wait(bpf->epoll_fd, evs, 2, timeout_ms) < 0 && errno != EINTR)
            FAIL(EUNOMIA_ERR_INTERNAL, "waiting for the ring buffer failed: %s", strerror(errno));
    }
    /* Producers skip the wakeup for small backlogs while the consumer is awake (eunomia_output):
     * take whatever is there, woken or not. */
    int n = ring_buffer__consume(bpf->rb);
    if (n < 0)
        FAIL(EUNOMIA_ERR_BPF, "reading the ring buffer failed: %s", strerror(-n));
    if (report_due(bpf)) {
        eunomia_status rc = run_report(bpf, false, err, err_size);
        if (rc != EUNOMIA_OK)
            return rc;
    }
    /* The batch timer fired, or has not: either way its readiness is cleared (a non-blocking
     * read of a timerfd that has not expired fails with EAGAIN, which is fine). */
    uint64_t expirations;
    if (bpf->batch_fd >= 0)
        (void)!read(bpf->batch_fd, &expirations, sizeof(expirations));
    if (bpf->emitted != before && bpf->batch_fd >= 0) {
        /* Busy: let the next records gather, and come back on the batch timer. */
        mark_awake(bpf);
        struct itimerspec once = { .it_value = { .tv_sec = 0, .tv_nsec = (long)EUNOMIA_BATCH_NS } };
        timerfd_settime(bpf->batch_fd, 0, &once, NULL);
        *delivered = bpf->emitted - before;
        return EUNOMIA_OK;
    }
    /* Idle: about to return to a wait, and the next record must wake it. A record that raced
     * the store (written just before it, without a wakeup) is taken now rather than waiting. */
    mark_asleep(bpf);
    n = ring_buffer__consume(bpf->rb);
    if (n < 0)
        FAIL(EUNOMIA_ERR_BPF, "reading the ring buffer failed: %s", strerror(-n));
    /* A record taken just now may be one that found the flag set and cleared it: its wakeup
     * is spent (its data is gone when the host next waits), so set the flag again. Nothing is
     * consumed after this store: whoever clears the flag from here on has its record, and its
     * wakeup, still pending. */
    mark_asleep(bpf);
    *delivered = bpf->emitted - before;
    return EUNOMIA_OK;
}

/* Detach, then hand over what was already in the ring buffer; with report, also the final
 * report (stop), without it not (retire: a successor has the maps and reports them). */
static eunomia_status finish(struct eunomia_bpf *bpf, bool report, char *err, size_t err_size)
{
    bool was_running = bpf->state == RUNNING;
    detach_all(bpf);
    bpf->state = STOPPED;
    if (bpf->timer_fd >= 0) {
        struct itimerspec off = { 0 };
        timerfd_settime(bpf->timer_fd, 0, &off, NULL);
    }
    /* Hand over what was already in the buffer: nothing is lost at shutdown. */
    if (bpf->rb && was_running)
        ring_buffer__consume(bpf->rb);
    /* The final report covers everything up to the detach. */
    if (report && bpf->report && was_running)
        return run_report(bpf, true, err, err_size);
    return EUNOMIA_OK;
}

eunomia_status eunomia_bpf_stop(eunomia_instance *inst, char *err, size_t err_size)
{
    return finish((struct eunomia_bpf *)inst, true, err, err_size);
}

eunomia_status eunomia_bpf_retire(eunomia_instance *inst, char *err, size_t err_size)
{
    return finish((struct eunomia_bpf *)inst, false, err, err_size);
}

void eunomia_bpf_destroy(eunomia_instance *inst)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (!bpf)
        return;
    detach_all(bpf);
    teardown_wakeup(bpf);
    ring_buffer__free(bpf->rb);
    bpf_object__close(bpf->obj);
    if (bpf->free_user && bpf->user)
        bpf->free_user(bpf->user);
    free(bpf);
}

static uint64_t kernel_lost(struct eunomia_bpf *bpf)
{
    if (bpf->lost_map_fd < 0)
        return 0;
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        return 0;
    uint64_t values[ncpu];
    uint32_t key = 0;
    if (bpf_map_lookup_elem(bpf->lost_map_fd, &key, values))
        return 0;
    uint64_t sum = 0;
    for (int i = 0; i < ncpu; i++)
        sum += values[i];
    return sum;
}

eunomia_status eunomia_bpf_get_stats(eunomia_instance *inst, struct eunomia_stats *stats)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (EUNOMIA_HAS_FIELD(stats, struct eunomia_stats, events_emitted))
        stats->events_emitted = bpf->emitted;
    if (EUNOMIA_HAS_FIELD(stats, struct eunomia_stats, events_lost))
        stats->events_lost = kernel_lost(bpf) + bpf->refused;
    return EUNOMIA_OK;
}

/* ---- ABI 1.2 ---- */

int32_t eunomia_bpf_wait_fd(eunomia_instance *inst)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    return bpf && bpf->state == RUNNING ? bpf->epoll_fd : -1;
}

int32_t eunomia_bpf_instance_map_fd(eunomia_instance *inst, const char *name)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (!bpf || !name)
        return -1;
    struct bpf_map *map = bpf_object__find_map_by_name(bpf->obj, name);
    int fd = map ? bpf_map__fd(map) : -1;
    return fd >= 0 ? fd : -1;
}

/* Maps that belong to one instance: the ring buffer and its loss counter and wakeup flag are
 * read by this instance's consumer; internal maps (.rodata, .bss) hold its configuration. */
static bool per_instance_map(const struct bpf_map *map)
{
    const char *name = bpf_map__name(map);
    return bpf_map__is_internal(map) || strcmp(name, "events") == 0 || strcmp(name, "eunomia_lost") == 0 ||
           strcmp(name, "eunomia_wakeup") == 0;
}

static const char *map_type_name(uint32_t type)
{
    const char *name = libbpf_bpf_map_type_str((enum bpf_map_type)type);
    return name ? name : "unknown";
}

/* Reuse one of the predecessor's maps; false (and one log line) when it cannot be. */
static bool reuse_map(struct eunomia_bpf *bpf, const char *name, int fd)
{
    struct bpf_map *map = bpf_object__find_map_by_name(bpf->obj, name);
    if (!map) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: not in this version: not carried", name);
        return false;
    }
    if (per_instance_map(map)) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: belongs to each instance: not carried", name);
        return false;
    }
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: fd %d of the running version is not a BPF map: not carried",
                        name, fd);
        return false;
    }
    char why[160] = "";
    uint32_t type = (uint32_t)bpf_map__type(map);
    if (type != info.type)
        snprintf(why, sizeof(why), "type %s here, %s in the running version", map_type_name(type),
                 map_type_name(info.type));
    else if (bpf_map__key_size(map) != info.key_size)
        snprintf(why, sizeof(why), "key size %u here, %u in the running version", bpf_map__key_size(map),
                 info.key_size);
    else if (bpf_map__value_size(map) != info.value_size)
        snprintf(why, sizeof(why), "value size %u here, %u in the running version", bpf_map__value_size(map),
                 info.value_size);
    else if (bpf_map__max_entries(map) != info.max_entries)
        snprintf(why, sizeof(why), "max entries %u here, %u in the running version", bpf_map__max_entries(map),
                 info.max_entries);
    else if (bpf_map__map_flags(map) != info.map_flags)
        snprintf(why, sizeof(why), "flags 0x%x here, 0x%x in the running version", bpf_map__map_flags(map),
                 info.map_flags);
    if (why[0]) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: %s: not carried", name, why);
        return false;
    }
    int e = bpf_map__reuse_fd(map, fd); /* dups fd: the predecessor keeps its own */
    if (e) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: cannot reuse the running version's: %s: not carried", name,
                        strerror(-e));
        return false;
    }
    return true;
}

eunomia_status eunomia_bpf_handover(eunomia_instance *inst, struct eunomia_handover *h, char *err, size_t err_size)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (!bpf || !h || !EUNOMIA_HAS_FIELD(h, struct eunomia_handover, maps) || (h->n_maps && !h->maps))
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "handover: no handover, or one older than this plugin understands");
    if (bpf->state != CREATED)
        FAIL(EUNOMIA_ERR_STATE, "handover must come between create and start");
    for (uint32_t i = 0; i < h->n_maps; i++) {
        struct eunomia_map_handover *m = &h->maps[i];
        m->result = m->name && reuse_map(bpf, m->name, m->fd) ? EUNOMIA_OK : EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    char why[256];
    if (eunomia_bpf_set_const(bpf, "eunomia_generation", &h->generation, sizeof(h->generation), why, sizeof(why)))
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN,
                        "%s: this tracker does not take part in the cutover; both versions report while both run",
                        why);
    return EUNOMIA_OK;
}
