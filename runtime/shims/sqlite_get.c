/*
** shims/sqlite_get.c - the SQLite API's getters of a connection in a
** mirror (error codes and messages, change counts, the autocommit flag):
** read from the connection the mirror's SQL runs on once it ran some,
** before that from the host's (shims/sqlite.c: ptmSqlStateDb).
*/
#include "sqlite_int.h"

/*
** ptm_shim_sqlite3_errcode, ptm_shim_sqlite3_extended_errcode,
** ptm_shim_sqlite3_errmsg, ptm_shim_sqlite3_errmsg16,
** ptm_shim_sqlite3_changes, ptm_shim_sqlite3_changes64,
** ptm_shim_sqlite3_last_insert_rowid, ptm_shim_sqlite3_get_autocommit:
** the real getter; in a mirror, of the overlay once the mirror ran SQL on
** the connection, else of the host's connection (a read).
*/
int ptm_shim_sqlite3_errcode(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_errcode(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_errcode(db);
}

int ptm_shim_sqlite3_extended_errcode(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_extended_errcode(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_extended_errcode(db);
}

const char *ptm_shim_sqlite3_errmsg(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_errmsg(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_errmsg(db);
}

const void *ptm_shim_sqlite3_errmsg16(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_errmsg16(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_errmsg16(db);
}

int ptm_shim_sqlite3_changes(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_changes(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_changes(db);
}

long long ptm_shim_sqlite3_changes64(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_changes64(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_changes64(db);
}

long long ptm_shim_sqlite3_last_insert_rowid(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? sqlite3_last_insert_rowid(ptmSqlStateDb(ptmMirrorCurrent, db))
                            : sqlite3_last_insert_rowid(db);
}

int ptm_shim_sqlite3_get_autocommit(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? ptmSqlStateAutocommit(ptmMirrorCurrent, db)
                            : sqlite3_get_autocommit(db);
}

/*
** ptm_shim_sqlite3_total_changes, ptm_shim_sqlite3_total_changes64: the
** real calls; in a mirror the host's count plus the mirror's changes.
*/
int ptm_shim_sqlite3_total_changes(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? (int)ptmSqlStateTotalChanges(ptmMirrorCurrent, db)
                            : sqlite3_total_changes(db);
}

long long ptm_shim_sqlite3_total_changes64(struct sqlite3 *db)
{
    return ptmMirrorCurrent ? ptmSqlStateTotalChanges(ptmMirrorCurrent, db)
                            : sqlite3_total_changes64(db);
}
