// SPDX-License-Identifier: GPL-2.0
/* sigsnoop: trace signals as they are generated (signal/signal_generate), or only those sent
 * by kill(), tkill() and tgkill() with the syscalls' results (kill mode). */
#include "eunomia.bpf.h"

/* Record id 0 in schema.json. */
struct event {
    __u64 ts;   /* bpf_ktime_get_ns as the signal is generated; kill mode: at syscall entry */
    __u32 pid;  /* sender */
    __s32 tpid; /* target, as the sender named it */
    __s32 sig;
    __s32 ret;      /* siginfo errno (as libbpf-tools), or the syscall's return in kill mode */
    __s32 delivery; /* signal_generate result: 0 delivered, 1 ignored, ...; -1 when none ran */
    __u32 pad;
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    char tcomm[TASK_COMM_LEN]; /* target's, from signal_generate */
};

const volatile bool targ_kill = false;
const volatile bool targ_failed = false;
const volatile __u64 targ_signals = 0; /* bit sig-1 set: trace sig; 0 traces all */
const volatile __s32 targ_tpid = 0;

/* Kill mode: the sender's event, from syscall entry to exit. Carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct event);
} inflight SEC(".maps");

static __always_inline bool wanted(__s32 tpid, int sig)
{
    if (targ_signals && (sig < 1 || sig > 64 || !(targ_signals & (1ULL << ((sig - 1) & 63)))))
        return false;
    if (targ_tpid && tpid != targ_tpid)
        return false;
    return eunomia_task_allowed();
}

static __always_inline void fill(struct event *e, __s32 tpid, int sig)
{
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->tpid = tpid;
    e->sig = sig;
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline int kill_enter(__s32 tpid, int sig)
{
    if (!wanted(tpid, sig))
        return 0;
    struct event e = { .delivery = -1 };
    fill(&e, tpid, sig);
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&inflight, &tid, &e, BPF_ANY);
    return 0;
}

static __always_inline int kill_exit(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct event *e = bpf_map_lookup_elem(&inflight, &tid);
    if (!e)
        return 0;
    if (!targ_failed || ret < 0) {
        e->ret = ret;
        eunomia_output(e, sizeof(*e));
    }
    bpf_map_delete_elem(&inflight, &tid);
    return 0;
}

SEC("tracepoint/signal/signal_generate")
int handle_signal_generate(struct trace_event_raw_signal_generate *ctx)
{
    if (targ_kill) {
        /* Inside a traced kill(): this names the target task and tells what became of it. */
        __u32 tid = (__u32)bpf_get_current_pid_tgid();
        struct event *e = bpf_map_lookup_elem(&inflight, &tid);
        if (e) {
            bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm);
            e->delivery = ctx->result;
        }
        return 0;
    }
    if (targ_failed && ctx->errno == 0)
        return 0;
    __u64 now;
    if (!wanted(ctx->pid, ctx->sig) || !eunomia_claim(&now))
        return 0;
    struct event e = {};
    fill(&e, ctx->pid, ctx->sig);
    e.ts = now;
    e.ret = ctx->errno;
    e.delivery = ctx->result;
    bpf_probe_read_kernel(e.tcomm, sizeof(e.tcomm), ctx->comm);
    eunomia_output(&e, sizeof(e));
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int handle_enter_kill(struct trace_event_raw_sys_enter *ctx)
{
    return kill_enter((__s32)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int handle_exit_kill(struct trace_event_raw_sys_exit *ctx)
{
    return kill_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int handle_enter_tkill(struct trace_event_raw_sys_enter *ctx)
{
    return kill_enter((__s32)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int handle_exit_tkill(struct trace_event_raw_sys_exit *ctx)
{
    return kill_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int handle_enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
    return kill_enter((__s32)ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int handle_exit_tgkill(struct trace_event_raw_sys_exit *ctx)
{
    return kill_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
