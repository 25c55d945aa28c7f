// A program and a tiny sqlite3.c, both built by ptmcc: the library keeps
// defining sqlite3_busy_timeout (its own call is not noted), the program's
// calls, direct and through a pointer, reach the note, which makes the
// real call.  The note here is a stand-in (Inputs/note-stub.c) linked with
// plain clang, so that the test does not depend on libptm's SQLite family;
// note-busy-timeout-runtime.c links libptm's own.
// RUN: %ptmcc -c %inputs/note-sqlite-lib.c -o %t.lib.o
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o
// RUN: %clang -c %inputs/note-stub.c -o %t.stub.o
// RUN: %clang %t.o %t.lib.o %t.stub.o -o %t
// RUN: %t | FileCheck %s

#include <stdio.h>

typedef struct sqlite3 sqlite3;
struct sqlite3 {
    int busy_ms;
};
int sqlite3_busy_timeout(sqlite3 *db, int ms);
int lib_pragma_busy_timeout(sqlite3 *db, int ms);

int main(void)
{
    sqlite3 db = {0};
    int (*set)(sqlite3 *, int) = sqlite3_busy_timeout;
    sqlite3_busy_timeout(&db, 250);
    printf("db: %d\n", db.busy_ms);
    set(&db, 300);
    lib_pragma_busy_timeout(&db, 400);
    printf("db: %d\n", db.busy_ms);
    return 0;
}

// CHECK:      note: busy timeout 250
// CHECK-NEXT: lib: busy timeout 250
// CHECK-NEXT: db: 250
// CHECK-NEXT: note: busy timeout 300
// CHECK-NEXT: lib: busy timeout 300
// CHECK-NEXT: lib: busy timeout 400
// CHECK-NEXT: db: 400
