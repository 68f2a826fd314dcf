// SPDX-License-Identifier: GPL-2.0
/* statsnoop: trace the stat() family through its syscall tracepoints. */
#include "eunomia.bpf.h"

#define PATH_LEN 4096 /* a power of two, for eunomia_output_tail */

enum op { OP_STATFS, OP_STAT, OP_STATX, OP_FSTAT, OP_FSTATAT, OP_LSTAT };

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns at syscall entry */
    __u32 pid;
    __s32 ret;    /* the syscall's return: 0 or -errno */
    __s32 result; /* what libc returns and the original's RET column shows: 0 or -1 */
    __s32 err;    /* errno, 0 on success */
    __u32 op;
    __s32 fd; /* fstat's descriptor, or the dirfd of statx/fstatat; -1 otherwise */
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    char path[PATH_LEN];
};

/* From entry to exit, per thread; carried over in a hot swap. */
struct args {
    const char *path;
    __u64 ts;
    __u32 op;
    __s32 fd;
};

const volatile bool targ_failed = false;
const volatile bool targ_fstat = false; /* also calls on a descriptor, which have no path */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct args);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

static __always_inline int enter(enum op op, __s32 fd, const char *path)
{
    if (!eunomia_task_allowed())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct args a = { .path = path, .ts = bpf_ktime_get_ns(), .op = op, .fd = fd };
    bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
    return 0;
}

static __always_inline int leave(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct args *a = bpf_map_lookup_elem(&start, &tid);
    if (!a)
        return 0;
    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e || (targ_failed && ret >= 0))
        goto cleanup;
    e->ts = a->ts;
    e->pid = id >> 32;
    e->ret = ret;
    e->result = ret < 0 ? -1 : ret;
    e->err = ret < 0 ? -ret : 0;
    e->op = a->op;
    e->fd = a->fd;
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    long len = 1;
    e->path[0] = '\0';
    if (a->path) {
        len = bpf_probe_read_user_str(e->path, sizeof(e->path), a->path);
        if (len < 1) {
            e->path[0] = '\0';
            len = 1;
        }
    }
    if (targ_fstat || e->path[0])
        eunomia_output_tail(e, path, len);
cleanup:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

#define SYSCALL(name, op, fd, path)                                        \
    SEC("tracepoint/syscalls/sys_enter_" #name)                            \
    int handle_enter_##name(struct trace_event_raw_sys_enter *ctx)         \
    {                                                                      \
        return enter(op, fd, path);                                        \
    }                                                                      \
    SEC("tracepoint/syscalls/sys_exit_" #name)                             \
    int handle_exit_##name(struct trace_event_raw_sys_exit *ctx)           \
    {                                                                      \
        return leave(ctx->ret);                                            \
    }

/* Each is skipped by the helper where the kernel lacks it. */
SYSCALL(statfs, OP_STATFS, -1, (const char *)ctx->args[0])
SYSCALL(newstat, OP_STAT, -1, (const char *)ctx->args[0])
SYSCALL(statx, OP_STATX, (__s32)ctx->args[0], (const char *)ctx->args[1])
SYSCALL(newfstat, OP_FSTAT, (__s32)ctx->args[0], NULL)
SYSCALL(newfstatat, OP_FSTATAT, (__s32)ctx->args[0], (const char *)ctx->args[1])
SYSCALL(newlstat, OP_LSTAT, -1, (const char *)ctx->args[0])

char LICENSE[] SEC("license") = "GPL";
