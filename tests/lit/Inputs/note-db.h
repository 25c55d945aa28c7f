/* A user header whose macro calls sqlite3_busy_timeout where it expands. */
#include <sqlite3.h>

#define DB_PATIENCE(db) sqlite3_busy_timeout((db), 100)
