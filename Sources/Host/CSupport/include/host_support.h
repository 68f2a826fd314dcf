/* Host-only C glue that Swift cannot express directly (varargs, libbpf/libelf structs). */
#ifndef EUNOMIA_HOST_SUPPORT_H
#define EUNOMIA_HOST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "symbolizer.h"

/* Route libbpf's process-global print callback to sink(level, line). level: 0 warn, 1 info, 2 debug. */
typedef void (*eh_log_sink)(int32_t level, const char *line);
void eh_install_libbpf_logger(eh_log_sink sink);

/* ELF facts the installer checks without loading code. Return 0 on success, -1 with err filled. */
struct eh_elf_info {
    uint16_t machine;     /* e_machine: 247 = EM_BPF, 62 = EM_X86_64 */
    uint16_t type;        /* e_type: 1 = ET_REL, 3 = ET_DYN */
    int32_t nodelete;     /* DF_1_NODELETE set in DT_FLAGS_1 */
    int32_t has_entry;    /* exports the eunomia_plugin_entry symbol in .dynsym */
};
int eh_elf_inspect(const char *path, struct eh_elf_info *info, char *err, size_t err_size);

/* Size of a struct named struct_name in the BTF of a BPF object, or -1 with err filled. */
long eh_btf_struct_size(const char *bpf_object_path, const char *struct_name, char *err, size_t err_size);
/* Byte offset and size of member of struct struct_name; returns 0, or -1 with err filled. */
int eh_btf_member(const char *bpf_object_path, const char *struct_name, const char *member,
                  uint32_t *offset, uint32_t *size, char *err, size_t err_size);

/* What the BTF of a BPF object says about one struct member: where it is, and what it is, so
 * a schema may leave out offsets, sizes and types (plugin pack fills them in). */
struct eh_btf_member_info {
    uint32_t offset;     /* bytes from the start of the struct */
    uint32_t size;       /* resolved size in bytes */
    uint8_t kind;        /* EH_BTF_INT, EH_BTF_ARRAY or EH_BTF_OTHER */
    uint8_t is_signed;   /* int (or the array's element): signed */
    uint8_t is_bool;     /* int: _Bool */
    uint8_t is_char;     /* int (or the array's element) named char: text */
    uint32_t elem_size;  /* array: the element's size */
    uint8_t elem_kind;   /* array: EH_BTF_INT or EH_BTF_OTHER */
    uint8_t reserved[3];
    char hint[48];       /* the first typedef named eunomia_* on the way to the type, without the prefix */
};
enum { EH_BTF_OTHER = 0, EH_BTF_INT = 1, EH_BTF_ARRAY = 2 };

/* Describe member of struct struct_name; returns 0, or -1 with err filled. */
int eh_btf_member_info(const char *bpf_object_path, const char *struct_name, const char *member,
                       struct eh_btf_member_info *info, char *err, size_t err_size);

/* The member names of struct struct_name, NUL-separated into names (names_size bytes); returns
 * the member count, or -1 with err filled (also when names is too small). */
int eh_btf_member_names(const char *bpf_object_path, const char *struct_name, char *names, size_t names_size,
                        char *err, size_t err_size);

/* The section names of the programs of a BPF object (opened, never loaded), NUL-separated into
 * names; returns the count, or -1 with err filled. */
int eh_bpf_program_sections(const char *bpf_object_path, char *names, size_t names_size, char *err, size_t err_size);

/* The NUL-terminated text of ELF section `section` (a BPF object's "license"), at most
 * out_size - 1 bytes; returns 0, or -1 with err filled. */
int eh_elf_section_text(const char *path, const char *section, char *out, size_t out_size, char *err, size_t err_size);

/* True when the running kernel's BTF has a type `name` of BTF kind `kind` (BTF_KIND_TYPEDEF for
 * btf_trace_EVENT, BTF_KIND_FUNC for a function); -1 when the kernel has no BTF. */
int eh_kernel_btf_has(const char *name, int kind);

/* 1 when the ELF file at path defines function symbol (in .symtab or .dynsym; a versioned
 * name counts), 0 when not, -1 when the file cannot be read as ELF. */
int eh_elf_has_function(const char *path, const char *symbol);

/* Monotonic and realtime clocks in ns, read back to back (for bpf_ktime_get_ns -> wall clock). */
int64_t eh_monotonic_ns(void);
int64_t eh_realtime_ns(void);
/* Local time of day for epoch seconds: writes "HH:MM:SS" (9 bytes incl. NUL). */
void eh_format_hms(int64_t epoch_seconds, char out[9]);
/* UTC calendar fields for epoch seconds. */
void eh_utc_fields(int64_t epoch_seconds, int32_t fields[6]);



/* BPF map access for hot swap (the host writes the cutover slots, counts what is left in
 * entry maps). Return 0, or -errno. */
int eh_map_update_u64(int map_fd, uint32_t key, uint64_t value);
/* Number of keys in a map (walking it with get_next_key), at most limit; -errno on failure. */
long eh_map_count_keys(int map_fd, long limit);

/* A BPF program's run count and total run time (bpf_prog_info; both 0 unless BPF statistics are
 * on). 0 on success, -errno on failure. */
int eh_prog_run_stats(int prog_fd, uint64_t *run_count, uint64_t *run_time_ns);

/* BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): statistics stay on while the returned fd is open, and
 * go back to what kernel.bpf_stats_enabled says when it is closed, however the process ends.
 * -errno on failure (an older kernel, no CAP_SYS_ADMIN). */
int eh_enable_bpf_stats(void);
/* Writes zeros to every element of an array or per-CPU array map; 0 or -errno. */
int eh_map_zero_array(int map_fd);

/* The event loop's kernel interface (struct epoll_event is packed, which Swift reads badly):
 * an epoll set whose entries carry a 64-bit token, and an eventfd to wake it. */
int eh_epoll_create(void);
int eh_epoll_add(int epfd, int fd, uint64_t token);
int eh_epoll_del(int epfd, int fd);
/* Waits up to timeout_ms (-1: forever); fills tokens of ready entries; returns their number, or -errno. */
int eh_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms);
int eh_eventfd(void);

/* Return freed heap memory to the kernel (malloc_trim). */
void eh_release_free_memory(void);

/* An anonymous, private file (memfd_create, close-on-exec) holding exactly len bytes of data,
 * positioned at 0. Returns the descriptor, or -1 with errno set. */
int eh_private_file(const char *name, const void *data, size_t len);
/* The path of cgroup v2 `id` (its kernfs id, as bpf_get_current_cgroup_id returns it) relative
 * to the cgroup2 mount at mount_path, whose directory mount_fd is open on: "/" for the root,
 * "/system.slice/docker-<id>.scope" and so on (cgroups.c). Returns 0, or -1 with errno set
 * (ESTALE: no such cgroup, or it is gone). */
int eh_cgroup_path(int mount_fd, unsigned long long id, const char *mount_path, char *out, size_t out_len);
#endif
