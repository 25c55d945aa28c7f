/* Calls a noted function through a user header's macro only. */
#include <patience.h>

int wait_a_bit(sqlite3 *db)
{
    int twice(int x) { return 2 * x; }
    return PATIENCE(db) + twice(0);
}
