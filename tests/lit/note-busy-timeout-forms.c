// Every form of a reference to sqlite3_busy_timeout in host code reaches
// its note: a call a macro of a user header expands, a parenthesized
// callee (which a function-like macro would miss), and the address taken,
// at file scope and in a body: a program that calls the function through
// a pointer sets the timeout just the same, so the pointer is the note's
// (same type).  The renaming starts at the first top-level declaration that
// refers to the function: the header's macro, defined above it, expands
// below it.
// RUN: %ptmcc -I%inputs --emit-source %s -o - | FileCheck %s
// RUN: %ptmcc -I%inputs -E %s -o - | FileCheck %s --check-prefix=PP
// RUN: %ptmcc -I%inputs -Wall -Wextra -Werror -c %s -o %t.o
// RUN: nm %t.o | FileCheck %s --check-prefix=SYMS --implicit-check-not=sqlite3_busy_timeout

#include <note-db.h>

typedef int (*timeout_setter)(sqlite3 *, int);

static const timeout_setter setters[] = {&sqlite3_busy_timeout, sqlite3_busy_timeout};

int patient(sqlite3 *db)
{
    timeout_setter local = &sqlite3_busy_timeout;
    return DB_PATIENCE(db) + (sqlite3_busy_timeout)(db, 5) + local(db, 6) + setters[1](db, 7);
}

// CHECK:      typedef int (*timeout_setter)(sqlite3 *, int);
// CHECK-EMPTY:
// CHECK-NEXT: /* ptmcc: from here on, sqlite3_busy_timeout is ptm_note_sqlite3_busy_timeout
// CHECK:      #define sqlite3_busy_timeout ptm_note_sqlite3_busy_timeout
// CHECK-NEXT: #endif
// CHECK-NEXT: #line 18 "{{.*}}note-busy-timeout-forms.c"
// CHECK-NEXT: static const timeout_setter setters[]

// PP: static const timeout_setter setters[] = {&ptm_note_sqlite3_busy_timeout, ptm_note_sqlite3_busy_timeout};
// PP: timeout_setter local = &ptm_note_sqlite3_busy_timeout;
// PP-NEXT: return ptm_note_sqlite3_busy_timeout((db), 100) + (ptm_note_sqlite3_busy_timeout)(db, 5) + local(db, 6) + setters[1](db, 7);

// SYMS: U ptm_note_sqlite3_busy_timeout
