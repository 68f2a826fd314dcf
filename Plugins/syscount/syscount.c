/* syscount plugin: parameters become BPF constants; each report drains the counts map into
 * rows (syscall names from the table in syscall_names.c), which the host sorts and cuts to
 * `top` rows, like libbpf-tools syscount. */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include <linux/types.h>
#include "syscall_names.h"
#include "syscount.h"

/* One record layout (schema.json): which keys and units it shows follows the parameters. */
struct state {
    bool by_process;
};

static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    (void)final;
    struct state *st = eunomia_bpf_user(bpf);
    uint32_t *keys;
    struct counts *values;
    /* Every report starts from zero, as in libbpf-tools. */
    long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "data"), sizeof(*keys), sizeof(*values), true,
                                  (void **)&keys, (void **)&values);
    if (n < 0) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    for (long i = 0; i < n; i++) {
        const struct counts c = values[i];
        struct row r = { .count = c.count, .total_ns = c.total_ns };
        if (st->by_process) {
            r.pid = keys[i];
            memcpy(r.comm, c.comm, sizeof(r.comm));
            r.comm[sizeof(r.comm) - 1] = 0;
        } else {
            r.nr = keys[i];
            const char *name = syscall_name(keys[i]);
            if (name)
                snprintf(r.syscall, sizeof(r.syscall), "%s", name);
            else
                snprintf(r.syscall, sizeof(r.syscall), "[unknown: %u]", keys[i]);
        }
        eunomia_bpf_emit(bpf, 0, &r, sizeof(r));
    }
    free(keys);
    free(values);
    return EUNOMIA_OK;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool by_process = eunomia_config_bool(config, "by_process");
    bool latency = eunomia_config_bool(config, "latency");
    bool failed = eunomia_config_bool(config, "failures");
    int errnum = (int)eunomia_config_int(config, "errno", 0);
    eunomia_status rc;
    if ((rc = eunomia_bpf_set_const(bpf, "count_by_process", &by_process, sizeof(by_process), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "measure_latency", &latency, sizeof(latency), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "filter_failed", &failed, sizeof(failed), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "filter_errno", &errnum, sizeof(errnum), err, err_size)))
        return rc;
    /* Counting needs only sys_exit; sys_enter on every syscall is paid only to time them. */
    if (!latency && (rc = eunomia_bpf_disable_program(bpf, "sys_enter", err, err_size)))
        return rc;

    eunomia_bpf_events_unused(bpf);

    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->by_process = by_process;
    eunomia_bpf_set_user(bpf, st, free);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
