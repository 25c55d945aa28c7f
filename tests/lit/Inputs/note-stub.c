/* What libptm's note does, reduced to a trace: says it heard the call and
** makes the real one. */
#include <stdio.h>

struct sqlite3;
int sqlite3_busy_timeout(struct sqlite3 *db, int ms);

int ptm_note_sqlite3_busy_timeout(struct sqlite3 *db, int ms)
{
    printf("note: busy timeout %d\n", ms);
    return sqlite3_busy_timeout(db, ms);
}
