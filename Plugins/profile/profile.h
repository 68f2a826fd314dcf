/* profile: shared by the BPF program (map layouts) and the plugin (report rows). */
#ifndef PROFILE_H
#define PROFILE_H

/* Frames kept per stack, libbpf-tools' default --perf-max-stack-depth. */
#define PROFILE_MAX_DEPTH 127
/* Distinct (process, stacks) keys counted per report, as libbpf-tools' MAX_ENTRIES. */
#define PROFILE_MAX_ENTRIES 10240

/* Key of the counts map: one entry per process name and pair of stacks. A stack id is
 * negative when it was not collected (user_only / kernel_only) or could not be (a kernel
 * thread has no user stack; a sample in user mode has no kernel stack). */
struct profile_key {
    __u32 pid;
    __s32 user_stack_id;
    __s32 kern_stack_id;
    char comm[16];
};

/* The row of schema.json's "samples" record, built in user space. */
struct profile_row {
    __u64 count;
    __u32 pid;
    char comm[16];
    __u64 ustack[PROFILE_MAX_DEPTH];
    __u64 kstack[PROFILE_MAX_DEPTH];
};

#endif
