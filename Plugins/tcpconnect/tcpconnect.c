/* tcpconnect plugin: kprobes where the kernel has them, else the tracepoint pair. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    uint16_t dport = (uint16_t)eunomia_config_int(config, "port", 0);
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_dport", &dport, sizeof(dport), err, err_size);
    if (rc != EUNOMIA_OK)
        return rc;
    if (eunomia_kprobe_available("tcp_v4_connect") && eunomia_kprobe_available("tcp_v6_connect")) {
        rc = eunomia_bpf_disable_program(bpf, "handle_set_state", err, err_size);
        if (rc == EUNOMIA_OK)
            rc = eunomia_bpf_disable_program(bpf, "handle_exit_connect", err, err_size);
        eunomia_bpf_log(bpf, EUNOMIA_LOG_INFO, "tcpconnect: using kprobes on tcp_v4_connect/tcp_v6_connect");
        return rc;
    }
    rc = eunomia_bpf_disable_section_prefix(bpf, "kprobe/", err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_disable_section_prefix(bpf, "kretprobe/", err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
