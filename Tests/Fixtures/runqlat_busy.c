/* Test load for runqlat: THREADS threads spinning on the CPU for SECONDS seconds; with more
 * runnable threads than CPUs they wait on the run queue. Prints the thread ids, then exits.
 * Usage: runqlat_busy THREADS SECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int seconds;

static void *spin(void *arg)
{
    (void)arg;
    printf("tid %d\n", gettid());
    fflush(stdout);
    time_t end = time(NULL) + seconds;
    volatile unsigned long n = 0;
    while (time(NULL) < end)
        n++;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int threads = atoi(argv[1]);
    seconds = atoi(argv[2]);
    pthread_t t[64];
    for (int i = 0; i < threads && i < 64; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    for (int i = 0; i < threads && i < 64; i++)
        pthread_join(t[i], NULL);
    return 0;
}
