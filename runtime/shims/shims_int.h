/*
** shims/shims_int.h - what the shim families share, and no one else.
**
** The shim families (file.c, stdio*.c, net.c, time.c, lock.c, ...) build
** on the simulated world of sim*.c.  Their state in a mirror lies in the
** mirror's opaque bytes (struct ptmMirror.shims, as struct ptmShimState);
** the mirror core sees a family only through its struct ptmShimFamily
** (families.c).  The engine (tx.c, pam.c, trace.c) and the executors do
** not include this header: tests/docs/check_layers.py checks it.
*/
#ifndef PTM_SHIMS_INT_H
#define PTM_SHIMS_INT_H

#include "ptm_int.h"

struct ptmSimFile;   /* sim.c: a descriptor the mirror holds */
struct ptmOvFile;    /* sim_overlay.c: a file's content as the mirror sees it */
struct ptmNsEntry;   /* sim_path.c: a path the mirror created, removed or renamed */
struct ptmFsUse;     /* sim_overlay.c: bytes the mirror added to a filesystem */
struct ptmSimStream; /* stdio_stream.c: a FILE the mirror used */
struct ptmSimLock;   /* lock.c: a lock the mirror holds or pretends to */
struct ptmSimSocketIo;
struct ptmSqlMirror;  /* sqlite.c: the connections, statements and strings of a mirror */

/* families.c --------------------------------------------------------------
** Each family's state in a mirror, and its entry of ptmShimFamilies.
*/
/* The simulated world of sim*.c in one mirror. */
struct ptmSimWorld {
    struct ptmSimFile *files;     /* simulated descriptors */
    struct ptmOvFile *ovs;        /* content overlay: what the mirror wrote */
    struct ptmNsEntry *ns;        /* namespace overlay: created, removed, renamed */
    struct ptmFsUse *fsuse;       /* bytes charged per filesystem (free space) */
    size_t ov_bytes;              /* overlay memory in use */
    char *cwd;                    /* the working directory, read once; NULL: not yet */
    const struct ptmSimSocketIo *sockets; /* net.c's socket I/O (ptmNetFamily) */
};

/* What struct ptmMirror.shims holds: zeroed when the mirror starts. */
struct ptmShimState {
    struct ptmSimWorld sim;       /* sim*.c */
    struct ptmSimStream *streams; /* stdio*.c: FILEs the mirror opened or used */
    struct ptmSimLock *locks;     /* lock.c: pthread locks taken, or pretended */
    struct ptmSqlMirror *sqlite;  /* sqlite.c (libptm_sqlite.a); NULL: not used */
};
_Static_assert(sizeof(struct ptmShimState) <= PTM_MIRROR_SHIM_BYTES,
               "struct ptmMirror.shims cannot hold struct ptmShimState");

/* ptmShimStateOf: the families' state in mirror m. */
static inline struct ptmShimState *ptmShimStateOf(struct ptmMirror *m)
{
    return (struct ptmShimState *)(void *)m->shims;
}

/* ptmSimWorldOf: the simulated world of mirror m. */
static inline struct ptmSimWorld *ptmSimWorldOf(struct ptmMirror *m)
{
    return &ptmShimStateOf(m)->sim;
}

/* The families' entries of ptmShimFamilies: each releases its own state. */
extern const struct ptmShimFamily ptmLockFamily;  /* lock.c: unlocks, forgets */
extern const struct ptmShimFamily ptmStdioFamily; /* stdio.c: closes the mirror's FILEs */
extern const struct ptmShimFamily ptmSimFamily;   /* sim.c: descriptors, overlays */
extern const struct ptmShimFamily ptmNetFamily;   /* net.c: its socket I/O, at enter */
/* sqlite.c's ptmSqliteFamily is in libptm_sqlite.a, which a program links
** only when it calls SQLite in a mirror: families.c alone refers to it,
** weakly, so that libptm.a never pulls libsqlite3 (sqlite_int.h). */

/* shims/sim*.c ----------------------------------------------------------
** sim_probe.c, sim_locks.c, sim_path.c, sim_overlay.c, sim.c, sim_ns.c (in that order
** from the bottom).  The simulated world of a mirror, shared by the shim families (file.c,
** stdio.c, net.c): the descriptors it holds, what it wrote (a content
** overlay per file), what it created, removed or renamed (a namespace
** overlay), and the bytes it added per filesystem.  Nothing here writes to
** the real system: it is only probed, with read-only calls through ptmOs,
** each retried on EINTR.
*/
enum ptmSimKind {
    PTM_SIM_READONLY = 1,  /* a real read-only descriptor the mirror opened */
    PTM_SIM_WRITE,         /* a simulated open; fd is harmless (the real file
                           ** read-only, or /dev/null) and the entry is the truth */
    PTM_SIM_BORROWED,      /* the host's descriptor: never moved, written or closed */
    PTM_SIM_SOCKET         /* a socket the mirror made: real, never connected */
};

/* A socket's simulated state (shims/net.c). */
struct ptmSimSock {
    int domain, type, proto;      /* type without SOCK_NONBLOCK / SOCK_CLOEXEC */
    int connected;                /* connect() succeeded in the mirror, or the host's is */
    int shut_rd, shut_wr;         /* shutdown() in the mirror */
    struct sockaddr_storage peer; /* where it is connected */
    socklen_t peer_len;
    size_t rx_off;                /* bytes of the recorded response already received */
    int waited;                   /* its recorded latency is on the virtual clock */
    int timed_out;                /* a receive replayed the peer's recorded timeout */
    uint32_t note_flags;          /* PTM_EVF_* for the next receive's event ... */
    char note[PTM_DETAIL_MAX];    /* ... and its detail (ptmShimNoteRecv) */
};

struct ptmSimFile {
    struct ptmSimFile *next;
    struct ptmMirror *mirror;     /* the list this entry is on */
    enum ptmSimKind kind;
    int fd;                       /* what the mirror holds; -1 once closed under a FILE */
    int flags;                    /* open flags as the mirror sees them */
    int closed;                   /* closed by the mirror (a host fd: in simulation) */
    mode_t type;                  /* S_IFREG, S_IFIFO, ... of what fd refers to; 0: unknown */
    int real_offset;              /* the offset is fd's own (a description the mirror owns) */
    int owns_fd;                  /* borrowed, but fd is the mirror's dup of the host's */
    dev_t dev;                    /* regular files: which file */
    ino_t ino;
    dev_t rdev;                   /* character devices: which device (0: not known) */
    off_t offset;                 /* the mirror's offset, unless real_offset */
    int offset_pending;           /* borrowed: offset is the host's, not read yet
                                  ** (lseek on first need: an O_APPEND write has none) */
    struct stat st;               /* borrowed regular file: its fstat at first use */
    struct ptmOvFile *ov;         /* the content once bound; NULL: the real file's */
    struct ptmSimSock *sock;      /* sockets: their state, or NULL */
    int unrecorded;               /* a read gave data it invented (ptmNetRecv, a pipe's
                                  ** simulated EOF), not yet marked on an event */
    unsigned streams;             /* FILEs the mirror made on this entry (stdio.c) */
    char *path;                   /* as the mirror named it; NULL when not known */
    char *abs_path;               /* absolute and normalised, when it was computed */
};

/* Read-only probes of the real system: 0 or an errno, EINTR retried. */
int ptmProbeStat(const char *path, struct stat *st);
int ptmProbeLstat(const char *path, struct stat *st);
int ptmProbeFstat(int fd, struct stat *st);
int ptmProbeAccess(const char *path, int mode);
/* ptmProbeGetfl: fcntl(F_GETFL).  OUT: *flags.  EBADF: fd is not open. */
int ptmProbeGetfl(int fd, int *flags);

/* ptmShimOpenCheck: would open(path, flags) with write intent succeed on
** the real system?  Read-only calls only.  Returns 0 or the errno the real
** call would set. */
int ptmShimOpenCheck(const char *path, int flags);
/* ptmSimOpen: open(path, flags, mode) relative to dirfd for mirror m: a
** real read-only descriptor for a read-only open of a real file, else a
** simulated one, after the feasibility checks and through the namespace
** overlay.  OUT: *out, the new entry on m->files.  Returns 0 or the errno of
** the (predicted) failure, with nothing opened. */
int ptmSimOpen(struct ptmMirror *m, int dirfd, const char *path, int flags, mode_t mode,
               struct ptmSimFile **out);
/* ptmSimAdd: a new entry of m for fd, a descriptor the mirror made (a
** socket): kind, open flags and file type.  NULL when out of memory (fd is
** not closed). */
struct ptmSimFile *ptmSimAdd(struct ptmMirror *m, enum ptmSimKind kind, int fd, int flags,
                             mode_t type);
/* ptmSimFind: the entry of m for descriptor fd, or NULL. */
struct ptmSimFile *ptmSimFind(struct ptmMirror *m, int fd);
/* ptmSimEntry: the entry of m for fd, borrowing a host descriptor on first
** use.  OUT: *out.  Returns 0, EBADF (not open, or closed by the mirror) or
** ENOMEM. */
int ptmSimEntry(struct ptmMirror *m, int fd, struct ptmSimFile **out);
/* ptmSimWrite / ptmSimPwrite: write(2) / pwrite(2) of buf[0..n) on f,
** simulated: EBADF, EFBIG (RLIMIT_FSIZE), ENOSPC (against the bytes the
** mirror added to the filesystem), EAGAIN (a full non-blocking pipe), and
** sockets through net.c; the bytes go to the overlay.  Return the count the
** real call would (short at RLIMIT_FSIZE), or -1 with *err set. */
ssize_t ptmSimWrite(struct ptmSimFile *f, const void *buf, size_t n, int *err);
ssize_t ptmSimPwrite(struct ptmSimFile *f, const void *buf, size_t n, off_t off, int *err);
/* ptmSimRead / ptmSimPread: read(2) / pread(2) on f: the real bytes merged
** with what the mirror wrote; never consumes data the host could read (a
** pipe, a terminal, a socket: simulated).  Return the count or -1 with *err. */
ssize_t ptmSimRead(struct ptmSimFile *f, void *buf, size_t n, int *err);
ssize_t ptmSimPread(struct ptmSimFile *f, void *buf, size_t n, off_t off, int *err);
/* ptmSimSeek: lseek(2) on f's private offset.  The new offset or -1, *err. */
off_t ptmSimSeek(struct ptmSimFile *f, off_t off, int whence, int *err);
/* ptmSimTruncate: ftruncate(2) on f in the overlay.  0 or an errno. */
int ptmSimTruncate(struct ptmSimFile *f, off_t len);
/* ptmSimSync: fsync(2)/fdatasync(2) on f: checked only.  0 or an errno. */
int ptmSimSync(struct ptmSimFile *f);
/* ptmSimFstat: fstat(2) of f as the mirror sees it (size from the overlay).
** OUT: *st.  0 or an errno. */
int ptmSimFstat(struct ptmSimFile *f, struct stat *st);
/* ptmSimSize: f's size as the mirror sees it; -1 when it has none. */
off_t ptmSimSize(struct ptmSimFile *f);
/* ptmSimOffset: f's offset as the mirror sees it (a host descriptor's
** starts at the host's, read on first need without moving it). */
off_t ptmSimOffset(struct ptmSimFile *f);
/* The free space statvfs reported for a filesystem is kept this long for
** the process's mirrors, and serves only writes that fit with this many
** bytes to spare (sim_overlay.c, ptmSpaceCheck). */
#define PTM_SIM_VFS_TTL_NS (10u * 1000u * 1000u)  /* 10 ms */
#define PTM_SIM_VFS_MARGIN ((uint64_t)64 << 20)   /* 64 MiB */
/* ptmSimClose: the mirror's close(f->fd): the mirror's own descriptor is
** closed for real (without dropping the host's fcntl locks), a host one only
** in simulation.  f is freed unless a FILE still uses it.  0 or an errno. */
int ptmSimClose(struct ptmSimFile *f);
/* ptmSimRemove: unlinks f from its mirror's list, closes the descriptor when
** the mirror owns it, and frees f. */
void ptmSimRemove(struct ptmSimFile *f);
/* ptmSimCloseFd: closes fd, a descriptor the mirror owns, unless this
** process holds fcntl (process-associated) locks on its file -- POSIX drops
** them all at the close of any descriptor on the file: then fd is parked and
** closed at a later ptmSimCloseFd or ptmMirrorLeave once the locks are gone. */
void ptmSimCloseFd(struct ptmMirror *m, int fd);

/* The namespace as the mirror sees it.  Each returns 0 or the errno the
** real call would set, and records a change in the namespace overlay. */
int ptmSimStat(struct ptmMirror *m, int dirfd, const char *path, int follow,
               struct stat *st);
int ptmSimAccess(struct ptmMirror *m, const char *path, int mode);
int ptmSimUnlink(struct ptmMirror *m, const char *path);
int ptmSimRename(struct ptmMirror *m, const char *from, const char *to);
int ptmSimMkdir(struct ptmMirror *m, const char *path, mode_t mode);
int ptmSimRmdir(struct ptmMirror *m, const char *path);

/* The file lock probe of shims/file.c: would fcntl(f->fd, F_SETLK-class, fl)
** (ofd: an F_OFD_ command) conflict with a lock someone else holds?  OUT:
** *holder, the pid of a conflicting lock (-1: an OFD lock).  0 or EAGAIN. */
int ptmSimLockProbe(struct ptmSimFile *f, const struct flock *fl, int ofd, pid_t *holder);

/* ptmSimIsSocket: whether f refers to a socket (a host socket in a fork
** child, replaced by /dev/null there, counts as unknown: 0). */
int ptmSimIsSocket(struct ptmSimFile *f);
/* How a socket entry is written and read: shims/net.c's, which its
** family's enter puts in each mirror's world (ptmNetFamily), so that sim.c
** hands sockets on without calling net.c by name.  Same contracts as
** ptmNetSend and ptmNetRecv. */
struct ptmSimSocketIo {
    ssize_t (*send)(struct ptmSimFile *f, size_t n, int flags, const struct sockaddr *to,
                    socklen_t tolen, int *err, char *detail, size_t cap);
    ssize_t (*recv)(struct ptmSimFile *f, void *buf, size_t n, int flags,
                    struct sockaddr *from, socklen_t *fromlen, int *err);
};



/* shims/stdio*.c --------------------------------------------------------
** stdio_stream.c, stdio_read.c, stdio.c (from the bottom).
*/
/* A FILE the mirror used. */
struct ptmSimStream {
    struct ptmSimStream *next;
    FILE *fp;                     /* the FILE the program holds */
    struct ptmSimFile *f;         /* the descriptor under it; NULL: none (fmemopen) */
    int made;                     /* the mirror made fp: fclose it at the end */
    int simio;                    /* operations are simulated (a host FILE, or freopen'd) */
    int detached;                 /* made, then freopen'd: its cookie is inert */
    int closed;                   /* fclose'd by the mirror (in simulation) */
    off_t pos;                    /* simio, regular file: the position in the mirror's view */
    off_t rpos;                   /* the shadow's source position */
    FILE *shadow;                 /* simio: the private reading stream */
    int eof, error;               /* simio: the indicators in the mirror's view, beyond
                                     the shadow's own (the host's at first, a failed
                                     write's error) */
    unsigned char *pending;       /* simio, not seekable: bytes the host FILE had read ahead */
    size_t npending, ipending;
};

/* Between the files of the stdio family: each function's contract is the
** comment above its definition. */
/* stdio_stream.c */
void ptmStdioShadowDone(struct ptmSimStream *s);
int ptmStdioErrnoOr(int fallback);
struct ptmSimStream *ptmStdioStreamFind(struct ptmMirror *m, FILE *fp);
FILE *ptmStdioShadowOf(struct ptmSimStream *s);
int ptmStdioStreamFor(struct ptmMirror *m, FILE *fp, struct ptmSimStream **out);
void ptmStdioStreamTarget(struct ptmMirror *m, FILE *stream, char *dst, size_t cap);
int ptmStdioRegular(const struct ptmSimStream *s);
int ptmStdioSimioWrite(struct ptmSimStream *s, const void *buf, size_t n);
void ptmStdioReleaseEntry(struct ptmSimStream *s);
int ptmStdioSimWriteAll(struct ptmSimFile *f, const void *buf, size_t n);
int ptmStdioModeFlags(const char *mode, int *flags);
void ptmStdioStreamFree(struct ptmMirror *m, struct ptmSimStream *s);
FILE *ptmStdioMakeStream(struct ptmMirror *m, struct ptmSimFile *f, const char *mode, int *err);
/* stdio_read.c */
void ptmStdioClearView(struct ptmSimStream *s);
char *ptmStdioMirrorFgets(struct ptmMirror *m, enum ptmCall call, char *line, int n,
                          FILE *stream);
size_t ptmStdioMirrorFread(struct ptmMirror *m, enum ptmCall call, void *buf, size_t size,
                           size_t n, FILE *stream);
int ptmStdioMirrorGetc(struct ptmMirror *m, enum ptmCall call, FILE *stream);
FILE *ptmStdioReadStream(struct ptmMirror *m, FILE *stream, struct ptmSimStream **s, int *err);

/* shims/net.c ------------------------------------------------------------
** Sockets in a mirror send nothing.  A receive returns what the primary
** received from the same endpoint before (the table below), else would-block
** or an empty read.
*/
/* ptmNetRecordResponse: remembers data (the first PTM_NET_RESPONSE_MAX
** bytes) as the latest response received from the endpoint peer, which
** took latency_ns from request to response (0: unknown).  For the engine's
** primary path: call it after each successful receive of a primary from a
** connected peer.  Process-wide, thread-safe, bounded (PTM_NET_ENDPOINTS
** endpoints, the least recently recorded evicted).  PTM_OK, or PTM_EINVAL
** for a NULL or unsupported address. */
#define PTM_NET_ENDPOINTS 32
#define PTM_NET_RESPONSE_MAX 4096
enum ptmRc ptmNetRecordResponse(const struct sockaddr *peer, socklen_t len, const void *data,
                                size_t n, uint64_t latency_ns);
/* A peer's slow spell (shims/net_peers.c): the last blocking receive of a
** primary from it ran out of time, and no primary has received from it
** since.  Mirrors that consult the peer (calls of the spell) replay the
** timeout until the call probe_at, and as long as the replays left would
** have waited; that call is half-open: it replays the peer's last answer,
** so that the primary probes it.  probe_at is learnt from the peer's past
** spells. */
#define PTM_NET_HALF_OPEN_FIRST 4      /* replays before the probe, no spell learnt yet */
#define PTM_NET_HALF_OPEN_MAX 256      /* replays between two probes, at most */
#define PTM_NET_HALF_OPEN_MAX_MS 60000 /* the time bound, at most */
#define PTM_NET_SPELLS 4               /* spells remembered per peer */
struct ptmNetTimeout {
    uint64_t wait_ns;             /* how long the last receive waited; 0: no spell */
    uint64_t at_ns;               /* ptmOsNowNs when it was recorded */
    unsigned calls;               /* mirrors that consulted the peer in this spell */
    unsigned probe_at;            /* the call that probes (half-open) */
    unsigned rec_calls;           /* calls when the last timeout was recorded */
    unsigned probed_at;           /* the call that probed since then; 0: none */
    unsigned lo;                  /* the last call known to have timed out; 0: none */
    int err;                      /* the receive's errno (EAGAIN) */
};
/* ptmNetRecordTimeout: a primary's blocking receive from peer (or its wait
** for the peer's data) waited waited_ns and failed with err at now_ns.
** PTM_OK or PTM_EINVAL. */
enum ptmRc ptmNetRecordTimeout(const struct sockaddr *peer, socklen_t len, uint64_t waited_ns,
                               int err, uint64_t now_ns);
/* ptmNetTimeoutOpen: whether the next call of t's spell at now_ns replays
** the timeout (else: half-open). */
int ptmNetTimeoutOpen(const struct ptmNetTimeout *t, uint64_t now_ns);
/* What a mirror's first receive from a peer replays (ptmNetConsult). */
enum ptmNetReplay { PTM_NET_REPLAY_NOTHING, PTM_NET_REPLAY_ANSWER, PTM_NET_REPLAY_TIMEOUT };
struct ptmNetPeerView {
    enum ptmNetReplay replay;
    int half_open;                /* a timeout was recorded; this mirror probes past it */
    uint64_t wait_ns;             /* the answer's latency, or the timeout's wait */
    int err;                      /* TIMEOUT: the errno to replay */
    uint64_t age_ns;              /* since the timeout was recorded (0: none) */
    unsigned replays, open_for;   /* during a spell: this call's number, and the
                                     calls that replay before the probe */
};
/* ptmNetConsult: what a mirror's first blocking receive from peer replays
** at now_ns; counts a replayed timeout.  OUT: *out. */
void ptmNetConsult(const struct sockaddr *peer, socklen_t len, uint64_t now_ns,
                   struct ptmNetPeerView *out);
/* ptmNetForget: empties the endpoint table. */
void ptmNetForget(void);
/* ptmNetLookup: up to n bytes from offset off of the response recorded
** for peer.  OUT: buf, *total, *latency.  The count, or -1 for none. */
ssize_t ptmNetLookup(const struct sockaddr *peer, socklen_t len, size_t off, void *buf, size_t n,
                     size_t *total, uint64_t *latency);
/* ptmNetSend: send(2)/sendto(2) of n bytes on socket entry f, simulated.
** to: the destination of a sendto, or NULL.  OUT: *err, detail (a note for
** the event, cap bytes).  Returns n, or -1 with *err set. */
ssize_t ptmNetSend(struct ptmSimFile *f, size_t n, int flags, const struct sockaddr *to,
                   socklen_t tolen, int *err, char *detail, size_t cap);
/* ptmNetRecv: recv(2)/recvfrom(2) on socket entry f: a recorded timeout
** (-1, its errno, after its wait on the virtual clock), a recorded
** response, else EAGAIN (non-blocking) or 0, and f->unrecorded set; a note
** for the event in f->sock: the caller marks its event with
** ptmShimNoteRecv.  from/fromlen as recvfrom's (may be NULL).  Returns the
** count, or -1 with *err set. */
ssize_t ptmNetRecv(struct ptmSimFile *f, void *buf, size_t n, int flags,
                   struct sockaddr *from, socklen_t *fromlen, int *err);

/* The simulated world's own structures (sim*.c). */
/* A byte range the mirror wrote: data[0..len) is the file at off. */
struct ptmOvExtent {
    struct ptmOvExtent *next;     /* sorted by off, disjoint */
    off_t off;
    size_t len, cap;
    unsigned char *data;
};

/* One file's content as the mirror sees it. */
struct ptmOvFile {
    struct ptmOvFile *next;       /* on the world's ovs */
    dev_t dev;                    /* the real file; ino 0: made by the mirror */
    ino_t ino;
    dev_t fs;                     /* the filesystem charged for its growth */
    char *real_path;              /* where its real bytes can be opened; NULL: unknown
                                  ** (or not asked yet: see link_fd, ptmOvRealPath) */
    int link_fd;                  /* a host descriptor on it whose /proc/self/fd link
                                  ** names it, read on first need; -1 */
    char *vfs_path;               /* where free space is measured; NULL: vfs_fd */
    int vfs_fd;                   /* a host descriptor for fstatvfs, not owned; -1 */
    int real_fd;                  /* own read-only descriptor on the real file; -1 */
    int real_stale;               /* real_fd turned out to be on another file: unused */
    int host_fd;                  /* a readable host descriptor on it, not owned; -1 */
    off_t size;                   /* its size in the mirror's view */
    off_t real_len;               /* [0, real_len) not overwritten: the real bytes */
    mode_t mode;                  /* made by the mirror: permission bits */
    uid_t uid;
    gid_t gid;
    struct timespec mtime;        /* when the mirror made or last wrote it; 0: never */
    struct ptmOvExtent *ext;
    int lost;                     /* written bytes beyond OV_CAP_BYTES were dropped */
};

enum ptmNsState { PTM_NS_GONE = 1, PTM_NS_FILE, PTM_NS_DIR };

/* A path the mirror created, removed or renamed. */
struct ptmNsEntry {
    struct ptmNsEntry *next;
    char *path;                   /* absolute, normalised */
    enum ptmNsState state;
    struct ptmOvFile *ov;         /* PTM_NS_FILE: its content (on the world's ovs) */
    mode_t mode;                  /* PTM_NS_DIR made by the mirror: permission bits */
    char *alias;                  /* PTM_NS_DIR renamed from a real directory: its real path */
};

/* Bytes the mirror added to one filesystem. */
struct ptmFsUse {
    struct ptmFsUse *next;
    dev_t dev;
    int64_t bytes;
};

/* A path as the mirror sees it. */
enum ptmSimViewKind {
    PTM_VIEW_REAL = 1, PTM_VIEW_GONE, PTM_VIEW_FILE, PTM_VIEW_DIR, PTM_VIEW_NOTDIR
};
struct ptmSimView {
    enum ptmSimViewKind kind;
    const char *real;             /* PTM_VIEW_REAL: the real path to probe;
                                  ** PTM_VIEW_DIR: its alias */
    struct ptmNsEntry *e;         /* PTM_VIEW_FILE, PTM_VIEW_DIR */
    char *abs;                    /* the absolute path when computed; owned */
    char *buf;                    /* storage behind real; owned */
};

/* Between the files of the simulated world: each function's contract is
** the comment above its definition. */
/* sim_probe.c */
int ptmProbeStatvfs(const char *path, struct statvfs *st);
int ptmProbeFstatvfs(int fd, struct statvfs *st);
int ptmProbeOpen(const char *path, int flags, mode_t mode, int *fd);
int ptmProbeOpenQuiet(const char *path, int flags, mode_t mode, int *fd);
int ptmProbeDevNull(int flags, int *fd);
ssize_t ptmProbePread(int fd, void *buf, size_t n, off_t off, int *err);
int ptmProbeReadOnlyFs(const char *path);
mode_t ptmProbeUmask(void);
void ptmSimCloseParked(struct ptmMirror *m);
/* sim_locks.c */
int ptmFlockConflicts(const char *text, dev_t dev, ino_t ino, int ex, pid_t *holder);
char *ptmProbeProcText(const char *path, size_t cap, int *cut);
int ptmProbeFlockConflicts(dev_t dev, ino_t ino, int ex, int in_child, pid_t self,
                           pid_t *holder, uint64_t *age_ns);
void ptmFlockProbeSet(int sync, uint64_t ttl, uint64_t budget, uint64_t cold, uint64_t stale);
uint64_t ptmFlockProbeReads(void);
/* sim_path.c */
int ptmSimParentDir(const char *path, char *dir, size_t cap);
const char *ptmSimBaseName(const char *path, size_t *len);
int ptmSimAbsPath(struct ptmMirror *m, int dirfd, const char *path, char **out);
void ptmSimViewFree(struct ptmSimView *v);
int ptmSimIsPrefix(const char *prefix, const char *path, size_t *len);
int ptmSimResolve(struct ptmMirror *m, int dirfd, const char *path, int need_abs,
                  struct ptmSimView *v);
int ptmSimNsSet(struct ptmMirror *m, const char *abs, enum ptmNsState state, struct ptmOvFile *ov,
                mode_t mode, const char *alias);
void ptmSimNsDropUnder(struct ptmMirror *m, const char *dir);
int ptmSimNsMoveUnder(struct ptmMirror *m, const char *from, const char *to);
int ptmSimCheckDirWritable(const char *dir, struct stat *dst);
int ptmSimOpenCheckStat(const char *path, int flags, const struct stat *st, int err);
int ptmSimNsPermits(mode_t perm, int isdir, int mode);
int ptmSimParentWritable(struct ptmMirror *m, const char *abs, int create, dev_t *fsdev,
                         char *realdir, size_t cap);
/* sim_overlay.c */
struct ptmOvFile *ptmOvFind(struct ptmMirror *m, dev_t dev, ino_t ino);
struct ptmOvFile *ptmOvNew(struct ptmMirror *m);
struct ptmOvFile *ptmOvForReal(struct ptmMirror *m, const struct stat *st, const char *path,
                               int host_fd, int host_readable);
const char *ptmOvRealPath(struct ptmOvFile *ov);
int ptmOvRealFd(struct ptmOvFile *ov);
ssize_t ptmOvRead(struct ptmOvFile *ov, void *buf, size_t n, off_t off, int *err);
int ptmOvStore(struct ptmMirror *m, struct ptmOvFile *ov, const void *buf, size_t n, off_t off);
void ptmOvTruncate(struct ptmMirror *m, struct ptmOvFile *ov, off_t len);
void ptmOvFreeAll(struct ptmMirror *m);
off_t ptmSpaceAllocBytes(const struct ptmOvFile *ov, off_t off, size_t n);
int ptmSpaceCheck(struct ptmMirror *m, struct ptmOvFile *ov, off_t alloc);
void ptmSpaceCharge(struct ptmMirror *m, struct ptmOvFile *ov, int64_t delta);
ssize_t ptmSpaceFsizeLimit(struct ptmMirror *m, off_t off, size_t n, int *err);
void ptmSpaceForget(struct ptmMirror *m);
/* sim.c */
int ptmSimOvStat(struct ptmOvFile *ov, struct stat *st);
void ptmSimDirStat(const struct ptmNsEntry *e, struct stat *st);

/* shims/notes.c ---------------------------------------------------------
** What the shim families add to their events.
*/
/* ptmShimFdTarget: the path the mirror opened fd with, else "fd N".  OUT: dst. */
void ptmShimFdTarget(struct ptmMirror *m, int fd, char *dst, size_t cap);
/* ptmShimNoteSignal: when err is EFBIG or EPIPE and SIGXFSZ / SIGPIPE has
** its default action (nosig: MSG_NOSIGNAL was given), the primary would be
** killed rather than see err: says so in ev->detail ("SIGPIPE kills"). */
void ptmShimNoteSignal(struct ptmEvent *ev, int err, int nosig);
/* ptmShimNoteRecv: when a read on f since the last call was invented (a
** receive with no recorded response, input of a pipe or terminal the
** mirror may not take), marks ev PTM_EVF_PRETENDED with detail "no
** recorded response" or "host input left for the primary", and clears
** f->unrecorded.  f or ev may be NULL. */
void ptmShimNoteRecv(struct ptmSimFile *f, struct ptmEvent *ev);

/* shims/time.c ----------------------------------------------------------- */
/* ptmTimeAdvance: advances m's virtual clock by ns (and the ring's total). */
void ptmTimeAdvance(struct ptmMirror *m, uint64_t ns);
/* ptmTimeNow: clk's time in the mirror: the real time plus m's advance
** (CPU-time clocks are not advanced).  OUT: *ts.  0 or an errno. */
int ptmTimeNow(struct ptmMirror *m, clockid_t clk, struct timespec *ts);

#endif /* PTM_SHIMS_INT_H */
