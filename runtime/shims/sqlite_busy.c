/*
** shims/sqlite_busy.c - the primary's busy wait on the host's SQLite
** connections that its mirror used (the SQLite family's primary_apply and
** primary_restore, see struct ptmShimFamily).
**
** Why: SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5,
** 10, 15, 20 ... ms between its tries.  A writer that commits and begins
** its next transaction within a few hundred microseconds holds the write
** lock almost all the time; a waiter's 7 tries in 50 ms then all land on
** the held lock, and the call fails after the whole timeout while the
** other writer commits again and again.  bench/bank's lock timeline
** (bench/bank/holds.py) shows it: the waits that end past 5 ms are covered
** 94-99% by other writers' holds, most by a single writer, with free gaps
** of 50-300 us between its holds (PTM's own writers: their mirror).
**
** What: for the primary of a call whose mirror used host connection db, a
** busy wait on db with the same bound (the rules' timeout_ms shortens it,
** as it shortens the sockets' timeouts, adjust.c) that watches the lock
** instead of sleeping blind: in WAL mode the write lock of the -shm is
** probed (F_OFD_GETLK, no lock taken) every 50 us, and SQLite tries again
** as soon as it is free; in rollback mode the tries are 1 ms, then 0.5-2
** ms apart.  Only a connection whose timeout PTM knows is touched (noted,
** no handler of the host's own, not closed: sqlite_sql.c's table), and its
** sqlite3_busy_timeout is set back after the primary unless the host set
** another meanwhile or closed it.
**
** That handler is opt-in (PTM_SQLITE_BUSY=fine): it helps when writers
** are slowed by a loaded CPU (bench/bank at load 9-15: p99 0.16-0.38x
** plain's, against 0.9-2.2x with SQLite's handler), but on a quiet
** machine PTM's p99 with it was 12.3-12.9 ms against 2.7-7.0 ms with
** SQLite's own (plain: 1.0-1.7 ms; 3 writers of 1000 transfers, 4
** rounds), and a program must not be worse off for being built by ptmcc.  By default the host's own
** handler stays, and only the rules' timeout_ms, when shorter than the
** connection's timeout, shortens it for the primary
** (sqlite3_busy_timeout), set back after as above.
*/
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_int.h"

#define PROBE_NS 50000u            /* between two probes of a WAL write lock */
#define YIELD_NS 10000000u         /* a wait shorter than it yields a free lock */
#define YIELD_DIV 40u              /* ... for (YIELD_NS - waited) / YIELD_DIV: <= 250 us */

/* One connection's wait during a primary. */
struct busyFine {
    sqlite3 *db;
    int host_ms;               /* set back after the primary */
    int fd;                    /* the -shm's private descriptor; -1: rollback mode */
    uint64_t bound_ns;         /* the primary's wait */
    uint64_t token;            /* ptmSqlBusyClaim's */
    uint64_t t0_ns;            /* the running wait's start */
    uint64_t rnd;
};

struct busySaved {
    unsigned n;
    struct busyFine f[PTM_RING_HOST_HANDLES];
};

static void napNs(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

/* fineBusy: SQLite's busy handler during a primary: 1 (try again) once the
** lock looks free, 0 (SQLITE_BUSY) when the wait that began at count 0
** reached its bound. */
static int fineBusy(void *arg, int count)
{
    struct busyFine *f = arg;
    uint64_t now = ptmOsNowNs();
    int err = errno;

    if (count == 0)
        f->t0_ns = now;
    for (;;) {
        uint64_t spent = now - f->t0_ns, ns;
        if (spent >= f->bound_ns) {
            errno = err;
            return 0;
        }
        if (f->fd >= 0) {
            ns = PROBE_NS;
        } else {
            f->rnd ^= f->rnd << 13;
            f->rnd ^= f->rnd >> 7;
            f->rnd ^= f->rnd << 17;
            ns = count == 0 ? 1000000u : 500000u + f->rnd % 1500000u;
        }
        napNs(ns < f->bound_ns - spent ? ns : f->bound_ns - spent);
        if (f->fd < 0)
            break; /* not probed: SQLite tries again */
        if (!ptmSqlWalWriteHeld(f->fd)) {
            /* Free: the waiter that waited longest should take it.  One
            ** that waited less than YIELD_NS lets the others try first,
            ** the less it waited the longer, then looks again. */
            now = ptmOsNowNs();
            spent = now - f->t0_ns;
            if (spent >= YIELD_NS)
                break;
            napNs((YIELD_NS - spent) / YIELD_DIV);
            if (!ptmSqlWalWriteHeld(f->fd))
                break;
        }
        now = ptmOsNowNs();
    }
    errno = err;
    return 1;
}

/* fineWanted: PTM_SQLITE_BUSY=fine (PTM's lock-watching handler). */
static int fineWanted(void)
{
    static _Atomic int fine = -1;
    int v = atomic_load_explicit(&fine, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("PTM_SQLITE_BUSY");
        v = e && strcmp(e, "fine") == 0;
        atomic_store_explicit(&fine, v, memory_order_relaxed);
    }
    return v;
}

/*
** ptmSqlPrimaryApply: see sqlite_int.h.  ring->host_handles is untrusted:
** only a connection in sqlite_sql.c's table is touched.  timeout_us: the
** rules' timeout (0: none), a bound shorter than the connection's own.
** Without PTM_SQLITE_BUSY=fine only a shorter bound changes anything: the
** connection's timeout, for the primary.  Returns what
** ptmSqlPrimaryRestore sets back; NULL: nothing changed.
*/
void *ptmSqlPrimaryApply(const struct ptmRing *ring, uint64_t timeout_us)
{
    struct busySaved *sv = NULL;
    int fine = fineWanted();

    if (!ring || (!fine && !timeout_us))
        return NULL;
    for (unsigned h = 0; h < PTM_RING_HOST_HANDLES; h++) {
        sqlite3 *db = (sqlite3 *)(uintptr_t)atomic_load_explicit(&ring->host_handles[h],
                                                                  memory_order_relaxed);
        int ms = 0;
        uint64_t token;
        if (!db)
            break;
        if (!sv && !(sv = calloc(1, sizeof *sv)))
            break;
        if (!(token = ptmSqlBusyClaim(db, &ms)))
            continue;
        uint64_t bound = (uint64_t)ms * 1000000u;
        if (timeout_us && timeout_us * 1000u < bound)
            bound = timeout_us * 1000u;
        if (!fine && bound == (uint64_t)ms * 1000000u) {
            ptmSqlBusyGiveBack(db, token, ms); /* the same timeout: unchanged */
            continue;
        }
        struct busyFine *f = &sv->f[sv->n++];
        f->db = db;
        f->host_ms = ms;
        f->token = token;
        f->bound_ns = bound;
        f->rnd = ptmOsNowNs() | 1;
        if (!fine) {
            f->fd = -1;
            uint64_t bound_ms = bound / 1000000u;
            sqlite3_busy_timeout(db, bound_ms ? (int)bound_ms : 1);
            continue;
        }
        f->fd = ptmSqlWalLockFd(sqlite3_db_filename(db, "main"));
        sqlite3_busy_handler(db, fineBusy, f);
    }
    if (sv && !sv->n) {
        free(sv);
        sv = NULL;
    }
    return sv;
}

/*
** ptmSqlPrimaryRestore: see sqlite_int.h.  Frees saved.  errno is kept.
*/
void ptmSqlPrimaryRestore(void *saved)
{
    struct busySaved *sv = saved;
    int err = errno;

    for (unsigned k = 0; k < sv->n; k++) {
        ptmSqlBusyGiveBack(sv->f[k].db, sv->f[k].token, sv->f[k].host_ms);
        ptmSqlWalLockPut(sv->f[k].fd);
    }
    free(sv);
    errno = err;
}
