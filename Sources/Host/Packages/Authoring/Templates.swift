/// The files `eunomia plugin new` writes, per template. @NAME@ is the plugin's name, @CNAME@
/// its C form ('-' as '_'), @GUARD@ the upper-case C form. Each builds, lints and runs as it is.
enum Templates {
    static func files(for template: PluginScaffold.Template) -> [(String, String)] {
        let body: [(String, String)]
        switch template {
        case .tracepoint: body = [("NAME.h", tracepointHeader), ("NAME.bpf.c", tracepointBPF), ("NAME.c", plainC), ("schema.json", tracepointSchema)]
        case .entryExit: body = [("NAME.h", entryExitHeader), ("NAME.bpf.c", entryExitBPF), ("NAME.c", plainC), ("schema.json", entryExitSchema)]
        case .periodic: body = [("NAME.h", periodicHeader), ("NAME.bpf.c", periodicBPF), ("NAME.c", periodicC), ("schema.json", periodicSchema)]
        case .uprobe: body = [("NAME.h", uprobeHeader), ("NAME.bpf.c", uprobeBPF), ("NAME.c", uprobeC), ("schema.json", uprobeSchema)]
        }
        return body + [("Makefile", makefile)]
    }

    static let makefile = """
        # Builds this plugin against the installed eunomia plugin kit: `make` (the package, in
        # build/), `make lint`, `make clean`. The rules are the kit's (eunomia-plugin.mk).
        EUNOMIA_MK := $(shell pkg-config --variable=makefile eunomia-plugin)
        ifeq ($(EUNOMIA_MK),)
        $(error pkg-config finds no eunomia-plugin: install eunomia's plugin kit (make install), or set PKG_CONFIG_PATH)
        endif
        include $(EUNOMIA_MK)

        """

    /// User space for a tracker whose records go straight from the ring buffer to the host.
    static let plainC = """
        /* @NAME@: the user-space side. The helper (eunomia_bpf.h) opens, loads and attaches the BPF
         * object, applies the common parameters and forwards every record; this file only turns the
         * plugin's own parameters into BPF constants. Name and version come from schema.json. */
        #include "eunomia_bpf.h"

        static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
        {
            (void)bpf;
            (void)config;
            (void)err;
            (void)err_size;
            return EUNOMIA_OK;
        }

        EUNOMIA_PLUGIN(configure)

        """

    // MARK: tracepoint

    static let tracepointHeader = """
        /* @NAME@: the record the BPF program sends. schema.json names it (btf_struct "event"): the
         * host takes every offset, size and type from the BPF object's BTF, and the eunomia_* types
         * (bpf/eunomia_record.h) give display hints. Keep the variable-length member last. */
        #ifndef @GUARD@_H
        #define @GUARD@_H

        #include "eunomia_record.h"

        #define @GUARD@_PATH_LEN 512 /* a power of two, for eunomia_output_tail */

        struct event {
            eunomia_event_time ts;
            __u32 pid;
            __u32 ppid;
            __u32 uid;
            EUNOMIA_TASK_IDS; /* cgroup id and namespaces: the container the event came from */
            char comm[16];
            char filename[@GUARD@_PATH_LEN];
        };

        #endif

        """

    static let tracepointBPF = """
        // SPDX-License-Identifier: GPL-2.0
        /* @NAME@: one record per exec, from the sched_process_exec tracepoint. */
        #include "eunomia.bpf.h"
        #include "@NAME@.h"

        /* The record is larger than the 512-byte BPF stack: build it in a per-CPU slot. */
        struct {
            __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
            __uint(max_entries, 1);
            __type(key, __u32);
            __type(value, struct event);
        } scratch SEC(".maps");

        SEC("tracepoint/sched/sched_process_exec")
        int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
        {
            if (!eunomia_task_allowed()) /* the common pid, uid, comm and container filters */
                return 0;
            __u32 zero = 0;
            struct event *e = bpf_map_lookup_elem(&scratch, &zero);
            if (!e)
                return 0;
            struct task_struct *task = (struct task_struct *)bpf_get_current_task();
            e->ts = bpf_ktime_get_ns();
            e->pid = bpf_get_current_pid_tgid() >> 32;
            e->ppid = BPF_CORE_READ(task, real_parent, tgid);
            e->uid = (__u32)bpf_get_current_uid_gid();
            eunomia_fill_task_ids(e);
            bpf_get_current_comm(e->comm, sizeof(e->comm));
            unsigned int offset = ctx->__data_loc_filename & 0xFFFF;
            long len = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + offset);
            if (len < 1) {
                e->filename[0] = '\\0';
                len = 1;
            }
            eunomia_output_tail(e, filename, len); /* only the used part of filename travels */
            return 0;
        }

        char LICENSE[] SEC("license") = "GPL";

        """

    static let tracepointSchema = """
        {
          "name": "@NAME@",
          "version": "0.1.0",
          "description": "Trace every exec: which process ran which file.",
          "requires": { "kernel": "5.8", "btf": true, "tracepoints": ["sched/sched_process_exec"] },
          "common": ["pid", "uid", "comm", "container", "ringbuf_kb"],
          "parameters": [],
          "records": [
            {
              "id": 0,
              "name": "exec",
              "btf_struct": "event",
              "fields": [
                { "name": "time", "member": "ts", "width": 8 },
                { "name": "pid", "width": 7 },
                { "name": "ppid", "width": 7 },
                { "name": "uid", "width": 6, "hidden": true },
                { "name": "comm", "width": 16 },
                { "name": "filename" }
              ]
            }
          ]
        }

        """

    // MARK: entry-exit

    static let entryExitHeader = """
        /* @NAME@: the record the BPF program sends (btf_struct "event" in schema.json; its layout
         * comes from BTF). Keep the variable-length member last. */
        #ifndef @GUARD@_H
        #define @GUARD@_H

        #include "eunomia_record.h"

        #define @GUARD@_PATH_LEN 512 /* a power of two, for eunomia_output_tail */

        struct event {
            eunomia_event_time ts;    /* at the syscall's entry */
            __u64 duration_ns;        /* from entry to exit */
            eunomia_errno_name ret;   /* the syscall's result: an fd, or -ENOENT by name */
            __u32 pid;
            __u32 tid;
            EUNOMIA_TASK_IDS;
            char comm[16];
            char path[@GUARD@_PATH_LEN];
        };

        #endif

        """

    static let entryExitBPF = """
        // SPDX-License-Identifier: GPL-2.0
        /* @NAME@: openat(2) from entry to exit: what was opened, the result, how long it took. */
        #include "eunomia.bpf.h"
        #include "@NAME@.h"

        /* What the entry saw, per thread, until the exit. */
        struct entry {
            const char *path;
            __u64 ts;
        };

        struct {
            __uint(type, BPF_MAP_TYPE_HASH);
            __uint(max_entries, 10240);
            __type(key, __u32);
            __type(value, struct entry);
        } entries SEC(".maps");

        struct {
            __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
            __uint(max_entries, 1);
            __type(key, __u32);
            __type(value, struct event);
        } scratch SEC(".maps");

        /* Only failed calls (the "failed" parameter, set by @NAME@.c before load). */
        const volatile bool targ_failed = false;

        SEC("tracepoint/syscalls/sys_enter_openat")
        int handle_enter(struct trace_event_raw_sys_enter *ctx)
        {
            if (!eunomia_task_allowed())
                return 0;
            __u32 tid = (__u32)bpf_get_current_pid_tgid();
            struct entry entry = { .path = (const char *)ctx->args[1], .ts = bpf_ktime_get_ns() };
            bpf_map_update_elem(&entries, &tid, &entry, BPF_ANY);
            return 0;
        }

        SEC("tracepoint/syscalls/sys_exit_openat")
        int handle_exit(struct trace_event_raw_sys_exit *ctx)
        {
            __u64 id = bpf_get_current_pid_tgid();
            __u32 tid = (__u32)id;
            struct entry *entry = bpf_map_lookup_elem(&entries, &tid);
            if (!entry)
                return 0;
            __u32 zero = 0;
            struct event *e = bpf_map_lookup_elem(&scratch, &zero);
            if (!e || (targ_failed && ctx->ret >= 0))
                goto done;
            e->ts = entry->ts;
            e->duration_ns = bpf_ktime_get_ns() - entry->ts;
            e->ret = ctx->ret;
            e->pid = id >> 32;
            e->tid = tid;
            eunomia_fill_task_ids(e);
            bpf_get_current_comm(e->comm, sizeof(e->comm));
            long len = bpf_probe_read_user_str(e->path, sizeof(e->path), entry->path);
            if (len < 1) {
                e->path[0] = '\\0';
                len = 1;
            }
            eunomia_output_tail(e, path, len);
        done:
            bpf_map_delete_elem(&entries, &tid);
            return 0;
        }

        char LICENSE[] SEC("license") = "GPL";

        """

    static let entryExitSchema = """
        {
          "name": "@NAME@",
          "version": "0.1.0",
          "description": "Trace openat(2): who opened which path, the result and how long it took.",
          "requires": { "kernel": "5.8", "btf": true, "tracepoints": ["syscalls/sys_enter_openat", "syscalls/sys_exit_openat"] },
          "common": ["pid", "tid", "uid", "comm", "container", "ringbuf_kb"],
          "parameters": [
            { "name": "failed", "type": "boolean", "default": false, "description": "Show only failed calls" }
          ],
          "records": [
            {
              "id": 0,
              "name": "call",
              "btf_struct": "event",
              "fields": [
                { "name": "time", "member": "ts", "width": 8 },
                { "name": "pid", "width": 7 },
                { "name": "tid", "hidden": true },
                { "name": "comm", "width": 16 },
                { "name": "ret", "width": 7, "align": "right" },
                { "name": "duration_ms", "member": "duration_ns", "scale": 1000000, "decimals": 3, "column": "MS", "width": 8, "align": "right" },
                { "name": "path" }
              ]
            }
          ]
        }

        """

    // MARK: periodic

    static let periodicHeader = """
        /* @NAME@: shared by the BPF program (the counts map's value) and the plugin (the report's
         * rows), as libbpf-tools keeps its NAME.h. schema.json names struct row (btf_struct): the
         * BPF object's BTF has it because the map's value is one. */
        #ifndef @GUARD@_H
        #define @GUARD@_H

        #include "eunomia_record.h"

        struct row {
            __u32 pid;
            __u32 reserved;
            __u64 count;
            char comm[16];
        };

        #endif

        """

    static let periodicBPF = """
        // SPDX-License-Identifier: GPL-2.0
        /* @NAME@: syscalls per process, counted in a map the plugin reports every interval. */
        #include "eunomia.bpf.h"
        #include "@NAME@.h"

        struct {
            __uint(type, BPF_MAP_TYPE_HASH);
            __uint(max_entries, 10240);
            __type(key, __u32);
            __type(value, struct row);
        } counts SEC(".maps");

        SEC("tracepoint/raw_syscalls/sys_enter")
        int handle_sys_enter(struct trace_event_raw_sys_enter *ctx)
        {
            (void)ctx;
            if (!eunomia_task_allowed())
                return 0;
            __u32 pid = bpf_get_current_pid_tgid() >> 32;
            struct row *row = bpf_map_lookup_elem(&counts, &pid);
            if (!row) {
                struct row fresh = { .pid = pid };
                bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
                bpf_map_update_elem(&counts, &pid, &fresh, BPF_NOEXIST);
                row = bpf_map_lookup_elem(&counts, &pid);
                if (!row)
                    return 0;
            }
            __sync_fetch_and_add(&row->count, 1);
            return 0;
        }

        char LICENSE[] SEC("license") = "GPL";

        """

    static let periodicC = """
        /* @NAME@: the user-space side. Every interval seconds (and once at the end) the report
         * callback takes the counts out of the map and hands them to the host as rows, which it
         * sorts by count and prints as a top-N table. */
        #include <stdlib.h>

        #include "eunomia_bpf.h"

        #include "@NAME@.h"

        static eunomia_status report(struct eunomia_bpf *bpf, bool final, char *err, size_t err_size)
        {
            (void)final;
            void *keys, *values;
            long n = eunomia_map_read_all(eunomia_bpf_map_fd(bpf, "counts"), sizeof(__u32), sizeof(struct row), true,
                                          &keys, &values);
            if (n < 0) {
                snprintf(err, err_size, "out of memory reading the counts map");
                return EUNOMIA_ERR_NO_MEMORY;
            }
            struct row *rows = values;
            for (long i = 0; i < n; i++)
                eunomia_bpf_emit(bpf, 0, &rows[i], sizeof(rows[i]));
            free(keys);
            free(values);
            return EUNOMIA_OK;
        }

        static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
        {
            (void)config;
            (void)err;
            (void)err_size;
            eunomia_bpf_events_unused(bpf); /* rows come from the map, not the ring buffer */
            eunomia_bpf_set_report(bpf, report);
            return EUNOMIA_OK;
        }

        EUNOMIA_PLUGIN(configure)

        """

    static let periodicSchema = """
        {
          "name": "@NAME@",
          "version": "0.1.0",
          "description": "Count system calls per process and print the busiest every interval.",
          "requires": { "kernel": "5.8", "btf": true, "tracepoints": ["raw_syscalls/sys_enter"] },
          "common": ["pid", "uid", "comm", "container", "interval"],
          "parameters": [
            { "name": "top", "type": "integer", "default": 10, "min": 0, "max": 10240, "description": "Rows per report, busiest first; 0 shows all" }
          ],
          "records": [
            {
              "id": 0,
              "name": "process",
              "kind": "row",
              "btf_struct": "row",
              "sort": "count",
              "limit": "top",
              "fields": [
                { "name": "pid", "width": 7 },
                { "name": "comm", "width": 16 },
                { "name": "count", "width": 10, "align": "right" }
              ]
            }
          ]
        }

        """

    // MARK: uprobe

    static let uprobeHeader = """
        /* @NAME@: the record the BPF program sends (btf_struct "event" in schema.json). */
        #ifndef @GUARD@_H
        #define @GUARD@_H

        #include "eunomia_record.h"

        struct event {
            eunomia_event_time ts; /* at the call */
            __u64 duration_ns;     /* from call to return */
            __s64 ret;             /* the function's return value */
            __u32 pid;
            __u32 tid;
            EUNOMIA_TASK_IDS;
            char comm[16];
        };

        #endif

        """

    static let uprobeBPF = """
        // SPDX-License-Identifier: GPL-2.0
        /* @NAME@: a user-space function's calls, from entry to return (uprobe and uretprobe). The
         * plugin attaches both to the function the `binary` and `symbol` parameters name. */
        #include "eunomia.bpf.h"
        #include "@NAME@.h"

        struct {
            __uint(type, BPF_MAP_TYPE_HASH);
            __uint(max_entries, 10240);
            __type(key, __u32);
            __type(value, __u64);
        } starts SEC(".maps");

        /* The record is built in a map value rather than on the stack, which also puts struct
         * event into the object's BTF: schema.json's btf_struct names a struct the BTF describes,
         * and clang describes only the types maps, globals and functions use. */
        struct {
            __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
            __uint(max_entries, 1);
            __type(key, __u32);
            __type(value, struct event);
        } scratch SEC(".maps");

        SEC("uprobe")
        int BPF_UPROBE(handle_entry)
        {
            if (!eunomia_task_allowed())
                return 0;
            __u32 tid = (__u32)bpf_get_current_pid_tgid();
            __u64 ts = bpf_ktime_get_ns();
            bpf_map_update_elem(&starts, &tid, &ts, BPF_ANY);
            return 0;
        }

        SEC("uretprobe")
        int BPF_URETPROBE(handle_return, long ret)
        {
            __u64 id = bpf_get_current_pid_tgid();
            __u32 tid = (__u32)id;
            __u64 *ts = bpf_map_lookup_elem(&starts, &tid);
            if (!ts)
                return 0;
            __u32 zero = 0;
            struct event *e = bpf_map_lookup_elem(&scratch, &zero);
            if (e) {
                e->ts = *ts;
                e->duration_ns = bpf_ktime_get_ns() - *ts;
                e->ret = ret;
                e->pid = id >> 32;
                e->tid = tid;
                eunomia_fill_task_ids(e);
                bpf_get_current_comm(e->comm, sizeof(e->comm));
                eunomia_output(e, sizeof(*e));
            }
            bpf_map_delete_elem(&starts, &tid);
            return 0;
        }

        char LICENSE[] SEC("license") = "GPL";

        """

    static let uprobeC = """
        /* @NAME@: the user-space side. uprobes need a target, so the helper loads them but leaves
         * attaching to the attach callback, which resolves `binary` (a path, or a library name
         * such as libc) and attaches to `symbol` in it, for every process or the `pid` one. */
        #include "eunomia_bpf.h"

        struct target {
            char binary[256];
            char symbol[128];
            int pid;
        };

        static eunomia_status attach(struct eunomia_bpf *bpf, char *err, size_t err_size)
        {
            struct target *t = eunomia_bpf_user(bpf);
            eunomia_status rc = eunomia_bpf_attach_uprobe(bpf, "handle_entry", t->binary, t->symbol, false, t->pid, err, err_size);
            if (rc == EUNOMIA_OK)
                rc = eunomia_bpf_attach_uprobe(bpf, "handle_return", t->binary, t->symbol, true, t->pid, err, err_size);
            return rc;
        }

        static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
        {
            struct target *t = calloc(1, sizeof(*t));
            if (!t) {
                snprintf(err, err_size, "out of memory");
                return EUNOMIA_ERR_NO_MEMORY;
            }
            snprintf(t->binary, sizeof(t->binary), "%s", eunomia_config_string(config, "binary"));
            snprintf(t->symbol, sizeof(t->symbol), "%s", eunomia_config_string(config, "symbol"));
            t->pid = (int)eunomia_config_int(config, "pid", 0);
            eunomia_bpf_set_user(bpf, t, free);
            eunomia_bpf_set_attach(bpf, attach);
            return EUNOMIA_OK;
        }

        EUNOMIA_PLUGIN(configure)

        """

    static let uprobeSchema = """
        {
          "name": "@NAME@",
          "version": "0.1.0",
          "description": "Trace calls of a user-space function (libc getaddrinfo by default): who called it, what it returned, how long it took.",
          "requires": { "kernel": "5.8", "btf": true },
          "common": ["pid", "tid", "uid", "comm", "container", "ringbuf_kb"],
          "parameters": [
            { "name": "binary", "type": "string", "default": "libc", "max_length": 255, "description": "The binary or library holding the function: a path, or a library name such as libc" },
            { "name": "symbol", "type": "string", "default": "getaddrinfo", "max_length": 127, "description": "The function to trace" }
          ],
          "records": [
            {
              "id": 0,
              "name": "call",
              "btf_struct": "event",
              "fields": [
                { "name": "time", "member": "ts", "width": 8 },
                { "name": "pid", "width": 7 },
                { "name": "tid", "hidden": true },
                { "name": "comm", "width": 16 },
                { "name": "ret", "width": 6, "align": "right" },
                { "name": "duration_ms", "member": "duration_ns", "scale": 1000000, "decimals": 3, "column": "MS", "width": 8, "align": "right" }
              ]
            }
          ]
        }

        """
}
