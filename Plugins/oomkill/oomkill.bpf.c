// SPDX-License-Identifier: GPL-2.0
/* oomkill: trace OOM kills through oom/mark_victim, which fires in the task that ran the
 * system (or a memory cgroup) out of memory, as the victim is chosen. Where kprobes work, a
 * kprobe on oom_kill_process adds what only the OOM context knows: its total pages.
 *
 * The record's cgroup id and namespaces are the victim's, not the current task's (the OOM
 * killer runs in whichever task's allocation failed): from oc->chosen on the kprobe path; on
 * the tracepoint alone, from the task bpf_task_from_pid finds for the tracepoint's pid. */
#include "eunomia.bpf.h"

/* Record id 0 in schema.json. */
struct event {
    __u64 ts;
    __u64 pages; /* the OOM context's total pages (the limit); 0 without the kprobe */
    __u64 total_vm_kb; /* the victim's */
    __u64 anon_rss_kb;
    __u64 file_rss_kb;
    __u64 shmem_rss_kb;
    __u64 pgtables_kb;
    __u32 tpid; /* triggered by */
    __u32 kpid; /* killed */
    __u32 uid;  /* victim's */
    __s32 oom_score_adj;
    char tcomm[TASK_COMM_LEN];
    char kcomm[TASK_COMM_LEN];
    EUNOMIA_TASK_IDS; /* the victim's; 0 when it could not be found */
};

struct oom_context {
    __u64 pages;
    char comm[TASK_COMM_LEN]; /* for kernels whose mark_victim lacks comm */
    __u32 kpid;               /* the victim's pid: the ids below are its */
    __u32 pad;
    __u64 cgroup_id;
    __u32 mount_ns;
    __u32 pid_ns;
};

/* Kernel 6.2+; resolved at load, 0 where the kernel lacks it (bpf_ksym_exists). */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

/* Set by the plugin: look the victim up by pid in the tracepoint program (the kernel lets
 * tracepoint programs call these kfuncs). */
const volatile bool targ_victim_lookup = false;

/* What the kprobe saw, per triggering thread, until mark_victim fires in the same thread. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, struct oom_context);
} contexts SEC(".maps");

/* Built in a map value rather than on the stack: that also puts struct event in the object's
 * BTF, where install checks the schema against it. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(oom_kill_process_entry, struct oom_control *oc)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct oom_context c = { .pages = BPF_CORE_READ(oc, totalpages) };
    struct task_struct *victim = BPF_CORE_READ(oc, chosen);
    BPF_CORE_READ_STR_INTO(&c.comm, victim, comm);
    c.kpid = BPF_CORE_READ(victim, pid);
    eunomia_task_ids_of(victim, &c.cgroup_id, &c.mount_ns, &c.pid_ns);
    bpf_map_update_elem(&contexts, &tid, &c, BPF_ANY);
    return 0;
}

SEC("tracepoint/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
    /* Not ours (hot swap): the kprobe's context stays for the version that owns this moment. */
    __u64 now; /* the time both versions decided on */
    if (!eunomia_claim(&now))
        return 0;
    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    __builtin_memset(e, 0, sizeof(*e));
    e->ts = now;
    e->tpid = id >> 32;
    bpf_get_current_comm(e->tcomm, sizeof(e->tcomm));
    e->kpid = ctx->pid;
    struct oom_context *c = bpf_map_lookup_elem(&contexts, &tid);
    bool ids = false;
    if (c) {
        e->pages = c->pages;
        __builtin_memcpy(e->kcomm, c->comm, sizeof(e->kcomm));
        if (c->kpid == (__u32)ctx->pid) {
            e->cgroup_id = c->cgroup_id;
            e->mount_ns = c->mount_ns;
            e->pid_ns = c->pid_ns;
            ids = true;
        }
        bpf_map_delete_elem(&contexts, &tid);
    }
    /* Without the kprobe's context (no kprobes, or mark_victim from out_of_memory's own
     * shortcut for a task already dying): the victim by its pid, still alive here. */
    if (!ids && targ_victim_lookup && bpf_ksym_exists(bpf_task_from_pid)) {
        struct task_struct *victim = bpf_task_from_pid(ctx->pid);
        if (victim) {
            eunomia_task_ids_of(victim, &e->cgroup_id, &e->mount_ns, &e->pid_ns);
            bpf_task_release(victim);
        }
    }
    /* The victim's comm and memory counters joined the tracepoint in 6.x, uid and pgtables later. */
    if (bpf_core_field_exists(ctx->__data_loc_comm)) {
        /* a __data_loc string: the low 16 bits are its offset in the record */
        __u32 loc = ctx->__data_loc_comm;
        bpf_probe_read_kernel_str(e->kcomm, sizeof(e->kcomm), (void *)ctx + (loc & 0xFFFF));
    }
    if (bpf_core_field_exists(ctx->total_vm)) {
        e->total_vm_kb = ctx->total_vm;
        e->anon_rss_kb = ctx->anon_rss;
        e->file_rss_kb = ctx->file_rss;
        e->shmem_rss_kb = ctx->shmem_rss;
    }
    if (bpf_core_field_exists(ctx->uid))
        e->uid = ctx->uid;
    if (bpf_core_field_exists(ctx->pgtables))
        e->pgtables_kb = ctx->pgtables;
    if (bpf_core_field_exists(ctx->oom_score_adj))
        e->oom_score_adj = ctx->oom_score_adj;
    eunomia_output(e, sizeof(*e));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
