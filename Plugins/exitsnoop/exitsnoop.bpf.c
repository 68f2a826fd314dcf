// SPDX-License-Identifier: GPL-2.0
/* exitsnoop: trace process termination through the sched_process_exit tracepoint. */
#include "eunomia.bpf.h"

/* How the task ended; selects the EXIT_CODE text in schema.json. */
enum { EXITED_OK, EXITED_CODE, KILLED, KILLED_CORE };

/* Record id 0 in schema.json. */
struct event {
    __u64 ts;  /* bpf_ktime_get_ns at exit */
    __u64 age; /* ns from task start to exit */
    __u32 pid;
    __u32 ppid;
    __u32 tid;
    __s32 exit_code; /* exit status, (code >> 8) & 0xff */
    __u32 sig;       /* terminating signal, code & 0x7f */
    __u32 how;       /* EXITED_OK ... KILLED_CORE */
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
};

const volatile bool targ_failed = false;
const volatile bool targ_threaded = false;

/* Built here rather than on the stack so that struct event is in the object's BTF, where
 * `eunomia plugin pack` checks the schema's layout against it. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 pid = id >> 32, tid = (__u32)id;
    /* A process ends with its leader thread, unless every thread is wanted (-T). */
    if (!targ_threaded && pid != tid)
        return 0;
    if (!eunomia_task_allowed())
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    int code = BPF_CORE_READ(task, exit_code);
    if (targ_failed && code == 0)
        return 0;
    /* Hot swap: only the version that owns this moment reports it, stamped with the time
     * both versions decided on. */
    __u64 now;
    if (!eunomia_claim(&now))
        return 0;

    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        return 0;
    e->ts = now;
    /* start_time is CLOCK_MONOTONIC ns, the same clock as bpf_ktime_get_ns. */
    e->age = e->ts - BPF_CORE_READ(task, start_time);
    e->pid = pid;
    e->tid = tid;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->exit_code = (code >> 8) & 0xff;
    e->sig = code & 0x7f;
    e->how = e->sig ? ((code & 0x80) ? KILLED_CORE : KILLED) : (e->exit_code ? EXITED_CODE : EXITED_OK);
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    eunomia_output(e, sizeof(*e));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
