/* hooktest plugin (HelperKernelTests): configure sets the stack constant and registers the
 * after-load hook, which writes the cookie parameter into the cookie map, or fails when
 * fail_after_load is set. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eunomia_bpf.h"

struct state {
    uint64_t cookie;
    bool fail;
};

static eunomia_status after_load(struct eunomia_bpf *bpf, char *err, size_t err_size)
{
    struct state *st = eunomia_bpf_user(bpf);
    if (st->fail) {
        snprintf(err, err_size, "hooktest's after-load hook refused to fill its map (fail_after_load)");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    int fd = eunomia_bpf_map_fd(bpf, "cookie");
    uint32_t key = 0;
    if (fd < 0 || bpf_map_update_elem(fd, &key, &st->cookie, BPF_ANY)) {
        snprintf(err, err_size, "cannot fill the cookie map: %s", fd < 0 ? "no such map" : strerror(errno));
        return EUNOMIA_ERR_BPF;
    }
    return EUNOMIA_OK;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->cookie = (uint64_t)eunomia_config_int(config, "cookie", 0);
    st->fail = eunomia_config_bool(config, "fail_after_load");
    eunomia_bpf_set_user(bpf, st, free);
    eunomia_bpf_set_after_load(bpf, after_load);
    bool stack = eunomia_config_bool(config, "stack");
    return eunomia_bpf_set_const(bpf, "targ_stack", &stack, sizeof(stack), err, err_size);
}

EUNOMIA_BPF_PLUGIN("hooktest", "0.1.0", configure)
