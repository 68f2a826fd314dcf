#define _GNU_SOURCE
#include "host_support.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static eh_log_sink log_sink;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    eh_log_sink sink = __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
    if (!sink)
        return 0;
    char *line = NULL; /* verifier logs run to many KiB: no fixed buffer */
    int n = vasprintf(&line, fmt, ap);
    if (n < 0)
        return n;
    size_t len = (size_t)n;
    while (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    int lvl = level == LIBBPF_WARN ? 0 : level == LIBBPF_INFO ? 1 : 2;
    sink(lvl, line);
    free(line);
    return n;
}

void eh_install_libbpf_logger(eh_log_sink sink)
{
    __atomic_store_n(&log_sink, sink, __ATOMIC_RELEASE);
    libbpf_set_print(libbpf_print);
}


static const struct btf_type *find_struct(struct btf **btf_out, const char *path, const char *name, char *err,
                                          size_t err_size)
{
    struct btf *btf = btf__parse_elf(path, NULL);
    if (!btf) {
        snprintf(err, err_size, "BPF object has no readable BTF (%s)", strerror(errno));
        return NULL;
    }
    int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
    if (id < 0) {
        snprintf(err, err_size, "BPF object's BTF has no struct %s", name);
        btf__free(btf);
        return NULL;
    }
    *btf_out = btf;
    return btf__type_by_id(btf, id);
}

long eh_btf_struct_size(const char *path, const char *name, char *err, size_t err_size)
{
    struct btf *btf = NULL;
    const struct btf_type *t = find_struct(&btf, path, name, err, err_size);
    if (!t)
        return -1;
    long size = t->size;
    btf__free(btf);
    return size;
}

int eh_btf_member(const char *path, const char *name, const char *member, uint32_t *offset, uint32_t *size,
                  char *err, size_t err_size)
{
    struct btf *btf = NULL;
    const struct btf_type *t = find_struct(&btf, path, name, err, err_size);
    if (!t)
        return -1;
    const struct btf_member *m = btf_members(t);
    int rc = -1;
    snprintf(err, err_size, "struct %s has no member %s", name, member);
    for (int i = 0; i < btf_vlen(t); i++, m++) {
        const char *mname = btf__name_by_offset(btf, m->name_off);
        if (!mname || strcmp(mname, member) != 0)
            continue;
        __s64 msize = btf__resolve_size(btf, m->type);
        if (msize < 0) {
            snprintf(err, err_size, "cannot resolve the size of %s.%s", name, member);
            break;
        }
        *offset = btf_member_bit_offset(t, i) / 8;
        *size = (uint32_t)msize;
        rc = 0;
        break;
    }
    btf__free(btf);
    return rc;
}

/* Skips typedefs and qualifiers, keeping the first eunomia_* typedef's name as a display hint. */
static const struct btf_type *skip_mods(const struct btf *btf, __u32 id, char *hint, size_t hint_size)
{
    const struct btf_type *t = btf__type_by_id(btf, id);
    for (int depth = 0; t && depth < 32; depth++) {
        int kind = btf_kind(t);
        if (kind == BTF_KIND_TYPEDEF && hint && !hint[0]) {
            const char *name = btf__name_by_offset(btf, t->name_off);
            if (name && strncmp(name, "eunomia_", 8) == 0)
                snprintf(hint, hint_size, "%s", name + 8);
        }
        if (kind != BTF_KIND_TYPEDEF && kind != BTF_KIND_VOLATILE && kind != BTF_KIND_CONST &&
            kind != BTF_KIND_RESTRICT && kind != BTF_KIND_TYPE_TAG)
            return t;
        t = btf__type_by_id(btf, t->type);
    }
    return NULL;
}

static void classify_int(const struct btf *btf, const struct btf_type *t, uint8_t *kind, uint8_t *is_signed,
                         uint8_t *is_bool, uint8_t *is_char)
{
    if (btf_is_int(t)) {
        __u8 enc = btf_int_encoding(t);
        const char *name = btf__name_by_offset(btf, t->name_off);
        *kind = EH_BTF_INT;
        *is_signed = (enc & BTF_INT_SIGNED) != 0;
        *is_bool = (enc & BTF_INT_BOOL) != 0;
        *is_char = (enc & BTF_INT_CHAR) != 0 || (name && strcmp(name, "char") == 0);
    } else if (btf_is_enum(t) || btf_kind(t) == BTF_KIND_ENUM64) {
        *kind = EH_BTF_INT;
        *is_signed = btf_kflag(t);
    } else {
        *kind = EH_BTF_OTHER;
    }
}

int eh_btf_member_info(const char *path, const char *name, const char *member, struct eh_btf_member_info *info,
                       char *err, size_t err_size)
{
    struct btf *btf = NULL;
    const struct btf_type *t = find_struct(&btf, path, name, err, err_size);
    if (!t)
        return -1;
    memset(info, 0, sizeof(*info));
    const struct btf_member *m = btf_members(t);
    int rc = -1;
    snprintf(err, err_size, "struct %s has no member %s", name, member);
    for (int i = 0; i < btf_vlen(t); i++, m++) {
        const char *mname = btf__name_by_offset(btf, m->name_off);
        if (!mname || strcmp(mname, member) != 0)
            continue;
        __u32 bits = btf_member_bit_offset(t, i);
        if (btf_member_bitfield_size(t, i) || bits % 8) {
            snprintf(err, err_size, "%s.%s is a bit field, which a record field cannot be", name, member);
            break;
        }
        __s64 msize = btf__resolve_size(btf, m->type);
        const struct btf_type *mt = skip_mods(btf, m->type, info->hint, sizeof(info->hint));
        if (msize < 0 || !mt) {
            snprintf(err, err_size, "cannot resolve the type of %s.%s", name, member);
            break;
        }
        info->offset = bits / 8;
        info->size = (uint32_t)msize;
        if (btf_is_array(mt)) {
            const struct btf_array *a = btf_array(mt);
            const struct btf_type *et = skip_mods(btf, a->type, NULL, 0);
            __s64 esize = btf__resolve_size(btf, a->type);
            info->kind = EH_BTF_ARRAY;
            info->elem_size = esize > 0 ? (uint32_t)esize : 0;
            uint8_t is_bool = 0;
            if (et)
                classify_int(btf, et, &info->elem_kind, &info->is_signed, &is_bool, &info->is_char);
        } else {
            classify_int(btf, mt, &info->kind, &info->is_signed, &info->is_bool, &info->is_char);
        }
        rc = 0;
        break;
    }
    btf__free(btf);
    return rc;
}

int eh_btf_member_names(const char *path, const char *name, char *names, size_t names_size, char *err,
                        size_t err_size)
{
    struct btf *btf = NULL;
    const struct btf_type *t = find_struct(&btf, path, name, err, err_size);
    if (!t)
        return -1;
    const struct btf_member *m = btf_members(t);
    size_t used = 0;
    int count = 0;
    for (int i = 0; i < btf_vlen(t); i++, m++) {
        const char *mname = btf__name_by_offset(btf, m->name_off);
        if (!mname || !mname[0])
            continue; /* anonymous unions and padding */
        size_t len = strlen(mname) + 1;
        if (used + len > names_size) {
            snprintf(err, err_size, "struct %s has too many members", name);
            btf__free(btf);
            return -1;
        }
        memcpy(names + used, mname, len);
        used += len;
        count++;
    }
    btf__free(btf);
    return count;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level;
    (void)fmt;
    (void)ap;
    return 0;
}

int eh_bpf_program_sections(const char *path, char *names, size_t names_size, char *err, size_t err_size)
{
    libbpf_print_fn_t old = libbpf_set_print(quiet_print);
    struct bpf_object *obj = bpf_object__open_file(path, NULL);
    libbpf_set_print(old);
    if (!obj) {
        snprintf(err, err_size, "libbpf cannot open the BPF object (%s)", strerror(errno));
        return -1;
    }
    struct bpf_program *prog;
    size_t used = 0;
    int count = 0;
    bpf_object__for_each_program(prog, obj)
    {
        const char *sec = bpf_program__section_name(prog);
        const char *name = bpf_program__name(prog);
        if (!sec || !name)
            continue;
        int n = snprintf(names + used, names_size - used, "%s %s", sec, name);
        if (n < 0 || (size_t)n + 1 > names_size - used) {
            snprintf(err, err_size, "the BPF object has too many programs");
            bpf_object__close(obj);
            return -1;
        }
        used += (size_t)n + 1;
        count++;
    }
    bpf_object__close(obj);
    return count;
}


int eh_kernel_btf_has(const char *name, int kind)
{
    libbpf_print_fn_t old = libbpf_set_print(quiet_print);
    struct btf *btf = btf__load_vmlinux_btf();
    libbpf_set_print(old);
    if (!btf)
        return -1;
    int found = btf__find_by_name_kind(btf, name, kind) >= 0;
    btf__free(btf);
    return found;
}


int64_t eh_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t eh_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void eh_format_hms(int64_t epoch_seconds, char out[9])
{
    time_t t = (time_t)epoch_seconds;
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, 9, "%H:%M:%S", &tm) != 8)
        memcpy(out, "??:??:??", 9);
}

void eh_utc_fields(int64_t epoch_seconds, int32_t fields[6])
{
    time_t t = (time_t)epoch_seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof(tm));
    fields[0] = tm.tm_year + 1900;
    fields[1] = tm.tm_mon + 1;
    fields[2] = tm.tm_mday;
    fields[3] = tm.tm_hour;
    fields[4] = tm.tm_min;
    fields[5] = tm.tm_sec;
}

#include <signal.h>

void eh_release_free_memory(void) { malloc_trim(0); }

int eh_private_file(const char *name, const void *data, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int eh_map_update_u64(int map_fd, uint32_t key, uint64_t value)
{
    return bpf_map_update_elem(map_fd, &key, &value, BPF_ANY) ? -errno : 0;
}

int eh_map_zero_array(int map_fd)
{
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
        return -errno;
    if ((info.type != BPF_MAP_TYPE_ARRAY && info.type != BPF_MAP_TYPE_PERCPU_ARRAY) || info.key_size != 4 ||
        info.value_size == 0 || info.value_size > 4096)
        return -EINVAL;
    size_t copies = 1, size = info.value_size;
    if (info.type == BPF_MAP_TYPE_PERCPU_ARRAY) {
        int cpus = libbpf_num_possible_cpus();
        if (cpus <= 0)
            return cpus < 0 ? cpus : -EINVAL;
        copies = (size_t)cpus;
        size = (size + 7) & ~(size_t)7; /* per-CPU values are laid out 8-byte aligned */
    }
    void *zero = calloc(copies, size);
    if (!zero)
        return -ENOMEM;
    int rc = 0;
    for (uint32_t key = 0; key < info.max_entries && rc == 0; key++)
        if (bpf_map_update_elem(map_fd, &key, zero, BPF_ANY))
            rc = -errno;
    free(zero);
    return rc;
}

long eh_map_count_keys(int map_fd, long limit)
{
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
        return -errno;
    if (info.key_size == 0 || info.key_size > 512)
        return -EINVAL;
    char a[512], b[512];
    char *prev = NULL, *next = a;
    long n = 0;
    while (n < limit && bpf_map_get_next_key(map_fd, prev, next) == 0) {
        n++;
        prev = next;
        next = next == a ? b : a;
    }
    return n;
}

int eh_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int eh_epoll_add(int epfd, int fd, uint64_t token)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = token };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int eh_epoll_del(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0; }

int eh_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms)
{
    struct epoll_event events[64];
    if (max > 64)
        max = 64;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++)
        tokens[i] = events[i].data.u64;
    return n;
}

int eh_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int eh_prog_run_stats(int prog_fd, uint64_t *run_count, uint64_t *run_time_ns)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
        return -errno;
    *run_count = info.run_cnt;
    *run_time_ns = info.run_time_ns;
    return 0;
}

int eh_enable_bpf_stats(void)
{
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    return fd >= 0 ? fd : -errno;
}
