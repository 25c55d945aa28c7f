/*
** test_shims_def.c - the shim rows of runtime/calls.def and ptm_gen.h agree.
**
** ptmcc rewrites a call to every shim row's name in runtime/calls.def into a
** call to ptm_shim_<name>, so each line needs a shim declared in ptm_gen.h
** with exactly the real function's type -- else a mirror clone would not
** compile, or would pass its arguments wrongly.  The check is made at
** compile time, one _Static_assert per shim row: if this file
** builds, they agree.  Parameter qualifiers (restrict, const on a
** parameter itself) are not part of a function's type, so `FILE *restrict`
** and `FILE *` compare equal; the variadic ones (open, fcntl, printf...)
** must be variadic in the same place.  The tests below check what a
** compiler cannot: every shim links, every name is unique, every family
** has its file in runtime/shims/, and the event names follow the lines.
*/
#include <criterion/criterion.h>
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>  /* getline, fseeko, fileno, the _unlocked forms: _GNU_SOURCE */
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"

/* ptm_validate's shim is ptm_shim_validate (not ptm_shim_ptm_validate). */
#define ptm_shim_ptm_validate ptm_shim_validate

#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered)        \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&ptm_shim_##name),               \
                                                __typeof__(&name)),                         \
                   "ptm_shim_" #name " in ptm_gen.h does not have the type of " #name);
#include "calls.def"

struct shimLine {
    const char *name;
    const char *family;
    void (*shim)(void);
};

static const struct shimLine lines[] = {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered)        \
    {#name, #family, (void (*)(void))ptm_shim_##name},
#include "calls.def"
};

#define N_LINES (sizeof lines / sizeof lines[0])

Test(shims_def, one_event_call_per_line_in_order)
{
    size_t i;

    cr_assert_eq(N_LINES, PTM_CALL_COUNT);
    for (i = 0; i < N_LINES; i++) {
        cr_assert_str_eq(ptmCallName((unsigned)i), lines[i].name, "call %zu", i);
        cr_assert_not_null(lines[i].shim, "%s links", lines[i].name);
    }
    cr_assert_str_eq(ptmCallName(PTM_CALL_pthread_cond_timedwait), "pthread_cond_timedwait");
}

Test(shims_def, names_and_shims_are_unique)
{
    size_t i, j;

    for (i = 0; i < N_LINES; i++)
        for (j = i + 1; j < N_LINES; j++) {
            cr_assert_str_neq(lines[i].name, lines[j].name, "%s twice", lines[i].name);
            cr_assert_neq(lines[i].shim, lines[j].shim, "%s and %s share a shim", lines[i].name,
                          lines[j].name);
        }
}

Test(shims_def, every_family_has_its_file)
{
    static const char *const known[] = {"file", "stdio", "net", "time", "lock", "validate", "mem",
                                        "jump", "sqlite"};
    char path[512];
    size_t i, k;

    for (i = 0; i < N_LINES; i++) {
        for (k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(lines[i].family, known[k]) == 0)
                break;
        cr_assert_lt(k, sizeof known / sizeof known[0], "%s: unknown family %s", lines[i].name,
                     lines[i].family);
        snprintf(path, sizeof path, "%s/runtime/shims/%s.c", PTM_SOURCE_DIR, lines[i].family);
        cr_assert_eq(access(path, R_OK), 0, "%s: no %s", lines[i].name, path);
    }
}

Test(shims_def, the_issue_lists_every_call)
{
    /* The calls issue 4 named, each with a line. */
    static const char *const wanted[] = {
        "open", "openat", "creat", "close", "read", "pread", "write", "pwrite", "lseek",
        "fsync", "fdatasync", "ftruncate", "unlink", "rename", "mkdir", "rmdir", "fcntl",
        "flock", "fopen", "fdopen", "freopen", "fclose", "fflush", "fwrite", "fputs", "fputc",
        "putc", "putchar", "puts", "fread", "fgets", "fgetc", "getc", "fseek", "ftell",
        "rewind", "fprintf", "printf", "vfprintf", "vprintf", "dprintf", "socket", "connect",
        "send", "sendto", "sendmsg", "recv", "recvfrom", "sleep", "usleep", "nanosleep",
        "clock_nanosleep", "time", "clock_gettime", "gettimeofday", "pthread_mutex_lock",
        "pthread_mutex_timedlock", "pthread_rwlock_rdlock", "pthread_rwlock_wrlock",
        "pthread_spin_lock",
    };
    size_t i, j;

    for (i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        for (j = 0; j < N_LINES; j++)
            if (strcmp(wanted[i], lines[j].name) == 0)
                break;
        cr_assert_lt(j, N_LINES, "%s has no shim row in calls.def", wanted[i]);
    }
}
