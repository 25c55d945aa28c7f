/* A tiny sqlite3.c: it defines sqlite3_busy_timeout and calls it itself,
** as SQLite's PRAGMA busy_timeout does. */
#include <stdio.h>

typedef struct sqlite3 sqlite3;
struct sqlite3 {
    int busy_ms;
};

int sqlite3_busy_timeout(sqlite3 *db, int ms);

int lib_pragma_busy_timeout(sqlite3 *db, int ms)
{
    return sqlite3_busy_timeout(db, ms);
}

int sqlite3_busy_timeout(sqlite3 *db, int ms)
{
    db->busy_ms = ms;
    printf("lib: busy timeout %d\n", ms);
    return 0;
}
