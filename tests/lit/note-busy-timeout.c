// A file with no transaction that calls sqlite3_busy_timeout, a note row of
// runtime/calls.def: ptmcc parses it (the cheap scan finds the name) and
// sends the call to ptm_note_sqlite3_busy_timeout, which tells libptm the
// host connection's timeout and makes the call.  From the first top-level
// declaration that refers to the function on, a macro renames it; the note
// is declared with the function's own type; #line keeps the user's lines.
// RUN: %ptmcc --emit-source %s -o - | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -pedantic -std=c11 -c %s -o %t.o
// RUN: nm %t.o | FileCheck %s --check-prefix=SYMS --implicit-check-not=sqlite3_busy_timeout
// A warning in the user's code keeps its line and column:
// RUN: %ptmcc -Wall -DUNUSED -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=LINES

#include <sqlite3.h>

static const int retry_ms = 250;

int db_setup(sqlite3 *db)
{
#ifdef UNUSED
    int unused;
#endif
    return sqlite3_busy_timeout(db, retry_ms);
}

// CHECK:      static const int retry_ms = 250;
// CHECK-EMPTY:
// CHECK-NEXT: /* ptmcc: from here on, sqlite3_busy_timeout is ptm_note_sqlite3_busy_timeout, which tells libptm and calls it. */
// CHECK-NEXT: __typeof__(sqlite3_busy_timeout) ptm_note_sqlite3_busy_timeout;
// CHECK-NEXT: #ifndef sqlite3_busy_timeout
// CHECK-NEXT: #define sqlite3_busy_timeout ptm_note_sqlite3_busy_timeout
// CHECK-NEXT: #endif
// CHECK-NEXT: #line 17 "{{.*}}note-busy-timeout.c"
// CHECK-NEXT: int db_setup(sqlite3 *db)
// CHECK:          return sqlite3_busy_timeout(db, retry_ms);

// SYMS: U ptm_note_sqlite3_busy_timeout

// LINES: note-busy-timeout.c:20:9: warning: unused variable 'unused'
