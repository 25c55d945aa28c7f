/*
** shims/sqlite_sql.c - what the SQLite API shims (shims/sqlite.c) build on
** that holds no mirror's state: result codes' names and errno classes, SQL
** normalized without its literals for the events, a host statement's
** bindings read back from sqlite3_expanded_sql, the statements kept
** prepared across mirrors (per thread), and the host's busy timeouts
** (process-wide, ptm_note_sqlite3_busy_timeout).  sqlite_int.h declares
** them.
*/
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_int.h"

/* ------------------------------------------------------------------------
** The host's busy timeouts, process-wide
*/

#define BUSY_SLOTS 256

static pthread_mutex_t busyLock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    sqlite3 *db;
    int ms;
    int custom;                /* a handler of the host's own: ms unknown */
    uint64_t adjusted;         /* a primary's busy wait is on it (its token); 0: none */
} busyTable[BUSY_SLOTS];
static unsigned busyNext;      /* the slot a new connection takes when all are used */
static uint64_t busyTokens;

/* busyLock is a leaf. */
PTM_HOLD_ACROSS_FORK(busy, &busyLock)

/* busySlot: db's slot, or a free one (with every slot taken the oldest
** goes), under busyLock. */
static unsigned busySlot(sqlite3 *db)
{
    unsigned i, slot = BUSY_SLOTS;

    for (i = 0; i < BUSY_SLOTS; i++) {
        if (busyTable[i].db == db)
            return i;
        if (!busyTable[i].db && slot == BUSY_SLOTS)
            slot = i;
    }
    return slot < BUSY_SLOTS ? slot : busyNext++ % BUSY_SLOTS;
}

/* busyNote: what the host set on db; a primary's busy wait on it is then
** the host's to keep (never restored over the host's own setting). */
static void busyNote(sqlite3 *db, int ms, int custom)
{
    pthread_mutex_lock(&busyLock);
    unsigned slot = busySlot(db);
    busyTable[slot].db = db;
    busyTable[slot].ms = ms < 0 ? 0 : ms;
    busyTable[slot].custom = custom;
    busyTable[slot].adjusted = 0;
    pthread_mutex_unlock(&busyLock);
}

/*
** ptm_note_sqlite3_busy_timeout: records db's busy timeout ms under a lock
** (a later call for db replaces it), then calls sqlite3_busy_timeout(db,
** ms).  Returns what it returns.
*/
int ptm_note_sqlite3_busy_timeout(sqlite3 *db, int ms)
{
    busyNote(db, ms, 0);
    return sqlite3_busy_timeout(db, ms);
}

/*
** ptm_note_sqlite3_busy_handler: records that db has a handler of the
** host's own (NULL: none, a timeout of 0), then calls
** sqlite3_busy_handler.  Returns what it returns.
*/
int ptm_note_sqlite3_busy_handler(sqlite3 *db, int (*handler)(void *, int), void *arg)
{
    busyNote(db, 0, handler != NULL);
    return sqlite3_busy_handler(db, handler, arg);
}

/* busyForget: takes db out of the table (a copy in *was); whether it was in. */
static int busyForget(sqlite3 *db, int *ms, int *custom)
{
    int found = 0;

    pthread_mutex_lock(&busyLock);
    for (unsigned i = 0; i < BUSY_SLOTS; i++)
        if (db && busyTable[i].db == db) {
            *ms = busyTable[i].ms;
            *custom = busyTable[i].custom;
            busyTable[i].db = NULL;
            busyTable[i].adjusted = 0;
            found = 1;
        }
    pthread_mutex_unlock(&busyLock);
    return found;
}

/*
** ptm_note_sqlite3_close: forgets db, then calls sqlite3_close; a close
** that fails (SQLITE_BUSY: statements left) leaves db open, and its entry
** is put back.  Returns what sqlite3_close returns.
*/
int ptm_note_sqlite3_close(sqlite3 *db)
{
    int ms = 0, custom = 0, known = busyForget(db, &ms, &custom);
    int rc = sqlite3_close(db);
    if (rc != SQLITE_OK && known)
        busyNote(db, ms, custom);
    return rc;
}

/*
** ptm_note_sqlite3_close_v2: forgets db (closed, or a zombie the host may
** no longer use), then calls sqlite3_close_v2.  Returns what it returns.
*/
int ptm_note_sqlite3_close_v2(sqlite3 *db)
{
    int ms, custom;
    busyForget(db, &ms, &custom);
    return sqlite3_close_v2(db);
}

/*
** ptmSqlBusyTimeoutOf: the busy timeout recorded for db; -1: none seen,
** or a handler of the host's own.  A fork child (in_child) only tries the
** lock: another thread of the host may have held it at the fork, and no
** one is left to release it (the timeout is then unknown).
*/
int ptmSqlBusyTimeoutOf(sqlite3 *db, int in_child)
{
    int ms = -1;

    if (in_child ? pthread_mutex_trylock(&busyLock) != 0 : pthread_mutex_lock(&busyLock) != 0)
        return -1;
    for (unsigned i = 0; i < BUSY_SLOTS; i++)
        if (busyTable[i].db == db) {
            ms = busyTable[i].custom ? -1 : busyTable[i].ms;
            break;
        }
    pthread_mutex_unlock(&busyLock);
    return ms;
}

/*
** ptmSqlBusyClaim: db's busy timeout for a primary's wait, claimed: when db
** is in the table with a timeout of its own (no handler of the host's, ms
** > 0) and no other primary's wait is on it, it is marked with a new token.
** OUT: *ms.  The token; 0: not db's to change.
*/
uint64_t ptmSqlBusyClaim(sqlite3 *db, int *ms)
{
    uint64_t token = 0;

    pthread_mutex_lock(&busyLock);
    for (unsigned i = 0; i < BUSY_SLOTS; i++)
        if (db && busyTable[i].db == db) {
            if (!busyTable[i].custom && busyTable[i].ms > 0 && !busyTable[i].adjusted) {
                *ms = busyTable[i].ms;
                token = busyTable[i].adjusted = ++busyTokens;
            }
            break;
        }
    pthread_mutex_unlock(&busyLock);
    return token;
}

/*
** ptmSqlBusyGiveBack: sets db's busy timeout back to ms when the claim
** token is still on it (the host did not set its own since, nor close
** db), under the table's lock so that no close runs meanwhile.
*/
void ptmSqlBusyGiveBack(sqlite3 *db, uint64_t token, int ms)
{
    pthread_mutex_lock(&busyLock);
    for (unsigned i = 0; i < BUSY_SLOTS; i++)
        if (busyTable[i].db == db && busyTable[i].adjusted == token) {
            sqlite3_busy_timeout(db, ms);
            busyTable[i].adjusted = 0;
        }
    pthread_mutex_unlock(&busyLock);
}

/* ------------------------------------------------------------------------
** Result codes: names and errno classes
*/

#define RC(c) {c, #c}
static const struct {
    int rc;
    const char *name;
} rcNames[] = {
    RC(SQLITE_OK), RC(SQLITE_ERROR), RC(SQLITE_INTERNAL), RC(SQLITE_PERM), RC(SQLITE_ABORT),
    RC(SQLITE_BUSY), RC(SQLITE_LOCKED), RC(SQLITE_NOMEM), RC(SQLITE_READONLY),
    RC(SQLITE_INTERRUPT), RC(SQLITE_IOERR), RC(SQLITE_CORRUPT), RC(SQLITE_NOTFOUND),
    RC(SQLITE_FULL), RC(SQLITE_CANTOPEN), RC(SQLITE_PROTOCOL), RC(SQLITE_EMPTY),
    RC(SQLITE_SCHEMA), RC(SQLITE_TOOBIG), RC(SQLITE_CONSTRAINT), RC(SQLITE_MISMATCH),
    RC(SQLITE_MISUSE), RC(SQLITE_NOLFS), RC(SQLITE_AUTH), RC(SQLITE_FORMAT), RC(SQLITE_RANGE),
    RC(SQLITE_NOTADB), RC(SQLITE_NOTICE), RC(SQLITE_WARNING), RC(SQLITE_ROW), RC(SQLITE_DONE),
    RC(SQLITE_ERROR_MISSING_COLLSEQ), RC(SQLITE_ERROR_RETRY), RC(SQLITE_ERROR_SNAPSHOT),
    RC(SQLITE_IOERR_READ), RC(SQLITE_IOERR_SHORT_READ), RC(SQLITE_IOERR_WRITE),
    RC(SQLITE_IOERR_FSYNC), RC(SQLITE_IOERR_DIR_FSYNC), RC(SQLITE_IOERR_TRUNCATE),
    RC(SQLITE_IOERR_FSTAT), RC(SQLITE_IOERR_UNLOCK), RC(SQLITE_IOERR_RDLOCK),
    RC(SQLITE_IOERR_DELETE), RC(SQLITE_IOERR_BLOCKED), RC(SQLITE_IOERR_NOMEM),
    RC(SQLITE_IOERR_ACCESS), RC(SQLITE_IOERR_CHECKRESERVEDLOCK), RC(SQLITE_IOERR_LOCK),
    RC(SQLITE_IOERR_CLOSE), RC(SQLITE_IOERR_DIR_CLOSE), RC(SQLITE_IOERR_SHMOPEN),
    RC(SQLITE_IOERR_SHMSIZE), RC(SQLITE_IOERR_SHMLOCK), RC(SQLITE_IOERR_SHMMAP),
    RC(SQLITE_IOERR_SEEK), RC(SQLITE_IOERR_DELETE_NOENT), RC(SQLITE_IOERR_MMAP),
    RC(SQLITE_IOERR_GETTEMPPATH), RC(SQLITE_IOERR_CONVPATH), RC(SQLITE_IOERR_VNODE),
    RC(SQLITE_IOERR_AUTH), RC(SQLITE_IOERR_BEGIN_ATOMIC), RC(SQLITE_IOERR_COMMIT_ATOMIC),
    RC(SQLITE_IOERR_ROLLBACK_ATOMIC), RC(SQLITE_IOERR_DATA), RC(SQLITE_IOERR_CORRUPTFS),
    RC(SQLITE_LOCKED_SHAREDCACHE), RC(SQLITE_LOCKED_VTAB), RC(SQLITE_BUSY_RECOVERY),
    RC(SQLITE_BUSY_SNAPSHOT), RC(SQLITE_BUSY_TIMEOUT), RC(SQLITE_CANTOPEN_NOTEMPDIR),
    RC(SQLITE_CANTOPEN_ISDIR), RC(SQLITE_CANTOPEN_FULLPATH), RC(SQLITE_CANTOPEN_CONVPATH),
    RC(SQLITE_CANTOPEN_DIRTYWAL), RC(SQLITE_CANTOPEN_SYMLINK), RC(SQLITE_CORRUPT_VTAB),
    RC(SQLITE_CORRUPT_SEQUENCE), RC(SQLITE_CORRUPT_INDEX), RC(SQLITE_READONLY_RECOVERY),
    RC(SQLITE_READONLY_CANTLOCK), RC(SQLITE_READONLY_ROLLBACK), RC(SQLITE_READONLY_DBMOVED),
    RC(SQLITE_READONLY_CANTINIT), RC(SQLITE_READONLY_DIRECTORY), RC(SQLITE_ABORT_ROLLBACK),
    RC(SQLITE_CONSTRAINT_CHECK), RC(SQLITE_CONSTRAINT_COMMITHOOK),
    RC(SQLITE_CONSTRAINT_FOREIGNKEY), RC(SQLITE_CONSTRAINT_FUNCTION),
    RC(SQLITE_CONSTRAINT_NOTNULL), RC(SQLITE_CONSTRAINT_PRIMARYKEY),
    RC(SQLITE_CONSTRAINT_TRIGGER), RC(SQLITE_CONSTRAINT_UNIQUE), RC(SQLITE_CONSTRAINT_VTAB),
    RC(SQLITE_CONSTRAINT_ROWID), RC(SQLITE_CONSTRAINT_PINNED), RC(SQLITE_CONSTRAINT_DATATYPE),
    RC(SQLITE_NOTICE_RECOVER_WAL), RC(SQLITE_NOTICE_RECOVER_ROLLBACK),
    RC(SQLITE_WARNING_AUTOINDEX), RC(SQLITE_AUTH_USER), RC(SQLITE_OK_LOAD_PERMANENTLY),
    RC(SQLITE_OK_SYMLINK),
};
#undef RC

/*
** ptmSqlRcName: the name of SQLite result code rc, extended or primary
** ("SQLITE_CONSTRAINT_CHECK"); an unknown extended code has its primary
** code's name.  The string is static; "SQLITE_?" for a code SQLite does not
** define.
*/
const char *ptmSqlRcName(int rc)
{
    size_t i;

    for (i = 0; i < sizeof rcNames / sizeof rcNames[0]; i++)
        if (rcNames[i].rc == rc)
            return rcNames[i].name;
    for (i = 0; i < sizeof rcNames / sizeof rcNames[0]; i++)
        if (rcNames[i].rc == (rc & 0xff))
            return rcNames[i].name;
    return "SQLITE_?";
}

/*
** ptmSqlRcErrno: the errno whose class is that of SQLite result code rc (0
** for SQLITE_OK, SQLITE_ROW and SQLITE_DONE); sys is the system errno
** SQLite saw (sqlite3_system_errno), used for SQLITE_CANTOPEN when set.
*/
int ptmSqlRcErrno(int rc, int sys)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return 0;
    case SQLITE_CONSTRAINT: return EINVAL;
    case SQLITE_BUSY: return EBUSY;
    case SQLITE_LOCKED: return EDEADLK;
    case SQLITE_FULL: return ENOSPC;
    case SQLITE_READONLY: return EROFS;
    case SQLITE_CANTOPEN: return sys > 0 ? sys : ENOENT;
    case SQLITE_IOERR: return EIO;
    case SQLITE_NOMEM: return ENOMEM;
    default: return EPROTO;
    }
}

/*
** ptmSqlStepDetail: a statement event's detail, "<code name> changes=N"
** and " restarted" when restarted, into out (cap bytes, truncated,
** NUL-terminated).  (By hand: snprintf cost more than the rest of the
** event.)
*/
void ptmSqlStepDetail(char *out, size_t cap, int rc, long long changes, int restarted)
{
    char num[24], *d = num + sizeof num;
    unsigned long long v = changes < 0 ? 0ull - (unsigned long long)changes
                                       : (unsigned long long)changes;
    const char *parts[4];
    size_t n = 0, i, k;

    *--d = 0;
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (changes < 0)
        *--d = '-';
    parts[0] = ptmSqlRcName(rc);
    parts[1] = " changes=";
    parts[2] = d;
    parts[3] = restarted ? " restarted" : "";
    if (!cap)
        return;
    for (i = 0; i < 4; i++)
        for (k = 0; parts[i][k] && n + 1 < cap; k++)
            out[n++] = parts[i][k];
    out[n] = 0;
}

/* ------------------------------------------------------------------------
** SQL without its literals
*/

static int isIdentChar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c >= 0x80;
}

/* The end of the quoted token that starts at s (its quote repeated inside
** it is an escaped quote). */
static const char *quotedEnd(const char *s, char close)
{
    const char *p = s + 1;
    while (*p) {
        if (*p == close) {
            if (p[1] != close)
                return p + 1;
            p++;
        }
        p++;
    }
    return p;
}

/* The end of the number that starts at s: digits, a fraction, an exponent,
** or a hexadecimal integer. */
static const char *numberEnd(const char *s)
{
    const char *p = s;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        for (p += 2; isIdentChar((unsigned char)*p); p++)
            ;
        return p;
    }
    while ((*p >= '0' && *p <= '9') || *p == '.' || *p == '_')
        p++;
    if ((*p == 'e' || *p == 'E') &&
        ((p[1] >= '0' && p[1] <= '9') ||
         ((p[1] == '+' || p[1] == '-') && p[2] >= '0' && p[2] <= '9'))) {
        for (p += 2; *p >= '0' && *p <= '9'; p++)
            ;
    }
    return p;
}

/*
** ptmSqlNormalize: sql (n bytes, n < 0: to its NUL) with its literals --
** strings, numbers, blobs (x'..') -- each made "?", its comments and runs
** of white space made one space, trimmed; identifiers, quoted ones too,
** and parameters are kept.  OUT: out, NUL-terminated, cut at cap - 1
** bytes.  Returns the length written.
*/
size_t ptmSqlNormalize(const char *sql, int n, char *out, size_t cap)
{
    const char *p = sql, *end;
    size_t o = 0;
    int space = 0;

    if (!cap)
        return 0;
    end = n < 0 ? sql + strlen(sql) : sql + n;
#define PUT(c)                                                                                   \
    do {                                                                                         \
        if (o + 1 < cap)                                                                         \
            out[o++] = (c);                                                                      \
    } while (0)
    while (p < end && *p) {
        unsigned char c = (unsigned char)*p;
        const char *q;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
            (c == '-' && p + 1 < end && p[1] == '-') || (c == '/' && p + 1 < end && p[1] == '*')) {
            if (c == '-')
                while (p < end && *p && *p != '\n')
                    p++;
            else if (c == '/') {
                q = strstr(p + 2, "*/");
                p = q && q + 2 <= end ? q + 2 : end;
            } else
                p++;
            space = o > 0;
            continue;
        }
        if (space) {
            PUT(' ');
            space = 0;
        }
        if (c == '\'') {
            p = quotedEnd(p, '\'');
            PUT('?');
        } else if ((c == 'x' || c == 'X') && p + 1 < end && p[1] == '\'' &&
                   (p == sql || !isIdentChar((unsigned char)p[-1]))) {
            p = quotedEnd(p + 1, '\'');
            PUT('?');
        } else if ((c >= '0' && c <= '9') || (c == '.' && p + 1 < end && p[1] >= '0' && p[1] <= '9')) {
            if (p > sql && isIdentChar((unsigned char)p[-1])) {
                PUT((char)c); /* a digit inside a name, or of ?NNN */
                p++;
            } else {
                p = numberEnd(p);
                PUT('?');
            }
        } else if (c == '"' || c == '`' || c == '[') {
            q = c == '[' ? strchr(p, ']') : quotedEnd(p, (char)c);
            q = q ? (c == '[' ? q + 1 : q) : end;
            if (q > end)
                q = end;
            for (; p < q; p++)
                PUT(*p);
        } else if (c == '?' || c == ':' || c == '@' || c == '$' || isIdentChar(c)) {
            PUT((char)c);
            for (p++; p < end && isIdentChar((unsigned char)*p); p++)
                PUT(*p);
        } else {
            PUT((char)c);
            p++;
        }
    }
#undef PUT
    out[o] = 0;
    return o;
}

/* The statements' texts a thread normalized last, so that a transaction's
** statements, run again in every mirror, are normalized once. */
#define NORM_CACHE 8
#define NORM_MAX_SQL 480 /* a longer text is normalized every time */
static _Thread_local struct normEntry {
    char sql[NORM_MAX_SQL];
    char norm[PTM_TARGET_MAX];
    size_t len;                   /* of sql; 0: an empty slot */
} normCache[NORM_CACHE];          /* about 5 KiB of each thread's TLS */
static _Thread_local unsigned normNext;

/*
** ptmSqlNormalized: sql as ptmSqlNormalize gives it, into out
** (PTM_TARGET_MAX bytes), from the cache when this thread normalized the
** same text.
*/
void ptmSqlNormalized(const char *sql, char *out)
{
    size_t len = strlen(sql);
    struct normEntry *e;
    unsigned i;

    if (len > 0 && len < NORM_MAX_SQL) {
        for (i = 0; i < NORM_CACHE; i++)
            if (normCache[i].len == len && memcmp(normCache[i].sql, sql, len) == 0) {
                memcpy(out, normCache[i].norm, PTM_TARGET_MAX);
                return;
            }
        e = &normCache[normNext++ % NORM_CACHE];
        ptmSqlNormalize(sql, (int)len, e->norm, sizeof e->norm);
        memcpy(e->sql, sql, len);
        e->len = len;
        memcpy(out, e->norm, PTM_TARGET_MAX);
        return;
    }
    ptmSqlNormalize(sql, -1, out, PTM_TARGET_MAX);
}

/* ------------------------------------------------------------------------
** A mirror's COMMIT, checked instead of run
*/

/* wordAt: whether s starts with the keyword w (any case) as a whole word;
** OUT: *end, past it. */
static int wordAt(const char *s, const char *w, const char **end)
{
    size_t n = strlen(w), i;

    for (i = 0; i < n; i++)
        if (!s[i] || (s[i] | 0x20) != w[i])
            return 0;
    if (isIdentChar((unsigned char)s[n]))
        return 0;
    *end = s + n;
    return 1;
}

static const char *skipSpace(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    return s;
}

/* isCommitText: whether sql is exactly COMMIT or END, with an optional
** TRANSACTION and name, then white space or one ';'.  Anything else (a
** comment, RELEASE of the outermost savepoint) is not: such a commit
** runs for real, as before. */
static int isCommitText(const char *sql)
{
    const char *p = skipSpace(sql ? sql : "");

    if (!wordAt(p, "commit", &p) && !wordAt(p, "end", &p))
        return 0;
    p = skipSpace(p);
    if (wordAt(p, "transaction", &p)) {
        p = skipSpace(p);
        while (isIdentChar((unsigned char)*p))
            p++;
        p = skipSpace(p);
    }
    if (*p == ';')
        p = skipSpace(p + 1);
    return *p == 0;
}

/*
** ptmSqlCommitCheckable: whether a step of st, a statement of an overlay's
** connection db, may end the mirror's transaction as a check instead of a
** commit, as far as SQLite says: st is a COMMIT, the transaction is a write
** transaction that would commit without an error (no deferred foreign key
** left violated, no other statement of db running); the caller asks the
** overlay about locks (ptmSqlOverlayCommitFree).  Then the transaction stays open
** and ptmSqlOverlayEnd rolls it back: SQLite keeps the pages it read, where
** a commit into the overlay's memory would have cost writing the frames and
** a full re-read at the next mirror.  1 yes, 0 run the COMMIT for real.
*/
int ptmSqlCommitCheckable(sqlite3 *db, sqlite3_stmt *st)
{
    int fks = 0, hi = 0;
    sqlite3_stmt *other;

    if (!isCommitText(sqlite3_sql(st)) || sqlite3_txn_state(db, NULL) != SQLITE_TXN_WRITE)
        return 0;
    if (sqlite3_db_status(db, SQLITE_DBSTATUS_DEFERRED_FKS, &fks, &hi, 0) != SQLITE_OK || fks)
        return 0;
    for (other = sqlite3_next_stmt(db, NULL); other; other = sqlite3_next_stmt(db, other))
        if (other != st && sqlite3_stmt_busy(other))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------
** A host statement's bindings
*/

/* The end of the parameter token at p ("?", "?NNN", ":name", "@name",
** "$name"); p itself when none starts there. */
static const char *paramEnd(const char *p)
{
    const char *q = p + 1;
    if (*p == '?') {
        while (*q >= '0' && *q <= '9')
            q++;
        return q;
    }
    if (*p != ':' && *p != '@' && *p != '$')
        return p;
    while (isIdentChar((unsigned char)*q))
        q++;
    return q > p + 1 ? q : p;
}

/* The next parameter token of sql from p (strings, quoted names and
** comments skipped); NULL: none. */
static const char *nextParam(const char *p)
{
    while (*p) {
        if (*p == '\'' || *p == '"' || *p == '`')
            p = quotedEnd(p, *p);
        else if (*p == '[')
            p = strchr(p, ']') ? strchr(p, ']') + 1 : p + strlen(p);
        else if (p[0] == '-' && p[1] == '-')
            p = strchr(p, '\n') ? strchr(p, '\n') : p + strlen(p);
        else if (p[0] == '/' && p[1] == '*')
            p = strstr(p + 2, "*/") ? strstr(p + 2, "*/") + 2 : p + strlen(p);
        else if (isIdentChar((unsigned char)*p) && *p != '$')
            while (isIdentChar((unsigned char)*p) && *p != '$')
                p++;
        else if (paramEnd(p) != p)
            return p;
        else
            p++;
    }
    return NULL;
}

/* Binds to parameter i of st the literal sqlite3_expanded_sql wrote at
** *q (NULL, an integer, a real, 'text', x'blob', zeroblob(N)), evaluated on
** st's connection; *q moves past it.  SQLITE_OK, or an error when the text
** is no such literal. */
static int bindLiteral(sqlite3_stmt *st, int i, const char **q)
{
    const char *p = *q, *end;
    sqlite3_stmt *lit = NULL;
    char *sql;
    int rc;

    if (strncmp(p, "NULL", 4) == 0)
        end = p + 4;
    else if (*p == '\'')
        end = quotedEnd(p, '\'');
    else if ((p[0] == 'x' || p[0] == 'X') && p[1] == '\'')
        end = quotedEnd(p + 1, '\'');
    else if (strncmp(p, "zeroblob(", 9) == 0 && strchr(p, ')'))
        end = strchr(p, ')') + 1;
    else {
        end = p + (*p == '-');
        if (!((*end >= '0' && *end <= '9') || *end == '.'))
            return SQLITE_ERROR;
        end = numberEnd(end);
    }
    sql = sqlite3_mprintf("SELECT %.*s", (int)(end - p), p);
    if (!sql)
        return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(sqlite3_db_handle(st), sql, -1, &lit, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK && sqlite3_step(lit) == SQLITE_ROW)
        rc = sqlite3_bind_value(st, i, sqlite3_column_value(lit, 0));
    else if (rc == SQLITE_OK)
        rc = SQLITE_ERROR;
    sqlite3_finalize(lit);
    *q = end;
    return rc;
}

/*
** ptmSqlBindFromExpanded: gives twin, prepared from a host statement's sql,
** the host's bindings, read back from exp (its sqlite3_expanded_sql: sql
** with each parameter replaced by its value as a literal).  SQLITE_OK, or
** an error when the two texts do not line up.
*/
int ptmSqlBindFromExpanded(sqlite3_stmt *twin, const char *sql, const char *exp)
{
    const char *p = sql, *q = exp, *tok;
    int maxIdx = 0, i, rc;

    while ((tok = nextParam(p)) != NULL) {
        const char *tend = paramEnd(tok);
        char name[128];
        size_t n = (size_t)(tok - p);
        if (strncmp(p, q, n) != 0)
            return SQLITE_ERROR;
        q += n;
        if (tend - tok == 1 && *tok == '?') {
            i = ++maxIdx;
        } else {
            snprintf(name, sizeof name, "%.*s", (int)(tend - tok), tok);
            i = sqlite3_bind_parameter_index(twin, name);
            if (i <= 0)
                return SQLITE_ERROR;
            maxIdx = i > maxIdx ? i : maxIdx;
        }
        rc = bindLiteral(twin, i, &q);
        if (rc != SQLITE_OK)
            return rc;
        p = tend;
    }
    return strcmp(p, q) == 0 ? SQLITE_OK : SQLITE_ERROR;
}

/* ------------------------------------------------------------------------
** File names a mirror opens
*/

/*
** ptmSqlDirWritable: whether the directory of path exists and the process may create a file
** in it; errno says why not.
*/
int ptmSqlDirWritable(const char *path)
{
    char dir[PATH_MAX];
    char *slash;

    ptmCopyField(dir, sizeof dir, path);
    slash = strrchr(dir, '/');
    if (!slash)
        return ptmOs.access(".", W_OK | X_OK) == 0;
    slash[slash == dir] = 0; /* "/x.db": the root */
    return ptmOs.access(dir, W_OK | X_OK) == 0;
}

/*
** ptmSqlUriPath: the file a "file:" URI names (its authority, query and fragment cut,
** %XX decoded) in out, or "" for mode=memory; mode=ro adds
** SQLITE_OPEN_READONLY and takes SQLITE_OPEN_CREATE away from *flags.
*/
const char *ptmSqlUriPath(const char *uri, char *out, size_t cap, int *flags)
{
    const char *p = uri + 5, *q;
    size_t o = 0;

    if (p[0] == '/' && p[1] == '/') { /* an authority: "" or localhost */
        p += 2;
        p += strcspn(p, "/?#");
    }
    for (; *p && *p != '?' && *p != '#' && o + 1 < cap; p++) {
        unsigned v;
        if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            p += 2;
        } else
            out[o++] = *p;
    }
    out[o] = 0;
    q = strchr(uri, '?');
    if (q && strstr(q, "mode=ro")) {
        *flags |= SQLITE_OPEN_READONLY;
        *flags &= ~SQLITE_OPEN_CREATE;
    }
    if (q && strstr(q, "mode=memory"))
        out[0] = 0;
    return out;
}

/* ------------------------------------------------------------------------
** Statements kept prepared across mirrors: a mirror's statement on an
** overlay is parked here, reset and without its bindings, when the mirror
** finalizes it or ends, and the next prepare of the same text on the same
** overlay takes it back instead of compiling it again (a prepare costs
** microseconds; a transaction's mirror makes several).  The overlay
** connections live as long as their thread, and a statement whose schema
** changed is prepared again by SQLite itself on its next step.
*/

#define PARKED_SLOTS 32

struct parked {
    sqlite3_stmt *st;            /* NULL: a free slot */
    sqlite3 *db;
    unsigned flags;              /* its sqlite3_prepare_v3 flags */
    size_t len;                  /* the bytes of SQL text it was prepared from */
    uint64_t used;               /* when it was last parked, for eviction */
};

static _Thread_local struct parked parkedStmts[PARKED_SLOTS];
static _Thread_local uint64_t parkedClock;

/*
** ptmSqlForgetParked: forgets, without finalizing them, the statements of
** connection db parked on this thread (db is being abandoned: see
** ptmSqlOverlayAbandon).
*/
void ptmSqlForgetParked(sqlite3 *db)
{
    for (unsigned i = 0; i < PARKED_SLOTS; i++)
        if (parkedStmts[i].st && parkedStmts[i].db == db)
            parkedStmts[i].st = NULL;
}

/* Whether parked statement p was prepared from the first statement of
** sql (len bytes): its text is a prefix of sql that ends the statement,
** at a semicolon or at sql's end. */
static int parkedMatches(const struct parked *p, sqlite3 *db, const char *sql, size_t len,
                         unsigned flags)
{
    const char *text;

    if (!p->st || p->db != db || p->flags != flags || p->len > len)
        return 0;
    text = sqlite3_sql(p->st);
    return text && memcmp(text, sql, p->len) == 0 &&
           (p->len == len || (p->len > 0 && text[p->len - 1] == ';'));
}

/*
** ptmSqlPrepareParked: sqlite3_prepare_v3 of sql (n bytes, n < 0: to its
** NUL) on overlay connection db, from a parked statement when one matches.
** OUT: *out, *tail.  What sqlite3_prepare_v3 returns.
*/
int ptmSqlPrepareParked(sqlite3 *db, const char *sql, int n, unsigned flags,
                         sqlite3_stmt **out, const char **tail)
{
    size_t len = n < 0 ? strlen(sql) : strnlen(sql, (size_t)n);

    for (unsigned i = 0; i < PARKED_SLOTS; i++)
        if (parkedMatches(&parkedStmts[i], db, sql, len, flags)) {
            *out = parkedStmts[i].st;
            *tail = sql + parkedStmts[i].len;
            parkedStmts[i].st = NULL;
            return SQLITE_OK;
        }
    return sqlite3_prepare_v3(db, sql, n, flags, out, tail);
}

/*
** ptmSqlPark: parks st, a statement of the mirror on an overlay
** connection, prepared from text of len bytes with flags; the least
** recently parked one is finalized when every slot is taken.  Returns what
** sqlite3_reset says (what sqlite3_finalize would).
*/
int ptmSqlPark(sqlite3_stmt *st, size_t len, unsigned flags)
{
    struct parked *slot = &parkedStmts[0];
    int rc = sqlite3_reset(st);

    sqlite3_clear_bindings(st);
    for (unsigned i = 0; i < PARKED_SLOTS; i++) {
        if (!parkedStmts[i].st) {
            slot = &parkedStmts[i];
            break;
        }
        if (parkedStmts[i].used < slot->used)
            slot = &parkedStmts[i];
    }
    if (slot->st)
        sqlite3_finalize(slot->st);
    slot->st = st;
    slot->db = sqlite3_db_handle(st);
    slot->flags = flags;
    slot->len = len;
    slot->used = ++parkedClock;
    return rc;
}
