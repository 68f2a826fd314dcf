/* modsnoop plugin: on the module syscalls' own tracepoints where the kernel has them, else on
 * raw_syscalls (every syscall runs the program, which returns at once for all but three). */
#include <string.h>

#include <bpf/libbpf.h>

#include "eunomia_bpf.h"

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    (void)config, (void)err, (void)err_size;
    bool own = eunomia_tracepoint_exists("syscalls", "sys_enter_finit_module");
    struct bpf_object *obj = eunomia_bpf_object(bpf);
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, obj) {
        bool raw = strncmp(bpf_program__section_name(prog), "tracepoint/raw_syscalls/", 24) == 0;
        if (raw == own)
            bpf_program__set_autoload(prog, false);
    }
    eunomia_bpf_log(bpf, EUNOMIA_LOG_INFO, own ? "attach: the module syscalls' tracepoints"
                                                : "attach: raw_syscalls (this kernel has no module syscall tracepoints)");
    return EUNOMIA_OK;
}

EUNOMIA_PLUGIN(configure)
