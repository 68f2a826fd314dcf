/* The configuration every plugin shares: the config object's getters, the common parameters
 * (pid, tid, uid, comm, interval, ringbuf_kb) as the BPF side's constants, the container filter
 * and the host's own exclusion. Called from eunomia_bpf_create, before and after load. */
#include "eunomia_bpf.h"
#include "eunomia_bpf_internal.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool eunomia_config_bool(const json_t *config, const char *key)
{
    return json_is_true(json_object_get(config, key));
}

long long eunomia_config_int(const json_t *config, const char *key, long long fallback)
{
    const json_t *v = json_object_get(config, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

const char *eunomia_config_string(const json_t *config, const char *key)
{
    const json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The container filter: the host resolves a `container` parameter (ABI 1.4) to the
 * container's cgroup ids and passes them as "_cgroup_ids" (a name no schema parameter can
 * have). Without it the filter map shrinks to one entry, costing nothing. An object built
 * before the filter existed cannot filter: refused, never silently unfiltered. */
static eunomia_status apply_container_filter(struct eunomia_bpf *bpf, const json_t *config, char *err,
                                             size_t err_size)
{
    const json_t *ids = json_object_get(config, "_cgroup_ids");
    struct bpf_map *map = bpf_object__find_map_by_name(bpf->obj, "eunomia_cgroups");
    if (!ids) {
        if (map)
            bpf_map__set_max_entries(map, 1);
        return EUNOMIA_OK;
    }
    size_t n = json_is_array(ids) ? json_array_size(ids) : 0;
    if (n == 0)
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "_cgroup_ids: expected a non-empty array of cgroup ids");
    if (!map)
        FAIL(EUNOMIA_ERR_BPF, "this plugin's BPF object has no container filter (built before ABI 1.4's eunomia.bpf.h)");
    if (n > bpf_map__max_entries(map))
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "the container has %zu cgroups; the filter holds at most %u", n,
             bpf_map__max_entries(map));
    bpf->cgroup_ids = calloc(n, sizeof(*bpf->cgroup_ids));
    if (!bpf->cgroup_ids)
        FAIL(EUNOMIA_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "_cgroup_ids[%zu]: expected a cgroup id (a positive integer)", i);
        bpf->cgroup_ids[i] = (uint64_t)json_integer_value(v);
    }
    bpf->n_cgroup_ids = n;
    uint8_t on = 1;
    return eunomia_bpf_set_const(bpf, "eunomia_targ_cgroups", &on, sizeof(on), err, err_size);
}

/* Writes the container filter's cgroups into the loaded object's map. */
eunomia_status eunomia_fill_container_filter_(struct eunomia_bpf *bpf, char *err, size_t err_size)
{
    if (!bpf->n_cgroup_ids)
        return EUNOMIA_OK;
    int fd = bpf_map__fd(bpf_object__find_map_by_name(bpf->obj, "eunomia_cgroups"));
    uint8_t one = 1;
    for (size_t i = 0; i < bpf->n_cgroup_ids; i++) {
        if (bpf_map_update_elem(fd, &bpf->cgroup_ids[i], &one, BPF_ANY))
            FAIL(EUNOMIA_ERR_BPF, "cannot fill the container filter: %s", strerror(errno));
    }
    return EUNOMIA_OK;
}

/* The host's own process is left out by default: the plugin runs inside it, and its own
 * work (reading the ring buffer, writing output files, loading other trackers' BPF objects)
 * would otherwise show up as events, feeding on itself. The boolean parameter include_host
 * (a schema that does not declare it: false) lets it in. An object built before
 * eunomia_host_tgid existed simply cannot exclude it: not an error. */
static eunomia_status apply_host_exclusion(struct eunomia_bpf *bpf, const json_t *config, uint32_t targ_tgid)
{
    uint32_t host = (uint32_t)getpid();
    if (eunomia_config_bool(config, "include_host"))
        return EUNOMIA_OK;
    char why[256];
    if (eunomia_bpf_set_const(bpf, "eunomia_host_tgid", &host, sizeof(host), why, sizeof(why)) != EUNOMIA_OK) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_DEBUG, "the host's own events are not excluded: %s", why);
        return EUNOMIA_OK;
    }
    if (targ_tgid == host)
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN,
                        "pid=%u is this host's own process, whose events are excluded%s", host,
                        json_object_get(config, "include_host") ? " (set include_host=true to see them)"
                                                                : " (this tracker has no include_host parameter)");
    return EUNOMIA_OK;
}

eunomia_status eunomia_apply_common_(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    eunomia_status rc;
    uint32_t tgid = (uint32_t)eunomia_config_int(config, "pid", 0);
    uint32_t tid = (uint32_t)eunomia_config_int(config, "tid", 0);
    uint32_t uid = (uint32_t)eunomia_config_int(config, "uid", -1);
    char comm[16] = { 0 };
    const char *c = eunomia_config_string(config, "comm");
    if (c)
        strncpy(comm, c, sizeof(comm) - 1);
    if ((rc = eunomia_bpf_set_const(bpf, "eunomia_targ_tgid", &tgid, sizeof(tgid), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "eunomia_targ_tid", &tid, sizeof(tid), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "eunomia_targ_uid", &uid, sizeof(uid), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "eunomia_targ_comm", comm, sizeof(comm), err, err_size)))
        return rc;

    if ((rc = apply_host_exclusion(bpf, config, tgid)))
        return rc;
    if ((rc = apply_container_filter(bpf, config, err, err_size)))
        return rc;

    long long interval = eunomia_config_int(config, "interval", 0);
    if (interval < 0)
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "interval=%lld: must be 0 (report at the end) or a number of seconds",
             interval);
    bpf->interval_ns = (uint64_t)interval * 1000000000ull;

    long long kb = eunomia_config_int(config, "ringbuf_kb", 0);
    if (kb > 0) {
        struct bpf_map *rb = bpf_object__find_map_by_name(bpf->obj, "events");
        long page = sysconf(_SC_PAGESIZE);
        unsigned long long bytes = (unsigned long long)kb * 1024;
        if ((bytes & (bytes - 1)) || bytes < (unsigned long long)page)
            FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "ringbuf_kb=%lld: must be a power of two of at least %ld", kb,
                 page / 1024);
        if (!rb || bpf_map__set_max_entries(rb, (uint32_t)bytes))
            FAIL(EUNOMIA_ERR_BPF, "cannot size the events ring buffer to %lld KiB", kb);
    }
    return EUNOMIA_OK;
}
