// SPDX-License-Identifier: GPL-2.0
/* bindsnoop: bind() on IPv4 and IPv6 sockets, through the bind syscall tracepoints.
 * libbpf-tools probes inet_bind/inet6_bind; here the address comes from the caller's sockaddr
 * and the socket's facts (protocol, options, interface, bound port) from
 * task->files->fdt->fd[fd]->private_data, read with CO-RE at syscall exit. */
#include "eunomia.bpf.h"
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

/* OPTS bits, shown as libbpf-tools' letters by the schema. */
#define OPT_REUSEADDR 1
#define OPT_REUSEPORT 2

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns at syscall entry */
    __u32 pid;
    __s32 ret;
    __u32 bound_dev_if;
    __u16 proto;
    __u16 port;
    __u16 family;
    __u8 opts;
    __u8 pad;
    __u8 addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
};

/* From entry to exit, per thread; carried over in a hot swap. */
struct args {
    const void *uaddr;
    __u64 ts;
    __s32 fd;
};

const volatile bool targ_failed = false;
const volatile __u16 targ_port = 0;

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

SEC("tracepoint/syscalls/sys_enter_bind")
int handle_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
    if (!eunomia_task_allowed())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct args a = { .uaddr = (const void *)ctx->args[1], .ts = bpf_ktime_get_ns(), .fd = (__s32)ctx->args[0] };
    bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
    return 0;
}

static __always_inline struct sock *fd_sock(__s32 fd)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
    struct file *file = NULL;
    if (fd < 0 || bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
        return NULL;
    struct socket *sock = BPF_CORE_READ(file, private_data);
    return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int handle_exit_bind(struct trace_event_raw_sys_exit *ctx)
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
    if (!e || (targ_failed && ctx->ret >= 0))
        goto cleanup;
    struct sockaddr_in6 sa = {}; /* large enough for either family */
    if (bpf_probe_read_user(&sa, sizeof(sa), a->uaddr) && bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), a->uaddr))
        goto cleanup;
    if (sa.sin6_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&sa;
        __builtin_memset(e->addr, 0, 10);
        e->addr[10] = e->addr[11] = 0xff;
        __builtin_memcpy(e->addr + 12, &sin->sin_addr.s_addr, 4);
    } else if (sa.sin6_family == AF_INET6) {
        __builtin_memcpy(e->addr, &sa.sin6_addr, 16);
    } else {
        goto cleanup; /* unix, netlink, ...: not IP */
    }
    e->family = sa.sin6_family;
    e->port = bpf_ntohs(sa.sin6_port); /* sin_port sits at the same offset */
    struct sock *sk = fd_sock(a->fd);
    e->proto = 0;
    e->opts = 0;
    e->bound_dev_if = 0;
    if (sk) {
        e->proto = BPF_CORE_READ(sk, sk_protocol);
        e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
        __u16 bound = BPF_CORE_READ(sk, __sk_common.skc_num);
        if (bound)
            e->port = bound; /* port 0 asked for an ephemeral one: show what was given */
        if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuse))
            e->opts |= OPT_REUSEADDR;
        if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuseport))
            e->opts |= OPT_REUSEPORT;
    }
    if (targ_port && e->port != targ_port)
        goto cleanup;
    e->ts = a->ts;
    e->pid = id >> 32;
    e->ret = ctx->ret;
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    eunomia_output(e, sizeof(*e));
cleanup:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
