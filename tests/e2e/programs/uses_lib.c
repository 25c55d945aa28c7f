/* A transaction whose I/O happens in libaudit.so (unannotated_lib.c), a
 * library ptmcc never saw: its calls are not shims, so the fork mirror's
 * seccomp filter is what stops them. */
#include <ptm.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int audit_record(const char *path, const char *line);
int audit_write(int fd, const char *line);

PTM_TRANSACTION(.transaction_id = "audit.lib", .mirror = fork)
int record(const char *path, int fd, int n)
{
    char line[32];
    snprintf(line, sizeof line, "entry %d\n", n);
    int a = audit_record(path, line);
    int b = audit_write(fd, line);
    return a == 0 && b == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = open(argv[2], O_WRONLY | O_APPEND);
    if (fd < 0)
        return 1;
    printf("rc %d\n", record(argv[1], fd, 7));
    close(fd);
    return 0;
}
