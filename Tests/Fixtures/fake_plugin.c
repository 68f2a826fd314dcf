/* A plugin with no BPF: poll emits `count` records once. Built by the tests with cc, with
 * macros that bend its table to test the host's ABI checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eunomia/plugin.h"

#ifndef FAKE_ABI_MAJOR
#define FAKE_ABI_MAJOR EUNOMIA_ABI_MAJOR
#endif
#ifndef FAKE_ABI_MINOR
#define FAKE_ABI_MINOR EUNOMIA_ABI_MINOR
#endif
#ifndef FAKE_TABLE_SIZE
#define FAKE_TABLE_SIZE sizeof(struct eunomia_plugin)
#endif
#ifndef FAKE_VERSION
#define FAKE_VERSION "1.0.0"
#endif

struct record {
    unsigned long long seq;
    unsigned int tag;
    char text[16];
};

struct eunomia_instance {
    const struct eunomia_host_api *host;
    unsigned long long count, emitted, lost;
    unsigned int tag;
    int polled;
    int report; /* stop hands over a final report of `count` rows (ABI 1.1) */
};

static unsigned long long config_number(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *at = strstr(json, pattern);
    return at ? strtoull(at + strlen(pattern), NULL, 10) : 0;
}

static eunomia_status fake_create(const struct eunomia_create_args *args, eunomia_instance **out, char *err,
                                  size_t err_size)
{
    struct eunomia_instance *inst = calloc(1, sizeof(*inst));
    if (!inst) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    if (config_number(args->config_json, "fail_create")) {
        free(inst);
        snprintf(err, err_size, "fail_create was set");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    inst->host = args->host;
    inst->count = config_number(args->config_json, "count");
    inst->tag = (unsigned int)config_number(args->config_json, "tag");
    inst->report = (int)config_number(args->config_json, "report");
    *out = inst;
    return EUNOMIA_OK;
}

static eunomia_status fake_start(eunomia_instance *inst, char *err, size_t err_size)
{
    (void)inst, (void)err, (void)err_size;
    return EUNOMIA_OK;
}

static eunomia_status fake_poll(eunomia_instance *inst, int32_t timeout_ms, uint64_t *delivered, char *err,
                                size_t err_size)
{
    (void)timeout_ms, (void)err, (void)err_size;
    *delivered = 0;
    if (inst->polled++)
        return EUNOMIA_OK;
    for (unsigned long long i = 0; i < inst->count; i++) {
        struct record r = { .seq = i, .tag = inst->tag };
        snprintf(r.text, sizeof(r.text), "v%s", FAKE_VERSION);
        if (inst->host->emit(inst->host->host_ctx, 0, &r, sizeof(r)) == 0) {
            inst->emitted++;
            (*delivered)++;
        } else {
            inst->lost++;
        }
    }
    return EUNOMIA_OK;
}

static eunomia_status fake_stop(eunomia_instance *inst, char *err, size_t err_size)
{
    (void)err, (void)err_size;
    if (!inst->report || !EUNOMIA_HAS_FIELD(inst->host, struct eunomia_host_api, end_report))
        return EUNOMIA_OK;
    for (unsigned long long i = 0; i < inst->count; i++) {
        struct record r = { .seq = i, .tag = inst->tag };
        snprintf(r.text, sizeof(r.text), "row%llu", i);
        if (inst->host->emit(inst->host->host_ctx, 1, &r, sizeof(r)) == 0)
            inst->emitted++;
    }
    inst->host->end_report(inst->host->host_ctx, 1000000000ull);
    return EUNOMIA_OK;
}

static void fake_destroy(eunomia_instance *inst) { free(inst); }

static eunomia_status fake_stats(eunomia_instance *inst, struct eunomia_stats *stats)
{
    if (EUNOMIA_HAS_FIELD(stats, struct eunomia_stats, events_emitted))
        stats->events_emitted = inst->emitted;
    if (EUNOMIA_HAS_FIELD(stats, struct eunomia_stats, events_lost))
        stats->events_lost = inst->lost;
    return EUNOMIA_OK;
}

static const struct eunomia_plugin table = {
    .struct_size = FAKE_TABLE_SIZE,
    .abi_major = FAKE_ABI_MAJOR,
    .abi_minor = FAKE_ABI_MINOR,
    .name = "fake",
    .version = FAKE_VERSION,
    .create = fake_create,
    .start = fake_start,
    .poll = fake_poll,
    .stop = fake_stop,
    .destroy = fake_destroy,
    .get_stats = fake_stats,
};

EUNOMIA_EXPORT const struct eunomia_plugin *eunomia_plugin_entry(uint16_t major, uint16_t minor)
{
    (void)major, (void)minor;
    return &table;
}
