/* Symbolization cost of the host's symbolizer (Sources/Host/CSupport/symbolizer.c): first
 * lookups (load libc's ELF tables, /proc/kallsyms), then 1 M random addresses, half in libc's
 * text in this process and half in kernel text, with and without a report boundary every 1000
 * (each revalidates the process's maps). Prints one JSON line. Run as root (kallsyms). */
#define _GNU_SOURCE
#include "symbolizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t kallsyms_addr(const char *want)
{
    FILE *f = fopen("/proc/kallsyms", "re");
    char line[512], name[256], type;
    unsigned long long a;
    uint64_t found = 0;
    while (f && !found && fgets(line, sizeof(line), f))
        if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 && strcmp(name, want) == 0)
            found = a;
    if (f)
        fclose(f);
    return found;
}

/* Executable mapping of this process whose path contains needle. */
static int exec_map(const char *needle, uint64_t *start, uint64_t *end)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[1024], perms[8];
    unsigned long long s, e;
    int rc = -1;
    while (f && rc && fgets(line, sizeof(line), f))
        if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) == 3 && perms[2] == 'x' && strstr(line, needle)) {
            *start = s;
            *end = e;
            rc = 0;
        }
    if (f)
        fclose(f);
    return rc;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void)
{
    enum { N = 1000000 };
    char out[256];
    struct eh_symbolizer_stats st;
    int pid = getpid();
    uint64_t ls, le, ks = kallsyms_addr("_stext"), ke = kallsyms_addr("_etext");
    if (exec_map("libc.so", &ls, &le) || !ks || ke <= ks) {
        fprintf(stderr, "symbolize bench: no libc mapping or no kernel text range (not root?)\n");
        return 1;
    }
    eh_symbolizer *s = eh_symbolizer_new();
    double t0 = now_s();
    eh_symbolize(s, pid, ls + 0x100, EH_SYM_OFFSET | EH_SYM_MODULE, out, sizeof(out));
    double user_load = now_s() - t0;
    eh_symbolizer_stats(s, &st);
    uint64_t user_bytes = st.bytes, user_symbols = st.symbols_loaded;
    t0 = now_s();
    eh_symbolize(s, 0, ks + 0x100, EH_SYM_OFFSET | EH_SYM_MODULE, out, sizeof(out));
    double kernel_load = now_s() - t0;
    eh_symbolizer_stats(s, &st);
    uint64_t kernel_bytes = st.bytes - user_bytes, kernel_symbols = st.symbols_loaded - user_symbols;

    uint64_t *addrs = malloc(N * sizeof(*addrs));
    if (!addrs)
        return 1;
    for (int i = 0; i < N; i++)
        addrs[i] = (i & 1) ? ls + next_rand() % (le - ls) : ks + next_rand() % (ke - ks);
    size_t unknown = 0;
    t0 = now_s();
    for (int i = 0; i < N; i++) {
        eh_symbolize(s, (i & 1) ? pid : 0, addrs[i], EH_SYM_OFFSET | EH_SYM_MODULE, out, sizeof(out));
        unknown += out[0] == '0' || out[0] == '[';
    }
    double warm = now_s() - t0;
    t0 = now_s();
    for (int i = 0; i < N; i++) {
        if (i % 1000 == 0)
            eh_symbolizer_begin(s);
        eh_symbolize(s, (i & 1) ? pid : 0, addrs[i], EH_SYM_OFFSET | EH_SYM_MODULE, out, sizeof(out));
    }
    double reports = now_s() - t0;
    eh_symbolizer_stats(s, &st);
    printf("{\"symbols_per_s\": %.0f, \"ns_per_symbol\": %.1f, \"symbols_per_s_begin_every_1000\": %.0f, "
           "\"unresolved_fraction\": %.4f, \"libc_load_ms\": %.2f, \"libc_symbols\": %llu, \"libc_bytes\": %llu, "
           "\"kallsyms_load_ms\": %.2f, \"kernel_symbols\": %llu, \"kernel_bytes\": %llu, \"total_bytes\": %llu}\n",
           N / warm, warm * 1e9 / N, N / reports, (double)unknown / N, user_load * 1e3,
           (unsigned long long)user_symbols, (unsigned long long)user_bytes, kernel_load * 1e3,
           (unsigned long long)kernel_symbols, (unsigned long long)kernel_bytes, (unsigned long long)st.bytes);
    free(addrs);
    eh_symbolizer_free(s);
    return 0;
}
