// SPDX-License-Identifier: GPL-2.0
/* files: reads and writes per file and thread, like libbpf-tools filetop, from the read,
 * write, pread64, pwrite64, readv and writev syscall tracepoints (filetop's kprobes on
 * vfs_read/vfs_write are not available everywhere). Entry finds the file behind the fd,
 * exit adds the bytes the call returned. */
#include "eunomia.bpf.h"
#include "files.h"

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000

const volatile bool regular_only = true;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FILES_MAX_ENTRIES);
    __type(key, struct file_id);
    __type(value, struct file_stat);
} stats SEC(".maps");

/* The file each thread is reading or writing, from entry to exit. Carried over in a hot swap,
 * with stats. */
struct pending {
    struct file_id id;
    __u32 write;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct pending);
} inflight SEC(".maps");

/* The struct file behind fd in the current task's file table, or NULL. */
static __always_inline struct file *fd_file(__u64 fd)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
        return NULL;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
    return f;
}

static __always_inline int enter(__u64 fd, __u32 write)
{
    if (!eunomia_task_allowed())
        return 0;
    struct file *f = fd_file(fd);
    if (!f)
        return 0;
    struct inode *inode = BPF_CORE_READ(f, f_inode);
    __u32 mode = BPF_CORE_READ(inode, i_mode);
    if (regular_only && (mode & S_IFMT) != S_IFREG)
        return 0;

    __u64 id = bpf_get_current_pid_tgid();
    struct pending p = {};
    p.id.inode = BPF_CORE_READ(inode, i_ino);
    p.id.dev = BPF_CORE_READ(inode, i_sb, s_dev);
    p.id.rdev = BPF_CORE_READ(inode, i_rdev);
    p.id.pid = id >> 32;
    p.id.tid = (__u32)id;
    p.write = write;

    /* The first access creates the entry with what only the entry can see: the name. */
    struct file_stat *s = bpf_map_lookup_elem(&stats, &p.id);
    if (!s) {
        static const struct file_stat zero;
        bpf_map_update_elem(&stats, &p.id, &zero, BPF_NOEXIST);
        s = bpf_map_lookup_elem(&stats, &p.id);
        if (!s)
            return 0;
        s->inode = p.id.inode;
        s->dev = p.id.dev;
        s->rdev = p.id.rdev;
        s->pid = p.id.pid;
        s->tid = p.id.tid;
        bpf_get_current_comm(s->comm, sizeof(s->comm));
        s->type[0] = (mode & S_IFMT) == S_IFREG ? 'R' : (mode & S_IFMT) == S_IFSOCK ? 'S' : 'O';
        /* f_path is const in recent kernels, which BPF_CORE_READ's temporaries trip over. */
        struct dentry *dentry = NULL;
        const unsigned char *name = NULL;
        bpf_core_read(&dentry, sizeof(dentry), &f->f_path.dentry);
        bpf_core_read(&name, sizeof(name), &dentry->d_name.name);
        bpf_probe_read_kernel_str(s->name, sizeof(s->name), name);
    }
    __u32 tid = (__u32)id;
    bpf_map_update_elem(&inflight, &tid, &p, BPF_ANY);
    return 0;
}

static __always_inline int leave(long ret)
{
    /* Not ours (hot swap): the entry stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pending *p = bpf_map_lookup_elem(&inflight, &tid);
    if (!p)
        return 0;
    /* Gone when a report cleared the counts while the call ran: that call is not counted. */
    struct file_stat *s = bpf_map_lookup_elem(&stats, &p->id);
    if (s) {
        __u64 bytes = ret > 0 ? (__u64)ret : 0;
        if (p->write) {
            __sync_fetch_and_add(&s->writes, 1);
            __sync_fetch_and_add(&s->wbytes, bytes);
        } else {
            __sync_fetch_and_add(&s->reads, 1);
            __sync_fetch_and_add(&s->rbytes, bytes);
        }
    }
    bpf_map_delete_elem(&inflight, &tid);
    return 0;
}

#define SYSCALL(name, write)                                          \
    SEC("tracepoint/syscalls/sys_enter_" #name)                       \
    int enter_##name(struct trace_event_raw_sys_enter *ctx)           \
    {                                                                 \
        return enter(ctx->args[0], write);                            \
    }                                                                 \
    SEC("tracepoint/syscalls/sys_exit_" #name)                        \
    int exit_##name(struct trace_event_raw_sys_exit *ctx)             \
    {                                                                 \
        return leave(ctx->ret);                                       \
    }

SYSCALL(read, 0)
SYSCALL(pread64, 0)
SYSCALL(readv, 0)
SYSCALL(write, 1)
SYSCALL(pwrite64, 1)
SYSCALL(writev, 1)

char LICENSE[] SEC("license") = "GPL";
