/* runqlat plugin: parameters become BPF constants; the report reads the hists map and emits
 * one histogram per key (everything, a process or a thread), like libbpf-tools. */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include "runqlat.h"

#define MAX_KEYS 10240

struct state {
    uint32_t record_id; /* 0, 2 or 4 (usecs), + 1 for msecs */
    bool cumulative;
};

static int by_id(const void *a, const void *b)
{
    const struct hist_record *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    (void)final;
    struct state *st = eunomia_bpf_user(bpf);
    int fd = eunomia_bpf_map_fd(bpf, "hists");
    uint32_t *keys = calloc(MAX_KEYS, sizeof(*keys));
    struct hist_record *recs = calloc(MAX_KEYS, sizeof(*recs));
    if (!keys || !recs) {
        free(keys);
        free(recs);
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    /* Collect the keys first: deleting while walking a hash map can restart the walk. */
    size_t n = 0;
    uint32_t *prev = NULL;
    while (n < MAX_KEYS && bpf_map_get_next_key(fd, prev, &keys[n]) == 0) {
        prev = &keys[n];
        n++;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct hist h;
        if (bpf_map_lookup_elem(fd, &keys[i], &h))
            continue;
        /* Counts that arrive between this lookup and the delete are lost, as in libbpf-tools. */
        if (!st->cumulative)
            bpf_map_delete_elem(fd, &keys[i]);
        struct hist_record *r = &recs[m++];
        r->id = keys[i];
        memcpy(r->comm, h.comm, sizeof(r->comm));
        r->comm[sizeof(r->comm) - 1] = 0;
        memcpy(r->slots, h.slots, sizeof(r->slots));
    }
    qsort(recs, m, sizeof(*recs), by_id);
    for (size_t i = 0; i < m; i++)
        eunomia_bpf_emit(bpf, st->record_id, &recs[i], sizeof(recs[i]));
    free(keys);
    free(recs);
    return EUNOMIA_OK;
}

static const char *const progs[] = { "sched_wakeup", "sched_wakeup_new", "sched_switch" };

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool ms = eunomia_config_bool(config, "milliseconds");
    bool per_process = eunomia_config_bool(config, "per_process");
    bool per_thread = eunomia_config_bool(config, "per_thread");
    if (per_process && per_thread) {
        snprintf(err, err_size, "per_process and per_thread are mutually exclusive");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    eunomia_status rc;
    if ((rc = eunomia_bpf_set_const(bpf, "targ_ms", &ms, sizeof(ms), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_per_process", &per_process, sizeof(per_process), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_per_thread", &per_thread, sizeof(per_thread), err, err_size)))
        return rc;

    /* tp_btf/ where the kernel's BTF has all three raw tracepoints, else the raw_tp/ copies. */
    bool btf = true;
    for (size_t i = 0; i < 3; i++)
        btf = btf && eunomia_tp_btf_available(progs[i]);
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_%s", progs[i], btf ? "raw" : "btf");
        if ((rc = eunomia_bpf_disable_program(bpf, name, err, err_size)))
            return rc;
    }
    eunomia_bpf_log(bpf, EUNOMIA_LOG_DEBUG, "runqlat: %s programs", btf ? "tp_btf" : "raw_tp");

    /* Histograms travel through the hists map; the events ring buffer stays empty. */
    struct bpf_map *events = bpf_object__find_map_by_name(eunomia_bpf_object(bpf), "events");
    if (events)
        bpf_map__set_max_entries(events, (uint32_t)sysconf(_SC_PAGESIZE));

    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->record_id = (per_process ? 2 : per_thread ? 4 : 0) + (ms ? 1 : 0);
    st->cumulative = eunomia_config_bool(config, "cumulative");
    eunomia_bpf_set_user(bpf, st, free);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_BPF_PLUGIN("runqlat", "0.1.0", configure)
