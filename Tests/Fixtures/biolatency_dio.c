/* Test load for biolatency: COUNT O_DIRECT 64 KiB writes, each followed by fsync, then COUNT
 * O_DIRECT reads of the same blocks, so every one reaches the disk.
 * Usage: biolatency_dio PATH COUNT */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 65536

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int count = atoi(argv[2]);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    void *buf;
    if (fd < 0 || posix_memalign(&buf, 4096, BLOCK)) {
        perror("open");
        return 1;
    }
    memset(buf, 'x', BLOCK);
    for (int i = 0; i < count; i++) {
        if (pwrite(fd, buf, BLOCK, (off_t)i * BLOCK) != BLOCK || fsync(fd)) {
            perror("write");
            return 1;
        }
    }
    for (int i = 0; i < count; i++) {
        if (pread(fd, buf, BLOCK, (off_t)i * BLOCK) != BLOCK) {
            perror("read");
            return 1;
        }
    }
    close(fd);
    unlink(argv[1]);
    return 0;
}
