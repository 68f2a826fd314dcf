/* Load generator: openat()+close() on a set of existing files, M times, as fast as it can.
 * Prints one JSON object: opens, seconds, opens per second. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: loadgen COUNT FILE...\n");
        return 2;
    }
    long long count = atoll(argv[1]);
    int nfiles = argc - 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long long i = 0; i < count; i++) {
        int fd = openat(AT_FDCWD, argv[2 + i % nfiles], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror("openat");
            return 1;
        }
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"opens\":%lld,\"seconds\":%.6f,\"opens_per_s\":%.1f}\n", count, s, (double)count / s);
    return 0;
}
