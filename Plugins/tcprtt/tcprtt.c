/* tcprtt plugin: filters become BPF constants; the report reads the hists map and emits one
 * histogram per key (all connections, a local or a remote address), like libbpf-tools. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eunomia_bpf.h"

#include "tcprtt.h"


struct state {
    bool cumulative;
};

static int by_addr(const void *a, const void *b) { return memcmp(a, b, 16); }

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
        memcpy(r->addr, keys[i].addr, sizeof(r->addr));
        r->avg = hists[i].cnt ? hists[i].sum / hists[i].cnt : 0;
        memcpy(r->slots, hists[i].slots, sizeof(r->slots));
    }
    qsort(recs, (size_t)n, sizeof(*recs), by_addr);
    for (long i = 0; i < n; i++)
        eunomia_bpf_emit(bpf, 0, &recs[i], sizeof(recs[i]));
    free(keys);
    free(hists);
    free(recs);
    return EUNOMIA_OK;
}

/* Parse an IPv4 or IPv6 address into 16 bytes, IPv4 as ::ffff:a.b.c.d (as the BPF side keys). */
static bool parse_addr(const char *text, uint8_t out[16])
{
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, out) == 1;
}

static eunomia_status set_addr(struct eunomia_bpf *bpf, const json_t *config, const char *param, const char *flag,
                               const char *var, char *err, size_t err_size)
{
    const char *text = eunomia_config_string(config, param);
    bool on = text && *text;
    uint8_t addr[16] = { 0 };
    if (on && !parse_addr(text, addr)) {
        snprintf(err, err_size, "%s=%s: not an IPv4 or IPv6 address", param, text);
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    eunomia_status rc = eunomia_bpf_set_const(bpf, flag, &on, sizeof(on), err, err_size);
    return rc ? rc : eunomia_bpf_set_const(bpf, var, addr, sizeof(addr), err, err_size);
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    bool ms = eunomia_config_bool(config, "milliseconds");
    bool by_laddr = eunomia_config_bool(config, "by_local_addr");
    bool by_raddr = eunomia_config_bool(config, "by_remote_addr");
    uint16_t sport = (uint16_t)eunomia_config_int(config, "local_port", 0);
    uint16_t dport = (uint16_t)eunomia_config_int(config, "remote_port", 0);
    if (by_laddr && by_raddr) {
        snprintf(err, err_size, "by_local_addr and by_remote_addr are mutually exclusive");
        return EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    eunomia_status rc;
    if ((rc = eunomia_bpf_set_const(bpf, "targ_ms", &ms, sizeof(ms), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_by_laddr", &by_laddr, sizeof(by_laddr), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_by_raddr", &by_raddr, sizeof(by_raddr), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_sport", &sport, sizeof(sport), err, err_size)) ||
        (rc = eunomia_bpf_set_const(bpf, "targ_dport", &dport, sizeof(dport), err, err_size)) ||
        (rc = set_addr(bpf, config, "local_addr", "filter_saddr", "targ_saddr", err, err_size)) ||
        (rc = set_addr(bpf, config, "remote_addr", "filter_daddr", "targ_daddr", err, err_size)))
        return rc;

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
