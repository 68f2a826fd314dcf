/* biolatency: shared by the BPF program (map layouts) and the plugin (report records). */
#ifndef BIOLATENCY_H
#define BIOLATENCY_H

#define BIOLAT_SLOTS 27
#define BIOLAT_DISK_LEN 32

/* Key of the hists map: zero in the fields a parameter does not split by. */
struct hist_key {
    __u32 dev;   /* MKDEV(major, first_minor) of the disk, with per_disk */
    __u32 op;    /* REQ_OP_*, with per_flag */
    __u32 flags; /* BIOLAT_F_* bits, with per_flag */
};

struct hist {
    __u32 slots[BIOLAT_SLOTS];
};

/* Request flags, renumbered in BPF from the kernel's __REQ_* bits (whose numbers change
 * between kernels) so that schema.json can name them. */
#define BIOLAT_F_SYNC (1u << 0)
#define BIOLAT_F_META (1u << 1)
#define BIOLAT_F_PRIO (1u << 2)
#define BIOLAT_F_FUA (1u << 3)
#define BIOLAT_F_PREFLUSH (1u << 4)
#define BIOLAT_F_RAHEAD (1u << 5)
#define BIOLAT_F_BACKGROUND (1u << 6)
#define BIOLAT_F_NOWAIT (1u << 7)

/* Records 0-7 in schema.json, one per key set (none, disk, op + flags, all) and unit: one
 * histogram with its keys. */
struct hist_record {
    char disk[BIOLAT_DISK_LEN];
    __u32 op;
    __u32 flags;
    __u32 slots[BIOLAT_SLOTS];
};

#endif
