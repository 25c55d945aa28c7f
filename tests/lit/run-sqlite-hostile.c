// SQL that tries to leave the overlay, run by a mirror (inline, then fork):
// VACUUM INTO and ATTACH of new files, journal mode switches, a TRUNCATE
// checkpoint, VACUUM, an exclusive lock, a DROP, load_extension and a
// 200 MB insert (past the overlay's memory bound: SQLITE_NOMEM).  The
// database's bytes are the same after every one, in both journal modes,
// and no file appears in its directory.  Filling 64 MiB of fresh memory
// takes most of a second under ASan on a loaded machine, hence the long
// deadline: the bound, not the deadline, must end that attack.
// REQUIRES: ptm-sqlite
// RUN: %ptmcc -Wall -Wextra -Werror %s -lsqlite3 -o %t
// RUN: rm -rf %t.wal && mkdir %t.wal
// RUN: cd %t.wal && %t h.db wal && ls > %t.wal.before && sha256sum h.db > %t.wal.sum
// RUN: cd %t.wal && env PTM_DRY_RUN=1 %t h.db | FileCheck %s
// RUN: cd %t.wal && env PTM_DRY_RUN=1 PTM_MIRROR=fork %t h.db | FileCheck %s
// RUN: cd %t.wal && sha256sum -c --quiet %t.wal.sum && ls > %t.wal.after
// RUN: diff %t.wal.before %t.wal.after
// RUN: rm -rf %t.delete && mkdir %t.delete
// RUN: cd %t.delete && %t h.db delete && ls > %t.delete.before && sha256sum h.db > %t.delete.sum
// RUN: cd %t.delete && env PTM_DRY_RUN=1 %t h.db | FileCheck %s
// RUN: cd %t.delete && env PTM_DRY_RUN=1 PTM_MIRROR=fork %t h.db | FileCheck %s
// RUN: cd %t.delete && sha256sum -c --quiet %t.delete.sum && ls > %t.delete.after
// RUN: diff %t.delete.before %t.delete.after

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>

static sqlite3 *db;
static const char *const attacks[] = {
    "VACUUM INTO 'escape.db'",
    "ATTACH 'attached.db' AS a; CREATE TABLE a.t(x)",
    "PRAGMA journal_mode=DELETE; CREATE TABLE j(x); INSERT INTO j VALUES(1)",
    "PRAGMA journal_mode=WAL; CREATE TABLE w(x)",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "VACUUM",
    "PRAGMA page_size=1024; VACUUM",
    "CREATE TEMP TABLE tt(x); INSERT INTO tt VALUES(zeroblob(1000000))",
    "SELECT load_extension('/nonexistent.so')",
    "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE t SET x = x + 1; COMMIT",
    "DROP TABLE t",
    "INSERT INTO t SELECT randomblob(100000) FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) SELECT i FROM c)",
};

PTM_TRANSACTION(.mirror = inline, .mirror_deadline = 30 s)
int attack(int i)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, attacks[i], NULL, NULL, &err);
    sqlite3_free(err);
    return rc == SQLITE_OK ? 0 : -1;
}

/* main DB [MODE]: with MODE, creates DB in that journal mode and leaves;
** without, runs every attack as a transaction. */
int main(int argc, char **argv)
{
    if (argc < 2 || sqlite3_open(argv[1], &db) != SQLITE_OK)
        return 2;
    if (argc > 2) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; CREATE TABLE t(x); INSERT INTO t VALUES (1)",
                 argv[2]);
        return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK && sqlite3_close(db) == SQLITE_OK
                   ? 0
                   : 1;
    }
    for (unsigned i = 0; i < sizeof attacks / sizeof attacks[0]; i++)
        printf("%u %d\n", i, attack((int)i));
    return 0;
}
// CHECK: 0 -1
// CHECK: 1 -1
// CHECK: 8 -1
// CHECK: 11 -1
