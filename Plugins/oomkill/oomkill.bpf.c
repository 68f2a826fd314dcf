// SPDX-License-Identifier: GPL-2.0
/* oomkill: trace OOM kills through oom/mark_victim, which fires in the task that ran the
 * system (or a memory cgroup) out of memory, as the victim is chosen. */
#include "eunomia.bpf.h"

/* Record id 0 in schema.json. */
struct event {
    __u64 ts;
    __u64 total_vm;     /* victim's pages */
    __u64 anon_rss_kb;
    __u64 file_rss_kb;
    __u64 shmem_rss_kb;
    __u32 tpid;         /* triggered by */
    __u32 kpid;         /* killed */
    __u32 uid;          /* victim's */
    __s32 oom_score_adj;
    char tcomm[TASK_COMM_LEN];
    char kcomm[TASK_COMM_LEN];
};

/* Built in a map value rather than on the stack: that also puts struct event in the object's
 * BTF, where install checks the schema against it. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

SEC("tracepoint/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
    __u32 zero = 0;
    struct event *ep = bpf_map_lookup_elem(&scratch, &zero);
    if (!ep)
        return 0;
    struct event e = {};
    e.ts = bpf_ktime_get_ns();
    e.tpid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e.tcomm, sizeof(e.tcomm));
    e.kpid = ctx->pid;
    e.total_vm = ctx->total_vm;
    e.anon_rss_kb = ctx->anon_rss;
    e.file_rss_kb = ctx->file_rss;
    e.shmem_rss_kb = ctx->shmem_rss;
    e.uid = ctx->uid;
    e.oom_score_adj = ctx->oom_score_adj;
    /* comm is a __data_loc string: low 16 bits are its offset in the record. */
    bpf_probe_read_kernel_str(e.kcomm, sizeof(e.kcomm), (void *)ctx + (ctx->__data_loc_comm & 0xFFFF));
    *ep = e;
    eunomia_output(ep, sizeof(*ep));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
