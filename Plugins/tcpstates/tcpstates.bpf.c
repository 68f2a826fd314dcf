// SPDX-License-Identifier: GPL-2.0
/* tcpstates: TCP state changes, with the time spent in the previous state, from
 * sock/inet_sock_set_state.
 *
 * Most changes run in softirq or in whichever task touched the socket, so the record's cgroup
 * id is the socket's, not the current task's: the cgroup v2 the socket was created in
 * (sk->sk_cgrp_data, set by cgroup_sk_alloc; an accepted socket inherits the listener's). A
 * socket has no mount or pid namespace: those stay 0 (unknown). */
#include "eunomia.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Record id 0 in schema.json. */
struct event {
    __u64 skaddr;
    __u64 ts;
    __u64 delta_ns; /* time in oldstate; 0 when its start was not seen */
    __u32 pid;
    __s32 oldstate;
    __s32 newstate;
    __u16 family;
    __u16 sport;
    __u16 dport;
    __u16 pad;
    __u32 pad2;
    __u8 saddr[16]; /* IPv4 as ::ffff:a.b.c.d */
    __u8 daddr[16];
    char comm[TASK_COMM_LEN];
    EUNOMIA_TASK_IDS; /* cgroup_id: the socket's; mount_ns, pid_ns: 0 */
};

/* The cgroup v2 id of the cgroup socket sk was created in, 0 when unknown. From 5.15
 * struct sock_cgroup_data holds the cgroup pointer; before, a tagged u64 this does not read. */
static __always_inline __u64 socket_cgroup_id(struct sock *sk)
{
    if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
        return 0;
    struct cgroup *cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
    if (!cgrp)
        return 0;
    return BPF_CORE_READ(cgrp, kn, id);
}

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u16 targ_sport = 0;
const volatile __u16 targ_dport = 0;

/* When each socket entered its current state. Carried over in a hot swap; only the version that
 * owns an event updates it. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, __u64);
} since SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct event);
} scratch SEC(".maps");

/* The verifier allows no pointer arithmetic on the tracepoint context: copy with helpers. */
static __always_inline void v4_mapped(__u8 dst[16], const __u8 *src)
{
    __builtin_memset(dst, 0, 10);
    dst[10] = dst[11] = 0xff;
    bpf_probe_read_kernel(dst + 12, 4, src);
}

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    if (ctx->protocol != IPPROTO_TCP)
        return 0;
    if ((targ_family && ctx->family != targ_family) || (targ_sport && ctx->sport != targ_sport) ||
        (targ_dport && ctx->dport != targ_dport))
        return 0;
    /* Not ours (hot swap): the other version reports it and keeps `since`. */
    __u64 now; /* the time both versions decided on */
    if (!eunomia_claim(&now))
        return 0;
    __u64 sk = (__u64)ctx->skaddr;
    __u64 *start = bpf_map_lookup_elem(&since, &sk);
    __u32 zero = 0;
    struct event *e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        return 0;
    e->skaddr = sk;
    e->ts = now;
    e->delta_ns = start ? now - *start : 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->oldstate = ctx->oldstate;
    e->newstate = ctx->newstate;
    e->family = ctx->family;
    e->sport = ctx->sport;
    e->dport = ctx->dport;
    if (ctx->family == AF_INET) {
        v4_mapped(e->saddr, ctx->saddr);
        v4_mapped(e->daddr, ctx->daddr);
    } else {
        bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
        bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
    }
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    e->cgroup_id = socket_cgroup_id((struct sock *)ctx->skaddr);
    e->mount_ns = 0;
    e->pid_ns = 0;
    eunomia_output(e, sizeof(*e));
    if (ctx->newstate == 7 /* TCP_CLOSE */)
        bpf_map_delete_elem(&since, &sk);
    else
        bpf_map_update_elem(&since, &sk, &now, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
