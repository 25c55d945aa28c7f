/*
** bench/bank/holds.c - a timeline of the write lock in examples/bank, for
** holds.py: preloaded into `bank run` (either build), it wraps
** sqlite3_exec and writes, per process, one line per BEGIN IMMEDIATE
** ("B rc start end", microseconds of CLOCK_MONOTONIC, the same clock in
** every process) and per COMMIT or ROLLBACK ("C rc start end") to
** holds.<pid> in the current directory.  The write lock is held from a
** BEGIN's end to the next COMMIT's or ROLLBACK's end.
**
**     cc -O2 -shared -fPIC holds.c -o holds.so -ldl
**     LD_PRELOAD=$PWD/holds.so bank run --db x.db --procs 3 ...
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*exec_fn)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *,
                       char **);

static FILE *out;
static pid_t out_pid;
static int inside;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg,
                 char **err)
{
    static exec_fn real;
    if (!real)
        real = (exec_fn)dlsym(RTLD_NEXT, "sqlite3_exec");
    if (inside)
        return real(db, sql, cb, arg, err);
    if (!out || out_pid != getpid()) { /* a forked writer: its own file */
        char path[64];
        out_pid = getpid();
        snprintf(path, sizeof path, "holds.%d", (int)out_pid);
        out = fopen(path, "w");
    }
    double t0 = now_us();
    inside = 1;
    int rc = real(db, sql, cb, arg, err);
    inside = 0;
    double t1 = now_us();
    if (out && strcmp(sql, "BEGIN IMMEDIATE") == 0)
        fprintf(out, "B %d %.0f %.0f\n", rc, t0, t1);
    else if (out && (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0))
        fprintf(out, "C %d %.0f %.0f\n", rc, t0, t1);
    return rc;
}
