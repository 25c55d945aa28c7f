/* A library built without ptmcc (plain clang-19 -shared): its I/O is
 * invisible to the rewrite of the programs that call it.  In a fork mirror
 * seccomp denies its write-class calls; each denial is an event. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int audit_record(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, line, strlen(line));
    close(fd);
    return n == (ssize_t)strlen(line) ? 0 : -1;
}

int audit_write(int fd, const char *line)
{
    return write(fd, line, strlen(line)) == (ssize_t)strlen(line) ? 0 : -1;
}
