/* A unit whose buffered clone the backend rejects (see xtu-vector.c) and
** that calls a note row of the catalog (sqlite3_busy_timeout): its notes
** are lost with the clones, and it still builds. */
#include <sqlite3.h>

typedef int v4 __attribute__((vector_size(16)));
struct proto {
    v4 lanes;
};

int patch_noted(struct proto *p, sqlite3 *db, int v);

int patch_noted(struct proto *p, sqlite3 *db, int v)
{
    if (db)
        sqlite3_busy_timeout(db, 100);
    p->lanes[1] = v;
    return p->lanes[1];
}
