/*
** exec_tx: runs one SQL statement on a database through SQLite's
** sqlite3_exec, as a transaction (e2e.sqlite).  Built with ptmcc and
** -fptm-mirror-all together with SQLite's amalgamation, so the mirror's
** calls into SQLite reach SQLite's clones.
**
** Usage: exec_tx DB SQL.  Prints sqlite3_exec's result and the rows the
** statement changed; exits 0 when the database could be opened.
*/
#include <ptm.h>
#include <stdio.h>

#include "sqlite3.h"

/* exec_sql: sql run on db; SQLITE_OK or SQLite's error code. */
PTM_TRANSACTION(.transaction_id = "sqlite.exec", .success_criteria = return == SQLITE_OK)
static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int main(int argc, char **argv)
{
    sqlite3 *db;
    if (argc != 3) {
        fprintf(stderr, "usage: exec_tx DB SQL\n");
        return 2;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "exec_tx: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    int rc = exec_sql(db, argv[2]);
    printf("rc %d changes %d\n", rc, sqlite3_total_changes(db));
    sqlite3_close(db);
    return 0;
}
