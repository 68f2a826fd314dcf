/* Test load for profile: burns the CPU for SECONDS seconds inside spin_here, so that nearly
 * every sample of this process has spin_here as its innermost user frame. Prints the runtime
 * address of spin_here first, for checking unsymbolized stacks, and "done" when it stops
 * spinning; then it idles (up to a minute) so that the tracer can still read its memory map
 * to symbolize the stacks when it reports. The test kills it.
 * Build with -O0 -g -fno-omit-frame-pointer. Usage: profile_spin SECONDS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* noinline: the function must exist as a frame (and symbol) of its own. */
__attribute__((noinline)) static unsigned long spin_here(int seconds)
{
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += seconds;
    volatile unsigned long n = 0;
    do {
        /* Mostly arithmetic: the clock is read only once per million iterations, so samples
         * land in spin_here itself rather than in the vDSO. */
        for (int i = 0; i < 1000000; i++)
            n++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    printf("spin_here %p\n", (void *)spin_here);
    fflush(stdout);
    unsigned long n = spin_here(atoi(argv[1]));
    printf("done\n");
    fflush(stdout);
    sleep(60);
    return n ? 0 : 1;
}
