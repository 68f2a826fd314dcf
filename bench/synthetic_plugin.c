/* Benchmark-only plugin: poll emits fixed opensnoop-shaped records as fast as the host takes
 * them, `count` in total, in batches of `batch`. Measures the host's ABI + decode + format path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eunomia/plugin.h"

struct record { /* the same layout as opensnoop's struct event, path cut to its used length */
    unsigned long long ts, flags;
    unsigned int pid, tid, uid;
    int fd, err;
    unsigned int mode;
    unsigned long long cgroup_id;
    unsigned int mount_ns, pid_ns;
    char comm[16];
    char path[64];
};

struct eunomia_instance {
    const struct eunomia_host_api *host;
    unsigned long long remaining, batch, emitted, lost;
    struct record rec;
    size_t size;
};

static unsigned long long config_number(const char *json, const char *key, unsigned long long fallback)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *at = strstr(json, pattern);
    return at ? strtoull(at + strlen(pattern), NULL, 10) : fallback;
}

static eunomia_status s_create(const struct eunomia_create_args *args, eunomia_instance **out, char *err, size_t n)
{
    struct eunomia_instance *inst = calloc(1, sizeof(*inst));
    if (!inst) {
        snprintf(err, n, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    inst->host = args->host;
    inst->remaining = config_number(args->config_json, "count", 10000000);
    inst->batch = config_number(args->config_json, "batch", 4096);
    inst->rec = (struct record){ .ts = 1000000000ULL, .flags = 02000000, .pid = 4242, .tid = 4242, .fd = 3 };
    /* Records from a task in this cgroup (0: none), for the cost of naming its container. Set
     * after the record is initialised: before, the initialiser cleared it. */
    inst->rec.cgroup_id = config_number(args->config_json, "cgroup_id", 0);
    strcpy(inst->rec.comm, "loadgen");
    strcpy(inst->rec.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    inst->size = offsetof(struct record, path) + strlen(inst->rec.path) + 1;
    *out = inst;
    return EUNOMIA_OK;
}

static eunomia_status s_start(eunomia_instance *i, char *e, size_t n) { (void)i, (void)e, (void)n; return EUNOMIA_OK; }
static eunomia_status s_stop(eunomia_instance *i, char *e, size_t n) { (void)i, (void)e, (void)n; return EUNOMIA_OK; }
static void s_destroy(eunomia_instance *i) { free(i); }

static eunomia_status s_poll(eunomia_instance *inst, int32_t timeout_ms, uint64_t *delivered, char *err, size_t n)
{
    (void)timeout_ms, (void)err, (void)n;
    unsigned long long todo = inst->remaining < inst->batch ? inst->remaining : inst->batch;
    for (unsigned long long k = 0; k < todo; k++) {
        inst->rec.ts += 1000;
        inst->rec.fd = (int)(k & 63);
        if (inst->host->emit(inst->host->host_ctx, 0, &inst->rec, (uint32_t)inst->size) == 0)
            inst->emitted++;
        else
            inst->lost++;
    }
    inst->remaining -= todo;
    *delivered = todo;
    return EUNOMIA_OK;
}

static eunomia_status s_stats(eunomia_instance *inst, struct eunomia_stats *stats)
{
    stats->events_emitted = inst->emitted;
    stats->events_lost = inst->lost;
    return EUNOMIA_OK;
}

static const struct eunomia_plugin table = {
    .struct_size = sizeof(struct eunomia_plugin),
    .abi_major = EUNOMIA_ABI_MAJOR,
    .abi_minor = EUNOMIA_ABI_MINOR,
    .name = "synthetic",
    .version = "1.0.0",
    .create = s_create,
    .start = s_start,
    .poll = s_poll,
    .stop = s_stop,
    .destroy = s_destroy,
    .get_stats = s_stats,
};

EUNOMIA_EXPORT const struct eunomia_plugin *eunomia_plugin_entry(uint16_t major, uint16_t minor)
{
    (void)major, (void)minor;
    return &table;
}
