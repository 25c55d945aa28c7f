/*
** store.c - the persisted history: one SQLite file per program.
**
** Where: PTM_HISTORY=path; unset, $XDG_STATE_HOME/ptm/<program>.db (an
** absolute XDG_STATE_HOME), else $HOME/.local/state/ptm/<program>.db, the
** directories made (0700) when missing; "off" (or "0", or no HOME) keeps
** the history in memory only.  <program> is the program's short name
** (program_invocation_short_name).
**
** What: per transaction id, the outcome counts, latency statistics, the
** deviation baseline's signature counts, per path calls and failures, and
** the model's labelled outcomes per cell (history.c, model.c).
**
** Which SQLite: libptm's own, dlopen'd as "libsqlite3.so.0" with
** RTLD_LOCAL | RTLD_DEEPBIND, its dozen functions taken with dlsym; libptm
** refers to no sqlite3_* symbol.  A host that carries its own SQLite (the
** amalgamation compiled in, maybe with SQLITE_THREADSAFE=0, or sqlite3_*
** functions of its own) keeps it: the store's calls never reach the
** host's definitions, and with DEEPBIND the library's calls to its own
** functions never do either.  Under a sanitizer (which refuses DEEPBIND)
** the library is opened without it (docs/DESIGN.md, "The history store").
**
** Several processes at once: WAL journal, a busy timeout, and every write
** adds this process's increments to the file's counts in one IMMEDIATE
** transaction (upserts of sums): nobody's counts are overwritten.
** Latencies are not counts: the file's estimate and this process's are
** pooled, each weighted by its samples up to the history's window.
**
** Off the hot path: a transaction reads the file only at the first use of
** its id (a WAL read, which never waits for writers, on a connection of
** its own, busy timeout PTM_STORE_READ_BUSY_MS); writes happen on a
** background thread (ptm-history), woken every PTM_STORE_BATCH calls (at
** most once per PTM_STORE_KICK_GAP_NS) and every PTM_STORE_PERIOD_MS, and
** at exit (atexit) on the exiting thread.
** A write that finds the file busy keeps its batch for the next one.
**
** Connections last one load or one write, never longer: a program may
** close descriptors it did not open (a daemon closes all but 0-2) and get
** the same number for a file of its own, and a connection kept open
** across that would have SQLite write pages of the history into the
** host's file.  Closing the last connection checkpoints the WAL, which
** the batching keeps rare.
**
** Failure: a file that cannot be created or opened, a full disk (under
** PTM_STORE_MIN_FREE bytes free), a corrupt file, no libsqlite3, or a
** file still busy after PTM_STORE_BUSY_LIMIT writes make the store
** unavailable for the process: said once on stderr when PTM_HISTORY
** named the file, always kept for ptmStoreState() (the trace's
** history_store), and the history lives on in memory.  The file itself is never removed or rewritten.
**
** A fleet: PTM_HISTORY=redis://host[:port][/prefix] hands loads, flushes,
** re-reads, the state and resets to store_redis.c (storeRedisInitLocked
** chooses it by the scheme); the writer thread, its wake-ups (a re-read
** every PTM_STORE_REREAD_MS) and the exit flush stay here, and so do the
** fork and mirror rules below.  A file is not re-read: processes of one
** machine share it, and each loads an id at its first use only.
**
** Forks: a child of fork() never touches the store (a pthread_atfork
** child handler): its inherited connections and SQLite's locks belong to
** the parent, and a fork mirror must write nothing.  Mirrors never reach
** it: histories are read and written outside them (tx.c).
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h> /* types and constants only: every call goes through storeApi */

#include "ptm_int.h"

#define PTM_STORE_READ_BUSY_MS 200
#define PTM_STORE_WRITE_BUSY_MS 1000
#define PTM_STORE_PERIOD_MS 2000
#define PTM_STORE_REREAD_MS 10000    /* a fleet's totals read again (Redis) */
#define PTM_STORE_BUSY_LIMIT 5
#define PTM_STORE_MIN_FREE ((uint64_t)1 << 20)
#define STORE_WSTMTS 8               /* the writer's distinct statements */

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define STORE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STORE_SANITIZED 1
#endif

/* The SQLite functions the store calls, from libptm's private copy. */
#define STORE_API(X)                \
    X(sqlite3_libversion_number)    \
    X(sqlite3_open_v2)              \
    X(sqlite3_close_v2)             \
    X(sqlite3_busy_timeout)         \
    X(sqlite3_exec)                 \
    X(sqlite3_prepare_v2)           \
    X(sqlite3_step)                 \
    X(sqlite3_reset)                \
    X(sqlite3_finalize)             \
    X(sqlite3_bind_text)            \
    X(sqlite3_bind_int64)           \
    X(sqlite3_bind_double)          \
    X(sqlite3_column_int64)         \
    X(sqlite3_column_double)        \
    X(sqlite3_column_text)          \
    X(sqlite3_errmsg)               \
    X(sqlite3_extended_errcode)

static struct {
#define X(f) __typeof__(f) *f;
    STORE_API(X)
#undef X
} api;

enum storeStatus { STORE_UNINIT = 0, STORE_READY, STORE_OFF, STORE_FAILED };

static struct {
    pthread_mutex_t mu;           /* status, path, failure, the thread's start */
    enum storeStatus status;
    char path[3072];
    char why[4096];                /* STORE_OFF / STORE_FAILED: why (ptmStoreState) */
    int named;                    /* PTM_HISTORY named the file (not the default) */
    int redis;                    /* PTM_HISTORY=redis://...: store_redis.c's backend */
    void *lib;
    pthread_mutex_t read_mu;      /* loads, on the caller's thread */
    pthread_mutex_t write_mu;     /* writes, their statements, the kept batch */
    struct {                      /* the statements of the write under way,
                                     prepared at first use, on its connection */
        const char *sql;
        sqlite3_stmt *s;
    } wstmt[STORE_WSTMTS];
    struct ptmHistData *kept;     /* a batch a busy file refused */
    size_t n_kept;
    unsigned busy_writes;         /* writes in a row that found the file busy */
    ptmStoreCollector collect;    /* the history's hooks (ptmStoreSetHooks) */
    ptmStoreIds ids;
    ptmStoreRebase rebase;
    int thread_started;
    pthread_mutex_t kick_mu;
    pthread_cond_t kick_cv;
    int kicked;
    int atexit_set;
} st = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .read_mu = PTHREAD_MUTEX_INITIALIZER,
    .write_mu = PTHREAD_MUTEX_INITIALIZER,
    .kick_mu = PTHREAD_MUTEX_INITIALIZER,
    .kick_cv = PTHREAD_COND_INITIALIZER,
};

/* Set in a child of fork(): the store is the parent's. */
static atomic_int storeForked;

static void storeAtforkChild(void)
{
    atomic_store(&storeForked, 1);
}

/* Registered before main: registered at the first call instead, a fork
** racing that call gave a child without the flag and with the read lock
** held by the parent's thread (its first call then hung). */
__attribute__((constructor)) static void storeAtforkInit(void)
{
    (void)pthread_atfork(NULL, NULL, storeAtforkChild);
}

/* storeFail: the store becomes unavailable (st.mu held); says so once on
** stderr when PTM_HISTORY named the file.  The default file's failure (a
** read-only home) is only in the trace's history_store: a user who did not
** ask for a history gets the plain build's stderr. */
static void storeFailLocked(const char *fmt, ...) PTM_PRINTF_LIKE(1, 2);
static void storeFailLocked(const char *fmt, ...)
{
    if (st.status == STORE_FAILED || st.status == STORE_OFF)
        return;
    char why[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(st.why, sizeof st.why, "PTM_HISTORY=%s: %s; the history is kept in memory only",
             st.path[0] ? st.path : "(none)", why);
    st.status = STORE_FAILED;
    if (!st.named)
        return;
    char line[sizeof st.why + 8];
    int n = snprintf(line, sizeof line, "ptm: %s\n", st.why);
    if (n > 0)
        (void)!ptmOs.write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

#define storeFail(...)                       \
    do {                                     \
        pthread_mutex_lock(&st.mu);          \
        storeFailLocked(__VA_ARGS__);        \
        pthread_mutex_unlock(&st.mu);        \
    } while (0)

/* storeMkdirs: the directories above path, made when missing (0700).
** Returns 0 or an errno. */
static int storeMkdirs(const char *path)
{
    char dir[sizeof st.path];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (ptmOs.mkdir(dir, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (ptmOs.mkdir(dir, 0700) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

/* storePathFromEnv: st.path from PTM_HISTORY or the default (st.mu held).
** Returns 0, or -1 with st.why set when the history stays in memory. */
static int storePathFromEnv(void)
{
    const char *env = getenv("PTM_HISTORY");
    if (env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0)) {
        snprintf(st.why, sizeof st.why, "off");
        return -1;
    }
    if (env && *env) {
        st.named = 1;
        st.redis = strncmp(env, "redis:", 6) == 0;
        /* A relative path is the one in the directory of the first use:
        ** each load and write opens the file again (connections last one
        ** operation), and a program that changes directory must not get
        ** a second history file there. */
        char cwd[2048];
        int n = env[0] == '/' || st.redis || !ptmOs.getcwd(cwd, sizeof cwd)
                    ? snprintf(st.path, sizeof st.path, "%s", env)
                    : snprintf(st.path, sizeof st.path, "%s/%s", cwd, env);
        if (n < 0 || (size_t)n >= sizeof st.path) {
            snprintf(st.why, sizeof st.why, "off: PTM_HISTORY's path is too long");
            return -1;
        }
        return 0;
    }
    char prog[256];
    snprintf(prog, sizeof prog, "%s",
             program_invocation_short_name && *program_invocation_short_name
                 ? program_invocation_short_name
                 : "program");
    for (char *p = prog; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '_';
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(st.path, sizeof st.path, "%s/ptm/%s.db", xdg, prog);
    else if (home && home[0] == '/')
        n = snprintf(st.path, sizeof st.path, "%s/.local/state/ptm/%s.db", home, prog);
    else {
        snprintf(st.why, sizeof st.why, "off: no PTM_HISTORY, XDG_STATE_HOME or HOME");
        return -1;
    }
    if (n < 0 || (size_t)n >= sizeof st.path) {
        snprintf(st.why, sizeof st.why, "off: the default history path is too long");
        return -1;
    }
    return 0;
}

/* storeLoadLib: libptm's SQLite (st.mu held).  Returns 0, or -1 with the
** store failed. */
static int storeLoadLib(void)
{
    int flags = RTLD_NOW | RTLD_LOCAL;
#if !defined(STORE_SANITIZED) && defined(RTLD_DEEPBIND)
    flags |= RTLD_DEEPBIND;
#endif
    st.lib = dlopen("libsqlite3.so.0", flags);
    if (!st.lib) {
        const char *e = dlerror();
        storeFailLocked("cannot load libsqlite3.so.0: %s", e ? e : "?");
        return -1;
    }
#define X(f)                                                          \
    if (!(api.f = (__typeof__(f) *)dlsym(st.lib, #f))) {              \
        storeFailLocked("libsqlite3.so.0 has no %s", #f);             \
        return -1;                                                    \
    }
    STORE_API(X)
#undef X
    if (api.sqlite3_libversion_number() < 3024000) {
        storeFailLocked("libsqlite3.so.0 is older than 3.24 (no upsert)");
        return -1;
    }
    return 0;
}

/* storeRedisInitLocked: PTM_HISTORY=redis://...: the URL parsed strictly
** and hiredis loaded (st.mu held); a bad URL is said once and the history
** stays in memory. */
static void storeRedisInitLocked(void)
{
    struct ptmRedisUrl u;
    char why[400];
    if (ptmStoreRedisParse(st.path, &u, why, sizeof why) != 0)
        storeFailLocked("a bad Redis URL: %s", why);
    else if (ptmStoreRedisOpen(&u, why, sizeof why) != 0)
        storeFailLocked("%s", why);
    else
        st.status = STORE_READY;
}

/* storeInit: the store's path and library, once per process (or after
** ptmStoreReset).  Returns 1 when the store may be used. */
static int storeInit(void)
{
    if (atomic_load(&storeForked) || ptmMirrorCurrent)
        return 0;
    pthread_mutex_lock(&st.mu);
    if (st.status == STORE_UNINIT) {
        if (storePathFromEnv() != 0)
            st.status = STORE_OFF;
        else if (st.redis)
            storeRedisInitLocked();
        else if (st.lib || storeLoadLib() == 0)
            st.status = STORE_READY;
    }
    int ok = st.status == STORE_READY;
    pthread_mutex_unlock(&st.mu);
    return ok;
}

static const char storeSchema[] =
    "CREATE TABLE IF NOT EXISTS ptm_tx(id TEXT PRIMARY KEY, calls INTEGER NOT NULL, "
    "successes INTEGER NOT NULL, failures INTEGER NOT NULL, diversions INTEGER NOT NULL, "
    "latency_n INTEGER NOT NULL, latency_mean_us REAL NOT NULL, latency_var REAL NOT NULL, "
    "baseline_n INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ptm_sig(id TEXT NOT NULL, sig INTEGER NOT NULL, "
    "mirrors INTEGER NOT NULL, PRIMARY KEY(id, sig));"
    "CREATE TABLE IF NOT EXISTS ptm_path(id TEXT NOT NULL, path TEXT NOT NULL, "
    "calls INTEGER NOT NULL, failures INTEGER NOT NULL, PRIMARY KEY(id, path));"
    "CREATE TABLE IF NOT EXISTS ptm_model(id TEXT NOT NULL, cell INTEGER NOT NULL, "
    "n INTEGER NOT NULL, failures INTEGER NOT NULL, PRIMARY KEY(id, cell));";

/* storeCorrupt: whether rc says the file is not a database we can use. */
static int storeCorrupt(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_FORMAT ||
           rc == SQLITE_SCHEMA || rc == SQLITE_MISMATCH || rc == SQLITE_CONSTRAINT;
}

/* storeBusy: whether rc is another process holding the file. */
static int storeBusy(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* storeSqlFail: a statement on db failed with rc: the store becomes
** unavailable, unless the file was only busy (then nothing is said). */
static void storeSqlFail(sqlite3 *db, int rc, const char *what)
{
    if (storeBusy(rc))
        return;
    const char *msg = db ? api.sqlite3_errmsg(db) : "";
    if (storeCorrupt(rc))
        storeFail("%s: the file is corrupt or not a history file (%s)", what, msg);
    else
        storeFail("%s: %s (SQLite code %d)", what, msg, rc);
}

/* storePreflight: the file can be created and written, and its file
** system has room, asked through ptmOs (fault injection reaches it).
** Returns 0, or -1 with the store failed. */
static int storePreflight(const char *path)
{
    int err = storeMkdirs(path);
    if (err) {
        storeFail("cannot make its directory: %s", strerror(err));
        return -1;
    }
    int fd = ptmOs.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        storeFail("cannot open it: %s", strerror(errno));
        return -1;
    }
    struct statvfs sv;
    int full = ptmOs.fstatvfs(fd, &sv) == 0 &&
               (uint64_t)sv.f_bavail * (uint64_t)(sv.f_frsize ? sv.f_frsize : sv.f_bsize) <
                   PTM_STORE_MIN_FREE;
    ptmOs.close(fd);
    if (full) {
        storeFail("cannot write it: %s", strerror(ENOSPC));
        return -1;
    }
    return 0;
}

/* storeOpen: a connection to the file with the schema, WAL and busy_ms.
** Returns it, or NULL (busy: NULL and nothing said; else the store
** failed). */
static sqlite3 *storeOpen(int busy_ms)
{
    char path[sizeof st.path];
    pthread_mutex_lock(&st.mu);
    snprintf(path, sizeof path, "%s", st.path);
    pthread_mutex_unlock(&st.mu);
    if (storePreflight(path) != 0)
        return NULL;
    sqlite3 *db = NULL;
    int rc = api.sqlite3_open_v2(path, &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_PRIVATECACHE,
                                 NULL);
    if (rc != SQLITE_OK) {
        storeSqlFail(db, rc, "cannot open it");
        api.sqlite3_close_v2(db);
        return NULL;
    }
    api.sqlite3_busy_timeout(db, busy_ms);
    rc = api.sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
                          NULL, NULL);
    if (rc == SQLITE_OK)
        rc = api.sqlite3_exec(db, storeSchema, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        storeSqlFail(db, rc, "cannot read it");
        api.sqlite3_close_v2(db);
        return NULL;
    }
    return db;
}

static int storeReady(void)
{
    if (atomic_load(&storeForked))
        return 0;
    pthread_mutex_lock(&st.mu);
    int ok = st.status == STORE_READY;
    pthread_mutex_unlock(&st.mu);
    return ok;
}

/* ---------------------------------------------------------------------
** Loading an id
*/

static uint64_t storeU64(sqlite3_stmt *s, int col)
{
    sqlite3_int64 v = api.sqlite3_column_int64(s, col);
    return v < 0 ? 0 : (uint64_t)v;
}

static uint32_t storeU32(sqlite3_stmt *s, int col)
{
    uint64_t v = storeU64(s, col);
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static double storeFinite(sqlite3_stmt *s, int col)
{
    double x = api.sqlite3_column_double(s, col);
    return isfinite(x) && x >= 0 ? x : 0.0;
}

/*
** storeStmt: sql (a string constant: its address is its key) prepared on
** db.  kept (the writer, write_mu held, db the connection of the write
** under way): the statement stays prepared for the rest of that write,
** since a write runs the same few statements once per row, and preparing
** each again cost the writer thread as much as the rows.  Else prepared
** afresh.  OUT: *out.
** Returns SQLITE_OK or the failing code; storeStmtDone ends the use.
*/
static int storeStmt(sqlite3 *db, int kept, const char *sql, sqlite3_stmt **out)
{
    unsigned i = STORE_WSTMTS;

    *out = NULL;
    if (kept)
        for (i = 0; i < STORE_WSTMTS && st.wstmt[i].sql; i++)
            if (st.wstmt[i].sql == sql) {
                *out = st.wstmt[i].s;
                return SQLITE_OK;
            }
    int rc = api.sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc == SQLITE_OK && i < STORE_WSTMTS) {
        st.wstmt[i].sql = sql;
        st.wstmt[i].s = *out;
    }
    return rc;
}

/* storeStmtDone: s, from storeStmt with kept, used: a kept statement is
** reset (which ends its read of the file), any other finalized. */
static void storeStmtDone(int kept, sqlite3_stmt *s)
{
    for (unsigned i = 0; kept && i < STORE_WSTMTS && st.wstmt[i].sql; i++)
        if (st.wstmt[i].s == s) {
            api.sqlite3_reset(s);
            return;
        }
    api.sqlite3_finalize(s);
}

/* storeForgetStmts: finalizes the kept statements of the write under way,
** before its connection closes (write_mu held). */
static void storeForgetStmts(void)
{
    for (unsigned i = 0; i < STORE_WSTMTS && st.wstmt[i].sql; i++) {
        api.sqlite3_finalize(st.wstmt[i].s);
        st.wstmt[i].sql = NULL;
        st.wstmt[i].s = NULL;
    }
}

/* storeQuery: runs sql with id bound, calling row(s, out, i) per row
** (kept: storeStmt's).  Returns SQLITE_OK or the failing code. */
static int storeQuery(sqlite3 *db, int kept, const char *sql, const char *id,
                      void (*row)(sqlite3_stmt *, struct ptmHistData *, unsigned),
                      struct ptmHistData *out, unsigned *rows)
{
    sqlite3_stmt *s;
    int rc = storeStmt(db, kept, sql, &s);
    if (rc != SQLITE_OK)
        return rc;
    api.sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    unsigned i = 0;
    while ((rc = api.sqlite3_step(s)) == SQLITE_ROW)
        row(s, out, i++);
    storeStmtDone(kept, s);
    *rows += i;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void storeRowTx(sqlite3_stmt *s, struct ptmHistData *d, unsigned i)
{
    (void)i;
    d->calls = storeU64(s, 0);
    d->successes = storeU64(s, 1);
    d->failures = storeU64(s, 2);
    d->diversions = storeU64(s, 3);
    d->latency_n = storeU64(s, 4);
    d->latency_mean_us = storeFinite(s, 5);
    d->latency_var = storeFinite(s, 6);
    d->baseline_n = storeU64(s, 7);
}

static void storeRowSig(sqlite3_stmt *s, struct ptmHistData *d, unsigned i)
{
    if (i >= PTM_HISTORY_MAX_SIGS)
        return;
    d->sigs[d->n_sigs].sig = storeU32(s, 0);
    d->sigs[d->n_sigs++].mirrors = storeU64(s, 1);
}

static void storeRowPath(sqlite3_stmt *s, struct ptmHistData *d, unsigned i)
{
    const unsigned char *name = api.sqlite3_column_text(s, 0);
    if (i >= PTM_STORE_MAX_PATHS || !name)
        return;
    snprintf(d->paths[d->n_paths].name, PTM_STORE_PATH_NAME, "%s", (const char *)name);
    d->paths[d->n_paths].calls = storeU64(s, 1);
    d->paths[d->n_paths++].failures = storeU64(s, 2);
}

static void storeRowModel(sqlite3_stmt *s, struct ptmHistData *d, unsigned i)
{
    (void)i;
    sqlite3_int64 cell = api.sqlite3_column_int64(s, 0);
    if (cell < 0 || cell >= PTM_MODEL_CELLS)
        return; /* not ours: a file edited by hand */
    uint32_t n = storeU32(s, 1), f = storeU32(s, 2);
    d->model.n[cell] = n;
    d->model.fail[cell] = f < n ? f : n;
}

/*
** ptmStoreLoad: id's totals from the history file, on the caller's
** thread, in one read transaction (WAL: it waits for no writer; a file
** busy past PTM_STORE_READ_BUSY_MS leaves the id cold).  The values are
** checked (negative, out-of-range or not finite ones read as 0).
** OUT: *out (zeroed, then the file's rows).  Returns 1 when the file had
** rows for id, else 0: no file yet, no rows, store off or unavailable,
** or a child of fork().
*/
int ptmStoreLoad(const char *id, struct ptmHistData *out)
{
    memset(out, 0, sizeof *out);
    if (!id || !storeInit())
        return 0;
    snprintf(out->id, sizeof out->id, "%s", id);
    if (st.redis) {
        /* The writer resolves a host name: a transaction's thread never does. */
        ptmStoreKick();
        return ptmStoreRedisLoad(id, out);
    }
    pthread_mutex_lock(&st.read_mu);
    sqlite3 *db = storeOpen(PTM_STORE_READ_BUSY_MS);
    unsigned rows = 0;
    int rc = db ? api.sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) : SQLITE_CANTOPEN;
    if (db && rc == SQLITE_OK) {
        rc = storeQuery(db, 0,
                        "SELECT calls, successes, failures, diversions, latency_n, "
                        "latency_mean_us, latency_var, baseline_n FROM ptm_tx WHERE id = ?1",
                        id, storeRowTx, out, &rows);
        if (rc == SQLITE_OK)
            rc = storeQuery(db, 0,
                            "SELECT sig, mirrors FROM ptm_sig WHERE id = ?1 "
                            "ORDER BY mirrors DESC LIMIT 64",
                            id, storeRowSig, out, &rows);
        if (rc == SQLITE_OK)
            rc = storeQuery(db, 0, "SELECT path, calls, failures FROM ptm_path WHERE id = ?1 "
                                "ORDER BY calls DESC LIMIT 8",
                            id, storeRowPath, out, &rows);
        if (rc == SQLITE_OK)
            rc = storeQuery(db, 0, "SELECT cell, n, failures FROM ptm_model WHERE id = ?1", id,
                            storeRowModel, out, &rows);
        api.sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    if (db && rc != SQLITE_OK)
        storeSqlFail(db, rc, "reading it");
    if (db)
        api.sqlite3_close_v2(db);
    pthread_mutex_unlock(&st.read_mu);
    if (rc != SQLITE_OK) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return rows > 0;
}

/* ---------------------------------------------------------------------
** Writing increments
*/

/* storeExecOne: sql on the writer's connection db (kept, storeStmt), bound
** with bind(s, d, i), stepped once.  Returns SQLITE_OK or the failing code. */
static int storeExecOne(sqlite3 *db, const char *sql,
                        void (*bind)(sqlite3_stmt *, const struct ptmHistData *, unsigned),
                        const struct ptmHistData *d, unsigned i)
{
    sqlite3_stmt *s;
    int rc = storeStmt(db, 1, sql, &s);
    if (rc != SQLITE_OK)
        return rc;
    bind(s, d, i);
    rc = api.sqlite3_step(s);
    storeStmtDone(1, s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static sqlite3_int64 storeI64(uint64_t x)
{
    return x > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)x;
}

/* The file's latency estimate for d's id.  OUT: *n, *mean, *var. */
static int storeReadLatency(sqlite3 *db, const char *id, uint64_t *n, double *mean,
                            double *var)
{
    struct ptmHistData tmp;
    unsigned rows = 0;
    memset(&tmp, 0, sizeof tmp);
    int rc = storeQuery(db, 1,
                        "SELECT calls, successes, failures, diversions, latency_n, "
                        "latency_mean_us, latency_var, baseline_n FROM ptm_tx WHERE id = ?1",
                        id, storeRowTx, &tmp, &rows);
    *n = tmp.latency_n;
    *mean = tmp.latency_mean_us;
    *var = tmp.latency_var;
    return rc;
}

/* storePool: the file's latency estimate (n, mean, var) and this
** process's (dn new samples, mean, var) pooled, each weighted by its
** samples up to the history's window, so that neither a long-lived
** file nor a busy process drowns the other.  OUT: *mean, *var. */
static void storePool(uint64_t n, double m1, double v1, uint64_t dn, double m2, double v2,
                      double *mean, double *var)
{
    const double w = 8.0; /* PTM_HISTORY_LATENCY_WINDOW */
    double w1 = n < w ? (double)n : w, w2 = dn < w ? (double)dn : w;
    if (w1 + w2 <= 0) {
        *mean = m2;
        *var = v2;
        return;
    }
    *mean = (w1 * m1 + w2 * m2) / (w1 + w2);
    *var = (w1 * (v1 + (m1 - *mean) * (m1 - *mean)) + w2 * (v2 + (m2 - *mean) * (m2 - *mean))) /
           (w1 + w2);
}

static struct {
    uint64_t n;
    double mean, var;
} storeLat; /* the latency row being written (write_mu held) */

static void storeBindNothing(sqlite3_stmt *s, const struct ptmHistData *d, unsigned i)
{
    (void)s;
    (void)d;
    (void)i;
}

static void storeBindTx(sqlite3_stmt *s, const struct ptmHistData *d, unsigned i)
{
    (void)i;
    api.sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
    api.sqlite3_bind_int64(s, 2, storeI64(d->calls));
    api.sqlite3_bind_int64(s, 3, storeI64(d->successes));
    api.sqlite3_bind_int64(s, 4, storeI64(d->failures));
    api.sqlite3_bind_int64(s, 5, storeI64(d->diversions));
    api.sqlite3_bind_int64(s, 6, storeI64(storeLat.n));
    api.sqlite3_bind_double(s, 7, storeLat.mean);
    api.sqlite3_bind_double(s, 8, storeLat.var);
    api.sqlite3_bind_int64(s, 9, storeI64(d->baseline_n));
}

static void storeBindSig(sqlite3_stmt *s, const struct ptmHistData *d, unsigned i)
{
    api.sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
    api.sqlite3_bind_int64(s, 2, d->sigs[i].sig);
    api.sqlite3_bind_int64(s, 3, storeI64(d->sigs[i].mirrors));
}

static void storeBindPath(sqlite3_stmt *s, const struct ptmHistData *d, unsigned i)
{
    api.sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
    api.sqlite3_bind_text(s, 2, d->paths[i].name, -1, SQLITE_TRANSIENT);
    api.sqlite3_bind_int64(s, 3, storeI64(d->paths[i].calls));
    api.sqlite3_bind_int64(s, 4, storeI64(d->paths[i].failures));
}

static void storeBindModel(sqlite3_stmt *s, const struct ptmHistData *d, unsigned i)
{
    api.sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
    api.sqlite3_bind_int64(s, 2, i);
    api.sqlite3_bind_int64(s, 3, d->model.n[i]);
    api.sqlite3_bind_int64(s, 4, d->model.fail[i]);
}

/* storeWriteOne: adds d's increments to the file (a transaction is open). */
static int storeWriteOne(sqlite3 *db, const struct ptmHistData *d)
{
    uint64_t n;
    double mean, var;
    int rc = storeReadLatency(db, d->id, &n, &mean, &var);
    if (rc != SQLITE_OK)
        return rc;
    if (d->latency_reset) {
        storeLat.n = d->latency_n;
        storeLat.mean = d->latency_mean_us;
        storeLat.var = d->latency_var;
    } else if (d->latency_n) {
        storeLat.n = n + d->latency_n;
        storePool(n, mean, var, d->latency_n, d->latency_mean_us, d->latency_var, &storeLat.mean,
                  &storeLat.var);
    } else {
        storeLat.n = n;
        storeLat.mean = mean;
        storeLat.var = var;
    }
    rc = storeExecOne(db,
                      "INSERT INTO ptm_tx VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                      "ON CONFLICT(id) DO UPDATE SET calls = calls + excluded.calls, "
                      "successes = successes + excluded.successes, "
                      "failures = failures + excluded.failures, "
                      "diversions = diversions + excluded.diversions, "
                      "latency_n = excluded.latency_n, latency_mean_us = excluded.latency_mean_us, "
                      "latency_var = excluded.latency_var, "
                      "baseline_n = baseline_n + excluded.baseline_n",
                      storeBindTx, d, 0);
    for (unsigned i = 0; rc == SQLITE_OK && i < d->n_sigs && i < PTM_HISTORY_MAX_SIGS; i++)
        rc = storeExecOne(db,
                          "INSERT INTO ptm_sig VALUES(?1, ?2, ?3) ON CONFLICT(id, sig) "
                          "DO UPDATE SET mirrors = mirrors + excluded.mirrors",
                          storeBindSig, d, i);
    for (unsigned i = 0; rc == SQLITE_OK && i < d->n_paths && i < PTM_STORE_MAX_PATHS; i++)
        rc = storeExecOne(db,
                          "INSERT INTO ptm_path VALUES(?1, ?2, ?3, ?4) ON CONFLICT(id, path) "
                          "DO UPDATE SET calls = calls + excluded.calls, "
                          "failures = failures + excluded.failures",
                          storeBindPath, d, i);
    for (unsigned i = 0; rc == SQLITE_OK && i < PTM_MODEL_CELLS; i++)
        if (d->model.n[i])
            rc = storeExecOne(db,
                              "INSERT INTO ptm_model VALUES(?1, ?2, ?3, ?4) "
                              "ON CONFLICT(id, cell) DO UPDATE SET n = n + excluded.n, "
                              "failures = failures + excluded.failures",
                              storeBindModel, d, i);
    return rc;
}

/* storeKeep: appends batch v[0..n) to the kept one (write_mu held);
** frees v. */
static void storeKeep(struct ptmHistData *v, size_t n)
{
    if (!n) {
        free(v);
        return;
    }
    struct ptmHistData *all = realloc(st.kept, (st.n_kept + n) * sizeof *all);
    if (all) {
        memcpy(all + st.n_kept, v, n * sizeof *v);
        st.kept = all;
        st.n_kept += n;
    }
    free(v);
}

/* storeWriteKept: the kept batch in one IMMEDIATE transaction (write_mu
** held), on a connection of its own.  Returns SQLITE_OK (the batch is
** gone) or the failing code (it is kept when the file was busy; any other
** failure is said here). */
static int storeWriteKept(void)
{
    sqlite3 *db = storeOpen(PTM_STORE_WRITE_BUSY_MS);
    if (!db)
        return SQLITE_CANTOPEN;
    int rc = storeExecOne(db, "BEGIN IMMEDIATE", storeBindNothing, NULL, 0);
    for (size_t i = 0; rc == SQLITE_OK && i < st.n_kept; i++)
        rc = storeWriteOne(db, &st.kept[i]);
    if (rc == SQLITE_OK)
        rc = storeExecOne(db, "COMMIT", storeBindNothing, NULL, 0);
    storeForgetStmts();
    if (rc != SQLITE_OK) {
        api.sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        if (!storeBusy(rc))
            storeSqlFail(db, rc, "writing it");
        api.sqlite3_close_v2(db);
        return rc;
    }
    api.sqlite3_close_v2(db);
    free(st.kept);
    st.kept = NULL;
    st.n_kept = 0;
    return SQLITE_OK;
}

static enum ptmRc storeFlush(int at_exit);

/*
** ptmStoreFlush: collects the histories' increments (the collector hook)
** and adds them to the file, on this thread.  A busy file keeps the batch
** for the next flush; PTM_STORE_BUSY_LIMIT busy flushes in a row, or any
** other failure, make the store unavailable (said once).
** Returns PTM_OK (written, or nothing to write), PTM_EINVAL when the store
** is off or unavailable, PTM_ERROR when this write failed or was put off.
** With Redis, a failed push never makes the store unavailable: the
** increments are kept (or dropped, store_redis.c) and the server retried.
*/
enum ptmRc ptmStoreFlush(void)
{
    return storeFlush(0);
}

/* storeFlushRedis: store_redis.c collects the increments under its own
** write lock and keeps them while the server cannot take them. */
static enum ptmRc storeFlushRedis(int at_exit)
{
    pthread_mutex_lock(&st.mu);
    ptmStoreCollector collect = st.collect;
    pthread_mutex_unlock(&st.mu);
    return ptmStoreRedisFlush(collect, at_exit);
}

static enum ptmRc storeFlush(int at_exit)
{
    if (!storeInit())
        return PTM_EINVAL;
    if (st.redis)
        return storeFlushRedis(at_exit);
    pthread_mutex_lock(&st.write_mu);
    struct ptmHistData *v = NULL;
    size_t n = st.collect ? st.collect(&v) : 0;
    storeKeep(v, n);
    enum ptmRc ret = PTM_OK;
    if (st.n_kept && storeReady()) {
        int rc = storeWriteKept();
        if (rc != SQLITE_OK) {
            ret = PTM_ERROR;
            if (storeBusy(rc) && ++st.busy_writes < PTM_STORE_BUSY_LIMIT) {
                /* kept for the next write */
            } else {
                if (storeBusy(rc))
                    storeFail("still locked by another process after %d writes",
                              PTM_STORE_BUSY_LIMIT);
                free(st.kept);
                st.kept = NULL;
                st.n_kept = 0;
            }
        } else {
            st.busy_writes = 0;
        }
    }
    if (!storeReady()) {
        free(st.kept);
        st.kept = NULL;
        st.n_kept = 0;
        ret = ret == PTM_OK ? PTM_EINVAL : ret;
    }
    pthread_mutex_unlock(&st.write_mu);
    return ret;
}

/*
** ptmStoreReread: with Redis, the fleet's totals of every id this process
** has a history of, read again into the histories (store_redis.c), on
** this thread.  Returns PTM_OK, PTM_ERROR (the server could not be read:
** recorded, retried later), or PTM_EINVAL (no Redis store: a file is not
** re-read, the store is off or unavailable).
*/
enum ptmRc ptmStoreReread(void)
{
    if (!storeInit() || !st.redis)
        return PTM_EINVAL;
    pthread_mutex_lock(&st.mu);
    ptmStoreIds ids = st.ids;
    ptmStoreRebase rebase = st.rebase;
    pthread_mutex_unlock(&st.mu);
    return ptmStoreRedisReread(ids, rebase);
}

/* ---------------------------------------------------------------------
** The writer thread and the exit
*/

/* storeThread: the writer: a flush at every kick and every
** PTM_STORE_PERIOD_MS; with Redis, after the flush, a re-read every
** PTM_STORE_REREAD_MS, so that a long-running process learns what the
** rest of the fleet learnt after it loaded an id. */
static void *storeThread(void *arg)
{
    (void)arg;
    uint64_t reread_at = ptmOsNowNs() + (uint64_t)PTM_STORE_REREAD_MS * 1000000u;
    for (;;) {
        pthread_mutex_lock(&st.kick_mu);
        if (!st.kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += PTM_STORE_PERIOD_MS / 1000;
            pthread_cond_timedwait(&st.kick_cv, &st.kick_mu, &ts);
        }
        st.kicked = 0;
        pthread_mutex_unlock(&st.kick_mu);
        if (atomic_load(&storeForked) || ptmStoreFlush() == PTM_EINVAL)
            break; /* off or unavailable: nothing will ever be written */
        if (st.redis && ptmOsNowNs() >= reread_at) {
            (void)ptmStoreReread();
            reread_at = ptmOsNowNs() + (uint64_t)PTM_STORE_REREAD_MS * 1000000u;
        }
    }
    pthread_mutex_lock(&st.mu);
    st.thread_started = 0;
    pthread_mutex_unlock(&st.mu);
    return NULL;
}

static void storeAtExit(void)
{
    if (!atomic_load(&storeForked))
        (void)storeFlush(1);
}

/* storeStartThread: the writer, with every signal blocked (the host's
** signals go to its own threads), and the exit flush.  st.mu held. */
static void storeStartThreadLocked(void)
{
    if (!st.atexit_set) {
        st.atexit_set = 1;
        atexit(storeAtExit);
    }
    if (st.thread_started)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, storeThread, NULL) == 0) {
        st.thread_started = 1;
        pthread_setname_np(t, "ptm-history");
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
** ptmStoreSetHooks: registers the history's hooks: collect, which the
** writer calls for the increments to write, and ids and rebase, for a
** re-read of a fleet's totals; arms the exit flush.
*/
void ptmStoreSetHooks(ptmStoreCollector collect, ptmStoreIds ids, ptmStoreRebase rebase)
{
    if (atomic_load(&storeForked))
        return;
    pthread_mutex_lock(&st.mu);
    st.collect = collect;
    st.ids = ids;
    st.rebase = rebase;
    if (!st.atexit_set) {
        st.atexit_set = 1;
        atexit(storeAtExit);
    }
    pthread_mutex_unlock(&st.mu);
}

/*
** ptmStoreKick: PTM_STORE_BATCH more calls were recorded: wakes the
** writer, starting it on the first kick.  Never waits for a write (the
** locks it takes are held only to start the thread or flag the kick).
*/
static atomic_ulong storeKicks;

void ptmStoreKick(void)
{
    atomic_fetch_add(&storeKicks, 1);
    if (!storeInit())
        return;
    pthread_mutex_lock(&st.mu);
    if (st.status == STORE_READY)
        storeStartThreadLocked();
    pthread_mutex_unlock(&st.mu);
    pthread_mutex_lock(&st.kick_mu);
    st.kicked = 1;
    pthread_cond_signal(&st.kick_cv);
    pthread_mutex_unlock(&st.kick_mu);
}

unsigned long ptmStoreKicks(void)
{
    return atomic_load(&storeKicks);
}

/*
** ptmStoreState: NULL while the store works (or was never needed);
** "off" when PTM_HISTORY=off or no default path exists; else why it is
** unavailable ("PTM_HISTORY=path: ...; the history is kept in memory
** only"), or in a child of fork(), whose store is its parent's.  The
** string lives until ptmStoreReset.  A child never takes st.mu: another
** thread of its parent may have held it at the fork.
*/
const char *ptmStoreState(void)
{
    if (atomic_load(&storeForked))
        return "a child of fork(): the history is kept in memory only";
    pthread_mutex_lock(&st.mu);
    const char *s = st.status == STORE_OFF || st.status == STORE_FAILED ? st.why
                    : st.status == STORE_READY && st.redis ? ptmStoreRedisState()
                                                           : NULL;
    pthread_mutex_unlock(&st.mu);
    return s;
}

/*
** ptmStoreReset: writes nothing; drops a kept
** batch and forgets the path and any failure, so that the next use reads
** PTM_HISTORY again.  For tests (a second "run" in one process); the
** writer thread, if any, stops at its next wake-up or finds the new
** state.  The library stays loaded.
*/
void ptmStoreReset(void)
{
    ptmStoreRedisReset();
    pthread_mutex_lock(&st.write_mu);
    pthread_mutex_lock(&st.read_mu);
    pthread_mutex_lock(&st.mu);
    free(st.kept);
    st.kept = NULL;
    st.n_kept = 0;
    st.busy_writes = 0;
    st.path[0] = 0;
    st.why[0] = 0;
    st.named = 0;
    st.redis = 0;
    st.status = STORE_UNINIT;
    pthread_mutex_unlock(&st.mu);
    pthread_mutex_unlock(&st.read_mu);
    pthread_mutex_unlock(&st.write_mu);
}
