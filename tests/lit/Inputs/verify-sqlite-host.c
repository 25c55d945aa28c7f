/* Host code without a transaction: ptmcc sends its call of
** sqlite3_busy_timeout to the note, ptm_note_sqlite3_busy_timeout. */
#include <sqlite3.h>

int host_setup(sqlite3 *db)
{
    return sqlite3_busy_timeout(db, 100) + sqlite3_changes(db);
}
