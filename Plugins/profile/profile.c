/* profile plugin: parameters become BPF constants, the attach callback starts CPU-clock
 * sampling at `frequency` Hz, and each report drains the counts map into rows of
 * (count, pid, comm, user stack, kernel stack) that the host sorts, symbolizes and folds. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include <linux/types.h>
#include "profile.h"

enum { REC_SAMPLES = 0 };

struct state {
    uint64_t frequency;
    bool user_only;
    bool kernel_only;
    bool interval; /* reports every `interval` seconds: stacks are freed after each */
    __s32 *stack_ids;
};

static void free_state(void *p)
{
    struct state *st = p;
    free(st->stack_ids);
    free(st);
}

/* -EFAULT means there was no such stack (a kernel thread's user stack, a user-mode sample's
 * kernel stack); other errors mean it was lost (stack map full or a hash collision). */
static bool stack_missed(__s32 id) { return id < 0 && id != -EFAULT; }

static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    struct state *st = eunomia_bpf_user(bpf);
    int stacks = eunomia_bpf_map_fd(bpf, "stackmap");
    struct profile_key *keys;
    __u64 *counts;
    /* Each report counts from zero. */
    long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "counts"), sizeof(*keys), sizeof(*counts), true,
                                  (void **)&keys, (void **)&counts);
    if (n < 0) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }

    struct profile_row row;
    size_t nids = 0;
    unsigned long long missed_user = 0, missed_kernel = 0;
    for (long i = 0; i < n && nids + 2 <= 2 * PROFILE_MAX_ENTRIES; i++) {
        const struct profile_key *k = &keys[i];
        __u64 count = counts[i];
        memset(&row, 0, sizeof(row));
        row.count = count;
        row.pid = k->pid;
        memcpy(row.comm, k->comm, sizeof(row.comm));
        row.comm[sizeof(row.comm) - 1] = 0;
        eunomia_bpf_read_stack(stacks, k->user_stack_id, (uint64_t *)row.ustack, PROFILE_MAX_DEPTH);
        eunomia_bpf_read_stack(stacks, k->kern_stack_id, (uint64_t *)row.kstack, PROFILE_MAX_DEPTH);
        if (!st->kernel_only && stack_missed(k->user_stack_id))
            missed_user += count;
        if (!st->user_only && stack_missed(k->kern_stack_id))
            missed_kernel += count;
        eunomia_bpf_emit(bpf, REC_SAMPLES, &row, sizeof(row));
        if (k->user_stack_id >= 0)
            st->stack_ids[nids++] = k->user_stack_id;
        if (k->kern_stack_id >= 0)
            st->stack_ids[nids++] = k->kern_stack_id;
    }
    free(keys);
    free(counts);
    if (missed_user || missed_kernel)
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN,
                        "profile: %llu samples lost their user stack, %llu their kernel stack "
                        "(stack map full or hash collisions; raise stack_storage_size)",
                        missed_user, missed_kernel);
    /* With periodic reports the stack map would fill up over time; free the stacks just
     * printed. A sample taken meanwhile with one of these stacks loses its frames. */
    if (st->interval && !final)
        for (size_t i = 0; i < nids; i++)
            bpf_map_delete_elem(stacks, &st->stack_ids[i]);
    return EUNOMIA_OK;
}

static eunomia_status attach(struct eunomia_bpf *bpf, char *err, size_t err_size)
{
    struct state *st = eunomia_bpf_user(bpf);
    return eunomia_bpf_attach_perf_event(bpf, "do_sample", st->frequency, err, err_size);
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool user_only = eunomia_config_bool(config, "user_only");
    bool kernel_only = eunomia_config_bool(config, "kernel_only");
    bool idle = eunomia_config_bool(config, "include_idle");
    long long freq = eunomia_config_int(config, "frequency", 49);
    long long storage = eunomia_config_int(config, "stack_storage_size", 1024);
    if (user_only && kernel_only) {
        snprintf(err, err_size, "user_only and kernel_only exclude each other (leave both false for both stacks)");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    if (freq <= 0 || storage <= 0) {
        snprintf(err, err_size, "frequency and stack_storage_size must be positive");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    eunomia_status rc;
    if ((rc = eunomia_bpf_set_const(bpf, "targ_user_only", &user_only, sizeof(user_only), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_kernel_only", &kernel_only, sizeof(kernel_only), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_include_idle", &idle, sizeof(idle), err, err_size)))
        return rc;

    struct bpf_object *obj = eunomia_bpf_object(bpf);
    struct bpf_map *stackmap = bpf_object__find_map_by_name(obj, "stackmap");
    if (!stackmap || bpf_map__set_max_entries(stackmap, (uint32_t)storage)) {
        snprintf(err, err_size, "cannot size the stack map to %lld entries", storage);
        return EUNOMIA_ERR_INTERNAL;
    }
    eunomia_bpf_events_unused(bpf);

    struct state *st = calloc(1, sizeof(*st));
    if (st)
        st->stack_ids = calloc(2 * PROFILE_MAX_ENTRIES, sizeof(*st->stack_ids));
    if (!st || !st->stack_ids) {
        if (st)
            free_state(st);
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->frequency = (uint64_t)freq;
    st->user_only = user_only;
    st->kernel_only = kernel_only;
    st->interval = eunomia_config_int(config, "interval", 0) > 0;
    eunomia_bpf_set_user(bpf, st, free_state);
    eunomia_bpf_set_report(bpf, report);
    eunomia_bpf_set_attach(bpf, attach);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
