/*
** sqlite_overlay_stub.c - TEST SCAFFOLDING, never linked into
** libptm_sqlite: a simple stand-in for the overlay interface of
** runtime/shims/sqlite_int.h (its first section), so that the API shims
** (runtime/shims/sqlite.c) can be tested before the overlay VFS
** (runtime/shims/sqlite_vfs.c) is merged.  The unit tests switch to the
** real overlay then.
**
** Each overlay is a private in-memory connection (one per thread and
** path).  ptmSqlOverlayBegin loads a copy of the database file into it with
** sqlite3_deserialize (a WAL-mode header is turned into a rollback one in
** the copy; frames still in the -wal are not seen), so that what a mirror
** writes stays in that copy.  It probes no lock: the real overlay does.
** ptmSqlOverlayEnd rolls back and says whether the file's size, mtime or
** inode changed since Begin.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shims/sqlite_int.h"

struct ptmSqlOverlay {
    char path[4096];
    sqlite3 *db;
    int begun;
    enum ptmSqlBusy busy;
    unsigned call;
    struct stat st;              /* the file at Begin; st_ino 0: missing */
    struct ptmSqlOverlay *next;
};

static _Thread_local struct ptmSqlOverlay *overlays;

/* Counts for the tests; ptmSqlStubBeginRc: what Begin fails with (0: it
** does not). */
int ptmSqlStubOpens, ptmSqlStubBegins, ptmSqlStubEnds, ptmSqlStubBeginRc;

int ptmSqlOverlayOpen(const char *path, struct ptmSqlOverlay **out)
{
    struct ptmSqlOverlay *o;
    int rc;

    *out = NULL;
    for (o = overlays; o; o = o->next)
        if (strcmp(o->path, path) == 0) {
            *out = o;
            return SQLITE_OK;
        }
    o = calloc(1, sizeof *o);
    if (!o)
        return SQLITE_NOMEM;
    snprintf(o->path, sizeof o->path, "%s", path);
    rc = sqlite3_open_v2(":memory:", &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(o->db);
        free(o);
        return rc;
    }
    ptmSqlStubOpens++;
    o->next = overlays;
    overlays = o;
    *out = o;
    return SQLITE_OK;
}

sqlite3 *ptmSqlOverlayDb(struct ptmSqlOverlay *o)
{
    return o->db;
}

/* The file's bytes in memory of sqlite3_malloc64; *n its size. */
static unsigned char *loadFile(const char *path, sqlite3_int64 *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;

    *n = 0;
    if (!f)
        return sqlite3_malloc64(1);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = sqlite3_malloc64(len > 0 ? (sqlite3_uint64)len : 1);
    if (buf && len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        sqlite3_free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = len > 0 ? len : 0;
    if (buf && *n >= 20 && buf[18] == 2 && buf[19] == 2)
        buf[18] = buf[19] = 1; /* WAL -> rollback, in the copy */
    return buf;
}

int ptmSqlOverlayBegin(struct ptmSqlOverlay *o, enum ptmSqlBusy busy)
{
    unsigned char *buf;
    sqlite3_int64 n;

    if (o->begun)
        return SQLITE_OK;
    if (ptmSqlStubBeginRc)
        return ptmSqlStubBeginRc;
    memset(&o->st, 0, sizeof o->st);
    stat(o->path, &o->st);
    buf = loadFile(o->path, &n);
    if (!buf)
        return SQLITE_NOMEM;
    if (sqlite3_deserialize(o->db, "main", buf, n, n > 0 ? n : 1,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
        SQLITE_OK)
        return SQLITE_CANTOPEN;
    o->busy = busy;
    o->begun = 1;
    ptmSqlStubBegins++;
    return SQLITE_OK;
}

void ptmSqlOverlaySetCall(struct ptmSqlOverlay *o, unsigned call)
{
    o->call = call;
}

int ptmSqlOverlayEnd(struct ptmSqlOverlay *o)
{
    struct stat now;

    if (!sqlite3_get_autocommit(o->db))
        sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
    o->begun = 0;
    ptmSqlStubEnds++;
    memset(&now, 0, sizeof now);
    stat(o->path, &now);
    return now.st_ino != o->st.st_ino || now.st_size != o->st.st_size ||
           now.st_mtim.tv_sec != o->st.st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != o->st.st_mtim.tv_nsec;
}

/* ptmSqlStubBusy: the busy policy of this thread's overlay of path, as its
** last ptmSqlOverlayBegin set it; -1: no such overlay. */
int ptmSqlStubBusy(const char *path)
{
    for (struct ptmSqlOverlay *o = overlays; o; o = o->next)
        if (strcmp(o->path, path) == 0)
            return (int)o->busy;
    return -1;
}
