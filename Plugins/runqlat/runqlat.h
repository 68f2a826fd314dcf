/* runqlat: shared by the BPF program (map layouts) and the plugin (report records). */
#ifndef RUNQLAT_H
#define RUNQLAT_H

#define RUNQLAT_SLOTS 26
#define RUNQLAT_COMM_LEN 16

/* Value of the hists map, keyed by tgid (per_process), pid (per_thread) or ~0 (one histogram). */
struct hist {
    __u32 slots[RUNQLAT_SLOTS];
    char comm[RUNQLAT_COMM_LEN]; /* of the first task counted under the key */
};

/* Records 0/1 (usecs/msecs, no key), 2/3 (per process), 4/5 (per thread) in schema.json. */
struct hist_record {
    __u32 id; /* tgid or tid */
    char comm[RUNQLAT_COMM_LEN];
    __u32 slots[RUNQLAT_SLOTS];
};

#endif
