#define _GNU_SOURCE
/* The plugin helper's instance lifecycle: create (configure, load), start (attach, ring buffer,
 * wait fd, wakeup), poll, reports, stop and retire, destroy, stats. The configuration every
 * plugin shares (common parameters, container filter, host exclusion) is in eunomia_config.c,
 * map and object utilities and the hot-swap handover in eunomia_maps.c, attach points in
 * eunomia_attach.c. */
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


struct bpf_object *eunomia_bpf_object(struct eunomia_bpf *bpf) { return bpf->obj; }
bool eunomia_bpf_created_(struct eunomia_bpf *bpf) { return bpf->state == CREATED; }

void eunomia_bpf_log(struct eunomia_bpf *bpf, int32_t level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bpf->host->log(bpf->host->host_ctx, level, msg);
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
        rc = eunomia_apply_common_(bpf, config, err, err_size);
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
void eunomia_bpf_set_after_load(struct eunomia_bpf *bpf, eunomia_bpf_after_load_fn fn) { bpf->after_load = fn; }

void eunomia_bpf_set_user(struct eunomia_bpf *bpf, void *user, void (*free_fn)(void *))
{
    if (bpf->free_user && bpf->user && bpf->user != user)
        bpf->free_user(bpf->user);
    bpf->user = user;
    bpf->free_user = free_fn;
}

void *eunomia_bpf_user(struct eunomia_bpf *bpf) { return bpf->user; }

void eunomia_bpf_events_unused(struct eunomia_bpf *bpf)
{
    struct bpf_map *events = bpf_object__find_map_by_name(bpf->obj, "events");
    if (events)
        bpf_map__set_max_entries(events, (uint32_t)sysconf(_SC_PAGESIZE));
}

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

/* One info line naming every attached program's section: which path a tracker took where it
 * has a fallback (kprobe or tracepoint, tp_btf or raw_tp) is never a guess. uprobe and
 * perf_event programs are attached by the plugin's callback (which logs what it skips). */
static void log_attached(struct eunomia_bpf *bpf)
{
    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof(line), "attached:");
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, bpf->obj) {
        if (!bpf_program__autoload(prog))
            continue;
        int n = snprintf(line + used, sizeof(line) - used, " %s%s", bpf_program__section_name(prog),
                         needs_manual_attach(prog) ? " (by the plugin)" : "");
        if (n < 0 || (size_t)n >= sizeof(line) - used) {
            snprintf(line + sizeof(line) - 5, 5, " ...");
            break;
        }
        used += (size_t)n;
    }
    eunomia_bpf_log(bpf, EUNOMIA_LOG_INFO, "%s", line);
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
    eunomia_status filled = eunomia_fill_container_filter_(bpf, err, err_size);
    if (filled != EUNOMIA_OK)
        return filled;
    /* Maps exist and their fds are valid; nothing is attached yet, so what the hook writes is
     * in place before the first event. */
    if (bpf->after_load) {
        if (err_size)
            err[0] = 0;
        filled = bpf->after_load(bpf, err, err_size);
        if (filled != EUNOMIA_OK) {
            if (err_size && !err[0])
                snprintf(err, err_size, "the after-load hook failed (status %d)", (int)filled);
            return filled;
        }
    }
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
    log_attached(bpf);
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
    free(bpf->cgroup_ids);
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
