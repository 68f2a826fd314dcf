/* Types for the record structs a plugin's BPF program sends, shared by the BPF side (after
 * vmlinux.h) and user space (after <linux/types.h>), as a libbpf-tools NAME.h is. */
#ifndef EUNOMIA_RECORD_H
#define EUNOMIA_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- Display hints in the record struct ----
 * A record member declared with one of these types needs no "display" or "role" in the
 * schema: `eunomia plugin pack` reads the typedef's name from the BPF object's BTF (as
 * Inspektor Gadget does with its gadget_* types). The layout is the plain integer's. */
typedef __u64 eunomia_event_time; /* bpf_ktime_get_ns() of the event: its time in every output */
typedef __u64 eunomia_timestamp;  /* another bpf_ktime_get_ns() value, shown as wall-clock time */
typedef __s32 eunomia_errno;      /* an errno value (ENOENT) */
typedef __s64 eunomia_errno_name; /* a syscall's return value: -ENOENT by name, else the number */
typedef __u32 eunomia_signal;     /* a signal number (SIGKILL) */
typedef __u32 eunomia_capability; /* a capability number (CAP_SYS_ADMIN) */
typedef __u32 eunomia_syscall;    /* a syscall number of this architecture (openat) */
typedef __u64 eunomia_open_flags; /* open(2) flags (O_WRONLY|O_CREAT) */
typedef __u8 eunomia_ip[16];      /* an address of either family, network order, IPv4 mapped (::ffff:a.b.c.d) */

/* The task identity every event record carries (see eunomia.bpf.h, "Which container a record
 * came from"): declare the three members with EUNOMIA_TASK_IDS; the schema needs no field for
 * them, plugin pack adds them with their roles. */
typedef __u64 eunomia_cgroup_id;
typedef __u32 eunomia_mount_ns;
typedef __u32 eunomia_pid_ns;
#define EUNOMIA_TASK_IDS \
    eunomia_cgroup_id cgroup_id; /* bpf_get_current_cgroup_id(): the unified hierarchy's kernfs id */ \
    eunomia_mount_ns mount_ns;   /* inode of the task's mount namespace */ \
    eunomia_pid_ns pid_ns        /* inode of the pid namespace the task's pid is in */


#endif
