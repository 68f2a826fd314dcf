/* Layouts shared by memleak.bpf.c and memleak.c. */
#ifndef MEMLEAK_H
#define MEMLEAK_H

#define MEMLEAK_FRAMES 127

/* One outstanding allocation, keyed by its address (a page frame number for pages). */
struct alloc_info {
    __u64 size;
    __u64 timestamp_ns;
    __s64 stack_id;
};

/* A report row: outstanding bytes and allocations from one stack. Record 0 carries a user
 * stack, record 1 a kernel stack (kernel mode). */
struct memleak_row {
    __u64 bytes;
    __u64 allocs;
    __u32 pid;
    __u32 pad;
    __u64 stack[MEMLEAK_FRAMES];
};

/* With show_allocs (libbpf-tools -a): one outstanding allocation of a reported stack. rank is
 * the stack's row in the report (1 = most bytes). */
struct memleak_alloc_row {
    __u64 address;
    __u64 bytes;
    __u64 age_ms;
    __u32 pid;
    __u32 rank;
};

#endif
