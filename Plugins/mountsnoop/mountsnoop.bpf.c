// SPDX-License-Identifier: GPL-2.0
/* mountsnoop: trace mount(2), umount(2) and the new mount API (fsopen, fsconfig, fsmount,
 * move_mount) through their syscall tracepoints. */
#include "eunomia.bpf.h"

enum op { OP_MOUNT, OP_UMOUNT, OP_FSOPEN, OP_FSCONFIG, OP_FSMOUNT, OP_MOVE_MOUNT };

#define DATA_LEN 256 /* a power of two, for eunomia_output_tail */

/* Record id 0 in schema.json. The string members hold whatever each call names: see the
 * per-op templates in schema.json. */
struct event {
    __u64 ts;    /* bpf_ktime_get_ns at syscall entry */
    __u64 delta; /* ns from entry to exit */
    __u64 flags;
    __u32 pid;
    __u32 tid;
    __u32 mnt_ns;
    __u32 op;
    __s32 ret;
    __s32 fd;  /* fsconfig/fsmount fs fd, move_mount from_dfd */
    __s32 aux; /* fsconfig cmd and aux, fsmount attr_flags, move_mount to_dfd */
    __s32 aux2;
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    char source[256];
    char target[256];
    char fstype[64];
    char data[DATA_LEN]; /* last: only its used part travels */
};

struct call {
    struct event e;
    __u32 data_len;
};

/* Strings are read at entry (the caller's memory), the record leaves at exit with the result.
 * Carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct call);
} inflight SEC(".maps");

static const struct call empty_call = {};

static __always_inline struct call *begin(enum op op)
{
    if (!eunomia_task_allowed())
        return NULL;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if (bpf_map_update_elem(&inflight, &tid, &empty_call, BPF_ANY))
        return NULL;
    struct call *c = bpf_map_lookup_elem(&inflight, &tid);
    if (!c)
        return NULL;
    struct event *e = &c->e;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e->ts = bpf_ktime_get_ns();
    e->op = op;
    e->pid = id >> 32;
    e->tid = tid;
    e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    c->data_len = 1;
    return c;
}

/* Returns the bytes used, NUL included. */
static __always_inline long read_str(char *dst, __u32 size, const void *src)
{
    long len = src ? bpf_probe_read_user_str(dst, size, src) : 0;
    if (len < 1) {
        dst[0] = '\0';
        len = 1;
    }
    return len;
}

static __always_inline void read_data(struct call *c, const void *src)
{
    c->data_len = read_str(c->e.data, sizeof(c->e.data), src);
}

static __always_inline int finish(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct call *c = bpf_map_lookup_elem(&inflight, &tid);
    if (!c)
        return 0;
    struct event *e = &c->e;
    e->delta = bpf_ktime_get_ns() - e->ts;
    e->ret = ret;
    eunomia_output_tail(e, data, c->data_len);
    bpf_map_delete_elem(&inflight, &tid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int handle_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
    struct call *c = begin(OP_MOUNT);
    if (!c)
        return 0;
    struct event *e = &c->e;
    read_str(e->source, sizeof(e->source), (const void *)ctx->args[0]);
    read_str(e->target, sizeof(e->target), (const void *)ctx->args[1]);
    read_str(e->fstype, sizeof(e->fstype), (const void *)ctx->args[2]);
    e->flags = ctx->args[3];
    read_data(c, (const void *)ctx->args[4]);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_umount")
int handle_enter_umount(struct trace_event_raw_sys_enter *ctx)
{
    struct call *c = begin(OP_UMOUNT);
    if (!c)
        return 0;
    struct event *e = &c->e;
    read_str(e->target, sizeof(e->target), (const void *)ctx->args[0]);
    e->flags = ctx->args[1];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsopen")
int handle_enter_fsopen(struct trace_event_raw_sys_enter *ctx)
{
    struct call *c = begin(OP_FSOPEN);
    if (!c)
        return 0;
    struct event *e = &c->e;
    read_str(e->fstype, sizeof(e->fstype), (const void *)ctx->args[0]);
    e->flags = ctx->args[1];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsconfig")
int handle_enter_fsconfig(struct trace_event_raw_sys_enter *ctx)
{
    struct call *c = begin(OP_FSCONFIG);
    if (!c)
        return 0;
    struct event *e = &c->e;
    e->fd = ctx->args[0];
    e->aux = ctx->args[1]; /* cmd */
    read_str(e->source, sizeof(e->source), (const void *)ctx->args[2]); /* key */
    /* value is a string for FSCONFIG_SET_STRING (1) and FSCONFIG_SET_PATH (3/4) */
    if (e->aux == 1 || e->aux == 3 || e->aux == 4)
        read_data(c, (const void *)ctx->args[3]);
    e->aux2 = ctx->args[4];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsmount")
int handle_enter_fsmount(struct trace_event_raw_sys_enter *ctx)
{
    struct call *c = begin(OP_FSMOUNT);
    if (!c)
        return 0;
    struct event *e = &c->e;
    e->fd = ctx->args[0];
    e->flags = ctx->args[1];
    e->aux = ctx->args[2]; /* attr_flags */
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_move_mount")
int handle_enter_move_mount(struct trace_event_raw_sys_enter *ctx)
{
    struct call *c = begin(OP_MOVE_MOUNT);
    if (!c)
        return 0;
    struct event *e = &c->e;
    e->fd = ctx->args[0];
    read_str(e->source, sizeof(e->source), (const void *)ctx->args[1]);
    e->aux = ctx->args[2];
    read_str(e->target, sizeof(e->target), (const void *)ctx->args[3]);
    e->flags = ctx->args[4];
    return 0;
}

#define EXIT(name)                                                         \
    SEC("tracepoint/syscalls/sys_exit_" #name)                             \
    int handle_exit_##name(struct trace_event_raw_sys_exit *ctx)           \
    {                                                                      \
        return finish(ctx->ret);                                           \
    }

/* The new mount API (5.2) is skipped by the helper where the kernel lacks it. */
EXIT(mount)
EXIT(umount)
EXIT(fsopen)
EXIT(fsconfig)
EXIT(fsmount)
EXIT(move_mount)

char LICENSE[] SEC("license") = "GPL";
