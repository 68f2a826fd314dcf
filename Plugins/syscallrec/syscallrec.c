/* syscallrec plugin: the `pid` parameter becomes the BPF constant root_tgid; each report lists
 * every syscall counted since the start (not from zero, as syscount does: a profile is the
 * union of everything seen), named from the table in syscall_names.c (shared with syscount).
 * Numbers the table does not know get a bracketed placeholder and known = 0, so a consumer
 * (eunomia seccomp record) can tell them from names. */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eunomia_bpf.h"

#include <linux/types.h>
#include "syscall_names.h"
#include "syscallrec.h"

enum { REC_SYSCALLS = 0 };

static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    (void)final;
    uint32_t *keys;
    uint64_t *values;
    long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "counts"), sizeof(*keys), sizeof(*values), false,
                                  (void **)&keys, (void **)&values);
    if (n < 0) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    for (long i = 0; i < n; i++) {
        struct row r = { .count = values[i], .nr = keys[i] };
        const char *name = (keys[i] & SYSCALLREC_COMPAT_BIT) ? NULL : syscall_name(keys[i]);
        if (name) {
            snprintf(r.syscall, sizeof(r.syscall), "%s", name);
            r.known = 1;
        } else if (keys[i] & SYSCALLREC_COMPAT_BIT) {
            snprintf(r.syscall, sizeof(r.syscall), "[32-bit: %u]", keys[i] & ~SYSCALLREC_COMPAT_BIT);
        } else {
            snprintf(r.syscall, sizeof(r.syscall), "[unknown: %u]", keys[i]);
        }
        eunomia_bpf_emit(bpf, REC_SYSCALLS, &r, sizeof(r));
    }
    free(keys);
    free(values);
    return EUNOMIA_OK;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    /* The helper also sets eunomia_targ_tgid from `pid`; the BPF side never consults it with a
     * root (eunomia_task_allowed would drop the children). */
    uint32_t root = (uint32_t)eunomia_config_int(config, "pid", 0);
    eunomia_status rc = eunomia_bpf_set_const(bpf, "root_tgid", &root, sizeof(root), err, err_size);
    if (rc)
        return rc;
    /* Without a root nothing is tracked: fork and exit need not run. */
    if (!root && ((rc = eunomia_bpf_disable_program(bpf, "sched_process_fork", err, err_size)) ||
                  (rc = eunomia_bpf_disable_program(bpf, "sched_process_exit", err, err_size))))
        return rc;
    eunomia_bpf_events_unused(bpf);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
