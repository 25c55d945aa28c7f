/*
** shims/families.c - the shim families as the mirror core sees them.
**
** A family that keeps state in a mirror (in struct ptmMirror.shims, see
** shims_int.h) defines a struct ptmShimFamily in its own file and is listed
** here; the mirror core calls the families only through this table, so
** that it never names a family's functions.
*/
#include "shims_int.h"

/* The order is the order of release: a lock first (nothing else needs
** it), then the FILEs, whose flush writes into the simulated descriptors,
** which go last. */
const struct ptmShimFamily *const ptmShimFamilies[] = {
    &ptmLockFamily,
    &ptmStdioFamily,
    &ptmSimFamily,
    &ptmNetFamily,
    NULL,
};
