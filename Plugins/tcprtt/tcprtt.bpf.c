// SPDX-License-Identifier: GPL-2.0
/* tcprtt: smoothed TCP round-trip time as a log2 histogram. libbpf-tools reads srtt in
 * tcp_rcv_established with fentry/kprobe; the tcp/tcp_probe tracepoint fires at the start of
 * the same function and carries the same value (srtt_us >> 3), with the addresses and ports. */
#include "eunomia.bpf.h"
#include "tcprtt.h"

#define AF_INET 2
#define AF_INET6 10

const volatile bool targ_by_laddr = false;
const volatile bool targ_by_raddr = false;
const volatile bool targ_ms = false;
const volatile __u16 targ_sport = 0; /* host order, as tcp_probe stores ports */
const volatile __u16 targ_dport = 0;
const volatile bool filter_saddr = false;
const volatile bool filter_daddr = false;
const volatile __u8 targ_saddr[16] = {};
const volatile __u8 targ_daddr[16] = {};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, struct hist);
} hists SEC(".maps");

/* The address in a sockaddr_in / sockaddr_in6 as 16 bytes, IPv4 mapped to ::ffff:a.b.c.d. */
static __always_inline void sockaddr_ip(__u8 dst[16], const __u8 *sa, __u16 family)
{
    if (family == AF_INET) {
        __builtin_memset(dst, 0, 10);
        dst[10] = dst[11] = 0xff;
        bpf_probe_read_kernel(dst + 12, 4, sa + 4); /* sin_addr */
    } else {
        bpf_probe_read_kernel(dst, 16, sa + 8); /* sin6_addr */
    }
}

static __always_inline bool same(const __u8 a[16], const volatile __u8 b[16])
{
    for (int i = 0; i < 16; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

SEC("tracepoint/tcp/tcp_probe")
int handle_tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
    __u16 family = ctx->family;
    if (family != AF_INET && family != AF_INET6)
        return 0;
    if ((targ_sport && ctx->sport != targ_sport) || (targ_dport && ctx->dport != targ_dport))
        return 0;

    __u8 saddr[16], daddr[16];
    sockaddr_ip(saddr, ctx->saddr, family);
    sockaddr_ip(daddr, ctx->daddr, family);
    if ((filter_saddr && !same(saddr, targ_saddr)) || (filter_daddr && !same(daddr, targ_daddr)))
        return 0;

    /* Hot swap: only the version that owns this moment counts the sample. */
    if (!eunomia_owned())
        return 0;
    struct hist_key key = {};
    if (targ_by_laddr)
        __builtin_memcpy(key.addr, saddr, 16);
    else if (targ_by_raddr)
        __builtin_memcpy(key.addr, daddr, 16);
    struct hist *h = bpf_map_lookup_elem(&hists, &key);
    if (!h) {
        static const struct hist zero;
        bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
        h = bpf_map_lookup_elem(&hists, &key);
        if (!h)
            return 0;
    }
    __u64 srtt = ctx->srtt; /* usecs */
    if (targ_ms)
        srtt /= 1000;
    __u32 slot = eunomia_log2_slot(srtt);
    if (slot >= TCPRTT_SLOTS)
        slot = TCPRTT_SLOTS - 1;
    __sync_fetch_and_add(&h->slots[slot], 1);
    __sync_fetch_and_add(&h->sum, srtt);
    __sync_fetch_and_add(&h->cnt, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
