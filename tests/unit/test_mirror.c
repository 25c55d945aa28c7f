/*
** test_mirror.c - the mirror core (runtime/mirror.c, ring.c), which every
** shim family records through: leaving a mirror closes what it left open,
** a full ring drops events and never calls, and the names of calls,
** statuses and fields the events and traces carry.
*/
#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/syscall.h>

#include "shims_test.h"

/* -------------------------------------------------------------- mirror */

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

static int countFds(void)
{
    return entries("/proc/self/fd");
}

Test(mirror, leave_closes_what_the_mirror_left_open)
{
    int before = countFds();
    writeFile(at("r"), "r");
    cr_assert_geq(ptm_shim_open(at("r"), O_RDONLY), 0);
    cr_assert_geq(ptm_shim_open(at("r"), O_WRONLY), 0);
    cr_assert_not_null(ptm_shim_fopen(at("r"), "r"));
    FILE *w = ptm_shim_fopen(at("w"), "w");
    cr_assert_not_null(w);
    ptm_shim_fprintf(w, "buffered");
    cr_assert_eq(countFds(), before + 4);
    ptmMirrorLeave(&mirror);
    cr_assert_null(ptmMirrorCurrent);
    cr_assert_null(ptmSimWorldOf(&mirror)->files);
    cr_assert_eq(countFds(), before);
    cr_assert_neq(access(at("w"), F_OK), 0, "the leaked FILE flushed into simulation");
}

Test(mirror, a_full_ring_drops_events_not_calls)
{
    int i;
    for (i = 0; i < 300; i++)
        cr_assert_eq(ptm_shim_printf("%d", i % 10), 1);
    cr_assert_eq(ptmRingCount(ring), 256);
    cr_assert_eq(ptmRingDropped(ring), 44);
}

/* --------------------------------------------------------------- names */

Test(names, calls_syscalls_fields_statuses)
{
    char f[8];

    cr_assert_str_eq(ptmCallName(PTM_CALL_write), "write");
    cr_assert_str_eq(ptmCallName(PTM_CALL_fopen), "fopen");
    cr_assert_str_eq(ptmCallName(PTM_CALL_puts), "puts");
    cr_assert_str_eq(ptmCallName(PTM_CALL_SYSCALL | SYS_write), "write");
    cr_assert_str_eq(ptmCallName(PTM_CALL_SYSCALL | SYS_openat), "openat");
    cr_assert_str_eq(ptmCallName(PTM_CALL_SYSCALL | SYS_unlink), "unlink");
    cr_assert_str_eq(ptmCallName(PTM_CALL_COUNT + 5), "?");
    ptmCopyField(f, sizeof f, "short");
    cr_assert_str_eq(f, "short");
    ptmCopyField(f, sizeof f, "exactly");
    cr_assert_str_eq(f, "exactly");
    ptmCopyField(f, sizeof f, "too long by far");
    cr_assert_str_eq(f, "too ...");
    ptmCopyField(f, sizeof f, NULL);
    cr_assert_str_eq(f, "");
    cr_assert_str_eq(ptmStatusName(PTM_MS_RETURNED), "returned");
    cr_assert_str_eq(ptmStatusName(PTM_MS_CRASHED), "crashed");
    cr_assert_str_eq(ptmStatusName(PTM_MS_TIMEOUT), "timeout");
    cr_assert_str_eq(ptmStatusName(PTM_MS_DENIED), "denied");
    cr_assert_str_eq(ptmStatusName(PTM_MS_FAILED), "failed");
}

Test(names, record_outside_a_mirror_is_null)
{
    cr_assert_null(ptmMirrorCurrent);
    cr_assert_null(ptmMirrorRecord(PTM_EV_CALL, PTM_CALL_write, ptmOsNowNs()));
}
