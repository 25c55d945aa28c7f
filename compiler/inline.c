/*
** inline.c - what the inline executor needs from ptmcc, per function of a
** mirror's tree (inline_facts):
**
**   bounds_rewrite.c  the checks of its stores into local arrays;
**   prove.c           the proof that its stores stay in its own locals;
**   redo_rewrite.c    else, the write-buffer rewrite of its other accesses;
**   polls.c           its cancellation points.
**
** cursor.c and spans.c hold what these share; calls.c what a library call
** writes.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

void inline_facts(CXCursor fn, CXCursor body, SrcFile *file, const Callees *callees,
                  InlineFacts *out)
{
    out->blocker = NULL;
    out->redo_blocker = NULL;
    out->redo = NULL;
    out->nredo = 0;
    out->bounds = NULL;
    out->nbounds = 0;
    bounds_checks(body, file, callees, out);
    prove_stores(fn, body, file, out);
    out->local_stores_only = out->blocker == NULL;
    redo_rewrite(fn, body, file, callees, out);
    out->redo_ok = out->redo_blocker == NULL;
    find_polls(body, file, out);
}

void inline_facts_free(InlineFacts *f)
{
    free(f->blocker);
    free(f->polls);
    free(f->redo_blocker);
    for (int i = 0; i < f->nredo; i++)
        free(f->redo[i].text);
    free(f->redo);
    for (int i = 0; i < f->nbounds; i++)
        free(f->bounds[i].text);
    free(f->bounds);
    for (int i = 0; i < f->nmacros; i++) {
        free(f->macros[i].name);
        free(f->macros[i].def);
    }
    free(f->macros);
    *f = (InlineFacts){0};
}
