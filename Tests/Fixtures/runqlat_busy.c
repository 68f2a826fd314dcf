/* Test load for runqlat: THREADS threads spinning on the CPU for SECONDS seconds; with more
 * runnable threads than CPUs they wait on the run queue. Prints the thread ids, then exits.
 * With a third argument "--wait", the threads print their ids and then wait for SIGUSR1
 * before they spin (for a tracer that attaches by pid once the process exists).
 * Usage: runqlat_busy THREADS SECONDS [--wait] */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int seconds;
static pthread_barrier_t start;

static void *spin(void *arg)
{
    (void)arg;
    printf("tid %d\n", gettid());
    fflush(stdout);
    pthread_barrier_wait(&start);
    time_t end = time(NULL) + seconds;
    volatile unsigned long n = 0;
    while (time(NULL) < end)
        n++;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4)
        return 2;
    int threads = atoi(argv[1]);
    seconds = atoi(argv[2]);
    int wait = argc == 4 && strcmp(argv[3], "--wait") == 0;
    if (threads > 64)
        threads = 64;
    /* Blocked in every thread (they inherit the mask), taken by main's sigwait. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    pthread_barrier_init(&start, NULL, threads + 1);
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    if (wait) {
        int sig;
        sigwait(&usr1, &sig);
    }
    pthread_barrier_wait(&start);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
