// SPDX-License-Identifier: GPL-2.0
/* filelife: files created and deleted again, with their age. libbpf-tools' filelife hooks
 * vfs_create and vfs_unlink with kprobes; this port uses the syscall tracepoints, so a file is
 * known by the path the process gave (touch /tmp/x ... rm /tmp/x), and its birth is its first
 * successful open with O_CREAT. */
#include "eunomia.bpf.h"
#include "filelife.h"

#define O_CREAT 0100

struct name {
    char path[FILELIFE_NAME_LEN];
};

/* Birth time per path: every process's, since the filters apply to the task that deletes (the
 * one the record describes); the least recently used births make room for new ones. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct name);
    __type(value, __u64);
} births SEC(".maps");

/* The path of an openat(O_CREAT) in flight, per thread, until its exit. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, const char *);
} creating SEC(".maps");

/* A path key and an event are too large for the 512-byte BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct name);
} name_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} event_scratch SEC(".maps");

/* The user-space path as a map key: zero-filled past its end, so equal paths hash equally. */
static __always_inline struct name *read_name(const char *path)
{
    __u32 zero = 0;
    struct name *n = bpf_map_lookup_elem(&name_scratch, &zero);
    if (!n)
        return NULL;
    __builtin_memset(n, 0, sizeof(*n));
    if (bpf_probe_read_user_str(n->path, sizeof(n->path), path) < 1)
        return NULL;
    return n;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
    if (!(ctx->args[2] & O_CREAT))
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    const char *path = (const char *)ctx->args[1];
    bpf_map_update_elem(&creating, &tid, &path, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    const char **path = bpf_map_lookup_elem(&creating, &tid);
    if (!path)
        return 0;
    if (ctx->ret >= 0) {
        struct name *n = read_name(*path);
        __u64 now = bpf_ktime_get_ns();
        if (n)
            bpf_map_update_elem(&births, n, &now, BPF_NOEXIST); /* an existing file keeps its birth */
    }
    bpf_map_delete_elem(&creating, &tid);
    return 0;
}

static __always_inline int deleted(const char *path)
{
    /* The common filters, on the task the record is about: so --pid, --comm and a filter's
     * pushed-down terms select the deleting process, as the record's pid and comm show. */
    if (!eunomia_task_allowed())
        return 0;
    struct name *n = read_name(path);
    if (!n)
        return 0;
    __u64 *birth = bpf_map_lookup_elem(&births, n);
    if (!birth)
        return 0;
    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&event_scratch, &zero);
    if (e) {
        __u64 id = bpf_get_current_pid_tgid();
        e->ts = bpf_ktime_get_ns();
        e->age_ns = e->ts - *birth;
        e->pid = id >> 32;
        e->tid = (__u32)id;
        eunomia_fill_task_ids(e);
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        long len = bpf_probe_read_kernel_str(e->file, sizeof(e->file), n->path);
        eunomia_output_tail(e, file, len > 0 ? len : 1);
    }
    bpf_map_delete_elem(&births, n);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int handle_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
    return deleted((const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int handle_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
    return deleted((const char *)ctx->args[0]);
}

char LICENSE[] SEC("license") = "GPL";
