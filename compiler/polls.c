/*
** polls.c - cancellation points: offsets in a mirror clone's body where it
** polls ptm_mirror_cancel (function entry, every loop iteration, every
** label, since a label can be the target of a backward goto), so that the
** watchdog can stop an endless loop at a point where no lock is held.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* ------------------------------------------------------------------------
** Cancellation points
*/
static void add_poll(InlineFacts *f, size_t off, bool wrap, size_t wrap_end)
{
    f->polls = xrealloc(f->polls, sizeof *f->polls * (size_t)(f->npolls + 1));
    f->polls[f->npolls++] = (Poll){off, wrap, wrap_end};
}

/* poll_body: the statement a loop repeats gets a poll at its start; one
** without braces is wrapped in them. */
typedef struct PollScan {
    InlineFacts *f;
    SrcFile *file;
} PollScan;

static void poll_body(PollScan *ps, CXCursor body)
{
    InlineFacts *f = ps->f;
    unsigned s, e;
    /* A loop written by a macro cannot be edited in place (the watchdog's
    ** signal still stops it), nor can a declaration be wrapped in braces. */
    if (!written_in_file(body, NULL, &s, &e) || clang_getCursorKind(body) == CXCursor_DeclStmt)
        return;
    if (clang_getCursorKind(body) == CXCursor_CompoundStmt)
        add_poll(f, s + 1, false, 0);
    else
        add_poll(f, s, true, statement_end(ps->file, e));
}

static enum CXChildVisitResult poll_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    PollScan *ps = data;
    switch (clang_getCursorKind(c)) {
    case CXCursor_ForStmt:
    case CXCursor_WhileStmt:
    case CXCursor_DoStmt: {
        /* The body is the last child of for and while, the first of do. */
        Kids k = kids_of(c);
        if (k.n >= 1 && k.n <= 4)
            poll_body(ps, clang_getCursorKind(c) == CXCursor_DoStmt ? k.c[0] : k.c[k.n - 1]);
        break;
    }
    case CXCursor_LabelStmt: {
        Kids k = kids_of(c);
        if (k.n >= 1)
            poll_body(ps, k.c[0]);
        break;
    }
    default:
        break;
    }
    return CXChildVisit_Recurse;
}

void find_polls(CXCursor body, SrcFile *file, InlineFacts *out)
{
    unsigned open;
    clang_getExpansionLocation(clang_getRangeStart(clang_getCursorExtent(body)), NULL, NULL,
                               NULL, &open);
    add_poll(out, open + 1, false, 0); /* function entry */
    PollScan ps = {out, file};
    clang_visitChildren(body, poll_visit, &ps);
}
