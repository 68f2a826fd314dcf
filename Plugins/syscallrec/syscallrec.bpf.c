// SPDX-License-Identifier: GPL-2.0
/* syscallrec: which system calls a process tree (or a container, or the whole machine) makes,
 * and how often: what a seccomp profile must allow. A counter per syscall number, set on
 * raw_syscalls/sys_enter; with a root process the tracked tasks are it (every thread of it) and
 * every task forked from a tracked task after the programs were attached (sched_process_fork),
 * dropped again at exit (sched_process_exit). The same idea as the security-profiles-operator's
 * BPF recorder, kept to what a profile needs: names come from the plugin's table at report time. */
#include "eunomia.bpf.h"
#include "syscallrec.h"

/* The root of the tracked tree (the `pid` parameter); 0: no tree, every task the common
 * filters (the container's cgroups) admit. */
const volatile __u32 root_tgid = 0;

/* Tasks (by thread id) forked from the tree: the root's own threads match by their tgid and
 * need no entry. Carried over in a hot swap, with counts. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SYSCALLREC_MAX_TASKS);
    __type(key, __u32);
    __type(value, __u8);
} tracked SEC(".maps");

/* Syscall key (number, SYSCALLREC_COMPAT_BIT for ia32) -> times entered. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SYSCALLREC_MAX_SYSCALLS);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

/* A task that could not be tracked, or a syscall that could not be counted (a full map), is
 * counted as lost: the host then knows the profile may be missing something. */
static __always_inline void count_lost(void)
{
    __u32 zero = 0;
    __u64 *lost = bpf_map_lookup_elem(&eunomia_lost, &zero);
    if (lost)
        *lost += 1;
}

static __always_inline bool in_tree(__u64 id)
{
    if ((__u32)(id >> 32) == root_tgid)
        return true;
    __u32 tid = (__u32)id;
    return bpf_map_lookup_elem(&tracked, &tid) != NULL;
}

/* With a root: in the tree, and in the container when one was asked for too. Without: the
 * common filters (container, and none else this schema declares). */
static __always_inline bool recorded(void)
{
    if (!root_tgid)
        return eunomia_task_allowed();
    if (!in_tree(bpf_get_current_pid_tgid()))
        return false;
    if (eunomia_targ_cgroups) {
        __u64 cgroup = bpf_get_current_cgroup_id();
        if (!bpf_map_lookup_elem(&eunomia_cgroups, &cgroup))
            return false;
    }
    return true;
}

/* x86_64 kernels also take syscalls through the 32-bit entry points, numbered by the i386
 * table; the entry code marks the thread TS_COMPAT before the tracepoint runs. */
#define X86_TS_COMPAT 0x0002
static __always_inline bool compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    return BPF_CORE_READ(task, thread_info.status) & X86_TS_COMPAT;
#else
    return false;
#endif
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
    long nr = ctx->id;
    if (nr < 0)
        return 0;
    if (!recorded())
        return 0;
    /* Not ours (hot swap): the other version counts it. */
    if (!eunomia_owned())
        return 0;
    __u32 key = (__u32)nr;
    if (compat_syscall())
        key |= SYSCALLREC_COMPAT_BIT;
    __u64 *c = bpf_map_lookup_elem(&counts, &key);
    if (!c) {
        static const __u64 zero;
        bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
        c = bpf_map_lookup_elem(&counts, &key);
        if (!c) {
            count_lost();
            return 0;
        }
    }
    __sync_fetch_and_add(c, 1);
    return 0;
}

/* Runs in the parent, before the child first runs: no syscall of the child can come first. */
SEC("tracepoint/sched/sched_process_fork")
int sched_process_fork(struct trace_event_raw_sched_process_fork *ctx)
{
    if (!root_tgid || !in_tree(bpf_get_current_pid_tgid()))
        return 0;
    __u32 child = (__u32)ctx->child_pid;
    static const __u8 one = 1;
    if (bpf_map_update_elem(&tracked, &child, &one, BPF_ANY))
        count_lost();
    return 0;
}

/* Every thread's exit: its id may be reused by an unrelated task. */
SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(void *ctx)
{
    if (!root_tgid)
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_delete_elem(&tracked, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
