/*
** shims/sqlite.c - the SQLite API in a mirror: sqlite3_open open_v2 exec
** prepare prepare_v2 prepare_v3 prepare16 prepare16_v2 prepare16_v3
** bind_blob bind_blob64 bind_double bind_int bind_int64 bind_null bind_text
** bind_text16 bind_text64 bind_value bind_zeroblob bind_zeroblob64
** bind_pointer step reset clear_bindings finalize column_blob column_bytes
** column_bytes16 column_double column_int column_int64 column_text
** column_text16 column_type column_value data_count stmt_busy db_handle
** expanded_sql changes changes64 total_changes total_changes64
** last_insert_rowid errmsg errmsg16 errcode extended_errcode get_autocommit
** busy_timeout close close_v2 free mprintf vmprintf.  (The host's busy
** timeouts, ptm_note_sqlite3_busy_timeout, are sqlite_sql.c's.)
**
** Outside a mirror each shim is the real call.  In a mirror no SQL runs on
** a host connection.  Each connection the mirror uses maps to the overlay
** of shims/sqlite_int.h on the same database file (sqlite3_db_filename of
** "main"): the overlay reads the real file, keeps every write in memory and
** probes the locks.  The overlay is begun once per mirror and connection,
** at the first statement, with the busy policy the host would follow:
** PTM_SQL_BUSY_FAIL when its busy timeout is known to be 0 (the table
** ptm_note_sqlite3_busy_timeout fills; a connection the mirror opened
** itself has 0 until the mirror sets one), else PTM_SQL_BUSY_GO_ON.
**   - A connection the mirror opens (sqlite3_open*; a "file:" URI is read
**     for its path and mode=ro|memory) is handed out as the overlay's own
**     handle; closing it, or a host handle, does nothing
**     (the overlay stays cached for the next mirror).  ":memory:" and ""
**     open a private in-memory connection, closed when the mirror ends.
**   - A connection that could not write for real (a host connection
**     sqlite3_db_readonly says is, an open with SQLITE_OPEN_READONLY or of
**     a file the process may not write) fails a statement that writes with
**     SQLITE_READONLY before it runs on the overlay, which can write.
**   - A host connection on an in-memory or temporary database has no file
**     to overlay: in a fork child the calls run on the host connection (the
**     child's copy: nothing leaves the process); an inline mirror bails.
**   - Databases ATTACHed to a host connection are not mirrored (the overlay
**     contract is one file per overlay): an event with PTM_EVF_PRETENDED
**     says so, since a statement naming them fails on the overlay.
**   - A statement the mirror prepares is prepared on the overlay and handed
**     out as it is; when the mirror finalizes it, or ends, it is parked
**     (reset, bindings cleared) for the next mirror of the thread that
**     prepares the same text on that overlay.  A statement the host prepared before the mirror (not in
**     this mirror's registry) gets an overlay twin on first use,
**     re-prepared from sqlite3_sql with the host's bindings, which the API
**     lets no one read but sqlite3_expanded_sql writes as literals: they
**     are read back from it and bound (a REAL is rendered with 15
**     significant digits, so a double that needs 17 may differ in its last
**     digits).  When the two texts do not line up the twin is prepared from
**     the expanded text itself; should the mirror then bind, it is
**     re-prepared from sqlite3_sql without the host's other bindings.  A
**     host statement the host left mid-step
**     (sqlite3_stmt_busy) is stepped from its start: its event's detail
**     says "restarted".  finalize and reset of a host statement touch only
**     its twin.
**   - bind_*: always SQLITE_TRANSIENT on the overlay statement; the mirror's
**     destructor is never called (it could be host code, or free() of a
**     pointer of the mirror's heap).
**   - sqlite3_exec runs its statements itself, each one an event; a
**     callback is host code: an inline mirror bails, a fork child calls it.
**     The error message, like sqlite3_mprintf's and expanded_sql's strings,
**     is recorded as handed to the mirror: sqlite3_free frees only those,
**     and any other pointer is left alone.  What the mirror did not free is
**     freed when it ends.
**
** Events: a statement that finishes (SQLITE_DONE or an error) is one
** PTM_EV_CALL event of sqlite3_step (sqlite3_exec for exec's statements):
** target the SQL with its literals as "?" and its white space collapsed;
** detail the extended result code's name and the rows it changed
** ("SQLITE_CONSTRAINT_CHECK changes=0"); result the code the mirror got;
** err an errno of the code's class (SQLITE_CONSTRAINT -> EINVAL,
** SQLITE_BUSY -> EBUSY, SQLITE_LOCKED -> EDEADLK, SQLITE_FULL -> ENOSPC,
** SQLITE_READONLY -> EROFS, SQLITE_CANTOPEN -> the system errno or ENOENT,
** SQLITE_IOERR -> EIO, SQLITE_NOMEM -> ENOMEM, any other error -> EPROTO);
** PTM_EVF_EFFECT for a statement that writes; dur_ns the time of all its
** steps.  Its SQLITE_ROW steps are one read event, merged.  A host
** connection inside a transaction of its own, and a database that changed
** while the mirror ran (ptmSqlOverlayEnd), are each one event with
** PTM_EVF_PRETENDED, detail "inconclusive".
**
** Pure rows instead of shims (calls.def), the same on a host statement and
** on its twin, or on values and strings the mirror owns: sqlite3_errstr,
** libversion, libversion_number, sourceid, threadsafe, sql,
** stmt_readonly, column_count, column_name, column_decltype,
** bind_parameter_count, bind_parameter_index, bind_parameter_name,
** db_filename, snprintf, vsnprintf (they write only their buffer),
** strnicmp, stricmp, and value_type int int64 double bytes blob text (the
** values a mirror holds come from its overlay statements).  sqlite3_open16
** stays a raw row.  The column_* shims of a host statement the mirror has
** not stepped read the host's current row: a read, though SQLite may cache
** a converted copy of a value in the statement, as the host's own reads do;
** with no row or no such column they read a private statement's nothing,
** so that SQLite's SQLITE_RANGE lands on a connection of PTM's own.
*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_int.h"

/* ------------------------------------------------------------------------
** A mirror's connections, statements and strings
*/

/* A connection the mirror used: a host connection, or one it opened. */
struct sqlDb {
    sqlite3 *handle;             /* what the mirror holds */
    sqlite3 *odb;                /* where its SQL runs: the overlay's, or the
                                    host's own (in-memory, fork child), or a
                                    private in-memory one */
    struct ptmSqlOverlay *ov;    /* NULL: no overlay (in-memory) */
    char name[64];               /* the database's base name, for targets */
    int host;                    /* a host connection */
    int own_memory;              /* a private in-memory connection: closed at the end */
    int readonly;                /* the real connection could not write: a write
                                    statement fails with SQLITE_READONLY */
    int begun;                   /* ptmSqlOverlayBegin called */
    int used;                    /* a statement ran on it in this mirror */
    int checked;                 /* its COMMIT was a check: the overlay's
                                    transaction is still open (see stepStmt) */
    int busy_ms;                 /* the busy timeout the policy follows; -1: unknown */
    sqlite3_int64 host_total;    /* the host's total_changes when mapped */
    sqlite3_int64 ov_total;      /* the overlay's, when begun */
    struct sqlDb *next;
};

/* A statement the mirror prepared, or a host statement's twin. */
struct sqlStmt {
    sqlite3_stmt *handle;        /* what the mirror holds */
    sqlite3_stmt *ov;            /* where it runs; NULL: a host statement not used yet */
    struct sqlDb *db;
    int host;                    /* a host statement: ov is its twin */
    int params;                  /* the twin has the host's parameters (from sqlite3_sql) */
    int restarted;               /* the host had it mid-step */
    int running;                 /* stepped since its last reset/finish */
    int parkable;                /* prepared from UTF-8 text on an overlay: parked at the end */
    unsigned flags;              /* its prepare flags */
    size_t len;                  /* the bytes of text it was prepared from */
    uint64_t t0, dur;            /* its first step's start; the steps' time */
    sqlite3_int64 total0;        /* its connection's total_changes before it ran */
    struct sqlStmt *next;
};

/* The family's state in one mirror (struct ptmShimState.sqlite). */
struct ptmSqlMirror {
    struct sqlDb *dbs;
    struct sqlStmt *stmts;
    void **handed;               /* sqlite3_malloc'ed strings handed to the mirror */
    size_t nhanded, caphanded;
    unsigned last_call;          /* the last shim call that used an overlay */
};

/* Calls into SQLite on a mirror's connection under way on this thread:
** nonzero when the mirror ends means it was stopped inside one (the
** watchdog's last-resort signal, a fault), and the connection is not used
** again (sqliteRelease). */
static _Thread_local int inSqlite;

/* This mirror's state, made on first use; NULL: no memory. */
static struct ptmSqlMirror *stateOf(struct ptmMirror *m)
{
    struct ptmShimState *s = ptmShimStateOf(m);
    if (!s->sqlite) {
        s->sqlite = calloc(1, sizeof *s->sqlite);
        if (s->sqlite)
            s->sqlite->last_call = PTM_CALL_sqlite3_step;
    }
    return s->sqlite;
}

/*
** ptmSqlHandOut: records p, a string of sqlite3_malloc, as handed to the
** mirror m (ptm_shim_sqlite3_free frees only those).  Returns p.
*/
void *ptmSqlHandOut(struct ptmMirror *m, void *p)
{
    struct ptmSqlMirror *s = stateOf(m);
    if (!p || !s)
        return p;
    if (s->nhanded == s->caphanded) {
        size_t cap = s->caphanded ? s->caphanded * 2 : 8;
        void **v = realloc(s->handed, cap * sizeof *v);
        if (!v)
            return p; /* it then leaks until the process ends, never double-frees */
        s->handed = v;
        s->caphanded = cap;
    }
    s->handed[s->nhanded++] = p;
    return p;
}

/*
** ptmSqlTakeBack: forgets p, handed to the mirror whose SQLite state is s.
** Returns 1 when it was handed out, else 0.
*/
int ptmSqlTakeBack(struct ptmSqlMirror *s, void *p)
{
    for (size_t i = 0; s && i < s->nhanded; i++)
        if (s->handed[i] == p) {
            s->handed[i] = s->handed[--s->nhanded];
            return 1;
        }
    return 0;
}

/* The base name of path, for targets. */
static void baseName(const char *path, char *out, size_t cap)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    ptmCopyField(out, cap, b ? b + 1 : path && *path ? path : ":memory:");
}

/* Records a pretended event of call: "<db>: what", detail "inconclusive". */
static void recordPretended(unsigned call, const char *db, const char *what)
{
    char target[PTM_TARGET_MAX];
    struct ptmEvent *ev;

    snprintf(target, sizeof target, "%s: %s", db, what);
    ev = ptmMirrorRecordCall((enum ptmCall)call, ptmOsNowNs(), target, 0, 0, 0);
    if (ev) {
        ev->flags |= PTM_EVF_PRETENDED;
        ev->flags &= ~PTM_EVF_EFFECT;
        ptmCopyField(ev->detail, sizeof ev->detail, "inconclusive");
    }
}

/* The databases ATTACHed to host connection host: each is an event, since
** the overlay holds only the main one. */
static void noteAttached(struct sqlDb *d, sqlite3 *host, unsigned call)
{
    char what[PTM_TARGET_MAX];
    const char *name;

    for (int i = 2; (name = sqlite3_db_name(host, i)) != NULL; i++) {
        snprintf(what, sizeof what, "attached database %s not mirrored", name);
        recordPretended(call, d->name, what);
    }
}

/* The connection entry of db in s; NULL: not seen in this mirror. */
static struct sqlDb *findDb(struct ptmSqlMirror *s, sqlite3 *db)
{
    for (struct sqlDb *d = s->dbs; d; d = d->next)
        if (d->handle == db)
            return d;
    return NULL;
}

/* Records that the overlay of d could not open or begin: the call that
** needed it fails with rc, as the real one would on a database it cannot
** read. */
static void recordOverlayFailure(unsigned call, const struct sqlDb *d, int rc, int sys)
{
    char target[PTM_TARGET_MAX];
    struct ptmEvent *ev;

    snprintf(target, sizeof target, "%s: overlay", d->name);
    ev = ptmMirrorRecordCall((enum ptmCall)call, ptmOsNowNs(), target, rc,
                             ptmSqlRcErrno(rc, sys), 0);
    if (ev)
        ptmCopyField(ev->detail, sizeof ev->detail, ptmSqlRcName(rc));
}

/* Maps host connection host to its overlay for this mirror.  Returns the
** entry, or NULL with *rc an SQLite error (the overlay could not open, or
** no memory).  An inline mirror on an in-memory host database bails. */
static struct sqlDb *mapHost(struct ptmMirror *m, struct ptmSqlMirror *s, sqlite3 *host,
                             unsigned call, int *rc)
{
    const char *path = sqlite3_db_filename(host, "main");
    struct sqlDb *d;

    if (!path || !*path) {
        if (!m->in_child)
            ptmMirrorBail("sqlite3 on an in-memory database");
    } else if (!m->in_child && ptmSqlOverlaysAbandoned() >= PTM_SQL_ABANDONED_MAX) {
        ptmMirrorBail("sqlite3 after too many mirrors stopped inside SQLite (each leaks its "
                      "overlay connection)");
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    d->handle = host;
    d->host = 1;
    ptmRingNoteHandle(m->ring, host); /* the primary's busy wait (sqlite_sql.c) */
    d->busy_ms = ptmSqlBusyTimeoutOf(host, m->in_child);
    d->host_total = sqlite3_total_changes64(host);
    d->readonly = sqlite3_db_readonly(host, "main") == 1;
    baseName(path, d->name, sizeof d->name);
    if (!path || !*path) {
        d->odb = host; /* the fork child's copy: nothing leaves the process */
    } else {
        *rc = ptmSqlOverlayOpen(path, &d->ov);
        if (*rc != SQLITE_OK) {
            recordOverlayFailure(call, d, *rc, errno); /* the open's errno */
            free(d);
            return NULL;
        }
        d->odb = ptmSqlOverlayDb(d->ov);
    }
    d->next = s->dbs;
    s->dbs = d;
    /* (On a fork child's own copy of an in-memory database the mirror sees
    ** the host's transaction as it is.) */
    if (d->ov && !sqlite3_get_autocommit(host))
        recordPretended(call, d->name, "host connection in a transaction");
    noteAttached(d, host, call);
    return d;
}

/* The entry of connection db (a host connection, or one the mirror
** opened); NULL with *rc set when it cannot be mapped. */
static struct sqlDb *dbOf(struct ptmMirror *m, sqlite3 *db, unsigned call, int *rc)
{
    struct ptmSqlMirror *s = stateOf(m);
    struct sqlDb *d;

    *rc = SQLITE_OK;
    if (!s) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    if (!db) {
        *rc = SQLITE_MISUSE;
        return NULL;
    }
    d = findDb(s, db);
    return d ? d : mapHost(m, s, db, call, rc);
}

/* Begins the overlay of d for this mirror, once, with the host's busy
** policy; SQLITE_OK or the overlay's error. */
static int beginDb(struct ptmSqlMirror *s, struct sqlDb *d, unsigned call)
{
    int rc = SQLITE_OK;

    s->last_call = call;
    if (d->ov)
        ptmSqlOverlaySetCall(d->ov, call);
    if (d->begun)
        return SQLITE_OK;
    if (d->ov) {
        rc = ptmSqlOverlayBegin(d->ov, d->busy_ms == 0 ? PTM_SQL_BUSY_FAIL : PTM_SQL_BUSY_GO_ON);
        if (rc != SQLITE_OK) {
            recordOverlayFailure(call, d, rc, 0);
            return rc;
        }
    }
    d->begun = 1;
    d->ov_total = sqlite3_total_changes64(d->odb);
    return SQLITE_OK;
}

/* The entry of statement st; NULL: a host statement not yet used. */
static struct sqlStmt *findStmt(struct ptmSqlMirror *s, sqlite3_stmt *st)
{
    for (struct sqlStmt *e = s ? s->stmts : NULL; e; e = e->next)
        if (e->handle == st)
            return e;
    return NULL;
}

/* Registers a statement of the mirror: handle h running as ov on d. */
static struct sqlStmt *addStmt(struct ptmSqlMirror *s, sqlite3_stmt *h, sqlite3_stmt *ov,
                               struct sqlDb *d, int host)
{
    struct sqlStmt *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->handle = h;
    e->ov = ov;
    e->db = d;
    e->host = host;
    e->next = s->stmts;
    s->stmts = e;
    return e;
}

/* Unlinks e and frees it, finalizing its overlay statement. */
static int dropStmt(struct ptmSqlMirror *s, struct sqlStmt *e)
{
    int rc = SQLITE_OK;
    for (struct sqlStmt **pp = &s->stmts; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    if (!e->host && e->parkable)
        rc = ptmSqlPark(e->ov, e->len, e->flags);
    else if (!e->host)
        rc = sqlite3_finalize(e->ov);
    else if (e->ov && e->ov != e->handle) /* a twin, not the host's own */
        sqlite3_finalize(e->ov);
    free(e);
    return rc;
}

/* Prepares e's twin of its host statement: from sqlite3_sql, with the
** host's bindings copied from sqlite3_expanded_sql; when they cannot be
** read back that way, from the expanded text itself (its bindings are then
** literals: params 0).  bare: the mirror is about to clear them, so none
** is copied. */
static int prepareTwin(struct ptmSqlMirror *s, struct sqlStmt *e, int bare, unsigned call)
{
    const char *sql = sqlite3_sql(e->handle);
    char *exp = NULL;
    int rc;

    rc = beginDb(s, e->db, call);
    if (rc != SQLITE_OK)
        return rc;
    if (e->ov && e->ov != e->handle)
        sqlite3_finalize(e->ov);
    e->ov = NULL;
    e->running = 0;
    e->params = 1;
    if (e->db->odb == sqlite3_db_handle(e->handle)) { /* in-memory host db in a child */
        e->ov = e->handle;
        return SQLITE_OK;
    }
    e->restarted = sqlite3_stmt_busy(e->handle);
    if (!sql)
        return SQLITE_MISUSE;
    rc = sqlite3_prepare_v2(e->db->odb, sql, -1, &e->ov, NULL);
    if (rc != SQLITE_OK || bare || sqlite3_bind_parameter_count(e->ov) == 0)
        return rc;
    exp = sqlite3_expanded_sql(e->handle);
    if (exp && ptmSqlBindFromExpanded(e->ov, sql, exp) == SQLITE_OK) {
        sqlite3_free(exp);
        return SQLITE_OK;
    }
    sqlite3_finalize(e->ov);
    e->ov = NULL;
    e->params = 0;
    rc = exp ? sqlite3_prepare_v2(e->db->odb, exp, -1, &e->ov, NULL) : SQLITE_NOMEM;
    sqlite3_free(exp);
    return rc;
}

/* The entry of statement st for a call that runs it (want 1: needs its
** overlay statement; params: a bind or clear_bindings) ; NULL with *rc. */
static struct sqlStmt *stmtOf(struct ptmMirror *m, sqlite3_stmt *st, int want, int params,
                              unsigned call, int *rc)
{
    struct ptmSqlMirror *s = stateOf(m);
    struct sqlStmt *e;
    struct sqlDb *d;

    *rc = SQLITE_OK;
    if (!s || !st) {
        *rc = s ? SQLITE_MISUSE : SQLITE_NOMEM;
        return NULL;
    }
    e = findStmt(s, st);
    if (!e) {
        if (!want)
            return NULL;
        d = dbOf(m, sqlite3_db_handle(st), call, rc);
        if (!d)
            return NULL;
        e = addStmt(s, st, NULL, d, 1);
        if (!e) {
            *rc = SQLITE_NOMEM;
            return NULL;
        }
    }
    /* A twin whose bindings are literals gets the host's parameters back,
    ** without its bindings, when the mirror binds. */
    if (e->host && want && (!e->ov || (params && !e->params))) {
        *rc = prepareTwin(s, e, e->ov != NULL, call);
        if (*rc != SQLITE_OK)
            return NULL;
    }
    return e;
}

/* ------------------------------------------------------------------------
** Statement events
*/

/* Records statement e's step that returned rc (extended code ext; 0: the
** connection's), which took [t0, now). */
static void recordStep(struct sqlStmt *e, unsigned call, int rc, int ext, uint64_t t0)
{
    char target[PTM_TARGET_MAX];
    const char *sql = sqlite3_sql(e->ov);
    sqlite3 *odb = sqlite3_db_handle(e->ov);
    struct ptmEvent *ev;
    int readonly = sqlite3_stmt_readonly(e->ov);
    long long changes = 0;

    if (!e->running) {
        e->running = 1;
        e->t0 = t0;
        e->dur = 0;
    }
    e->dur += ptmOsNowNs() - t0;
    ptmSqlNormalized(sql ? sql : "", target);
    if (rc == SQLITE_ROW) {
        ptmMirrorRecordRead((enum ptmCall)call, t0, target, rc, 0, 0);
        return;
    }
    if (!ext)
        ext = rc != SQLITE_DONE && (rc & 0xff) == rc ? sqlite3_extended_errcode(odb) : rc;
    /* sqlite3_changes still counts an earlier statement after one that
    ** changes nothing (BEGIN IMMEDIATE is not "read-only"). */
    if (rc == SQLITE_DONE && !readonly && sqlite3_total_changes64(odb) != e->total0)
        changes = sqlite3_changes64(odb);
    ev = ptmMirrorRecordCall((enum ptmCall)call, e->t0, target, rc,
                             ptmSqlRcErrno(ext, sqlite3_system_errno(odb)), 0);
    if (ev) {
        ev->dur_ns = e->dur;
        if (!readonly)
            ev->flags |= PTM_EVF_EFFECT;
        ptmSqlStepDetail(ev->detail, sizeof ev->detail, ext, changes, e->restarted);
    }
    e->running = 0;
    e->restarted = 0;
}

/* The errno a step of e that returned rc leaves: its code's class when it
** failed, else saved. */
static int stepErrno(struct sqlStmt *e, int rc, int saved)
{
    sqlite3 *odb = sqlite3_db_handle(e->ov);
    int err;

    if (rc == SQLITE_ROW || rc == SQLITE_DONE || rc == SQLITE_OK)
        return saved;
    err = ptmSqlRcErrno(sqlite3_extended_errcode(odb), sqlite3_system_errno(odb));
    return err ? err : saved;
}

/* A COMMIT that was only checked (ptmSqlCommitCheckable) runs for real
** before its connection runs anything else in the same mirror.  Should it
** fail now, the mirror was told of a commit that did not happen:
** inconclusive. */
static void commitForReal(struct sqlDb *d, unsigned call)
{
    int rc;

    d->checked = 0;
    inSqlite++;
    ptmShimCalling++;
    rc = sqlite3_exec(d->odb, "COMMIT", NULL, NULL, NULL);
    ptmShimCalling--;
    inSqlite--;
    if (rc != SQLITE_OK) {
        sqlite3_exec(d->odb, "ROLLBACK", NULL, NULL, NULL);
        recordPretended(call, d->name, "the checked commit failed when run");
    }
}

/* One step of e in the mirror, recorded as call.  A COMMIT that may be
** checked instead leaves the overlay's transaction open for
** ptmSqlOverlayEnd to roll back, and is SQLITE_DONE. */
static int stepStmt(struct ptmSqlMirror *s, struct sqlStmt *e, unsigned call)
{
    uint64_t t0;
    int rc;

    rc = beginDb(s, e->db, call);
    if (rc != SQLITE_OK)
        return rc;
    e->db->used = 1;
    t0 = ptmOsNowNs();
    if (!e->running)
        e->total0 = sqlite3_total_changes64(sqlite3_db_handle(e->ov));
    if (e->db->readonly && !sqlite3_stmt_readonly(e->ov)) {
        recordStep(e, call, SQLITE_READONLY, SQLITE_READONLY, t0);
        return SQLITE_READONLY;
    }
    if (e->db->checked)
        commitForReal(e->db, call);
    if (!e->running && e->db->ov && ptmSqlCommitCheckable(e->db->odb, e->ov) &&
        ptmSqlOverlayCommitFree(e->db->ov)) {
        e->db->checked = 1;
        recordStep(e, call, SQLITE_DONE, SQLITE_DONE, t0);
        return SQLITE_DONE;
    }
    int saved = errno;
    inSqlite++;
    ptmShimCalling++;
    rc = sqlite3_step(e->ov);
    ptmShimCalling--;
    inSqlite--;
    recordStep(e, call, rc, 0, t0);
    /* SQLite reports by result code and leaves errno to chance (the
    ** overlay's stat of a missing journal: ENOENT).  The mirror's errno is
    ** what its verdict is classed by (signals.c): a failed step leaves the
    ** errno of its code's class (SQLITE_BUSY: EBUSY), any other the
    ** caller's. */
    errno = stepErrno(e, rc, saved);
    return rc;
}

/* ------------------------------------------------------------------------
** The family
*/

/* A mirror stopped inside SQLite (a jump out of it, from a signal
** handler): the overlay connections it used may be mid-statement, their
** pager in any state.  They are never touched again, nor closed (a close
** could wait for ever): each is taken off this thread's overlays, which
** opens a fresh one at the next mirror; its statements are forgotten
** unfinalized, its parked ones too.  What it holds leaks, once per such
** stop. */
static void abandonOverlays(struct ptmSqlMirror *s)
{
    struct sqlStmt **pp = &s->stmts;

    for (struct sqlDb *d = s->dbs; d; d = d->next)
        if (d->ov) {
            ptmSqlForgetParked(d->odb);
            ptmSqlOverlayAbandon(d->ov);
            recordPretended(s->last_call, d->name, "mirror stopped inside SQLite: overlay dropped");
            d->begun = 0;
        }
    while (*pp) {
        struct sqlStmt *e = *pp;
        if (e->db->ov) {
            *pp = e->next;
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Ends the mirror's use of SQLite: its statements finalized, its overlays
** ended (a database that changed meanwhile is an event), its private
** connections closed, its strings freed. */
static void sqliteRelease(struct ptmMirror *m)
{
    struct ptmShimState *st = ptmShimStateOf(m);
    struct ptmSqlMirror *s = st->sqlite;
    struct sqlDb *d, *next;

    int stopped = inSqlite != 0;

    inSqlite = 0;
    ptmShimCalling = 0;
    if (!s)
        return;
    if (stopped)
        abandonOverlays(s);
    while (s->stmts)
        dropStmt(s, s->stmts);
    for (d = s->dbs; d; d = d->next) {
        struct sqlDb *o;
        int seen = 0;
        if (!d->ov || !d->begun)
            continue;
        for (o = s->dbs; o != d; o = o->next)
            seen |= o->ov == d->ov && o->begun;
        if (!seen && ptmSqlOverlayEnd(d->ov) == 1)
            recordPretended(s->last_call, d->name, "changed during the mirror");
    }
    for (d = s->dbs; d; d = next) {
        next = d->next;
        if (d->own_memory)
            sqlite3_close_v2(d->odb);
        free(d);
    }
    for (size_t i = 0; i < s->nhanded; i++)
        sqlite3_free(s->handed[i]);
    free(s->handed);
    free(s);
    st->sqlite = NULL;
}

const struct ptmShimFamily ptmSqliteFamily = {
    .name = "sqlite",
    .release = sqliteRelease,
    .primary_apply = ptmSqlPrimaryApply,
    .primary_restore = ptmSqlPrimaryRestore,
};

/* ------------------------------------------------------------------------
** Connections
*/

/* sqlite3_open_v2 in mirror m. */
static int mirrorOpen(struct ptmMirror *m, unsigned call, const char *filename, sqlite3 **ppDb,
                      int flags)
{
    struct ptmSqlMirror *s = stateOf(m);
    char path[PATH_MAX], uri[PATH_MAX];
    struct sqlDb *d;
    struct ptmEvent *ev;
    uint64_t t0 = ptmOsNowNs();
    int rc = SQLITE_OK, err = 0, creates = 0;

    *(sqlite3 **)ptmRedoOut(ppDb, sizeof *ppDb) = NULL;
    if (!s)
        return SQLITE_NOMEM;
    d = calloc(1, sizeof *d);
    if (!d)
        return SQLITE_NOMEM;
    d->busy_ms = 0; /* a new connection fails at once until it is told to wait */
    if (filename && strncmp(filename, "file:", 5) == 0)
        filename = ptmSqlUriPath(filename, uri, sizeof uri, &flags);
    if (!filename || !*filename || strcmp(filename, ":memory:") == 0) {
        rc = sqlite3_open_v2(":memory:", &d->odb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY,
                             NULL);
        d->own_memory = 1;
        ptmCopyField(d->name, sizeof d->name, ":memory:");
        ptmCopyField(path, sizeof path, ":memory:");
    } else {
        if (filename[0] == '/' || !ptmOs.getcwd(path, sizeof path))
            ptmCopyField(path, sizeof path, filename);
        else {
            size_t n = strlen(path);
            snprintf(path + n, sizeof path - n, "/%s", filename);
        }
        baseName(path, d->name, sizeof d->name);
        if (ptmOs.access(path, F_OK) != 0) {
            creates = 1;
            if (!(flags & SQLITE_OPEN_CREATE)) {
                rc = SQLITE_CANTOPEN;
                err = errno;
            } else if (!ptmSqlDirWritable(path)) {
                rc = SQLITE_CANTOPEN; /* no directory to create it in */
                err = errno;
            }
        }
        /* SQLite opens a file it may not write read-only, and fails its
        ** writes; so does the overlay. */
        d->readonly = (flags & SQLITE_OPEN_READONLY) ||
                      (!creates && ptmOs.access(path, W_OK) != 0);
        if (rc == SQLITE_OK && !m->in_child &&
            ptmSqlOverlaysAbandoned() >= PTM_SQL_ABANDONED_MAX)
            ptmMirrorBail("sqlite3 after too many mirrors stopped inside SQLite (each leaks its "
                          "overlay connection)");
        if (rc == SQLITE_OK && (rc = ptmSqlOverlayOpen(path, &d->ov)) != SQLITE_OK)
            err = errno; /* the overlay leaves the open's */
        if (rc == SQLITE_OK)
            d->odb = ptmSqlOverlayDb(d->ov);
    }
    if (rc != SQLITE_OK) {
        if (d->odb)
            sqlite3_close_v2(d->odb);
        free(d);
    } else {
        sqlite3 *handle = d->handle = d->odb;
        /* Two opens of one file share the overlay: one entry serves both. */
        if (!findDb(s, handle)) {
            d->next = s->dbs;
            s->dbs = d;
        } else
            free(d);
        *(sqlite3 **)ptmRedoOut(ppDb, sizeof *ppDb) = handle;
    }
    ev = ptmMirrorRecordCall((enum ptmCall)call, t0, path, rc, ptmSqlRcErrno(rc, err), 0);
    if (ev) {
        ptmCopyField(ev->detail, sizeof ev->detail, ptmSqlRcName(rc));
        if (creates)
            ev->flags |= PTM_EVF_EFFECT;
    }
    return rc;
}

/*
** ptm_shim_sqlite3_open: sqlite3_open(3).  In a mirror: the overlay of the
** file (created in memory only, when missing), handed out as the
** connection; an event with the path.
*/
int ptm_shim_sqlite3_open(const char *filename, struct sqlite3 **ppDb)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_open(filename, ppDb);
    return mirrorOpen(m, PTM_CALL_sqlite3_open, filename, ppDb,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

/*
** ptm_shim_sqlite3_open_v2: sqlite3_open_v2(3), as ptm_shim_sqlite3_open;
** without SQLITE_OPEN_CREATE a missing file is SQLITE_CANTOPEN.  zVfs is
** not used in a mirror (the overlay is the VFS).
*/
int ptm_shim_sqlite3_open_v2(const char *filename, struct sqlite3 **ppDb, int flags,
                             const char *zVfs)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_open_v2(filename, ppDb, flags, zVfs);
    return mirrorOpen(m, PTM_CALL_sqlite3_open_v2, filename, ppDb, flags);
}

/* sqlite3_close and close_v2 in a mirror: nothing real (the overlay stays
** cached; a host handle is the host's). */
static int mirrorClose(struct ptmMirror *m, unsigned call, sqlite3 *db)
{
    struct ptmEvent *ev = ptmMirrorRecordCall((enum ptmCall)call, ptmOsNowNs(),
                                              db ? "connection" : "NULL", SQLITE_OK, 0, 0);
    (void)m;
    if (ev)
        ptmCopyField(ev->detail, sizeof ev->detail, "SQLITE_OK");
    return SQLITE_OK;
}

/*
** ptm_shim_sqlite3_close: sqlite3_close(3).  In a mirror: SQLITE_OK, and
** nothing is closed (see the header).
*/
int ptm_shim_sqlite3_close(struct sqlite3 *db)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorClose(m, PTM_CALL_sqlite3_close, db) : ptm_note_sqlite3_close(db);
}

/*
** ptm_shim_sqlite3_close_v2: sqlite3_close_v2(3), as ptm_shim_sqlite3_close.
*/
int ptm_shim_sqlite3_close_v2(struct sqlite3 *db)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorClose(m, PTM_CALL_sqlite3_close_v2, db) : ptm_note_sqlite3_close_v2(db);
}

/*
** ptm_shim_sqlite3_busy_timeout: sqlite3_busy_timeout(3).  Outside a mirror
** it is also noted (ptm_note_sqlite3_busy_timeout).  In a mirror it sets
** the timeout the mirror's policy follows on db, for an overlay not begun
** yet (a connection the mirror opened), and touches no host connection.
*/
int ptm_shim_sqlite3_busy_timeout(struct sqlite3 *db, int ms)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct sqlDb *d;
    int rc;

    if (!m)
        return ptm_note_sqlite3_busy_timeout(db, ms);
    d = dbOf(m, db, PTM_CALL_sqlite3_busy_timeout, &rc);
    if (!d)
        return rc;
    d->busy_ms = ms < 0 ? 0 : ms;
    return SQLITE_OK;
}

/* A connection of this thread that never runs anything: the state of a
** connection just opened (no error, no changes, autocommit). */
static sqlite3 *freshDb(void)
{
    static _Thread_local sqlite3 *db;
    if (!db && sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        db = NULL;
    }
    return db;
}

/* The connection whose state a getter reads: the overlay's once the
** mirror ran a statement on it; before that the host's own (a read), or,
** for a connection the mirror opened, a fresh one's (the overlay's
** connection still says what an earlier mirror did). */
static sqlite3 *stateDb(struct ptmMirror *m, sqlite3 *db, struct sqlDb **out)
{
    struct ptmSqlMirror *s = stateOf(m);
    struct sqlDb *d = s && db ? findDb(s, db) : NULL;
    *out = d;
    if (!d)
        return db; /* a host connection the mirror has not used */
    if (d->used)
        return d->odb;
    return d->host ? d->handle : d->own_memory || !freshDb() ? d->odb : freshDb();
}

/* ptmSqlStateDb: see sqlite_int.h. */
sqlite3 *ptmSqlStateDb(struct ptmMirror *m, sqlite3 *db)
{
    struct sqlDb *d;
    return stateDb(m, db, &d);
}

/* ptmSqlStateAutocommit: see sqlite_int.h. */
int ptmSqlStateAutocommit(struct ptmMirror *m, sqlite3 *db)
{
    struct sqlDb *d;
    sqlite3 *on = stateDb(m, db, &d);
    return d && d->used && d->checked ? 1 : sqlite3_get_autocommit(on);
}

/* ptmSqlStateTotalChanges: see sqlite_int.h. */
sqlite3_int64 ptmSqlStateTotalChanges(struct ptmMirror *m, sqlite3 *db)
{
    struct sqlDb *d;
    sqlite3 *on = stateDb(m, db, &d);
    if (!d || !d->begun)
        return sqlite3_total_changes64(on);
    return (d->host ? d->host_total : 0) + sqlite3_total_changes64(d->odb) - d->ov_total;
}

/* ------------------------------------------------------------------------
** Statements
*/

/* The prepare family in mirror m: on the overlay of db; *ppStmt and
** *pzTail written in the mirror's view.  utf16: zSql is UTF-16. */
static int prepareOnOverlay(struct ptmMirror *m, unsigned call, sqlite3 *db, const void *zSql,
                            int nByte, unsigned flags, int utf16, sqlite3_stmt **ppStmt,
                            const void **pzTail)
{
    struct ptmSqlMirror *s = stateOf(m);
    struct sqlStmt *e = NULL;
    struct sqlDb *d;
    sqlite3_stmt *st = NULL;
    const void *tail = NULL;
    int rc;

    *(sqlite3_stmt **)ptmRedoOut(ppStmt, sizeof *ppStmt) = NULL;
    d = dbOf(m, db, call, &rc);
    if (!d)
        return rc;
    rc = beginDb(s, d, call);
    if (rc != SQLITE_OK)
        return rc;
    /* The legacy forms keep their way of reporting errors: not parked. */
    inSqlite++;
    ptmShimCalling++;
    if (call == PTM_CALL_sqlite3_prepare)
        rc = sqlite3_prepare(d->odb, zSql, nByte, &st, (const char **)&tail);
    else if (call == PTM_CALL_sqlite3_prepare16)
        rc = sqlite3_prepare16(d->odb, zSql, nByte, &st, &tail);
    else if (utf16)
        rc = sqlite3_prepare16_v3(d->odb, zSql, nByte, flags, &st, &tail);
    else if (d->ov)
        rc = ptmSqlPrepareParked(d->odb, zSql, nByte, flags, &st, (const char **)&tail);
    else
        rc = sqlite3_prepare_v3(d->odb, zSql, nByte, flags, &st, (const char **)&tail);
    ptmShimCalling--;
    inSqlite--;
    d->used = 1;
    if (st && !(e = addStmt(s, st, st, d, 0))) {
        sqlite3_finalize(st);
        st = NULL;
        rc = SQLITE_NOMEM;
    } else if (st && !utf16 && d->ov && call != PTM_CALL_sqlite3_prepare) {
        e->parkable = 1;
        e->flags = flags;
        e->len = (size_t)((const char *)tail - (const char *)zSql);
    }
    *(sqlite3_stmt **)ptmRedoOut(ppStmt, sizeof *ppStmt) = st;
    if (pzTail)
        *(const void **)ptmRedoOut(pzTail, sizeof *pzTail) = tail;
    if (rc != SQLITE_OK) {
        char target[PTM_TARGET_MAX];
        struct ptmEvent *ev;
        if (utf16)
            ptmCopyField(target, sizeof target, "(UTF-16 SQL)");
        else
            ptmSqlNormalize(zSql, nByte, target, sizeof target);
        ev = ptmMirrorRecordCall((enum ptmCall)call, ptmOsNowNs(), target, rc,
                                 ptmSqlRcErrno(sqlite3_extended_errcode(d->odb), 0), 0);
        if (ev)
            ptmCopyField(ev->detail, sizeof ev->detail,
                         ptmSqlRcName(sqlite3_extended_errcode(d->odb)));
    }
    return rc;
}

/* prepareOnOverlay, leaving errno as a step does (stepErrno): an
** overlay's first use reads files, whose misses SQLite ignores. */
static int mirrorPrepare(struct ptmMirror *m, unsigned call, sqlite3 *db, const void *zSql,
                         int nByte, unsigned flags, int utf16, sqlite3_stmt **ppStmt,
                         const void **pzTail)
{
    int saved = errno;
    int rc = prepareOnOverlay(m, call, db, zSql, nByte, flags, utf16, ppStmt, pzTail);
    int err = rc == SQLITE_OK ? 0 : ptmSqlRcErrno(rc, 0);

    errno = err ? err : saved;
    return rc;
}

/*
** ptm_shim_sqlite3_prepare, _prepare_v2, _prepare_v3, _prepare16,
** _prepare16_v2, _prepare16_v3: the real calls; in a mirror the statement
** is prepared on db's overlay and handed out (OUT: *ppStmt, *pzTail, in the
** mirror's view).  A failure is an event.
*/
int ptm_shim_sqlite3_prepare(struct sqlite3 *db, const char *zSql, int nByte,
                             struct sqlite3_stmt **ppStmt, const char **pzTail)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_prepare(db, zSql, nByte, ppStmt, pzTail);
    return mirrorPrepare(m, PTM_CALL_sqlite3_prepare, db, zSql, nByte, 0, 0, ppStmt,
                         (const void **)pzTail);
}

int ptm_shim_sqlite3_prepare_v2(struct sqlite3 *db, const char *zSql, int nByte,
                                struct sqlite3_stmt **ppStmt, const char **pzTail)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_prepare_v2(db, zSql, nByte, ppStmt, pzTail);
    return mirrorPrepare(m, PTM_CALL_sqlite3_prepare_v2, db, zSql, nByte, 0, 0, ppStmt,
                         (const void **)pzTail);
}

int ptm_shim_sqlite3_prepare_v3(struct sqlite3 *db, const char *zSql, int nByte,
                                unsigned int prepFlags, struct sqlite3_stmt **ppStmt,
                                const char **pzTail)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_prepare_v3(db, zSql, nByte, prepFlags, ppStmt, pzTail);
    return mirrorPrepare(m, PTM_CALL_sqlite3_prepare_v3, db, zSql, nByte, prepFlags, 0, ppStmt,
                         (const void **)pzTail);
}

int ptm_shim_sqlite3_prepare16(struct sqlite3 *db, const void *zSql, int nByte,
                               struct sqlite3_stmt **ppStmt, const void **pzTail)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_prepare16(db, zSql, nByte, ppStmt, pzTail);
    return mirrorPrepare(m, PTM_CALL_sqlite3_prepare16, db, zSql, nByte, 0, 1, ppStmt, pzTail);
}

int ptm_shim_sqlite3_prepare16_v2(struct sqlite3 *db, const void *zSql, int nByte,
                                  struct sqlite3_stmt **ppStmt, const void **pzTail)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_prepare16_v2(db, zSql, nByte, ppStmt, pzTail);
    return mirrorPrepare(m, PTM_CALL_sqlite3_prepare16_v2, db, zSql, nByte, 0, 1, ppStmt,
                         pzTail);
}

int ptm_shim_sqlite3_prepare16_v3(struct sqlite3 *db, const void *zSql, int nByte,
                                  unsigned int prepFlags, struct sqlite3_stmt **ppStmt,
                                  const void **pzTail)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_prepare16_v3(db, zSql, nByte, prepFlags, ppStmt, pzTail);
    return mirrorPrepare(m, PTM_CALL_sqlite3_prepare16_v3, db, zSql, nByte, prepFlags, 1, ppStmt,
                         pzTail);
}

/*
** ptm_shim_sqlite3_step: sqlite3_step(3); in a mirror the statement (or
** the host statement's twin) steps on the overlay, and a finished one is
** an event (see the header).
*/
int ptm_shim_sqlite3_step(struct sqlite3_stmt *stmt)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct sqlStmt *e;
    int rc;

    if (!m)
        return sqlite3_step(stmt);
    e = stmtOf(m, stmt, 1, 0, PTM_CALL_sqlite3_step, &rc);
    return e ? stepStmt(stateOf(m), e, PTM_CALL_sqlite3_step) : rc;
}

/*
** ptm_shim_sqlite3_reset: sqlite3_reset(3); in a mirror it resets the
** overlay statement only (a host statement not used yet: SQLITE_OK).
*/
int ptm_shim_sqlite3_reset(struct sqlite3_stmt *stmt)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct sqlStmt *e;
    int rc;

    if (!m)
        return sqlite3_reset(stmt);
    e = stmtOf(m, stmt, 0, 0, PTM_CALL_sqlite3_reset, &rc);
    if (!e)
        return rc == SQLITE_MISUSE ? SQLITE_OK : rc;
    if (!e->ov)
        return SQLITE_OK;
    e->running = 0;
    return sqlite3_reset(e->ov);
}

/*
** ptm_shim_sqlite3_finalize: sqlite3_finalize(3); in a mirror it finalizes
** the mirror's statement, or only the twin of a host statement.
*/
int ptm_shim_sqlite3_finalize(struct sqlite3_stmt *stmt)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct sqlStmt *e;
    int rc, host;

    if (!m)
        return sqlite3_finalize(stmt);
    if (!stmt)
        return SQLITE_OK;
    e = stmtOf(m, stmt, 0, 0, PTM_CALL_sqlite3_finalize, &rc);
    if (!e)
        return SQLITE_OK;
    host = e->host;
    rc = dropStmt(stateOf(m), e);
    return host ? SQLITE_OK : rc;
}

/*
** ptm_shim_sqlite3_clear_bindings: sqlite3_clear_bindings(3); in a mirror
** on the overlay statement (a host statement's twin then has its
** parameters).
*/
int ptm_shim_sqlite3_clear_bindings(struct sqlite3_stmt *stmt)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct sqlStmt *e;
    int rc;

    if (!m)
        return sqlite3_clear_bindings(stmt);
    e = stmtOf(m, stmt, 1, 1, PTM_CALL_sqlite3_clear_bindings, &rc);
    return e ? sqlite3_clear_bindings(e->ov) : rc;
}

/* The overlay statement a bind_* of the mirror goes to; NULL with *rc. */
static sqlite3_stmt *bindTarget(struct sqlite3_stmt *stmt, unsigned call, int *rc)
{
    struct sqlStmt *e = stmtOf(ptmMirrorCurrent, stmt, 1, 1, call, rc);
    return e ? e->ov : NULL;
}

/*
** ptm_shim_sqlite3_bind_*: the real calls; in a mirror on the overlay
** statement, the value always copied (SQLITE_TRANSIENT): the mirror's
** destructor is never called.
*/
int ptm_shim_sqlite3_bind_blob(struct sqlite3_stmt *stmt, int i, const void *value, int n,
                               void (*destroy)(void *))
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_blob(stmt, i, value, n, destroy);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_blob, &rc);
    return o ? sqlite3_bind_blob(o, i, n > 0 ? ptmRedoIn(value, (size_t)n) : value, n,
                                 SQLITE_TRANSIENT)
             : rc;
}

int ptm_shim_sqlite3_bind_blob64(struct sqlite3_stmt *stmt, int i, const void *value,
                                 unsigned long long n, void (*destroy)(void *))
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_blob64(stmt, i, value, n, destroy);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_blob64, &rc);
    return o ? sqlite3_bind_blob64(o, i, n ? ptmRedoIn(value, (size_t)n) : value, n,
                                   SQLITE_TRANSIENT)
             : rc;
}

/* A bind_* of one value, which SQLite copies itself. */
#define BIND_SHIM(name, type)                                                                    \
    int ptm_shim_sqlite3_##name(struct sqlite3_stmt *stmt, int i, type value)                    \
    {                                                                                            \
        sqlite3_stmt *o;                                                                         \
        int rc;                                                                                  \
        if (!ptmMirrorCurrent)                                                                   \
            return sqlite3_##name(stmt, i, value);                                               \
        o = bindTarget(stmt, PTM_CALL_sqlite3_##name, &rc);                                      \
        return o ? sqlite3_##name(o, i, value) : rc;                                             \
    }

BIND_SHIM(bind_double, double)
BIND_SHIM(bind_int, int)
BIND_SHIM(bind_int64, long long)
BIND_SHIM(bind_value, const struct sqlite3_value *)
BIND_SHIM(bind_zeroblob, int)
BIND_SHIM(bind_zeroblob64, unsigned long long)
#undef BIND_SHIM

int ptm_shim_sqlite3_bind_null(struct sqlite3_stmt *stmt, int i)
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_null(stmt, i);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_null, &rc);
    return o ? sqlite3_bind_null(o, i) : rc;
}

int ptm_shim_sqlite3_bind_text(struct sqlite3_stmt *stmt, int i, const char *value, int n,
                               void (*destroy)(void *))
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_text(stmt, i, value, n, destroy);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_text, &rc);
    return o ? sqlite3_bind_text(o, i, n > 0 ? ptmRedoIn(value, (size_t)n) : value, n,
                                 SQLITE_TRANSIENT)
             : rc;
}

int ptm_shim_sqlite3_bind_text16(struct sqlite3_stmt *stmt, int i, const void *value, int n,
                                 void (*destroy)(void *))
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_text16(stmt, i, value, n, destroy);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_text16, &rc);
    return o ? sqlite3_bind_text16(o, i, n > 0 ? ptmRedoIn(value, (size_t)n) : value, n,
                                   SQLITE_TRANSIENT)
             : rc;
}

int ptm_shim_sqlite3_bind_text64(struct sqlite3_stmt *stmt, int i, const char *value,
                                 unsigned long long n, void (*destroy)(void *),
                                 unsigned char encoding)
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_text64(stmt, i, value, n, destroy, encoding);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_text64, &rc);
    return o ? sqlite3_bind_text64(o, i, n ? ptmRedoIn(value, (size_t)n) : value, n,
                                   SQLITE_TRANSIENT, encoding)
             : rc;
}

/* bind_pointer: the pointer is bound without its destructor (SQLite calls
** it when the binding ends, which in a mirror is not the host's end). */
int ptm_shim_sqlite3_bind_pointer(struct sqlite3_stmt *stmt, int i, void *ptr, const char *type,
                                  void (*destroy)(void *))
{
    sqlite3_stmt *o;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_bind_pointer(stmt, i, ptr, type, destroy);
    o = bindTarget(stmt, PTM_CALL_sqlite3_bind_pointer, &rc);
    return o ? sqlite3_bind_pointer(o, i, ptr, type, NULL) : rc;
}

/* A statement of a private connection of this thread that is never
** stepped: what a column_* reads where there is no row (NULL, 0), with the
** error SQLite then sets on its own connection, not on the host's. */
static sqlite3_stmt *noRow(void)
{
    static _Thread_local sqlite3 *db;
    static _Thread_local sqlite3_stmt *st;

    if (!st && (db || sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK))
        sqlite3_prepare_v2(db, "SELECT NULL", -1, &st, NULL);
    return st;
}

/* The statement that stands for stmt in the mirror: its overlay
** statement, or a host statement the mirror has not run itself. */
static sqlite3_stmt *twinOf(struct sqlite3_stmt *stmt)
{
    int rc;
    struct sqlStmt *e = stmtOf(ptmMirrorCurrent, stmt, 0, 0, PTM_CALL_sqlite3_step, &rc);
    return e && e->ov ? e->ov : stmt;
}

/* The statement a column_* of the mirror reads at column col: twinOf(stmt),
** but for a host statement without a value there (no row, no such column:
** SQLite would set an error on the host's connection), noRow(). */
static sqlite3_stmt *readTarget(struct sqlite3_stmt *stmt, int col)
{
    sqlite3_stmt *t = twinOf(stmt);
    if (t != stmt || (stmt && col >= 0 && col < sqlite3_data_count(stmt)))
        return t;
    return noRow() ? noRow() : stmt;
}

#define COLUMN_SHIM(ret, name)                                                                   \
    ret ptm_shim_sqlite3_##name(struct sqlite3_stmt *stmt, int col)                              \
    {                                                                                            \
        return sqlite3_##name(ptmMirrorCurrent ? readTarget(stmt, col) : stmt, col);                  \
    }

/*
** ptm_shim_sqlite3_column_*: the real calls, in a mirror on the overlay
** statement (see readTarget).
*/
COLUMN_SHIM(const void *, column_blob)
COLUMN_SHIM(int, column_bytes)
COLUMN_SHIM(int, column_bytes16)
COLUMN_SHIM(double, column_double)
COLUMN_SHIM(int, column_int)
COLUMN_SHIM(long long, column_int64)
COLUMN_SHIM(const unsigned char *, column_text)
COLUMN_SHIM(const void *, column_text16)
COLUMN_SHIM(int, column_type)
COLUMN_SHIM(struct sqlite3_value *, column_value)
#undef COLUMN_SHIM

/*
** ptm_shim_sqlite3_data_count, ptm_shim_sqlite3_stmt_busy: the real calls,
** in a mirror on the overlay statement (see twinOf).
*/
int ptm_shim_sqlite3_data_count(struct sqlite3_stmt *stmt)
{
    return sqlite3_data_count(ptmMirrorCurrent ? twinOf(stmt) : stmt);
}

int ptm_shim_sqlite3_stmt_busy(struct sqlite3_stmt *stmt)
{
    return sqlite3_stmt_busy(ptmMirrorCurrent ? twinOf(stmt) : stmt);
}

/*
** ptm_shim_sqlite3_db_handle: sqlite3_db_handle(3); in a mirror the
** connection the mirror prepared the statement on (a host handle stays the
** host's).
*/
struct sqlite3 *ptm_shim_sqlite3_db_handle(struct sqlite3_stmt *stmt)
{
    struct sqlStmt *e;
    int rc;
    if (!ptmMirrorCurrent)
        return sqlite3_db_handle(stmt);
    e = stmtOf(ptmMirrorCurrent, stmt, 0, 0, PTM_CALL_sqlite3_db_handle, &rc);
    return e ? e->db->handle : sqlite3_db_handle(stmt);
}

/*
** ptm_shim_sqlite3_expanded_sql: sqlite3_expanded_sql(3); in a mirror of
** the overlay statement, the string recorded as the mirror's to free.
*/
char *ptm_shim_sqlite3_expanded_sql(struct sqlite3_stmt *stmt)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_expanded_sql(stmt);
    return ptmSqlHandOut(m, sqlite3_expanded_sql(twinOf(stmt)));
}

/* ------------------------------------------------------------------------
** sqlite3_exec
*/

/* Calls the host's exec callback with st's row; its result. */
static int callBack(sqlite3_stmt *st, int (*cb)(void *, int, char **, char **), void *arg)
{
    int n = sqlite3_column_count(st), r;
    char **v = calloc((size_t)n * 2 + 1, sizeof *v);

    if (!v)
        return 1;
    for (int i = 0; i < n; i++) {
        v[i] = (char *)sqlite3_column_text(st, i);
        v[n + i] = (char *)sqlite3_column_name(st, i);
    }
    r = cb(arg, n, v, v + n);
    free(v);
    return r;
}

/* sqlite3_exec in mirror m, each statement an event of sqlite3_exec. */
static int mirrorExec(struct ptmMirror *m, sqlite3 *db, const char *sql,
                      int (*cb)(void *, int, char **, char **), void *arg, char **errmsg)
{
    struct ptmSqlMirror *s = stateOf(m);
    struct sqlStmt *e;
    struct sqlDb *d;
    const char *tail = sql;
    sqlite3_stmt *st;
    int rc;

    if (errmsg)
        *(char **)ptmRedoOut(errmsg, sizeof *errmsg) = NULL;
    if (cb && !m->in_child)
        ptmMirrorBail("sqlite3_exec with a callback");
    d = dbOf(m, db, PTM_CALL_sqlite3_exec, &rc);
    if (d)
        rc = beginDb(s, d, PTM_CALL_sqlite3_exec);
    while (d && rc == SQLITE_OK && tail && *tail) {
        const char *from = tail;
        st = NULL;
        inSqlite++;
        ptmShimCalling++;
        rc = d->ov ? ptmSqlPrepareParked(d->odb, from, -1, 0, &st, &tail)
                   : sqlite3_prepare_v2(d->odb, from, -1, &st, &tail);
        ptmShimCalling--;
        inSqlite--;
        d->used = 1;
        if (rc != SQLITE_OK || !st)
            break;
        e = addStmt(s, st, st, d, 0);
        if (!e) {
            sqlite3_finalize(st);
            rc = SQLITE_NOMEM;
            break;
        }
        e->parkable = d->ov != NULL;
        e->len = (size_t)(tail - from);
        while ((rc = stepStmt(s, e, PTM_CALL_sqlite3_exec)) == SQLITE_ROW)
            if (cb && callBack(st, cb, arg)) {
                rc = SQLITE_ABORT;
                break;
            }
        dropStmt(s, e);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && errmsg) {
        const char *msg = rc == SQLITE_ABORT ? sqlite3_errstr(rc)
                          : d                ? sqlite3_errmsg(d->odb)
                                             : sqlite3_errstr(rc);
        *(char **)ptmRedoOut(errmsg, sizeof *errmsg) = ptmSqlHandOut(m, sqlite3_mprintf("%s", msg));
    }
    return rc;
}

/*
** ptm_shim_sqlite3_exec: sqlite3_exec(3); in a mirror on the overlay, each
** statement an event (OUT: *errmsg, in the mirror's view, for
** sqlite3_free).  A callback makes an inline mirror bail.
*/
int ptm_shim_sqlite3_exec(struct sqlite3 *db, const char *sql,
                          int (*callback)(void *, int, char **, char **), void *arg,
                          char **errmsg)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sqlite3_exec(db, sql, callback, arg, errmsg);
    return mirrorExec(m, db, sql, callback, arg, errmsg);
}
