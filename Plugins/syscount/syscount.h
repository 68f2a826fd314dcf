/* syscount: shared by the BPF program (map layouts) and the plugin (report rows). */
#ifndef SYSCOUNT_H
#define SYSCOUNT_H

#define SYSCOUNT_MAX_ENTRIES 8192
#define SYSCOUNT_NAME_LEN 32

/* Value of the counts map, keyed by syscall number or, with by_process, by process id. */
struct counts {
    __u64 count;
    __u64 total_ns; /* with latency: time spent in those calls */
    char comm[16];  /* with by_process: the process's (group leader's) name */
};

/* The row every record of schema.json describes; each record shows a subset of it. */
struct row {
    __u64 count;
    __u64 total_ns;
    __u32 pid;
    __u32 nr; /* syscall number */
    char comm[16];
    char syscall[SYSCOUNT_NAME_LEN];
};

#endif
