/* A library header in an -I directory (as SQLite's amalgamation is): it
** declares sqlite3_busy_timeout, which is no call. */
typedef struct sqlite3 sqlite3;
int sqlite3_busy_timeout(sqlite3 *db, int ms);
