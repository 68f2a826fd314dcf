/* syscallrec: shared by the BPF program (map layouts) and the plugin (report rows). */
#ifndef SYSCALLREC_H
#define SYSCALLREC_H

/* Distinct syscall keys the counts map holds: x86_64 has ~470 syscalls; x32 and 32-bit
 * numbers get keys of their own (below), so room for all three tables at once. */
#define SYSCALLREC_MAX_SYSCALLS 2048
/* Tasks tracked at once below the root process (its descendants, threads included). */
#define SYSCALLREC_MAX_TASKS 65536
#define SYSCALLREC_NAME_LEN 32

/* A key with this bit is a syscall made through the 32-bit (ia32) entry of an x86_64 kernel:
 * its number is from the i386 table, not the one syscall_names.c knows. */
#define SYSCALLREC_COMPAT_BIT 0x80000000u

/* One report row: a syscall and how often the tracked tasks entered it since the start. */
struct row {
    __u64 count;
    __u32 nr; /* the counts map's key: the syscall number, with SYSCALLREC_COMPAT_BIT for ia32 */
    __u32 known; /* 1 when syscall holds the architecture's name for nr, 0 for a placeholder */
    char syscall[SYSCALLREC_NAME_LEN];
};

#endif
