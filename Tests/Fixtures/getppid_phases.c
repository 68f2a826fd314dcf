/* Swap state test load: for every line on stdin, make N (argv[1]) getppid() system calls and
 * answer "ok"; exit at end of input. The test swaps the tracker between two phases. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    char line[16];
    while (fgets(line, sizeof(line), stdin)) {
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
        printf("ok\n");
        fflush(stdout);
    }
    return 0;
}
