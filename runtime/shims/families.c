/*
** shims/families.c - the shim families as the mirror core sees them.
**
** A family that keeps state in a mirror (in struct ptmMirror.shims, see
** shims_int.h) defines a struct ptmShimFamily in its own file and is listed
** here; the mirror core calls the families only through this table, so
** that it never names a family's functions.
*/
#include "shims_int.h"

/* Weak: libptm_sqlite.a defines it (shims/sqlite.c); a program that calls no
** SQLite in a mirror does not link it, and the entry is NULL. */
extern const struct ptmShimFamily ptmSqliteFamily __attribute__((weak));

/* The order is the order of release: SQLite first (its statements and
** overlays need no other family), a lock next (nothing else needs it),
** then the FILEs, whose flush writes into the simulated descriptors, which
** go last.  ptmSqliteFamily is a weak reference: NULL when the program did
** not link libptm_sqlite.a. */
const struct ptmShimFamily *const ptmShimFamilies[] = {
    &ptmSqliteFamily,
    &ptmLockFamily,
    &ptmStdioFamily,
    &ptmSimFamily,
    &ptmNetFamily,
};
const unsigned ptmShimFamilyCount = sizeof ptmShimFamilies / sizeof ptmShimFamilies[0];
