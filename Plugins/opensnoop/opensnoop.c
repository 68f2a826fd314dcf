/* opensnoop plugin: everything but the optional attach points is generic (eunomia_bpf.c). */
#include <stdio.h>

#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool failed = eunomia_config_bool(config, "failed");
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_failed", &failed, sizeof(failed), err, err_size);
    /* open(2) is absent on arm64 and openat2(2) before 5.6: trace what this kernel has. */
    static const char *const optional[] = { "open", "openat2" };
    for (size_t i = 0; rc == EUNOMIA_OK && i < sizeof(optional) / sizeof(optional[0]); i++) {
        char event[64], prog[64];
        snprintf(event, sizeof(event), "sys_enter_%s", optional[i]);
        if (eunomia_tracepoint_exists("syscalls", event))
            continue;
        snprintf(prog, sizeof(prog), "handle_enter_%s", optional[i]);
        rc = eunomia_bpf_disable_program(bpf, prog, err, err_size);
        snprintf(prog, sizeof(prog), "handle_exit_%s", optional[i]);
        if (rc == EUNOMIA_OK)
            rc = eunomia_bpf_disable_program(bpf, prog, err, err_size);
    }
    return rc;
}

EUNOMIA_BPF_PLUGIN("opensnoop", "0.1.0", configure)
