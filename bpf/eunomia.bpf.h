/* Shared header for every eunomia plugin's BPF program: kernel types, libbpf macros,
 * compatibility shims for older libbpf headers, and the record output path. */
#ifndef EUNOMIA_BPF_H
#define EUNOMIA_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* libbpf 1.1 (Debian 12) predates these; uprobes take the kprobe forms on uprobe/ sections. */
#ifndef BPF_UPROBE
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif
#ifndef BPF_URETPROBE
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)
#endif
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) ({ \
    _Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
    !!sym; \
})
#endif

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Records leave through this ring buffer; the plugin helper sizes it from the ringbuf_kb
 * parameter before load and forwards what it reads to the host. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Records that did not fit in the ring buffer; read by the helper as events_lost. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} eunomia_lost SEC(".maps");

/* Waking the consumer for every record costs more than the record itself under load. Below
 * this much pending data the record waits for the consumer's next poll (at most the host's
 * poll timeout, 100 ms); above it the consumer is woken at once. */
#ifndef EUNOMIA_WAKEUP_BYTES
#define EUNOMIA_WAKEUP_BYTES (64 * 1024)
#endif

/* Copy size bytes of data into the ring buffer, counting a loss when it is full.
 * size may vary per record (trailing strings); it must be provably <= max_size. */
static __always_inline long eunomia_output(void *data, __u64 size)
{
    __u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= EUNOMIA_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                                         : BPF_RB_NO_WAKEUP;
    long err = bpf_ringbuf_output(&events, data, size, flags);
    if (err) {
        __u32 zero = 0;
        __u64 *lost = bpf_map_lookup_elem(&eunomia_lost, &zero);
        if (lost)
            *lost += 1;
    }
    return err;
}

/* Output a record whose last member, a buffer of `cap` bytes (a power of two) starting at
 * offset `tail`, holds `used` bytes: only those travel, so a 30-byte path makes a short record. */
#define eunomia_output_tail(e, member, used) \
    eunomia_output((e), offsetof(typeof(*(e)), member) + \
                            ((__u64)(used) >= sizeof((e)->member) ? sizeof((e)->member) \
                                                                   : ((__u64)(used) & (sizeof((e)->member) - 1))))

/* Histogram slot of v: floor(log2(v)), with 0 and 1 in slot 0 (libbpf-tools' log2l), the
 * slot layout of the host's "histogram" fields. */
static __always_inline __u32 eunomia_log2_slot(__u64 v)
{
    __u32 r = 0;
    for (int shift = 32; shift; shift >>= 1) {
        if (v >> shift) {
            v >>= shift;
            r += shift;
        }
    }
    return r;
}

/* Filters every tracker offers, set by the helper from the pid/tid/uid/comm parameters. */
const volatile __u32 eunomia_targ_tgid = 0;
const volatile __u32 eunomia_targ_tid = 0;
const volatile __u32 eunomia_targ_uid = (__u32)-1;
const volatile char eunomia_targ_comm[TASK_COMM_LEN] = {};

/* True when the current task passes the pid/tid/uid/comm filters. */
static __always_inline bool eunomia_task_allowed(void)
{
    __u64 id = bpf_get_current_pid_tgid();
    if (eunomia_targ_tgid && eunomia_targ_tgid != (__u32)(id >> 32))
        return false;
    if (eunomia_targ_tid && eunomia_targ_tid != (__u32)id)
        return false;
    if (eunomia_targ_uid != (__u32)-1 && eunomia_targ_uid != (__u32)bpf_get_current_uid_gid())
        return false;
    if (eunomia_targ_comm[0]) {
        char comm[TASK_COMM_LEN];
        bpf_get_current_comm(comm, sizeof(comm));
        for (int i = 0; i < TASK_COMM_LEN; i++) {
            if (comm[i] != eunomia_targ_comm[i])
                return false;
            if (!comm[i])
                break;
        }
    }
    return true;
}

#endif
