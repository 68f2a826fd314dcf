// SPDX-License-Identifier: GPL-2.0
/* profile: a CPU-clock perf event samples every CPU; each sample counts the running task's
 * user and kernel stacks. The plugin's attach callback opens the perf events. */
#include "eunomia.bpf.h"
#include "profile.h"

const volatile bool targ_user_only = false;
const volatile bool targ_kernel_only = false;
const volatile bool targ_include_idle = false;

/* max_entries is the stack_storage_size parameter, set before load. */
struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __uint(value_size, PROFILE_MAX_DEPTH * sizeof(__u64));
} stackmap SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, PROFILE_MAX_ENTRIES);
    __type(key, struct profile_key);
    __type(value, __u64);
} counts SEC(".maps");

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    /* Thread id 0 is a CPU's idle task (comm swapper/N). */
    if (!targ_include_idle && (__u32)id == 0)
        return 0;
    if (!eunomia_task_allowed())
        return 0;
    /* Hot swap: each version samples on its own perf events; a sample counts only in the
     * version that owns its moment, so the two together sample at the set frequency. */
    if (!eunomia_owned_alone())
        return 0;

    struct profile_key key = { .pid = id >> 32 };
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    key.kern_stack_id = targ_user_only ? -1 : bpf_get_stackid(&ctx->regs, &stackmap, 0);
    key.user_stack_id = targ_kernel_only ? -1 : bpf_get_stackid(&ctx->regs, &stackmap, BPF_F_USER_STACK);

    __u64 *count = bpf_map_lookup_elem(&counts, &key);
    if (!count) {
        __u64 zero = 0;
        /* Another CPU may have inserted the key meanwhile: NOEXIST keeps its count. */
        bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
        count = bpf_map_lookup_elem(&counts, &key);
        if (!count) /* the map is full */
            return 0;
    }
    __sync_fetch_and_add(count, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
