/*
** shims/sqlite_int.h - the SQLite family: the overlay VFS and the API shims.
**
** A mirror never runs SQL on the host's connections.  Each host connection
** it is handed maps to an overlay connection on the same database file,
** opened through PTM's own VFS ("ptm-overlay", sqlite_vfs.c): it reads the
** real files through private read-only descriptors, keeps every write in
** memory, and probes SQLite's locks (F_OFD_GETLK) instead of taking them.
** sqlite.c holds the API shims (ptm_shim_sqlite3_*), the map from host
** connections and statements to overlay ones, and the events.
**
** Both files are libptm_sqlite.a, apart from libptm: a program that calls
** no sqlite3_* function in a mirror links none of it, and so never needs
** libsqlite3.  The mirror core finds the family through a weak reference
** (families.c).  Only the shim layers include this header.
*/
#ifndef PTM_SQLITE_INT_H
#define PTM_SQLITE_INT_H

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "shims_int.h"

/* sqlite_mem.c ------------------------------------------------------------
** The overlay's files in memory, below sqlite_vfs.c.
*/
#define PTM_SQL_BLOCK 4096          /* the overlay's unit of memory */

struct ptmSqlKept;                  /* real bytes kept across mirrors */

/* One block of what the overlay wrote. */
struct ptmSqlBlock {
    sqlite3_int64 idx;              /* offset / BLOCK; -1: empty slot */
    unsigned char *data;
};

/* A file as the overlay sees it: an optional real base under a block map. */
struct ptmSqlMemFile {
    int fd;                         /* private read-only descriptor; -1: none */
    dev_t dev;
    ino_t ino;
    int dirty;                      /* written or truncated: size is ours */
    int exists;                     /* journals: exists in memory */
    int hidden;                     /* journals: deleted, the real one unseen */
    sqlite3_int64 size;             /* logical size when dirty */
    sqlite3_int64 base_limit;       /* real bytes at or past it read as zeros */
    const unsigned char *head;      /* the first bytes of the real file as
                                       Begin read them, served to reads within
                                       them until the file is written; NULL: none */
    size_t head_len;
    sqlite3_int64 fresh_from;       /* a block first written at or past it
                                       starts as zeros, not as the real bytes:
                                       the -wal past its committed frames */
    struct ptmSqlBlock *map;              /* open addressing, cap a power of two */
    size_t cap, used;
    struct ptmSqlKept *kept;         /* the database and its -wal: real bytes
                                       read by earlier mirrors (see keptGet) */
    sqlite3_int64 keep_below;       /* reads ending past it are not kept
                                       (0: none, in this mirror) */
};

/* ptmSqlPreadFull: up to n bytes at off from fd, retrying EINTR a few
** times and short reads; the count read (short at the end of the file),
** -1 on error. */
ssize_t ptmSqlPreadFull(int fd, void *buf, size_t n, off_t off);

/* ptmSqlMemInit: mf as a file of nothing written and no base (fd -1).
** ptmSqlMemDrop: forgets everything written (the file is its base again;
** the kept reads stay).  ptmSqlMemFree: that, and frees all mf holds. */
void ptmSqlMemInit(struct ptmSqlMemFile *mf);
void ptmSqlMemDrop(struct ptmSqlMemFile *mf);
void ptmSqlMemFree(struct ptmSqlMemFile *mf);

/* ptmSqlMemRead, ptmSqlMemWrite, ptmSqlMemTruncate, ptmSqlMemSize: the
** xRead, xWrite, xTruncate, xFileSize of an overlay file mf (OUT: *size):
** SQLITE_OK or an SQLite error code (a read past the end:
** SQLITE_IOERR_SHORT_READ, the rest zeros; memory past the bound:
** SQLITE_IOERR_NOMEM).  A read of the base while nothing is written is
** served from, or kept in, mf's kept reads below mf->keep_below. */
int ptmSqlMemRead(struct ptmSqlMemFile *mf, void *out, int amt, sqlite3_int64 off);
int ptmSqlMemWrite(struct ptmSqlMemFile *mf, const void *in, int amt, sqlite3_int64 off);
int ptmSqlMemTruncate(struct ptmSqlMemFile *mf, sqlite3_int64 size);
int ptmSqlMemSize(const struct ptmSqlMemFile *mf, sqlite3_int64 *size);

/* ptmSqlKeptFlush: forgets mf's kept reads (their buffers stay for reuse). */
void ptmSqlKeptFlush(struct ptmSqlMemFile *mf);

/* sqlite_vfs.c ------------------------------------------------------------
** The overlay: one per thread and database file, reused by every mirror of
** that thread, reset between them.
*/
struct ptmSqlOverlay;

/* What a mirror does when it finds a lock held that the real call would
** wait for or fail on. */
enum ptmSqlBusy {
    PTM_SQL_BUSY_GO_ON = 0,  /* pretend the lock was granted (the host waits:
                                 its busy timeout is set, or unknown) */
    PTM_SQL_BUSY_FAIL,       /* SQLITE_BUSY, as the host would (busy timeout 0) */
};

/* ptmSqlOverlayOpen: the overlay of this thread on the database file path
** (absolute, as sqlite3_db_filename gives it), opened on first use through
** the "ptm-overlay" VFS (registered then, never as the default) and cached;
** later calls return the cached one.  A file that does not exist is an
** empty database that exists only in memory.  OUT: *out.  SQLITE_OK or an
** SQLite error code (*out NULL); after SQLITE_CANTOPEN of a file that
** exists but cannot be opened, errno says why (sqlite_vfs.c's addition). */
int ptmSqlOverlayOpen(const char *path, struct ptmSqlOverlay **out);

/* ptmSqlOverlayDb: the overlay's connection. */
sqlite3 *ptmSqlOverlayDb(struct ptmSqlOverlay *o);

/* ptmSqlOverlayBegin: starts o's use by the running mirror: drops what an
** earlier mirror wrote and every cached page, refreshes the private copy of
** the WAL index from the real -shm, and records the database's version (the
** change counter; the WAL header and mxFrame).  A lock found held from now
** on is recorded as an event of call `call` (the running shim's, see
** ptmSqlOverlaySetCall) and handled as `busy` says.  Idempotent within one
** mirror.  SQLITE_OK or an SQLite error code. */
int ptmSqlOverlayBegin(struct ptmSqlOverlay *o, enum ptmSqlBusy busy);

/* ptmSqlOverlaySetCall: the shim call that is using o now (PTM_CALL_*):
** lock events name it. */
void ptmSqlOverlaySetCall(struct ptmSqlOverlay *o, unsigned call);

/* ptmSqlOverlayEnd: ends the running mirror's use of o: rolls back the
** overlay connection's open transaction, drops what it wrote.  Returns 1
** when the real database changed since ptmSqlOverlayBegin (what the mirror
** read may be stale: inconclusive), else 0. */
int ptmSqlOverlayEnd(struct ptmSqlOverlay *o);

/* ptmSqlOverlayAbandon: takes o off this thread's overlays without
** touching its connection (a mirror was stopped inside SQLite on it: it may
** be mid-statement) and without closing it: the stop is asynchronous (a
** signal, a fault), so finalizing its statement would run SQLite's halt
** over state left half-updated, in the host, and a close could wait for
** ever on a process-wide mutex the jump left held (docs/DESIGN.md, §3
** "SQLite"); the next ptmSqlOverlayOpen of its file opens a fresh one.  o
** and its connection leak. */
void ptmSqlOverlayAbandon(struct ptmSqlOverlay *o);

/* ptmSqlOverlaysAbandoned: how many overlays the process abandoned.  Past
** PTM_SQL_ABANDONED_MAX an inline mirror that would open or use an
** overlay bails to the fork executor (whose child's overlays die with it),
** so that the connections abandoned stay few: each one leaks. */
#define PTM_SQL_ABANDONED_MAX 8
unsigned ptmSqlOverlaysAbandoned(void);

/* ptmSqlOverlayCommitFree: whether the real COMMIT of o's open write
** transaction would take no lock beyond those the overlay was granted
** already: in WAL mode always (the write lock was probed when the
** transaction first wrote); in rollback mode when no other holder has the
** PENDING or a SHARED byte that its EXCLUSIVE lock needs.  Records no
** event: a lock found held leaves the COMMIT to run for real, whose own
** probe records it. */
int ptmSqlOverlayCommitFree(struct ptmSqlOverlay *o);

/* The memory every overlay file of one thread may hold (blocks the
** overlays wrote, their journals and temp files): past it a write fails
** with SQLITE_IOERR_NOMEM, which SQLite returns as SQLITE_NOMEM. */
#define PTM_SQL_OVERLAY_MAX_BYTES ((size_t)64 << 20)

/* ptmSqlOverlaySetLimit: sets that limit to bytes (0: the default), for
** every thread; returns the previous one.  For tests. */
size_t ptmSqlOverlaySetLimit(size_t bytes);

/* ptmSqlOverlayBytes: the overlay memory the calling thread holds now. */
size_t ptmSqlOverlayBytes(void);

/* sqlite_wal.c ------------------------------------------------------------
** The real -shm read through a read-only shared mapping, and the private
** copy of the WAL index brought up to date from it.
*/
#define PTM_SQL_SHM_REGION 32768    /* one region of the WAL index */
#define PTM_SQL_SHM_HDR 136         /* both WalIndexHdr copies and WalCkptInfo */
#define PTM_SQL_SHM_SEEN 100        /* both headers and nBackfill: what a copy
                                       is compared by */

/* A read-only MAP_SHARED mapping of a -shm. */
struct ptmSqlShmView {
    const unsigned char *base;      /* NULL: none */
    size_t len;
    dev_t dev;                      /* the file mapped */
    ino_t ino;
};

/* ptmSqlShmViewMap: v maps at least len bytes of fd (the file dev/ino),
** mapped again when it maps another file or fewer bytes.  0, or -1 (errno
** set; v maps nothing: the caller reads with pread).  ptmSqlShmViewUnmap:
** v maps nothing. */
int ptmSqlShmViewMap(struct ptmSqlShmView *v, int fd, dev_t dev, ino_t ino, size_t len);
void ptmSqlShmViewUnmap(struct ptmSqlShmView *v);

/* ptmSqlShmHeaderValid: whether h (the -shm's first 96 bytes or more)
** holds a WAL-index header as SQLite's readers accept it: its two copies
** equal, initialised, their checksum right. */
int ptmSqlShmHeaderValid(const unsigned char *h);

/* ptmSqlWalCommittedEnd: the offset in the -wal where the committed
** frames end, by h (a WAL-index header, PTM_SQL_SHM_HDR bytes); INT64_MAX
** when its two copies differ, it is not initialised, or its page size is
** not one (then every block of the -wal is read as it is). */
sqlite3_int64 ptmSqlWalCommittedEnd(const unsigned char *h);

/* What ptmSqlShmCopy did. */
enum ptmSqlShmCopied {
    PTM_SQL_SHM_NONE = 0,   /* nothing: no region, or v maps too little */
    PTM_SQL_SHM_SAME,       /* nothing: the header is last's */
    PTM_SQL_SHM_GROWN,      /* the header, the new frames' entries, their
                               regions' hash slots */
    PTM_SQL_SHM_WHOLE,      /* every region */
};

/* ptmSqlShmCopy: brings the private copy regions[0..n) (PTM_SQL_SHM_REGION
** bytes each) up to the real -shm mapped by v (at least n regions), of
** which the first size bytes exist (bytes past them read as zeros and are
** never touched in the mapping).  last: the first PTM_SQL_SHM_SEEN bytes
** of the header as last copied (NULL: none); intact: the copy holds what
** was copied then (SQLite wrote no more than read marks into it since).
** OUT: hdr, the header now (the copy's, when it was copied).  Must run
** inside a mirror: a file truncated under it faults (see sqlite_wal.c). */
enum ptmSqlShmCopied ptmSqlShmCopy(const struct ptmSqlShmView *v, off_t size, void *const *regions,
                                   int n, const unsigned char *last, int intact,
                                   unsigned char hdr[PTM_SQL_SHM_HDR]);

/* sqlite.c, sqlite_sql.c ---------------------------------------------------
** The API shims and their family; what they build on.
*/
extern const struct ptmShimFamily ptmSqliteFamily;

/* ptmSqlRcName: the name of result code rc, extended or primary
** ("SQLITE_CONSTRAINT_CHECK"); static; "SQLITE_?" when SQLite has none. */
const char *ptmSqlRcName(int rc);

/* ptmSqlRcErrno: the errno of rc's class for an event's err (0: OK, ROW,
** DONE); sys: sqlite3_system_errno, for SQLITE_CANTOPEN when > 0. */
int ptmSqlRcErrno(int rc, int sys);

/* ptmSqlNormalize: sql (n bytes; n < 0: to its NUL) with each literal made
** "?", comments and white space runs one space.  OUT: out (cap bytes,
** NUL-terminated).  Returns the length written. */
size_t ptmSqlNormalize(const char *sql, int n, char *out, size_t cap);

/* ptmSqlStepDetail: a statement event's detail, "SQLITE_DONE changes=1"
** (" restarted" appended when restarted), into out (cap bytes). */
void ptmSqlStepDetail(char *out, size_t cap, int rc, long long changes, int restarted);

/* ptmSqlNormalized: ptmSqlNormalize of sql (NUL-terminated) into out
** (PTM_TARGET_MAX bytes), from a per-thread cache of recent texts. */
void ptmSqlNormalized(const char *sql, char *out);

/* ptmSqlCommitCheckable: whether a step of st on an overlay's connection
** db may end the mirror's transaction as a check, not a commit, as far as
** SQLite's state goes (see sqlite_sql.c; locks: ptmSqlOverlayCommitFree).
** 1 yes, 0 run it for real. */
int ptmSqlCommitCheckable(sqlite3 *db, sqlite3_stmt *st);

/* ptmSqlDirWritable: whether path's directory exists and the process may
** create a file in it (errno says why not).  ptmSqlUriPath: the file a
** "file:" URI names, into out (cap bytes; "" for mode=memory); mode=ro
** adds SQLITE_OPEN_READONLY to *flags and takes SQLITE_OPEN_CREATE away. */
int ptmSqlDirWritable(const char *path);
const char *ptmSqlUriPath(const char *uri, char *out, size_t cap, int *flags);

/* sqlite_sql.c: below sqlite.c, with ptmSqlRcName, ptmSqlRcErrno and
** ptmSqlNormalize above. */

/* ptmSqlBusyTimeoutOf: the busy timeout ptm_note_sqlite3_busy_timeout
** recorded for host connection db; -1: none.  in_child: a fork child, which
** only tries the table's lock. */
int ptmSqlBusyTimeoutOf(sqlite3 *db, int in_child);

/* ptmSqlBusyClaim: db's busy timeout (OUT: *ms), claimed for a primary's
** wait: a token, 0 when db's timeout is not PTM's to change (unknown, 0, a
** handler of the host's own, another primary's wait on it).
** ptmSqlBusyGiveBack: sqlite3_busy_timeout(db, ms) when token is still on
** db (the host neither set its own since nor closed it). */
uint64_t ptmSqlBusyClaim(sqlite3 *db, int *ms);
void ptmSqlBusyGiveBack(sqlite3 *db, uint64_t token, int ms);

/* sqlite_busy.c: the family's primary_apply and primary_restore (struct
** ptmShimFamily): the primary's busy wait on the host connections the
** mirror used, and the host's own set back after. */
void *ptmSqlPrimaryApply(const struct ptmRing *ring, uint64_t timeout_us);
void ptmSqlPrimaryRestore(void *saved);

/* sqlite_fds.c: the private read-only descriptors of the overlays and of
** the busy wait, in a process-wide table (closing any descriptor of a file
** drops every POSIX lock the process holds on it).
** ptmSqlPrivateFd: the descriptor of the file at path, opened on first
** use; OUT: *st (its identity); -1 (errno set; ENOENT: no such file).
** ptmSqlPinSet: pins the entries of the descriptors now[] (-1: none),
** releases those of was[], closes what that leaves unpinned and may be
** closed (not at its path, no other descriptor of the process open on it);
** was[] becomes now[].  (A child of the host's fork() gets the table's
** lock anew: a pthread_atfork handler registered before main.) */
#define PTM_SQL_PINS 4
int ptmSqlPrivateFd(const char *path, struct stat *st);
void ptmSqlPinSet(int was[PTM_SQL_PINS], const int now[PTM_SQL_PINS]);

/* The connection state a mirror's getters read (shims/sqlite.c; the
** getters are in sqlite_get.c).  ptmSqlStateDb: the connection to read
** for db in mirror m: the overlay's once the mirror ran a statement on
** it; before that the host's own (a read) or, for one the mirror opened,
** a fresh one's.  ptmSqlStateAutocommit: db's autocommit flag in m (1
** after a COMMIT the mirror's check kept open).  ptmSqlStateTotalChanges:
** the host's total_changes when mapped plus what m's statements changed
** on the overlay since. */
sqlite3 *ptmSqlStateDb(struct ptmMirror *m, sqlite3 *db);
int ptmSqlStateAutocommit(struct ptmMirror *m, sqlite3 *db);
sqlite3_int64 ptmSqlStateTotalChanges(struct ptmMirror *m, sqlite3 *db);

/* ptmSqlWalLockFd: a private read-only descriptor (pinned, see
** sqlite_vfs.c) of the -shm of the database at path, -1 when it has none
** (not in WAL mode).  ptmSqlWalWriteHeld: whether another holder has the
** WAL write lock of that -shm (a probe, no lock taken). */
int ptmSqlWalLockFd(const char *path);
int ptmSqlWalWriteHeld(int fd);
/* ptmSqlWalLockPut: the busy wait is done with fd (ptmSqlWalLockFd's). */
void ptmSqlWalLockPut(int fd);
/* ptmSqlPrivateFds: the private descriptors open now (for tests). */
size_t ptmSqlPrivateFds(void);

/* ptmSqlBindFromExpanded: binds to twin (prepared from a host statement's
** sql) the host's values, read back from exp, its sqlite3_expanded_sql.
** SQLITE_OK, or an error when the texts do not line up. */
int ptmSqlBindFromExpanded(sqlite3_stmt *twin, const char *sql, const char *exp);

/* ptmSqlHandOut (shims/sqlite.c): records p, a string of sqlite3_malloc,
** as handed to mirror m, so that ptm_shim_sqlite3_free frees it.  Returns
** p.  ptmSqlTakeBack: forgets p, handed to the mirror whose SQLite state is
** s; 1 when it was handed out, else 0. */
struct ptmMirror;
struct ptmSqlMirror;
void *ptmSqlHandOut(struct ptmMirror *m, void *p);
int ptmSqlTakeBack(struct ptmSqlMirror *s, void *p);

/* ptmSqlPrepareParked: sqlite3_prepare_v3 on an overlay connection, from a
** statement parked by ptmSqlPark when one was prepared from the same text.
** OUT: *out, *tail. */
int ptmSqlPrepareParked(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **out,
                        const char **tail);

/* ptmSqlForgetParked: forgets the statements of db parked on this thread,
** unfinalized (db is abandoned). */
void ptmSqlForgetParked(sqlite3 *db);

/* ptmSqlPark: keeps st (reset, bindings cleared) for this thread's next
** ptmSqlPrepareParked of its text (len bytes, flags).  What sqlite3_reset
** returns. */
int ptmSqlPark(sqlite3_stmt *st, size_t len, unsigned flags);

#endif
