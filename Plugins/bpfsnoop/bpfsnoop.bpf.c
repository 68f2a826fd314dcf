// SPDX-License-Identifier: GPL-2.0
/* bpfsnoop: trace bpf(2) calls (who loads BPF programs, creates maps, attaches links) through
 * the syscall's tracepoints, with the command, the program type and name, and the result. */
#include "eunomia.bpf.h"

#define OBJ_NAME_LEN 16 /* BPF_OBJ_NAME_LEN */

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns at syscall entry */
    __u32 pid;
    __u32 tid;
    __u32 uid;
    __u32 cmd;
    __u32 prog_type; /* BPF_PROG_LOAD's attr->prog_type; 0 for other commands */
    __s32 ret;
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    char prog_name[OBJ_NAME_LEN]; /* BPF_PROG_LOAD's prog_name, BPF_MAP_CREATE's map_name */
};

const volatile bool targ_all = false;

/* Reported by default: the commands that put code in the kernel or hook it up. Lookups and
 * updates of maps run constantly in every BPF user and would flood the output. */
#define DEFAULT_CMDS ((1ULL << BPF_PROG_LOAD) | (1ULL << BPF_MAP_CREATE) | (1ULL << BPF_BTF_LOAD) | \
                      (1ULL << BPF_LINK_CREATE) | (1ULL << BPF_PROG_ATTACH) | (1ULL << BPF_RAW_TRACEPOINT_OPEN))

/* From entry (the attr is read while the caller's memory is as it passed it) to exit.
 * Carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct event);
} inflight SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_bpf")
int handle_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 cmd = (__u32)ctx->args[0];
    if (!targ_all && (cmd >= 64 || !(DEFAULT_CMDS & (1ULL << cmd))))
        return 0;
    /* Also drops the host's own process (eunomia_host_tgid, set by the helper): its loads, and
     * those of every tracker it runs, are never reported, or each tracker start would show up
     * as a BPF load. */
    if (!eunomia_task_allowed())
        return 0;
    struct event e = {};
    e.ts = bpf_ktime_get_ns();
    e.pid = id >> 32;
    e.tid = (__u32)id;
    e.uid = (__u32)bpf_get_current_uid_gid();
    e.cmd = cmd;
    eunomia_fill_task_ids(&e);
    bpf_get_current_comm(e.comm, sizeof(e.comm));

    const void *attr = (const void *)ctx->args[1];
    __u64 size = ctx->args[2]; /* the kernel reads only this much of attr; the rest counts as 0 */
    if (attr && cmd == BPF_PROG_LOAD) {
        if (size >= sizeof(__u32))
            bpf_probe_read_user(&e.prog_type, sizeof(e.prog_type), attr);
        if (size >= offsetof(union bpf_attr, prog_name) + OBJ_NAME_LEN)
            bpf_probe_read_user_str(e.prog_name, sizeof(e.prog_name), attr + offsetof(union bpf_attr, prog_name));
    } else if (attr && cmd == BPF_MAP_CREATE) {
        if (size >= offsetof(union bpf_attr, map_name) + OBJ_NAME_LEN)
            bpf_probe_read_user_str(e.prog_name, sizeof(e.prog_name), attr + offsetof(union bpf_attr, map_name));
    }
    bpf_map_update_elem(&inflight, &e.tid, &e, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_bpf")
int handle_exit_bpf(struct trace_event_raw_sys_exit *ctx)
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
