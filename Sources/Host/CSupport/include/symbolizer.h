/* Placeholder until the real symbolizer lands. */
#ifndef EH_SYMBOLIZER_H
#define EH_SYMBOLIZER_H
#include <stddef.h>
#include <stdint.h>
typedef struct eh_symbolizer eh_symbolizer;
eh_symbolizer *eh_symbolizer_new(void);
void eh_symbolizer_free(eh_symbolizer *s);
void eh_symbolizer_begin(eh_symbolizer *s);
enum { EH_SYM_OFFSET = 1, EH_SYM_MODULE = 2 };
size_t eh_symbolize(eh_symbolizer *s, int32_t pid, uint64_t addr, int flags, char *out, size_t size);
struct eh_symbolizer_stats { uint64_t lookups, processes_loaded, files_loaded, symbols_loaded, bytes; };
void eh_symbolizer_stats(const eh_symbolizer *s, struct eh_symbolizer_stats *st);
#endif
