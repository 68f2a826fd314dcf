/* files test load: once a line arrives on stdin, write 1 MiB to argv[1] in 4 KiB write(2)s,
 * then read it back with 4 KiB read(2)s until end of file, and exit. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 4096
#define TOTAL (1 << 20)

int main(int argc, char **argv)
{
    char line[16], buf[CHUNK];
    if (argc < 2 || !fgets(line, sizeof(line), stdin))
        return 1;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 2;
    memset(buf, 'x', sizeof(buf));
    for (int i = 0; i < TOTAL / CHUNK; i++)
        if (write(fd, buf, CHUNK) != CHUNK)
            return 3;
    close(fd);
    fd = open(argv[1], O_RDONLY);
    if (fd < 0)
        return 4;
    long total = 0, n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        total += n;
    close(fd);
    printf("read %ld\n", total);
    return total == TOTAL ? 0 : 5;
}
