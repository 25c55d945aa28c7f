// A mirror whose one SQL statement runs for ever: SQLite's progress handler
// on the overlay connection sees the watchdog's cancel at the mirror's
// deadline and stops the statement (SQLITE_INTERRUPT), so the mirror ends
// as a timeout without the watchdog's last-resort signal jumping out of
// SQLite with its mutexes held.  The host's own SQLite keeps working after
// it: a second transaction's mirror on the same thread reuses the overlay,
// and the host's own query runs.
// REQUIRES: ptm-sqlite
// RUN: %ptmcc -Wall -Wextra -Werror %s -lsqlite3 -o %t
// RUN: rm -f %t.db %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace timeout 20 %t %t.db | FileCheck %s
// RUN: grep -o '"mirror":"[a-z]*"' %t.trace | FileCheck %s --check-prefix=INLINE
// RUN: grep -o '"mirror_status":"[a-z]*"' %t.trace | FileCheck %s --check-prefix=STATUS

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>

static sqlite3 *db;

/* Counts to a billion in SQL, in one sqlite3_step: minutes. */
PTM_TRANSACTION(.mirror = inline, .mirror_deadline = 100 ms)
long long count_forever(void)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(db,
                           "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                           "WHERE x < 1000000000) SELECT count(*) FROM c",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The rows of t: a clone in the mirror, the host's own query outside. */
static int rows_of_t(void)
{
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A short one, after it, on the same thread and database. */
PTM_TRANSACTION(.mirror = inline)
int count_rows(void)
{
    return rows_of_t();
}

int main(int argc, char **argv)
{
    if (argc < 2 || sqlite3_open(argv[1], &db) != SQLITE_OK)
        return 2;
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)", NULL, NULL, NULL);
    printf("forever %lld\n", count_forever());
    // CHECK: forever {{-?[0-9]+}}
    printf("rows %d\n", count_rows());
    // CHECK: rows 3
    printf("host %d\n", rows_of_t()); /* SQLite must not be left locked */
    // CHECK: host 3
    return 0;
}
// The run is a dry run (the primary of count_forever would count for
// minutes); a mirror that timed out has no result to return.
// INLINE: "mirror":"inline"
// INLINE: "mirror":"inline"
// STATUS: "mirror_status":"timeout"
// STATUS: "mirror_status":"returned"
