/* memleak's kernel-mode test load: opens 200 pipes and keeps them, so the kernel holds their
 * allocations; says "ready", then waits to be killed. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 0; i < 200; i++)
        if (pipe(fds))
            return 1;
    printf("ready\n");
    for (;;)
        pause();
}
