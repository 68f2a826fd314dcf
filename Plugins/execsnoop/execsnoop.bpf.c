// SPDX-License-Identifier: GPL-2.0
/* execsnoop: trace execve() and execveat() through their syscall tracepoints. */
#include "eunomia.bpf.h"

#define ARGS_LEN 4096  /* a power of two, for eunomia_output_tail and the masked offsets */
#define ARG_LEN 256    /* longest single argument kept */
#define TOTAL_MAX_ARGS 60
#define EXE_LEN 32

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns at syscall entry */
    __u32 pid;
    __u32 ppid;
    __u32 uid;
    __s32 ret;
    __u32 args_count; /* strings in args, counting a final "..." when argv was cut short */
    __u32 args_size;  /* used bytes of args */
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
    __u32 tty; /* controlling terminal as /proc/PID/stat's tty_nr encodes it; 0: none */
    __u32 pad;
    char exe[EXE_LEN]; /* file name of the executable loaded ("memfd:NAME" for a memfd); "" if the exec failed */
    char args[ARGS_LEN]; /* NUL-separated argv */
};

/* The slack after the event lets the verifier accept an ARG_LEN read at any offset below
 * ARGS_LEN; reads never actually start past ARGS_LEN - ARG_LEN. */
struct slot {
    struct event e;
    char slack[ARG_LEN];
};

const volatile bool targ_fails = false;
const volatile __u32 targ_max_args = 20;

static const struct slot empty_slot = {};

/* Argv must be copied at entry: a successful exec replaces the memory it lives in.
 * Not preallocated: only execs in flight take memory. Carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct slot);
} execs SEC(".maps");

static __always_inline int enter(const char *filename, const char *const *argv)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    if (bpf_map_update_elem(&execs, &tid, &empty_slot, BPF_ANY))
        return 0;
    struct slot *s = bpf_map_lookup_elem(&execs, &tid);
    if (!s)
        return 0;
    struct event *e = &s->e;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e->ts = bpf_ktime_get_ns();
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);

    /* argv[0] is often not the path; like libbpf-tools, show the path executed first. */
    long len = bpf_probe_read_user_str(e->args, ARG_LEN, filename);
    if (len < 1) {
        e->args[0] = '\0';
        len = 1;
    }
    __u32 off = len;
    __u32 count = 1;
    __u32 i;
    for (i = 1; i < TOTAL_MAX_ARGS && i < targ_max_args; i++) {
        const char *arg = NULL;
        bpf_probe_read_user(&arg, sizeof(arg), &argv[i]);
        if (!arg)
            goto done;
        if (off > ARGS_LEN - ARG_LEN)
            break;
        len = bpf_probe_read_user_str(&e->args[off & (ARGS_LEN - 1)], ARG_LEN, arg);
        if (len < 1)
            goto done;
        off += len;
        count++;
    }
    /* More arguments than shown: end with "...", as libbpf-tools does. */
    const char *more = NULL;
    bpf_probe_read_user(&more, sizeof(more), &argv[i & 63]);
    if (more && off <= ARGS_LEN - 4) {
        char *p = &e->args[off & (ARGS_LEN - 1)];
        p[0] = p[1] = p[2] = '.';
        p[3] = '\0';
        off += 4;
        count++;
    }
done:
    e->args_count = count;
    e->args_size = off;
    return 0;
}

/* What the exec loaded, read from the task once it runs the new program: the executable's file
 * name (a memfd's reads "memfd:NAME", Falco's proc.is_exe_from_memfd) and the controlling
 * terminal (Falco's proc.tty). */
static __always_inline void loaded(struct event *e)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
    if (tty) {
        __u32 major = BPF_CORE_READ(tty, driver, major);
        __u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
        e->tty = (major << 8) | (minor & 0xff) | ((minor & ~0xffu) << 12);
    }
    /* f_path and d_name.name are const in newer kernels: read them into plain pointers. */
    struct file *exe = BPF_CORE_READ(task, mm, exe_file);
    struct dentry *dentry = NULL;
    if (exe)
        bpf_core_read(&dentry, sizeof(dentry), &exe->f_path.dentry);
    const unsigned char *name = NULL;
    if (dentry)
        bpf_core_read(&name, sizeof(name), &dentry->d_name.name);
    if (name)
        bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), name);
}

static __always_inline int leave(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct slot *s = bpf_map_lookup_elem(&execs, &tid);
    if (!s)
        return 0;
    /* Filtered here, after the exec: comm is the new program's name. */
    if ((!targ_fails && ret < 0) || !eunomia_task_allowed())
        goto cleanup;
    struct event *e = &s->e;
    e->pid = id >> 32;
    e->uid = (__u32)bpf_get_current_uid_gid();
    e->ret = ret;
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    e->tty = 0;
    e->exe[0] = '\0';
    if (ret >= 0)
        loaded(e);
    eunomia_output_tail(e, args, e->args_size);
cleanup:
    bpf_map_delete_elem(&execs, &tid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
    return enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int handle_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
    return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int handle_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
    return enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int handle_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
    return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
