// SPDX-License-Identifier: GPL-2.0
/* runqlat: run queue latency (time from wakeup, or preemption, to running on a CPU) as a
 * log2 histogram. tp_btf/ programs first; raw_tp/ copies for kernels whose BTF lacks the
 * sched raw tracepoints. */
#include "eunomia.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0

const volatile bool targ_per_process = false;
const volatile bool targ_per_thread = false;
const volatile bool targ_ms = false;

/* When each thread became runnable. Carried over in a hot swap, with hists. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct hist);
} hists SEC(".maps");

/* task_struct.state became __state in 5.14. */
struct task_struct___old {
    long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
    if (bpf_core_field_exists(t->__state))
        return BPF_CORE_READ(t, __state);
    return BPF_CORE_READ((struct task_struct___old *)t, state);
}

static __always_inline void enqueue(struct task_struct *t)
{
    __u32 pid = BPF_CORE_READ(t, pid);
    if (!pid) /* the idle task */
        return;
    /* The pid parameter selects the task that waits, not the one that wakes it. */
    if (eunomia_targ_tgid && (__u32)BPF_CORE_READ(t, tgid) != eunomia_targ_tgid)
        return;
    __u64 ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
}

static __always_inline void switch_to(struct task_struct *prev, struct task_struct *next)
{
    /* A preempted task is still runnable: its wait for the CPU starts now. */
    if (task_state(prev) == TASK_RUNNING)
        enqueue(prev);

    /* Not ours (hot swap): the wait's start stays for the version that owns this moment. */
    if (!eunomia_owned())
        return;
    __u32 pid = BPF_CORE_READ(next, pid);
    __u64 *tsp = bpf_map_lookup_elem(&start, &pid);
    if (!tsp)
        return;
    __s64 delta = (__s64)(bpf_ktime_get_ns() - *tsp);
    bpf_map_delete_elem(&start, &pid);
    if (delta < 0)
        return;

    __u32 key = targ_per_process ? (__u32)BPF_CORE_READ(next, tgid) : targ_per_thread ? pid : (__u32)-1;
    struct hist *h = bpf_map_lookup_elem(&hists, &key);
    if (!h) {
        static const struct hist zero;
        bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
        h = bpf_map_lookup_elem(&hists, &key);
        if (!h)
            return;
    }
    if (!h->comm[0])
        bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), next->comm);
    __u64 v = (__u64)delta / (targ_ms ? 1000000 : 1000);
    __u32 slot = eunomia_log2_slot(v);
    if (slot >= RUNQLAT_SLOTS)
        slot = RUNQLAT_SLOTS - 1;
    __sync_fetch_and_add(&h->slots[slot], 1);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
    enqueue(p);
    return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
    enqueue(p);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    switch_to(prev, next);
    return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(sched_wakeup_raw, struct task_struct *p)
{
    enqueue(p);
    return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
    enqueue(p);
    return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    switch_to(prev, next);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
