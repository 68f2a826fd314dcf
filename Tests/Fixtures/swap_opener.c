/* Hot-swap test load: once a line arrives on stdin, open DIR/fNNNNN for N (argv[2]) files, one
 * every INTERVAL_US (argv[3]) microseconds, while one thread per FIFO (argv[4...]) blocks in
 * open(2) on it until the test opens the read end. Prints "done" when every open returned.
 * Every path is opened exactly once, so a tracer must report each exactly once. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void *open_fifo(void *path)
{
    int fd = open((const char *)path, O_WRONLY);
    if (fd < 0) {
        perror((const char *)path);
        exit(1);
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: swap_opener DIR N INTERVAL_US [FIFO...]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = atol(argv[2]);
    long interval_us = atol(argv[3]);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    int nfifo = argc - 4;
    pthread_t threads[16];
    if (nfifo > 16)
        nfifo = 16;
    for (int i = 0; i < nfifo; i++)
        pthread_create(&threads[i], NULL, open_fifo, argv[4 + i]);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    char path[4096];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
        int fd = open(path, O_CREAT | O_WRONLY, 0600);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        close(fd);
        /* A steady rate: sleep to the next slot, not for a fixed time after each open. */
        next.tv_nsec += interval_us * 1000;
        while (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    for (int i = 0; i < nfifo; i++)
        pthread_join(threads[i], NULL);
    printf("done\n");
    fflush(stdout);
    return 0;
}
