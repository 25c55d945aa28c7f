// A file that defines sqlite3_busy_timeout is the library itself (SQLite's
// sqlite3.c built with CC=ptmcc): its own calls of the function (PRAGMA
// busy_timeout's) are its business, and the file reaches the backend as it
// is, still defining the function under its own name.
// RUN: %ptmcc --emit-source %s -o %t.c
// RUN: diff %s %t.c
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o
// RUN: nm %t.o | FileCheck %s --implicit-check-not=ptm_note

typedef struct sqlite3 sqlite3;
struct sqlite3 {
    int busy_ms;
};

int sqlite3_busy_timeout(sqlite3 *db, int ms);

/* PRAGMA busy_timeout = N */
int pragma_busy_timeout(sqlite3 *db, int ms)
{
    return sqlite3_busy_timeout(db, ms);
}

int sqlite3_busy_timeout(sqlite3 *db, int ms)
{
    db->busy_ms = ms > 0 ? ms : 0;
    return 0;
}

// CHECK: T pragma_busy_timeout
// CHECK: T sqlite3_busy_timeout
