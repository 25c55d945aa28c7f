/*
** shims/sqlite_str.c - the SQLite API's strings in a mirror: sqlite3_free
** frees only what the mirror was handed (shims/sqlite.c records it), and
** sqlite3_mprintf's strings are handed to it.
*/
#include <stdarg.h>

#include "sqlite_int.h"

/*
** ptm_shim_sqlite3_free: sqlite3_free(3); in a mirror it frees only what
** this mirror was handed (an exec error message, a string of mprintf or
** expanded_sql): any other pointer is left alone.
*/
void ptm_shim_sqlite3_free(void *p)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m) {
        sqlite3_free(p);
        return;
    }
    if (p && ptmSqlTakeBack(ptmShimStateOf(m)->sqlite, p))
        sqlite3_free(p);
}

/*
** ptm_shim_sqlite3_vmprintf, ptm_shim_sqlite3_mprintf: the real calls; in
** a mirror the string is recorded as the mirror's to free.  SQLite's
** formats have %n too: one stops an inline mirror (ptmFormatCheck).
*/
char *ptm_shim_sqlite3_vmprintf(const char *fmt, va_list ap)
{
    ptmFormatCheck(fmt);
    char *s = sqlite3_vmprintf(fmt, ap);
    return ptmMirrorCurrent ? ptmSqlHandOut(ptmMirrorCurrent, s) : s;
}

char *ptm_shim_sqlite3_mprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = ptm_shim_sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    return s;
}
