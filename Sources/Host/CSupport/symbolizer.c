#include "symbolizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct eh_symbolizer { uint64_t lookups; };
eh_symbolizer *eh_symbolizer_new(void) { return calloc(1, sizeof(eh_symbolizer)); }
void eh_symbolizer_free(eh_symbolizer *s) { free(s); }
void eh_symbolizer_begin(eh_symbolizer *s) { (void)s; }
size_t eh_symbolize(eh_symbolizer *s, int32_t pid, uint64_t addr, int flags, char *out, size_t size)
{
    (void)pid; (void)flags;
    s->lookups++;
    int n = snprintf(out, size, "0x%llx", (unsigned long long)addr);
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}
void eh_symbolizer_stats(const eh_symbolizer *s, struct eh_symbolizer_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->lookups = s->lookups;
}
