// SPDX-License-Identifier: GPL-2.0
/* ptracesnoop: trace ptrace(2): who attaches to, reads, writes or controls which process,
 * and the result. */
#include "eunomia.bpf.h"

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns at syscall entry */
    __u32 pid;
    __u32 tid;
    __u32 uid;
    __u32 target_pid; /* ptrace's pid argument (0 for PTRACE_TRACEME) */
    __s64 request;
    __s32 ret;
    __u32 pad;
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
};

/* From entry to exit (the result). Carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct event);
} inflight SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_ptrace")
int handle_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
    if (!eunomia_task_allowed())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    struct event e = {};
    e.ts = bpf_ktime_get_ns();
    e.pid = id >> 32;
    e.tid = (__u32)id;
    e.uid = (__u32)bpf_get_current_uid_gid();
    e.request = (__s64)ctx->args[0];
    e.target_pid = (__u32)ctx->args[1];
    eunomia_fill_task_ids(&e);
    bpf_get_current_comm(e.comm, sizeof(e.comm));
    bpf_map_update_elem(&inflight, &e.tid, &e, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int handle_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct event *e = bpf_map_lookup_elem(&inflight, &tid);
    if (!e)
        return 0;
    e->ret = ctx->ret;
    eunomia_output(e, sizeof(*e));
    bpf_map_delete_elem(&inflight, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
