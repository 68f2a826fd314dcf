/*
 * eunomia_bpf: the generic part of a BPF tracker plugin, compiled into each plugin.
 *
 * It opens the packaged BPF object, applies the common filter parameters (pid, tid, uid, comm,
 * ringbuf_kb), skips programs on tracepoints this kernel lacks, loads and attaches every
 * enabled program, polls the "events" ring buffer and
 * forwards each record to the host, and counts what was lost. A plugin supplies only a
 * configure callback (its own parameters -> BPF constants, optional programs) and declares
 * itself with EUNOMIA_BPF_PLUGIN. Link with -lbpf -ljansson; build with -fvisibility=hidden.
 */
#ifndef EUNOMIA_BPF_HELPER_H
#define EUNOMIA_BPF_HELPER_H

#include <bpf/libbpf.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eunomia/plugin.h"

struct eunomia_bpf;

/* Called once in create, after the object is opened and before it is loaded. */
typedef eunomia_status (*eunomia_bpf_configure_fn)(struct eunomia_bpf *bpf, const json_t *config, char *err,
                                                   size_t err_size);

struct bpf_object *eunomia_bpf_object(struct eunomia_bpf *bpf);

/* Set a `const volatile` global of the BPF program before load. size must equal the variable's. */
eunomia_status eunomia_bpf_set_const(struct eunomia_bpf *bpf, const char *name, const void *value, size_t size,
                                     char *err, size_t err_size);

/* Do not load or attach the named program (e.g. an attach point this kernel lacks). */
eunomia_status eunomia_bpf_disable_program(struct eunomia_bpf *bpf, const char *prog_name, char *err,
                                           size_t err_size);

/* Do not load or attach any program whose section name starts with prefix ("kprobe/", "kretprobe/"). */
eunomia_status eunomia_bpf_disable_section_prefix(struct eunomia_bpf *bpf, const char *prefix, char *err,
                                                  size_t err_size);

/* True when tracefs has events/CATEGORY/EVENT on this kernel. */
bool eunomia_tracepoint_exists(const char *category, const char *event);

/* True when the kernel supports kprobes (CONFIG_KPROBES) and has kernel function symbol
 * (listed in /proc/kallsyms); symbol may be NULL to ask only for kprobe support. Plugins keep
 * kprobe programs as a first choice and fall back to tracepoints when this is false. */
bool eunomia_kprobe_available(const char *symbol);

/* Write a message to the host log. */
void eunomia_bpf_log(struct eunomia_bpf *bpf, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Config accessors; the host has validated types and applied defaults. */
bool eunomia_config_bool(const json_t *config, const char *key);
long long eunomia_config_int(const json_t *config, const char *key, long long fallback);
const char *eunomia_config_string(const json_t *config, const char *key);

/* Generic lifecycle, used by EUNOMIA_BPF_PLUGIN. */
eunomia_status eunomia_bpf_create(const struct eunomia_create_args *args, eunomia_bpf_configure_fn configure,
                                  eunomia_instance **out, char *err, size_t err_size);
eunomia_status eunomia_bpf_start(eunomia_instance *inst, char *err, size_t err_size);
eunomia_status eunomia_bpf_poll(eunomia_instance *inst, int32_t timeout_ms, uint64_t *delivered, char *err,
                                size_t err_size);
eunomia_status eunomia_bpf_stop(eunomia_instance *inst, char *err, size_t err_size);
void eunomia_bpf_destroy(eunomia_instance *inst);
eunomia_status eunomia_bpf_get_stats(eunomia_instance *inst, struct eunomia_stats *stats);

/* Declare the plugin table and its entry point. */
#define EUNOMIA_BPF_PLUGIN(NAME, VERSION, CONFIGURE)                                                   \
    static eunomia_status eunomia_plugin_create_(const struct eunomia_create_args *args,              \
                                                 eunomia_instance **out, char *err, size_t err_size)  \
    {                                                                                                  \
        return eunomia_bpf_create(args, CONFIGURE, out, err, err_size);                               \
    }                                                                                                  \
    static const struct eunomia_plugin eunomia_plugin_table_ = {                                      \
        .struct_size = sizeof(struct eunomia_plugin),                                                  \
        .abi_major = EUNOMIA_ABI_MAJOR,                                                                \
        .abi_minor = EUNOMIA_ABI_MINOR,                                                                \
        .name = NAME,                                                                                  \
        .version = VERSION,                                                                            \
        .create = eunomia_plugin_create_,                                                              \
        .start = eunomia_bpf_start,                                                                    \
        .poll = eunomia_bpf_poll,                                                                      \
        .stop = eunomia_bpf_stop,                                                                      \
        .destroy = eunomia_bpf_destroy,                                                                \
        .get_stats = eunomia_bpf_get_stats,                                                            \
    };                                                                                                 \
    EUNOMIA_EXPORT const struct eunomia_plugin *eunomia_plugin_entry(uint16_t host_abi_major,         \
                                                                     uint16_t host_abi_minor)         \
    {                                                                                                  \
        /* The host checks compatibility and names both versions in its error. */                     \
        (void)host_abi_major;                                                                          \
        (void)host_abi_minor;                                                                          \
        return &eunomia_plugin_table_;                                                                 \
    }

#endif
