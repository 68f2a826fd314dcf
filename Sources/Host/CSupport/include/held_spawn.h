/* A child process held before its execve, for `eunomia seccomp record -- COMMAND`: the host
 * starts recording its syscalls between the spawn and the release, so the first syscall the
 * recording sees is the execve itself and none of the command's is missed. */
#ifndef EUNOMIA_HELD_SPAWN_H
#define EUNOMIA_HELD_SPAWN_H

#include <stdint.h>

struct eh_held_child {
    int32_t pid;
    int32_t release_fd; /* write end the child waits on; -1 once released */
    int32_t error_fd;   /* read end: the errno of a failed execve, or end of file when it succeeded */
};

/* Forks a child that resets every signal to its default action and unblocks them all (an
 * ignored SIGINT or SIGPIPE of the host would otherwise survive the execve), then waits for
 * eh_release_held before it calls execve(path, argv, envp). Returns 0, or -errno (nothing
 * started). */
int eh_spawn_held(const char *path, char *const argv[], char *const envp[], struct eh_held_child *child);

/* Lets the child exec and waits until it did: returns 0 when execve succeeded, else the errno
 * it failed with (the child has then exited with status 127; reap it). */
int eh_release_held(struct eh_held_child *child);

/* Lets the child go without exec-ing: it exits with status 127 at once (reap it). */
void eh_abandon_held(struct eh_held_child *child);

#endif
