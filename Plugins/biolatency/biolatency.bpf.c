// SPDX-License-Identifier: GPL-2.0
/* biolatency: block I/O latency as a log2 histogram, from issue (or, with queued, insert)
 * to completion. tp_btf/ programs first; raw_tp/ copies for kernels whose BTF lacks the
 * block_rq_* raw tracepoints. */
#include "eunomia.bpf.h"
#include "biolatency.h"

const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_queued = false;
const volatile bool targ_ms = false;
const volatile bool filter_dev = false;
const volatile __u32 targ_dev = 0;

/* Start time of each request in flight. Carried over in a hot swap, with hists. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct request *);
    __type(value, __u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, struct hist);
} hists SEC(".maps");

/* Before 5.16 a request pointed at its disk directly. */
struct request___old {
    struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 rq_dev(struct request *rq)
{
    struct gendisk *disk;
    if (bpf_core_field_exists(struct request___old, rq_disk))
        disk = BPF_CORE_READ((struct request___old *)rq, rq_disk);
    else
        disk = BPF_CORE_READ(rq, q, disk);
    if (!disk)
        return 0;
    return ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
}

static __always_inline int rq_start(struct request *rq, bool issue)
{
    /* With queued, insert stamped the request; requests that bypass the scheduler (no
     * elevator) are never inserted, so issue stamps those. */
    if (issue && targ_queued && BPF_CORE_READ(rq, q, elevator))
        return 0;
    if (filter_dev && rq_dev(rq) != targ_dev)
        return 0;
    __u64 ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
    return 0;
}

#define FLAG(bit, ours) (flags & (1u << bpf_core_enum_value(enum req_flag_bits, bit)) ? (ours) : 0)

static __always_inline int rq_done(struct request *rq)
{
    /* Not ours (hot swap): the start time stays for the version that owns this moment. */
    if (!eunomia_owned())
        return 0;
    __u64 *tsp = bpf_map_lookup_elem(&start, &rq);
    if (!tsp)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    __s64 delta = (__s64)(now - *tsp);
    bpf_map_delete_elem(&start, &rq);
    if (delta < 0)
        return 0;

    struct hist_key key = {};
    if (targ_per_disk)
        key.dev = rq_dev(rq);
    if (targ_per_flag) {
        __u32 flags = BPF_CORE_READ(rq, cmd_flags);
        key.op = flags & 0xff; /* REQ_OP_MASK */
        key.flags = FLAG(__REQ_SYNC, BIOLAT_F_SYNC) | FLAG(__REQ_META, BIOLAT_F_META) |
                    FLAG(__REQ_PRIO, BIOLAT_F_PRIO) | FLAG(__REQ_FUA, BIOLAT_F_FUA) |
                    FLAG(__REQ_PREFLUSH, BIOLAT_F_PREFLUSH) | FLAG(__REQ_RAHEAD, BIOLAT_F_RAHEAD) |
                    FLAG(__REQ_BACKGROUND, BIOLAT_F_BACKGROUND) | FLAG(__REQ_NOWAIT, BIOLAT_F_NOWAIT);
    }
    struct hist *h = bpf_map_lookup_elem(&hists, &key);
    if (!h) {
        static const struct hist zero;
        bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
        h = bpf_map_lookup_elem(&hists, &key);
        if (!h)
            return 0;
    }
    __u64 v = (__u64)delta / (targ_ms ? 1000000 : 1000);
    __u32 slot = eunomia_log2_slot(v);
    if (slot >= BIOLAT_SLOTS)
        slot = BIOLAT_SLOTS - 1;
    __sync_fetch_and_add(&h->slots[slot], 1);
    return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(block_rq_insert_btf, struct request *rq)
{
    return rq_start(rq, false);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue_btf, struct request *rq)
{
    return rq_start(rq, true);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete_btf, struct request *rq)
{
    return rq_done(rq);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(block_rq_insert_raw, struct request *rq)
{
    return rq_start(rq, false);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue_raw, struct request *rq)
{
    return rq_start(rq, true);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete_raw, struct request *rq)
{
    return rq_done(rq);
}

char LICENSE[] SEC("license") = "GPL";
