/* A malloc-heavy load for memleak's overhead: N malloc/free pairs of mixed sizes (16 B to
 * 4 KiB), with a small working set kept live. Prints one JSON line with its own loop time, so
 * the time memleak needs to attach is not counted. Usage: malloc_load N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    enum { LIVE = 64 };
    void *live[LIVE] = { 0 };
    unsigned long long x = 88172645463325252ull, touched = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t size = 16 + (x % 4080);
        int slot = (int)(x >> 40) % LIVE;
        free(live[slot]);
        live[slot] = malloc(size);
        memset(live[slot], (int)i, 16);
        touched += ((unsigned char *)live[slot])[0];
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (int i = 0; i < LIVE; i++)
        free(live[i]);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"pairs\": %ld, \"seconds\": %.6f, \"ns_per_pair\": %.1f, \"check\": %llu}\n", n, s, s * 1e9 / (double)n, touched);
    fflush(stdout);
    return 0;
}
