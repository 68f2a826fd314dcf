/* memleak's test load: leaks 100 blocks of 4096 bytes from leaky_function, frees everything
 * else it allocates (through each allocator memleak traces), says "leaked", then waits to be
 * killed, so that its stacks can still be symbolized. Built with frame pointers. */
#define _GNU_SOURCE
#include <malloc.h>
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

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer left outstanding */
    tidy_function();
    for (int i = 0; i < 100; i++)
        kept[i] = leaky_function(4096);
    tidy_function();
    printf("leaked\n");
    for (;;)
        pause();
}
