/* oomkill plugin: the kprobe on oom_kill_process only adds the OOM context's total pages (and
 * the victim's ids, which the tracepoint program can also find) to what mark_victim reports,
 * so without kprobes the plugin runs on the tracepoint alone. */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include "eunomia_bpf.h"

/* Whether a tracepoint program may call bpf_task_from_pid and bpf_task_release: the kfuncs
 * exist from 6.2, and not every kernel that has them lets tracepoint programs call them.
 * Loads the smallest such program (once per instance, before the object loads). */
static bool victim_lookup_available(void)
{
    struct btf *vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux)
        return false;
    int from_pid = btf__find_by_name_kind(vmlinux, "bpf_task_from_pid", BTF_KIND_FUNC);
    int release = btf__find_by_name_kind(vmlinux, "bpf_task_release", BTF_KIND_FUNC);
    btf__free(vmlinux);
    if (from_pid <= 0 || release <= 0)
        return false;
    struct bpf_insn insns[] = {
        { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
        { .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL, .imm = from_pid },
        { .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = 2, .imm = 0 },
        { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_0 },
        { .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL, .imm = release },
        { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
        { .code = BPF_JMP | BPF_EXIT },
    };
    int fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, NULL, "GPL", insns, sizeof(insns) / sizeof(insns[0]), NULL);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static eunomia_status configure(struct eunomia_bpf *bpf, const json_t *config, char *err, size_t err_size)
{
    (void)config;
    /* Also with the kprobe: mark_victim fires without oom_kill_process for a task that was
     * already exiting when it ran out of memory. */
    bool lookup = victim_lookup_available();
    eunomia_status rc = eunomia_bpf_set_const(bpf, "targ_victim_lookup", &lookup, sizeof(lookup), err, err_size);
    if (rc != EUNOMIA_OK || eunomia_kprobe_available("oom_kill_process"))
        return rc;
    return eunomia_bpf_disable_section_prefix(bpf, "kprobe/", err, err_size);
}

EUNOMIA_PLUGIN(configure)
