/*
** test_shims_sqlite.c - the SQLite family's API shims (runtime/shims/sqlite.c):
** outside a mirror the real calls; in a mirror everything runs on the
** overlay of the database file and the host's connections, statements,
** destructors and files are left alone; each finished statement is an
** event with its SQL normalized, its result code's name, its rows changed,
** the errno of its class.
**
** The overlay is the real one (runtime/shims/sqlite_vfs.c): locks held by
** another connection of this process are seen by its probes.
*/
#include <setjmp.h>
#include <sqlite3.h>

#include "shims_test.h"
#include "shims/sqlite_int.h"


static sqlite3 *host;
static char dbPath[192];

/* The database file's bytes, size and mtime, to compare whole. */
struct dbState {
    size_t n;
    unsigned char bytes[65536];
    struct timespec mtime;
};

static void dbState(struct dbState *s)
{
    struct stat st;
    FILE *f = fopen(dbPath, "rb");
    cr_assert_not_null(f);
    s->n = fread(s->bytes, 1, sizeof s->bytes, f);
    fclose(f);
    cr_assert_eq(stat(dbPath, &st), 0);
    s->mtime = st.st_mtim;
}

static void assertDbUnchanged(const struct dbState *before)
{
    static struct dbState now;
    dbState(&now);
    cr_assert_eq(now.n, before->n, "the database's size changed");
    cr_assert(memcmp(now.bytes, before->bytes, now.n) == 0, "the database's bytes changed");
    cr_assert_eq(now.mtime.tv_sec, before->mtime.tv_sec);
    cr_assert_eq(now.mtime.tv_nsec, before->mtime.tv_nsec);
    cr_assert_eq(access(at("bank.db-journal"), F_OK), -1, "a journal was left");
}

static void hostExec(const char *sql)
{
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(host, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err);
}

/* A bank: accounts 1 (100) and 2 (50), CHECK(balance >= 0), opened by the
** host; then the mirror starts. */
static void setup(void)
{
    enterMirror();
    ptmMirrorCurrent = NULL; /* the host's own calls, before the mirror */
    snprintf(dbPath, sizeof dbPath, "%s", at("bank.db"));
    cr_assert_eq(sqlite3_open(dbPath, &host), SQLITE_OK);
    hostExec("CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT NOT NULL, "
             "balance INTEGER NOT NULL CHECK(balance >= 0));"
             "INSERT INTO accounts VALUES(1, 'ann', 100), (2, 'bob', 50);");
    ptmMirrorCurrent = &mirror;
}

static void teardown(void)
{
    leaveMirror();
    if (host)
        sqlite3_close(host);
    host = NULL;
}

/* The balance of account id as the host sees it (a real query). */
static int hostBalance(int id)
{
    sqlite3_stmt *st;
    int b = -1;
    struct ptmMirror *m = ptmMirrorCurrent;
    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_prepare_v2(host, "SELECT balance FROM accounts WHERE id = ?", -1, &st,
                                    NULL),
                 SQLITE_OK);
    sqlite3_bind_int(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        b = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    ptmMirrorCurrent = m;
    return b;
}

/* A statement through the shims: prepare, step to its end, finalize. */
static int shimRun(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = ptm_shim_sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    while ((rc = ptm_shim_sqlite3_step(st)) == SQLITE_ROW)
        ;
    ptm_shim_sqlite3_finalize(st);
    return rc;
}

/* The last event whose target starts with prefix. */
static struct ptmEvent *eventOn(const char *prefix)
{
    unsigned i = ptmRingCount(ring);
    while (i-- > 0)
        if (strncmp(ring->ev[i].target, prefix, strlen(prefix)) == 0)
            return &ring->ev[i];
    cr_assert_fail("no event on \"%s\"", prefix);
    return NULL;
}

TestSuite(shims_sqlite, .init = setup, .fini = teardown);

Test(shims_sqlite, outside_a_mirror_the_calls_are_real)
{
    sqlite3_stmt *st = NULL;

    ptmMirrorCurrent = NULL;
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "UPDATE accounts SET balance = 7 WHERE id = 1",
                                             -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(st), SQLITE_DONE);
    cr_assert_eq(ptm_shim_sqlite3_changes(host), 1);
    cr_assert_eq(ptm_shim_sqlite3_finalize(st), SQLITE_OK);
    cr_assert_eq(hostBalance(1), 7);
    cr_assert_eq(ptmRingCount(ring), 0u, "no events outside a mirror");
    ptmMirrorCurrent = &mirror;
}

Test(shims_sqlite, a_check_violation_is_a_validation_event)
{
    static struct dbState before;
    struct ptmEvent *ev;

    dbState(&before);
    cr_assert_eq(shimRun(host, "UPDATE accounts\n   SET balance = balance - 500\tWHERE id = 1"),
                 SQLITE_CONSTRAINT);
    ev = lastOf(PTM_CALL_sqlite3_step);
    cr_assert_str_eq(ev->target, "UPDATE accounts SET balance = balance - ? WHERE id = ?");
    cr_assert_str_eq(ev->detail, "SQLITE_CONSTRAINT_CHECK changes=0");
    cr_assert_eq(ev->err, EINVAL);
    cr_assert_eq(ev->result, SQLITE_CONSTRAINT);
    cr_assert(ev->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_sqlite3_extended_errcode(host), SQLITE_CONSTRAINT_CHECK);
    cr_assert_eq(ptmErrnoClassOf(ev->err), PTM_ERRCLASS_VALIDATION);
    ptmMirrorLeave(&mirror);
    assertDbUnchanged(&before);
    cr_assert_eq(sqlite3_extended_errcode(host), SQLITE_OK, "the host's error state is untouched");
}

/* The mirror's errno classes its failing result (signals.c): a failed step
** leaves its code's errno; a step that succeeded leaves the caller's, not
** what SQLite's own system calls left (a missing journal's ENOENT). */
Test(shims_sqlite, a_step_leaves_the_errno_of_its_result)
{
    errno = EXDEV;
    cr_assert_eq(shimRun(host, "SELECT balance FROM accounts WHERE id = 1"), SQLITE_DONE);
    cr_assert_eq(errno, EXDEV);
    cr_assert_eq(shimRun(host, "UPDATE accounts SET balance = balance + 1 WHERE id = 1"),
                 SQLITE_DONE);
    cr_assert_eq(errno, EXDEV);
    cr_assert_eq(shimRun(host, "UPDATE accounts SET balance = -1 WHERE id = 1"),
                 SQLITE_CONSTRAINT);
    cr_assert_eq(errno, EINVAL);
}

Test(shims_sqlite, writes_stay_in_the_mirror)
{
    static struct dbState before;
    sqlite3_stmt *st = NULL;
    struct ptmEvent *ev;

    dbState(&before);
    cr_assert_eq(shimRun(host, "UPDATE accounts SET balance = balance - 30 WHERE id = 1"),
                 SQLITE_DONE);
    ev = lastOf(PTM_CALL_sqlite3_step);
    cr_assert_str_eq(ev->detail, "SQLITE_DONE changes=1");
    cr_assert_eq(ev->err, 0);
    cr_assert(ev->flags & PTM_EVF_EFFECT);
    cr_assert_gt(ev->dur_ns, 0u);
    cr_assert_eq(ptm_shim_sqlite3_changes(host), 1);
    cr_assert_eq(ptm_shim_sqlite3_total_changes(host), sqlite3_total_changes(host) + 1);
    /* The mirror reads back what it wrote... */
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "SELECT balance FROM accounts WHERE id = 1",
                                             -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(ptm_shim_sqlite3_column_int(st, 0), 70);
    cr_assert_eq(ptm_shim_sqlite3_step(st), SQLITE_DONE);
    ev = lastOf(PTM_CALL_sqlite3_step);
    cr_assert_eq(ev->flags & PTM_EVF_EFFECT, 0u, "a SELECT has no effect");
    ptm_shim_sqlite3_finalize(st);
    /* ...the host does not. */
    cr_assert_eq(hostBalance(1), 100);
    ptmMirrorLeave(&mirror);
    assertDbUnchanged(&before);
    cr_assert_eq(hostBalance(1), 100);
}

Test(shims_sqlite, a_later_mirror_starts_from_the_file)
{
    cr_assert_eq(shimRun(host, "UPDATE accounts SET balance = 0 WHERE id = 1"), SQLITE_DONE);
    ptmMirrorLeave(&mirror);
    ptmMirrorEnter(&mirror, ring);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "SELECT balance FROM accounts WHERE id = 1",
                                             -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(ptm_shim_sqlite3_column_int(st, 0), 100);
    /* The overlay is opened once per thread and file, and reused. */
    struct ptmSqlOverlay *o1, *o2;
    cr_assert_eq(ptmSqlOverlayOpen(dbPath, &o1), SQLITE_OK);
    cr_assert_eq(ptmSqlOverlayOpen(dbPath, &o2), SQLITE_OK);
    cr_assert_eq(o1, o2);
    cr_assert_eq(sqlite3_db_handle(st), ptmSqlOverlayDb(o1));
    ptm_shim_sqlite3_finalize(st);
}

Test(shims_sqlite, sql_is_normalized_without_literals)
{
    char out[PTM_TARGET_MAX];

    ptmSqlNormalize("  SELECT  *\nFROM t WHERE a = 'it''s' AND b=12.5e3 AND c = x'00ff' "
                    "-- note\n AND d IN (1,2,0x1F) AND \"col 1\" = ?1 AND e = :name /* c */",
                    -1, out, sizeof out);
    cr_assert_str_eq(out, "SELECT * FROM t WHERE a = ? AND b=? AND c = ? AND d IN (?,?,?) AND "
                          "\"col 1\" = ?1 AND e = :name");
    ptmSqlNormalize("INSERT INTO t2(x) VALUES(-3)", -1, out, sizeof out);
    cr_assert_str_eq(out, "INSERT INTO t2(x) VALUES(-?)");
    ptmSqlNormalize("SELECT 1; SELECT 2", 9, out, sizeof out);
    cr_assert_str_eq(out, "SELECT ?;");
    ptmSqlNormalize("SELECT 'abc'", -1, out, 6);
    cr_assert_str_eq(out, "SELEC");
}

/* Events name each statement by its own text, normalized once per thread
** and then reused: texts of one length, a literal apart or not, and many
** more texts than the cache holds, each keep their own name. */
Test(shims_sqlite, statement_names_come_from_their_own_text)
{
    char sql[96], want[96];

    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 20; i++) {
            ptmRingReset(ring); /* 180 events are more than the ring holds */
            snprintf(sql, sizeof sql, "SELECT balance AS c%02d FROM accounts WHERE id = %d", i,
                     i % 2 + 1);
            snprintf(want, sizeof want, "SELECT balance AS c%02d FROM accounts WHERE id = ?", i);
            cr_assert_eq(shimRun(host, sql), SQLITE_DONE);
            cr_assert_str_eq(eventOn("SELECT balance AS")->target, want, "round %d, %d", round, i);
            snprintf(sql, sizeof sql, "SELECT %d FROM accounts WHERE id = %d", i, i % 2 + 1);
            cr_assert_eq(shimRun(host, sql), SQLITE_DONE);
            cr_assert_str_eq(eventOn("SELECT ? FROM")->target,
                             "SELECT ? FROM accounts WHERE id = ?");
            snprintf(sql, sizeof sql, "SELECT owner FROM accounts WHERE id = %d", i % 2 + 1);
            cr_assert_eq(shimRun(host, sql), SQLITE_DONE);
            cr_assert_str_eq(eventOn("SELECT owner")->target,
                             "SELECT owner FROM accounts WHERE id = ?");
        }
}

Test(shims_sqlite, result_codes_have_names_and_errno_classes)
{
    cr_assert_str_eq(ptmSqlRcName(SQLITE_CONSTRAINT_UNIQUE), "SQLITE_CONSTRAINT_UNIQUE");
    cr_assert_str_eq(ptmSqlRcName(SQLITE_BUSY_SNAPSHOT), "SQLITE_BUSY_SNAPSHOT");
    cr_assert_str_eq(ptmSqlRcName(SQLITE_DONE), "SQLITE_DONE");
    cr_assert_str_eq(ptmSqlRcName(SQLITE_IOERR | (99 << 8)), "SQLITE_IOERR");
    cr_assert_eq(ptmSqlRcErrno(SQLITE_CONSTRAINT_NOTNULL, 0), EINVAL);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_BUSY_TIMEOUT, 0), EBUSY);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_LOCKED_SHAREDCACHE, 0), EDEADLK);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_FULL, 0), ENOSPC);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_READONLY_DBMOVED, 0), EROFS);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_CANTOPEN, 0), ENOENT);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_CANTOPEN_ISDIR, EISDIR), EISDIR);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_IOERR_READ, 0), EIO);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_NOMEM, 0), ENOMEM);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_MISMATCH, 0), EPROTO);
    cr_assert_eq(ptmSqlRcErrno(SQLITE_ROW, 0), 0);
    cr_assert_eq(ptmErrnoClassOf(EBUSY), PTM_ERRCLASS_CONTENTION);
    cr_assert_eq(ptmErrnoClassOf(EDEADLK), PTM_ERRCLASS_CONTENTION);
    cr_assert_eq(ptmErrnoClassOf(EROFS), PTM_ERRCLASS_VALIDATION);
}

Test(shims_sqlite, a_host_statement_is_re_prepared_with_its_bindings)
{
    sqlite3_stmt *hs;
    struct ptmEvent *ev;

    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_prepare_v2(host, "SELECT owner, balance FROM accounts WHERE id = ?", -1,
                                    &hs, NULL),
                 SQLITE_OK);
    sqlite3_bind_int(hs, 1, 2);
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(ptm_shim_sqlite3_step(hs), SQLITE_ROW);
    cr_assert_str_eq((const char *)ptm_shim_sqlite3_column_text(hs, 0), "bob");
    cr_assert_eq(ptm_shim_sqlite3_column_int(hs, 1), 50);
    cr_assert_eq(ptm_shim_sqlite3_data_count(hs), 2);
    cr_assert_eq(ptm_shim_sqlite3_step(hs), SQLITE_DONE);
    ev = lastOf(PTM_CALL_sqlite3_step);
    /* The twin is the expanded SQL: its binding is a literal, normalized. */
    cr_assert_str_eq(ev->target, "SELECT owner, balance FROM accounts WHERE id = ?");
    cr_assert_eq(sqlite3_stmt_busy(hs), 0, "the host's statement never stepped");
    cr_assert_eq(ptm_shim_sqlite3_db_handle(hs), host);
    cr_assert_eq(ptm_shim_sqlite3_finalize(hs), SQLITE_OK);
    ptmMirrorLeave(&mirror);
    /* Still the host's, with its binding. */
    cr_assert_eq(sqlite3_step(hs), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(hs, 1), 50);
    cr_assert_eq(sqlite3_finalize(hs), SQLITE_OK);
}

Test(shims_sqlite, a_host_statement_mid_step_restarts)
{
    sqlite3_stmt *hs;
    int rows = 0;

    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_prepare_v2(host, "SELECT id FROM accounts ORDER BY id", -1, &hs, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(hs), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(hs, 0), 1);
    ptmMirrorCurrent = &mirror;
    while (ptm_shim_sqlite3_step(hs) == SQLITE_ROW)
        rows++;
    cr_assert_eq(rows, 2, "the twin runs from the start");
    cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_step)->detail, "SQLITE_DONE changes=0 restarted");
    ptmMirrorLeave(&mirror);
    cr_assert_eq(sqlite3_step(hs), SQLITE_ROW, "the host's statement goes on where it was");
    cr_assert_eq(sqlite3_column_int(hs, 0), 2);
    sqlite3_finalize(hs);
}

Test(shims_sqlite, binding_a_host_statement_uses_its_parameters)
{
    sqlite3_stmt *hs;

    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_prepare_v2(host, "UPDATE accounts SET balance = balance - ? WHERE id = ?",
                                    -1, &hs, NULL),
                 SQLITE_OK);
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(ptm_shim_sqlite3_reset(hs), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_bind_int(hs, 1, 80), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_bind_int(hs, 2, 2), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(hs), SQLITE_CONSTRAINT);
    cr_assert_eq(lastOf(PTM_CALL_sqlite3_step)->err, EINVAL);
    cr_assert_eq(ptm_shim_sqlite3_reset(hs), SQLITE_CONSTRAINT);
    cr_assert_eq(ptm_shim_sqlite3_bind_int(hs, 1, 20), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(hs), SQLITE_DONE);
    cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_step)->detail, "SQLITE_DONE changes=1");
    ptmMirrorLeave(&mirror);
    cr_assert_eq(sqlite3_bind_parameter_count(hs), 2);
    cr_assert_eq(hostBalance(2), 50);
    sqlite3_finalize(hs);
}

static int destroyed;
static void destroy(void *p)
{
    (void)p;
    destroyed++;
}

Test(shims_sqlite, the_mirrors_destructor_is_never_called)
{
    sqlite3_stmt *st = NULL;
    char name[8] = "cy";
    static char blob[4] = {1, 2, 3, 4};

    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "INSERT INTO accounts VALUES(3, ?, ?)", -1,
                                             &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_bind_text(st, 1, name, -1, destroy), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_bind_blob(st, 2, blob, 4, destroy), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_bind_text(st, 2, name, 2, destroy), SQLITE_OK);
    strcpy(name, "zz"); /* copied at bind time (SQLITE_TRANSIENT) */
    cr_assert_eq(ptm_shim_sqlite3_bind_int64(st, 2, 5), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(st), SQLITE_DONE);
    cr_assert_eq(ptm_shim_sqlite3_finalize(st), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_last_insert_rowid(host), 3);
    cr_assert_eq(shimRun(host, "SELECT 1 FROM accounts WHERE owner = 'cy'"), SQLITE_DONE);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(destroyed, 0);
}

Test(shims_sqlite, free_frees_only_what_the_mirror_was_handed)
{
    char *foreign, *mine, *err = NULL;

    ptmMirrorCurrent = NULL;
    foreign = sqlite3_mprintf("host's");
    ptmMirrorCurrent = &mirror;
    ptm_shim_sqlite3_free(foreign); /* not the mirror's: left alone */
    mine = ptm_shim_sqlite3_mprintf("%d-%s", 7, "x");
    cr_assert_str_eq(mine, "7-x");
    ptm_shim_sqlite3_free(mine);
    cr_assert_eq(ptm_shim_sqlite3_exec(host, "UPDATE accounts SET balance = -1 WHERE id = 2",
                                       NULL, NULL, &err),
                 SQLITE_CONSTRAINT);
    cr_assert_not_null(err);
    cr_assert(strstr(err, "CHECK constraint failed"), "%s", err);
    ptm_shim_sqlite3_free(err);
    (void)ptm_shim_sqlite3_mprintf("left for the mirror's end to free");
    ptmMirrorLeave(&mirror);
    cr_assert_str_eq(foreign, "host's");
    sqlite3_free(foreign);
}

Test(shims_sqlite, exec_records_each_statement)
{
    char *err = NULL;
    unsigned n0 = countOf(PTM_CALL_sqlite3_exec);

    cr_assert_eq(ptm_shim_sqlite3_exec(host,
                                       "BEGIN; UPDATE accounts SET balance = 1 WHERE id = 1; "
                                       "UPDATE accounts SET balance = 'x' || 2 WHERE id = 2;"
                                       "COMMIT",
                                       NULL, NULL, &err),
                 SQLITE_OK, "%s", err);
    cr_assert_null(err);
    cr_assert_eq(countOf(PTM_CALL_sqlite3_exec) - n0, 4u);
    cr_assert_str_eq(eventOn("UPDATE accounts SET balance = ? || ?")->detail,
                     "SQLITE_DONE changes=1");
    cr_assert_str_eq(eventOn("COMMIT")->detail, "SQLITE_DONE changes=0");
    cr_assert_eq(ptm_shim_sqlite3_exec(host, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, &err),
                 SQLITE_OK);
    cr_assert_str_eq(eventOn("BEGIN IMMEDIATE")->detail, "SQLITE_DONE changes=0",
                     "not the UPDATE's count");
    cr_assert_eq(ptm_shim_sqlite3_get_autocommit(host), 1);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(hostBalance(1), 100);
}

Test(shims_sqlite, closing_a_host_handle_is_harmless)
{
    cr_assert_eq(shimRun(host, "SELECT * FROM accounts"), SQLITE_DONE);
    cr_assert_eq(ptm_shim_sqlite3_close(host), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_close_v2(host), SQLITE_OK);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(hostBalance(2), 50, "the host's connection still works");
}

Test(shims_sqlite, a_connection_the_mirror_opens_is_an_overlay)
{
    static struct dbState before;
    sqlite3 *db = NULL, *again = NULL;

    dbState(&before);
    cr_assert_eq(ptm_shim_sqlite3_open(dbPath, &db), SQLITE_OK);
    cr_assert_not_null(db);
    cr_assert_neq(db, host);
    cr_assert_eq(shimRun(db, "DELETE FROM accounts"), SQLITE_DONE);
    cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_step)->detail, "SQLITE_DONE changes=2");
    cr_assert_eq(ptm_shim_sqlite3_close(db), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_open_v2(at("missing.db"), &again, SQLITE_OPEN_READWRITE, NULL),
                 SQLITE_CANTOPEN);
    cr_assert_eq(lastOf(PTM_CALL_sqlite3_open_v2)->err, ENOENT);
    cr_assert_eq(ptm_shim_sqlite3_open(at("nodir/new.db"), &again), SQLITE_CANTOPEN);
    cr_assert_eq(lastOf(PTM_CALL_sqlite3_open)->err, ENOENT);
    cr_assert_eq(ptm_shim_sqlite3_open(at("new.db"), &again), SQLITE_OK);
    cr_assert(lastOf(PTM_CALL_sqlite3_open)->flags & PTM_EVF_EFFECT, "creating a file");
    cr_assert_eq(shimRun(again, "CREATE TABLE t(x)"), SQLITE_DONE);
    ptmMirrorLeave(&mirror);
    assertDbUnchanged(&before);
    cr_assert_eq(access(at("new.db"), F_OK), -1, "no file created");
    cr_assert_eq(hostBalance(1), 100);
}

Test(shims_sqlite, busy_policy_follows_the_hosts_timeout)
{
    static struct dbState before;
    sqlite3 *writer;
    struct ptmEvent *ev;

    /* Another writer holds the database's RESERVED lock.  (The file is
    ** read first: closing a descriptor of it would drop the lock.) */
    dbState(&before);
    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_open(dbPath, &writer), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(writer, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    /* A host that fails at once: the mirror's write fails as its would. */
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(host, 0), SQLITE_OK);
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(shimRun(host, "UPDATE accounts SET balance = 1 WHERE id = 1"), SQLITE_BUSY);
    ev = lastOf(PTM_CALL_sqlite3_step);
    cr_assert_eq(ev->err, EBUSY);
    cr_assert_str_eq(ev->detail, "SQLITE_BUSY changes=0");
    cr_assert_eq(ptmErrnoClassOf(ev->err), PTM_ERRCLASS_CONTENTION);
    ev = eventOn("bank.db: RESERVED lock held by");
    cr_assert_eq(ev->err, EBUSY);
    cr_assert_eq(ev->flags & PTM_EVF_PRETENDED, 0u);
    ptmMirrorLeave(&mirror);
    /* A host that waits: the mirror goes on, and says it pretended. */
    cr_assert_eq(ptm_note_sqlite3_busy_timeout(host, 250), SQLITE_OK);
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(shimRun(host, "UPDATE accounts SET balance = 1 WHERE id = 1"), SQLITE_DONE);
    ev = eventOn("bank.db: RESERVED lock held by");
    cr_assert(ev->flags & PTM_EVF_PRETENDED);
    /* In the mirror, busy_timeout touches no host connection. */
    cr_assert_eq(ptm_shim_sqlite3_busy_timeout(host, 0), SQLITE_OK);
    ptmMirrorLeave(&mirror);
    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_exec(writer, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(writer);
    assertDbUnchanged(&before);
}

Test(shims_sqlite, a_host_transaction_is_inconclusive)
{
    struct ptmEvent *ev;

    ptmMirrorCurrent = NULL;
    hostExec("BEGIN; UPDATE accounts SET balance = 99 WHERE id = 1");
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(shimRun(host, "SELECT balance FROM accounts"), SQLITE_DONE);
    ev = eventOn("bank.db: host connection in a transaction");
    cr_assert(ev->flags & PTM_EVF_PRETENDED);
    cr_assert_str_eq(ev->detail, "inconclusive");
    ptmMirrorLeave(&mirror);
    hostExec("ROLLBACK");
}

Test(shims_sqlite, a_database_changed_during_the_mirror_is_inconclusive)
{
    struct ptmEvent *ev;

    cr_assert_eq(shimRun(host, "SELECT balance FROM accounts"), SQLITE_DONE);
    ptmMirrorCurrent = NULL;
    usleep(10000);
    hostExec("UPDATE accounts SET balance = 42 WHERE id = 2"); /* another writer */
    ptmMirrorCurrent = &mirror;
    ptmMirrorLeave(&mirror);
    ev = eventOn("bank.db: changed during the mirror");
    cr_assert(ev->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(ev->call, PTM_CALL_sqlite3_step);
}

Test(shims_sqlite, an_in_memory_host_database_runs_on_the_childs_copy)
{
    sqlite3 *mem;
    sqlite3_stmt *st = NULL;

    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_open(":memory:", &mem), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(mem, "CREATE TABLE t(x CHECK(x > 0))", NULL, NULL, NULL), SQLITE_OK);
    ptmMirrorCurrent = &mirror;
    mirror.in_child = 1; /* a fork child: its copy of the connection */
    cr_assert_eq(shimRun(mem, "INSERT INTO t VALUES(0)"), SQLITE_CONSTRAINT);
    cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_step)->detail, "SQLITE_CONSTRAINT_CHECK changes=0");
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(mem, "SELECT count(*) FROM t", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(ptm_shim_sqlite3_column_int(st, 0), 0);
    ptm_shim_sqlite3_finalize(st);
    ptmMirrorLeave(&mirror);
    sqlite3_close(mem);
}

Test(shims_sqlite, prepare_errors_are_events)
{
    sqlite3_stmt *st = (sqlite3_stmt *)&st;
    const char *tail = NULL;

    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "SELECT nope FROM accounts WHERE id = 3", -1,
                                             &st, &tail),
                 SQLITE_ERROR);
    cr_assert_null(st);
    cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_prepare_v2)->target,
                     "SELECT nope FROM accounts WHERE id = ?");
    cr_assert_eq(lastOf(PTM_CALL_sqlite3_prepare_v2)->err, EPROTO);
    cr_assert(strstr(ptm_shim_sqlite3_errmsg(host), "no such column"));
    cr_assert_eq(sqlite3_errcode(host), SQLITE_OK, "the host's error state is untouched");
}

Test(shims_sqlite, a_host_statements_bindings_are_copied_to_its_twin)
{
    sqlite3_stmt *hs;
    static const char blob[3] = {0, 'a', '\''};

    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_prepare_v2(host,
                                    "SELECT ?, :who, @n || '?', $r, ?5, typeof(?5), ? /* ? */, "
                                    "'?' -- :x\n",
                                    -1, &hs, NULL),
                 SQLITE_OK);
    sqlite3_bind_int64(hs, 1, -9007199254740993LL);
    sqlite3_bind_text(hs, 2, "it's ann", -1, SQLITE_STATIC);
    sqlite3_bind_blob(hs, 4, blob, 3, SQLITE_STATIC);
    sqlite3_bind_double(hs, 5, 0.25);
    sqlite3_bind_null(hs, 6);
    sqlite3_bind_int(hs, 3, 7);
    ptmMirrorCurrent = &mirror;
    /* The mirror binds one parameter; the host's others stay. */
    cr_assert_eq(ptm_shim_sqlite3_bind_int(hs, 3, 8), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(hs), SQLITE_ROW);
    cr_assert_eq(ptm_shim_sqlite3_column_int64(hs, 0), -9007199254740993LL);
    cr_assert_str_eq((const char *)ptm_shim_sqlite3_column_text(hs, 1), "it's ann");
    cr_assert_str_eq((const char *)ptm_shim_sqlite3_column_text(hs, 2), "8?");
    cr_assert_eq(ptm_shim_sqlite3_column_bytes(hs, 3), 3);
    cr_assert(memcmp(ptm_shim_sqlite3_column_blob(hs, 3), blob, 3) == 0);
    cr_assert_eq(ptm_shim_sqlite3_column_double(hs, 4), 0.25);
    cr_assert_str_eq((const char *)ptm_shim_sqlite3_column_text(hs, 5), "real");
    cr_assert_eq(ptm_shim_sqlite3_column_type(hs, 6), SQLITE_NULL);
    cr_assert_str_eq((const char *)ptm_shim_sqlite3_column_text(hs, 7), "?");
    ptmMirrorLeave(&mirror);
    cr_assert_eq(sqlite3_step(hs), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(hs, 2), "7?", "the host's binding stays");
    sqlite3_finalize(hs);
}

static int failOpen(const char *path, int flags, mode_t mode)
{
    (void)path;
    (void)flags;
    (void)mode;
    errno = EACCES;
    return -1;
}

Test(shims_sqlite, an_overlay_that_cannot_open_fails_the_call)
{
    sqlite3_stmt *st = (sqlite3_stmt *)&st;
    struct ptmEvent *ev;

    ptmOs.open = failOpen; /* the overlay's private descriptor */
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "SELECT 1", -1, &st, NULL), SQLITE_CANTOPEN);
    cr_assert_null(st);
    ev = eventOn("bank.db: overlay");
    cr_assert_eq(ev->call, PTM_CALL_sqlite3_prepare_v2);
    cr_assert_eq(ev->err, EACCES);
    cr_assert_str_eq(ev->detail, "SQLITE_CANTOPEN");
    ptmOsReset();
    cr_assert_eq(shimRun(host, "SELECT 1"), SQLITE_DONE, "the next call opens it");
}

Test(shims_sqlite, two_opens_of_one_file_share_the_overlay)
{
    sqlite3 *a = NULL, *b = NULL;

    cr_assert_eq(shimRun(host, "UPDATE accounts SET owner = 'x'"), SQLITE_DONE);
    cr_assert_eq(shimRun(host, "INSERT INTO accounts VALUES(1, 'y', 0)"), SQLITE_CONSTRAINT);
    ptmMirrorLeave(&mirror);
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(ptm_shim_sqlite3_open(dbPath, &a), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_open_v2(dbPath, &b, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq(a, b);
    /* A new connection's state, not what the overlay did in the last mirror. */
    cr_assert_eq(ptm_shim_sqlite3_errcode(a), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_changes(a), 0);
    cr_assert_eq(ptm_shim_sqlite3_total_changes(a), 0);
    cr_assert_eq(ptm_shim_sqlite3_get_autocommit(a), 1);
    cr_assert_eq(shimRun(a, "UPDATE accounts SET balance = 1"), SQLITE_DONE);
    cr_assert_eq(ptm_shim_sqlite3_changes(b), 2);
    cr_assert_eq(ptm_shim_sqlite3_close(a), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_close(b), SQLITE_OK);
}

Test(shims_sqlite, attached_databases_are_named_as_not_mirrored)
{
    struct ptmEvent *ev;
    char sql[256];

    ptmMirrorCurrent = NULL;
    snprintf(sql, sizeof sql, "ATTACH '%s' AS side", at("side.db"));
    hostExec(sql);
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(shimRun(host, "SELECT 1"), SQLITE_DONE);
    ev = eventOn("bank.db: attached database side not mirrored");
    cr_assert(ev->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(shimRun(host, "SELECT * FROM side.sqlite_master"), SQLITE_ERROR);
}

Test(shims_sqlite, statements_stay_prepared_across_mirrors)
{
    sqlite3_stmt *a = NULL, *b = NULL, *c = NULL;
    const char *tail = NULL;
    static const char two[] = "SELECT balance FROM accounts WHERE id = ?; SELECT 2";

    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, two, -1, &a, &tail), SQLITE_OK);
    cr_assert_eq(tail, two + strlen("SELECT balance FROM accounts WHERE id = ?;"));
    cr_assert_eq(ptm_shim_sqlite3_bind_int(a, 1, 2), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(a), SQLITE_ROW);
    ptmMirrorLeave(&mirror); /* a is parked: reset, bindings cleared */
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, two, -1, &b, &tail), SQLITE_OK);
    cr_assert_eq(b, a, "the parked statement is taken back");
    cr_assert_eq(tail, two + strlen("SELECT balance FROM accounts WHERE id = ?;"));
    cr_assert_eq(ptm_shim_sqlite3_step(b), SQLITE_DONE, "no binding left: id NULL, no row");
    /* The same text without its semicolon is another statement's: b is in use. */
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, "SELECT balance FROM accounts WHERE id = ?",
                                             -1, &c, NULL),
                 SQLITE_OK);
    cr_assert_neq(c, b);
    cr_assert_eq(ptm_shim_sqlite3_bind_int(c, 1, 1), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_step(c), SQLITE_ROW);
    cr_assert_eq(ptm_shim_sqlite3_column_int(c, 0), 100);
    cr_assert_eq(ptm_shim_sqlite3_finalize(b), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_finalize(c), SQLITE_OK);
}

Test(shims_sqlite, reading_a_host_statement_without_a_row_leaves_the_host_alone)
{
    sqlite3_stmt *hs;

    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_prepare_v2(host, "SELECT id, owner FROM accounts ORDER BY id", -1, &hs,
                                    NULL),
                 SQLITE_OK);
    ptmMirrorCurrent = &mirror;
    /* Not stepped: no row.  SQLite would set SQLITE_RANGE on the host. */
    cr_assert_eq(ptm_shim_sqlite3_column_type(hs, 0), SQLITE_NULL);
    cr_assert_null(ptm_shim_sqlite3_column_text(hs, 1));
    cr_assert_eq(ptm_shim_sqlite3_data_count(hs), 0);
    cr_assert_eq(sqlite3_errcode(host), SQLITE_OK);
    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_step(hs), SQLITE_ROW);
    ptmMirrorCurrent = &mirror;
    /* The host's current row is read as it is; a column past it is not. */
    cr_assert_eq(ptm_shim_sqlite3_column_int(hs, 0), 1);
    cr_assert_str_eq((const char *)ptm_shim_sqlite3_column_text(hs, 1), "ann");
    cr_assert_eq(ptm_shim_sqlite3_column_int(hs, 7), 0);
    cr_assert_eq(sqlite3_errcode(host), SQLITE_ROW);
    char *x = ptm_shim_sqlite3_expanded_sql(hs);
    cr_assert_str_eq(x, "SELECT id, owner FROM accounts ORDER BY id");
    ptm_shim_sqlite3_free(x);
    ptmMirrorLeave(&mirror);
    sqlite3_finalize(hs);
}

Test(shims_sqlite, a_read_only_connection_fails_its_writes)
{
    sqlite3 *ro = NULL, *hostRo = NULL;
    struct ptmEvent *ev;

    cr_assert_eq(ptm_shim_sqlite3_open_v2(dbPath, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(shimRun(ro, "SELECT * FROM accounts"), SQLITE_DONE);
    cr_assert_eq(shimRun(ro, "UPDATE accounts SET balance = 0"), SQLITE_READONLY);
    ev = lastOf(PTM_CALL_sqlite3_step);
    cr_assert_str_eq(ev->detail, "SQLITE_READONLY changes=0");
    cr_assert_eq(ev->err, EROFS);
    cr_assert(ev->flags & PTM_EVF_EFFECT);
    /* A URI's path and mode. */
    char uri[256];
    sqlite3 *byUri = NULL;
    snprintf(uri, sizeof uri, "file://%s?mode=ro&cache=private", dbPath);
    cr_assert_eq(ptm_shim_sqlite3_open_v2(uri, &byUri, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                                          NULL),
                 SQLITE_OK);
    cr_assert_eq(byUri, ro, "the same file's overlay");
    cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_open_v2)->target, dbPath);
    cr_assert_eq(ptm_shim_sqlite3_open_v2("file:nowhere%2Fx.db?mode=ro", &byUri,
                                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                 SQLITE_CANTOPEN);
    cr_assert(strstr(lastOf(PTM_CALL_sqlite3_open_v2)->target, "/nowhere/x.db"));
    /* A host connection opened read-only, the same. */
    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_open_v2(dbPath, &hostRo, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(shimRun(hostRo, "DELETE FROM accounts"), SQLITE_READONLY);
    cr_assert_eq(lastOf(PTM_CALL_sqlite3_step)->err, EROFS);
    ptmMirrorLeave(&mirror);
    sqlite3_close(hostRo);
}

/* ---- A mirror's COMMIT checked, not run ----
** The overlay's write transaction stays open after a COMMIT the mirror
** sees succeed, and ptmSqlOverlayEnd rolls it back (SQLite keeps the pages
** it read).  What the mirror sees must be what a real commit gives: the
** connection in autocommit, its writes readable afterwards, a real writer's
** commit between two mirrors seen by the second, a deferred foreign key
** violated failing the COMMIT, and a lock the commit needs probed. */
static int mirrorExecSql(const char *sql)
{
    return ptm_shim_sqlite3_exec(host, sql, NULL, NULL, NULL);
}

static sqlite3 *overlayDb(void)
{
    struct ptmSqlOverlay *o;
    cr_assert_eq(ptmSqlOverlayOpen(dbPath, &o), SQLITE_OK);
    return ptmSqlOverlayDb(o);
}

static int mirrorBalance(int id)
{
    sqlite3_stmt *st = NULL;
    char sql[64];
    int b = -1;
    snprintf(sql, sizeof sql, "SELECT balance FROM accounts WHERE id = %d", id);
    cr_assert_eq(ptm_shim_sqlite3_prepare_v2(host, sql, -1, &st, NULL), SQLITE_OK);
    if (ptm_shim_sqlite3_step(st) == SQLITE_ROW)
        b = ptm_shim_sqlite3_column_int(st, 0);
    ptm_shim_sqlite3_finalize(st);
    return b;
}

static void checkedCommit(int wal)
{
    static struct dbState before;

    if (wal) {
        ptmMirrorCurrent = NULL;
        hostExec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0");
        ptmMirrorCurrent = &mirror;
    }
    dbState(&before);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(mirrorExecSql("BEGIN IMMEDIATE;"
                                   "UPDATE accounts SET balance = balance - 30 WHERE id = 1;"
                                   "COMMIT"),
                     SQLITE_OK);
        cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_exec)->target, "COMMIT");
        cr_assert_str_eq(lastOf(PTM_CALL_sqlite3_exec)->detail, "SQLITE_DONE changes=0");
        cr_assert_eq(sqlite3_txn_state(overlayDb(), NULL), SQLITE_TXN_WRITE,
                     "the COMMIT was a check: the overlay's transaction is open");
        cr_assert_eq(ptm_shim_sqlite3_get_autocommit(host), 1, "the mirror sees it committed");
        /* What runs next in the same mirror runs after a real commit. */
        cr_assert_eq(mirrorBalance(1), 100 - 30 - 10 * round);
        cr_assert_neq(sqlite3_txn_state(overlayDb(), NULL), SQLITE_TXN_WRITE);
        cr_assert_eq(mirrorExecSql("BEGIN; UPDATE accounts SET balance = 1 WHERE id = 2; COMMIT"),
                     SQLITE_OK);
        ptmMirrorLeave(&mirror);
        cr_assert_eq(sqlite3_get_autocommit(overlayDb()), 1, "End rolled it back");
        /* A real writer commits between two mirrors: the next one sees it. */
        ptmMirrorCurrent = NULL;
        hostExec("UPDATE accounts SET balance = balance - 10 WHERE id = 1");
        dbState(&before);
        ptmMirrorEnter(&mirror, ring);
        cr_assert_eq(mirrorBalance(1), 90 - 10 * round, "a stale page after a checked commit");
        cr_assert_eq(mirrorBalance(2), 50);
        cr_assert_eq(mirrorExecSql("BEGIN IMMEDIATE;"
                                   "UPDATE accounts SET balance = balance - 30 WHERE id = 1;"
                                   "COMMIT"),
                     SQLITE_OK);
        ptmMirrorLeave(&mirror);
        assertDbUnchanged(&before);
        ptmMirrorEnter(&mirror, ring);
    }
    cr_assert_eq(hostBalance(1), 70);
}

Test(shims_sqlite, a_checked_commit_reads_as_committed_delete)
{
    checkedCommit(0);
}

Test(shims_sqlite, a_checked_commit_reads_as_committed_wal)
{
    checkedCommit(1);
}

Test(shims_sqlite, a_deferred_foreign_key_fails_the_commit)
{
    static struct dbState before;

    ptmMirrorCurrent = NULL;
    hostExec("CREATE TABLE cards(id INTEGER PRIMARY KEY, owner INTEGER"
             " REFERENCES accounts(id) DEFERRABLE INITIALLY DEFERRED)");
    ptmMirrorCurrent = &mirror;
    dbState(&before);
    cr_assert_eq(mirrorExecSql("PRAGMA foreign_keys = ON; BEGIN;"
                               "INSERT INTO cards VALUES(1, 99)"),
                 SQLITE_OK);
    cr_assert_eq(mirrorExecSql("COMMIT"), SQLITE_CONSTRAINT);
    cr_assert_eq(ptm_shim_sqlite3_extended_errcode(host), SQLITE_CONSTRAINT_FOREIGNKEY);
    cr_assert_eq(ptm_shim_sqlite3_get_autocommit(host), 0, "a failed COMMIT leaves it open");
    cr_assert_eq(mirrorExecSql("UPDATE cards SET owner = 1; COMMIT"), SQLITE_OK);
    cr_assert_eq(ptm_shim_sqlite3_get_autocommit(host), 1);
    cr_assert_eq(mirrorExecSql("PRAGMA foreign_keys = OFF"), SQLITE_OK);
    ptmMirrorLeave(&mirror);
    assertDbUnchanged(&before);
}

Test(shims_sqlite, a_commit_that_needs_a_held_lock_runs_and_is_probed)
{
    sqlite3 *reader;
    sqlite3_stmt *rd;

    /* Another connection reads (SHARED): a rollback-mode commit needs
    ** EXCLUSIVE, so the COMMIT runs for real and its probe sees it. */
    ptmMirrorCurrent = NULL;
    cr_assert_eq(sqlite3_open(dbPath, &reader), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(reader, "SELECT * FROM accounts", -1, &rd, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(rd), SQLITE_ROW);
    ptmMirrorCurrent = &mirror;
    cr_assert_eq(mirrorExecSql("BEGIN; UPDATE accounts SET balance = 5 WHERE id = 1; COMMIT"),
                 SQLITE_OK);
    cr_assert(eventOn("bank.db: SHARED lock held by")->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(sqlite3_txn_state(overlayDb(), NULL), SQLITE_TXN_NONE, "committed for real");
    ptmMirrorLeave(&mirror);
    ptmMirrorCurrent = NULL;
    sqlite3_finalize(rd);
    sqlite3_close(reader);
    cr_assert_eq(hostBalance(1), 100);
}

/* ---- A mirror stopped inside SQLite ----
** A jump out of sqlite3_step (the watchdog's last-resort signal, here an
** SQL function that longjmps) leaves the overlay connection mid-statement,
** inside a write transaction.  It is never used again: the next mirror
** gets a fresh overlay that reads the real database. */
static jmp_buf outOfSqlite;

static void jumpOut(sqlite3_context *c, int n, sqlite3_value **v)
{
    (void)c, (void)n, (void)v;
    longjmp(outOfSqlite, 1);
}

Test(shims_sqlite, a_mirror_stopped_inside_sqlite_drops_its_overlay)
{
    static struct dbState before;
    struct ptmSqlOverlay *first, *next;

    dbState(&before);
    cr_assert_eq(mirrorBalance(1), 100);
    cr_assert_eq(ptmSqlOverlayOpen(dbPath, &first), SQLITE_OK);
    cr_assert_eq(sqlite3_create_function(ptmSqlOverlayDb(first), "jump_out", 0, SQLITE_UTF8, NULL,
                                         jumpOut, NULL, NULL),
                 SQLITE_OK);
    if (!setjmp(outOfSqlite)) {
        mirrorExecSql("BEGIN IMMEDIATE; UPDATE accounts SET balance = 1 WHERE id = 1;"
                      "UPDATE accounts SET balance = 2 WHERE id = 2 AND jump_out()");
        cr_assert_fail("the SQL function did not jump");
    }
    ptmMirrorLeave(&mirror);
    cr_assert(eventOn("bank.db: mirror stopped inside SQLite")->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(ptmSqlOverlayOpen(dbPath, &next), SQLITE_OK);
    cr_assert_neq(next, first, "the overlay stopped mid-statement is used again");
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(mirrorBalance(1), 100);
    cr_assert_eq(mirrorExecSql("BEGIN IMMEDIATE; UPDATE accounts SET balance = 3 WHERE id = 2;"
                               "COMMIT"),
                 SQLITE_OK);
    cr_assert_eq(mirrorBalance(2), 3);
    ptmMirrorLeave(&mirror);
    assertDbUnchanged(&before);
    cr_assert_eq(hostBalance(2), 50);
}

/* Past PTM_SQL_ABANDONED_MAX mirrors stopped inside SQLite (each leaks its
** overlay connection; the overlay's own memory is freed), an inline
** mirror on SQLite bails to the fork executor, whose child's overlays die
** with it: the leak stays bounded. */
static jmp_buf bailedOut;
static const char *bailWhy;

static void testBail(const char *why)
{
    bailWhy = why;
    longjmp(bailedOut, 1);
}

static void testFault(int signo)
{
    (void)signo;
}

static const struct ptmMirrorExits testExits = {testBail, testFault};

Test(shims_sqlite, mirrors_stopped_inside_sqlite_leak_a_bounded_number)
{
    static struct dbState before;
    size_t bytes0;

    dbState(&before);
    for (int i = 0; i < PTM_SQL_ABANDONED_MAX; i++) {
        struct ptmSqlOverlay *o;
        if (i)
            ptmMirrorEnter(&mirror, ring);
        cr_assert_eq(ptmSqlOverlayOpen(dbPath, &o), SQLITE_OK);
        cr_assert_eq(sqlite3_create_function(ptmSqlOverlayDb(o), "jump_out", 0, SQLITE_UTF8, NULL,
                                             jumpOut, NULL, NULL),
                     SQLITE_OK);
        bytes0 = ptmSqlOverlayBytes();
        if (!setjmp(outOfSqlite)) {
            mirrorExecSql("BEGIN IMMEDIATE; UPDATE accounts SET balance = 1 WHERE id = 1;"
                          "UPDATE accounts SET balance = 2 WHERE id = 2 AND jump_out()");
            cr_assert_fail("the SQL function did not jump");
        }
        ptmMirrorLeave(&mirror);
        cr_assert_leq(ptmSqlOverlayBytes(), bytes0, "the abandoned overlay's memory is kept");
    }
    cr_assert_eq(ptmSqlOverlaysAbandoned(), PTM_SQL_ABANDONED_MAX);
    ptmMirrorSetExits(&testExits);
    ptmMirrorEnter(&mirror, ring);
    if (!setjmp(bailedOut)) {
        mirrorBalance(1);
        cr_assert_fail("the inline mirror did not bail");
    }
    cr_assert_not_null(strstr(bailWhy, "too many mirrors stopped inside SQLite"));
    ptmMirrorLeave(&mirror);
    ptmMirrorCurrent = NULL;
    assertDbUnchanged(&before);
    cr_assert_eq(hostBalance(1), 100);
}
