// --verify-mirror and SQLite, as the catalog says: the calls with a raw row
// and no shim (a blob's write, a backup step) are raw I/O a mirror must
// not reach; a note (host code of another file sends sqlite3_busy_timeout
// to ptm_note_sqlite3_busy_timeout) is its real call, which is no raw I/O.
// RUN: not %ptmcc --verify-mirror -c %s 2>&1 | FileCheck %s --check-prefix=BLOB
// RUN: not %ptmcc -DBACKUP --verify-mirror -c %s 2>&1 | FileCheck %s --check-prefix=BACKUP
// RUN: %ptmcc -DSETUP --verify-mirror %s %inputs/verify-sqlite-host.c 2>&1 | FileCheck %s --check-prefix=SETUP

#include <ptm.h>
#include <sqlite3.h>

int host_setup(sqlite3 *db);

PTM_TRANSACTION(.success_criteria = return == SQLITE_OK)
int save(sqlite3_blob *blob, sqlite3 *db, const char *buf, int n)
{
#ifdef BACKUP
    (void)blob, (void)buf, (void)n;
    return sqlite3_backup_step((sqlite3_backup *)db, -1);
#elif defined(SETUP)
    (void)blob, (void)buf, (void)n;
    return host_setup(db);
#else
    (void)db;
    return sqlite3_blob_write(blob, buf, n, 0);
#endif
}

// BLOB: error: mirror of 'save' reaches 'sqlite3_blob_write' through save__ptm_mirror -> sqlite3_blob_write
// BACKUP: error: mirror of 'save' reaches 'sqlite3_backup_step' through save__ptm_mirror -> sqlite3_backup_step
// SETUP-NOT: error:
// SETUP: warning: the mirror of '{{[a-z_]*}}' forks: it reaches unknown external 'host_setup'
// SETUP-NOT: error:
