/* memleak's test load: leaks 100 blocks of 4096 bytes from leaky_function, frees everything
 * else it allocates (through each allocator memleak traces), says "leaked", then waits to be
 * killed, so that its stacks can still be symbolized. Built with frame pointers. With --wait it
 * first says "waiting" and starts only on SIGUSR1 (for a tracer that attaches by pid). */
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *kept[100];

__attribute__((noinline)) void *leaky_function(size_t size)
{
    void *p = malloc(size);
    memset(p, 0xab, size);
    return p;
}

__attribute__((noinline)) void tidy_function(void)
{
    for (int i = 0; i < 1000; i++) {
        void *p = malloc(64 + i);
        void *q = calloc(4, 100);
        q = realloc(q, 800);
        void *a = NULL;
        if (posix_memalign(&a, 64, 256) == 0)
            free(a);
        free(aligned_alloc(64, 512));
        free(memalign(64, 128));
        free(valloc(100));
        void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED)
            munmap(m, 8192);
        free(q);
        free(p);
    }
}

static void go(int sig) { (void)sig; }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer left outstanding */
    if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
        sigset_t usr1, old;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, &old);
        signal(SIGUSR1, go);
        printf("waiting\n");
        sigsuspend(&old);
    }
    tidy_function();
    for (int i = 0; i < 100; i++)
        kept[i] = leaky_function(4096);
    tidy_function();
    printf("leaked\n");
    for (;;)
        pause();
}
