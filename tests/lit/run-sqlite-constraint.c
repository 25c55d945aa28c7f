// A transfer on SQLite, built with ptmcc: its mirror runs inline (every
// sqlite3_* call it makes has a shim or a pure row), on the overlay of the
// database file.  The overdraft's UPDATE violates CHECK(balance >= 0) in
// the mirror: a constraint event (errno EINVAL, the validation class), and
// the transfer is diverted to its alternative before the primary touches
// the database.  A good transfer in a dry run changes one row in the
// mirror and none in the file.  The database's bytes are the same after
// both; no journal is left.
// RUN: %ptmcc -Wall -Wextra -Werror %s -lsqlite3 -o %t
// RUN: rm -f %t.db %t.db-journal %t.trace %t.dry
// RUN: %t %t.db create
// RUN: sha256sum %t.db > %t.sum
// RUN: env PTM_TRACE=%t.trace %t %t.db 1 2 500 | FileCheck %s --check-prefix=OVERDRAFT
// RUN: sha256sum -c --quiet %t.sum
// RUN: not ls %t.db-journal
// RUN: grep -o '"mirror":"[a-z]*"' %t.trace | FileCheck %s --check-prefix=INLINE
// RUN: grep -o '"call":"sqlite3_step"[^}]*' %t.trace | FileCheck %s --check-prefix=EVENT
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.dry %t %t.db 1 2 30 | FileCheck %s --check-prefix=DRY
// RUN: sha256sum -c --quiet %t.sum
// RUN: grep -o '"call":"sqlite3_step"[^}]*' %t.dry | FileCheck %s --check-prefix=DRYEVENT
// RUN: %t %t.db 1 2 30 | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3 *db;

static int balance(int id)
{
    sqlite3_stmt *st;
    int b = -1;
    sqlite3_prepare_v2(db, "SELECT balance FROM accounts WHERE id = ?", -1, &st, NULL);
    sqlite3_bind_int(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        b = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return b;
}

int transfer_reject(int from, int to, int cents)
{
    printf("rejected %d -> %d: %d\n", from, to, cents);
    return 1;
}

/* One UPDATE of the account's balance; 0 when it changed one row. */
static int move(int id, int cents)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance + ? WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, cents);
    sqlite3_bind_int(st, 2, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
}

PTM_TRANSACTION(.alternative_paths = { transfer_reject },
                .success_criteria = return == 0)
int transfer(int from, int to, int cents)
{
    char *err = NULL;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK) {
        sqlite3_free(err);
        return -1;
    }
    if (move(from, -cents) != 0 || move(to, cents) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || sqlite3_open(argv[1], &db) != SQLITE_OK)
        return 2;
    if (strcmp(argv[2], "create") == 0)
        return sqlite3_exec(db,
                            "CREATE TABLE accounts(id INTEGER PRIMARY KEY, "
                            "balance INTEGER NOT NULL CHECK(balance >= 0));"
                            "INSERT INTO accounts VALUES(1, 100), (2, 50);",
                            NULL, NULL, NULL) != SQLITE_OK;
    int r = transfer(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    printf("r=%d balances %d %d\n", r, balance(1), balance(2));
    sqlite3_close(db);
    return 0;
}

// OVERDRAFT: rejected 1 -> 2: 500
// OVERDRAFT-NEXT: r=1 balances 100 50
// INLINE: "mirror":"inline"
// EVENT: "call":"sqlite3_step","target":"UPDATE accounts SET balance = balance + ? WHERE id = ?"
// EVENT-SAME: "detail":"SQLITE_CONSTRAINT_CHECK changes=0"
// EVENT-SAME: "errname":"EINVAL","class":"validation"
// DRY: r=0 balances 100 50
// DRYEVENT: "call":"sqlite3_step","target":"UPDATE accounts SET balance = balance + ? WHERE id = ?"
// DRYEVENT-SAME: "detail":"SQLITE_DONE changes=1"
// REAL: r=0 balances 70 80
