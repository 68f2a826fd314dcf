/* biolatency plugin: parameters become BPF constants; the report reads the hists map and
 * emits one histogram record per key (disk, operation + flags), like libbpf-tools. */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include "biolatency.h"


struct state {
    bool cumulative;
};

/* Disk name of a kernel dev_t (major << 20 | minor), from sysfs; "MAJ:MIN" when unknown. */
static void disk_name(uint32_t dev, char *name, size_t size)
{
    char path[64], line[128];
    unsigned major = dev >> 20, minor = dev & ((1u << 20) - 1);
    snprintf(name, size, "%u:%u", major, minor);
    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major, minor);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "DEVNAME=", 8) == 0) {
            size_t len = strcspn(line + 8, "\n");
            if (len >= size)
                len = size - 1;
            memcpy(name, line + 8, len);
            name[len] = 0;
            break;
        }
    }
    fclose(f);
}

static int by_key(const void *a, const void *b)
{
    const struct hist_record *x = a, *y = b;
    int c = strcmp(x->disk, y->disk);
    if (c)
        return c;
    if (x->op != y->op)
        return x->op < y->op ? -1 : 1;
    return x->flags < y->flags ? -1 : x->flags > y->flags;
}

static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    (void)final;
    struct state *st = eunomia_bpf_user(bpf);
    struct hist_key *keys;
    struct hist *hists;
    long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "hists"), sizeof(*keys), sizeof(*hists), !st->cumulative,
                                  (void **)&keys, (void **)&hists);
    struct hist_record *recs = n >= 0 ? calloc((size_t)n + 1, sizeof(*recs)) : NULL;
    if (!recs) {
        free(keys);
        free(hists);
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    for (long i = 0; i < n; i++) {
        struct hist_record *r = &recs[i];
        if (keys[i].dev)
            disk_name(keys[i].dev, r->disk, sizeof(r->disk));
        r->op = keys[i].op;
        r->flags = keys[i].flags;
        memcpy(r->slots, hists[i].slots, sizeof(r->slots));
    }
    qsort(recs, (size_t)n, sizeof(*recs), by_key);
    for (long i = 0; i < n; i++)
        eunomia_bpf_emit(bpf, 0, &recs[i], sizeof(recs[i]));
    free(keys);
    free(hists);
    free(recs);
    return EUNOMIA_OK;
}

static const char *const progs[] = { "block_rq_insert", "block_rq_issue", "block_rq_complete" };

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool ms = eunomia_config_bool(config, "milliseconds");
    bool queued = eunomia_config_bool(config, "queued");
    bool per_disk = eunomia_config_bool(config, "per_disk");
    bool per_flag = eunomia_config_bool(config, "per_flag");
    const char *disk = eunomia_config_string(config, "disk");
    bool filter_dev = disk && *disk;
    uint32_t dev = 0;
    if (filter_dev) {
        char path[96];
        unsigned major, minor;
        snprintf(path, sizeof(path), "/sys/class/block/%s/dev", disk);
        FILE *f = strchr(disk, '/') ? NULL : fopen(path, "re");
        int ok = f && fscanf(f, "%u:%u", &major, &minor) == 2;
        if (f)
            fclose(f);
        if (!ok) {
            snprintf(err, err_size, "disk=%s: no such block device in /sys/class/block", disk);
            return EUNOMIA_ERR_INVALID_ARGUMENT;
        }
        dev = major << 20 | minor;
    }
    eunomia_status rc;
    if ((rc = eunomia_bpf_set_const(bpf, "targ_ms", &ms, sizeof(ms), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_queued", &queued, sizeof(queued), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_per_disk", &per_disk, sizeof(per_disk), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_per_flag", &per_flag, sizeof(per_flag), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "filter_dev", &filter_dev, sizeof(filter_dev), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_dev", &dev, sizeof(dev), err, err_size)))
        return rc;

    /* tp_btf/ where the kernel's BTF has all three raw tracepoints, else the raw_tp/ copies.
     * Without queued, insert is not needed: issue starts the clock. */
    bool btf = true;
    for (size_t i = 0; i < 3; i++)
        btf = btf && eunomia_tp_btf_available(progs[i]);
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_%s", progs[i], btf ? "raw" : "btf");
        if ((rc = eunomia_bpf_disable_program(bpf, name, err, err_size)))
            return rc;
        if (i == 0 && !queued) {
            snprintf(name, sizeof(name), "%s_%s", progs[i], btf ? "btf" : "raw");
            if ((rc = eunomia_bpf_disable_program(bpf, name, err, err_size)))
                return rc;
        }
    }
    eunomia_bpf_log(bpf, EUNOMIA_LOG_DEBUG, "biolatency: %s programs", btf ? "tp_btf" : "raw_tp");

    eunomia_bpf_events_unused(bpf);

    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->cumulative = eunomia_config_bool(config, "cumulative");
    eunomia_bpf_set_user(bpf, st, free);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
