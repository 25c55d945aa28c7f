// The SQLite API in a mirror: each sqlite3_* call with a shim row in
// runtime/calls.def becomes ptm_shim_sqlite3_* (shims/sqlite.c, in
// libptm_sqlite.a), its pure rows (sqlite3_errstr, sqlite3_column_count)
// stay as they are, and the host's own calls are untouched.  Writes through
// the prepare's and exec's out arguments land in the mirror's locals, so a
// mirror made of these calls is proved inline: `auto` runs it in process.
// The verifier finds no raw I/O in it.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | grep -E 'sqlite3_[a-z_0-9]*\(|inline_ok|mirror_reason' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o
// RUN: %ptmcc --verify-mirror -c %s -o %t.o

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>

static sqlite3 *db;

PTM_TRANSACTION(.success_criteria = return == 0)
int debit(int id, int cents)
{
    sqlite3_stmt *st = NULL;
    char *err = NULL;
    int rc, n;

    if (sqlite3_exec(db, "SAVEPOINT debit", NULL, NULL, &err) != SQLITE_OK) {
        sqlite3_free(err);
        return -1;
    }
    rc = sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance - ? WHERE id = ?", -1,
                            &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, cents);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        fprintf(stderr, "debit: %s (%s)\n", sqlite3_errmsg(db), sqlite3_errstr(rc));
    n = sqlite3_column_count(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE && n == 0 && sqlite3_changes(db) == 1 ? 0 : -1;
}

int main(void)
{
    if (sqlite3_open("bank.db", &db) != SQLITE_OK)
        return 1;
    return debit(1, 5);
}

// The primary and main keep the real calls.
// CHECK: if (sqlite3_exec(db, "SAVEPOINT debit", NULL, NULL, &err) != SQLITE_OK) {
// CHECK: rc = sqlite3_step(st);
// CHECK: if (sqlite3_open("bank.db", &db) != SQLITE_OK)
// The mirror clone calls the shims.
// CHECK: if (ptm_shim_sqlite3_exec(db, "SAVEPOINT debit", NULL, NULL, &err) != SQLITE_OK) {
// CHECK-NEXT: ptm_shim_sqlite3_free(err);
// CHECK-NEXT: rc = ptm_shim_sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance - ? WHERE id = ?", -1,
// CHECK-NEXT: ptm_shim_sqlite3_bind_int(st, 1, cents);
// CHECK-NEXT: ptm_shim_sqlite3_bind_int64(st, 2, id);
// CHECK-NEXT: rc = ptm_shim_sqlite3_step(st);
// CHECK-NEXT: ptm_shim_fprintf(stderr, "debit: %s (%s)\n", ptm_shim_sqlite3_errmsg(db), sqlite3_errstr(rc));
// CHECK-NEXT: n = sqlite3_column_count(st);
// CHECK-NEXT: ptm_shim_sqlite3_finalize(st);
// CHECK-NEXT: return rc == SQLITE_DONE && n == 0 && ptm_shim_sqlite3_changes(db) == 1 ? 0 : -1;
// CHECK-NOT: mirror_reason
// CHECK: .inline_ok = 1,
// CHECK-NOT: mirror_reason
