/* bindsnoop plugin: the failed and port filters become BPF constants; the rest is generic. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool failed = eunomia_config_bool(config, "failed");
    uint16_t port = (uint16_t)eunomia_config_int(config, "port", 0);
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_failed", &failed, sizeof(failed), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_port", &port, sizeof(port), err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
