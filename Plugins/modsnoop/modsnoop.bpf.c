// SPDX-License-Identifier: GPL-2.0
/* modsnoop: trace requests to load and unload kernel modules (init_module, finit_module,
 * delete_module), whether or not they succeed. On the syscalls' own tracepoints where the
 * kernel has them; a kernel built without module support has none (the syscalls still exist
 * and fail with ENOSYS), so raw_syscalls with the syscall numbers is the fallback. */
#include "eunomia.bpf.h"

#define NAME_LEN 64

enum { SYS_INIT_MODULE = 0, SYS_FINIT_MODULE = 1, SYS_DELETE_MODULE = 2 };

#if defined(__TARGET_ARCH_x86)
#define NR_INIT_MODULE 175
#define NR_DELETE_MODULE 176
#define NR_FINIT_MODULE 313
#elif defined(__TARGET_ARCH_arm64)
#define NR_INIT_MODULE 105
#define NR_DELETE_MODULE 106
#define NR_FINIT_MODULE 273
#endif

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns at syscall entry */
    __u32 pid;
    __u32 tid;
    __u32 uid;
    __u32 syscall; /* SYS_* above */
    __s32 fd;      /* finit_module's file descriptor; -1 otherwise */
    __u32 flags;   /* finit_module's and delete_module's flags */
    __s32 ret;
    __u32 len;     /* init_module's image length (truncated to 32 bits) */
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    char file[NAME_LEN]; /* finit_module: the name of the file fd refers to */
    char name[NAME_LEN]; /* delete_module: the module; init/finit_module: the parameters given */
};

/* From entry (the caller's memory as it passed it) to exit. Carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct event);
} inflight SEC(".maps");

static const struct event empty = {};

/* The name of the file behind the current task's descriptor fd. */
static __always_inline void fd_name(int fd, char *out)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
        return;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
    if (!f)
        return;
    /* f_path and d_name.name are const in newer kernels: read them into plain pointers. */
    struct dentry *dentry = NULL;
    bpf_core_read(&dentry, sizeof(dentry), &f->f_path.dentry);
    const unsigned char *name = NULL;
    if (dentry)
        bpf_core_read(&name, sizeof(name), &dentry->d_name.name);
    if (name)
        bpf_probe_read_kernel_str(out, NAME_LEN, name);
}

/* ctx's args copied out: the verifier refuses reads through a ctx pointer moved by an offset. */
#define ARGS(ctx) ((const long[3]){ (ctx)->args[0], (ctx)->args[1], (ctx)->args[2] })

static __always_inline int enter(__u32 syscall, const long *args)
{
    if (!eunomia_task_allowed())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if (bpf_map_update_elem(&inflight, &tid, &empty, BPF_ANY))
        return 0;
    struct event *e = bpf_map_lookup_elem(&inflight, &tid);
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->tid = tid;
    e->uid = (__u32)bpf_get_current_uid_gid();
    e->syscall = syscall;
    e->fd = -1;
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    switch (syscall) {
    case SYS_INIT_MODULE: /* (image, len, params) */
        e->len = (__u32)args[1];
        bpf_probe_read_user_str(e->name, sizeof(e->name), (const char *)args[2]);
        break;
    case SYS_FINIT_MODULE: /* (fd, params, flags) */
        e->fd = (int)args[0];
        e->flags = (__u32)args[2];
        fd_name(e->fd, e->file);
        bpf_probe_read_user_str(e->name, sizeof(e->name), (const char *)args[1]);
        break;
    default: /* delete_module (name, flags) */
        e->flags = (__u32)args[1];
        bpf_probe_read_user_str(e->name, sizeof(e->name), (const char *)args[0]);
    }
    return 0;
}

static __always_inline int leave(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct event *e = bpf_map_lookup_elem(&inflight, &tid);
    if (!e)
        return 0;
    e->ret = ret;
    eunomia_output(e, sizeof(*e));
    bpf_map_delete_elem(&inflight, &tid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int handle_enter_init_module(struct trace_event_raw_sys_enter *ctx) { return enter(SYS_INIT_MODULE, ARGS(ctx)); }
SEC("tracepoint/syscalls/sys_exit_init_module")
int handle_exit_init_module(struct trace_event_raw_sys_exit *ctx) { return leave(ctx->ret); }
SEC("tracepoint/syscalls/sys_enter_finit_module")
int handle_enter_finit_module(struct trace_event_raw_sys_enter *ctx) { return enter(SYS_FINIT_MODULE, ARGS(ctx)); }
SEC("tracepoint/syscalls/sys_exit_finit_module")
int handle_exit_finit_module(struct trace_event_raw_sys_exit *ctx) { return leave(ctx->ret); }
SEC("tracepoint/syscalls/sys_enter_delete_module")
int handle_enter_delete_module(struct trace_event_raw_sys_enter *ctx) { return enter(SYS_DELETE_MODULE, ARGS(ctx)); }
SEC("tracepoint/syscalls/sys_exit_delete_module")
int handle_exit_delete_module(struct trace_event_raw_sys_exit *ctx) { return leave(ctx->ret); }

/* The fallback (modsnoop.c turns it off where the tracepoints above exist). */
SEC("tracepoint/raw_syscalls/sys_enter")
int handle_raw_enter(struct trace_event_raw_sys_enter *ctx)
{
    switch (ctx->id) {
    case NR_INIT_MODULE: return enter(SYS_INIT_MODULE, ARGS(ctx));
    case NR_FINIT_MODULE: return enter(SYS_FINIT_MODULE, ARGS(ctx));
    case NR_DELETE_MODULE: return enter(SYS_DELETE_MODULE, ARGS(ctx));
    default: return 0;
    }
}

SEC("tracepoint/raw_syscalls/sys_exit")
int handle_raw_exit(struct trace_event_raw_sys_exit *ctx)
{
    if (ctx->id != NR_INIT_MODULE && ctx->id != NR_FINIT_MODULE && ctx->id != NR_DELETE_MODULE)
        return 0;
    return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
