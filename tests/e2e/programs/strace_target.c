/* Write-class calls from a fork mirror, most through pointers ptmcc cannot
 * see, for test_strace.py: none may reach the system. */
#include <ptm.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t (*volatile raw_write)(int, const void *, size_t) = write;
int (*volatile raw_open)(const char *, int, ...) = open;
int (*volatile raw_unlink)(const char *) = unlink;
int (*volatile raw_rename)(const char *, const char *) = rename;
int (*volatile raw_mkdir)(const char *, mode_t) = mkdir;
int (*volatile raw_truncate)(const char *, off_t) = truncate;

PTM_TRANSACTION(.transaction_id = "strace.io", .mirror = fork)
int touch_everything(const char *dir, int fd)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/data.txt", dir);
    FILE *f = fopen(a, "a"); /* a shim: simulated, no system call */
    if (f) {
        fprintf(f, "shim line\n");
        fclose(f);
    }
    int bad = raw_write(fd, "raw\n", 4) >= 0;
    bad += raw_truncate(a, 0) == 0;
    snprintf(b, sizeof b, "%s/moved.txt", dir);
    bad += raw_rename(a, b) == 0;
    snprintf(b, sizeof b, "%s/new", dir);
    bad += raw_mkdir(b, 0755) == 0;
    snprintf(b, sizeof b, "%s/created.txt", dir);
    int c = raw_open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bad += c >= 0;
    bad += raw_unlink(a) == 0;
    return bad;
}

int main(int argc, char **argv)
{
    char log[512];
    if (argc != 2)
        return 2;
    snprintf(log, sizeof log, "%s/log.txt", argv[1]);
    int fd = open(log, O_WRONLY | O_APPEND);
    if (fd < 0)
        return 1;
    int rc = touch_everything(argv[1], fd);
    close(fd);
    printf("rc %d\n", rc);
    return 0;
}
