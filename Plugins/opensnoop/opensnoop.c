/* opensnoop plugin: everything but its one constant is generic (eunomia_bpf.c), including
 * skipping open(2) and openat2(2) on kernels that lack them. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool failed = eunomia_config_bool(config, "failed");
    return eunomia_bpf_set_const(bpf, "targ_failed", &failed, sizeof(failed), err, err_size);
}

EUNOMIA_PLUGIN(configure)
