/* runqlat plugin: parameters become BPF constants; the report reads the hists map and emits
 * one histogram per key (everything, a process or a thread), like libbpf-tools. */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include "runqlat.h"


struct state {
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
    uint32_t *keys;
    struct hist *hists;
    long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "hists"), sizeof(*keys), sizeof(*hists), !st->cumulative,
                                  (void **)&keys, (void **)&hists);
    struct hist_record *recs = n >= 0 ? calloc((size_t)n + 1, sizeof(*recs)) : NULL;
    if (!recs) {
        free(keys);
        free(hists);
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    for (long i = 0; i < n; i++) {
        struct hist_record *r = &recs[i];
        r->id = keys[i];
        memcpy(r->comm, hists[i].comm, sizeof(r->comm));
        r->comm[sizeof(r->comm) - 1] = 0;
        memcpy(r->slots, hists[i].slots, sizeof(r->slots));
    }
    qsort(recs, (size_t)n, sizeof(*recs), by_id);
    for (long i = 0; i < n; i++)
        eunomia_bpf_emit(bpf, 0, &recs[i], sizeof(recs[i]));
    free(keys);
    free(hists);
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

    eunomia_bpf_events_unused(bpf);

    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->cumulative = eunomia_config_bool(config, "cumulative");
    eunomia_bpf_set_user(bpf, st, free);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
