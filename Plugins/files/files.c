/* files plugin: each report reads the stats map, sorts the entries by the `sort` parameter
 * (libbpf-tools filetop's -s) and emits them; the host keeps that order and cuts it to
 * `rows`. With clear (the default) every report starts from zero, as filetop does. */
#define _GNU_SOURCE /* qsort_r */
#include <bpf/bpf.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"
#include "files.h"

enum sort_by { SORT_ALL, SORT_READS, SORT_WRITES, SORT_RBYTES, SORT_WBYTES };

struct state {
    enum sort_by sort;
    bool clear;
};

static __u64 sort_key(const struct file_stat *s, enum sort_by by)
{
    switch (by) {
    case SORT_READS: return s->reads;
    case SORT_WRITES: return s->writes;
    case SORT_RBYTES: return s->rbytes;
    case SORT_WBYTES: return s->wbytes;
    default: return s->reads + s->writes + s->rbytes + s->wbytes; /* filetop's "all" */
    }
}

static int by_key_desc(const void *a, const void *b, void *by)
{
    __u64 x = sort_key(a, *(enum sort_by *)by), y = sort_key(b, *(enum sort_by *)by);
    return x < y ? 1 : x > y ? -1 : 0;
}

static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
{
    (void)final;
    struct state *st = eunomia_bpf_user(bpf);
    struct file_id *keys;
    struct file_stat *rows;
    long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "stats"), sizeof(*keys), sizeof(*rows), st->clear,
                                  (void **)&keys, (void **)&rows);
    if (n < 0) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    size_t m = 0;
    for (long i = 0; i < n; i++) {
        /* An entry whose only call is still running has nothing to show yet. */
        if (rows[i].reads || rows[i].writes)
            rows[m++] = rows[i];
    }
    qsort_r(rows, m, sizeof(*rows), by_key_desc, &st->sort);
    for (size_t i = 0; i < m; i++)
        eunomia_bpf_emit(bpf, 0, &rows[i], sizeof(rows[i]));
    free(keys);
    free(rows);
    return EUNOMIA_OK;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool regular_only = !eunomia_config_bool(config, "all_files");
    eunomia_status rc = eunomia_bpf_set_const(bpf, "regular_only", &regular_only, sizeof(regular_only), err, err_size);
    if (rc)
        return rc;

    static const char *const names[] = { "all", "reads", "writes", "rbytes", "wbytes" };
    const char *sort = eunomia_config_string(config, "sort");
    enum sort_by by = SORT_ALL;
    for (size_t i = 0; sort && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(sort, names[i]) == 0)
            by = (enum sort_by)i;

    eunomia_bpf_events_unused(bpf);

    struct state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    st->sort = by;
    st->clear = eunomia_config_bool(config, "clear");
    eunomia_bpf_set_user(bpf, st, free);
    eunomia_bpf_set_report(bpf, report);
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
