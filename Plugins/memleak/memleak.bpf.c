/* memleak: outstanding allocations and the stacks that made them. User mode hooks the libc
 * allocator with uprobes (attached by memleak.c for one process); kernel mode uses the kmem
 * tracepoints. The stack is taken where the allocation returns: at the allocator's entry a
 * frame-pointer unwind would skip the immediate caller. */
#include "eunomia.bpf.h"

#include "memleak.h"

const volatile __u64 min_size = 0;
const volatile __u64 max_size = (__u64)-1;
const volatile __u64 sample_rate = 1;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32); /* thread id */
    __type(value, __u64);
} sizes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1 << 20);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u64); /* address */
    __type(value, struct alloc_info);
} allocs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64); /* posix_memalign's out pointer */
} memptrs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 10240);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, MEMLEAK_FRAMES * sizeof(__u64));
} stack_traces SEC(".maps");

/* Emitted nowhere: keeps the row layout in BTF, where pack checks the schema against it. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct memleak_row);
} row_layout SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct memleak_alloc_row);
} alloc_row_layout SEC(".maps");

static __always_inline int alloc_enter(__u64 size)
{
    if (size < min_size || size > max_size)
        return 0;
    if (sample_rate > 1 && bpf_ktime_get_ns() % sample_rate != 0)
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&sizes, &tid, &size, BPF_ANY);
    return 0;
}

/* The caller has checked eunomia_owned(). */
static __always_inline int record_alloc(void *ctx, __u64 address)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 *size = bpf_map_lookup_elem(&sizes, &tid);
    if (!size)
        return 0;
    struct alloc_info info = { .size = *size, .timestamp_ns = bpf_ktime_get_ns() };
    bpf_map_delete_elem(&sizes, &tid);
    if (!address)
        return 0;
    info.stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
    bpf_map_update_elem(&allocs, &address, &info, BPF_ANY);
    return 0;
}

static __always_inline int alloc_exit(void *ctx, __u64 address)
{
    /* Not ours (hot swap): the size stays for the version that owns this moment. A uprobe:
     * each version decides on its own clock (eunomia_owned_alone). */
    if (!eunomia_owned_alone())
        return 0;
    return record_alloc(ctx, address);
}

/* Both versions delete (allocs is shared in a hot swap): deleting twice is harmless, and a
 * free must not be missed by either. */
static __always_inline int release(__u64 address)
{
    bpf_map_delete_elem(&allocs, &address);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, size_t size) { return alloc_enter(size); }
SEC("uretprobe")
int BPF_KRETPROBE(malloc_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

SEC("uprobe")
int BPF_KPROBE(free_enter, void *address) { return release((__u64)address); }

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size) { return alloc_enter((__u64)nmemb * size); }
SEC("uretprobe")
int BPF_KRETPROBE(calloc_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
    release((__u64)ptr);
    return alloc_enter(size);
}
SEC("uretprobe")
int BPF_KRETPROBE(realloc_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

SEC("uprobe")
int BPF_KPROBE(mmap_enter, void *address, size_t size) { return alloc_enter(size); }
SEC("uretprobe")
int BPF_KRETPROBE(mmap_exit, void *ret)
{
    /* MAP_FAILED is (void *)-1. */
    return alloc_exit(ctx, (__u64)ret == (__u64)-1 ? 0 : (__u64)ret);
}
SEC("uprobe")
int BPF_KPROBE(munmap_enter, void *address) { return release((__u64)address); }

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 out = (__u64)memptr;
    bpf_map_update_elem(&memptrs, &tid, &out, BPF_ANY);
    return alloc_enter(size);
}
SEC("uretprobe")
int BPF_KRETPROBE(posix_memalign_exit, int ret)
{
    /* One decision for both entry maps (memptrs, then sizes in record_alloc). */
    if (!eunomia_owned_alone())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 *out = bpf_map_lookup_elem(&memptrs, &tid);
    __u64 address = 0;
    if (!out)
        return 0;
    if (ret == 0)
        bpf_probe_read_user(&address, sizeof(address), (void *)*out);
    bpf_map_delete_elem(&memptrs, &tid);
    return record_alloc(ctx, address);
}

SEC("uprobe")
int BPF_KPROBE(aligned_alloc_enter, size_t alignment, size_t size) { return alloc_enter(size); }
SEC("uretprobe")
int BPF_KRETPROBE(aligned_alloc_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

SEC("uprobe")
int BPF_KPROBE(valloc_enter, size_t size) { return alloc_enter(size); }
SEC("uretprobe")
int BPF_KRETPROBE(valloc_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

SEC("uprobe")
int BPF_KPROBE(memalign_enter, size_t alignment, size_t size) { return alloc_enter(size); }
SEC("uretprobe")
int BPF_KRETPROBE(memalign_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

SEC("uprobe")
int BPF_KPROBE(pvalloc_enter, size_t size) { return alloc_enter(size); }
SEC("uretprobe")
int BPF_KRETPROBE(pvalloc_exit, void *ret) { return alloc_exit(ctx, (__u64)ret); }

/* Kernel mode: the tracepoints report the allocation and its result in one event. */
static __always_inline int kernel_alloc(void *ctx, __u64 address, __u64 size)
{
    if (!address || size < min_size || size > max_size || !eunomia_task_allowed() || !eunomia_owned())
        return 0;
    if (sample_rate > 1 && bpf_ktime_get_ns() % sample_rate != 0)
        return 0;
    struct alloc_info info = { .size = size, .timestamp_ns = bpf_ktime_get_ns() };
    info.stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
    bpf_map_update_elem(&allocs, &address, &info, BPF_ANY);
    return 0;
}

SEC("tracepoint/kmem/kmalloc")
int kmalloc(struct trace_event_raw_kmalloc *ctx)
{
    return kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), BPF_CORE_READ(ctx, bytes_alloc));
}

SEC("tracepoint/kmem/kfree")
int kfree(struct trace_event_raw_kfree *ctx) { return release((__u64)BPF_CORE_READ(ctx, ptr)); }

SEC("tracepoint/kmem/kmem_cache_alloc")
int kmem_cache_alloc(struct trace_event_raw_kmem_cache_alloc *ctx)
{
    return kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), BPF_CORE_READ(ctx, bytes_alloc));
}

SEC("tracepoint/kmem/kmem_cache_free")
int kmem_cache_free(struct trace_event_raw_kmem_cache_free *ctx)
{
    return release((__u64)BPF_CORE_READ(ctx, ptr));
}

/* Pages are keyed by page frame number with the top bit set: a non-canonical address, so it
 * collides neither with a slab address nor with a (small) percpu pointer. */
#define PAGE_KEY(pfn) ((pfn) | (1ull << 63))

SEC("tracepoint/kmem/mm_page_alloc")
int mm_page_alloc(struct trace_event_raw_mm_page_alloc *ctx)
{
    return kernel_alloc(ctx, PAGE_KEY(BPF_CORE_READ(ctx, pfn)), 4096ull << BPF_CORE_READ(ctx, order));
}

SEC("tracepoint/kmem/mm_page_free")
int mm_page_free(struct trace_event_raw_mm_page_free *ctx) { return release(PAGE_KEY(BPF_CORE_READ(ctx, pfn))); }

/* Percpu allocations (libbpf-tools --percpu), loaded only with the percpu parameter. Sized by
 * bytes_alloc (all CPUs' copies, as libbpf-tools) where the event has it (5.19+), else by size. */
SEC("tracepoint/percpu/percpu_alloc_percpu")
int percpu_alloc_percpu(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
    __u64 size = bpf_core_field_exists(ctx->bytes_alloc) ? BPF_CORE_READ(ctx, bytes_alloc) : BPF_CORE_READ(ctx, size);
    return kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), size);
}

SEC("tracepoint/percpu/percpu_free_percpu")
int percpu_free_percpu(struct trace_event_raw_percpu_free_percpu *ctx)
{
    return release((__u64)BPF_CORE_READ(ctx, ptr));
}

char LICENSE[] SEC("license") = "GPL";
