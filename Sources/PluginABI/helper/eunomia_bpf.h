/*
 * eunomia_bpf: the generic part of a BPF tracker plugin, compiled into each plugin.
 *
 * It opens the packaged BPF object, applies the common filter parameters (pid, tid, uid, comm,
 * ringbuf_kb, include_host: the host's own process is excluded by default), skips programs on
 * tracepoints this kernel lacks, loads and attaches every enabled program, polls the "events" ring buffer and
 * forwards each record to the host, and counts what was lost. Since ABI 1.2 it also gives the
 * host a descriptor to wait on (wait_fd), its maps by name (map_fd) and, in a hot swap, takes
 * over the running version's maps (handover). A plugin supplies only a
 * configure callback (its own parameters -> BPF constants, optional programs) and declares
 * itself with EUNOMIA_PLUGIN. Build with `eunomia plugin build`, or with the flags
 * `pkg-config --cflags --libs eunomia-plugin` gives (docs/plugin-author-guide.md).
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

/* True when the kernel's BTF describes raw tracepoint `event` ("block_rq_issue"), so tp_btf/
 * programs on it can load; plugins fall back to raw_tp/ programs when false. */
bool eunomia_tp_btf_available(const char *event);

/* True when the kernel supports kprobes (CONFIG_KPROBES) and has kernel function symbol
 * (listed in /proc/kallsyms); symbol may be NULL to ask only for kprobe support. Plugins keep
 * kprobe programs as a first choice and fall back to tracepoints when this is false. */
bool eunomia_kprobe_available(const char *symbol);

/* Write a message to the host log. */
void eunomia_bpf_log(struct eunomia_bpf *bpf, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Periodic reports (aggregating trackers; ABI 1.1) ----
 * A report callback reads the plugin's BPF maps and hands rows or histograms to the host with
 * eunomia_bpf_emit (record ids of schema kind "row" or "histogram"); the helper then closes the
 * report. It runs from poll every `interval` seconds (the config parameter "interval"; 0 or
 * absent: never) and once more from stop with final = true, after the programs are detached.
 * Register it in configure. */
typedef eunomia_status (*eunomia_bpf_report_fn)(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size);
void eunomia_bpf_set_report(struct eunomia_bpf *bpf, eunomia_bpf_report_fn fn);

/* Hand one record to the host. Returns 0 when accepted (counted as emitted), else non-zero
 * (counted as lost). Callable from a report callback, or from poll-time code. */
int eunomia_bpf_emit(struct eunomia_bpf *bpf, uint32_t record_id, const void *data, size_t size);

/* ---- After load ----
 * Runs in start right after the BPF object is loaded (every map exists, eunomia_bpf_map_fd
 * gives valid fds; the container filter is filled) and before any program is attached: the
 * place to fill maps the programs read, such as a filter set of ports or inodes, so the first
 * event already sees them. A status other than EUNOMIA_OK fails start with the message the
 * hook wrote into err. Register it in configure. Writes into .rodata constants are too late
 * here: set those in configure with eunomia_bpf_set_const. */
typedef eunomia_status (*eunomia_bpf_after_load_fn)(struct eunomia_bpf *bpf, char *err, size_t err_size);
void eunomia_bpf_set_after_load(struct eunomia_bpf *bpf, eunomia_bpf_after_load_fn fn);

/* ---- The host's own process ----
 * The plugin runs inside the host, whose own system calls (ring buffer reads, output writes,
 * other trackers' BPF loads) would otherwise come back as events. Before load the helper sets
 * the BPF constant eunomia_host_tgid to getpid(), and eunomia_task_allowed() drops that
 * process's events first. A tracker whose schema declares the boolean parameter
 * include_host lets the user turn that off (include_host=true); without the parameter the
 * host is always excluded. Objects built before the constant existed are run unchanged. */

/* ---- Attach points that need arguments ----
 * Programs in sections without a target ("uprobe", "uretprobe", "perf_event") are loaded but
 * never auto-attached; the attach callback, registered in configure, attaches them. It runs
 * in start after every other program is attached. Links it creates are owned by the helper. */
typedef eunomia_status (*eunomia_bpf_attach_fn)(struct eunomia_bpf *bpf, char *err, size_t err_size);
void eunomia_bpf_set_attach(struct eunomia_bpf *bpf, eunomia_bpf_attach_fn fn);

/* Attach a uprobe (or uretprobe) program to symbol in binary, for one process (pid > 0) or all
 * (pid <= 0). binary is a path, or a library name ("libc", "libc.so.6") looked up among the
 * files mapped by pid (or this process), then in the standard library directories. The
 * symbol's file offset comes from the ELF symbol tables (.symtab, .dynsym). */
eunomia_status eunomia_bpf_attach_uprobe(struct eunomia_bpf *bpf, const char *prog_name, const char *binary,
                                         const char *symbol, bool retprobe, int pid, char *err, size_t err_size);

/* Attach a uprobe (or uretprobe) program at a file offset of path (a resolved binary), e.g. one
 * eunomia_elf_symbol_offset gave, moved past an instruction the kernel would single-step. */
eunomia_status eunomia_bpf_attach_uprobe_offset(struct eunomia_bpf *bpf, const char *prog_name, const char *path,
                                                uint64_t offset, bool retprobe, int pid, char *err, size_t err_size);

/* Attach a perf_event program to a CPU-clock sampling event at sample_freq Hz on every online
 * CPU (all processes; filter in BPF). */
eunomia_status eunomia_bpf_attach_perf_event(struct eunomia_bpf *bpf, const char *prog_name, uint64_t sample_freq,
                                             char *err, size_t err_size);

/* Path of binary as eunomia_bpf_attach_uprobe resolves it. */
eunomia_status eunomia_resolve_binary(const char *binary, int pid, char *path, size_t path_size, char *err,
                                      size_t err_size);

/* File offset of a function symbol in an ELF file (what uprobes attach to). */
eunomia_status eunomia_elf_symbol_offset(const char *path, const char *symbol, uint64_t *offset, char *err,
                                         size_t err_size);

/* ---- Odds and ends ---- */
/* Per-instance plugin state, freed with free_fn (may be NULL) at destroy. */
void eunomia_bpf_set_user(struct eunomia_bpf *bpf, void *user, void (*free_fn)(void *));
void *eunomia_bpf_user(struct eunomia_bpf *bpf);

/* fd of the named map of the loaded object, -1 if there is none. */
int eunomia_bpf_map_fd(struct eunomia_bpf *bpf, const char *name);

/* Read every entry of a hash map: keys and values land in arrays the caller frees with free().
 * With clear, each entry is taken out as it is read (bpf_map_lookup_and_delete_elem, or lookup
 * then delete on kernels before 5.14), so per-interval counts start from zero as in
 * libbpf-tools. Keys are listed before anything is deleted: deleting while walking a hash map
 * can restart the walk. Returns the number of entries, or -1 when memory runs out. */
long eunomia_map_read_all(int map_fd, size_t key_size, size_t value_size, bool clear, void **keys, void **values);

/* For trackers that only report (their maps are read by the report callback): shrink the unused
 * events ring buffer to one page. Call from configure. */
void eunomia_bpf_events_unused(struct eunomia_bpf *bpf);

/* Copy the addresses of stack trace `id` of a BPF_MAP_TYPE_STACK_TRACE map into addrs
 * (max entries), zero-filling the rest. Returns the number of frames; 0 for a negative id
 * (bpf_get_stackid failed) or an id no longer in the map. */
size_t eunomia_bpf_read_stack(int stack_map_fd, int64_t id, uint64_t *addrs, size_t max);

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns. */
uint64_t eunomia_now_ns(void);

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
/* ABI 1.2. stop without the final report, for an instance a successor replaces (its maps carry
 * the state on and it reports them). */
eunomia_status eunomia_bpf_retire(eunomia_instance *inst, char *err, size_t err_size);
void eunomia_bpf_destroy(eunomia_instance *inst);
eunomia_status eunomia_bpf_get_stats(eunomia_instance *inst, struct eunomia_stats *stats);
/* ABI 1.2. An epoll fd holding the ring buffer's epoll fd and, with periodic reports, a
 * CLOCK_MONOTONIC timerfd of the interval; -1 unless running. poll(inst, 0, ...) consumes the
 * ring buffer and runs a report when the timer expired. */
int32_t eunomia_bpf_wait_fd(eunomia_instance *inst);
/* ABI 1.2. bpf_map__fd of the named map; -1 when there is none or it is not created yet. */
int32_t eunomia_bpf_instance_map_fd(eunomia_instance *inst, const char *name);
/* ABI 1.2. Between create and start: bpf_map__reuse_fd each listed map whose type, key size,
 * value size, max entries and flags match the given fd's (result EUNOMIA_OK), else log one line
 * saying which differs (result EUNOMIA_ERR_INVALID_ARGUMENT); never events, eunomia_lost,
 * eunomia_wakeup or internal maps. Sets the BPF constant eunomia_generation. */
eunomia_status eunomia_bpf_handover(eunomia_instance *inst, struct eunomia_handover *h, char *err, size_t err_size);

/* ABI 1.3. bpf_program__fd of every loaded program (autoload off: none), at most capacity
 * written; returns the count. */
int32_t eunomia_bpf_instance_prog_fds(eunomia_instance *inst, int32_t *fds, uint32_t capacity);

/* The ABI the table declares: the schema's, which `eunomia plugin build` passes as
 * EUNOMIA_PLUGIN_ABI_MAJOR and _MINOR when the schema names one; else these headers'. A plugin
 * may declare an older minor than the headers (it then loads in older hosts too), never a newer one. */
#ifndef EUNOMIA_PLUGIN_ABI_MAJOR
#define EUNOMIA_PLUGIN_ABI_MAJOR EUNOMIA_ABI_MAJOR
#endif
#ifndef EUNOMIA_PLUGIN_ABI_MINOR
#define EUNOMIA_PLUGIN_ABI_MINOR EUNOMIA_ABI_MINOR
#endif
#if EUNOMIA_PLUGIN_ABI_MAJOR != EUNOMIA_ABI_MAJOR || EUNOMIA_PLUGIN_ABI_MINOR > EUNOMIA_ABI_MINOR
#error "the schema's abi is not one these eunomia headers provide: install a newer kit, or lower the schema's abi"
#endif

/* Declare the plugin with the name and version its schema gives: `eunomia plugin build` passes
 * them as EUNOMIA_PLUGIN_NAME and EUNOMIA_PLUGIN_VERSION (string literals), so they are
 * written once, in schema.json; `plugin pack` refuses a library whose table disagrees. */
#define EUNOMIA_PLUGIN(CONFIGURE) EUNOMIA_BPF_PLUGIN(EUNOMIA_PLUGIN_NAME, EUNOMIA_PLUGIN_VERSION, CONFIGURE)

/* Declare the plugin table and its entry point, naming the plugin here (prefer EUNOMIA_PLUGIN). */
#define EUNOMIA_BPF_PLUGIN(NAME, VERSION, CONFIGURE)                                                   \
    static eunomia_status eunomia_plugin_create_(const struct eunomia_create_args *args,              \
                                                 eunomia_instance **out, char *err, size_t err_size)  \
    {                                                                                                  \
        return eunomia_bpf_create(args, CONFIGURE, out, err, err_size);                               \
    }                                                                                                  \
    static const struct eunomia_plugin eunomia_plugin_table_ = {                                      \
        .struct_size = sizeof(struct eunomia_plugin),                                                  \
        .abi_major = EUNOMIA_PLUGIN_ABI_MAJOR,                                                         \
        .abi_minor = EUNOMIA_PLUGIN_ABI_MINOR,                                                         \
        .name = NAME,                                                                                  \
        .version = VERSION,                                                                            \
        .create = eunomia_plugin_create_,                                                              \
        .start = eunomia_bpf_start,                                                                    \
        .poll = eunomia_bpf_poll,                                                                      \
        .stop = eunomia_bpf_stop,                                                                      \
        .destroy = eunomia_bpf_destroy,                                                                \
        .get_stats = eunomia_bpf_get_stats,                                                            \
        .wait_fd = eunomia_bpf_wait_fd,                                                                \
        .map_fd = eunomia_bpf_instance_map_fd,                                                         \
        .handover = eunomia_bpf_handover,                                                              \
        .retire = eunomia_bpf_retire,                                                                  \
        .prog_fds = eunomia_bpf_instance_prog_fds,                                                     \
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
