// REQUIRES: ptm-sqlite
// The rules' timeout_ms bounds the primary's busy wait on the host's SQLite
// connection the mirror used, and the connection's own busy timeout is set
// back after the call (PRAGMA busy_timeout reads what the program set),
// under either executor:
//   - `db` waits 3000 ms on a lock; the call's rules say 50 ms: the
//     primary's BEGIN IMMEDIATE against a write lock that another
//     connection holds fails with SQLITE_BUSY after about 50 ms;
//   - a connection with a busy handler of the program's own keeps it: the
//     handler is called in the primary, and afterwards;
//   - a primary that closes its connection: nothing is set back on it.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cp %inputs/timeout50.lua %t.dir/
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror t.c -o t -lsqlite3
// RUN: cd %t.dir && env PTM_MIRROR=inline PTM_TRACE=t.trace timeout 60 ./t t.db | FileCheck %s
// RUN: cd %t.dir && rm -f t.db* && env PTM_MIRROR=fork timeout 60 ./t t.db | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.dir/t.trace

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int busy_timeout_of(sqlite3 *db)
{
    sqlite3_stmt *st;
    int ms = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA busy_timeout", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ms = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return ms;
}

PTM_TRANSACTION(.rules = "timeout50.lua", .success_criteria = return == SQLITE_OK)
int begin_write(sqlite3 *db)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

PTM_TRANSACTION(.rules = "timeout50.lua", .success_criteria = return == SQLITE_OK)
int count_and_close(sqlite3 *db)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return rc;
}

static int calls;

static int own_handler(void *arg, int count)
{
    (void)arg;
    calls++;
    return count < 2;
}

int main(int argc, char **argv)
{
    sqlite3 *holder, *db, *own, *gone;
    if (argc < 2 || sqlite3_open(argv[1], &holder) != SQLITE_OK ||
        sqlite3_exec(holder, "PRAGMA journal_mode=WAL; CREATE TABLE t(x)", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_open(argv[1], &db) != SQLITE_OK || sqlite3_open(argv[1], &own) != SQLITE_OK ||
        sqlite3_open(argv[1], &gone) != SQLITE_OK)
        return 1;
    sqlite3_busy_timeout(db, 3000);
    sqlite3_busy_handler(own, own_handler, NULL);
    sqlite3_busy_timeout(gone, 3000);
    sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    printf("before: %d ms\n", busy_timeout_of(db));
    double t0 = now_ms();
    int rc = begin_write(db);
    double waited = now_ms() - t0;
    printf("begin_write: %s, waited < 1000 ms: %s\n", sqlite3_errstr(rc),
           waited < 1000 ? "yes" : "no");
    printf("after: %d ms\n", busy_timeout_of(db));

    rc = begin_write(own);
    int in_call = calls;
    sqlite3_exec(own, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    printf("own handler: %s, called in the call: %s, after: %s, timeout %d\n",
           sqlite3_errstr(rc), in_call > 0 ? "yes" : "no", calls > in_call ? "yes" : "no",
           busy_timeout_of(own));

    printf("count_and_close: %s\n", sqlite3_errstr(count_and_close(gone)));
    sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(own);
    sqlite3_close(db);
    sqlite3_close(holder);
    return 0;
}

// CHECK:      before: 3000 ms
// CHECK-NEXT: begin_write: database is locked, waited < 1000 ms: yes
// CHECK-NEXT: after: 3000 ms
// CHECK-NEXT: own handler: database is locked, called in the call: yes, after: yes, timeout 0
// CHECK-NEXT: count_and_close: not an error
// TRACE: "adjusted":{"timeout_ms":50.0}
