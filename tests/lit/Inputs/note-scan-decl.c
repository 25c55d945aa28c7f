/* Includes the library's header, calls none of the noted functions, and
** uses a GNU nested function (gcc only): were it parsed, libclang would
** fail on it and ptmcc would warn. */
#include <sqlite3.h>

int count(sqlite3 *db)
{
    int twice(int x) { return 2 * x; }
    return db ? twice(1) : 0;
}
