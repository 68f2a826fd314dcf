/*
 * eunomia plugin ABI: the only contract between the eunomia host and a tracker plugin.
 *
 * Stability rules (docs/abi.md has the full text):
 *  - A plugin exports exactly one symbol, eunomia_plugin_entry. Everything else is reached
 *    through the tables below.
 *  - EUNOMIA_ABI_MAJOR must match exactly. A plugin built against minor M loads in any host
 *    whose minor is >= M.
 *  - Every struct starts with uint32_t struct_size. Structs only ever grow at the end; a
 *    reader uses a field only when EUNOMIA_HAS_FIELD says the writer's struct contains it.
 *    Fields are never removed, reordered or retyped.
 *  - Memory is freed by whoever allocated it. Strings and buffers handed across the boundary
 *    are borrowed for the duration of the call unless stated otherwise.
 */
#ifndef EUNOMIA_PLUGIN_H
#define EUNOMIA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EUNOMIA_ABI_MAJOR 1
#define EUNOMIA_ABI_MINOR 5

/* Name of the single symbol a plugin exports. */
#define EUNOMIA_ENTRY_SYMBOL "eunomia_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define EUNOMIA_EXPORT __attribute__((visibility("default")))
#else
#define EUNOMIA_EXPORT
#endif

/* True when the struct behind ptr, whose first member is struct_size, contains member. */
#define EUNOMIA_HAS_FIELD(ptr, type, member) \
    ((ptr) != NULL && (size_t)(ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* Suggested size of the error buffers the host passes; plugins must honour err_size whatever it is. */
#define EUNOMIA_ERROR_BUF_SIZE 512

/* Status codes. Values are fixed forever; new codes may be added. */
typedef int32_t eunomia_status;
enum {
    EUNOMIA_OK = 0,
    EUNOMIA_ERR_INVALID_ARGUMENT = 1, /* bad configuration or argument */
    EUNOMIA_ERR_ABI = 2,              /* incompatible table or version */
    EUNOMIA_ERR_UNSUPPORTED = 3,      /* the kernel lacks what the tracker needs */
    EUNOMIA_ERR_BPF = 4,              /* BPF object open, load or attach failed */
    EUNOMIA_ERR_NO_MEMORY = 5,
    EUNOMIA_ERR_STATE = 6,            /* call not allowed in the instance's current state */
    EUNOMIA_ERR_INTERNAL = 7,
};

/* Log levels for eunomia_host_api.log. */
enum {
    EUNOMIA_LOG_ERROR = 0,
    EUNOMIA_LOG_WARN = 1,
    EUNOMIA_LOG_INFO = 2,
    EUNOMIA_LOG_DEBUG = 3,
};

/*
 * Services the host offers an instance. Owned by the host; valid from create until destroy
 * returns. Callbacks are invoked on the thread that called into the plugin.
 */
struct eunomia_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    void *host_ctx; /* opaque; pass back unchanged as the first argument of every callback */
    /*
     * Hand one binary record to the host. record_id selects the layout in the plugin's schema.
     * data is borrowed for the call only. Returns 0 when the record was accepted, non-zero when
     * the host dropped it (the plugin must count it in events_lost). Only call from poll, and
     * (ABI 1.1) from stop, to hand over a final report.
     */
    int32_t (*emit)(void *host_ctx, uint32_t record_id, const void *data, uint32_t size);
    /* Write a NUL-terminated message to the host's log. Callable from any plugin call. */
    void (*log)(void *host_ctx, int32_t level, const char *message);
    /*
     * ABI 1.1. Close a report: the report records (schema kind "row" or "histogram") emitted
     * since the previous end_report form one report, taken at timestamp_ns (CLOCK_MONOTONIC,
     * as bpf_ktime_get_ns). The host sorts, limits and prints them together. A report may be
     * empty. Call from poll or stop, like emit. Returns 0. Check EUNOMIA_HAS_FIELD first: a
     * 1.0 host has no reports.
     */
    int32_t (*end_report)(void *host_ctx, uint64_t timestamp_ns);
};

/* Arguments of create. Everything in it is borrowed for the duration of create only,
 * except host, which stays valid until destroy returns. */
struct eunomia_create_args {
    uint32_t struct_size;
    uint32_t reserved;
    const char *config_json;     /* JSON object: every schema parameter, validated, defaults applied */
    const char *bpf_object_path; /* the package's compiled BPF object */
    const char *package_dir;     /* directory of the installed package (read-only) */
    const struct eunomia_host_api *host;
};

/* Per-instance counters. The caller sets struct_size; the plugin fills what fits. */
struct eunomia_stats {
    uint32_t struct_size;
    uint32_t reserved;
    uint64_t events_emitted; /* records accepted by the host */
    uint64_t events_lost;    /* records dropped before the host saw them (ring buffer full, host refusal) */
};

/* Opaque per-instance state, allocated by create and freed by destroy. */
typedef struct eunomia_instance eunomia_instance;

/*
 * ABI 1.2, hot swap. One BPF map of the running version (the predecessor) that its successor
 * should use instead of creating its own. Owned by the host, like the array it sits in.
 */
struct eunomia_map_handover {
    const char *name;      /* map name, the same in both BPF objects */
    int32_t fd;            /* the predecessor's map; borrowed (the instance dups it if it keeps it) */
    eunomia_status result; /* out: EUNOMIA_OK reused; EUNOMIA_ERR_INVALID_ARGUMENT no such map here, or
                              its type, key size, value size, max entries or flags differ (then the
                              instance creates its own and logs one line saying which differs) */
};

/*
 * ABI 1.2, hot swap. What the host passes to handover: the successor's swap generation and the
 * maps it takes over. Filled and owned by the host; borrowed for the duration of the call (only
 * the results are written). The host always includes eunomia_cutover; docs/abi.md describes
 * the cutover protocol the host runs around it.
 */
struct eunomia_handover {
    uint32_t struct_size;
    uint32_t generation;   /* the predecessor's generation + 1; a first instance is generation 0 */
    uint32_t n_maps;
    uint32_t reserved;
    struct eunomia_map_handover *maps; /* n_maps entries */
};

/*
 * The plugin's function table. Static and read-only inside the plugin; valid until the
 * library is unloaded. Lifecycle of an instance:
 *
 *   create -> start -> poll* -> stop -> destroy      (stop and destroy may also follow create)
 *   create -> handover -> start -> ...               (ABI 1.2: the successor in a hot swap)
 *
 * Calls on one instance never overlap; the host serialises them. Different instances may be
 * called concurrently from different threads, so a plugin keeps no global mutable state.
 * Every call that can fail returns an eunomia_status and, on failure, writes a NUL-terminated
 * one-line message into err (err_size bytes, owned by the caller).
 */
struct eunomia_plugin {
    uint32_t struct_size;
    uint16_t abi_major; /* EUNOMIA_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /* EUNOMIA_ABI_MINOR the plugin was built with */
    const char *name;    /* static, e.g. "opensnoop" */
    const char *version; /* static semver, e.g. "0.1.0" */

    /* Parse config, open the BPF object; nothing is loaded into the kernel yet. */
    eunomia_status (*create)(const struct eunomia_create_args *args, eunomia_instance **out,
                             char *err, size_t err_size);
    /* Load the BPF programs and attach them. */
    eunomia_status (*start)(eunomia_instance *inst, char *err, size_t err_size);
    /* Wait at most timeout_ms for events and deliver them through host->emit on the calling
     * thread. *delivered receives the number of records handed to the host. */
    eunomia_status (*poll)(eunomia_instance *inst, int32_t timeout_ms, uint64_t *delivered,
                           char *err, size_t err_size);
    /* Detach every program. No record is emitted after stop returns. */
    eunomia_status (*stop)(eunomia_instance *inst, char *err, size_t err_size);
    /* Release every resource of the instance: BPF links, maps, fds, memory, threads. */
    void (*destroy)(eunomia_instance *inst);
    /* Fill stats; callable between create and destroy. */
    eunomia_status (*get_stats)(eunomia_instance *inst, struct eunomia_stats *stats);

    /* The members below are ABI 1.2: a host checks EUNOMIA_HAS_FIELD (and NULL) before calling
     * one, and a 1.1 plugin's table simply ends before them. A 1.2 plugin works unchanged
     * in a host that never calls them. */

    /* ABI 1.2. A descriptor the host waits on (poll/epoll for POLLIN) instead of calling poll on a
     * timer: readable when poll(inst, 0, ...) has records to deliver or a report is due. Valid from a
     * successful start until stop; owned by the instance. -1: none (the host polls on a timer). */
    int32_t (*wait_fd)(eunomia_instance *inst);
    /* ABI 1.2. fd of the instance's BPF map `name` (valid from start until destroy, owned by the
     * instance); -1 when it has none. The host hands such fds to a successor in a hot swap. */
    int32_t (*map_fd)(eunomia_instance *inst, const char *name);
    /* ABI 1.2. Between create and start: reuse the running predecessor's maps listed in `h` instead
     * of creating them (bpf_map__reuse_fd), and take the swap generation h->generation. Writes each
     * h->maps[i].result; returns EUNOMIA_OK even when some maps are not reused, an error only when
     * the call itself is invalid (wrong state, NULL or short h). */
    eunomia_status (*handover)(eunomia_instance *inst, struct eunomia_handover *h, char *err, size_t err_size);
    /* ABI 1.2. Like stop, for an instance a successor replaces in a hot swap: detach every
     * program and hand over the records already in the ring buffer, but emit no final report:
     * the successor carries the state on (its maps were handed over) and reports it. */
    eunomia_status (*retire)(eunomia_instance *inst, char *err, size_t err_size);

    /* ABI 1.3, optional like the 1.2 members. The fds of the instance's loaded BPF programs, owned
     * by the instance and valid from a successful start until destroy: writes at most `capacity`
     * of them into fds and returns how many there are (more than capacity: call again with more
     * room); 0 before start. The host reads each program's run count and run time from them
     * (bpf_prog_info, with BPF statistics enabled): what the tracker costs the kernel. */
    int32_t (*prog_fds)(eunomia_instance *inst, int32_t *fds, uint32_t capacity);
};

/*
 * The entry point. The host passes its own ABI version; the plugin returns its table, or NULL
 * if it cannot work with that host. Must have no side effects: the host may call it to inspect
 * a plugin without ever creating an instance.
 */
typedef const struct eunomia_plugin *(*eunomia_plugin_entry_fn)(uint16_t host_abi_major,
                                                                uint16_t host_abi_minor);

EUNOMIA_EXPORT const struct eunomia_plugin *eunomia_plugin_entry(uint16_t host_abi_major,
                                                                 uint16_t host_abi_minor);

/* Stable name of a status code ("EUNOMIA_ERR_BPF"); never NULL. */
const char *eunomia_status_name(eunomia_status status);

#ifdef __cplusplus
}
#endif

#endif /* EUNOMIA_PLUGIN_H */
