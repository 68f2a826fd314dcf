#define _GNU_SOURCE
#include "symbolizer.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An unused process or file survives this many begin() calls: long enough that a profiler
 * reporting every second does not reload libc between reports, short enough that exited
 * processes do not pile up. */
#define EH_IDLE_REPORTS 32
/* kallsyms has no generation to compare: BPF programs (an eBPF host's own) and modules loaded
 * after it was read get names once the table is re-read, at a report boundary this long after. */
#define EH_KERNEL_REFRESH_NS (60ull * 1000000000ull)

/* ---- accounting ------------------------------------------------------------------------ */

/* Final tables are accounted by their exact sizes; load-time scratch (temporary arrays, hash
 * slots) is freed before the load returns and is not part of the steady-state footprint. */

/* ---- string pool ----------------------------------------------------------------------- */

/* Symbol names repeat a lot (.symtab and .dynsym list the same exports), so each table
 * stores names once in a pool and refers to them by 32-bit offset. Offset 0 is "". */
struct eh_pool {
    char *data;
    size_t len, cap;
    uint32_t *slots; /* open addressing; offset + 1, 0 = empty; freed by pool_finish */
    size_t mask, count;
};

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define EH_FNV_SEED 0xcbf29ce484222325ULL

static int pool_init(struct eh_pool *p, size_t strings, size_t bytes)
{
    memset(p, 0, sizeof(*p));
    size_t n = 64;
    while (n < strings * 2)
        n <<= 1;
    p->slots = calloc(n, sizeof(*p->slots));
    p->mask = n - 1;
    p->cap = bytes < 64 ? 64 : bytes;
    p->data = malloc(p->cap);
    if (!p->slots || !p->data) {
        free(p->slots);
        free(p->data);
        return -1;
    }
    p->data[0] = '\0';
    p->len = 1;
    return 0;
}

static int pool_rehash(struct eh_pool *p)
{
    size_t n = (p->mask + 1) * 2;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i <= p->mask; i++) {
        if (!p->slots[i])
            continue;
        const char *str = p->data + p->slots[i] - 1;
        size_t j = fnv1a(EH_FNV_SEED, str, strlen(str)) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = p->slots[i];
    }
    free(p->slots);
    p->slots = slots;
    p->mask = n - 1;
    return 0;
}

/* Offset of str[0..n) in the pool, adding it if new; -1 when out of memory or past 4 GiB. */
static int64_t pool_intern(struct eh_pool *p, const char *str, size_t n)
{
    if (n == 0)
        return 0;
    size_t i = fnv1a(EH_FNV_SEED, str, n) & p->mask;
    for (; p->slots[i]; i = (i + 1) & p->mask) {
        size_t off = p->slots[i] - 1;
        if (memcmp(p->data + off, str, n) == 0 && p->data[off + n] == '\0')
            return (int64_t)off;
    }
    if (p->len + n + 1 > UINT32_MAX - 1)
        return -1;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap * 2 > p->len + n + 1 ? p->cap * 2 : p->len + n + 1;
        char *data = realloc(p->data, cap);
        if (!data)
            return -1;
        p->data = data;
        p->cap = cap;
    }
    size_t off = p->len;
    memcpy(p->data + off, str, n);
    p->data[off + n] = '\0';
    p->len += n + 1;
    p->slots[i] = (uint32_t)off + 1;
    if (++p->count * 2 > p->mask + 1 && pool_rehash(p) < 0)
        return -1;
    return (int64_t)off;
}

/* Drop the lookup slots and trim the data to its length; returns the data (owned by caller). */
static char *pool_finish(struct eh_pool *p, size_t *len)
{
    free(p->slots);
    p->slots = NULL;
    char *data = realloc(p->data, p->len);
    *len = p->len;
    return data ? data : p->data;
}

static void pool_discard(struct eh_pool *p)
{
    free(p->slots);
    free(p->data);
    memset(p, 0, sizeof(*p));
}

/* ---- symbol table building (shared by kallsyms and ELF) -------------------------------- */

struct eh_tmpsym {
    uint64_t addr;
    uint32_t size, name, module, rank;
};

struct eh_build {
    struct eh_tmpsym *v;
    size_t n, cap;
    struct eh_pool pool;
};

/* Several names often share one address (malloc/__libc_malloc, clock_gettime/__vdso_...):
 * keep the one a reader expects, i.e. the fewest leading underscores, then global over weak
 * over local. Lower is better. */
static uint32_t sym_rank(const char *name, int bind)
{
    uint32_t u = 0;
    while (name[u] == '_')
        u++;
    return u * 4 + (bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2);
}

static int build_push(struct eh_build *b, uint64_t addr, uint64_t size, const char *name, size_t len,
                      uint32_t module, int bind)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        struct eh_tmpsym *v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return -1;
        b->v = v;
        b->cap = cap;
    }
    int64_t off = pool_intern(&b->pool, name, len);
    if (off < 0)
        return -1;
    struct eh_tmpsym *t = &b->v[b->n++];
    t->addr = addr;
    t->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    t->name = (uint32_t)off;
    t->module = module;
    t->rank = sym_rank(name, bind);
    return 0;
}

static int tmpsym_cmp(const void *a, const void *b)
{
    const struct eh_tmpsym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    /* then first seen (pool offsets grow in insertion order): keeps the output stable */
    return x->name < y->name ? -1 : x->name > y->name;
}

/* Sort and collapse same-address entries in place; returns the new count. The kept entry
 * takes the largest size of its group so an alias without st_size does not hide the extent. */
static size_t build_sort_dedupe(struct eh_build *b)
{
    if (b->n == 0)
        return 0;
    qsort(b->v, b->n, sizeof(*b->v), tmpsym_cmp);
    size_t w = 0;
    for (size_t r = 1; r < b->n; r++) {
        if (b->v[r].addr == b->v[w].addr) {
            if (b->v[r].size > b->v[w].size)
                b->v[w].size = b->v[r].size;
            continue;
        }
        b->v[++w] = b->v[r];
    }
    return w + 1;
}

/* ---- tables ---------------------------------------------------------------------------- */

struct eh_ksym {
    uint64_t addr;
    uint32_t name, module; /* pool offsets; module 0 = vmlinux */
};

struct eh_fsym {
    uint64_t addr;
    uint32_t size, name; /* size 0 = unknown extent (hand-written assembly) */
};

struct eh_seg {
    uint64_t offset, vaddr, filesz;
};

struct eh_node {
    struct eh_node *next;
    uint64_t hash;
};

struct eh_table {
    struct eh_node **b;
    size_t nb, count;
};

struct eh_file {
    struct eh_node node;
    uint64_t dev, ino;
    struct eh_fsym *syms;
    size_t count;
    char *pool;
    size_t pool_size;
    struct eh_seg *segs;
    size_t nsegs;
    uint32_t refs;       /* mappings pointing here; swept only at 0 */
    int loaded;
    uint64_t used_gen, failed_gen;
};

enum { EH_MAP_NONE, EH_MAP_FILE, EH_MAP_DELETED, EH_MAP_VDSO, EH_MAP_SPECIAL };

struct eh_map {
    uint64_t start, end, pgoff, dev, ino;
    struct eh_file *file;
    uint32_t path, base; /* pool offsets: full path (for opening), display name */
    uint32_t kind;
};

struct eh_proc {
    struct eh_node node;
    int32_t pid;
    int alive;
    uint64_t hash; /* of the executable lines of /proc/PID/maps */
    uint64_t checked_gen, used_gen;
    struct eh_map *maps;
    size_t nmaps;
    char *paths;
    size_t paths_size;
};

struct eh_symbolizer {
    uint64_t gen;
    struct eh_symbolizer_stats st;
    int kernel_loaded;
    uint64_t kernel_loaded_ns;
    struct eh_ksym *ksyms;
    size_t nksyms;
    char *kpool;
    size_t kpool_size;
    struct eh_table procs, files;
    struct eh_file vdso; /* our own vDSO image: the kernel maps the same one into every process */
    int vdso_tried;
    char *buf; /* scratch for /proc reads */
    size_t buf_cap;
};

/* ---- chained hash table ---------------------------------------------------------------- */

static size_t table_slot(const struct eh_table *t, uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & (t->nb - 1);
}

static int table_init(eh_symbolizer *s, struct eh_table *t, size_t nb)
{
    t->b = calloc(nb, sizeof(*t->b));
    t->nb = nb;
    t->count = 0;
    s->st.bytes += nb * sizeof(*t->b);
    return t->b ? 0 : -1;
}

static void table_insert(eh_symbolizer *s, struct eh_table *t, struct eh_node *n)
{
    if (t->count >= t->nb * 2) {
        /* growing is an optimisation: on failure the chains just get longer */
        size_t nb = t->nb * 2;
        struct eh_node **b = calloc(nb, sizeof(*b));
        if (b) {
            struct eh_table nt = {b, nb, 0};
            for (size_t i = 0; i < t->nb; i++) {
                for (struct eh_node *x = t->b[i], *next; x; x = next) {
                    next = x->next;
                    size_t j = table_slot(&nt, x->hash);
                    x->next = b[j];
                    b[j] = x;
                }
            }
            free(t->b);
            s->st.bytes += (nb - t->nb) * sizeof(*b);
            t->b = b;
            t->nb = nb;
        }
    }
    size_t i = table_slot(t, n->hash);
    n->next = t->b[i];
    t->b[i] = n;
    t->count++;
}

/* ---- /proc reading --------------------------------------------------------------------- */

/* Whole file into *buf (NUL-terminated); /proc files report size 0, so read until EOF. */
static ssize_t read_whole(const char *path, char **buf, size_t *cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        if (*cap - len < 4096 + 1) {
            size_t ncap = *cap ? *cap * 2 : 65536;
            char *nb = realloc(*buf, ncap);
            if (!nb) {
                close(fd);
                return -1;
            }
            *buf = nb;
            *cap = ncap;
        }
        ssize_t r = read(fd, *buf + len, *cap - len - 1);
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    (*buf)[len] = '\0';
    return (ssize_t)len;
}

/* ---- kernel ---------------------------------------------------------------------------- */

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void kernel_unload(eh_symbolizer *s)
{
    s->st.bytes -= s->nksyms * sizeof(*s->ksyms) + s->kpool_size;
    free(s->ksyms);
    free(s->kpool);
    s->ksyms = NULL;
    s->kpool = NULL;
    s->nksyms = 0;
    s->kpool_size = 0;
    s->kernel_loaded = 0;
}

static void kernel_load(eh_symbolizer *s)
{
    s->kernel_loaded = 1; /* once per refresh: a failure (no /proc) is not retried per address */
    s->kernel_loaded_ns = monotonic_ns();
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = read_whole("/proc/kallsyms", &text, &cap);
    if (len <= 0) {
        free(text);
        return;
    }
    size_t lines = 0;
    for (char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))) != NULL; p++)
        lines++;
    struct eh_build b = {0};
    if (pool_init(&b.pool, lines, (size_t)len / 2) < 0) {
        free(text);
        return;
    }
    uint32_t last_mod = 0;
    const char *last_mod_name = "";
    size_t last_mod_len = 0;
    for (char *line = text, *eol; line < text + len; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(text + len - line));
        if (!eol)
            eol = text + len;
        char *p;
        uint64_t addr = strtoull(line, &p, 16);
        /* zero addresses: kptr_restrict hides them, and they cannot be looked up anyway */
        if (addr == 0 || p + 3 > eol || p[0] != ' ' || p[2] != ' ')
            continue;
        char type = p[1];
        /* stacks only hold code addresses; data symbols would shadow the function before them */
        if (type != 't' && type != 'T' && type != 'w' && type != 'W')
            continue;
        char *name = p + 3;
        char *name_end = memchr(name, '\t', (size_t)(eol - name));
        uint32_t mod = 0;
        if (name_end) {
            char *m = name_end + 1;
            if (m < eol && *m == '[' && eol[-1] == ']') {
                size_t mlen = (size_t)(eol - m - 2);
                /* kallsyms groups a module's symbols together: remember the last one */
                if (mlen != last_mod_len || memcmp(m + 1, last_mod_name, mlen) != 0) {
                    int64_t off = pool_intern(&b.pool, m + 1, mlen);
                    if (off < 0)
                        break;
                    last_mod = (uint32_t)off;
                    last_mod_name = m + 1;
                    last_mod_len = mlen;
                }
                mod = last_mod;
            }
        } else {
            name_end = eol;
        }
        int bind = type == 'T' ? STB_GLOBAL : type == 'W' || type == 'w' ? STB_WEAK : STB_LOCAL;
        if (name_end > name && build_push(&b, addr, 0, name, (size_t)(name_end - name), mod, bind) < 0)
            break;
    }
    free(text);
    size_t n = build_sort_dedupe(&b);
    struct eh_ksym *k = n ? malloc(n * sizeof(*k)) : NULL;
    if (!k) {
        free(b.v);
        pool_discard(&b.pool);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        k[i].addr = b.v[i].addr;
        k[i].name = b.v[i].name;
        k[i].module = b.v[i].module;
    }
    free(b.v);
    s->ksyms = k;
    s->nksyms = n;
    s->kpool = pool_finish(&b.pool, &s->kpool_size);
    s->st.symbols_loaded += n;
    s->st.bytes += n * sizeof(*k) + s->kpool_size;
}

static const struct eh_ksym *kernel_lookup(eh_symbolizer *s, uint64_t addr)
{
    if (!s->kernel_loaded)
        kernel_load(s);
    size_t lo = 0, hi = s->nksyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ksyms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &s->ksyms[lo - 1] : NULL;
}

/* ---- ELF files ------------------------------------------------------------------------- */

static int collect_syms(Elf *elf, struct eh_build *b, int *has_symtab)
{
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh))
        return -1;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
            sh.sh_entsize == 0)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        Elf_Scn *strscn = elf_getscn(elf, sh.sh_link);
        Elf_Data *sd = strscn ? elf_getdata(strscn, NULL) : NULL;
        if (!d || !d->d_buf || !sd || !sd->d_buf)
            continue;
        if (sh.sh_type == SHT_SYMTAB)
            *has_symtab = 1;
        /* names are read straight from the string table: elf_strptr per symbol is slower */
        const char *strs = sd->d_buf;
        size_t n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym))
                break;
            int type = GELF_ST_TYPE(sym.st_info);
            if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
                sym.st_value == 0 || sym.st_name == 0 || sym.st_name >= sd->d_size)
                continue;
            const char *name = strs + sym.st_name;
            size_t len = strnlen(name, sd->d_size - sym.st_name);
            if (len == sd->d_size - sym.st_name)
                continue; /* unterminated: corrupt table */
            uint64_t addr = sym.st_value;
            if (eh.e_machine == EM_ARM)
                addr &= ~1ULL; /* bit 0 marks Thumb code, not part of the address */
            if (build_push(b, addr, sym.st_size, name, len, 0, GELF_ST_BIND(sym.st_info)) < 0)
                return -1;
        }
    }
    return 0;
}

static int collect_segs(eh_symbolizer *s, struct eh_file *f, Elf *elf)
{
    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_filesz)
            n++;
    }
    if (n == 0)
        return 0;
    f->segs = malloc(n * sizeof(*f->segs));
    if (!f->segs)
        return -1;
    for (size_t i = 0; i < phnum && f->nsegs < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_filesz)
            f->segs[f->nsegs++] = (struct eh_seg){ph.p_offset, ph.p_vaddr, ph.p_filesz};
    }
    s->st.bytes += n * sizeof(*f->segs);
    return 0;
}

/* GNU build-id bytes of elf into id (up to 64); returns the length or 0. */
static size_t build_id(Elf *elf, unsigned char *id)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d)
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name_off, desc_off;
        while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                memcmp((char *)d->d_buf + name_off, "GNU", 4) == 0 && nh.n_descsz && nh.n_descsz <= 64) {
                memcpy(id, (char *)d->d_buf + desc_off, nh.n_descsz);
                return nh.n_descsz;
            }
        }
    }
    return 0;
}

/* Stripped binaries keep only .dynsym (exports): look for the separate debug file that
 * distributions install, by build-id first, then by .gnu_debuglink next to the binary or under
 * /usr/lib/debug. Paths are taken inside the process's root so containers find their own. */
static void collect_debug_syms(Elf *elf, struct eh_build *b, const char *root, const char *path)
{
    unsigned char id[64], id2[64];
    size_t idlen = build_id(elf, id);
    char cand[3][PATH_MAX];
    int ncand = 0;
    if (idlen > 1) {
        char hex[129];
        for (size_t i = 0; i < idlen; i++)
            snprintf(hex + 2 * i, 3, "%02x", id[i]);
        snprintf(cand[ncand++], PATH_MAX, "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root, hex, hex + 2);
    }
    size_t shstrndx;
    Elf_Scn *scn = NULL;
    const char *link = NULL;
    if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
        while ((scn = elf_nextscn(elf, scn)) != NULL) {
            GElf_Shdr sh;
            const char *nm;
            if (!gelf_getshdr(scn, &sh) || !(nm = elf_strptr(elf, shstrndx, sh.sh_name)) ||
                strcmp(nm, ".gnu_debuglink") != 0)
                continue;
            Elf_Data *d = elf_getdata(scn, NULL);
            if (d && d->d_buf && d->d_size > 4 && memchr(d->d_buf, '\0', d->d_size))
                link = d->d_buf;
            break;
        }
    }
    const char *slash = strrchr(path, '/');
    if (link && *link && !strchr(link, '/') && slash) {
        int dirlen = (int)(slash - path);
        snprintf(cand[ncand++], PATH_MAX, "%s%.*s/.debug/%s", root, dirlen, path, link);
        snprintf(cand[ncand++], PATH_MAX, "%s/usr/lib/debug%.*s/%s", root, dirlen, path, link);
    }
    for (int i = 0; i < ncand; i++) {
        int fd = open(cand[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        Elf *dbg = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        int has_symtab = 0, ok = 0;
        /* a debuglink names a file, not a build: refuse one from a different build */
        int same = dbg && elf_kind(dbg) == ELF_K_ELF &&
                   (idlen == 0 || (build_id(dbg, id2) == idlen && memcmp(id, id2, idlen) == 0));
        if (same)
            ok = collect_syms(dbg, b, &has_symtab) == 0 && has_symtab;
        if (dbg)
            elf_end(dbg);
        close(fd);
        if (ok)
            return;
    }
}

static int file_from_elf(eh_symbolizer *s, struct eh_file *f, Elf *elf, const char *root, const char *path)
{
    if (elf_kind(elf) != ELF_K_ELF || collect_segs(s, f, elf) < 0)
        return -1;
    struct eh_build b = {0};
    if (pool_init(&b.pool, 1024, 16384) < 0)
        return -1;
    int has_symtab = 0;
    if (collect_syms(elf, &b, &has_symtab) < 0) {
        free(b.v);
        pool_discard(&b.pool);
        return -1;
    }
    if (!has_symtab && path)
        collect_debug_syms(elf, &b, root, path);
    size_t n = build_sort_dedupe(&b);
    f->syms = n ? malloc(n * sizeof(*f->syms)) : NULL;
    if (n && !f->syms) {
        free(b.v);
        pool_discard(&b.pool);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        f->syms[i] = (struct eh_fsym){b.v[i].addr, b.v[i].size, b.v[i].name};
    free(b.v);
    f->count = n;
    f->pool = pool_finish(&b.pool, &f->pool_size);
    f->loaded = 1;
    s->st.files_loaded++;
    s->st.symbols_loaded += n;
    s->st.bytes += n * sizeof(*f->syms) + f->pool_size;
    return 0;
}

static void file_release_tables(eh_symbolizer *s, struct eh_file *f)
{
    s->st.bytes -= f->count * sizeof(*f->syms) + f->pool_size + f->nsegs * sizeof(*f->segs);
    free(f->syms);
    free(f->pool);
    free(f->segs);
    f->syms = NULL;
    f->pool = NULL;
    f->segs = NULL;
    f->count = f->pool_size = f->nsegs = 0;
    f->loaded = 0;
}

/* Open the file behind mapping m of pid. The path in maps is relative to the process's root
 * (containers), and may have been replaced on disk since (package upgrade): /proc/PID/map_files
 * always yields the mapped inode itself but needs CAP_SYS_ADMIN, so it is the fallback. */
static int open_mapped(int32_t pid, const struct eh_map *m, const char *path)
{
    char p[PATH_MAX + 64];
    int fd = -1;
    if (m->kind == EH_MAP_FILE) {
        snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, path);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == m->ino)
            return fd;
    }
    snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)m->start,
             (unsigned long long)m->end);
    int fd2 = open(p, O_RDONLY | O_CLOEXEC);
    if (fd2 >= 0) {
        if (fd >= 0)
            close(fd);
        return fd2;
    }
    /* inode mismatch without map_files access: overlayfs reports a different st_ino for the
     * same file, so the path is still the best guess */
    return fd;
}

static void file_load(eh_symbolizer *s, struct eh_file *f, const struct eh_proc *p, const struct eh_map *m)
{
    const char *path = p->paths + m->path;
    int fd = open_mapped(p->pid, m, path);
    if (fd < 0)
        goto fail;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    char root[64];
    snprintf(root, sizeof(root), "/proc/%d/root", (int)p->pid);
    int rc = elf ? file_from_elf(s, f, elf, root, path) : -1;
    if (elf)
        elf_end(elf);
    close(fd);
    if (rc == 0)
        return;
fail:
    file_release_tables(s, f);
    /* retried in the next report: the process may have exited under us, which says nothing
     * about the file, and other processes share this entry */
    f->failed_gen = s->gen;
}

static struct eh_file *vdso_file(eh_symbolizer *s)
{
    if (s->vdso_tried)
        return s->vdso.loaded ? &s->vdso : NULL;
    s->vdso_tried = 1;
    const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
    if (!base || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
        return NULL;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    size_t size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
    if (size < sizeof(*eh) || size > (1u << 20))
        return NULL;
    /* libelf wants writable memory; the vDSO is mapped read-only */
    char *copy = malloc(size);
    if (!copy)
        return NULL;
    memcpy(copy, base, size);
    Elf *elf = elf_memory(copy, size);
    if (elf) {
        file_from_elf(s, &s->vdso, elf, NULL, NULL);
        elf_end(elf);
    }
    free(copy);
    return s->vdso.loaded ? &s->vdso : NULL;
}

static struct eh_file *file_get(eh_symbolizer *s, uint64_t dev, uint64_t ino)
{
    uint64_t h = dev * 0x9E3779B97F4A7C15ULL ^ ino;
    if (s->files.nb) {
        for (struct eh_node *n = s->files.b[table_slot(&s->files, h)]; n; n = n->next) {
            struct eh_file *f = (struct eh_file *)n;
            if (f->dev == dev && f->ino == ino)
                return f;
        }
    } else if (table_init(s, &s->files, 64) < 0) {
        return NULL;
    }
    struct eh_file *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->node.hash = h;
    f->dev = dev;
    f->ino = ino;
    f->failed_gen = UINT64_MAX;
    s->st.bytes += sizeof(*f);
    table_insert(s, &s->files, &f->node);
    return f;
}

static void file_free(eh_symbolizer *s, struct eh_file *f)
{
    file_release_tables(s, f);
    s->st.bytes -= sizeof(*f);
    free(f);
}

/* File-relative virtual address (what st_value uses) of a file offset: through the PT_LOAD
 * segment holding that offset, which covers PIE, shared objects and fixed-address executables
 * alike. Without a matching segment the offset is the best guess (offset == vaddr is the
 * usual layout of the first segment). */
static uint64_t file_vaddr(const struct eh_file *f, uint64_t off)
{
    for (size_t i = 0; i < f->nsegs; i++) {
        if (off >= f->segs[i].offset && off - f->segs[i].offset < f->segs[i].filesz)
            return off - f->segs[i].offset + f->segs[i].vaddr;
    }
    return off;
}

static const struct eh_fsym *file_lookup(const struct eh_file *f, uint64_t vaddr)
{
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct eh_fsym *sym = &f->syms[lo - 1];
    if (sym->size == 0 || vaddr - sym->addr < sym->size)
        return sym;
    /* past the nearest symbol's end: a few earlier, larger functions may still enclose the
     * address (a nested local label with its own size); beyond that it is a gap (padding,
     * PLT stubs, stripped static code) and naming the previous function would mislead */
    for (size_t k = 2; k <= 4 && k <= lo; k++) {
        sym = &f->syms[lo - k];
        if (sym->size && vaddr - sym->addr < sym->size)
            return sym;
    }
    return NULL;
}

/* ---- processes ------------------------------------------------------------------------- */

static void proc_release_maps(eh_symbolizer *s, struct eh_proc *p)
{
    for (size_t i = 0; i < p->nmaps; i++) {
        struct eh_file *f = p->maps[i].file;
        if (f && f != &s->vdso) {
            f->refs--;
            f->used_gen = s->gen; /* idle time starts now, not at its last lookup */
        }
    }
    s->st.bytes -= p->nmaps * sizeof(*p->maps) + p->paths_size;
    free(p->maps);
    free(p->paths);
    p->maps = NULL;
    p->paths = NULL;
    p->nmaps = p->paths_size = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static uint64_t parse_hex(const char **p)
{
    uint64_t v = 0;
    int d;
    while ((d = hexval(**p)) >= 0) {
        v = v << 4 | (uint64_t)d;
        (*p)++;
    }
    return v;
}

/* One line of /proc/PID/maps: "start-end perms pgoff maj:min inode   path". */
static int parse_map(const char *line, const char *eol, struct eh_map *m, const char **path, size_t *path_len)
{
    const char *p = line;
    m->start = parse_hex(&p);
    if (*p++ != '-')
        return -1;
    m->end = parse_hex(&p);
    if (*p++ != ' ' || eol - p < 5)
        return -1;
    p += 5; /* perms and space */
    m->pgoff = parse_hex(&p);
    if (*p++ != ' ')
        return -1;
    uint64_t maj = parse_hex(&p);
    if (*p++ != ':')
        return -1;
    uint64_t min = parse_hex(&p);
    m->dev = maj << 32 | min;
    if (*p++ != ' ')
        return -1;
    m->ino = 0;
    while (*p >= '0' && *p <= '9')
        m->ino = m->ino * 10 + (uint64_t)(*p++ - '0');
    while (p < eol && *p == ' ')
        p++;
    *path = p;
    *path_len = (size_t)(eol - p);
    return 0;
}

static int proc_parse(eh_symbolizer *s, struct eh_proc *p, size_t nexec)
{
    struct eh_pool pool;
    p->maps = nexec ? malloc(nexec * sizeof(*p->maps)) : NULL;
    if ((nexec && !p->maps) || pool_init(&pool, nexec, 256) < 0) {
        free(p->maps);
        p->maps = NULL;
        return -1;
    }
    p->nmaps = 0;
    static const char deleted[] = " (deleted)";
    const size_t dlen = sizeof(deleted) - 1;
    for (char *line = s->buf, *eol; *line && p->nmaps < nexec; line = eol + 1) {
        eol = strchr(line, '\n');
        if (!eol)
            eol = line + strlen(line);
        struct eh_map m = {0};
        const char *path;
        size_t plen;
        char *perms = memchr(line, ' ', (size_t)(eol - line));
        if (!perms || perms + 4 > eol || perms[3] != 'x' || parse_map(line, eol, &m, &path, &plen) < 0) {
            if (!*eol)
                break;
            continue;
        }
        m.kind = EH_MAP_FILE;
        if (plen == 0) {
            m.kind = EH_MAP_NONE; /* anonymous code: JIT, trampolines */
        } else if (path[0] == '[') {
            m.kind = plen == 6 && memcmp(path, "[vdso]", 6) == 0 ? EH_MAP_VDSO : EH_MAP_SPECIAL;
            /* display "[vdso]" as "vdso" so the module suffix does not double the brackets */
            plen -= path[plen - 1] == ']' ? 2 : 1;
            path++;
        } else if (plen > dlen && memcmp(path + plen - dlen, deleted, dlen) == 0) {
            m.kind = EH_MAP_DELETED; /* replaced on disk: only map_files still reaches it */
            plen -= dlen;
        }
        int64_t off = pool_intern(&pool, path, plen);
        if (off < 0) {
            pool_discard(&pool);
            free(p->maps);
            p->maps = NULL;
            p->nmaps = 0;
            return -1;
        }
        m.path = (uint32_t)off;
        const char *slash = memrchr(path, '/', plen);
        m.base = slash ? m.path + (uint32_t)(slash + 1 - path) : m.path;
        p->maps[p->nmaps++] = m;
        if (!*eol)
            break;
    }
    p->paths = pool_finish(&pool, &p->paths_size);
    s->st.bytes += p->nmaps * sizeof(*p->maps) + p->paths_size;
    s->st.processes_loaded++;
    return 0;
}

/* The process's code mappings, revalidated once per report. The fingerprint is a hash of the
 * executable lines of /proc/PID/maps: exec replaces them (ASLR moves everything; even a
 * re-exec at identical addresses maps identical files, so symbols stay right), dlopen/dlclose
 * add or drop lines, and exit makes the file vanish. */
static struct eh_proc *proc_get(eh_symbolizer *s, int32_t pid)
{
    if (!s->procs.nb && table_init(s, &s->procs, 64) < 0)
        return NULL;
    struct eh_proc *p = NULL;
    for (struct eh_node *n = s->procs.b[table_slot(&s->procs, (uint64_t)pid)]; n; n = n->next) {
        if (((struct eh_proc *)n)->pid == pid) {
            p = (struct eh_proc *)n;
            break;
        }
    }
    if (p) {
        p->used_gen = s->gen;
        if (p->checked_gen == s->gen)
            return p->alive ? p : NULL;
    } else {
        p = calloc(1, sizeof(*p));
        if (!p)
            return NULL;
        p->node.hash = (uint64_t)pid;
        p->pid = pid;
        p->used_gen = s->gen;
        s->st.bytes += sizeof(*p);
        table_insert(s, &s->procs, &p->node);
    }
    /* a dead pid is remembered for the rest of the report: its other frames need no syscall */
    p->checked_gen = s->gen;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    size_t before = s->buf_cap;
    ssize_t len = read_whole(path, &s->buf, &s->buf_cap);
    s->st.bytes += s->buf_cap - before;
    if (len < 0) {
        proc_release_maps(s, p);
        p->alive = 0;
        return NULL;
    }
    uint64_t h = EH_FNV_SEED;
    size_t nexec = 0;
    for (char *line = s->buf, *eol; *line; line = eol + 1) {
        eol = strchr(line, '\n');
        if (!eol)
            eol = line + strlen(line);
        char *perms = memchr(line, ' ', (size_t)(eol - line));
        if (perms && perms + 4 <= eol && perms[3] == 'x') {
            h = fnv1a(h, line, (size_t)(eol - line));
            nexec++;
        }
        if (!*eol)
            break;
    }
    if (p->alive && p->hash == h)
        return p;
    proc_release_maps(s, p);
    p->alive = proc_parse(s, p, nexec) == 0;
    p->hash = h;
    return p->alive ? p : NULL;
}

static struct eh_map *proc_find_map(struct eh_proc *p, uint64_t addr)
{
    size_t lo = 0, hi = p->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->maps[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= p->maps[lo - 1].end)
        return NULL;
    return &p->maps[lo - 1];
}

static struct eh_file *map_file(eh_symbolizer *s, struct eh_proc *p, struct eh_map *m)
{
    if (m->kind == EH_MAP_VDSO)
        return vdso_file(s);
    if (m->kind != EH_MAP_FILE && m->kind != EH_MAP_DELETED)
        return NULL;
    if (!m->file) {
        m->file = file_get(s, m->dev, m->ino);
        if (!m->file)
            return NULL;
        m->file->refs++;
    }
    struct eh_file *f = m->file;
    f->used_gen = s->gen;
    if (!f->loaded && f->failed_gen != s->gen)
        file_load(s, f, p, m);
    return f;
}

/* ---- output ---------------------------------------------------------------------------- */

struct eh_out {
    char *p;
    size_t size, len;
};

static void out_mem(struct eh_out *o, const char *src, size_t n)
{
    if (o->size == 0)
        return;
    size_t room = o->size - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->p + o->len, src, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void out_str(struct eh_out *o, const char *str)
{
    out_mem(o, str, strlen(str));
}

static void out_hex(struct eh_out *o, uint64_t v)
{
    char tmp[18];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    out_mem(o, tmp + i, sizeof(tmp) - i);
}

/* name may be NULL (no symbol), module NULL or "" (none/vmlinux). */
static size_t emit(struct eh_out *o, const char *name, uint64_t off, const char *module, uint64_t addr, int flags)
{
    int has_module = module && *module;
    if (name) {
        out_str(o, name);
        if (flags & EH_SYM_OFFSET) {
            out_mem(o, "+", 1);
            out_hex(o, off);
        }
    } else if (has_module) {
        out_hex(o, addr);
    } else {
        out_str(o, "[unknown]");
        return o->len;
    }
    if (has_module && (flags & EH_SYM_MODULE)) {
        out_mem(o, " [", 2);
        out_str(o, module);
        out_mem(o, "]", 1);
    }
    return o->len;
}

/* ---- public ---------------------------------------------------------------------------- */

eh_symbolizer *eh_symbolizer_new(void)
{
    eh_symbolizer *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    elf_version(EV_CURRENT);
    s->gen = 1;
    s->vdso.failed_gen = UINT64_MAX;
    s->st.bytes = sizeof(*s);
    return s;
}

void eh_symbolizer_free(eh_symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->procs.nb; i++) {
        for (struct eh_node *n = s->procs.b[i], *next; n; n = next) {
            next = n->next;
            proc_release_maps(s, (struct eh_proc *)n);
            s->st.bytes -= sizeof(struct eh_proc);
            free(n);
        }
    }
    for (size_t i = 0; i < s->files.nb; i++) {
        for (struct eh_node *n = s->files.b[i], *next; n; n = next) {
            next = n->next;
            file_free(s, (struct eh_file *)n);
        }
    }
    file_release_tables(s, &s->vdso);
    free(s->procs.b);
    free(s->files.b);
    free(s->ksyms);
    free(s->kpool);
    free(s->buf);
    free(s);
}

void eh_symbolizer_begin(eh_symbolizer *s)
{
    s->gen++;
    if (s->kernel_loaded && monotonic_ns() - s->kernel_loaded_ns > EH_KERNEL_REFRESH_NS)
        kernel_unload(s); /* re-read lazily, on the next kernel address */
    /* processes first: freeing them drops file references the file sweep then sees */
    for (size_t i = 0; i < s->procs.nb; i++) {
        for (struct eh_node **pp = &s->procs.b[i]; *pp;) {
            struct eh_proc *p = (struct eh_proc *)*pp;
            if (p->used_gen + EH_IDLE_REPORTS >= s->gen) {
                pp = &(*pp)->next;
                continue;
            }
            *pp = p->node.next;
            s->procs.count--;
            proc_release_maps(s, p);
            s->st.bytes -= sizeof(*p);
            free(p);
        }
    }
    for (size_t i = 0; i < s->files.nb; i++) {
        for (struct eh_node **pp = &s->files.b[i]; *pp;) {
            struct eh_file *f = (struct eh_file *)*pp;
            if (f->refs || f->used_gen + EH_IDLE_REPORTS >= s->gen) {
                pp = &(*pp)->next;
                continue;
            }
            *pp = f->node.next;
            s->files.count--;
            file_free(s, f);
        }
    }
    /* one huge process's maps should not pin a large scratch buffer forever */
    if (s->buf_cap > (1u << 20)) {
        s->st.bytes -= s->buf_cap;
        free(s->buf);
        s->buf = NULL;
        s->buf_cap = 0;
    }
}

size_t eh_symbolize(eh_symbolizer *s, int32_t pid, uint64_t addr, int flags, char *out, size_t size)
{
    struct eh_out o = {out, size, 0};
    if (size)
        out[0] = '\0';
    s->st.lookups++;
    if (pid <= 0) {
        const struct eh_ksym *k = kernel_lookup(s, addr);
        if (!k)
            return emit(&o, NULL, 0, NULL, addr, flags);
        return emit(&o, s->kpool + k->name, addr - k->addr, s->kpool + k->module, addr, flags);
    }
    struct eh_proc *p = proc_get(s, pid);
    struct eh_map *m = p ? proc_find_map(p, addr) : NULL;
    if (!m)
        return emit(&o, NULL, 0, NULL, addr, flags);
    const char *module = p->paths + m->base;
    struct eh_file *f = map_file(s, p, m);
    const struct eh_fsym *sym = NULL;
    uint64_t vaddr = 0;
    if (f && f->count) {
        vaddr = file_vaddr(f, addr - m->start + m->pgoff);
        sym = file_lookup(f, vaddr);
    }
    if (!sym)
        return emit(&o, NULL, 0, module, addr, flags);
    return emit(&o, f->pool + sym->name, vaddr - sym->addr, module, addr, flags);
}

void eh_symbolizer_stats(const eh_symbolizer *s, struct eh_symbolizer_stats *st)
{
    *st = s->st;
}
