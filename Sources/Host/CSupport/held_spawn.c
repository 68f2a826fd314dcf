/* fork + held execve in C: Swift cannot run code in a forked child of a threaded process, and
 * posix_spawn cannot pause between the fork and the exec. The child runs only async-signal-safe
 * calls (sigaction, sigprocmask, read, execve, write, _exit). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "held_spawn.h"

int eh_spawn_held(const char *path, char *const argv[], char *const envp[], struct eh_held_child *child)
{
    int release[2], error[2];
    /* O_CLOEXEC: the command inherits neither pipe, and the error pipe reads end of file
     * exactly when execve succeeded. */
    if (pipe2(release, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(error, O_CLOEXEC) != 0) {
        int e = errno;
        close(release[0]);
        close(release[1]);
        return -e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(release[0]);
        close(release[1]);
        close(error[0]);
        close(error[1]);
        return -e;
    }
    if (pid == 0) {
        /* Before the wait, so that recording (which starts during it) sees none of this. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                sigaction(sig, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char go = 0;
        ssize_t n;
        do
            n = read(release[0], &go, 1);
        while (n < 0 && errno == EINTR);
        /* The host went away or gave up: no exec. */
        if (n != 1)
            _exit(127);
        execve(path, argv, envp);
        int e = errno;
        ssize_t w = write(error[1], &e, sizeof(e));
        (void)w;
        _exit(127);
    }
    close(release[0]);
    close(error[1]);
    child->pid = pid;
    child->release_fd = release[1];
    child->error_fd = error[0];
    return 0;
}

int eh_release_held(struct eh_held_child *child)
{
    char go = 1;
    ssize_t n;
    do
        n = write(child->release_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    int result = n == 1 ? 0 : errno;
    close(child->release_fd);
    child->release_fd = -1;
    if (result == 0) {
        int e = 0;
        size_t got = 0;
        while (got < sizeof(e)) {
            ssize_t r = read(child->error_fd, (char *)&e + got, sizeof(e) - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        /* End of file before a whole errno: execve succeeded (close-on-exec closed the pipe). */
        result = got == sizeof(e) ? (e ? e : EIO) : 0;
    }
    close(child->error_fd);
    child->error_fd = -1;
    return result;
}

void eh_abandon_held(struct eh_held_child *child)
{
    if (child->release_fd >= 0)
        close(child->release_fd);
    if (child->error_fd >= 0)
        close(child->error_fd);
    child->release_fd = child->error_fd = -1;
}
