/* exitsnoop plugin: everything but its own constants is generic (eunomia_bpf.c). */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool failed = eunomia_config_bool(config, "failed");
    bool threaded = eunomia_config_bool(config, "threaded");
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_failed", &failed, sizeof(failed), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_threaded", &threaded, sizeof(threaded), err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
