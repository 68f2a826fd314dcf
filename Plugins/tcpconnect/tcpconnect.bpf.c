// SPDX-License-Identifier: GPL-2.0
/* tcpconnect: active TCP connections (connect()), with addresses and ports.
 *
 * First choice, where the kernel has kprobes: kprobe/kretprobe on tcp_v4_connect and
 * tcp_v6_connect, as libbpf-tools does. Fallback: sock/inet_sock_set_state (CLOSE -> SYN_SENT
 * runs inside connect(), in the caller's context) remembers the socket, and
 * syscalls/sys_exit_connect reports it once the source port is bound. Both read the socket
 * the same way at return. */
#include "eunomia.bpf.h"
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EINPROGRESS 115

/* Record id 0 in schema.json. */
struct event {
    __u64 ts; /* bpf_ktime_get_ns as connect() begins on the socket: tcp_v*_connect entry, or
               * the CLOSE -> SYN_SENT change early in connect() */
    __u32 pid;
    __u32 uid;
    __s32 ret;
    __u16 family;
    __u16 sport;
    __u16 dport;
    __u16 pad;
    __u8 saddr[16]; /* IPv4 as ::ffff:a.b.c.d */
    __u8 daddr[16];
    EUNOMIA_TASK_IDS;
    char comm[TASK_COMM_LEN];
};

const volatile __u16 targ_dport = 0;

/* The socket connect() is working on, per thread, and when it began. Carried over in a hot swap. */
struct conn {
    __u64 sk;
    __u64 ts;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct conn);
} pending SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

static __always_inline void remember(__u64 sk)
{
    if (!eunomia_task_allowed())
        return;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct conn c = { .sk = sk, .ts = bpf_ktime_get_ns() };
    bpf_map_update_elem(&pending, &tid, &c, BPF_ANY);
}

static __always_inline void mapped(__u8 dst[16], __u32 v4)
{
    __builtin_memset(dst, 0, 10);
    dst[10] = dst[11] = 0xff;
    __builtin_memcpy(dst + 12, &v4, 4);
}

/* owned: this version's hot-swap decision (eunomia_owned on a tracepoint, eunomia_owned_alone on
 * a kretprobe). Not ours: the entry stays for the version that owns this moment. */
static __always_inline int report(long ret, bool owned)
{
    if (!owned)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct conn *c = bpf_map_lookup_elem(&pending, &tid);
    if (!c)
        return 0;
    struct sock *sk = (struct sock *)c->sk;
    __u64 ts = c->ts;
    bpf_map_delete_elem(&pending, &tid);
    if (ret < 0 && ret != -EINPROGRESS) /* a connect that failed outright is not a connection */
        return 0;
    __u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (targ_dport && dport != targ_dport)
        return 0;
    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        return 0;
    e->ts = ts;
    e->pid = id >> 32;
    e->uid = (__u32)bpf_get_current_uid_gid();
    e->ret = ret;
    e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    e->dport = dport;
    if (e->family == AF_INET) {
        mapped(e->saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
        mapped(e->daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
    } else {
        BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    }
    eunomia_fill_task_ids(e);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    eunomia_output(e, sizeof(*e));
    return 0;
}

/* First choice: kprobes. */
SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcp_v4_connect_entry, struct sock *sk)
{
    remember((__u64)sk);
    return 0;
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(tcp_v4_connect_return, int ret)
{
    return report(ret, eunomia_owned_alone());
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(tcp_v6_connect_entry, struct sock *sk)
{
    remember((__u64)sk);
    return 0;
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(tcp_v6_connect_return, int ret)
{
    return report(ret, eunomia_owned_alone());
}

/* Fallback: tracepoints. */
SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    if (ctx->protocol == IPPROTO_TCP && ctx->oldstate == 7 /* TCP_CLOSE */ && ctx->newstate == 2 /* TCP_SYN_SENT */)
        remember((__u64)ctx->skaddr);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int handle_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
    return report(ctx->ret, eunomia_owned());
}

char LICENSE[] SEC("license") = "GPL";
