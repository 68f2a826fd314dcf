/* filelife: the record the BPF program sends. schema.json names it (btf_struct "event"); the
 * host takes its layout from the BPF object's BTF. */
#ifndef FILELIFE_H
#define FILELIFE_H

#include "eunomia_record.h"

#define FILELIFE_NAME_LEN 256 /* a power of two, for eunomia_output_tail */

struct event {
    eunomia_event_time ts; /* when the file was deleted */
    __u64 age_ns;          /* from its creation to its deletion */
    __u32 pid;
    __u32 tid;
    EUNOMIA_TASK_IDS;
    char comm[16];
    char file[FILELIFE_NAME_LEN];
};

#endif
