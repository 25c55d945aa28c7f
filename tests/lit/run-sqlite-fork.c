// What an inline mirror cannot do with SQLite, the fork executor does: a
// host connection on an in-memory database has no file to overlay (the
// fork child runs the calls on its own copy of the connection), and an
// sqlite3_exec callback is host code (the child calls it).  The trace
// names the reason; the events are the same as inline ones.  A connection
// the mirror opens itself is an overlay of the file: the callback's rows
// are the file's, and closing it closes nothing of the host's.
// RUN: %ptmcc -Wall -Wextra -Werror %s -lsqlite3 -o %t
// RUN: rm -f %t.db %t.trace
// RUN: env PTM_TRACE=%t.trace %t %t.db | FileCheck %s
// RUN: grep -o '"mirror":"[a-z]*","mirror_reason":"[^"]*","mirror_status":"[a-z]*"' %t.trace | FileCheck %s --check-prefix=FORK
// RUN: grep -o '"call":"sqlite3_[a-z_0-9]*","target":"[^"]*","detail":"[^"]*"' %t.trace | FileCheck %s --check-prefix=EVENTS

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>

static sqlite3 *mem;
static int rows;

static int count(void *arg, int n, char **v, char **names)
{
    (void)arg;
    (void)n;
    (void)v;
    (void)names;
    rows++;
    return 0;
}

PTM_TRANSACTION(.success_criteria = return == 0)
int add(int x)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(mem, "INSERT INTO t VALUES(?)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, x);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

PTM_TRANSACTION(.success_criteria = return == 0)
int scan(const char *path)
{
    sqlite3 *db = NULL;
    int rc;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    rc = sqlite3_exec(db, "SELECT * FROM accounts", count, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    sqlite3 *file;

    if (argc < 2 || sqlite3_open(argv[1], &file) != SQLITE_OK ||
        sqlite3_exec(file,
                     "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER);"
                     "INSERT INTO accounts VALUES(1, 100), (2, 50), (3, 0);",
                     NULL, NULL, NULL) != SQLITE_OK)
        return 2;
    sqlite3_open(":memory:", &mem);
    sqlite3_exec(mem, "CREATE TABLE t(x CHECK(x > 0))", NULL, NULL, NULL);
    int a = add(0), b = add(3);
    printf("add(0)=%d add(3)=%d\n", a, b);
    printf("scan=%d rows=%d\n", scan(argv[1]), rows);
    sqlite3_close(mem);
    return sqlite3_close(file);
}

// CHECK: add(0)=-1 add(3)=0
// CHECK-NEXT: scan=0 rows=3
// FORK: "mirror":"fork","mirror_reason":"sqlite3 on an in-memory database","mirror_status":"returned"
// FORK-NEXT: "mirror":"fork","mirror_reason":"sqlite3 on an in-memory database","mirror_status":"returned"
// FORK-NEXT: "mirror":"fork","mirror_reason":"sqlite3_exec with a callback","mirror_status":"returned"
// EVENTS: "call":"sqlite3_step","target":"INSERT INTO t VALUES(?)","detail":"SQLITE_CONSTRAINT_CHECK changes=0"
// EVENTS-NEXT: "call":"sqlite3_step","target":"INSERT INTO t VALUES(?)","detail":"SQLITE_DONE changes=1"
// EVENTS-NEXT: "call":"sqlite3_open","target":"{{.*}}.db","detail":"SQLITE_OK"
// EVENTS-NEXT: "call":"sqlite3_exec","target":"SELECT * FROM accounts","detail":"x3"
// EVENTS-NEXT: "call":"sqlite3_exec","target":"SELECT * FROM accounts","detail":"SQLITE_DONE changes=0"
// EVENTS-NEXT: "call":"sqlite3_close","target":"connection","detail":"SQLITE_OK"
