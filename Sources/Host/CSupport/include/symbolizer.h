/* Stack address symbolizer for kernel (/proc/kallsyms) and user (ELF .symtab/.dynsym) addresses.
 * Not thread-safe: one symbolizer belongs to one thread (the report formatter). */
#ifndef EUNOMIA_SYMBOLIZER_H
#define EUNOMIA_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct eh_symbolizer eh_symbolizer;

/* NULL only when out of memory. Nothing is read from /proc until the first lookup. */
eh_symbolizer *eh_symbolizer_new(void);
void eh_symbolizer_free(eh_symbolizer *s);

/* Called before each report: per-process caches are revalidated on their next use (a process
 * that exec'd or exited since is dropped/reloaded). Also frees processes and files that have
 * not been used for a while, and re-reads /proc/kallsyms (on the next kernel address) once it
 * is a minute old, so BPF programs and modules loaded since get names. */
void eh_symbolizer_begin(eh_symbolizer *s);

enum { EH_SYM_OFFSET = 1, EH_SYM_MODULE = 2 };

/* Symbolize one address. pid <= 0: kernel address (from /proc/kallsyms; module symbols get
 * " [module]"). pid > 0: user address in that process. Writes "func+0xoff [module]" (flags
 * select the parts; module = basename of the mapped file), or when no symbol is known
 * "0x7f12... [libfoo.so]" / "[unknown]". Returns the length written (NUL-terminated, truncated
 * to size). */
size_t eh_symbolize(eh_symbolizer *s, int32_t pid, uint64_t addr, int flags, char *out, size_t size);

struct eh_symbolizer_stats {
    uint64_t lookups;          /* eh_symbolize calls */
    uint64_t processes_loaded; /* /proc/PID/maps parses (first use, exec, dlopen/munmap of code) */
    uint64_t files_loaded;     /* ELF symbol tables read (kallsyms not included) */
    uint64_t symbols_loaded;   /* symbols kept after dedupe, kernel included */
    uint64_t bytes;            /* heap currently held by the caches */
};
void eh_symbolizer_stats(const eh_symbolizer *s, struct eh_symbolizer_stats *st);

#endif
