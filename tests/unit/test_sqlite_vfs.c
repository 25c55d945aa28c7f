/*
** test_sqlite_vfs.c - the SQLite overlay VFS (runtime/shims/sqlite_vfs.c):
** an overlay connection reads the real database, keeps its writes in
** memory, leaves the database, -wal and -shm byte for byte as they were
** and creates no -journal, in both journal modes; it probes locks (a
** writer in another process, an OFD lock, the host's own connection) and
** records them once, as SQLITE_BUSY or "go on"; it sees a database changed
** during a mirror; it never serves a stale page; it never closes its
** private descriptors; a failing pread is a clean SQLite error.
*/
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "fd_test.h"
#include "shims_test.h"
#include "shims/sqlite_int.h"

#define CALL PTM_CALL_fcntl /* any call: lock events name the shim's */

static sqlite3 *hostDb;

/* The real database: accounts with CHECK(balance >= 0), 3 rows, in the
** journal mode asked; a WAL database keeps its host connection open (and
** its frames in the -wal: no checkpoint) so that -wal and -shm exist. */
static const char *makeDb(int wal)
{
    const char *path = at("bank.db");
    char sql[512];

    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=%s; PRAGMA wal_autocheckpoint=0;"
             "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL"
             " CHECK(balance >= 0));"
             "INSERT INTO accounts VALUES(1, 100),(2, 50),(3, 0);",
             wal ? "WAL" : "DELETE");
    cr_assert_eq(sqlite3_exec(hostDb, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(hostDb));
    if (!wal) {
        sqlite3_close(hostDb);
        hostDb = NULL;
    }
    return path;
}

static void setup(void)
{
    enterMirror();
}

static void teardown(void)
{
    if (hostDb)
        sqlite3_close(hostDb);
    hostDb = NULL;
    leaveMirror();
}

/* A file's bytes, whole, and its mtime. */
struct snap {
    int missing;
    size_t n;
    unsigned char *bytes;
    struct timespec mtime;
};

static void snapTake(const char *path, struct snap *s)
{
    struct stat st;
    FILE *f;

    memset(s, 0, sizeof *s);
    if (stat(path, &st) != 0) {
        s->missing = 1;
        return;
    }
    s->mtime = st.st_mtim;
    s->bytes = malloc((size_t)st.st_size + 1);
    f = fopen(path, "rb");
    cr_assert_not_null(f);
    s->n = fread(s->bytes, 1, (size_t)st.st_size, f);
    fclose(f);
}

static void snapCheck(const char *path, struct snap *before)
{
    struct snap now;
    snapTake(path, &now);
    cr_assert_eq(now.missing, before->missing, "%s: existence changed", path);
    cr_assert_eq(now.n, before->n, "%s: size changed", path);
    cr_assert(now.n == 0 || memcmp(now.bytes, before->bytes, now.n) == 0, "%s: content changed",
              path);
    cr_assert_eq(now.mtime.tv_nsec, before->mtime.tv_nsec, "%s: mtime changed", path);
    free(now.bytes);
}

static void snapAll(const char *db, struct snap s[3])
{
    char p[256];
    snapTake(db, &s[0]);
    snprintf(p, sizeof p, "%s-wal", db);
    snapTake(p, &s[1]);
    snprintf(p, sizeof p, "%s-shm", db);
    snapTake(p, &s[2]);
}

static void checkAll(const char *db, struct snap s[3])
{
    char p[256];
    snapCheck(db, &s[0]);
    snprintf(p, sizeof p, "%s-wal", db);
    snapCheck(p, &s[1]);
    snprintf(p, sizeof p, "%s-shm", db);
    snapCheck(p, &s[2]);
    snprintf(p, sizeof p, "%s-journal", db);
    cr_assert_neq(access(p, F_OK), 0, "%s exists", p);
}

/* One integer from a query on db; -1 when there is no row. */
static long long queryInt(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %d %s", sql, rc, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static int run(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static struct ptmSqlOverlay *overlay(const char *path)
{
    struct ptmSqlOverlay *o;
    cr_assert_eq(ptmSqlOverlayOpen(path, &o), SQLITE_OK);
    cr_assert_not_null(o);
    ptmSqlOverlaySetCall(o, CALL);
    return o;
}

/* A mirror's writes, read back inside it; a CHECK violation. */
static void writesStayInMemory(int wal)
{
    const char *path = makeDb(wal);
    struct snap s[3];
    struct ptmSqlOverlay *o = overlay(path), *again;
    sqlite3 *db = ptmSqlOverlayDb(o);

    snapAll(path, s);
    cr_assert_eq(ptmSqlOverlayOpen(path, &again), SQLITE_OK);
    cr_assert_eq(again, o, "the overlay is cached per thread and path");
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    cr_assert_eq(run(db, "BEGIN"), SQLITE_OK);
    cr_assert_eq(run(db, "INSERT INTO accounts VALUES(4, 7)"), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=balance-30 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(run(db, "DELETE FROM accounts WHERE id=3"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=4"), 7);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 70);
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM accounts"), 3);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=balance-80 WHERE id=2"), SQLITE_CONSTRAINT);
    cr_assert_eq(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_CHECK);
    cr_assert_eq(run(db, "COMMIT"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 127);
    checkAll(path, s);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    checkAll(path, s);
    cr_assert_eq(ptmRingCount(ring), 0, "no lock held, no event");

    /* The next mirror sees the real database again. */
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 150);
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM accounts"), 3);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(ptmSqlOverlayBytes(), 0, "End frees the overlay's blocks");
    checkAll(path, s);
    if (hostDb)
        cr_assert_eq(queryInt(hostDb, "SELECT sum(balance) FROM accounts"), 150);
}

Test(sqlite_vfs, writes_stay_in_memory_delete, .init = setup, .fini = teardown)
{
    writesStayInMemory(0);
}

Test(sqlite_vfs, writes_stay_in_memory_wal, .init = setup, .fini = teardown)
{
    writesStayInMemory(1);
}

/* 1,000 mirrors that write: the files never change, no -journal appears. */
static void thousandMirrors(int wal)
{
    const char *path = makeDb(wal);
    struct snap s[3];
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);
    sqlite3_stmt *up;
    char journal[256];
    struct timespec t0, t1;
    int i;

    snapAll(path, s);
    snprintf(journal, sizeof journal, "%s-journal", path);
    /* The statement is prepared once, as the shims keep theirs cached only
    ** within a mirror: here it is reset, which is what costs. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < 1000; i++) {
        cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "UPDATE accounts SET balance=balance-?1 WHERE id=1",
                                        -1, &up, NULL), SQLITE_OK);
        sqlite3_bind_int(up, 1, 10);
        cr_assert_eq(run(db, "BEGIN"), SQLITE_OK);
        cr_assert_eq(sqlite3_step(up), SQLITE_DONE);
        cr_assert_eq(sqlite3_changes(db), 1);
        cr_assert_eq(sqlite3_finalize(up), SQLITE_OK);
        cr_assert_eq(run(db, "UPDATE accounts SET balance=balance+10 WHERE id=2"), SQLITE_OK);
        if (i % 2)
            cr_assert_eq(run(db, "COMMIT"), SQLITE_OK);
        cr_assert_eq(ptmSqlOverlayEnd(o), 0, "cycle %d", i);
        cr_assert_neq(access(journal, F_OK), 0, "cycle %d made a -journal", i);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "%s: %.1f us per Begin/UPDATE x2/End cycle\n", wal ? "WAL" : "DELETE",
                ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1000.0 / 1000);
    checkAll(path, s);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

Test(sqlite_vfs, thousand_mirrors_delete, .init = setup, .fini = teardown, .timeout = 60)
{
    thousandMirrors(0);
}

Test(sqlite_vfs, thousand_mirrors_wal, .init = setup, .fini = teardown, .timeout = 60)
{
    thousandMirrors(1);
}

/* ---- Lock holders in another process ---- */
struct holderProc {
    pid_t pid;
    int go[2], done[2];
};

enum holdHow { HOLD_SQLITE_IMMEDIATE, HOLD_OFD_RESERVED };

static void holdStart(struct holderProc *h, const char *path, enum holdHow how)
{
    char c;
    cr_assert_eq(pipe(h->go), 0);
    cr_assert_eq(pipe(h->done), 0);
    h->pid = fork();
    cr_assert_geq(h->pid, 0);
    if (h->pid == 0) {
        sqlite3 *db = NULL;
        if (how == HOLD_SQLITE_IMMEDIATE) {
            if (sqlite3_open(path, &db) != SQLITE_OK || run(db, "BEGIN IMMEDIATE") != SQLITE_OK)
                _exit(2);
        } else {
            struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                               .l_start = 0x40000001, .l_len = 1};
            int fd = open(path, O_RDWR);
            if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0)
                _exit(3);
        }
        c = 1;
        if (write(h->go[1], &c, 1) != 1 || read(h->done[0], &c, 1) < 0)
            _exit(4);
        if (db)
            run(db, "ROLLBACK");
        _exit(0);
    }
    cr_assert_eq(read(h->go[0], &c, 1), 1, "the holder failed to take its lock");
}

static void holdStop(struct holderProc *h)
{
    int status;
    char c = 1;
    cr_assert_eq(write(h->done[1], &c, 1), 1);
    cr_assert_eq(waitpid(h->pid, &status, 0), h->pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(h->go[0]);
    close(h->go[1]);
    close(h->done[0]);
    close(h->done[1]);
}

/* The lock events recorded so far, and the one lock event. */
static pid_t reservedHolder(const char *path);
static unsigned busyEvents(void)
{
    unsigned i, n = 0;
    for (i = 0; i < ptmRingCount(ring); i++)
        n += ring->ev[i].err == EBUSY;
    return n;
}

static struct ptmEvent *busyEvent(void)
{
    unsigned i;
    for (i = 0; i < ptmRingCount(ring); i++)
        if (ring->ev[i].err == EBUSY)
            return &ring->ev[i];
    cr_assert_fail("no lock event");
    return NULL;
}

/* A writer holding the write lock: FAIL is SQLITE_BUSY, GO_ON goes on;
** each records one event naming the holder. */
static void writerHoldsLock(int wal, enum holdHow how, const char *expect_target)
{
    const char *path = makeDb(wal);
    struct holderProc h;
    struct ptmSqlOverlay *o;
    sqlite3 *db;
    struct ptmEvent *ev;
    char target[PTM_TARGET_MAX];
    int i;

    holdStart(&h, path, how);
    o = overlay(path);
    db = ptmSqlOverlayDb(o);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100,
                 "reads go on under a writer's lock");
    for (i = 0; i < 5; i++)
        cr_assert_eq(run(db, "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_BUSY);
    cr_assert_eq(busyEvents(), 1, "one event per lock kind per mirror, not per retry");
    ev = busyEvent();
    snprintf(target, sizeof target, expect_target, (long)h.pid);
    cr_assert_str_eq(ev->target, target);
    cr_assert_eq(ev->call, CALL);
    cr_assert_eq(ev->flags, PTM_EVF_EFFECT);
    cr_assert_str_eq(ev->detail, "SQLITE_BUSY");
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);

    ptmRingReset(ring);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 1);
    ev = busyEvent();
    cr_assert_str_eq(ev->target, target);
    cr_assert_eq(ev->flags, PTM_EVF_EFFECT | PTM_EVF_PRETENDED);
    cr_assert_str_eq(ev->detail, "go on");
    /* A rollback-mode commit then needs EXCLUSIVE, which the holder's
    ** SHARED lock denies too: a second kind, one more event. */
    cr_assert_eq(busyEvents(), how == HOLD_SQLITE_IMMEDIATE && !wal ? 2 : 1);
    if (busyEvents() == 2) {
        snprintf(target, sizeof target, "bank.db: SHARED lock held by pid %ld", (long)h.pid);
        cr_assert_str_eq(ring->ev[ptmRingCount(ring) - 1].target, target);
    }
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    holdStop(&h);

    /* Free again: no event. */
    ptmRingReset(ring);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=2 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(busyEvents(), 0);
}

Test(sqlite_vfs, reserved_held_by_process, .init = setup, .fini = teardown)
{
    writerHoldsLock(0, HOLD_SQLITE_IMMEDIATE, "bank.db: RESERVED lock held by pid %ld");
}

Test(sqlite_vfs, reserved_held_by_ofd_lock, .init = setup, .fini = teardown)
{
    writerHoldsLock(0, HOLD_OFD_RESERVED, "bank.db: RESERVED lock held by another open file");
}

Test(sqlite_vfs, wal_write_lock_held_by_process, .init = setup, .fini = teardown)
{
    writerHoldsLock(1, HOLD_SQLITE_IMMEDIATE, "bank.db: WAL write lock held by pid %ld");
}

/* The host process's own connection, holding the write lock, is seen. */
static void hostHoldsLock(int wal)
{
    const char *path = makeDb(wal);
    struct ptmSqlOverlay *o;
    sqlite3 *db;
    char target[PTM_TARGET_MAX];

    if (!hostDb)
        cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "BEGIN IMMEDIATE"), SQLITE_OK);
    o = overlay(path);
    db = ptmSqlOverlayDb(o);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_BUSY);
    snprintf(target, sizeof target, "bank.db: %s lock held by pid %ld",
             wal ? "WAL write" : "RESERVED", (long)getpid());
    cr_assert_str_eq(busyEvent()->target, target);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(run(hostDb, "COMMIT"), SQLITE_OK, "the host's lock is intact");
}

Test(sqlite_vfs, host_connection_lock_delete, .init = setup, .fini = teardown)
{
    hostHoldsLock(0);
}

Test(sqlite_vfs, host_connection_lock_wal, .init = setup, .fini = teardown)
{
    hostHoldsLock(1);
}

/* Outside a mirror (a close at thread exit) a held lock is granted
** silently. */
Test(sqlite_vfs, no_event_outside_a_mirror, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o;
    sqlite3 *db;

    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "BEGIN IMMEDIATE"), SQLITE_OK);
    o = overlay(path);
    db = ptmSqlOverlayDb(o);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(ptmRingCount(ring), 0);
    run(hostDb, "ROLLBACK");
}

/* ---- A database that changed during the mirror ---- */
Test(sqlite_vfs, commit_during_mirror_delete, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance=90 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayEnd(o), 1, "a commit during the mirror is inconclusive");
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 90);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

Test(sqlite_vfs, commit_and_checkpoint_during_mirror_wal, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);
    int log, ckpt;

    /* A commit. */
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance=90 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayEnd(o), 1);
    /* A checkpoint alone. */
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 90);
    cr_assert_eq(sqlite3_wal_checkpoint_v2(hostDb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt),
                 SQLITE_OK);
    cr_assert_gt(ckpt, 0);
    cr_assert_eq(ptmSqlOverlayEnd(o), 1, "a checkpoint during the mirror is inconclusive");
    /* Nothing. */
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 90);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

/* ---- No stale page ----
** Mirror 1 commits in the overlay: SQLite then holds the page and the
** change counter C+1 of its own discarded commit.  A real writer commits
** once: the real counter is C+1 too.  SQLite would keep its cache (same
** counter); mirror 2 must read the real row all the same. */
static void noStalePage(int wal)
{
    const char *path = makeDb(wal);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);
    unsigned char before[4], after[4];
    int fd = open(path, O_RDONLY);

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=11 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 11);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);

    cr_assert_eq(pread(fd, before, 4, 24), 4);
    if (!hostDb)
        cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance=22 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(pread(fd, after, 4, 24), 4);
    if (!wal)
        cr_assert_eq(after[3], (unsigned char)(before[3] + 1),
                     "the real counter is now what the overlay's commit had set");

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 22, "a stale page");
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    close(fd);
}

Test(sqlite_vfs, no_stale_page_delete, .init = setup, .fini = teardown)
{
    noStalePage(0);
}

Test(sqlite_vfs, no_stale_page_wal, .init = setup, .fini = teardown)
{
    noStalePage(1);
}

/* ---- The private descriptors are never closed ---- */
struct cyclesArg {
    const char *path;
    int ok;
};

static void *cyclesOnThread(void *arg)
{
    struct cyclesArg *a = arg;
    struct ptmSqlOverlay *o;
    struct ptmMirror m;
    int i;

    ptmMirrorEnter(&m, ring);
    if (ptmSqlOverlayOpen(a->path, &o) != SQLITE_OK)
        return NULL;
    for (i = 0; i < 100; i++) {
        if (ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON) != SQLITE_OK ||
            run(ptmSqlOverlayDb(o), "UPDATE accounts SET balance=5 WHERE id=2") != SQLITE_OK)
            return NULL;
        ptmSqlOverlayEnd(o);
    }
    ptmMirrorLeave(&m);
    a->ok = 1;
    return NULL; /* the thread's exit closes the overlay connection */
}

/* Who holds a write-conflicting lock on the RESERVED byte, seen from
** another process (F_GETLK): its pid, 0 when free. */
static pid_t reservedHolder(const char *path)
{
    int p[2];
    pid_t pid, holder = -1;
    int status;

    cr_assert_eq(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                           .l_start = 0x40000001, .l_len = 1};
        int fd = open(path, O_RDONLY);
        pid_t who = -1;
        if (fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0)
            who = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
        _exit(write(p[1], &who, sizeof who) == sizeof who ? 0 : 1);
    }
    cr_assert_eq(read(p[0], &holder, sizeof holder), (ssize_t)sizeof holder);
    waitpid(pid, &status, 0);
    close(p[0]);
    close(p[1]);
    return holder;
}

Test(sqlite_vfs, host_lock_survives_cycles_and_thread_exit, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct cyclesArg a = {path, 0};
    pthread_t t;

    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "BEGIN IMMEDIATE"), SQLITE_OK);
    cr_assert_eq(reservedHolder(path), getpid());
    cr_assert_eq(pthread_create(&t, NULL, cyclesOnThread, &a), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert(a.ok);
    cr_assert_eq(reservedHolder(path), getpid(), "the host's lock was dropped");
    /* And again on this thread, then a new overlay on a new thread. */
    cyclesOnThread(&a);
    cr_assert_eq(pthread_create(&t, NULL, cyclesOnThread, &a), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(reservedHolder(path), getpid(), "the host's lock was dropped");
    cr_assert_eq(run(hostDb, "COMMIT"), SQLITE_OK);
    cr_assert_eq(queryInt(hostDb, "SELECT balance FROM accounts WHERE id=2"), 50);
}

/* ---- Faults through ptmOs ---- */
static int preadFaults;  /* how many preads fail, -1: all */
static int preadErrno;

static ssize_t faultyPread(int fd, void *buf, size_t n, off_t off)
{
    if (preadFaults) {
        if (preadFaults > 0)
            preadFaults--;
        errno = preadErrno;
        return -1;
    }
    return pread(fd, buf, n, off);
}

Test(sqlite_vfs, pread_faults_are_clean_errors, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);
    sqlite3_stmt *st;

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    /* Page 1 (the schema) comes from the block Begin read; the table's
    ** page is read when the statement steps. */
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT balance FROM accounts", -1, &st, NULL),
                 SQLITE_OK);
    ptmOs.pread = faultyPread;
    preadErrno = EIO;
    preadFaults = -1;
    cr_assert_eq(sqlite3_step(st), SQLITE_IOERR);
    cr_assert_eq(sqlite3_extended_errcode(db), SQLITE_IOERR_READ);
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT balance FROM accounts", -1, &st, NULL),
                 SQLITE_OK);
    preadErrno = EINTR; /* for ever: given up after a few retries */
    cr_assert_eq(sqlite3_step(st), SQLITE_IOERR);
    sqlite3_finalize(st);
    preadFaults = 3; /* a few: retried */
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    cr_assert_eq(preadFaults, 0);
    ptmOsReset();
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=2"), 50);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

/* ---- The overlay's own frames past the real -wal's committed end ----
** After a checkpoint the real -wal restarts at its beginning but keeps its
** length: past the committed frames it holds an old generation's.  A
** mirror that commits writes its frames there; the blocks they go into
** are not read from the real file first (one pread at most, for the block
** that holds the end of the last committed frame), and what the mirror
** reads back is its own. */
static int preadCount;

static ssize_t countingPread(int fd, void *buf, size_t n, off_t off)
{
    preadCount++;
    return pread(fd, buf, n, off);
}

Test(sqlite_vfs, own_wal_frames_past_the_committed_end, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    struct snap s[3];
    struct ptmSqlOverlay *o;
    sqlite3 *db;
    struct stat st;
    int i;

    /* An old generation of frames, then a restart: the -wal stays long. */
    for (i = 0; i < 60; i++)
        cr_assert_eq(run(hostDb, "INSERT INTO accounts(balance) VALUES(1000 + randomblob(2000) "
                                 "IS NULL)"), SQLITE_OK);
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(RESTART)"), SQLITE_OK);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance=balance+1 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(stat(at("bank.db-wal"), &st), 0);
    cr_assert_gt(st.st_size, 40 * 4096, "the -wal keeps the old generation's length");

    o = overlay(path);
    db = ptmSqlOverlayDb(o);
    snapAll(path, s);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 101);
    cr_assert_eq(run(db, "BEGIN"), SQLITE_OK);
    for (i = 0; i < 30; i++)
        cr_assert_eq(run(db, "INSERT INTO accounts(balance) SELECT 7 + length(randomblob(3000))"
                             " - 3000"), SQLITE_OK);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=5 WHERE id=2"), SQLITE_OK);
    ptmOs.pread = countingPread;
    preadCount = 0;
    cr_assert_eq(run(db, "COMMIT"), SQLITE_OK);
    ptmOs.pread = pread;
    cr_assert_leq(preadCount, 1, "the commit read %d blocks of the real -wal", preadCount);
    /* Read back in a new read transaction, and in a write one. */
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM accounts WHERE balance=7"), 30);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=2"), 5);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 101);
    cr_assert_eq(run(db, "BEGIN IMMEDIATE; UPDATE accounts SET balance=6 WHERE id=2; COMMIT"),
                 SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance=7) + sum(balance=6) FROM accounts"), 31);
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM pragma_integrity_check WHERE "
                              "integrity_check = 'ok'"), 1);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    checkAll(path, s);

    /* The next mirror sees the real database only. */
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM accounts WHERE balance=7"), 0);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=2"), 50);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    checkAll(path, s);
}

/* ---- The database's first block is read once, at Begin ----
** SQLite's reads of the header and of page 1 in the mirror come from it;
** a real change of page 1 between two mirrors (a new table) is seen by the
** next one. */
static void headFromBegin(int wal)
{
    const char *path = makeDb(wal);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);

    if (!hostDb)
        cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    if (wal) {
        /* Every page in the database file, the -shm copy mapped. */
        cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
        cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
        cr_assert_eq(run(db, "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_OK);
        cr_assert_eq(ptmSqlOverlayEnd(o), 0); /* it wrote: SQLite's cache goes */
    }
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    ptmOs.pread = countingPread;
    preadCount = 0;
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    ptmOs.pread = pread;
    cr_assert_eq(preadCount, 1, "%d preads: the header and page 1 are Begin's", preadCount);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);

    cr_assert_eq(run(hostDb, "CREATE TABLE later(x); INSERT INTO later VALUES(41),(1)"),
                 SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(x) FROM later"), 42);
    cr_assert_eq(run(db, "INSERT INTO later VALUES(100)"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(x) FROM later"), 142);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(run(hostDb, "DROP TABLE later"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM sqlite_schema WHERE name='later'"), 0);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

Test(sqlite_vfs, head_from_begin_delete, .init = setup, .fini = teardown)
{
    headFromBegin(0);
}

Test(sqlite_vfs, head_from_begin_wal, .init = setup, .fini = teardown)
{
    headFromBegin(1);
}

/* ---- Bounded memory ---- */
Test(sqlite_vfs, memory_is_bounded, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);
    struct snap s[3];

    snapAll(path, s);
    ptmSqlOverlaySetLimit(1 << 20);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "BEGIN; CREATE TABLE big(b);"
                         "INSERT INTO big VALUES(zeroblob(4000000)); COMMIT"), SQLITE_NOMEM);
    cr_assert_leq(ptmSqlOverlayBytes(), (size_t)1 << 20);
    ptmSqlOverlayEnd(o);
    cr_assert_eq(ptmSqlOverlayBytes(), 0);
    ptmSqlOverlaySetLimit(0);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM sqlite_master WHERE name='big'"), 0);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 150);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    checkAll(path, s);
}

/* ---- A database that does not exist ---- */
Test(sqlite_vfs, missing_database_is_empty_and_stays_missing, .init = setup, .fini = teardown)
{
    const char *path = at("none.db");
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT x FROM t"), 1);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(entries(dir), 2, "the overlay created a file");
}

/* ---- The same overlay in a fork mirror, under the seccomp filter ---- */
struct forkFrame {
    char path[128];
    int open_rc, begin_rc, update_rc, check_rc, check_xrc, end_rc;
    long long balance;
};

static void mirrorInFork(void *p)
{
    struct forkFrame *f = p;
    struct ptmSqlOverlay *o;
    sqlite3 *db;
    sqlite3_stmt *st;

    if ((f->open_rc = ptmSqlOverlayOpen(f->path, &o)) != SQLITE_OK)
        return;
    ptmSqlOverlaySetCall(o, CALL);
    db = ptmSqlOverlayDb(o);
    f->begin_rc = ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON);
    f->update_rc = run(db, "UPDATE accounts SET balance=balance-30 WHERE id=1");
    f->balance = -1;
    if (sqlite3_prepare_v2(db, "SELECT balance FROM accounts WHERE id=1", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            f->balance = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    f->check_rc = run(db, "UPDATE accounts SET balance=balance-80 WHERE id=2");
    f->check_xrc = sqlite3_extended_errcode(db);
    f->end_rc = ptmSqlOverlayEnd(o);
}

static void forkSetup(void)
{
    makeDir();
    cr_assert_eq(ptmRingCreate(256, &ring), PTM_OK);
}

static void forkTeardown(void)
{
    if (hostDb)
        sqlite3_close(hostDb);
    hostDb = NULL;
    ptmRingDestroy(ring);
    removeDir();
}

/* A fork mirror: the overlay opened first in the child, then one the
** parent opened and cached; the host's own lock seen from the child. */
static void forkMirror(int wal)
{
    const char *path = makeDb(wal);
    struct snap s[3];
    struct forkFrame fr;
    struct ptmMirrorRun r;
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = "test.sqlite", .function = "f",
        .file = __FILE__, .frame_size = sizeof fr, .mirror = mirrorInFork,
        .mirror_mode = PTM_MIRROR_FORK,
    };
    struct ptmSqlOverlay *o;
    char target[PTM_TARGET_MAX];
    int pass;

    /* Taken before the lock: closing a descriptor of the file drops the
    ** process's locks on it (which is the point of never closing ours). */
    snapAll(path, s);
    if (!hostDb)
        cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "BEGIN IMMEDIATE"), SQLITE_OK);
    snprintf(target, sizeof target, "bank.db: %s lock held by pid %ld",
             wal ? "WAL write" : "RESERVED", (long)getpid());
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1)
            cr_assert_eq(ptmSqlOverlayOpen(path, &o), SQLITE_OK); /* cached in the parent */
        memset(&fr, 0, sizeof fr);
        snprintf(fr.path, sizeof fr.path, "%s", path);
        cr_assert_eq(ptmForkRun(&d, &fr, 5000000000ull, ring, &r), PTM_OK, "%s", r.error);
        if (!wal)
            cr_assert_eq(reservedHolder(path), getpid(), "the host's lock was dropped");
        cr_assert_eq(r.status, PTM_MS_RETURNED, "pass %d: status %d, signal %d, %u denied", pass,
                     r.status, r.signo, r.denied);
        cr_assert_eq(r.denied, 0);
        cr_assert(r.frame_valid);
        memcpy(&fr, r.frame, sizeof fr);
        cr_assert_eq(fr.open_rc, SQLITE_OK);
        cr_assert_eq(fr.begin_rc, SQLITE_OK);
        cr_assert_eq(fr.update_rc, SQLITE_OK);
        cr_assert_eq(fr.balance, 70);
        cr_assert_eq(fr.check_rc, SQLITE_CONSTRAINT);
        cr_assert_eq(fr.check_xrc, SQLITE_CONSTRAINT_CHECK);
        cr_assert_eq(fr.end_rc, 0);
        cr_assert_str_eq(busyEvent()->target, target);
        cr_assert_eq(busyEvent()->flags, PTM_EVF_EFFECT | PTM_EVF_PRETENDED);
    }
    cr_assert_eq(run(hostDb, "ROLLBACK"), SQLITE_OK);
    if (wal) { /* the host's own transaction wrote its -shm (read marks) */
        char shm[256];
        snprintf(shm, sizeof shm, "%s-shm", path);
        free(s[2].bytes);
        snapTake(shm, &s[2]);
    }
    checkAll(path, s);
}

Test(sqlite_vfs_fork, fork_mirror_delete, .init = forkSetup, .fini = forkTeardown, .timeout = 30)
{
    forkMirror(0);
}

Test(sqlite_vfs_fork, fork_mirror_wal, .init = forkSetup, .fini = forkTeardown, .timeout = 30)
{
    forkMirror(1);
}

/* ---- A hot journal: a writer died with its changes half in the file ----
** The overlay rolls it back in its memory (it reads the journal through a
** private descriptor) and sees the database as it was; the database and
** the journal stay as they are, for the next real connection. */
Test(sqlite_vfs, hot_journal_is_rolled_back_in_memory, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    char journal[256];
    struct snap db, jr;
    struct ptmSqlOverlay *o;
    pid_t pid;
    int status, i;

    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "CREATE TABLE big(id INTEGER PRIMARY KEY, v, b);"
                             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n"
                             " WHERE i < 300) INSERT INTO big SELECT i, 1, zeroblob(1000) FROM n"),
                 SQLITE_OK);
    sqlite3_close(hostDb);
    hostDb = NULL;
    pid = fork();
    if (pid == 0) {
        sqlite3 *w;
        /* A tiny cache: the update spills pages into the file before
        ** its commit, and the writer dies there. */
        if (sqlite3_open(path, &w) != SQLITE_OK ||
            run(w, "PRAGMA cache_size=2; BEGIN; UPDATE big SET v=2") != SQLITE_OK)
            _exit(2);
        raise(SIGKILL);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer exited %d", WEXITSTATUS(status));
    snprintf(journal, sizeof journal, "%s-journal", path);
    snapTake(path, &db);
    snapTake(journal, &jr);
    cr_assert(!jr.missing && jr.n > 0, "no hot journal");
    {   /* The file alone (a copy without its journal) holds the change. */
        const char *copy = at("copy.db");
        FILE *f = fopen(copy, "wb");
        sqlite3 *c;
        cr_assert_eq(fwrite(db.bytes, 1, db.n, f), db.n);
        fclose(f);
        cr_assert_eq(sqlite3_open(copy, &c), SQLITE_OK);
        cr_assert_gt(queryInt(c, "SELECT count(*) FROM big WHERE v=2"), 0);
        sqlite3_close(c);
    }

    o = overlay(path);
    for (i = 0; i < 3; i++) {
        cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
        cr_assert_eq(queryInt(ptmSqlOverlayDb(o), "SELECT count(*) FROM big WHERE v=2"), 0);
        cr_assert_eq(queryInt(ptmSqlOverlayDb(o), "SELECT count(*) FROM big WHERE v=1"), 300);
        cr_assert_eq(run(ptmSqlOverlayDb(o), "UPDATE big SET v=3 WHERE id=1"), SQLITE_OK);
        cr_assert_eq(ptmSqlOverlayEnd(o), 0);
        snapCheck(path, &db);
        snapCheck(journal, &jr);
    }
    /* A real connection still finds the journal and rolls it back. */
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(queryInt(hostDb, "SELECT count(*) FROM big WHERE v=1"), 300);
}

/* A path through a symbolic link: SQLite names the files after the link's
** target, and the overlay follows it. */
Test(sqlite_vfs, path_through_a_link, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1), *link = at("link.db");
    struct snap s[3];
    struct ptmSqlOverlay *o;

    cr_assert_eq(symlink(path, link), 0);
    snapAll(path, s);
    o = overlay(link);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(ptmSqlOverlayDb(o), "UPDATE accounts SET balance=0 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(queryInt(ptmSqlOverlayDb(o), "SELECT sum(balance) FROM accounts"), 50);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance=99 WHERE id=2"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayEnd(o), 1, "the real -shm, behind the link, changed");
    snapAll(path, s);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(ptmSqlOverlayDb(o), "SELECT sum(balance) FROM accounts"), 199);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    checkAll(path, s);
}

/* A WAL database whose last connection closed: no -wal, no -shm.  The
** overlay recovers an empty index in memory and creates neither; when the
** host comes back, with a new -wal and -shm (new inodes), the next mirror
** reads those. */
Test(sqlite_vfs, wal_files_gone_and_back, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    char wal[256], shm[256];
    struct ptmSqlOverlay *o;
    sqlite3 *db;

    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    sqlite3_close(hostDb);
    hostDb = NULL;
    cr_assert_neq(access(wal, F_OK), 0);
    cr_assert_neq(access(shm, F_OK), 0);
    o = overlay(path);
    db = ptmSqlOverlayDb(o);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 150);
    cr_assert_eq(run(db, "UPDATE accounts SET balance=0 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 50);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_neq(access(wal, F_OK), 0, "the overlay created a -wal");
    cr_assert_neq(access(shm, F_OK), 0, "the overlay created a -shm");
    cr_assert_eq(entries(dir), 3);

    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "PRAGMA wal_autocheckpoint=0;"
                             "UPDATE accounts SET balance=70 WHERE id=2"), SQLITE_OK);
    cr_assert_eq(access(wal, F_OK), 0);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 170);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);

    /* And once more: closed (checkpointed, deleted), reopened, written. */
    sqlite3_close(hostDb);
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "PRAGMA wal_autocheckpoint=0;"
                             "UPDATE accounts SET balance=80 WHERE id=3"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 250);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

/* A database that exists but cannot be read is an error, not an empty
** database. */
static int deniedOpen(const char *path, int flags, mode_t mode)
{
    (void)path;
    (void)flags;
    (void)mode;
    errno = EACCES;
    return -1;
}

Test(sqlite_vfs, unreadable_database_cannot_open, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o = (struct ptmSqlOverlay *)1;

    ptmOs.open = deniedOpen;
    errno = 0;
    cr_assert_eq(ptmSqlOverlayOpen(path, &o), SQLITE_CANTOPEN);
    cr_assert_null(o);
    cr_assert_eq(errno, EACCES, "errno says why");
    ptmOsReset();
    o = overlay(path);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(ptmSqlOverlayDb(o), "SELECT sum(balance) FROM accounts"), 150);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

/* Threads: each has its own overlay on the same database (the VFS is
** registered once, the descriptor table shared), while the host commits;
** every mirror reads a consistent total or says it changed. */
struct threadArg {
    const char *path;
    int bad;
};

static void *mirrorsOnThread(void *p)
{
    struct threadArg *a = p;
    struct ptmSqlOverlay *o;
    struct ptmMirror m;
    struct ptmRing *r;
    sqlite3_stmt *st;
    int i;

    if (ptmRingCreate(64, &r) != PTM_OK || ptmSqlOverlayOpen(a->path, &o) != SQLITE_OK) {
        a->bad = 1;
        return NULL;
    }
    for (i = 0; i < 200; i++) {
        long long sum = -1;
        int changed;
        ptmMirrorEnter(&m, r);
        ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON);
        if (run(ptmSqlOverlayDb(o), "UPDATE accounts SET balance=balance+1 WHERE id=3") !=
            SQLITE_OK)
            a->bad = 1;
        if (sqlite3_prepare_v2(ptmSqlOverlayDb(o), "SELECT sum(balance) FROM accounts", -1, &st,
                               NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                sum = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        changed = ptmSqlOverlayEnd(o);
        ptmMirrorLeave(&m);
        ptmRingReset(r);
        /* The host moves money between accounts 1 and 2: the total is 150
        ** (+1 of the mirror's own) unless what it read changed under it. */
        if (sum != 151 && !changed)
            a->bad = 1;
    }
    ptmRingDestroy(r);
    return NULL;
}

static void threads(int wal)
{
    const char *path = makeDb(wal);
    struct snap s[3];
    struct threadArg a[4];
    pthread_t t[4];
    int i;

    if (!hostDb)
        cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    sqlite3_busy_timeout(hostDb, 5000);
    for (i = 0; i < 4; i++) {
        a[i] = (struct threadArg){path, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, mirrorsOnThread, &a[i]), 0);
    }
    for (i = 0; i < 100; i++)
        cr_assert_eq(run(hostDb, i % 2 ? "BEGIN IMMEDIATE; UPDATE accounts SET balance=balance-1"
                                         " WHERE id=1; UPDATE accounts SET balance=balance+1"
                                         " WHERE id=2; COMMIT"
                                       : "BEGIN IMMEDIATE; UPDATE accounts SET balance=balance+1"
                                         " WHERE id=1; UPDATE accounts SET balance=balance-1"
                                         " WHERE id=2; COMMIT"),
                     SQLITE_OK, "%s", sqlite3_errmsg(hostDb));
    for (i = 0; i < 4; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert_eq(a[i].bad, 0, "thread %d saw a wrong total", i);
    }
    cr_assert_eq(queryInt(hostDb, "SELECT sum(balance) FROM accounts"), 150);
    snapAll(path, s);
    cr_assert_eq(pthread_create(&t[0], NULL, mirrorsOnThread, &a[0]), 0);
    cr_assert_eq(pthread_join(t[0], NULL), 0);
    cr_assert_eq(a[0].bad, 0);
    checkAll(path, s);
}

Test(sqlite_vfs, threads_delete, .init = setup, .fini = teardown, .timeout = 60)
{
    threads(0);
}

Test(sqlite_vfs, threads_wal, .init = setup, .fini = teardown, .timeout = 60)
{
    threads(1);
}

/* A mirror that ended without End (it crashed, or jumped away): the next
** mirror's Begin is a new start, not a repeat of the old one's. */
Test(sqlite_vfs, begin_after_a_mirror_without_end, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(db, "BEGIN; UPDATE accounts SET balance=0 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON), SQLITE_OK, "idempotent");
    cr_assert_eq(sqlite3_get_autocommit(db), 0, "within one mirror Begin changes nothing");
    ptmMirrorLeave(&mirror);
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance=10 WHERE id=3"), SQLITE_OK);
    ptmRingReset(ring);
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(sqlite3_get_autocommit(db), 1, "the old transaction was rolled back");
    cr_assert_eq(queryInt(db, "SELECT sum(balance) FROM accounts"), 160);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
}

/* Without OFD locks (EINVAL, a kernel before 3.15) the classic probe still
** sees another process's lock; a probe that fails otherwise is no lock. */
static int noOfd(int fd, int cmd, struct flock *fl)
{
    if (cmd == F_OFD_GETLK) {
        errno = EINVAL;
        return -1;
    }
    return fcntl(fd, cmd, fl);
}

static int probeFails(int fd, int cmd, struct flock *fl)
{
    (void)fd;
    (void)cmd;
    (void)fl;
    errno = EIO;
    return -1;
}

Test(sqlite_vfs, lock_probe_without_ofd, .init = setup, .fini = teardown)
{
    const char *path = makeDb(0);
    struct holderProc h;
    struct ptmSqlOverlay *o;
    char target[PTM_TARGET_MAX];

    holdStart(&h, path, HOLD_SQLITE_IMMEDIATE);
    o = overlay(path);
    ptmOs.fcntl_lock = noOfd;
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(ptmSqlOverlayDb(o), "UPDATE accounts SET balance=1 WHERE id=1"),
                 SQLITE_BUSY);
    snprintf(target, sizeof target, "bank.db: RESERVED lock held by pid %ld", (long)h.pid);
    cr_assert_str_eq(busyEvent()->target, target);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    ptmOs.fcntl_lock = probeFails;
    ptmRingReset(ring);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(run(ptmSqlOverlayDb(o), "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    cr_assert_eq(busyEvents(), 0);
    ptmOsReset();
    holdStop(&h);
}

/* ---- Reads kept across mirrors ----
** The real bytes a mirror read are kept for the next mirrors while they
** cannot have changed: -wal frames below the committed end under the same
** salt, database pages under the same header, nBackfill, size and mtime.
** A commit elsewhere (SQLite then empties its own cache) reads nothing
** again; a commit to the page, a checkpoint, a WAL restart that puts new
** frames at the same offsets, a file put in the database's place: the next
** mirror reads the new bytes. */
static long long mirrorRead(struct ptmSqlOverlay *o, const char *sql, int *preads)
{
    long long v;

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    preadCount = 0;
    ptmOs.pread = countingPread;
    v = queryInt(ptmSqlOverlayDb(o), sql);
    ptmOsReset();
    if (preads)
        *preads = preadCount;
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    return v;
}

#define SUM "SELECT sum(balance) FROM accounts"
#define ONE "SELECT balance FROM accounts WHERE id=1"

Test(sqlite_vfs, kept_reads_serve_pages_that_did_not_change_wal, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    struct ptmSqlOverlay *o = overlay(path);
    int first, again;

    cr_assert_eq(run(hostDb, "CREATE TABLE other(x)"), SQLITE_OK);
    cr_assert_eq(mirrorRead(o, SUM, &first), 150);
    cr_assert_gt(first, 0);
    cr_assert_eq(run(hostDb, "INSERT INTO other VALUES(1)"), SQLITE_OK);
    cr_assert_eq(mirrorRead(o, SUM, &again), 150);
    cr_assert_eq(again, 0, "the accounts' page was read again (%d preads)", again);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance = 7 WHERE id = 1"), SQLITE_OK);
    cr_assert_eq(mirrorRead(o, SUM, NULL), 57, "a kept frame stood for a newer one");
}

Test(sqlite_vfs, kept_reads_dropped_at_checkpoint_and_wal_restart, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    struct ptmSqlOverlay *o = overlay(path);

    /* Frame 1 of one generation, then of the next, at the same offset. */
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(TRUNCATE);"
                             "UPDATE accounts SET balance = 1 WHERE id = 1"),
                 SQLITE_OK);
    cr_assert_eq(mirrorRead(o, ONE, NULL), 1);
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(TRUNCATE);"
                             "UPDATE accounts SET balance = 2 WHERE id = 1"),
                 SQLITE_OK);
    cr_assert_eq(mirrorRead(o, ONE, NULL), 2, "a frame kept from the last generation");
    /* Pages of the database file, before and after a checkpoint wrote it. */
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
    cr_assert_eq(mirrorRead(o, ONE, NULL), 2);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance = 3 WHERE id = 1;"
                             "PRAGMA wal_checkpoint(TRUNCATE)"),
                 SQLITE_OK);
    cr_assert_eq(mirrorRead(o, ONE, NULL), 3, "a database page kept from before the checkpoint");
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance = 4 WHERE id = 1;"
                             "PRAGMA wal_checkpoint(PASSIVE)"),
                 SQLITE_OK);
    cr_assert_eq(mirrorRead(o, ONE, NULL), 4);
}

Test(sqlite_vfs, kept_reads_dropped_when_the_database_changes_delete, .init = setup,
     .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *other;
    char twin[256];

    cr_assert_eq(mirrorRead(o, SUM, NULL), 150);
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "UPDATE accounts SET balance = 7 WHERE id = 1"), SQLITE_OK);
    cr_assert_eq(mirrorRead(o, SUM, NULL), 57);
    /* Another file made the same way, then put in its place: the same
    ** change counter and size, other balances. */
    snprintf(twin, sizeof twin, "%s", at("twin.db"));
    cr_assert_eq(sqlite3_open(twin, &other), SQLITE_OK);
    cr_assert_eq(run(other, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT"
                            " NULL CHECK(balance >= 0));"
                            "INSERT INTO accounts VALUES(1, 1000),(2, 50),(3, 0);"
                            "UPDATE accounts SET balance = 700 WHERE id = 1"),
                 SQLITE_OK);
    sqlite3_close(other);
    sqlite3_close(hostDb);
    hostDb = NULL;
    cr_assert_eq(rename(twin, path), 0);
    cr_assert_eq(mirrorRead(o, SUM, NULL), 750, "a page kept from the file replaced");
}

/* ---- Private descriptors closed when that drops no lock ---- */

/* makeAt: a fresh DELETE-mode database (a new inode) at path, closed. */
static void makeAt(const char *path)
{
    sqlite3 *db;
    unlink(path);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(run(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)"), SQLITE_OK);
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

static void oneMirror(struct ptmSqlOverlay *o)
{
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON), SQLITE_OK);
    cr_assert_eq(queryInt(ptmSqlOverlayDb(o), "SELECT count(*) FROM t"), 1);
    ptmSqlOverlayEnd(o);
}

Test(sqlite_vfs, a_database_made_anew_per_call_keeps_no_descriptors, .init = setup,
     .fini = teardown)
{
    const char *path = at("anew.db");
    struct ptmSqlOverlay *o;
    size_t base, peak = 0;

    makeAt(path);
    o = overlay(path);
    oneMirror(o);
    base = ptmSqlPrivateFds();
    for (int i = 0; i < 60; i++) {
        makeAt(path); /* the program deletes and recreates its database */
        oneMirror(o);
        if (ptmSqlPrivateFds() > peak)
            peak = ptmSqlPrivateFds();
    }
    cr_assert_leq(peak, base + 2, "%zu private descriptors after 60 databases (%zu at first)", peak,
                  base);
}

Test(sqlite_vfs, a_replaced_database_the_host_still_locks_keeps_its_descriptor, .init = setup,
     .fini = teardown)
{
    const char *path = at("held.db"), *link_to = at("held-old.db");
    struct ptmSqlOverlay *o;

    makeAt(path);
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "BEGIN IMMEDIATE"), SQLITE_OK);
    o = overlay(path);
    oneMirror(o);
    /* The old inode stays reachable under another name, to probe its lock;
    ** a new database takes the path. */
    unlink(link_to);
    cr_assert_eq(link(path, link_to), 0);
    makeAt(at("held-new.db"));
    cr_assert_eq(rename(at("held-new.db"), path), 0);
    for (int i = 0; i < 3; i++)
        oneMirror(o); /* the overlay moves to the new inode */
    cr_assert_eq(reservedHolder(link_to), getpid(), "the host's lock was dropped");
    cr_assert_eq(run(hostDb, "COMMIT"), SQLITE_OK);
    /* Now the host lets it go: the next move closes the old one. */
    sqlite3_close(hostDb);
    hostDb = NULL;
    size_t before = ptmSqlPrivateFds();
    unlink(link_to);
    makeAt(path);
    oneMirror(o);
    cr_assert_leq(ptmSqlPrivateFds(), before, "the old descriptors stay open");
}

/* ---- WAL mode: the -shm stands for the database file ----
** Between two mirrors with no checkpoint, Begin does not read the
** database's first block again, and End reads the -shm only; a checkpoint
** under way (nBackfillAttempted moved, written here by hand as SQLite's
** checkpointer does before its first write to the database) makes the
** mirror inconclusive and the next Begin read the block; so does a
** database file whose mtime moved. */
static int headReads;

static ssize_t headCountingPread(int fd, void *buf, size_t n, off_t off)
{
    preadCount++;
    headReads += n == 4096 && off == 0;
    return pread(fd, buf, n, off);
}

/* Begin and End of a mirror that reads ONE: OUT: *reads of the first
** block, *ends (End's preads).  End's result. */
static int countedMirror(struct ptmSqlOverlay *o, int *reads, int *ends)
{
    headReads = preadCount = 0;
    ptmOs.pread = headCountingPread;
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(ptmSqlOverlayDb(o), ONE), 100);
    *reads = headReads;
    preadCount = 0;
    int changed = ptmSqlOverlayEnd(o);
    *ends = preadCount;
    ptmOsReset();
    return changed;
}

Test(sqlite_vfs, wal_begin_and_end_read_the_shm_for_the_database, .init = setup, .fini = teardown)
{
    const char *path = makeDb(1);
    struct ptmSqlOverlay *o = overlay(path);
    char shm[256];
    unsigned char was[4], moved[4];
    int reads, ends, fd;

    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(run(hostDb, "CREATE TABLE other(x); INSERT INTO other VALUES(1)"), SQLITE_OK);
    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(reads, 0, "the first block read again after a commit alone");
    cr_assert_eq(ends, 1, "End read %d times", ends);
    /* A checkpoint under way during the mirror. */
    snprintf(shm, sizeof shm, "%s-shm", path);
    fd = open(shm, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, was, 4, 128), 4);
    memcpy(moved, was, 4);
    moved[0] ^= 0x55;
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(pwrite(fd, moved, 4, 128), 4);
    cr_assert_eq(ptmSqlOverlayEnd(o), 1, "a checkpoint under way is not seen");
    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(reads, 1, "the first block is not read while a checkpoint may write it");
    cr_assert_eq(pwrite(fd, was, 4, 128), 4);
    close(fd);
    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(reads, 1);
    /* A real checkpoint; then the database file's mtime alone. */
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(PASSIVE)"), SQLITE_OK);
    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(reads, 1, "the first block kept across a checkpoint");
    struct timespec later[2] = {{0, UTIME_OMIT}, {12345, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, later, 0), 0);
    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(reads, 1, "the first block kept across a new mtime");
    cr_assert_eq(countedMirror(o, &reads, &ends), 0);
    cr_assert_eq(reads, 0);
}

/* The program closes every descriptor it did not open (a daemon) and gets
** the overlay's numbers for a file of its own: the next mirror must read
** the database, not that file (it would see garbage, or another
** database), and never close the host's numbers. */
Test(sqlite_vfs, a_private_descriptor_the_program_reused_is_not_read, .init = setup,
     .fini = teardown)
{
    const char *path = makeDb(0);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *db = ptmSqlOverlayDb(o);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);

    struct stat dbst;
    cr_assert_eq(stat(path, &dbst), 0);
    int junk = open(at("junk"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(junk, 0);
    static char garbage[65536];
    memset(garbage, 0x5a, sizeof garbage);
    cr_assert_eq(write(junk, garbage, sizeof garbage), (ssize_t)sizeof garbage);
    int replaced = reuseFds(junk, sameFile, &dbst);
    cr_assert_geq(replaced, 1);

    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_FAIL), SQLITE_OK);
    cr_assert_eq(queryInt(db, "SELECT balance FROM accounts WHERE id=1"), 100,
                 "the mirror read the database, not the host's file");
    cr_assert_eq(queryInt(db, "SELECT count(*) FROM accounts"), 3);
    cr_assert_eq(ptmSqlOverlayEnd(o), 0);
    struct stat js;
    cr_assert_eq(fstat(junk, &js), 0);
    cr_assert_eq(js.st_size, (off_t)sizeof garbage);
    int still = openOn(&js);
    cr_assert_eq(still, replaced + 1, "the host's numbers stay open: %d of %d", still,
                 replaced + 1);
}
