/* bpfsnoop plugin: the command set. The host's own loads (of every tracker it runs, this one
 * included) are left out by the helper's common host exclusion (eunomia_host_tgid). */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool all = eunomia_config_bool(config, "all_commands");
    return eunomia_bpf_set_const(bpf, "targ_all", &all, sizeof(all), err, err_size);
}

EUNOMIA_PLUGIN(configure)
