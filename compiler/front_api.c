/*
** front_api.c - the one symbol of libptmcc_front.so that the driver looks
** up: the table of the front end's entry points.
**
** Everything here is linked into the shared object, never into ptmcc:
** ptmcc loads it (front_load.c) only for a unit that needs a parse, so
** that a unit without annotations costs no libclang and no libLLVM.  The
** object leaves util.c, source.c, diag.c and the other driver-side files
** undefined: it binds them to ptmcc's own copies, so that the source cache
** and the diagnostics (their count, their format) are the driver's.
*/
#include "ptmcc.h"
#include "ptmcc_config.h"

/* ptmcc_front_api: exported by name (front_load.c's dlsym); the only
** symbol the shared object exports, its files being compiled with
** -fvisibility=hidden so that their calls to each other are direct. */
__attribute__((visibility("default"))) const FrontApi ptmcc_front_api = {
    .size = sizeof(FrontApi),
    .version = PTM_VERSION_STRING,
    .parse = front_parse,
    .needs_rewrite = unit_needs_rewrite,
    .emit = emit_unit,
    .check_exprs = front_check_exprs,
    .unit_free = unit_free,
    .dump = dump_annotations,
    .verify_mirror = verify_mirror,
    .set_mirror_all = front_set_mirror_all,
};
