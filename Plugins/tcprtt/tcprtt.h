/* tcprtt: shared by the BPF program (map layouts) and the plugin (report records). */
#ifndef TCPRTT_H
#define TCPRTT_H

#define TCPRTT_SLOTS 27

/* Key of the hists map: the local or remote address (IPv4 as ::ffff:a.b.c.d) with
 * by_local_addr / by_remote_addr, else zero. */
struct hist_key {
    __u8 addr[16];
};

struct hist {
    __u64 sum; /* of the samples, in the histogram's unit; for the average (extended) */
    __u64 cnt;
    __u32 slots[TCPRTT_SLOTS];
};

/* Records 0/1 (usecs/msecs, no key), 2/3 (by local address), 4/5 (by remote address). */
struct hist_record {
    __u8 addr[16];
    __u64 avg;
    __u32 slots[TCPRTT_SLOTS];
};

#endif
