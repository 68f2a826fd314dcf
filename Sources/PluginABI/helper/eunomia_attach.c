/* Attach points: what the running kernel offers (tracepoints, tp_btf, kprobes), and those that
 * need arguments: uprobes by symbol name, CPU-clock perf events. */
#define _GNU_SOURCE
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eunomia_bpf.h"
#include "eunomia_bpf_internal.h"

bool eunomia_tracepoint_exists(const char *category, const char *event)
{
    static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
    char path[512];
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        snprintf(path, sizeof(path), "%s/events/%s/%s", roots[i], category, event);
        if (access(path, F_OK) == 0)
            return true;
    }
    return false;
}

bool eunomia_tp_btf_available(const char *event)
{
    struct btf *vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux)
        return false;
    char name[256];
    snprintf(name, sizeof(name), "btf_trace_%s", event);
    bool found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0;
    btf__free(vmlinux);
    return found;
}

bool eunomia_kprobe_available(const char *symbol)
{
    if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) != 0)
        return false;
    if (!symbol)
        return true;
    FILE *f = fopen("/proc/kallsyms", "re");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    size_t len = strlen(symbol);
    while (!found && fgets(line, sizeof(line), f)) {
        /* "ffffffff81000000 T name [module]" */
        char *name = strchr(line, ' ');
        name = name ? strchr(name + 1, ' ') : NULL;
        if (name && strncmp(name + 1, symbol, len) == 0 && (name[1 + len] == '\n' || name[1 + len] == ' ' ||
                                                            name[1 + len] == '\t' || name[1 + len] == '\0'))
            found = true;
    }
    fclose(f);
    return found;
}

/* "libc" matches libc.so.6 and libc-2.31.so; "libc.so.6" matches only itself. */
static bool library_matches(const char *base, const char *want)
{
    size_t n = strlen(want);
    if (strncmp(base, want, n) != 0)
        return false;
    return base[n] == '\0' || (strchr(want, '.') == NULL && (base[n] == '.' || base[n] == '-'));
}

/* *readable: whether the maps file, and the mapped file through /proc/PID/root, could be
 * read (another user's process needs CAP_SYS_PTRACE); errno says why not. */
static bool find_in_maps(int pid, const char *want, char *path, size_t path_size, bool *readable)
{
    char maps[64];
    snprintf(maps, sizeof(maps), pid > 0 ? "/proc/%d/maps" : "/proc/self/maps", pid);
    FILE *f = fopen(maps, "re");
    *readable = f != NULL;
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *file = strchr(line, '/');
        if (!file)
            continue;
        file[strcspn(file, "\n")] = '\0';
        const char *base = strrchr(file, '/') + 1;
        if (library_matches(base, want)) {
            /* Inside a container the path is relative to the process's root. */
            if (pid > 0)
                snprintf(path, path_size, "/proc/%d/root%s", pid, file);
            else
                snprintf(path, path_size, "%s", file);
            found = access(path, R_OK) == 0;
            if (!found && errno != ENOENT) {
                /* Mapped, but /proc/PID/root is closed to us: stop here, naming the cause. */
                int e = errno;
                fclose(f);
                *readable = false;
                errno = e;
                return false;
            }
        }
    }
    int read_error = ferror(f) ? errno : 0;
    fclose(f);
    if (read_error) {
        *readable = false;
        errno = read_error;
    }
    return found;
}

eunomia_status eunomia_resolve_binary(const char *binary, int pid, char *path, size_t path_size, char *err,
                                      size_t err_size)
{
    if (!binary || !*binary)
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "no binary given to attach a uprobe to");
    if (strchr(binary, '/')) {
        if (access(binary, R_OK) != 0)
            FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "cannot read %s: %s", binary, strerror(errno));
        snprintf(path, path_size, "%s", binary);
        return EUNOMIA_OK;
    }
    bool readable;
    if (pid > 0) {
        /* Only the target's own mapping: its file may not be the one at the same path here (the
         * host in a container, another container), and a uprobe on another inode never fires. */
        if (find_in_maps(pid, binary, path, path_size, &readable))
            return EUNOMIA_OK;
        if (!readable)
            FAIL(EUNOMIA_ERR_INVALID_ARGUMENT,
                 "cannot read %s of process %d through /proc/%d: %s (another user's process needs CAP_SYS_PTRACE)",
                 binary, pid, pid, strerror(errno));
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "process %d does not map %s", pid, binary);
    }
    if (find_in_maps(0, binary, path, path_size, &readable))
        return EUNOMIA_OK;
    static const char *dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                                  "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib" };
    const char *suffixes[] = { "", ".so", ".so.6", ".so.1" };
    for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++)
        for (size_t s = 0; s < sizeof(suffixes) / sizeof(suffixes[0]); s++) {
            snprintf(path, path_size, "%s/%s%s", dirs[d], binary, suffixes[s]);
            if (access(path, R_OK) == 0)
                return EUNOMIA_OK;
        }
    FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "cannot find %s: not mapped by %s and not in the library directories",
         binary, pid > 0 ? "the target process" : "eunomia");
}

/* Symbol names in .symtab may carry a version ("malloc@@GLIBC_2.2.5"). */
static bool symbol_matches(const char *name, const char *want)
{
    size_t n = strlen(want);
    return strncmp(name, want, n) == 0 && (name[n] == '\0' || name[n] == '@');
}

eunomia_status eunomia_elf_symbol_offset(const char *path, const char *symbol, uint64_t *offset, char *err,
                                         size_t err_size)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        FAIL(EUNOMIA_ERR_INTERNAL, "libelf: %s", elf_errmsg(-1));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "cannot open %s: %s", path, strerror(errno));
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    eunomia_status rc = EUNOMIA_ERR_INVALID_ARGUMENT;
    uint64_t value = 0;
    bool found = false;
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        snprintf(err, err_size, "%s is not an ELF file", path);
        goto out;
    }
    /* .symtab first (complete when not stripped), then .dynsym (always there for exports). */
    for (int pass = 0; pass < 2 && !found; pass++) {
        Elf_Scn *scn = NULL;
        while (!found && (scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh) || sh.sh_type != (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM))
                continue;
            Elf_Data *data = elf_getdata(scn, NULL);
            size_t count = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
            for (size_t i = 0; data && i < count; i++) {
                GElf_Sym sym;
                if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
                    continue;
                int type = GELF_ST_TYPE(sym.st_info);
                if (type != STT_FUNC && type != STT_GNU_IFUNC)
                    continue;
                const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
                if (name && symbol_matches(name, symbol)) {
                    value = sym.st_value;
                    found = true;
                    break;
                }
            }
        }
    }
    if (!found) {
        snprintf(err, err_size, "%s has no function symbol %s", path, symbol);
        goto out;
    }
    /* Uprobes take a file offset: map the symbol's virtual address through its PT_LOAD segment. */
    size_t nphdr = 0;
    elf_getphdrnum(elf, &nphdr);
    for (size_t i = 0; i < nphdr; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
            value >= ph.p_vaddr && value < ph.p_vaddr + ph.p_memsz) {
            *offset = value - ph.p_vaddr + ph.p_offset;
            rc = EUNOMIA_OK;
            goto out;
        }
    }
    snprintf(err, err_size, "%s: symbol %s at 0x%llx lies in no executable segment", path, symbol,
             (unsigned long long)value);
out:
    if (elf)
        elf_end(elf);
    close(fd);
    return rc;
}

eunomia_status eunomia_bpf_attach_uprobe_offset(struct eunomia_bpf *bpf, const char *prog_name, const char *path,
                                                uint64_t offset, bool retprobe, int pid, char *err, size_t err_size)
{
    struct bpf_program *prog = bpf_object__find_program_by_name(eunomia_bpf_object(bpf), prog_name);
    if (!prog)
        FAIL(EUNOMIA_ERR_INTERNAL, "BPF object has no program named %s", prog_name);
    struct bpf_link *link = bpf_program__attach_uprobe(prog, retprobe, pid > 0 ? pid : -1, path, (size_t)offset);
    if (!link)
        FAIL(EUNOMIA_ERR_BPF, "attaching %s to %s %s at offset 0x%llx failed: %s", prog_name,
             retprobe ? "uretprobe" : "uprobe", path, (unsigned long long)offset, strerror(errno));
    if (eunomia_bpf_add_link_(bpf, link) != EUNOMIA_OK)
        FAIL(EUNOMIA_ERR_NO_MEMORY, "out of memory");
    return EUNOMIA_OK;
}

eunomia_status eunomia_bpf_attach_uprobe(struct eunomia_bpf *bpf, const char *prog_name, const char *binary,
                                         const char *symbol, bool retprobe, int pid, char *err, size_t err_size)
{
    char path[4096];
    uint64_t offset = 0;
    eunomia_status rc = eunomia_resolve_binary(binary, pid, path, sizeof(path), err, err_size);
    if (rc == EUNOMIA_OK)
        rc = eunomia_elf_symbol_offset(path, symbol, &offset, err, err_size);
    if (rc != EUNOMIA_OK)
        return rc;
    return eunomia_bpf_attach_uprobe_offset(bpf, prog_name, path, offset, retprobe, pid, err, err_size);
}

/* "0-3,5" -> online[0..3] = online[5] = true. */
static bool read_online_cpus(bool *online, int ncpu)
{
    FILE *f = fopen("/sys/devices/system/cpu/online", "re");
    char buf[1024];
    bool ok = f && fgets(buf, sizeof(buf), f);
    if (f)
        fclose(f);
    for (char *p = buf; ok && *p && *p != '\n';) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p)
            return false;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        for (long c = lo; c <= hi && c < ncpu; c++)
            online[c] = true;
        p = *end == ',' ? end + 1 : end;
    }
    return ok;
}

eunomia_status eunomia_bpf_attach_perf_event(struct eunomia_bpf *bpf, const char *prog_name, uint64_t sample_freq,
                                             char *err, size_t err_size)
{
    struct bpf_program *prog = bpf_object__find_program_by_name(eunomia_bpf_object(bpf), prog_name);
    if (!prog)
        FAIL(EUNOMIA_ERR_INTERNAL, "BPF object has no program named %s", prog_name);
    if (sample_freq == 0)
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "sampling frequency must be positive");
    int ncpu = libbpf_num_possible_cpus();
    bool *online = ncpu > 0 ? calloc((size_t)ncpu, sizeof(bool)) : NULL;
    if (!online || !read_online_cpus(online, ncpu)) {
        free(online);
        FAIL(EUNOMIA_ERR_INTERNAL, "cannot read the online CPUs from /sys/devices/system/cpu/online");
    }
    eunomia_status rc = EUNOMIA_OK;
    for (int cpu = 0; cpu < ncpu && rc == EUNOMIA_OK; cpu++) {
        if (!online[cpu])
            continue;
        struct perf_event_attr attr = {
            .type = PERF_TYPE_SOFTWARE,
            .config = PERF_COUNT_SW_CPU_CLOCK,
            .size = sizeof(attr),
            .freq = 1,
            .sample_freq = sample_freq,
        };
        int fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            snprintf(err, err_size, "perf_event_open (cpu-clock at %llu Hz) on CPU %d failed: %s",
                     (unsigned long long)sample_freq, cpu, strerror(errno));
            rc = errno == EINVAL ? EUNOMIA_ERR_INVALID_ARGUMENT : EUNOMIA_ERR_UNSUPPORTED;
            break;
        }
        struct bpf_link *link = bpf_program__attach_perf_event(prog, fd);
        if (!link) {
            snprintf(err, err_size, "attaching %s to the perf event on CPU %d failed: %s", prog_name, cpu,
                     strerror(errno));
            close(fd);
            rc = EUNOMIA_ERR_BPF;
            break;
        }
        /* The link closes the perf event fd when it is destroyed. */
        rc = eunomia_bpf_add_link_(bpf, link);
    }
    free(online);
    return rc;
}
