/* Shared header for every eunomia plugin's BPF program: kernel types, libbpf macros,
 * compatibility shims for older libbpf headers, and the record output path. */
#ifndef EUNOMIA_BPF_H
#define EUNOMIA_BPF_H

#include "vmlinux.h"
#include "eunomia_record.h"
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

/* "The consumer is asleep": set by the helper (through an mmap of this map) at the end of every
 * poll, once it has emptied the ring buffer, and cleared by the first record written after
 * that, which wakes the consumer. So an idle consumer is woken by the first record at once,
 * and a busy one is not woken per record: the records written while it works wait for its
 * next poll. Per instance: never carried over in a hot swap. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, __u32);
} eunomia_wakeup SEC(".maps");

/* Waking the consumer for every record costs more than the record itself under load. Unless
 * the consumer is asleep (eunomia_wakeup), a record below this much pending data waits for the
 * consumer's next poll; above it the consumer is woken at once. */
#ifndef EUNOMIA_WAKEUP_BYTES
#define EUNOMIA_WAKEUP_BYTES (64 * 1024)
#endif

/* Copy size bytes of data into the ring buffer, counting a loss when it is full.
 * size may vary per record (trailing strings); it must be provably <= max_size. */
static __always_inline long eunomia_output(void *data, __u64 size)
{
    __u32 zero = 0;
    volatile __u32 *asleep = bpf_map_lookup_elem(&eunomia_wakeup, &zero);
    __u64 flags;
    if (asleep && *asleep) {
        *asleep = 0;
        flags = BPF_RB_FORCE_WAKEUP;
    } else {
        flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= EUNOMIA_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                                   : BPF_RB_NO_WAKEUP;
    }
    long err = bpf_ringbuf_output(&events, data, size, flags);
    if (err) {
        __u64 *lost = bpf_map_lookup_elem(&eunomia_lost, &zero);
        if (lost)
            *lost += 1;
    } else if (flags == BPF_RB_NO_WAKEUP && asleep && *asleep) {
        /* The consumer went to sleep between the check above and the commit, and may have
         * looked at the ring buffer before this record was in it. The commit is a full barrier
         * and so is the consumer's store: either it saw the record or this sees the flag. Wake
         * it with an empty record, which the helper skips. */
        *asleep = 0;
        bpf_ringbuf_output(&events, &zero, 0, BPF_RB_FORCE_WAKEUP);
    }
    return err;
}

/* Output a record whose last member, a buffer of `cap` bytes (a power of two) starting at
 * offset `tail`, holds `used` bytes: only those travel, so a 30-byte path makes a short record. */
#define eunomia_output_tail(e, member, used) \
    eunomia_output((e), offsetof(typeof(*(e)), member) + \
                            ((__u64)(used) >= sizeof((e)->member) ? sizeof((e)->member) \
                                                                   : ((__u64)(used) & (sizeof((e)->member) - 1))))

/* Output a record whose last member is an array (`__u64 kstack[N]`, N a power of two) of which
 * only the first n elements are used: the record travels up to and including them, so a stack of
 * 5 frames makes a short record. n above N sends the whole array. The host reads what is missing
 * of a trailing stack as absent (no frames), so a record with n = 0 shows an empty stack. Hosts
 * read such records from ABI 1.5 on: a plugin that sends them declares abi 1.5 in its schema.
 *
 *     long len = bpf_get_stack(ctx, e->kstack, sizeof(e->kstack), 0);
 *     eunomia_output_array(e, kstack, len > 0 ? len / sizeof(e->kstack[0]) : 0);
 */
#define eunomia_output_array(e, member, n) \
    eunomia_output((e), offsetof(typeof(*(e)), member) + \
                            ((__u64)(n) >= sizeof((e)->member) / sizeof((e)->member[0]) \
                                 ? sizeof((e)->member) \
                                 : ((__u64)(n) & (sizeof((e)->member) / sizeof((e)->member[0]) - 1)) * \
                                       sizeof((e)->member[0])))

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

/* The process the tracker runs in (the host), set by the helper to getpid() before load unless
 * the boolean parameter include_host is true: its own system calls are not traced events. */
const volatile __u32 eunomia_host_tgid = 0;

/* Filters every tracker offers, set by the helper from the pid/tid/uid/comm parameters. */
const volatile __u32 eunomia_targ_tgid = 0;
const volatile __u32 eunomia_targ_tid = 0;
const volatile __u32 eunomia_targ_uid = (__u32)-1;
const volatile char eunomia_targ_comm[TASK_COMM_LEN] = {};

/* The container filter (ABI 1.4): on when the host resolved the plugin's `container`
 * parameter to cgroup ids; the helper then fills eunomia_cgroups with them after load (and
 * sizes it to one entry when the filter is off). A task passes when its cgroup v2 id is there:
 * records from other cgroups are dropped here, before they take ring buffer space. */
const volatile __u8 eunomia_targ_cgroups = 0;

#ifndef EUNOMIA_MAX_CGROUPS
#define EUNOMIA_MAX_CGROUPS 1024
#endif

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EUNOMIA_MAX_CGROUPS);
    __type(key, __u64);
    __type(value, __u8);
} eunomia_cgroups SEC(".maps");

/* True when the current task passes the pid/tid/uid/comm/container filters, and is not the
 * host's own process (eunomia_host_tgid). */
static __always_inline bool eunomia_task_allowed(void)
{
    __u64 id = bpf_get_current_pid_tgid();
    if (eunomia_host_tgid && eunomia_host_tgid == (__u32)(id >> 32))
        return false;
    if (eunomia_targ_tgid && eunomia_targ_tgid != (__u32)(id >> 32))
        return false;
    if (eunomia_targ_tid && eunomia_targ_tid != (__u32)id)
        return false;
    if (eunomia_targ_uid != (__u32)-1 && eunomia_targ_uid != (__u32)bpf_get_current_uid_gid())
        return false;
    if (eunomia_targ_cgroups) {
        __u64 cgroup = bpf_get_current_cgroup_id();
        if (!bpf_map_lookup_elem(&eunomia_cgroups, &cgroup))
            return false;
    }
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

/* ---- Which container a record came from ----
 *
 * Every event record carries the task's cgroup v2 id and its mount and pid namespace inodes:
 * EUNOMIA_TASK_IDS declares the three members (flat, so the schema's layout check sees them),
 * eunomia_fill_task_ids(e) fills them, and the schema gives them the roles cgroup_id, mount_ns
 * and pid_ns. The host maps the cgroup id to a container (runtime, id, name, image, pod) with
 * no plugin-specific code. When the event runs in another task's context (the OOM killer, a
 * softirq), fill them from the task the record is about with eunomia_task_ids_of(task, ...),
 * or leave what is unknowable 0: the host names no container for cgroup id 0. */
#define eunomia_fill_task_ids(e) eunomia_task_ids(&(e)->cgroup_id, &(e)->mount_ns, &(e)->pid_ns)

/* The mount and pid namespace inodes of task t (any task: the current one, an OOM victim). */
static __always_inline void eunomia_task_namespaces_of(struct task_struct *t, __u32 *mount_ns, __u32 *pid_ns)
{
    *mount_ns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
    /* The task's own pid namespace is its pid's deepest level (task_active_pid_ns). */
    struct pid *pid = BPF_CORE_READ(t, thread_pid);
    unsigned int level = BPF_CORE_READ(pid, level);
    struct upid upid = {};
    bpf_core_read(&upid, sizeof(upid), &pid->numbers[level & 31]);
    *pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
}

/* The cgroup v2 id (the unified hierarchy's kernfs id, what bpf_get_current_cgroup_id()
 * returns for the current task) and the namespaces of task t, for a record about a task other
 * than the one the event runs in: fill the EUNOMIA_TASK_IDS members with it. A task that
 * has exited may have no nsproxy left: its namespaces read as 0 (unknown). */
static __always_inline void eunomia_task_ids_of(struct task_struct *t, __u64 *cgroup_id, __u32 *mount_ns,
                                                __u32 *pid_ns)
{
    *cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
    eunomia_task_namespaces_of(t, mount_ns, pid_ns);
}

/* The current task's: the cgroup id from the helper (cheaper than the pointer chase, and the
 * value the container filter compares), the namespaces as eunomia_task_ids_of reads them. */
static __always_inline void eunomia_task_ids(__u64 *cgroup_id, __u32 *mount_ns, __u32 *pid_ns)
{
    *cgroup_id = bpf_get_current_cgroup_id();
    eunomia_task_namespaces_of((struct task_struct *)bpf_get_current_task(), mount_ns, pid_ns);
}

/* ---- Hot swap (ABI 1.2): two versions attached at once, each event delivered by one ----
 *
 * The host sets eunomia_generation (through handover) and shares eunomia_cutover between the
 * two versions. Slot g & 1 holds the time from which generation g owns events, slot
 * (g + 1) & 1 the time from which its successor (or, before any swap, its predecessor) does.
 * Generation g owns time t iff
 *
 *     t >= start && (next <= start || t < next),  start = slot[g & 1], next = slot[(g + 1) & 1]
 *
 * Both slots 0 at first: generation 0 owns every t. A swap from g to g + 1 writes
 * slot[(g + 1) & 1] = UINT64_MAX, loads and attaches g + 1, takes T = CLOCK_MONOTONIC now and
 * writes slot[(g + 1) & 1] = T:
 *
 *   g = 0 -> 1: slots (0, 0): gen 0 owns all. slot[1] = MAX: gen 0 has start 0, next MAX, owns
 *     t < MAX (all); gen 1 has start MAX, next 0 <= MAX, owns t >= MAX (none). slot[1] = T:
 *     gen 0 owns [0, T), gen 1 (start T, next 0 <= T) owns [T, inf).
 *   g = 1 -> 2: slots (0, T). slot[0] = MAX: gen 1 (start T, next MAX) owns [T, MAX), all of its
 *     time; gen 2 (start MAX, next T <= MAX) owns t >= MAX (none). slot[0] = T2 > T: gen 1 owns
 *     [T, T2), gen 2 (start T2, next T <= T2) owns [T2, inf).
 *   g = 2 -> 3: slots (T2, T). slot[1] = MAX: gen 2 (start T2, next MAX) owns [T2, MAX); gen 3
 *     (start MAX, next T2) none. slot[1] = T3 > T2: gen 2 owns [T2, T3), gen 3 owns [T3, inf).
 *
 * Only two consecutive generations may be attached at once (the host stops g before it starts
 * the swap to g + 2): g and g + 2 read the same slots. A map lookup that fails counts as owned.
 */
const volatile __u32 eunomia_generation = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} eunomia_cutover SEC(".maps");

/* One decision per hit. Both versions run for every hit of a hook while both are attached, and
 * if each read the clock for itself, a hit whose two reads fell on either side of T would be
 * owned by both (or, in the other order, by neither): a duplicate or a loss once in a while
 * under load. So on a tracepoint hook (tracepoint/, raw_tp/, tp_btf/) the two share one
 * decision: the kernel runs the programs of one hit back to back on one CPU (preemption off)
 * in the order they were attached, the predecessor first. While a successor is announced (its
 * slot above the predecessor's), the predecessor publishes its time and decision here for the
 * hit, and the successor takes them, owning the hit exactly when the predecessor does not, and
 * stamping it with the same time. A publication nobody took (a hit before the successor was
 * attached) is cleared by the host after the cutover, before the predecessor is detached.
 * Carried across a swap like eunomia_cutover. */
struct eunomia_moment {
    __u64 t;
    __u32 generation;
    __u32 state; /* 0: nothing published; 1: the predecessor owns the hit; 2: it does not */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct eunomia_moment);
} eunomia_moment SEC(".maps");

/* This instance's own decision, on its own clock read. */
static __always_inline bool eunomia_decide(__u64 *now, bool *announced)
{
    __u32 mine = eunomia_generation & 1, theirs = mine ^ 1;
    volatile __u64 *s = bpf_map_lookup_elem(&eunomia_cutover, &mine);
    volatile __u64 *n = bpf_map_lookup_elem(&eunomia_cutover, &theirs);
    if (!s || !n) {
        *now = bpf_ktime_get_ns();
        *announced = false;
        return true;
    }
    /* The slots first, then the clock: a program that sees the new slot value T was run after
     * the host took T, so it reads a clock >= T. (volatile loads; the helper call keeps them
     * before it, and the kernel's clock read is ordered after them.) */
    __u64 start = *s, next = *n;
    __u64 t = bpf_ktime_get_ns();
    *now = t;
    *announced = next > start;
    return t >= start && (next <= start || t < next);
}

/* True when this instance owns the current hit: emit or count only then. *now is the hit's
 * time, the same in both versions during a swap: stamp the record with it. For a tracker that
 * pairs an entry with an exit through a carried map, the entry always records and the exit asks
 * this before it looks the entry up: when not owned, it returns and leaves the entry for the
 * other version. For tracepoint hooks; on uprobes, kprobes and perf events use
 * eunomia_owned_alone. */
static __always_inline bool eunomia_claim(__u64 *now)
{
    __u32 zero = 0;
    struct eunomia_moment *m = bpf_map_lookup_elem(&eunomia_moment, &zero);
    if (m && m->state && m->generation + 1 == eunomia_generation) {
        bool theirs = m->state == 1;
        *now = m->t;
        m->state = 0;
        return !theirs;
    }
    bool announced;
    bool owned = eunomia_decide(now, &announced);
    if (m && announced) {
        m->t = *now;
        m->generation = eunomia_generation;
        m->state = owned ? 1 : 2;
    }
    return owned;
}

static __always_inline bool eunomia_owned(void)
{
    __u64 now;
    return eunomia_claim(&now);
}

/* For hooks whose hits the two versions do not see back to back on one CPU in attach order:
 * uprobes (the newest consumer runs first, and the task may move between the two), kprobes,
 * perf events (each version samples on its own events). Each version decides on its own clock
 * read; a hit whose two reads straddle the cutover can be owned by both or neither. */
static __always_inline bool eunomia_owned_alone(void)
{
    __u64 now;
    bool announced;
    return eunomia_decide(&now, &announced);
}

#endif
