// REQUIRES: gcc
// With gcc as the backend: the note's declaration passes gcc's strictest
// redeclaration warning, and a file libclang cannot parse (a GNU nested
// function) but gcc can builds as before notes, its call left as written,
// with a warning that says so (-Wptm-unnoted, which -Wno-ptm-unnoted
// silences).
// RUN: env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror -Wredundant-decls -c %s -o %t.o
// RUN: nm %t.o | FileCheck %s --check-prefix=NOTED --implicit-check-not=sqlite3_busy_timeout
// RUN: env PTM_CC=gcc %ptmcc -DNESTED -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: nm %t.o | FileCheck %s --check-prefix=PLAIN --implicit-check-not=ptm_note
// RUN: env PTM_CC=gcc %ptmcc -DNESTED -Wno-ptm-unnoted -c %s -o %t.o 2> %t.err && not test -s %t.err
// The cheap scan parses a unit for a note row's name in its own text or in
// a macro's definition in a header, not for a header's declaration:
// RUN: env PTM_CC=gcc %ptmcc -I%inputs/note-scan -c %inputs/note-scan-decl.c -o %t.o 2> %t.err && not test -s %t.err
// RUN: env PTM_CC=gcc %ptmcc -I%inputs/note-scan -c %inputs/note-scan-macro.c -o %t.o 2>&1 | FileCheck %s --check-prefix=MACRO

#include <sqlite3.h>

int db_setup(sqlite3 *db)
{
#ifdef NESTED
    int twice(int x) { return 2 * x; }
    return sqlite3_busy_timeout(db, twice(100));
#else
    return sqlite3_busy_timeout(db, 200);
#endif
}

// NOTED: U ptm_note_sqlite3_busy_timeout

// WARN: note-busy-timeout-gcc.c:1:1: warning: libclang cannot parse this file: its calls of functions the runtime must hear about (runtime/calls.def, note rows) are left as they are [-Wptm-unnoted]

// PLAIN: U sqlite3_busy_timeout

// MACRO: note-scan-macro.c:1:1: warning: libclang cannot parse this file
