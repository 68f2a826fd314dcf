/* ELF inspection for the host: a plugin library's machine, type, entry point and NODELETE flag
 * (eh_elf_inspect, before any dlopen), a section's text (the lint's license check), whether a
 * binary defines a function (the lint's uprobe check). */
#include "host_support.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One way to open an ELF file for reading: libelf initialised, the fd and the handle together. */
struct elf_file {
    int fd;
    Elf *elf;
};

static int elf_file_open(const char *path, struct elf_file *f, char *err, size_t err_size)
{
    f->fd = -1;
    f->elf = NULL;
    if (elf_version(EV_CURRENT) == EV_NONE) {
        snprintf(err, err_size, "libelf initialisation failed");
        return -1;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        snprintf(err, err_size, "cannot open: %s", strerror(errno));
        return -1;
    }
    f->elf = elf_begin(f->fd, ELF_C_READ, NULL);
    if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
        snprintf(err, err_size, "not an ELF file");
        return -1;
    }
    return 0;
}

static void elf_file_close(struct elf_file *f)
{
    if (f->elf)
        elf_end(f->elf);
    if (f->fd >= 0)
        close(f->fd);
}

int eh_elf_inspect(const char *path, struct eh_elf_info *info, char *err, size_t err_size)
{
    memset(info, 0, sizeof(*info));
    struct elf_file f;
    GElf_Ehdr ehdr;
    if (elf_file_open(path, &f, err, err_size) || !gelf_getehdr(f.elf, &ehdr)) {
        if (f.elf)
            snprintf(err, err_size, "not an ELF file");
        elf_file_close(&f);
        return -1;
    }
    info->machine = ehdr.e_machine;
    info->type = ehdr.e_type;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(f.elf, scn)) != NULL) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr))
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data || shdr.sh_entsize == 0)
            continue;
        size_t count = shdr.sh_size / shdr.sh_entsize;
        if (shdr.sh_type == SHT_DYNAMIC) {
            for (size_t i = 0; i < count; i++) {
                GElf_Dyn dyn;
                if (gelf_getdyn(data, (int)i, &dyn) && dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_NODELETE))
                    info->nodelete = 1;
            }
        } else if (shdr.sh_type == SHT_DYNSYM) {
            for (size_t i = 0; i < count; i++) {
                GElf_Sym sym;
                if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
                    continue;
                const char *name = elf_strptr(f.elf, shdr.sh_link, sym.st_name);
                if (name && strcmp(name, "eunomia_plugin_entry") == 0 && GELF_ST_TYPE(sym.st_info) == STT_FUNC)
                    info->has_entry = 1;
            }
        }
    }
    elf_file_close(&f);
    return 0;
}

int eh_elf_section_text(const char *path, const char *section, char *out, size_t out_size, char *err, size_t err_size)
{
    struct elf_file f;
    if (elf_file_open(path, &f, err, err_size)) {
        elf_file_close(&f);
        return -1;
    }
    int rc = -1;
    size_t shstrndx;
    snprintf(err, err_size, "has no %s section", section);
    if (elf_getshdrstrndx(f.elf, &shstrndx) == 0) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(f.elf, scn))) {
            GElf_Shdr shdr;
            if (!gelf_getshdr(scn, &shdr))
                continue;
            const char *name = elf_strptr(f.elf, shstrndx, shdr.sh_name);
            if (!name || strcmp(name, section) != 0)
                continue;
            Elf_Data *data = elf_getdata(scn, NULL);
            size_t n = data && data->d_buf ? data->d_size : 0;
            if (n >= out_size)
                n = out_size - 1;
            if (n)
                memcpy(out, data->d_buf, n);
            out[n] = 0;
            rc = 0;
            break;
        }
    }
    elf_file_close(&f);
    return rc;
}

int eh_elf_has_function(const char *path, const char *symbol)
{
    struct elf_file f;
    char ignored[64];
    if (elf_file_open(path, &f, ignored, sizeof(ignored))) {
        elf_file_close(&f);
        return -1;
    }
    int found = 0;
    size_t n = strlen(symbol);
    Elf_Scn *scn = NULL;
    while (!found && (scn = elf_nextscn(f.elf, scn))) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM) || !shdr.sh_entsize)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t count = data ? shdr.sh_size / shdr.sh_entsize : 0;
        for (size_t i = 0; i < count && !found; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
                continue;
            const char *name = elf_strptr(f.elf, shdr.sh_link, sym.st_name);
            /* Versioned names (getaddrinfo@@GLIBC_2.2.5) in .symtab count too. */
            if (name && strncmp(name, symbol, n) == 0 && (name[n] == 0 || name[n] == '@'))
                found = 1;
        }
    }
    elf_file_close(&f);
    return found;
}
