/* execsnoop plugin: everything but its own constants is generic (eunomia_bpf.c), including
 * skipping execveat(2) where the kernel lacks it. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool fails = eunomia_config_bool(config, "fails");
    uint32_t max_args = (uint32_t)eunomia_config_int(config, "max_args", 20);
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_fails", &fails, sizeof(fails), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_max_args", &max_args, sizeof(max_args), err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
