/*
** clones.c - mirrors that call into other files: the run-time walk of a
** mirror's reachable set through the clones' facts (ABI 7), the clone map
** for calls through pointers (ptm_clone_of), and, below, the event of a
** clone that is missing because its file was not built by ptmcc.
**
** A mirror calls a PTM_MIRRORABLE function of another file through a weak
** reference to its clone; when that file was compiled without ptmcc the
** clone is missing and the generated code calls the function itself, after
** telling the runtime here.  Nothing passes through silently: the event
** goes into the mirror's observation (and so into the trace and the rules'
** view), and the fork executor's seccomp filter stops the function's
** writes as it does for any unknown external.
*/
#include "ptm_int.h"

#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
** ptm_note_missing_clone: records a PTM_EV_MISSING_CLONE event naming the
** function in the running mirror.  Outside a mirror (a clone cannot run
** there, but a program may call a mirror function by hand) it does
** nothing.  Async-signal-safe, like every event.
*/
PTM_API void ptm_note_missing_clone(const char *name)
{
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_MISSING_CLONE, PTM_CALL_COUNT, ptmOsNowNs());
    if (!ev)
        return;
    ptmCopyField(ev->target, sizeof ev->target, name);
    ptmCopyField(ev->detail, sizeof ev->detail, "no mirror clone: ran as it is");
}

/*
** The walk of a mirror's reachable set across files (ABI 7).
**
** ptmcc proved what it could see: the functions of the transaction's own
** file.  The rest of the mirror runs clones that other files' ptmcc runs
** proved, each described by its facts record.  The walk goes breadth
** first from the transaction's mirror through every call, so that the
** first function that forces fork is reached by a shortest path, which
** the reason spells.  The mirror runs inline only when every function has
** facts, none needs fork, and, if any stores outside its locals, every
** one is buffered: a clone that reads memory without the write buffer
** would read what the mirror's own buffered store left stale.
*/
#define XTU_MAX_FUNCS 65536u

typedef struct xtuNode {
    const struct ptm_xfacts *f;
    unsigned parent; /* index of the caller in the walk; the root: itself */
} xtuNode;

typedef struct xtuWalk {
    xtuNode *v;
    unsigned n, cap, max;
    const struct ptm_xfacts **seen; /* open addressing, cap2 slots */
    unsigned cap2;
} xtuWalk;

static unsigned xtuHash(const void *p, unsigned cap)
{
    uintptr_t a = (uintptr_t)p;
    a ^= a >> 17;
    a *= 0x9E3779B97F4A7C15ull;
    return (unsigned)(a >> 32) & (cap - 1);
}

/* xtuVisit: 1 when f was queued already; else queues it and returns 0; -1
** when out of room (memory, or more than max functions). */
static int xtuVisit(xtuWalk *w, const struct ptm_xfacts *f, unsigned parent)
{
    unsigned h = xtuHash(f, w->cap2);
    while (w->seen[h]) {
        if (w->seen[h] == f)
            return 1;
        h = (h + 1) & (w->cap2 - 1);
    }
    if (w->n >= w->max)
        return -1;
    if (w->n == w->cap) {
        unsigned cap = w->cap * 2;
        xtuNode *v = realloc(w->v, sizeof *v * cap);
        if (!v)
            return -1;
        w->v = v;
        w->cap = cap;
    }
    if ((w->n + 1) * 2 > w->cap2) {
        unsigned cap2 = w->cap2 * 2;
        const struct ptm_xfacts **seen = calloc(cap2, sizeof *seen);
        if (!seen)
            return -1;
        for (unsigned i = 0; i < w->n; i++) {
            unsigned k = xtuHash(w->v[i].f, cap2);
            while (seen[k])
                k = (k + 1) & (cap2 - 1);
            seen[k] = w->v[i].f;
        }
        free(w->seen);
        w->seen = seen;
        w->cap2 = cap2;
        h = xtuHash(f, cap2);
        while (w->seen[h])
            h = (h + 1) & (cap2 - 1);
    }
    w->seen[h] = f;
    w->v[w->n++] = (xtuNode){f, parent};
    return 0;
}

/* xtuPath: "a -> b -> c", the calls from the root to node i, into out. */
static void xtuPath(const xtuWalk *w, unsigned i, char *out, size_t cap)
{
    unsigned chain[32];
    unsigned n = 0;
    for (unsigned k = i;; k = w->v[k].parent) {
        if (n < sizeof chain / sizeof *chain)
            chain[n++] = k;
        else
            chain[n - 1] = k; /* a long chain keeps its root */
        if (w->v[k].parent == k)
            break;
    }
    size_t len = 0;
    out[0] = '\0';
    while (n-- > 0 && len + 1 < cap) {
        int m = snprintf(out + len, cap - len, "%s%s", len ? " -> " : "", w->v[chain[n]].f->name);
        if (m < 0)
            break;
        len += (size_t)m < cap - len ? (size_t)m : cap - len - 1;
    }
}

/* xtuFork: the walk's answer is fork, for the reason fmt makes of a, b
** and c (cut to the field, which a long path may fill). */
static void xtuFork(struct ptm_xstate *out, const char *fmt, const char *a, const char *b,
                    const char *c)
{
    out->inline_ok = 0;
    out->redo = 0;
    if (snprintf(out->reason, sizeof out->reason, fmt, a, b, c) >= (int)sizeof out->reason)
        memcpy(out->reason + sizeof out->reason - 4, "...", 4);
}

void ptmXtuWalk(const struct ptm_xfacts *root, unsigned max, struct ptm_xstate *out)
{
    char path[192];
    xtuWalk w = {malloc(sizeof *w.v * 16), 0, 16, max ? max : XTU_MAX_FUNCS,
                 calloc(32, sizeof *w.seen), 32};
    out->nfuncs = 0;
    if (!w.v || !w.seen || xtuVisit(&w, root, 0) < 0) {
        xtuFork(out, "%s%s%s", "no memory to resolve the mirror's clones: fork", "", "");
        goto done;
    }
    int stores_out = 0, indirect = 0;
    unsigned writer = 0, unbuffered = 0;
    int has_unbuffered = 0;
    for (unsigned i = 0; i < w.n; i++) {
        const struct ptm_xfacts *f = w.v[i].f;
        if (f->fork) {
            xtuPath(&w, i, path, sizeof path);
            xtuFork(out, "reaches '%s' via %s: %s", f->name, path, f->fork);
            goto done;
        }
        if ((f->stores_out || f->indirect) && !stores_out) {
            stores_out = 1;
            writer = i;
        }
        indirect |= f->indirect;
        if (!f->buffered && !has_unbuffered) {
            has_unbuffered = 1;
            unbuffered = i;
        }
        for (unsigned k = 0; k < f->n_calls; k++) {
            const struct ptm_xcall *c = &f->calls[k];
            if (!c->facts) {
                xtuPath(&w, i, path, sizeof path);
                xtuFork(out, "reaches '%s' via %s: no mirror clone (%s)", c->name, path,
                        "its file was not built by ptmcc -fptm-mirror-all");
                goto done;
            }
            int rc = xtuVisit(&w, c->facts, i);
            if (rc < 0) {
                xtuFork(out, "%s%s%s", "the mirror reaches too many functions to resolve: fork",
                        "", "");
                goto done;
            }
        }
    }
    out->nfuncs = w.n;
    if (stores_out && has_unbuffered) {
        char wp[160];
        xtuPath(&w, writer, wp, sizeof wp);
        xtuPath(&w, unbuffered, path, sizeof path);
        xtuFork(out, w.v[writer].f->stores_out
                         ? "'%s' stores outside its locals (via %s), and the clone of %s reads "
                           "memory without the write buffer"
                         : "'%s' calls through a pointer (via %s), and the clone of %s reads "
                           "memory without the write buffer",
                w.v[writer].f->name, wp, path);
        goto done;
    }
    out->inline_ok = 1;
    out->redo = stores_out;
    out->indirect = indirect;
    snprintf(out->reason, sizeof out->reason,
             stores_out ? "auto: the mirror's %u functions across files call only shims and "
                          "clones, and their stores outside their locals go to its write buffer"
                        : "auto: the mirror's %u functions across files store only into their "
                          "locals and call only shims and clones",
             w.n);
done:
    out->nfuncs = w.n;
    free(w.v);
    free(w.seen);
}

/*
** The clone map: every function of the units built with -fptm-mirror-all,
** with its clone and facts (the section ptm_xmap), for the calls through
** pointers of mirror clones.  Loaded once, outside any mirror, by the
** first transaction whose mirror calls through a pointer; each target
** judged then, so that ptm_clone_of neither allocates nor walks inside a
** mirror (a watchdog's jump out of malloc would leave its lock held).
*/
extern const struct ptm_xmap __start_ptm_xmap[] __attribute__((weak));
extern const struct ptm_xmap __stop_ptm_xmap[] __attribute__((weak));

typedef struct xtuTarget {
    const struct ptm_xmap *m;
    const char *why; /* NULL: its whole reachable set is proved, buffered */
} xtuTarget;

static xtuTarget *targets;
static size_t ntargets;
static int targetsReady; /* 0 not yet, 1 loaded, -1 no memory */
static pthread_once_t targetsOnce = PTHREAD_ONCE_INIT;

static int xtuCmpTarget(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const xtuTarget *)a)->m->fn;
    uintptr_t y = (uintptr_t)((const xtuTarget *)b)->m->fn;
    return x < y ? -1 : x > y;
}

/* xtuJudge: why the clone of target may not run in an inline mirror with
** the write buffer on (a static string, or one of the kept reasons), or
** NULL. */
static const char *xtuJudge(const struct ptm_xfacts *facts)
{
    struct ptm_xstate st = {0};
    ptmXtuWalk(facts, 0, &st);
    if (st.inline_ok)
        return NULL;
    char *why = malloc(strlen(st.reason) + 32);
    if (!why)
        return "a target of a call through a pointer is not proved";
    snprintf(why, strlen(st.reason) + 32, "through a pointer: %s", st.reason);
    return why;
}

static void xtuLoad(void)
{
    size_t n = __start_ptm_xmap && __stop_ptm_xmap ? (size_t)(__stop_ptm_xmap - __start_ptm_xmap)
                                                   : 0;
    xtuTarget *t = calloc(n ? n : 1, sizeof *t);
    if (!t) {
        __atomic_store_n(&targetsReady, -1, __ATOMIC_RELEASE);
        return;
    }
    /* a function's row and its clone's are neighbours, with one record */
    for (size_t i = 0; i < n; i++)
        t[i] = (xtuTarget){&__start_ptm_xmap[i],
                           i && __start_ptm_xmap[i].facts == __start_ptm_xmap[i - 1].facts
                               ? t[i - 1].why
                               : xtuJudge(__start_ptm_xmap[i].facts)};
    qsort(t, n, sizeof *t, xtuCmpTarget);
    targets = t;
    ntargets = n;
    __atomic_store_n(&targetsReady, 1, __ATOMIC_RELEASE);
}

enum ptmRc ptmXtuLoadTargets(void)
{
    pthread_once(&targetsOnce, xtuLoad);
    return __atomic_load_n(&targetsReady, __ATOMIC_ACQUIRE) == 1 ? PTM_OK : PTM_ENOMEM;
}

PTM_API void (*ptm_clone_of(void (*fn)(void)))(void)
{
    if (__atomic_load_n(&targetsReady, __ATOMIC_ACQUIRE) == 1) {
        size_t lo = 0, hi = ntargets;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if ((uintptr_t)targets[mid].m->fn < (uintptr_t)fn)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < ntargets && targets[lo].m->fn == fn) {
            if (targets[lo].why)
                ptmMirrorBail(targets[lo].why);
            return targets[lo].m->clone;
        }
    }
    /* Not a function of a unit built with -fptm-mirror-all: only the fork
    ** executor's sandbox contains it. */
    ptmMirrorBail("calls through a pointer a function without a mirror clone");
    return fn;
}

const struct ptm_xstate *ptmXtuResolve(const struct ptm_tx_desc *desc)
{
    if (!desc->xfacts || !desc->xstate)
        return NULL;
    struct ptm_xstate *s = desc->xstate;
    if (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) == 2)
        return s;
    /* Threads that meet an unresolved transaction at once each walk; the
    ** first to claim the state publishes, the others wait for it (the walk
    ** is short, and its result the same for all). */
    int expected = 0;
    if (__atomic_compare_exchange_n(&s->done, &expected, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        struct ptm_xstate r = {0};
        ptmXtuWalk(desc->xfacts, 0, &r);
        /* the clone map, read outside any mirror: a mirror that calls
        ** through pointers looks its targets up there */
        if (r.inline_ok && r.indirect && ptmXtuLoadTargets() != PTM_OK)
            xtuFork(&r, "%s%s%s", "no memory for the clone map: fork", "", "");
        s->inline_ok = r.inline_ok;
        s->redo = r.redo;
        s->indirect = r.indirect;
        s->nfuncs = r.nfuncs;
        memcpy(s->reason, r.reason, sizeof s->reason);
        __atomic_store_n(&s->done, 2, __ATOMIC_RELEASE);
        return s;
    }
    while (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
    return s;
}
