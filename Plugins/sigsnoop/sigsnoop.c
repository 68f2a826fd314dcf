/* sigsnoop plugin: constants, the signal list, and which attach points the mode needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eunomia_bpf.h"

/* "1,9,15" -> bit sig-1 per signal; "" -> 0 (all). */
static eunomia_status parse_signals(const char *list, uint64_t *mask, char *err, size_t err_size)
{
    *mask = 0;
    for (const char *p = list ? list : ""; *p;) {
        char *end;
        long sig = strtol(p, &end, 10);
        if (end == p || sig < 1 || sig > 64 || (*end && *end != ',')) {
            snprintf(err, err_size, "signal: '%s' is not a comma-separated list of signal numbers 1-64", list);
            return EUNOMIA_ERR_INVALID_ARGUMENT;
        }
        *mask |= 1ULL << (sig - 1);
        p = *end ? end + 1 : end;
    }
    return EUNOMIA_OK;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool kill = eunomia_config_bool(config, "kill");
    bool failed = eunomia_config_bool(config, "failed");
    int32_t tpid = (int32_t)eunomia_config_int(config, "target_pid", 0);
    uint64_t signals;
    eunomia_status rc = parse_signals(eunomia_config_string(config, "signal"), &signals, err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_kill", &kill, sizeof(kill), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_failed", &failed, sizeof(failed), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_signals", &signals, sizeof(signals), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_bpf_set_const(bpf, "targ_tpid", &tpid, sizeof(tpid), err, err_size);
    /* Default mode traces signal_generate alone; kill mode adds the kill syscalls and keeps
     * signal_generate for the target's comm. */
    if (rc == EUNOMIA_OK && !kill)
        rc = eunomia_bpf_disable_section_prefix(bpf, "tracepoint/syscalls/", err, err_size);
    return rc;
}

EUNOMIA_PLUGIN(configure)
