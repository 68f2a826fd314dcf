/* tcpstates plugin: the family and port filters become BPF constants; the rest is generic. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool v4 = eunomia_config_bool(config, "ipv4"), v6 = eunomia_config_bool(config, "ipv6");
    uint16_t family = v4 == v6 ? 0 : v4 ? 2 /* AF_INET */ : 10 /* AF_INET6 */;
    uint16_t sport = (uint16_t)eunomia_config_int(config, "sport", 0);
    uint16_t dport = (uint16_t)eunomia_config_int(config, "dport", 0);
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_family", &family, sizeof(family), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_sport", &sport, sizeof(sport), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_dport", &dport, sizeof(dport), err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
