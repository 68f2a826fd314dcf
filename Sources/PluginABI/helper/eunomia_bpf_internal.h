/* Shared between the helper's own source files; not part of the plugin-facing API. */
#ifndef EUNOMIA_BPF_INTERNAL_H
#define EUNOMIA_BPF_INTERNAL_H

#include "eunomia_bpf.h"

#include <stdio.h>

enum eunomia_bpf_state { CREATED, RUNNING, STOPPED };

struct eunomia_bpf {
    struct bpf_object *obj;
    struct ring_buffer *rb;
    struct bpf_link **links;
    size_t n_links;
    const struct eunomia_host_api *host;
    enum eunomia_bpf_state state;
    int lost_map_fd;
    uint64_t emitted;
    uint64_t refused; /* records the host declined */
    eunomia_bpf_report_fn report;
    eunomia_bpf_attach_fn attach;
    eunomia_bpf_after_load_fn after_load;
    uint64_t interval_ns; /* 0: report only at stop */
    int epoll_fd;            /* ABI 1.2 wait_fd: the ring buffer's epoll fd, and timer_fd */
    int timer_fd;            /* expires every interval_ns; -1 without reports (or timerfd) */
    int batch_fd;            /* one-shot: brings a busy consumer back after EUNOMIA_BATCH_NS */
    volatile uint32_t *wakeup; /* eunomia_wakeup's value, mmapped; NULL: through wakeup_map_fd */
    size_t wakeup_len;
    int wakeup_map_fd; /* -1: the BPF object has no eunomia_wakeup (built before ABI 1.2) */
    void *user;
    void (*free_user)(void *);
    uint64_t *cgroup_ids; /* the container filter's cgroups, written to eunomia_cgroups at start */
    size_t n_cgroup_ids;
};

#define FAIL(code, ...)                                \
    do {                                               \
        snprintf(err, err_size, __VA_ARGS__);          \
        return (code);                                 \
    } while (0)

/* eunomia_config.c: the common parameters, host exclusion and the container filter's
 * constants, before load; the container filter's map, after. */
eunomia_status eunomia_apply_common_(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size);
eunomia_status eunomia_fill_container_filter_(struct eunomia_bpf *bpf, char *err, size_t err_size);

/* Take ownership of a link: destroyed at stop or destroy, with the auto-attached ones. */
eunomia_status eunomia_bpf_add_link_(struct eunomia_bpf *bpf, struct bpf_link *link);

/* True between create and start: constants may still be set and maps handed over. */
bool eunomia_bpf_created_(struct eunomia_bpf *bpf);

#endif
