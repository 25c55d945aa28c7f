/*
** test_sqlite_busy.c - the primary's busy wait on the host's SQLite
** connections (runtime/shims/sqlite_busy.c, the note table of
** shims/sqlite_sql.c): bounded by the connection's timeout or the rules'
** shorter one, the lock taken as soon as it is free, the host's timeout
** set back after; handles that are not the table's (the ring is
** untrusted), connections closed or set again in the primary, handlers of
** the host's own are left alone; many threads and connections at once.
** The suite sqlite_busy runs PTM's lock-watching handler
** (PTM_SQLITE_BUSY=fine); sqlite_busy_default the default, which leaves
** the host's handler and only shortens its timeout to the rules'.
*/
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"
#include "shims/sqlite_int.h"

static char dir[] = "/tmp/ptm_busy_XXXXXX";
static char dbPath[128];
static struct ptmRing *ring;

static double nowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static sqlite3 *openDb(void)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(dbPath, &db), SQLITE_OK);
    return db;
}

static int busyTimeoutOf(sqlite3 *db)
{
    sqlite3_stmt *st;
    int ms = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA busy_timeout", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ms = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return ms;
}

static void setupDb(void)
{
    sqlite3 *db;
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbPath, sizeof dbPath, "%s/busy.db", dir);
    db = openDb();
    cr_assert_eq(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x)", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(ptmRingCreate(0, &ring), PTM_OK);
    /* Kept open for the whole test: the -shm stays, as in a running host. */
    (void)db;
}

static void teardown(void)
{
    ptmRingDestroy(ring);
}

/* A primary's BEGIN IMMEDIATE on db (timeout 5000 ms) while holder holds
** the write lock, under what ptmSqlPrimaryApply saved for the rules' 80 ms:
** SQLITE_BUSY after about 80 ms, then the host's 5000 ms back. */
static void busyFor80Ms(sqlite3 *db, sqlite3 *holder, void *saved)
{
    double t0 = nowMs();
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    double waited = nowMs() - t0;
    ptmSqlPrimaryRestore(saved);
    cr_assert_eq(rc, SQLITE_BUSY);
    cr_assert(waited >= 70 && waited < 3000, "waited %.1f ms, not about 80", waited);
    cr_assert_eq(busyTimeoutOf(db), 5000);
    sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL);
    cr_assert_eq(ptm_note_sqlite3_close(holder), SQLITE_OK);
    cr_assert_eq(ptm_note_sqlite3_close(db), SQLITE_OK);
}

static void setup(void)
{
    setenv("PTM_SQLITE_BUSY", "fine", 1);
    setupDb();
}

static void setupDefault(void)
{
    unsetenv("PTM_SQLITE_BUSY");
    setupDb();
}

TestSuite(sqlite_busy, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(sqlite_busy_default, .init = setupDefault, .fini = teardown, .timeout = 60);

/* By default nothing changes unless the rules' timeout is the shorter;
** then the primary waits that long, with SQLite's own handler, and the
** host's timeout comes back. */
Test(sqlite_busy_default, only_a_shorter_rules_timeout_changes_the_wait)
{
    sqlite3 *holder = openDb(), *db = openDb();
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    ptmRingReset(ring);
    ptmRingNoteHandle(ring, db);
    cr_assert_null(ptmSqlPrimaryApply(ring, 0));
    cr_assert_null(ptmSqlPrimaryApply(ring, 9000000));
    cr_assert_eq(busyTimeoutOf(db), 5000);
    cr_assert_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    void *saved = ptmSqlPrimaryApply(ring, 80000);
    cr_assert_not_null(saved);
    cr_assert_eq(busyTimeoutOf(db), 80);
    busyFor80Ms(db, holder, saved);
}

Test(sqlite_busy, the_rules_timeout_bounds_the_wait_and_the_hosts_comes_back)
{
    sqlite3 *holder = openDb(), *db = openDb();
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ptmRingReset(ring);
    ptmRingNoteHandle(ring, db);
    void *saved = ptmSqlPrimaryApply(ring, 80000);
    cr_assert_not_null(saved);
    busyFor80Ms(db, holder, saved);
}

static void *releaseLater(void *arg)
{
    struct timespec ts = {0, 40 * 1000000L};
    nanosleep(&ts, NULL);
    sqlite3_exec(arg, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

Test(sqlite_busy, a_lock_released_is_taken_within_its_timeout)
{
    sqlite3 *holder = openDb(), *db = openDb();
    pthread_t t;
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(db, 10000), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ptmRingReset(ring);
    ptmRingNoteHandle(ring, db);
    void *saved = ptmSqlPrimaryApply(ring, 0);
    cr_assert_not_null(saved);
    pthread_create(&t, NULL, releaseLater, holder);
    double t0 = nowMs();
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1); COMMIT", NULL, NULL, NULL);
    double waited = nowMs() - t0;
    pthread_join(t, NULL);
    ptmSqlPrimaryRestore(saved);
    cr_assert_eq(rc, SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert(waited >= 30 && waited < 5000, "waited %.1f ms", waited);
    cr_assert_eq(busyTimeoutOf(db), 10000);
    cr_assert_eq(ptm_note_sqlite3_close_v2(holder), SQLITE_OK);
    cr_assert_eq(ptm_note_sqlite3_close_v2(db), SQLITE_OK);
}

Test(sqlite_busy, handles_not_in_the_table_are_left_alone)
{
    sqlite3 *unnoted = openDb(), *zero = openDb();
    char junk[64];
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(zero, 0), SQLITE_OK);
    sqlite3_busy_timeout(unnoted, 1234);
    ptmRingReset(ring);
    /* The ring is untrusted: whatever a child wrote there. */
    ptmRingNoteHandle(ring, (void *)(uintptr_t)0xdeadbeef);
    ptmRingNoteHandle(ring, junk);
    ptmRingNoteHandle(ring, unnoted);
    ptmRingNoteHandle(ring, zero);
    cr_assert_null(ptmSqlPrimaryApply(ring, 50000));
    cr_assert_eq(busyTimeoutOf(unnoted), 1234);
    cr_assert_eq(busyTimeoutOf(zero), 0);
    cr_assert_null(ptmSqlPrimaryApply(NULL, 0));
    sqlite3_close(unnoted);
    ptm_note_sqlite3_close(zero);
}

static int ownCalls;
static int ownHandler(void *arg, int count)
{
    (void)arg;
    ownCalls++;
    return count < 1;
}

Test(sqlite_busy, a_handler_of_the_hosts_own_is_kept)
{
    sqlite3 *holder = openDb(), *db = openDb();
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(db, 3000), SQLITE_OK);
    cr_assert_eq(ptm_note_sqlite3_busy_handler(db, ownHandler, NULL), SQLITE_OK);
    cr_assert_eq(ptmSqlBusyTimeoutOf(db, 0), -1, "a handler of its own: unknown to mirrors");
    ptmRingReset(ring);
    ptmRingNoteHandle(ring, db);
    cr_assert_null(ptmSqlPrimaryApply(ring, 50000));
    cr_assert_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_BUSY);
    cr_assert_eq(ownCalls, 2);
    sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL);
    ptm_note_sqlite3_close(holder);
    ptm_note_sqlite3_close(db);
}

Test(sqlite_busy, what_the_primary_sets_or_closes_is_not_set_back)
{
    sqlite3 *a = openDb(), *b = openDb();
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(a, 3000), SQLITE_OK);
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(b, 3000), SQLITE_OK);
    ptmRingReset(ring);
    ptmRingNoteHandle(ring, a);
    ptmRingNoteHandle(ring, b);
    ptmRingNoteHandle(ring, a); /* noted once */
    void *saved = ptmSqlPrimaryApply(ring, 0);
    cr_assert_not_null(saved);
    /* A nested primary on the same connections changes nothing more. */
    cr_assert_null(ptmSqlPrimaryApply(ring, 0));
    /* The primary sets its own timeout on a, closes b (under ASan, a
    ** restore that touched b would be a use after free). */
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(a, 77), SQLITE_OK);
    cr_assert_eq(ptm_note_sqlite3_close(b), SQLITE_OK);
    ptmSqlPrimaryRestore(saved);
    cr_assert_eq(busyTimeoutOf(a), 77);
    /* A close that fails (a statement left) keeps the entry. */
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(a, "SELECT 1", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(ptm_note_sqlite3_close(a), SQLITE_BUSY);
    cr_assert_eq(ptmSqlBusyTimeoutOf(a, 0), 77);
    sqlite3_finalize(st);
    cr_assert_eq(ptm_note_sqlite3_close(a), SQLITE_OK);
}

/* Many threads, each with connections of its own on one database, apply,
** write, restore, close and open again; every connection ends with the
** timeout it was given. */
static void *hammer(void *arg)
{
    long id = (long)arg;
    struct ptmRing *r = NULL;
    int bad = 0;
    if (ptmRingCreate(0, &r) != PTM_OK)
        return (void *)1;
    for (int i = 0; i < 60 && !bad; i++) {
        sqlite3 *db = NULL;
        int ms = 200 + (int)(id * 10) + i;
        if (sqlite3_open(dbPath, &db) != SQLITE_OK) {
            bad = 1;
            break;
        }
        ptm_note_sqlite3_busy_timeout(db, ms);
        ptmRingReset(r);
        ptmRingNoteHandle(r, db);
        void *saved = ptmSqlPrimaryApply(r, i % 2 ? 100000 : 0);
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1); COMMIT", NULL, NULL,
                              NULL);
        if (rc != SQLITE_OK)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        if (i % 7 == 3) { /* the primary closes its connection */
            ptm_note_sqlite3_close_v2(db);
            if (saved)
                ptmSqlPrimaryRestore(saved);
            continue;
        }
        if (saved)
            ptmSqlPrimaryRestore(saved);
        bad |= busyTimeoutOf(db) != ms;
        ptm_note_sqlite3_close(db);
    }
    ptmRingDestroy(r);
    return (void *)(long)bad;
}

Test(sqlite_busy, many_threads_and_connections)
{
    pthread_t t[8];
    for (long i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 8; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        cr_assert_null(bad, "thread %d: a connection's timeout was not set back", i);
    }
}
