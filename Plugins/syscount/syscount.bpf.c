// SPDX-License-Identifier: GPL-2.0
/* syscount: count system calls per syscall or per process, optionally with the time spent
 * in them, from the raw_syscalls tracepoints. sys_enter is only attached to time calls. */
#include "eunomia.bpf.h"
#include "syscount.h"

const volatile bool count_by_process = false;
const volatile bool measure_latency = false;
const volatile bool filter_failed = false;
const volatile int filter_errno = 0;

/* Entry time of the syscall each thread is in (with latency). Carried over in a hot swap, with
 * data. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SYSCOUNT_MAX_ENTRIES);
    __type(key, __u32);
    __type(value, struct counts);
} data SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
    if (!eunomia_task_allowed())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
    long nr = ctx->id, ret = ctx->ret;
    /* id -1: not a system call (e.g. the kernel returning to user space after a signal). */
    if (nr == -1)
        return 0;
    if (!eunomia_task_allowed())
        return 0;
    /* Not ours (hot swap): the other version counts it (and takes the entry time). */
    if (!eunomia_owned())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u64 lat = 0;
    if (measure_latency) {
        __u32 tid = (__u32)id;
        __u64 *ts = bpf_map_lookup_elem(&start, &tid);
        /* Calls already running when tracing started have no entry time: skip them. */
        if (!ts)
            return 0;
        lat = bpf_ktime_get_ns() - *ts;
        /* Deleted so that threads that exit do not fill the map. */
        bpf_map_delete_elem(&start, &tid);
    }
    if (filter_failed && ret >= 0)
        return 0;
    if (filter_errno && ret != -filter_errno)
        return 0;

    __u32 key = count_by_process ? (__u32)(id >> 32) : (__u32)nr;
    struct counts *c = bpf_map_lookup_elem(&data, &key);
    if (!c) {
        static const struct counts zero;
        bpf_map_update_elem(&data, &key, &zero, BPF_NOEXIST);
        c = bpf_map_lookup_elem(&data, &key);
        if (!c)
            return 0;
    }
    __sync_fetch_and_add(&c->count, 1);
    if (measure_latency)
        __sync_fetch_and_add(&c->total_ns, lat);
    if (count_by_process) {
        /* Every time, as libbpf-tools does: exec changes the name. */
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        BPF_CORE_READ_STR_INTO(&c->comm, task, group_leader, comm);
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
