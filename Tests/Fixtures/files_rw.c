/* files test load: once a line arrives on stdin, write 1 MiB to argv[1] in 4 KiB write(2)s,
 * then read it back with 4 KiB read(2)s until end of file. Each further argument,
 * PATH:SIZE:READ_SIZE, is a small file: SIZE bytes (at most 4096) written in one write(2),
 * then read back READ_SIZE bytes per read(2) until end of file. Then exit. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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
    if (total != TOTAL)
        return 5;
    for (int a = 2; a < argc; a++) {
        char *spec = argv[a], *size_at = strrchr(spec, ':');
        if (!size_at)
            return 6;
        *size_at = 0;
        long read_size = atol(size_at + 1);
        char *colon = strrchr(spec, ':');
        if (!colon)
            return 6;
        *colon = 0;
        long size = atol(colon + 1);
        if (size < 0 || size > CHUNK || read_size < 1 || read_size > CHUNK)
            return 6;
        fd = open(spec, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, buf, (size_t)size) != size)
            return 7;
        close(fd);
        fd = open(spec, O_RDONLY);
        if (fd < 0)
            return 8;
        total = 0;
        while ((n = read(fd, buf, (size_t)read_size)) > 0)
            total += n;
        close(fd);
        printf("read %ld\n", total);
        if (total != size)
            return 9;
    }
    return 0;
}
