/* A user header whose macro calls sqlite3_busy_timeout, on a continued
** line of its definition. */
#include "sqlite3.h"
#define PATIENCE(db) \
    sqlite3_busy_timeout((db), 50)
