/* statsnoop plugin: everything but its constants is generic (eunomia_bpf.c), including
 * skipping the stat variants a kernel lacks. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool failed = eunomia_config_bool(config, "failed");
    bool fstat = eunomia_config_bool(config, "fstat");
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_failed", &failed, sizeof(failed), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_fstat", &fstat, sizeof(fstat), err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
