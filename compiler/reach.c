/*
** reach.c - escapes: what each transaction's mirror reaches, through the
** call graph of the unit's clones, that leaves the mirror (an unknown
** external, a call through a pointer); which executor it needs then, and
** what the user is warned or told.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* A function with a mirror clone, while the call graph is walked. */
typedef struct GraphNode {
    Func *f;
    bool seen;
    int parent; /* the caller through which reach found it first */
} GraphNode;

typedef struct Graph {
    GraphNode *v;
    int n;
} Graph;

static int graph_find(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->v[i].f->name, name) == 0)
            return i;
    return -1;
}

/* reach: the functions whose clones the mirror of g->v[root] runs, in
** breadth-first order.  OUT: order (indices), returns how many. */
static int reach(Graph *g, int root, int *order)
{
    for (int i = 0; i < g->n; i++)
        g->v[i].seen = false;
    int n = 0;
    order[n++] = root;
    g->v[root].seen = true;
    g->v[root].parent = root;
    for (int k = 0; k < n; k++) {
        Func *f = g->v[order[k]].f;
        for (int i = 0; i < f->ncallees; i++) {
            int j = graph_find(g, f->callees[i]);
            if (j >= 0 && !g->v[j].seen) {
                g->v[j].seen = true;
                g->v[j].parent = order[k];
                order[n++] = j;
            }
        }
    }
    return n;
}

char *escape_reason(const Escape *e)
{
    unsigned line, col;
    src_line_col(e->loc, &line, &col);
    const char *path = e->loc.file ? e->loc.file->path : "?";
    if (e->macro_defined)
        return format("calls '%s', defined by a macro (%s:%u)", e->callee, path, line);
    if (e->callee)
        return format("calls unknown external '%s' (%s:%u)", e->callee, path, line);
    return format("calls through a function pointer (%s:%u)", path, line);
}

static DiagGroup escape_group(const Escape *e)
{
    return e->macro_defined ? W_UNCLONEABLE
           : e->callee      ? W_UNKNOWN_EXTERNAL
                            : W_FUNCTION_POINTER;
}

/* call_path: "tx -> f -> g", the calls from the root of the last reach to
** node i.  malloc'd. */
static char *call_path(const Graph *g, int i)
{
    int chain[64], n = 0;
    for (int k = i; n < 64; k = g->v[k].parent) {
        chain[n++] = k;
        if (g->v[k].parent == k)
            break;
    }
    Buf b = {0};
    while (n-- > 0)
        buf_printf(&b, "%s%s", b.len ? " -> " : "", g->v[chain[n]].f->name);
    return b.data;
}

/* warn_transaction: one warning per group for a transaction whose mirror
** forks, at the first call of that group it reaches (breadth first), with
** the path to it: "the mirror of 'fetch' forks: it reaches unknown
** external 'curl_easy_perform' via fetch -> http_get". */
static void warn_transaction(const Graph *g, const Func *t, const int *order, int n)
{
    bool said[DIAG_NGROUPS] = {false};
    for (int k = 0; k < n; k++) {
        const Func *f = g->v[order[k]].f;
        for (int i = 0; i < f->nescapes; i++) {
            const Escape *e = &f->escapes[i];
            DiagGroup grp = escape_group(e);
            if (said[grp])
                continue;
            said[grp] = true;
            char *path = call_path(g, order[k]);
            if (e->macro_defined)
                warning_at(grp, e->loc, e->len, "the mirror of '%s' forks: it reaches '%s' via "
                           "%s, and ptmcc cannot clone it (a macro writes its definition)",
                           t->name, e->callee, path);
            else if (e->callee)
                warning_at(grp, e->loc, e->len, "the mirror of '%s' forks: it reaches unknown "
                           "external '%s' via %s", t->name, e->callee, path);
            else
                warning_at(grp, e->loc, e->len, "the mirror of '%s' forks: it calls through a "
                           "function pointer via %s", t->name, path);
            free(path);
        }
    }
}

static void warn_escape(const Func *f, const Escape *e)
{
    if (e->macro_defined)
        warning_at(W_UNCLONEABLE, e->loc, e->len, "call to '%s' in the mirror of '%s': a macro writes its "
                   "definition, so ptmcc cannot clone it; transactions that reach it need the "
                   "fork executor", e->callee, f->name);
    else if (e->callee)
        warning_at(W_UNKNOWN_EXTERNAL, e->loc, e->len, "call to unknown external '%s' in the mirror of '%s': "
                   "transactions that reach it need the fork executor", e->callee, f->name);
    else
        warning_at(W_FUNCTION_POINTER, e->loc, e->len, "call through a function pointer in the mirror of '%s': "
                   "transactions that reach it need the fork executor", f->name);
}

static void note_escape(const Func *f, const Escape *e)
{
    if (e->macro_defined)
        note_at(e->loc, e->len, "'%s' calls '%s' here, which a macro defines", f->name,
                e->callee);
    else if (e->callee)
        note_at(e->loc, e->len, "'%s' calls unknown external '%s' here", f->name, e->callee);
    else
        note_at(e->loc, e->len, "'%s' calls through a function pointer here", f->name);
}

/* buffer_all: every function of order[0, n) whose accesses can go
** through the write buffer does: a clone of another file may store
** through it, and a load of this file's clones must then see that store
** (and the other files' clones see this file's). */
static void buffer_all(Graph *g, const int *order, int n)
{
    for (int k = 0; k < n; k++) {
        Func *f = g->v[order[k]].f;
        f->redo = f->redo || f->inl.redo_ok;
    }
}

/* prove_across_files: a mirror that reaches clones of other files, whose
** facts only the linked program holds: the runtime walks them (ABI 7,
** runtime/clones.c), and inline_ok stays 0 in the descriptor.  What this
** file alone rules out is known now: a function that stores outside its
** locals where the write buffer cannot follow. */
static void prove_across_files(Graph *g, Func *t, const int *order, int n)
{
    t->inline_ok = false;
    buffer_all(g, order, n);
    for (int k = 0; k < n && t->tx_redo && !t->inline_blocker; k++) {
        Func *f = g->v[order[k]].f;
        if (!f->inl.redo_ok)
            t->inline_blocker = format("%s: %s", f->name, f->inl.redo_blocker);
    }
}

/* prove_inline: a transaction's mirror may run inline when it needs no fork,
** every function it reaches is in this file (else the runtime decides,
** prove_across_files), and each stores only into its own locals (prove.c) -- or, when one does not, when every one of them
** can be instrumented to access memory through the write buffer: then
** every function of the mirror is (a function that only reads must still
** read what another wrote to the buffer).
** OUT: t->inline_ok, t->tx_redo, t->inline_blocker, and ->redo of each
** function of an instrumented mirror. */
static void prove_inline(Graph *g, Func *t, int *order, int n)
{
    t->inline_ok = !t->needs_fork;
    t->tx_redo = false;
    t->xtu_reach = false;
    for (int k = 0; k < n; k++) {
        Func *f = g->v[order[k]].f;
        t->xtu_reach |= f->nxcallees > 0 || f->nindirects > 0 || f->nbody_indirects > 0;
        t->tx_redo |= !f->inl.local_stores_only;
    }
    if (t->xtu_reach && t->inline_ok) {
        prove_across_files(g, t, order, n);
        return;
    }
    for (int k = 0; k < n && t->inline_ok && t->tx_redo; k++) {
        Func *f = g->v[order[k]].f;
        if (!f->inl.redo_ok) {
            t->inline_ok = false;
            t->inline_blocker = format("%s: %s", f->name, f->inl.redo_blocker);
        }
    }
    for (int k = 0; k < n && t->inline_ok && t->tx_redo; k++)
        g->v[order[k]].f->redo = true;
}

/* inline_error: `mirror = inline` needs every call of the mirror inside it
** and every store in the mirror's locals; the error says what is not. */
static void inline_error(Graph *g, int root, int *order)
{
    Func *t = g->v[root].f;
    if (!t->needs_fork) {
        annot_error(&t->annot, t->meta.mirror_off, t->meta.mirror_off + t->meta.mirror_len,
                    "'mirror = inline' needs the mirror of '%s' to keep its stores from the "
                    "host's memory: %s", t->name, t->inline_blocker);
        int n = reach(g, root, order);
        for (int k = 0; k < n; k++) {
            Func *f = g->v[order[k]].f;
            if (!f->inl.redo_ok)
                note_at((SrcLoc){f->file, f->inl.redo_blocker_off}, 1,
                        "'%s' cannot go through the write buffer here; use 'auto' or 'fork'",
                        f->name);
        }
        return;
    }
    annot_error(&t->annot, t->meta.mirror_off, t->meta.mirror_off + t->meta.mirror_len,
                "'mirror = inline' needs every call in the mirror of '%s' to reach a shim or "
                "a mirror clone", t->name);
    int n = reach(g, root, order);
    for (int k = 0; k < n; k++) {
        Func *f = g->v[order[k]].f;
        for (int i = 0; i < f->nescapes; i++)
            note_escape(f, &f->escapes[i]);
    }
}

/* analyse_escapes: each transaction learns whether its mirror needs the
** fork executor, and why; escapes reachable from an `auto` transaction or
** from a PTM_MIRRORABLE clone are warned about, and `mirror = inline`
** with escapes is an error.  Returns false after an error. */
bool analyse_escapes(Unit *u)
{
    Graph g = {xcalloc((size_t)(u->nfuncs + u->nclones + 1), sizeof *g.v), 0};
    for (int i = 0; i < u->nfuncs; i++)
        g.v[g.n++] = (GraphNode){&u->funcs[i], false, 0};
    for (int i = 0; i < u->nclones; i++)
        g.v[g.n++] = (GraphNode){&u->clones[i], false, 0};
    int *order = xcalloc((size_t)g.n + 1, sizeof *order);
    bool *warn = xcalloc((size_t)g.n + 1, sizeof *warn);
    bool ok = true;
    for (int r = 0; r < g.n; r++) {
        Func *root = g.v[r].f;
        bool is_tx = r < u->nfuncs;
        /* under -fptm-mirror-all a static clone may be called through a
        ** pointer from any file's mirror: buffered too */
        if (!is_tx && !root->external_clone && !front_mirror_all())
            continue;
        int n = reach(&g, r, order);
        for (int k = 0; k < n && is_tx && !root->mirror_reason; k++) {
            Func *f = g.v[order[k]].f;
            if (f->nescapes) {
                root->needs_fork = true;
                root->mirror_reason = escape_reason(&f->escapes[0]);
            }
        }
        if (is_tx)
            prove_inline(&g, root, order, n);
        else
            buffer_all(&g, order, n); /* any file's mirror may run it */
        MirrorMode m = is_tx ? root->meta.mirror : MIRROR_AUTO;
        /* Under -fptm-mirror-all every function is a clone for other
        ** files: what forks them is told to the transactions (here, and
        ** at run time in the trace), not at each call of the program. */
        if (m == MIRROR_AUTO && is_tx)
            warn_transaction(&g, root, order, n); /* one summary per group */
        else if (m == MIRROR_AUTO && !front_mirror_all())
            for (int k = 0; k < n; k++)
                warn[order[k]] = true; /* a PTM_MIRRORABLE clone's escapes */
        /* reaching other files' clones, `inline` is checked at run time */
        bool run_time = root->xtu_reach && !root->needs_fork && !root->inline_blocker;
        if (m == MIRROR_INLINE && !root->inline_ok && !run_time) {
            inline_error(&g, r, order);
            ok = false;
        }
    }
    for (int i = 0; i < g.n; i++)
        for (int k = 0; warn[i] && k < g.v[i].f->nescapes; k++)
            warn_escape(g.v[i].f, &g.v[i].f->escapes[k]);
    free(warn);
    free(order);
    free(g.v);
    return ok;
}
