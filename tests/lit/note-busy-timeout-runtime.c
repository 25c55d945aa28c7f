// REQUIRES: ptm-sqlite
// Linked with libptm's own note (libptm_sqlite.a, runtime/shims/sqlite.c):
// the program's call of sqlite3_busy_timeout goes through the note and
// still sets the real timeout: a second connection waits about that long
// for a lock the first holds, then sees SQLITE_BUSY.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t -lsqlite3
// RUN: nm %t | FileCheck %s --check-prefix=SYMS
// RUN: rm -f %t.db && %t %t.db | FileCheck %s

#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    sqlite3 *a, *b;
    if (argc < 2 || sqlite3_open(argv[1], &a) != SQLITE_OK || sqlite3_open(argv[1], &b) != SQLITE_OK)
        return 1;
    sqlite3_exec(a, "CREATE TABLE t(x); BEGIN EXCLUSIVE", NULL, NULL, NULL);
    printf("timeout: %d\n", sqlite3_busy_timeout(b, 300));
    double t0 = now_ms();
    int rc = sqlite3_exec(b, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
    double waited = now_ms() - t0;
    printf("rc: %s, waited >= 200 ms: %s\n", sqlite3_errstr(rc), waited >= 200 ? "yes" : "no");
    sqlite3_close(b);
    sqlite3_exec(a, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(a);
    return 0;
}

// SYMS: T ptm_note_sqlite3_busy_timeout

// CHECK:      timeout: 0
// CHECK-NEXT: rc: database is locked, waited >= 200 ms: yes
