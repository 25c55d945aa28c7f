/*
** fd_test.h - a program that closes descriptors it did not open and gets
** their numbers for a file of its own (a daemon), for the tests that
** libptm never uses a number it kept once the program reused it.
*/
#ifndef FD_TEST_H
#define FD_TEST_H

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* sameFile: for reuseFds and openOn, the descriptors open on the file
** whose stat is arg. */
static inline int sameFile(const struct stat *st, const void *arg)
{
    const struct stat *of = arg;
    return st->st_dev == of->st_dev && st->st_ino == of->st_ino;
}

/* fdsPicked: the descriptors above 2 that pick(st, arg) picks, each put
** under file's own when file >= 0 (as a close and an open that got the
** same number would).  Returns how many, -1 when /proc cannot be read. */
static inline int fdsPicked(int (*pick)(const struct stat *, const void *), const void *arg,
                            int file)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        struct stat st;
        if (fd > 2 && fd != dirfd(d) && fd != file && fstat(fd, &st) == 0 && pick(&st, arg))
            n += file < 0 || dup2(file, fd) == fd;
    }
    closedir(d);
    return n;
}

/* reuseFds: puts file over every descriptor above 2 that keep picks.
** Returns how many it replaced (-1: /proc cannot be read). */
static inline int reuseFds(int file, int (*keep)(const struct stat *, const void *),
                           const void *arg)
{
    return fdsPicked(keep, arg, file);
}

/* openOn: how many descriptors above 2 are open on the file whose stat is
** of (-1: /proc cannot be read). */
static inline int openOn(const struct stat *of)
{
    return fdsPicked(sameFile, of, -1);
}

#endif
