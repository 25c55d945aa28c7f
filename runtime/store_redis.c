/*
** store_redis.c - the persisted history shared by a fleet: a Redis server
** (PTM_HISTORY=redis://host[:port][/prefix]), store.c's second backend.
**
** What is shared: everything the SQLite file keeps (store.c), as one Redis
** hash per transaction id, key "<prefix>:<id>".  Counts are fields added
** with HINCRBY (calls, successes, failures, diversions, baseline_n,
** latency_n; "s:<signature>" the deviation baseline; "pc:<path>" and
** "pf:<path>" the paths' calls and failures; "mn:<cell>" and "mf:<cell>"
** the model's labelled outcomes).  Latency is an estimate, not a count:
** three sums added with HINCRBYFLOAT, lat_w (weights: each push weighs its
** samples up to the history's window), lat_s1 (weight x mean) and lat_s2
** (weight x (variance + mean^2)), from which a load computes the pooled
** mean and variance; a half-open probe that made the history forget its
** latencies replaces them (HSET).
**
** How: each process keeps its own history in memory (history.c).  An id's
** hash is read at its first use, on the calling thread, with one HGETALL
** under a deadline of PTM_REDIS_READ_MS for everything (the lock, the
** connection, the request, the reply; PTM_HISTORY_WAIT_MS=n sets it, 1 to
** 2000, for a server farther than a few round trips of 10 ms).  Increments are pushed by store.c's
** writer thread (ptm-history): merged per id while the server cannot take
** them, then pipelined MULTI ... EXEC transactions of at most
** PTM_REDIS_MAX_QUEUED commands each, under PTM_REDIS_WRITE_MS
** (PTM_REDIS_EXIT_MS at exit, on the exiting thread).  The same thread
** reads every id again every PTM_STORE_REREAD_MS (ptmStoreRedisReread,
** under the write lock: the fleet's totals plus this process's unpushed
** increments, nothing counted twice; history.c's rebase hook).
**
** Bounded: every wait is a poll() with the time left to the deadline, and
** hiredis only reads or writes a socket poll() found ready (its own
** timeouts are set to the time left as well, a second guard).  A reply is
** parsed by hiredis; its functions that build reply objects are wrapped to
** refuse arrays over PTM_REDIS_MAX_ELEMENTS and strings over
** PTM_REDIS_MAX_STRING, and a reply whose unread bytes pass
** PTM_REDIS_MAX_BYTES is abandoned: a hostile server costs a bounded time
** and memory.  A host name (not a numeric address or "localhost") is
** resolved on the writer thread, never on a transaction's.
**
** Failure: an unreachable, slow or misbehaving server leaves ids cold
** and keeps the increments (a batch that was not sent whole; one sent
** whole whose reply did not come is dropped: Redis may have applied it,
** and a count twice is worse than a count lost).  The problem is kept for
** ptmStoreRedisState (the trace's history_store) until a later exchange
** succeeds, said once on stderr, and the server is tried again after a
** backoff of PTM_REDIS_BACKOFF_MS, doubled up to PTM_REDIS_BACKOFF_MAX_MS;
** meanwhile no transaction waits for it.  A server that answers an error
** (a key of another type: WRONGTYPE) drops that batch.
**
** Which hiredis: dlopen'd by its soname (found at configure time), with
** RTLD_LOCAL (and RTLD_DEEPBIND outside sanitizers), as store.c does for
** SQLite: a program that never names a redis:// history needs nothing on
** its link line, and a host's own hiredis is never captured
** (docs/DESIGN.md §8).  Built without hiredis's headers, a redis:// URL
** is refused with that reason.
**
** The store's rules hold (store.c): never in a mirror, never in a child
** of fork() (store.c checks both before calling here).
*/
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"

#if PTM_HAVE_HIREDIS
#include <hiredis/hiredis.h> /* types and constants only: every call goes through rapi */
#endif

#define PTM_REDIS_READ_MS 50           /* a first use, on the caller's thread */
#define PTM_REDIS_READ_MAX_MS 2000     /* ... PTM_HISTORY_WAIT_MS's upper bound */
#define PTM_REDIS_WRITE_MS 1000        /* a push, on the writer thread */
#define PTM_REDIS_EXIT_MS 250          /* the last push, at exit */
#define PTM_REDIS_BACKOFF_MS 250
#define PTM_REDIS_BACKOFF_MAX_MS 8000
#define PTM_REDIS_MAX_ELEMENTS 16384
#define PTM_REDIS_MAX_STRING 4096
#define PTM_REDIS_MAX_BYTES ((size_t)4 << 20)
#define PTM_REDIS_MAX_PENDING 4096     /* ids whose increments wait for the server */
#define PTM_REDIS_MAX_QUEUED 4096      /* commands in one MULTI/EXEC (at most ~600 per id) */
#define PTM_REDIS_REREAD_IDS 256       /* HGETALLs pipelined in one exchange of a re-read */

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define REDIS_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REDIS_SANITIZED 1
#endif

/*
** ptmStoreRedisParse: url, strictly: "redis://" host [":" port] ["/"
** prefix].  host: a name or IPv4 address of letters, digits, '-' and '.',
** or an IPv6 address in brackets; port: 1-65535 (default 6379); prefix:
** printable characters without spaces (default "ptm:<program>").  No user,
** password, query or fragment.  OUT: *u; on failure why[0..n) says what
** is wrong.  Returns 0 or -1.
*/
int ptmStoreRedisParse(const char *url, struct ptmRedisUrl *u, char *why, size_t n)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(why, n, "not a redis:// URL (the form is redis://host[:port][/prefix])");
        return -1;
    }
    const char *p = url + 8, *host = p, *host_end;
    if (*p == '[') {
        host = ++p;
        while (*p && *p != ']')
            p++;
        if (*p != ']') {
            snprintf(why, n, "an IPv6 address needs its closing ']'");
            return -1;
        }
        host_end = p++;
        char tmp[sizeof u->host];
        size_t len = (size_t)(host_end - host);
        struct in6_addr a6;
        if (len == 0 || len >= sizeof tmp ||
            (memcpy(tmp, host, len), tmp[len] = 0, inet_pton(AF_INET6, tmp, &a6) != 1)) {
            snprintf(why, n, "not an IPv6 address between '[' and ']'");
            return -1;
        }
    } else {
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '-' || *p == '.')
            p++;
        host_end = p;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0) {
        snprintf(why, n, "no host (the form is redis://host[:port][/prefix])");
        return -1;
    }
    if (*p == '@' || strchr(url + 8, '@')) {
        snprintf(why, n, "a user or password in the URL is not supported");
        return -1;
    }
    if (hl >= sizeof u->host) {
        snprintf(why, n, "the host name is too long");
        return -1;
    }
    memcpy(u->host, host, hl);
    u->host[hl] = 0;
    if (*p == ':') {
        p++;
        long port = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && port <= 65535)
            port = port * 10 + (*p++ - '0');
        if (p == d || port < 1 || port > 65535 || (*p && *p != '/')) {
            snprintf(why, n, "the port must be a number from 1 to 65535");
            return -1;
        }
        u->port = (int)port;
    }
    if (*p && *p != '/') {
        snprintf(why, n, "unexpected '%c' after the host", *p);
        return -1;
    }
    if (*p == '/')
        p++;
    size_t pl = strlen(p);
    if (pl >= sizeof u->prefix) {
        snprintf(why, n, "the prefix is too long (at most %zu bytes)", sizeof u->prefix - 1);
        return -1;
    }
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f || *q == '?' || *q == '#') {
            snprintf(why, n, "the prefix may hold no space, control character, '?' or '#'");
            return -1;
        }
    if (pl)
        memcpy(u->prefix, p, pl + 1);
    else
        snprintf(u->prefix, sizeof u->prefix, "ptm:%.200s",
                 program_invocation_short_name && *program_invocation_short_name
                     ? program_invocation_short_name
                     : "program");
    return 0;
}

#if PTM_HAVE_HIREDIS

/* The hiredis functions the store calls, from its private copy. */
#define REDIS_API(X)              \
    X(redisConnectWithTimeout)    \
    X(redisSetTimeout)            \
    X(redisFree)                  \
    X(redisBufferRead)            \
    X(redisBufferWrite)           \
    X(redisGetReplyFromReader)    \
    X(redisAppendCommandArgv)     \
    X(freeReplyObject)

static struct {
#define X(f) __typeof__(f) *f;
    REDIS_API(X)
#undef X
} rapi;

static struct {
    pthread_mutex_t mu;           /* everything below but the two contexts */
    struct ptmRedisUrl url;
    char addr[INET6_ADDRSTRLEN];  /* the host's address, once resolved */
    pthread_cond_t resolved;      /* addr was set, or its resolution failed */
    void *lib;
    int said;                     /* the one line on stderr was written */
    uint64_t retry_ns;            /* no exchange before this (ptmOsNowNs) */
    unsigned backoff_ms;
    unsigned read_ms;             /* a first use's deadline */
    char why[4][1200];            /* the current problem, rotating (see redisState) */
    unsigned why_i;
    _Atomic(const char *) state;  /* NULL while the server answers */
    pthread_mutex_t read_mu;      /* rctx: loads */
    redisContext *rctx;
    pthread_mutex_t write_mu;     /* wctx, pending */
    redisContext *wctx;
    struct ptmHistData **pending; /* increments not yet pushed, one per id */
    size_t n_pending;
} rs = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .resolved = PTHREAD_COND_INITIALIZER,
    .read_mu = PTHREAD_MUTEX_INITIALIZER,
    .write_mu = PTHREAD_MUTEX_INITIALIZER,
};

/*
** The socket each connection was made on.  A program may close
** descriptors it did not open (a daemon closes all but 0-2) and get the
** same number for a file of its own: hiredis would then write commands
** into the host's file, and redisFree would close it.  A connection whose
** number no longer names its socket is dropped without closing the
** number (rdsFree), before any exchange (rdsStale).  Under rs.mu.
*/
#define RDS_SOCKETS 8
static struct {
    redisContext *c;
    dev_t dev;
    ino_t ino;
} rdsSockets[RDS_SOCKETS];

/* rdsRemember: notes the socket c was made on (a table full of live
** connections leaves it unnoted: rdsOwns then says no, and it is dropped
** at its next use, never writing into a file). */
static void rdsRemember(redisContext *c)
{
    struct stat st;
    if (ptmOs.fstat(c->fd, &st) != 0)
        return;
    pthread_mutex_lock(&rs.mu);
    for (int i = 0; i < RDS_SOCKETS; i++)
        if (!rdsSockets[i].c) {
            rdsSockets[i].c = c;
            rdsSockets[i].dev = st.st_dev;
            rdsSockets[i].ino = st.st_ino;
            break;
        }
    pthread_mutex_unlock(&rs.mu);
}

/* rdsOwns: whether c's descriptor is still the socket it was made on. */
static int rdsOwns(redisContext *c)
{
    struct stat st;
    int owns = 0;
    if (c->fd < 0 || ptmOs.fstat(c->fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    pthread_mutex_lock(&rs.mu);
    for (int i = 0; i < RDS_SOCKETS; i++)
        if (rdsSockets[i].c == c)
            owns = rdsSockets[i].dev == st.st_dev && rdsSockets[i].ino == st.st_ino;
    pthread_mutex_unlock(&rs.mu);
    return owns;
}

/* rdsFree: frees connection c, closing its descriptor only while it is
** still c's socket. */
static void rdsFree(redisContext *c)
{
    if (!rdsOwns(c))
        c->fd = -1; /* the host's number now: hiredis closes only a valid one */
    pthread_mutex_lock(&rs.mu);
    for (int i = 0; i < RDS_SOCKETS; i++)
        if (rdsSockets[i].c == c)
            rdsSockets[i].c = NULL;
    pthread_mutex_unlock(&rs.mu);
    rapi.redisFree(c);
}

static redisReplyObjectFunctions rdsOrigFn, rdsBoundFn;
static pthread_once_t rdsFnOnce = PTHREAD_ONCE_INIT;
static redisReplyObjectFunctions *rdsDefaultFn;

/* ---------------------------------------------------------------------
** Problems: recorded, said once, retried later
*/

/* rdsProblem: the server could not be used: kept for the trace, said
** once on stderr, and no exchange is tried before the backoff ends. */
static void rdsProblem(const char *fmt, ...) PTM_PRINTF_LIKE(1, 2);
static void rdsProblem(const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    for (char *p = what; *p; p++) /* a server's words: one printable line */
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
            *p = '?';
    pthread_mutex_lock(&rs.mu);
    /* Rotating buffers: a trace record may still be reading the last one. */
    char *why = rs.why[rs.why_i++ % 4];
    snprintf(why, sizeof rs.why[0],
             "PTM_HISTORY=redis://%s:%d/%s: %s; the history is kept in memory and the "
             "server is tried again later",
             rs.url.host, rs.url.port, rs.url.prefix, what);
    atomic_store(&rs.state, why);
    rs.backoff_ms = rs.backoff_ms ? rs.backoff_ms * 2 : PTM_REDIS_BACKOFF_MS;
    if (rs.backoff_ms > PTM_REDIS_BACKOFF_MAX_MS)
        rs.backoff_ms = PTM_REDIS_BACKOFF_MAX_MS;
    rs.retry_ns = ptmOsNowNs() + (uint64_t)rs.backoff_ms * 1000000u;
    int say = !rs.said;
    rs.said = 1;
    pthread_mutex_unlock(&rs.mu);
    if (say) {
        char line[sizeof rs.why[0] + 8];
        int n = snprintf(line, sizeof line, "ptm: %s\n", why);
        if (n > 0)
            (void)!ptmOs.write(STDERR_FILENO, line,
                               (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

/* rdsAnswered: an exchange succeeded: the problem is over. */
static void rdsAnswered(void)
{
    pthread_mutex_lock(&rs.mu);
    rs.backoff_ms = 0;
    rs.retry_ns = 0;
    atomic_store(&rs.state, NULL);
    pthread_mutex_unlock(&rs.mu);
}

/* rdsBackingOff: whether a problem's backoff still runs. */
static int rdsBackingOff(void)
{
    pthread_mutex_lock(&rs.mu);
    int off = rs.retry_ns && ptmOsNowNs() < rs.retry_ns;
    pthread_mutex_unlock(&rs.mu);
    return off;
}

/* ---------------------------------------------------------------------
** Bounded exchanges
*/

static void *rdsBoundArray(const redisReadTask *t, int elements)
{
    if (elements < 0 || elements > PTM_REDIS_MAX_ELEMENTS)
        return NULL; /* hiredis reports it as out of memory: the reply is abandoned */
    return rdsOrigFn.createArray(t, elements);
}

static void *rdsBoundString(const redisReadTask *t, char *s, size_t len)
{
    if (len > PTM_REDIS_MAX_STRING)
        return NULL;
    return rdsOrigFn.createString(t, s, len);
}

static void rdsFnInit(void)
{
    rdsOrigFn = *rdsDefaultFn;
    rdsBoundFn = rdsOrigFn;
    rdsBoundFn.createArray = rdsBoundArray;
    rdsBoundFn.createString = rdsBoundString;
}

/* rdsErr: c's error text, copied (c may be freed before it is read). */
static const char *rdsErr(const redisContext *c, const char *otherwise)
{
    static __thread char msg[sizeof c->errstr + 1];
    if (!c->errstr[0])
        return otherwise;
    memcpy(msg, c->errstr, sizeof c->errstr);
    msg[sizeof c->errstr] = 0;
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
            *p = '?';
    return msg;
}

static int64_t rdsLeftMs(uint64_t deadline_ns)
{
    uint64_t now = ptmOsNowNs();
    return now >= deadline_ns ? 0 : (int64_t)((deadline_ns - now + 999999) / 1000000);
}

static void rdsTimeouts(redisContext *c, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (ms <= 0)
        tv.tv_usec = 1000;
    rapi.redisSetTimeout(c, tv);
}

/* rdsWait: poll()s c's socket for ev until the deadline.  Returns 1
** ready, 0 timed out, -1 error (hung up with nothing to read). */
static int rdsWait(redisContext *c, short ev, uint64_t deadline_ns)
{
    for (;;) {
        int64_t ms = rdsLeftMs(deadline_ns);
        if (ms <= 0)
            return 0;
        struct pollfd p = {.fd = c->fd, .events = ev};
        int r = ptmOs.poll(&p, 1, (int)(ms > INT_MAX ? INT_MAX : ms));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        if (p.revents & ev)
            return 1;
        return -1;
    }
}

/* rdsWriteNoPipe: redisBufferWrite with SIGPIPE blocked on this thread
** and, when the write raised one, consumed: a server that closed must not
** kill the host (the default action of SIGPIPE). */
static int rdsWriteNoPipe(redisContext *c, int *done)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigemptyset(&pending);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    int rc = rapi.redisBufferWrite(c, done);
    if (rc != REDIS_OK && !was_pending) {
        struct timespec zero = {0, 0};
        sigemptyset(&pending);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE))
            (void)sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* rdsSend: writes c's output buffer by the deadline.  OUT: *sent_all.
** Returns 0, or -1 with *what set. */
static int rdsSend(redisContext *c, uint64_t deadline_ns, int *sent_all, const char **what)
{
    int done = 0;
    *sent_all = 0;
    while (!done) {
        int w = rdsWait(c, POLLOUT, deadline_ns);
        if (w <= 0) {
            *what = w == 0 ? "timed out sending" : "the connection failed";
            return -1;
        }
        rdsTimeouts(c, rdsLeftMs(deadline_ns));
        if (rdsWriteNoPipe(c, &done) != REDIS_OK) {
            *what = rdsErr(c, "write failed");
            return -1;
        }
    }
    *sent_all = 1;
    return 0;
}

/* rdsReceive: the next reply by the deadline, within the byte budget.
** Returns it (free with rapi.freeReplyObject), or NULL with *what set. */
static redisReply *rdsReceive(redisContext *c, uint64_t deadline_ns, const char **what)
{
    for (;;) {
        void *reply = NULL;
        if (rapi.redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            *what = rdsErr(c, "a reply it could not read");
            return NULL;
        }
        if (reply)
            return reply;
        if (c->reader->len - c->reader->pos > PTM_REDIS_MAX_BYTES) {
            *what = "a reply too large";
            return NULL;
        }
        int w = rdsWait(c, POLLIN, deadline_ns);
        if (w <= 0) {
            *what = w == 0 ? "timed out waiting for a reply" : "the connection failed";
            return NULL;
        }
        rdsTimeouts(c, rdsLeftMs(deadline_ns));
        if (rapi.redisBufferRead(c) != REDIS_OK) {
            *what = rdsErr(c, "read failed");
            return NULL;
        }
    }
}

/* rdsResolveHost: the URL's host as a numeric address, by getaddrinfo
** (the writer thread only: it may take the resolver's time).  Returns 0
** (rs.addr set) or -1. */
static int rdsResolveHost(void)
{
    char host[sizeof rs.url.host];
    pthread_mutex_lock(&rs.mu);
    snprintf(host, sizeof host, "%s", rs.url.host);
    int have = rs.addr[0] != 0;
    pthread_mutex_unlock(&rs.mu);
    if (have)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    char addr[INET6_ADDRSTRLEN] = "";
    if (rc == 0 && res) {
        const void *a = res->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        if (!inet_ntop(res->ai_family, a, addr, sizeof addr))
            addr[0] = 0;
    }
    if (res)
        freeaddrinfo(res);
    pthread_mutex_lock(&rs.mu);
    if (addr[0])
        snprintf(rs.addr, sizeof rs.addr, "%s", addr);
    pthread_cond_broadcast(&rs.resolved);
    pthread_mutex_unlock(&rs.mu);
    if (!addr[0]) {
        rdsProblem("cannot resolve %s: %s", host, rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    return 0;
}

/* rdsAddress: the numeric address to connect to, waiting for the
** writer's resolution at most until the deadline.  OUT: addr.  Returns 0
** or -1. */
static int rdsAddress(char *addr, size_t n, uint64_t deadline_ns, int may_resolve)
{
    if (may_resolve && rdsResolveHost() != 0)
        return -1;
    pthread_mutex_lock(&rs.mu);
    while (!rs.addr[0]) {
        int64_t ms = rdsLeftMs(deadline_ns);
        if (ms <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&rs.resolved, &rs.mu, &ts) != 0)
            break;
    }
    int ok = rs.addr[0] != 0;
    if (ok)
        snprintf(addr, n, "%s", rs.addr);
    pthread_mutex_unlock(&rs.mu);
    return ok ? 0 : -1;
}

/* rdsConnect: a connection by the deadline, its replies bounded, its
** descriptor closed on exec.  Returns it, or NULL with *what set. */
static redisContext *rdsConnect(uint64_t deadline_ns, int may_resolve, const char **what)
{
    char addr[INET6_ADDRSTRLEN];
    if (rdsAddress(addr, sizeof addr, deadline_ns, may_resolve) != 0) {
        *what = "the host's address is not known yet";
        return NULL;
    }
    int64_t ms = rdsLeftMs(deadline_ns);
    if (ms <= 0) {
        *what = "timed out connecting";
        return NULL;
    }
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    redisContext *c = rapi.redisConnectWithTimeout(addr, rs.url.port, tv);
    if (!c) {
        *what = "out of memory";
        return NULL;
    }
    if (c->err || c->fd < 0 || !c->reader) {
        static __thread char msg[160];
        snprintf(msg, sizeof msg, "cannot connect: %s", c->errstr[0] ? c->errstr : "?");
        *what = msg;
        rapi.redisFree(c);
        return NULL;
    }
    (void)fcntl(c->fd, F_SETFD, FD_CLOEXEC);
    rdsRemember(c);
    pthread_mutex_lock(&rs.mu);
    if (!rdsDefaultFn)
        rdsDefaultFn = c->reader->fn; /* hiredis's own table, the same for every reader */
    pthread_mutex_unlock(&rs.mu);
    pthread_once(&rdsFnOnce, rdsFnInit);
    c->reader->fn = &rdsBoundFn;
    return c;
}

/* rdsStale: whether kept connection c was closed by the server (or has
** bytes nobody asked for), or its descriptor was closed by the program:
** it is freed, so that a request never goes to a server already gone,
** whose increments would then count as sent, nor into a file. */
static int rdsStale(redisContext *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    if (rdsOwns(c) && ptmOs.poll(&p, 1, 0) == 0)
        return 0;
    rdsFree(c);
    return 1;
}

/* rdsNeedsResolve: whether the URL's host is a name to resolve (not a
** numeric address); a numeric one is rs.addr at once. */
static int rdsNeedsResolve(void)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, rs.url.host, buf) == 1 || inet_pton(AF_INET6, rs.url.host, buf) == 1) {
        snprintf(rs.addr, sizeof rs.addr, "%.45s", rs.url.host);
        return 0;
    }
    if (strcmp(rs.url.host, "localhost") == 0) {
        snprintf(rs.addr, sizeof rs.addr, "127.0.0.1");
        return 0;
    }
    return 1;
}

/*
** ptmStoreRedisOpen: the backend for u: hiredis loaded, the address
** known when u's host is numeric.  OUT: why[0..n) on failure.  Returns 0,
** or -1 (no hiredis: the history stays in memory).
*/
/* rdsReadMs: PTM_HISTORY_WAIT_MS, 1 to PTM_REDIS_READ_MAX_MS; unset or
** malformed, PTM_REDIS_READ_MS. */
static unsigned rdsReadMs(void)
{
    const char *env = getenv("PTM_HISTORY_WAIT_MS");
    if (!env || !*env)
        return PTM_REDIS_READ_MS;
    char *end;
    errno = 0;
    long ms = strtol(env, &end, 10);
    if (*end || errno || ms < 1 || ms > PTM_REDIS_READ_MAX_MS)
        return PTM_REDIS_READ_MS;
    return (unsigned)ms;
}

int ptmStoreRedisOpen(const struct ptmRedisUrl *u, char *why, size_t n)
{
    pthread_mutex_lock(&rs.mu);
    rs.url = *u;
    rs.read_ms = rdsReadMs();
    rs.addr[0] = 0;
    (void)rdsNeedsResolve();
    int ok = 1;
    if (!rs.lib) {
        int flags = RTLD_NOW | RTLD_LOCAL;
#if !defined(REDIS_SANITIZED) && defined(RTLD_DEEPBIND)
        flags |= RTLD_DEEPBIND;
#endif
        rs.lib = dlopen(PTM_HIREDIS_SONAME, flags);
        if (!rs.lib) {
            const char *e = dlerror();
            snprintf(why, n, "cannot load %s: %s", PTM_HIREDIS_SONAME, e ? e : "?");
            ok = 0;
        }
#define X(f)                                                                 \
    if (ok && !(rapi.f = (__typeof__(f) *)dlsym(rs.lib, #f))) {              \
        snprintf(why, n, "%s has no %s", PTM_HIREDIS_SONAME, #f);            \
        ok = 0;                                                              \
    }
        REDIS_API(X)
#undef X
        if (!ok && rs.lib) {
            dlclose(rs.lib);
            rs.lib = NULL;
        }
    }
    pthread_mutex_unlock(&rs.mu);
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------------
** Loading an id
*/

/* rdsKey: "<prefix>:<id>".  Returns its length. */
static size_t rdsKey(char *key, size_t n, const char *id)
{
    int len = snprintf(key, n, "%s:%s", rs.url.prefix, id);
    return len < 0 ? 0 : (size_t)len >= n ? n - 1 : (size_t)len;
}

/* rdsNumber: s[0..len) as a finite number >= 0.  Returns 0 or -1. */
static int rdsNumber(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    if (*end || errno || !isfinite(x) || x < 0)
        return -1;
    *out = x;
    return 0;
}

static uint64_t rdsU64(double x)
{
    return x >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)x;
}

static uint32_t rdsU32(double x)
{
    return x >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

/* rdsPath: the path named f[0..len) of d, added when new and room is
** left.  Returns its index or -1. */
static int rdsPath(struct ptmHistData *d, const char *f, size_t len)
{
    if (len == 0 || len >= PTM_STORE_PATH_NAME)
        return -1;
    for (unsigned i = 0; i < d->n_paths; i++)
        if (strlen(d->paths[i].name) == len && memcmp(d->paths[i].name, f, len) == 0)
            return (int)i;
    if (d->n_paths >= PTM_STORE_MAX_PATHS)
        return -1;
    memcpy(d->paths[d->n_paths].name, f, len);
    d->paths[d->n_paths].name[len] = 0;
    return (int)d->n_paths++;
}

/* rdsLat: the running sums of the latency fields. */
struct rdsLat {
    double w, s1, s2;
};

/* rdsField: one field of an id's hash into d (unknown or malformed
** fields are ignored: a hash edited by hand or by a later version). */
static void rdsField(struct ptmHistData *d, struct rdsLat *lat, const char *f, size_t fl,
                       double x)
{
#define IS(name) (fl == sizeof name - 1 && memcmp(f, name, fl) == 0)
#define HAS(pre) (fl > sizeof pre - 1 && memcmp(f, pre, sizeof pre - 1) == 0)
    if (IS("calls"))
        d->calls = rdsU64(x);
    else if (IS("successes"))
        d->successes = rdsU64(x);
    else if (IS("failures"))
        d->failures = rdsU64(x);
    else if (IS("diversions"))
        d->diversions = rdsU64(x);
    else if (IS("baseline_n"))
        d->baseline_n = rdsU64(x);
    else if (IS("latency_n"))
        d->latency_n = rdsU64(x);
    else if (IS("lat_w"))
        lat->w = x;
    else if (IS("lat_s1"))
        lat->s1 = x;
    else if (IS("lat_s2"))
        lat->s2 = x;
    else if (HAS("s:")) {
        double sig;
        if (rdsNumber(f + 2, fl - 2, &sig) != 0 || sig > UINT32_MAX || sig != floor(sig))
            return;
        if (d->n_sigs < PTM_HISTORY_MAX_SIGS) {
            d->sigs[d->n_sigs].sig = (uint32_t)sig;
            d->sigs[d->n_sigs++].mirrors = rdsU64(x);
            return;
        }
        /* Keep the most frequent, as the file's load does (ORDER BY mirrors). */
        unsigned lo = 0;
        for (unsigned i = 1; i < d->n_sigs; i++)
            if (d->sigs[i].mirrors < d->sigs[lo].mirrors)
                lo = i;
        if (rdsU64(x) > d->sigs[lo].mirrors)
            d->sigs[lo] = (__typeof__(d->sigs[lo])){(uint32_t)sig, rdsU64(x)};
    } else if (HAS("pc:") || HAS("pf:")) {
        int i = rdsPath(d, f + 3, fl - 3);
        if (i >= 0 && f[1] == 'c')
            d->paths[i].calls = rdsU64(x);
        else if (i >= 0)
            d->paths[i].failures = rdsU64(x);
    } else if (HAS("mn:") || HAS("mf:")) {
        double cell;
        if (rdsNumber(f + 3, fl - 3, &cell) != 0 || cell >= PTM_MODEL_CELLS ||
            cell != floor(cell))
            return;
        if (f[1] == 'n')
            d->model.n[(unsigned)cell] = rdsU32(x);
        else
            d->model.fail[(unsigned)cell] = rdsU32(x);
    }
#undef IS
#undef HAS
}

/* rdsReadHash: an HGETALL reply into d.  Returns the fields read, or
** -1 when the reply is not a hash's (an error, another type). */
static int rdsReadHash(const redisReply *r, struct ptmHistData *d)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return -1;
    struct rdsLat lat = {0, 0, 0};
    int fields = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        double x;
        if (!k || !v || k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            rdsNumber(v->str, v->len, &x) != 0)
            continue;
        rdsField(d, &lat, k->str, k->len, x);
        fields++;
    }
    for (unsigned c = 0; c < PTM_MODEL_CELLS; c++)
        if (d->model.fail[c] > d->model.n[c])
            d->model.fail[c] = d->model.n[c];
    if (lat.w > 0) {
        double mean = lat.s1 / lat.w, var = lat.s2 / lat.w - mean * mean;
        d->latency_mean_us = isfinite(mean) && mean >= 0 ? mean : 0;
        d->latency_var = isfinite(var) && var >= 0 ? var : 0;
    }
    return fields;
}

/* rdsLoadOnce: one HGETALL of id on the read connection (made when
** missing) by the deadline.  OUT: *out.  Returns the fields read, -1 on a
** connection's failure (*what set), -2 when the server answered with
** something that is not a hash (*what set). */
static int rdsLoadOnce(const char *id, struct ptmHistData *out, uint64_t deadline_ns,
                         const char **what, int *reused)
{
    if (rs.rctx && rdsStale(rs.rctx))
        rs.rctx = NULL;
    *reused = rs.rctx != NULL;
    if (!rs.rctx && !(rs.rctx = rdsConnect(deadline_ns, 0, what)))
        return -1;
    redisContext *c = rs.rctx;
    char key[sizeof rs.url.prefix + 160];
    const char *argv[2] = {"HGETALL", key};
    size_t lens[2] = {7, rdsKey(key, sizeof key, id)};
    int sent_all;
    redisReply *r = NULL;
    if (rapi.redisAppendCommandArgv(c, 2, argv, lens) != REDIS_OK)
        *what = "out of memory";
    else if (rdsSend(c, deadline_ns, &sent_all, what) == 0)
        r = rdsReceive(c, deadline_ns, what);
    if (!r) {
        rdsFree(c); /* its replies are out of step now */
        rs.rctx = NULL;
        return -1;
    }
    int fields = rdsReadHash(r, out);
    if (fields < 0) {
        static __thread char msg[200];
        snprintf(msg, sizeof msg, "HGETALL %.100s answered %s%.80s", key,
                 r->type == REDIS_REPLY_ERROR ? "" : "something not a hash",
                 r->type == REDIS_REPLY_ERROR && r->str ? r->str : "");
        *what = msg;
    }
    rapi.freeReplyObject(r);
    return fields < 0 ? -2 : fields;
}

static int rdsTimedLock(pthread_mutex_t *mu, uint64_t deadline_ns)
{
    struct timespec ts;
    int64_t ms = rdsLeftMs(deadline_ns);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return pthread_mutex_timedlock(mu, &ts);
}

/*
** ptmStoreRedisLoad: id's totals from the server, on the caller's thread,
** by PTM_REDIS_READ_MS (PTM_HISTORY_WAIT_MS) from now (a connection found
** closed is made again once within that time); nothing is tried while a
** problem's backoff runs.
** OUT: *out (id set, the server's fields; the caller zeroed it).  Returns
** 1 when the server had fields for id, else 0.
*/
int ptmStoreRedisLoad(const char *id, struct ptmHistData *out)
{
    if (rdsBackingOff())
        return 0;
    uint64_t deadline = ptmOsNowNs() + (uint64_t)rs.read_ms * 1000000u;
    if (rdsTimedLock(&rs.read_mu, deadline) != 0)
        return 0; /* another thread's load is waiting for the server */
    const char *what = "?";
    int reused = 0, fields = -1;
    for (int attempt = 0; attempt < 2 && !rdsBackingOff(); attempt++) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", id);
        fields = rdsLoadOnce(id, out, deadline, &what, &reused);
        if (fields != -1 || !reused)
            break; /* only a kept connection's failure is worth a new one */
    }
    pthread_mutex_unlock(&rs.read_mu);
    if (fields >= 0)
        rdsAnswered();
    else
        rdsProblem("reading %s: %s", id, what);
    if (fields <= 0) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", id);
    }
    return fields > 0;
}

/* ---------------------------------------------------------------------
** Pushing increments
*/

/* rdsPool: the latency of b pooled into a, each weighted by its samples
** up to the history's window (as store.c pools the file's). */
static void rdsPool(struct ptmHistData *a, const struct ptmHistData *b)
{
    const double win = 8.0; /* PTM_HISTORY_LATENCY_WINDOW */
    double w1 = a->latency_n < win ? (double)a->latency_n : win;
    double w2 = b->latency_n < win ? (double)b->latency_n : win;
    if (w2 <= 0)
        return;
    double m = (w1 * a->latency_mean_us + w2 * b->latency_mean_us) / (w1 + w2);
    double d1 = a->latency_mean_us - m, d2 = b->latency_mean_us - m;
    a->latency_var =
        (w1 * (a->latency_var + d1 * d1) + w2 * (b->latency_var + d2 * d2)) / (w1 + w2);
    a->latency_mean_us = m;
}

static uint64_t rdsAdd64(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t rdsAdd32(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* rdsMerge: the increments b added to a's (same id), so that a server
** down for long costs one record per id, not one per push. */
static void rdsMerge(struct ptmHistData *a, const struct ptmHistData *b)
{
    a->calls = rdsAdd64(a->calls, b->calls);
    a->successes = rdsAdd64(a->successes, b->successes);
    a->failures = rdsAdd64(a->failures, b->failures);
    a->diversions = rdsAdd64(a->diversions, b->diversions);
    a->baseline_n = rdsAdd64(a->baseline_n, b->baseline_n);
    if (b->latency_reset) {
        a->latency_reset = 1;
        a->latency_n = b->latency_n;
        a->latency_mean_us = b->latency_mean_us;
        a->latency_var = b->latency_var;
    } else if (b->latency_n) {
        rdsPool(a, b);
        a->latency_n = rdsAdd64(a->latency_n, b->latency_n);
    }
    for (unsigned i = 0; i < b->n_sigs && i < PTM_HISTORY_MAX_SIGS; i++) {
        unsigned j = 0;
        while (j < a->n_sigs && a->sigs[j].sig != b->sigs[i].sig)
            j++;
        if (j == a->n_sigs && a->n_sigs < PTM_HISTORY_MAX_SIGS)
            a->sigs[a->n_sigs++] = (__typeof__(a->sigs[0])){b->sigs[i].sig, 0};
        if (j < a->n_sigs)
            a->sigs[j].mirrors = rdsAdd64(a->sigs[j].mirrors, b->sigs[i].mirrors);
    }
    for (unsigned i = 0; i < b->n_paths && i < PTM_STORE_MAX_PATHS; i++) {
        char name[PTM_STORE_PATH_NAME];
        snprintf(name, sizeof name, "%s", b->paths[i].name);
        int j = rdsPath(a, name, strlen(name));
        if (j < 0)
            continue;
        a->paths[j].calls = rdsAdd64(a->paths[j].calls, b->paths[i].calls);
        a->paths[j].failures = rdsAdd64(a->paths[j].failures, b->paths[i].failures);
    }
    for (unsigned c = 0; c < PTM_MODEL_CELLS; c++) {
        a->model.n[c] = rdsAdd32(a->model.n[c], b->model.n[c]);
        a->model.fail[c] = rdsAdd32(a->model.fail[c], b->model.fail[c]);
    }
}

/* rdsPend: v[0..n) merged into the pending increments (write_mu held);
** frees v.  An id beyond PTM_REDIS_MAX_PENDING is dropped. */
static void rdsPend(struct ptmHistData *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < rs.n_pending && strcmp(rs.pending[j]->id, v[i].id) != 0)
            j++;
        if (j < rs.n_pending) {
            rdsMerge(rs.pending[j], &v[i]);
            continue;
        }
        if (rs.n_pending >= PTM_REDIS_MAX_PENDING)
            continue;
        struct ptmHistData **grown = realloc(rs.pending, (rs.n_pending + 1) * sizeof *grown);
        struct ptmHistData *d = grown ? malloc(sizeof *d) : NULL;
        if (grown)
            rs.pending = grown;
        if (!d)
            continue;
        *d = v[i];
        rs.pending[rs.n_pending++] = d;
    }
    free(v);
}

static void rdsDropPending(void)
{
    for (size_t i = 0; i < rs.n_pending; i++)
        free(rs.pending[i]);
    free(rs.pending);
    rs.pending = NULL;
    rs.n_pending = 0;
}

/* rdsAppend: appends "<cmd> key field value" to c.  Returns 0 or -1. */
static int rdsAppend(redisContext *c, const char *cmd, const char *key, size_t klen,
                       const char *field, const char *value)
{
    const char *argv[4] = {cmd, key, field, value};
    size_t lens[4] = {strlen(cmd), klen, strlen(field), strlen(value)};
    return rapi.redisAppendCommandArgv(c, 4, argv, lens) == REDIS_OK ? 0 : -1;
}

static int rdsAppendU64(redisContext *c, const char *key, size_t klen, const char *field,
                          uint64_t x, unsigned *queued)
{
    if (!x)
        return 0;
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)(x > INT64_MAX ? INT64_MAX : x));
    ++*queued;
    return rdsAppend(c, "HINCRBY", key, klen, field, v);
}

/* rdsAppendLatency: d's latency as the three sums (added, or replacing
** them after a half-open probe). */
static int rdsAppendLatency(redisContext *c, const char *key, size_t klen,
                              const struct ptmHistData *d, unsigned *queued)
{
    if (!d->latency_n && !d->latency_reset)
        return 0;
    double w = d->latency_n < 8 ? (double)d->latency_n : 8.0;
    if (w <= 0)
        w = 1;
    double m = isfinite(d->latency_mean_us) ? d->latency_mean_us : 0;
    double v = isfinite(d->latency_var) ? d->latency_var : 0;
    char sw[40], s1[40], s2[40];
    snprintf(sw, sizeof sw, "%.17g", w);
    snprintf(s1, sizeof s1, "%.17g", w * m);
    snprintf(s2, sizeof s2, "%.17g", w * (v + m * m));
    if (d->latency_reset) {
        const char *argv[8] = {"HSET", key, "lat_w", sw, "lat_s1", s1, "lat_s2", s2};
        size_t lens[8] = {4, klen, 5, strlen(sw), 6, strlen(s1), 6, strlen(s2)};
        ++*queued;
        return rapi.redisAppendCommandArgv(c, 8, argv, lens) == REDIS_OK ? 0 : -1;
    }
    *queued += 3;
    return rdsAppend(c, "HINCRBYFLOAT", key, klen, "lat_w", sw) ||
                   rdsAppend(c, "HINCRBYFLOAT", key, klen, "lat_s1", s1) ||
                   rdsAppend(c, "HINCRBYFLOAT", key, klen, "lat_s2", s2)
               ? -1
               : 0;
}

/* rdsAppendOne: d's increments as commands on c.  OUT: *queued counts
** them.  Returns 0 or -1 (out of memory). */
static int rdsAppendOne(redisContext *c, const struct ptmHistData *d, unsigned *queued)
{
    char key[sizeof rs.url.prefix + 160], field[96];
    size_t klen = rdsKey(key, sizeof key, d->id);
    int bad = rdsAppendU64(c, key, klen, "calls", d->calls, queued) ||
              rdsAppendU64(c, key, klen, "successes", d->successes, queued) ||
              rdsAppendU64(c, key, klen, "failures", d->failures, queued) ||
              rdsAppendU64(c, key, klen, "diversions", d->diversions, queued) ||
              rdsAppendU64(c, key, klen, "baseline_n", d->baseline_n, queued) ||
              rdsAppendU64(c, key, klen, "latency_n", d->latency_n, queued) ||
              rdsAppendLatency(c, key, klen, d, queued);
    for (unsigned i = 0; !bad && i < d->n_sigs && i < PTM_HISTORY_MAX_SIGS; i++) {
        snprintf(field, sizeof field, "s:%u", (unsigned)d->sigs[i].sig);
        bad = rdsAppendU64(c, key, klen, field, d->sigs[i].mirrors, queued);
    }
    for (unsigned i = 0; !bad && i < d->n_paths && i < PTM_STORE_MAX_PATHS; i++) {
        snprintf(field, sizeof field, "pc:%.63s", d->paths[i].name);
        bad = rdsAppendU64(c, key, klen, field, d->paths[i].calls, queued);
        snprintf(field, sizeof field, "pf:%.63s", d->paths[i].name);
        bad = bad || rdsAppendU64(c, key, klen, field, d->paths[i].failures, queued);
    }
    for (unsigned cell = 0; !bad && cell < PTM_MODEL_CELLS; cell++) {
        snprintf(field, sizeof field, "mn:%u", cell);
        bad = rdsAppendU64(c, key, klen, field, d->model.n[cell], queued);
        snprintf(field, sizeof field, "mf:%u", cell);
        bad = bad || rdsAppendU64(c, key, klen, field, d->model.fail[cell], queued);
    }
    return bad ? -1 : 0;
}

/* rdsCheckExec: the replies of MULTI, the queued commands and EXEC.
** Returns 0 (applied), -1 (transport: *what set), -2 (the server refused
** or answered nonsense: *what set). */
static int rdsCheckExec(redisContext *c, unsigned queued, uint64_t deadline_ns,
                          const char **what)
{
    static __thread char msg[200];
    int refused = 0;
    for (unsigned i = 0; i < queued + 2; i++) {
        redisReply *r = rdsReceive(c, deadline_ns, what);
        if (!r)
            return -1;
        int last = i == queued + 1;
        if (r->type == REDIS_REPLY_ERROR && !refused) {
            snprintf(msg, sizeof msg, "the server refused the increments: %.120s",
                     r->str ? r->str : "?");
            refused = 1;
        } else if (!refused && !last && r->type != REDIS_REPLY_STATUS) {
            snprintf(msg, sizeof msg, "the server answered MULTI with something unexpected");
            refused = 1;
        } else if (!refused && last) {
            int ok = r->type == REDIS_REPLY_ARRAY && r->elements == queued;
            for (size_t j = 0; ok && j < r->elements; j++)
                if (!r->element[j] || r->element[j]->type == REDIS_REPLY_ERROR) {
                    snprintf(msg, sizeof msg, "the server refused an increment: %.120s",
                             r->element[j] && r->element[j]->str ? r->element[j]->str : "?");
                    ok = 0;
                    refused = 1;
                }
            if (!ok && !refused) {
                snprintf(msg, sizeof msg, "the server answered EXEC with something unexpected");
                refused = 1;
            }
        }
        rapi.freeReplyObject(r);
    }
    if (refused)
        *what = msg;
    return refused ? -2 : 0;
}

/* rdsPushChunk: pending[from..*to) in one MULTI/EXEC on c, *to chosen so
** that at most PTM_REDIS_MAX_QUEUED commands are queued (the EXEC reply
** stays under PTM_REDIS_MAX_ELEMENTS).  Returns 0 (applied), -1 (not
** sent whole: *what set), -2 (sent whole, not applied or not known to
** be: *what set). */
static int rdsPushChunk(redisContext *c, size_t from, size_t *to, uint64_t deadline_ns,
                        const char **what)
{
    unsigned queued = 0;
    const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    size_t l5[1] = {5}, l4[1] = {4};
    int bad = rapi.redisAppendCommandArgv(c, 1, multi, l5) != REDIS_OK;
    size_t i = from;
    for (; !bad && i < rs.n_pending && (i == from || queued < PTM_REDIS_MAX_QUEUED); i++)
        bad = rdsAppendOne(c, rs.pending[i], &queued) != 0;
    *to = i;
    bad = bad || rapi.redisAppendCommandArgv(c, 1, exec, l4) != REDIS_OK;
    int sent_all = 0;
    if (bad) {
        *what = "out of memory";
        return -1;
    }
    if (rdsSend(c, deadline_ns, &sent_all, what) != 0)
        return sent_all ? -2 : -1;
    return rdsCheckExec(c, queued, deadline_ns, what) == 0 ? 0 : -2;
}

/* rdsForget: frees pending[from..to) and closes the gap. */
static void rdsForget(size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        free(rs.pending[i]);
    memmove(rs.pending + from, rs.pending + to, (rs.n_pending - to) * sizeof *rs.pending);
    rs.n_pending -= to - from;
}

/* rdsPush: the pending increments, in chunks of one MULTI/EXEC each, on
** the write connection by the deadline (write_mu held).  What was
** applied is forgotten; a chunk sent whole whose reply failed is dropped
** (Redis may have applied it); the rest is kept for the next push.
** On the writer thread (may_resolve) each chunk has PTM_REDIS_WRITE_MS of
** its own, so that a long batch is not dropped for its length; at exit
** the one deadline covers everything.
** Returns 0 when everything was applied, else -1. */
static int rdsPush(uint64_t deadline_ns, int may_resolve)
{
    const char *what = "?";
    if (rs.wctx && rdsStale(rs.wctx))
        rs.wctx = NULL;
    if (!rs.wctx && !(rs.wctx = rdsConnect(deadline_ns, may_resolve, &what))) {
        rdsProblem("writing: %s", what);
        return -1;
    }
    for (int first = 1; rs.n_pending; first = 0) {
        size_t to = 0;
        if (may_resolve && !first)
            deadline_ns = ptmOsNowNs() + (uint64_t)PTM_REDIS_WRITE_MS * 1000000u;
        int rc = rdsPushChunk(rs.wctx, 0, &to, deadline_ns, &what);
        if (rc == 0 || rc == -2)
            rdsForget(0, to);
        if (rc != 0) {
            rdsFree(rs.wctx); /* its replies are out of step */
            rs.wctx = NULL;
            rdsProblem("writing: %s", what);
            return -1;
        }
    }
    rdsAnswered();
    return 0;
}

/*
** ptmStoreRedisFlush: the histories' increments, collected by collect
** (NULL: none) under the write lock (so that an exit never ends while
** collected increments wait to be pushed by the writer thread), merged
** into the pending ones, which are pushed unless a problem's backoff
** runs.  On the writer thread (it may resolve the host's name) or at exit
** (at_exit: the lock is waited for, and the push runs, PTM_REDIS_EXIT_MS
** at most; past it the increments stay uncollected).
** Returns PTM_OK (pushed, or nothing to push) or PTM_ERROR (kept for a
** later push, or dropped: see the header).
*/
enum ptmRc ptmStoreRedisFlush(ptmStoreCollector collect, int at_exit)
{
    uint64_t ms = at_exit ? PTM_REDIS_EXIT_MS : PTM_REDIS_WRITE_MS;
    uint64_t deadline = ptmOsNowNs() + ms * 1000000u;
    if (!at_exit) {
        pthread_mutex_lock(&rs.mu);
        int unresolved = !rs.addr[0];
        pthread_mutex_unlock(&rs.mu);
        if (unresolved && !rdsBackingOff())
            (void)rdsResolveHost(); /* a load may be waiting for it */
        pthread_mutex_lock(&rs.write_mu);
    } else if (rdsTimedLock(&rs.write_mu, deadline) != 0) {
        return PTM_ERROR; /* the writer's push holds it: exit waits no longer */
    }
    struct ptmHistData *v = NULL;
    size_t n = collect ? collect(&v) : 0;
    rdsPend(v, n);
    enum ptmRc ret = PTM_OK;
    if (rs.n_pending && !rdsBackingOff()) {
        ret = rdsPush(deadline, !at_exit) == 0 ? PTM_OK : PTM_ERROR;
    } else if (rs.n_pending) {
        ret = PTM_ERROR;
    }
    pthread_mutex_unlock(&rs.write_mu);
    return ret;
}

/* ---------------------------------------------------------------------
** Reading the fleet's totals again
*/

/* rdsPendingOf: the pending increments of id, or NULL (write_mu held). */
static const struct ptmHistData *rdsPendingOf(const char *id)
{
    for (size_t i = 0; i < rs.n_pending; i++)
        if (strcmp(rs.pending[i]->id, id) == 0)
            return rs.pending[i];
    return NULL;
}

/* rdsRereadChunk: one HGETALL per id of ids[0..n), pipelined on c by the
** deadline; each reply that is a hash with fields rebases its id's
** history (rebase, with the id's pending increments), an empty
** one (no key: nothing pushed yet, or a server that lost its data)
** teaches nothing.  write_mu held.  Returns 0, -1 (transport: *what set;
** c's replies are out of step) or -2 (a reply was not a hash: *what set;
** the others were read). */
static int rdsRereadChunk(redisContext *c, char (*ids)[PTM_STORE_ID_MAX], size_t n,
                          ptmStoreRebase rebase, uint64_t deadline_ns, const char **what)
{
    static __thread char msg[200];
    char key[sizeof rs.url.prefix + 160];
    for (size_t i = 0; i < n; i++) {
        const char *argv[2] = {"HGETALL", key};
        size_t lens[2] = {7, rdsKey(key, sizeof key, ids[i])};
        if (rapi.redisAppendCommandArgv(c, 2, argv, lens) != REDIS_OK) {
            *what = "out of memory";
            return -1;
        }
    }
    int sent_all;
    if (rdsSend(c, deadline_ns, &sent_all, what) != 0)
        return -1;
    struct ptmHistData *d = malloc(sizeof *d);
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = rdsReceive(c, deadline_ns, what);
        if (!r) {
            free(d);
            return -1;
        }
        if (d) {
            memset(d, 0, sizeof *d);
            snprintf(d->id, sizeof d->id, "%s", ids[i]);
            int fields = rdsReadHash(r, d);
            if (fields > 0)
                rebase(d, rdsPendingOf(ids[i]));
            else if (fields < 0 && !refused) {
                snprintf(msg, sizeof msg, "HGETALL of %.100s answered %s%.80s", ids[i],
                         r->type == REDIS_REPLY_ERROR ? "" : "something not a hash",
                         r->type == REDIS_REPLY_ERROR && r->str ? r->str : "");
                refused = 1;
            }
        }
        rapi.freeReplyObject(r);
    }
    free(d);
    if (refused)
        *what = msg;
    return refused ? -2 : 0;
}

/*
** ptmStoreRedisReread: the fleet's totals of every id this process has a
** history of (the history's ids hook), read again (what the other processes pushed since this one
** loaded them), on the write connection under the write lock, so that
** no push runs meanwhile and every id's unpushed increments are known
** (the history's rebase hook: nothing is counted twice).  HGETALLs are pipelined,
** PTM_REDIS_REREAD_IDS per exchange, each exchange under
** PTM_REDIS_WRITE_MS; replies are bounded as a load's are.  Nothing is
** tried while a problem's backoff runs; a failure is recorded as a
** push's is (the trace's history_store, the backoff).  On the writer
** thread (store.c, every PTM_STORE_REREAD_MS): it may resolve the host.
** Returns PTM_OK (read, or nothing to read) or PTM_ERROR.
*/
enum ptmRc ptmStoreRedisReread(ptmStoreIds list, ptmStoreRebase rebase)
{
    pthread_mutex_lock(&rs.write_mu);
    char(*ids)[PTM_STORE_ID_MAX] = NULL;
    size_t n = rdsBackingOff() || !list || !rebase ? 0 : list(&ids);
    enum ptmRc ret = rdsBackingOff() ? PTM_ERROR : PTM_OK;
    const char *what = "?";
    if (n && rs.wctx && rdsStale(rs.wctx))
        rs.wctx = NULL;
    if (n && !rs.wctx &&
        !(rs.wctx = rdsConnect(ptmOsNowNs() + (uint64_t)PTM_REDIS_WRITE_MS * 1000000u, 1,
                               &what))) {
        rdsProblem("re-reading: %s", what);
        ret = PTM_ERROR;
        n = 0;
    }
    for (size_t from = 0; from < n; from += PTM_REDIS_REREAD_IDS) {
        size_t k = n - from < PTM_REDIS_REREAD_IDS ? n - from : PTM_REDIS_REREAD_IDS;
        uint64_t deadline = ptmOsNowNs() + (uint64_t)PTM_REDIS_WRITE_MS * 1000000u;
        int rc = rdsRereadChunk(rs.wctx, ids + from, k, rebase, deadline, &what);
        if (rc == -1) {
            rdsFree(rs.wctx); /* its replies are out of step */
            rs.wctx = NULL;
        }
        if (rc != 0) {
            rdsProblem("re-reading: %s", what);
            ret = PTM_ERROR;
            break;
        }
    }
    if (n && ret == PTM_OK)
        rdsAnswered();
    pthread_mutex_unlock(&rs.write_mu);
    free(ids);
    return ret;
}

/*
** ptmStoreRedisState: NULL while the server answers (or was never
** asked); else the current problem.  The string stays readable until
** four more problems were recorded.
*/
const char *ptmStoreRedisState(void)
{
    return atomic_load(&rs.state);
}

/*
** ptmStoreRedisReset: closes the connections and forgets the pending
** increments, the problem and its backoff (tests: a second run in one
** process).  hiredis stays loaded.
*/
void ptmStoreRedisReset(void)
{
    pthread_mutex_lock(&rs.write_mu);
    pthread_mutex_lock(&rs.read_mu);
    if (rs.wctx)
        rdsFree(rs.wctx);
    if (rs.rctx)
        rdsFree(rs.rctx);
    rs.wctx = rs.rctx = NULL;
    rdsDropPending();
    pthread_mutex_lock(&rs.mu);
    rs.retry_ns = 0;
    rs.backoff_ms = 0;
    rs.said = 0;
    rs.addr[0] = 0;
    atomic_store(&rs.state, NULL);
    pthread_mutex_unlock(&rs.mu);
    pthread_mutex_unlock(&rs.read_mu);
    pthread_mutex_unlock(&rs.write_mu);
}

#else /* !PTM_HAVE_HIREDIS */

int ptmStoreRedisOpen(const struct ptmRedisUrl *u, char *why, size_t n)
{
    (void)u;
    snprintf(why, n, "this libptm was built without hiredis (libhiredis-dev)");
    return -1;
}

int ptmStoreRedisLoad(const char *id, struct ptmHistData *out)
{
    (void)id;
    (void)out;
    return 0;
}

enum ptmRc ptmStoreRedisFlush(ptmStoreCollector collect, int at_exit)
{
    (void)collect;
    (void)at_exit;
    return PTM_EINVAL;
}

enum ptmRc ptmStoreRedisReread(ptmStoreIds list, ptmStoreRebase rebase)
{
    (void)list;
    (void)rebase;
    return PTM_EINVAL;
}

const char *ptmStoreRedisState(void)
{
    return NULL;
}

void ptmStoreRedisReset(void)
{
}

#endif
