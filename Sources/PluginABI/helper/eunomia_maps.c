/* The plugin helper's map and object utilities: BPF constants set before load, programs left
 * out, maps read and cleared for reports, stacks read, and the ABI 1.2 handover of a running
 * version's maps to its successor. The instance's lifecycle is in eunomia_bpf.c. */
#include "eunomia_bpf.h"
#include "eunomia_bpf_internal.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

eunomia_status eunomia_bpf_disable_section_prefix(struct eunomia_bpf *bpf, const char *prefix, char *err,
                                                  size_t err_size)
{
    (void)err;
    (void)err_size;
    struct bpf_program *prog;
    size_t len = strlen(prefix);
    bpf_object__for_each_program(prog, eunomia_bpf_object(bpf)) {
        if (strncmp(bpf_program__section_name(prog), prefix, len) == 0)
            bpf_program__set_autoload(prog, false);
    }
    return EUNOMIA_OK;
}

static struct bpf_map *find_rodata(struct bpf_object *obj)
{
    struct bpf_map *map;
    bpf_object__for_each_map(map, obj) {
        const char *name = bpf_map__name(map);
        size_t len = strlen(name);
        if (bpf_map__is_internal(map) && len >= 7 && strcmp(name + len - 7, ".rodata") == 0)
            return map;
    }
    return NULL;
}

eunomia_status eunomia_bpf_set_const(struct eunomia_bpf *bpf, const char *name, const void *value, size_t size,
                                     char *err, size_t err_size)
{
    if (!eunomia_bpf_created_(bpf))
        FAIL(EUNOMIA_ERR_STATE, "cannot set %s: the BPF object is already loaded", name);
    struct btf *btf = bpf_object__btf(eunomia_bpf_object(bpf));
    struct bpf_map *map = find_rodata(eunomia_bpf_object(bpf));
    int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
    if (!map || sec_id < 0)
        FAIL(EUNOMIA_ERR_BPF, "BPF object has no .rodata section with BTF; cannot set %s", name);
    size_t data_size = 0;
    /* libbpf 1.1 declares the initial value const, yet it is the writable image loaded later. */
    char *data = (char *)bpf_map__initial_value(map, &data_size);
    const struct btf_type *sec = btf__type_by_id(btf, sec_id);
    const struct btf_var_secinfo *vsi = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, vsi++) {
        const struct btf_type *var = btf__type_by_id(btf, vsi->type);
        if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
            continue;
        if (vsi->size != size)
            FAIL(EUNOMIA_ERR_INTERNAL, "BPF constant %s has %u bytes, plugin wrote %zu", name, vsi->size, size);
        if (!data || vsi->offset + size > data_size)
            FAIL(EUNOMIA_ERR_BPF, "BPF constant %s lies outside .rodata", name);
        memcpy(data + vsi->offset, value, size);
        return EUNOMIA_OK;
    }
    FAIL(EUNOMIA_ERR_INTERNAL, "BPF object has no constant named %s", name);
}

eunomia_status eunomia_bpf_disable_program(struct eunomia_bpf *bpf, const char *prog_name, char *err,
                                           size_t err_size)
{
    struct bpf_program *prog = bpf_object__find_program_by_name(eunomia_bpf_object(bpf), prog_name);
    if (!prog)
        FAIL(EUNOMIA_ERR_INTERNAL, "BPF object has no program named %s", prog_name);
    bpf_program__set_autoload(prog, false);
    return EUNOMIA_OK;
}

/* The filters every tracker shares; parameters absent from the plugin's schema stay unset. */

int eunomia_bpf_map_fd(struct eunomia_bpf *bpf, const char *name)
{
    struct bpf_map *map = bpf_object__find_map_by_name(eunomia_bpf_object(bpf), name);
    return map ? bpf_map__fd(map) : -1;
}

long eunomia_map_read_all(int map_fd, size_t key_size, size_t value_size, bool clear, void **keys, void **values)
{
    *keys = *values = NULL;
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
        return -1;
    size_t cap = info.max_entries ? info.max_entries : 1;
    char *k = malloc(cap * key_size), *v = malloc(cap * value_size);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    size_t n = 0;
    void *prev = NULL;
    while (n < cap && bpf_map_get_next_key(map_fd, prev, k + n * key_size) == 0) {
        prev = k + n * key_size;
        n++;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        void *key = k + i * key_size, *value = v + m * value_size;
        if (clear && bpf_map_lookup_and_delete_elem(map_fd, key, value)) {
            /* Hash maps take lookup-and-delete from 5.14 on; before, an update may slip in
             * between the two calls and be lost. */
            if (errno == ENOENT || bpf_map_lookup_elem(map_fd, key, value))
                continue;
            bpf_map_delete_elem(map_fd, key);
        } else if (!clear && bpf_map_lookup_elem(map_fd, key, value)) {
            continue;
        }
        if (m != i)
            memcpy(k + m * key_size, key, key_size);
        m++;
    }
    *keys = k;
    *values = v;
    return (long)m;
}

size_t eunomia_bpf_read_stack(int stack_map_fd, int64_t id, uint64_t *addrs, size_t max)
{
    memset(addrs, 0, max * sizeof(*addrs));
    if (id < 0 || stack_map_fd < 0)
        return 0;
    /* The map's value size is fixed at its creation (PERF_MAX_STACK_DEPTH frames by default,
     * 127); read into a buffer of that size, then keep what the caller has room for. */
    uint64_t frames[256] = { 0 };
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(stack_map_fd, &info, &len) || info.value_size > sizeof(frames))
        return 0;
    uint32_t key = (uint32_t)id;
    if (bpf_map_lookup_elem(stack_map_fd, &key, frames))
        return 0;
    size_t n = 0;
    size_t cap = info.value_size / sizeof(uint64_t);
    while (n < cap && n < max && frames[n]) {
        addrs[n] = frames[n];
        n++;
    }
    return n;
}

/* Run the plugin's report callback and close the report. */

int32_t eunomia_bpf_instance_map_fd(eunomia_instance *inst, const char *name)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (!bpf || !name)
        return -1;
    struct bpf_map *map = bpf_object__find_map_by_name(eunomia_bpf_object(bpf), name);
    int fd = map ? bpf_map__fd(map) : -1;
    return fd >= 0 ? fd : -1;
}

int32_t eunomia_bpf_instance_prog_fds(eunomia_instance *inst, int32_t *fds, uint32_t capacity)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    struct bpf_object *obj = bpf ? eunomia_bpf_object(bpf) : NULL;
    if (!obj)
        return 0;
    int32_t n = 0;
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, obj)
    {
        int fd = bpf_program__fd(prog);
        if (fd < 0)
            continue;
        if (fds && (uint32_t)n < capacity)
            fds[n] = fd;
        n++;
    }
    return n;
}

/* Maps that belong to one instance: the ring buffer and its loss counter and wakeup flag are
 * read by this instance's consumer; internal maps (.rodata, .bss) hold its configuration. */
static bool per_instance_map(const struct bpf_map *map)
{
    const char *name = bpf_map__name(map);
    return bpf_map__is_internal(map) || strcmp(name, "events") == 0 || strcmp(name, "eunomia_lost") == 0 ||
           strcmp(name, "eunomia_wakeup") == 0 || strcmp(name, "eunomia_cgroups") == 0;
}

static const char *map_type_name(uint32_t type)
{
    const char *name = libbpf_bpf_map_type_str((enum bpf_map_type)type);
    return name ? name : "unknown";
}

/* Reuse one of the predecessor's maps; false (and one log line) when it cannot be. */
static bool reuse_map(struct eunomia_bpf *bpf, const char *name, int fd)
{
    struct bpf_map *map = bpf_object__find_map_by_name(eunomia_bpf_object(bpf), name);
    if (!map) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: not in this version: not carried", name);
        return false;
    }
    if (per_instance_map(map)) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: belongs to each instance: not carried", name);
        return false;
    }
    struct bpf_map_info info = { 0 };
    uint32_t len = sizeof(info);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: fd %d of the running version is not a BPF map: not carried",
                        name, fd);
        return false;
    }
    char why[160] = "";
    uint32_t type = (uint32_t)bpf_map__type(map);
    if (type != info.type)
        snprintf(why, sizeof(why), "type %s here, %s in the running version", map_type_name(type),
                 map_type_name(info.type));
    else if (bpf_map__key_size(map) != info.key_size)
        snprintf(why, sizeof(why), "key size %u here, %u in the running version", bpf_map__key_size(map),
                 info.key_size);
    else if (bpf_map__value_size(map) != info.value_size)
        snprintf(why, sizeof(why), "value size %u here, %u in the running version", bpf_map__value_size(map),
                 info.value_size);
    else if (bpf_map__max_entries(map) != info.max_entries)
        snprintf(why, sizeof(why), "max entries %u here, %u in the running version", bpf_map__max_entries(map),
                 info.max_entries);
    else if (bpf_map__map_flags(map) != info.map_flags)
        snprintf(why, sizeof(why), "flags 0x%x here, 0x%x in the running version", bpf_map__map_flags(map),
                 info.map_flags);
    if (why[0]) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: %s: not carried", name, why);
        return false;
    }
    int e = bpf_map__reuse_fd(map, fd); /* dups fd: the predecessor keeps its own */
    if (e) {
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN, "map %s: cannot reuse the running version's: %s: not carried", name,
                        strerror(-e));
        return false;
    }
    return true;
}

eunomia_status eunomia_bpf_handover(eunomia_instance *inst, struct eunomia_handover *h, char *err, size_t err_size)
{
    struct eunomia_bpf *bpf = (struct eunomia_bpf *)inst;
    if (!bpf || !h || !EUNOMIA_HAS_FIELD(h, struct eunomia_handover, maps) || (h->n_maps && !h->maps))
        FAIL(EUNOMIA_ERR_INVALID_ARGUMENT, "handover: no handover, or one older than this plugin understands");
    if (!eunomia_bpf_created_(bpf))
        FAIL(EUNOMIA_ERR_STATE, "handover must come between create and start");
    for (uint32_t i = 0; i < h->n_maps; i++) {
        struct eunomia_map_handover *m = &h->maps[i];
        m->result = m->name && reuse_map(bpf, m->name, m->fd) ? EUNOMIA_OK : EUNOMIA_ERR_INVALID_ARGUMENT;
    }
    char why[256];
    if (eunomia_bpf_set_const(bpf, "eunomia_generation", &h->generation, sizeof(h->generation), why, sizeof(why)))
        eunomia_bpf_log(bpf, EUNOMIA_LOG_WARN,
                        "%s: this tracker does not take part in the cutover; both versions report while both run",
                        why);
    return EUNOMIA_OK;
}
