/* I/O the compiler cannot redirect: vdprintf is not a shim, and the call
 * through a function pointer is invisible to the rewrite.  In the fork
 * executor seccomp denies the write syscalls; each denial is an event. */
#include <ptm.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ssize_t (*volatile raw_write)(int, const void *, size_t) = write;

static int say(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}

PTM_TRANSACTION(.transaction_id = "hidden.io", .mirror = fork)
int log_line(int fd, int n)
{
    char line[32];
    int len = snprintf(line, sizeof line, "pointer %d\n", n);
    int wrote = raw_write(fd, line, (size_t)len) == len;
    int printed = say(fd, "dprintf %d\n", n) > 0;
    return wrote && printed ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return 1;
    int rc = log_line(fd, 7);
    close(fd);
    printf("rc %d\n", rc);
    return 0;
}
