/*
** test_shims_validate.c - the validate family (runtime/shims/validate.c):
** ptm_validate returns its condition; outside a mirror it records
** nothing, in one a failed validation is an event with its message.
*/
#include <criterion/criterion.h>

#include "shims_test.h"

/* ---------------------------------------------------------------- real */

TestSuite(real, .init = makeDir, .fini = removeDir);

Test(real, validate_returns_cond_and_records_nothing)
{
    struct ptmRing *r;
    cr_assert_eq(ptmRingCreate(8, &r), PTM_OK);
    cr_assert_eq(ptm_shim_validate(0, "bad %d", 1), 0);
    cr_assert_eq(ptm_shim_validate(7, "fine"), 7);
    cr_assert_eq(ptmRingCount(r), 0);
    ptmRingDestroy(r);
}

/* -------------------------------------------------------------- mirror */

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, validate_records_the_message)
{
    struct ptmEvent *e;

    cr_assert_eq(ptm_shim_validate(1, "never %s", "formatted"), 1);
    cr_assert_eq(ptmRingCount(ring), 0);
    cr_assert_eq(ptm_shim_validate(0, "balance %ld below %d", -5L, 0), 0);
    cr_assert_eq(ptmRingCount(ring), 1);
    e = event(0);
    cr_assert_eq(e->kind, PTM_EV_VALIDATE);
    cr_assert_eq(e->call, PTM_CALL_ptm_validate);
    cr_assert_str_eq(e->target, "balance -5 below 0");
    cr_assert_str_eq(ptmCallName(e->call), "ptm_validate");

    char longMsg[400];
    memset(longMsg, 'm', sizeof longMsg - 1);
    longMsg[sizeof longMsg - 1] = '\0';
    ptm_shim_validate(0, "%s", longMsg);
    e = event(1);
    cr_assert_eq(strlen(e->target), PTM_TARGET_MAX - 1);
    cr_assert_str_eq(e->target + PTM_TARGET_MAX - 4, "...");
}
