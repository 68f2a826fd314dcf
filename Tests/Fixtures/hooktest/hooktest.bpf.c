// SPDX-License-Identifier: GPL-2.0
/* hooktest: a test tracker for the helper's runtime conventions (HelperKernelTests). Every
 * getppid(2) makes a record carrying the value the after-load hook wrote into the `cookie` map
 * (so a record proves the hook ran before the first event), and, with the stack parameter,
 * the kernel stack sent with eunomia_output_array (so a record is as long as its stack). */
#include "eunomia.bpf.h"

#define MAX_FRAMES 32 /* a power of two: eunomia_output_array masks the count with it */

struct event {
    __u64 ts;
    __u32 pid;
    __u32 frames;
    __u64 cookie;
    char comm[TASK_COMM_LEN];
    __u64 kstack[MAX_FRAMES];
};

const volatile bool targ_stack = false;

/* Filled by the plugin's after-load hook, read by every event. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} cookie SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int handle_getppid(struct trace_event_raw_sys_enter *ctx)
{
    if (!eunomia_task_allowed())
        return 0;
    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        return 0;
    __u64 *c = bpf_map_lookup_elem(&cookie, &zero);
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->cookie = c ? *c : 0;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    long n = 0;
    if (targ_stack) {
        long len = bpf_get_stack(ctx, e->kstack, sizeof(e->kstack), 0);
        n = len > 0 ? len / sizeof(e->kstack[0]) : 0;
    }
    e->frames = n;
    eunomia_output_array(e, kstack, n);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
