/* The floor for any host: load opensnoop's BPF object with plain libbpf, filter by comm like
 * `eunomia run opensnoop --comm`, poll the same ring buffer and printf each record.
 * Stops on SIGINT/SIGTERM; prints {"events":N,"lost":N} on stderr. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct event { /* opensnoop.bpf.c's record */
    unsigned long long ts, flags;
    unsigned int pid, tid, uid;
    int fd, err;
    unsigned int mode;
    char comm[16];
    char path[4096];
};

static volatile sig_atomic_t stop;
static unsigned long long events;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int handle(void *ctx, void *data, size_t size)
{
    (void)ctx, (void)size;
    const struct event *e = data;
    printf("%-6u %-16s %3d %3d %s\n", e->pid, e->comm, e->fd, e->err, e->path);
    events++;
    return 0;
}

static int set_rodata(struct bpf_object *obj, const char *name, const void *value, size_t size)
{
    struct btf *btf = bpf_object__btf(obj);
    int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    struct bpf_map *map;
    bpf_object__for_each_map(map, obj) if (strstr(bpf_map__name(map), ".rodata")) break;
    if (id < 0 || !map)
        return -1;
    size_t data_size;
    char *data = (char *)bpf_map__initial_value(map, &data_size);
    const struct btf_type *sec = btf__type_by_id(btf, id);
    const struct btf_var_secinfo *v = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, v++) {
        if (strcmp(btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off), name) == 0) {
            memcpy(data + v->offset, value, size);
            return 0;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: minimal_consumer OPENSNOOP.bpf.o COMM\n");
        return 2;
    }
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj)
        return 1;
    char comm[16] = { 0 };
    strncpy(comm, argv[2], sizeof(comm) - 1);
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, obj) {
        const char *sec = bpf_program__section_name(prog);
        if (strstr(sec, "_open") && !strstr(sec, "_openat")) /* open(2): absent on some arches */
            bpf_program__set_autoload(prog, access("/sys/kernel/tracing/events/syscalls/sys_enter_open", F_OK) == 0);
    }
    if (set_rodata(obj, "eunomia_targ_comm", comm, sizeof(comm)) || bpf_object__load(obj)) {
        fprintf(stderr, "minimal_consumer: load failed\n");
        return 1;
    }
    bpf_object__for_each_program(prog, obj) {
        if (bpf_program__autoload(prog) && !bpf_program__attach(prog)) {
            fprintf(stderr, "minimal_consumer: attach %s failed\n", bpf_program__name(prog));
            return 1;
        }
    }
    struct ring_buffer *rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), handle, NULL, NULL);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "attached\n");
    while (!stop) { /* records below the wakeup threshold arrive without a wakeup: consume after each poll */
        ring_buffer__poll(rb, 100);
        ring_buffer__consume(rb);
    }
    ring_buffer__consume(rb);
    fflush(stdout);
    int ncpu = libbpf_num_possible_cpus();
    unsigned long long lost = 0, values[ncpu];
    unsigned int key = 0;
    if (bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "eunomia_lost"), &key, values) == 0)
        for (int i = 0; i < ncpu; i++)
            lost += values[i];
    fprintf(stderr, "{\"events\":%llu,\"lost\":%llu}\n", events, lost);
    ring_buffer__free(rb);
    bpf_object__close(obj);
    return 0;
}
