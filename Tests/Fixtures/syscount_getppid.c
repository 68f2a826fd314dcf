/* syscount test load: once a line arrives on stdin, make N (argv[1]) getppid() system calls
 * and exit. The gate lets the test attach the tracker to this pid first. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid); /* not the libc wrapper, which a libc could answer from a cache */
    printf("done %ld\n", n);
    return 0;
}
