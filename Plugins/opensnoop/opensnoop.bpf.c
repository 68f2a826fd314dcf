// SPDX-License-Identifier: GPL-2.0
/* opensnoop: trace open(), openat() and openat2() through their syscall tracepoints. */
#include "eunomia.bpf.h"

#define PATH_LEN 4096 /* a power of two, for eunomia_output_tail */

/* Record id 0 in schema.json; the host checks the layout against this struct's BTF. */
struct event {
    __u64 ts;    /* bpf_ktime_get_ns at syscall entry, where the open begins */
    __u64 flags; /* open flags */
    __u32 pid;
    __u32 tid;
    __u32 uid;
    __s32 fd;  /* -1 on failure */
    __s32 err; /* errno on failure, 0 otherwise */
    __u32 mode;
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    char path[PATH_LEN];
};

/* What the entry saw, per thread, until the exit. Carried over in a hot swap (schema.json
 * swap.carry_maps): an open in flight at the cutover is reported by the version that owns
 * its exit. */
struct args {
    const char *path;
    __u64 flags;
    __u64 ts;
    __u32 mode;
};

const volatile bool targ_failed = false;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct args);
} start SEC(".maps");

/* The event is too large for the BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

static __always_inline int enter(const char *path, __u64 flags, __u32 mode)
{
    if (!eunomia_task_allowed())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct args a = { .path = path, .flags = flags, .ts = bpf_ktime_get_ns(), .mode = mode };
    bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
    return 0;
}

static __always_inline int record_exit(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct args *a = bpf_map_lookup_elem(&start, &tid);
    if (!a)
        return 0;
    if (targ_failed && ret >= 0)
        goto cleanup;

    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        goto cleanup;
    e->ts = a->ts;
    e->flags = a->flags;
    e->mode = a->mode;
    e->pid = id >> 32;
    e->tid = tid;
    e->uid = (__u32)bpf_get_current_uid_gid();
    e->fd = ret >= 0 ? (__s32)ret : -1;
    e->err = ret >= 0 ? 0 : (__s32)-ret;
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    long len = bpf_probe_read_user_str(e->path, sizeof(e->path), a->path);
    if (len < 1) {
        e->path[0] = '\0';
        len = 1;
    }
    eunomia_output_tail(e, path, len);
cleanup:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int handle_enter_open(struct trace_event_raw_sys_enter *ctx)
{
    return enter((const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
    return enter((const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
    struct open_how how = {};
    bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
    return enter((const char *)ctx->args[1], how.flags, (__u32)how.mode);
}

SEC("tracepoint/syscalls/sys_exit_open")
int handle_exit_open(struct trace_event_raw_sys_exit *ctx)
{
    return record_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
    return record_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
    return record_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
