/* Swap storm test load: on the first line on stdin, make getppid() system calls as fast as it
 * can; on the next line, stop and answer with how many it made. Exit at end of input. The test
 * swaps a counting tracker while the storm runs, so the count must come out exact. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    char buf[64];
    if (read(0, buf, sizeof(buf)) <= 0)
        return 0;
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    unsigned long long calls = 0;
    for (;;) {
        for (int i = 0; i < 1000; i++)
            syscall(SYS_getppid);
        calls += 1000;
        ssize_t n = read(0, buf, sizeof(buf));
        if (n != -1)
            break; /* a line, or end of input */
    }
    printf("%llu\n", calls);
    fflush(stdout);
    return 0;
}
