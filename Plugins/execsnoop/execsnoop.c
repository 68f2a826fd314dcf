/* execsnoop plugin: everything but its own constants and the optional execveat is generic. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool fails = eunomia_config_bool(config, "fails");
    uint32_t max_args = (uint32_t)eunomia_config_int(config, "max_args", 20);
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_fails", &fails, sizeof(fails), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_max_args", &max_args, sizeof(max_args), err, err_size);
    /* execveat(2) arrived in 3.19 and is missing on some architectures. */
    if (rc == EUNOMIA_OK && !eunomia_tracepoint_exists("syscalls", "sys_enter_execveat")) {
        rc = eunomia_bpf_disable_program(bpf, "handle_enter_execveat", err, err_size);
        if (rc == EUNOMIA_OK)
            rc = eunomia_bpf_disable_program(bpf, "handle_exit_execveat", err, err_size);
    }
    return rc;
}

EUNOMIA_BPF_PLUGIN("execsnoop", "0.1.0", configure)
