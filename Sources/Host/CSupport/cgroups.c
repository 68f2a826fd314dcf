/* cgroup v2 ids to paths, for container metadata.
 *
 * bpf_get_current_cgroup_id() is the cgroup's kernfs node id, which cgroupfs also accepts as a
 * file handle (FILEID_KERNFS). Opening that handle and reading the descriptor's link gives the
 * cgroup's path in O(1), without walking the hierarchy (bpftrace and systemd do the same).
 * Needs CAP_DAC_READ_SEARCH; the host runs as root. */
#define _GNU_SOURCE
#include "include/host_support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif

int eh_cgroup_path(int mount_fd, unsigned long long id, const char *mount_path, char *out, size_t out_len)
{
    if (mount_fd < 0 || !mount_path || !out || out_len == 0) {
        errno = EINVAL;
        return -1;
    }
    union {
        struct file_handle fh;
        char storage[sizeof(struct file_handle) + sizeof(unsigned long long)];
    } h;
    h.fh.handle_bytes = sizeof(unsigned long long);
    h.fh.handle_type = FILEID_KERNFS;
    memcpy(h.fh.f_handle, &id, sizeof id);
    int fd = open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char target[4096];
    ssize_t n = readlink(link, target, sizeof target - 1);
    int saved = errno;
    close(fd);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    target[n] = '\0';
    /* The link names the directory in the mount namespace's view; the cgroup path is what
     * follows the mount point ("/" for the root). */
    size_t mlen = strlen(mount_path);
    while (mlen > 1 && mount_path[mlen - 1] == '/')
        mlen--;
    const char *rest = target;
    if (strncmp(target, mount_path, mlen) == 0 && (target[mlen] == '/' || target[mlen] == '\0'))
        rest = target + mlen;
    if (*rest == '\0')
        rest = "/";
    size_t len = strlen(rest);
    if (len + 1 > out_len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(out, rest, len + 1);
    return 0;
}
