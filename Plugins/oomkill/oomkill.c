/* oomkill plugin: the kprobe on oom_kill_process only adds the OOM context's total pages to
 * what mark_victim reports, so without kprobes the plugin runs on the tracepoint alone. */
#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    (void)config;
    if (eunomia_kprobe_available("oom_kill_process"))
        return EUNOMIA_OK;
    return eunomia_bpf_disable_section_prefix(bpf, "kprobe/", err, err_size);
}

EUNOMIA_BPF_PLUGIN("oomkill", "0.1.0", configure)
