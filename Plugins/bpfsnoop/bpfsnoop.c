/* bpfsnoop plugin: the host's own tgid (so none of its loads are reported) and the command set. */
#include <unistd.h>

#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    /* The plugin runs inside the host process: its pid is the host's, the loader of every
     * tracker the host runs (this one included). */
    uint32_t host = (uint32_t)getpid();
    bool all = eunomia_config_bool(config, "all_commands");
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_host_tgid", &host, sizeof(host), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_all", &all, sizeof(all), err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
