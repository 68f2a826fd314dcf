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
    int fd = eunomia_bpf_map_fd(bpf, "stats");
    struct file_id *keys = calloc(FILES_MAX_ENTRIES, sizeof(*keys));
    struct file_stat *rows = calloc(FILES_MAX_ENTRIES, sizeof(*rows));
    if (!keys || !rows) {
        free(keys);
        free(rows);
        snprintf(err, err_size, "out of memory");
        return EUNOMIA_ERR_NO_MEMORY;
    }
    /* Collect the keys first: deleting while walking a hash map can restart the walk. */
    size_t n = 0;
    struct file_id *prev = NULL;
    while (n < FILES_MAX_ENTRIES && bpf_map_get_next_key(fd, prev, &keys[n]) == 0) {
        prev = &keys[n];
        n++;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (bpf_map_lookup_elem(fd, &keys[i], &rows[m]))
            continue;
        /* Calls that finish between this lookup and the delete are lost, as in filetop. */
        if (st->clear)
            bpf_map_delete_elem(fd, &keys[i]);
        /* An entry whose only call is still running has nothing to show yet. */
        if (rows[m].reads || rows[m].writes)
            m++;
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

    /* Counts travel through the stats map; the events ring buffer stays empty. */
    struct bpf_map *events = bpf_object__find_map_by_name(eunomia_bpf_object(bpf), "events");
    if (events)
        bpf_map__set_max_entries(events, (uint32_t)sysconf(_SC_PAGESIZE));

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

EUNOMIA_BPF_PLUGIN("files", "0.1.0", configure)
