/*
** shims/net.c - sockets in a mirror: socket connect send sendto sendmsg recv
** recvfrom recvmsg shutdown setsockopt (close is the file family's).
**
** Outside a mirror each shim is exactly the real call.  In a mirror nothing
** is sent and nothing the host could receive is taken:
**
**   - socket() makes a real socket (harmless: it is never connected), so
**     the mirror's descriptor is unique and socket() fails as it would
**     (EAFNOSUPPORT, EACCES for raw sockets, EMFILE).
**   - connect() is recorded and simulated: EISCONN, EAFNOSUPPORT, EINVAL are
**     checked; a Unix socket path is checked read-only (ENOENT, EACCES,
**     ECONNREFUSED when nobody listens there, from /proc/net/unix).  A TCP
**     connect may probe reachability -- a non-blocking connect to the same
**     address from a socket of its own, closed at once -- only when the
**     environment says PTM_PROBE_CONNECT=1 (the peer sees a connection come
**     and go) and never in a fork child (seccomp denies connect there): a
**     refusal or an unreachable network is then the predicted errno, and
**     the round trip is in the event's detail.  Without a probe it succeeds
**     (EINPROGRESS for a non-blocking TCP socket, as the real one would).
**   - send/sendto/sendmsg record the bytes and return the length, or the
**     error the socket's state gives: ENOTCONN / EPIPE (not connected, or
**     shut down for writing), EDESTADDRREQ, EMSGSIZE; for a host socket,
**     probed with getpeername and poll(0) (POLLHUP: EPIPE; POLLERR:
**     ECONNRESET; not writable and non-blocking: EAGAIN).  getsockopt
**     (SO_ERROR) is not used: it would clear the error the primary is due
**     to see.
**   - recv/recvfrom/recvmsg return the response the primary last received
**     from the same endpoint, when one was recorded (ptmcc writes a
**     primary's own recv and recvfrom as ptm_primary_recv/_recvfrom, which
**     call ptmNetRecordResponse), and advance the mirror's virtual clock by
**     its recorded latency; else EAGAIN for a non-blocking socket (or
**     MSG_DONTWAIT) and an empty read (0) otherwise.  That answer is
**     invented -- a live peer would send something -- so its event says
**     "no recorded response" and is marked PTM_EVF_PRETENDED: what the
**     mirror computes from it (a result that fails success_criteria, a
**     crash) is inconclusive, not a predicted failure.  Otherwise a
**     request/response transaction would fail its criteria in every
**     mirror until a primary ran, and a divert would keep it from running.
**     After the recorded response is consumed, an empty read is the
**     peer's close, as the primary saw it, and is not marked.
**   - A primary's blocking receive that runs out of time (EAGAIN after its
**     SO_RCVTIMEO, as the rules' timeout_ms sets it too) is recorded as
**     the peer's timeout: a mirror's first blocking receive from that peer
**     replays it -- the recorded wait on the virtual clock, then the same
**     errno -- so the very next call predicts what the last one met,
**     where the old answer would have predicted success.  As a circuit
**     breaker it is then half-open: after PTM_NET_HALF_OPEN_FIRST replays
**     (or as long as that many receives would have waited), the next
**     mirror replays the last answer instead, marked PTM_EVF_HALF_OPEN, so
**     that the primary runs and probes the peer (a fork mirror's replays
**     are counted by the parent, from its events); an answer closes the
**     timeout, another timeout opens it again (for twice as many replays
**     from the second failed probe on).  Timeout-only
**     endpoints fill at most half the table.
**   - setsockopt is recorded and not applied (a host socket's options are
**     shared; seccomp denies it in a fork child); shutdown is recorded and
**     changes only the mirror's view.
**
** In a fork child, a host socket was replaced by /dev/null (fork_child.c):
** its state cannot be probed, and its peer is unknown; sends succeed and
** receives see no recorded response.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shims_int.h"

/* glibc's transparent union for socket addresses (with _GNU_SOURCE). */
#if defined(__GLIBC__) && defined(__USE_GNU) && !defined(__cplusplus)
#define CONST_ADDR(a) ((a).__sockaddr__)
#define ADDR(a) ((a).__sockaddr__)
#else
#define CONST_ADDR(a) (a)
#define ADDR(a) (a)
#endif

#define PROBE_TIMEOUT_MS 200

/* ------------------------------------------------- the endpoint table
** Per endpoint, what the last primary receive from it met: its answer, and
** a timeout recorded since. */

/* An endpoint's key: family, address, port (or path). */
#define KEY_MAX (sizeof(struct sockaddr_un) + 4)

struct netEntry {
    unsigned char key[KEY_MAX];
    size_t klen;                  /* 0: unused */
    int answered;                 /* data holds a response (else: a timeout alone) */
    size_t n;                     /* bytes of data */
    uint64_t latency_ns;
    uint64_t seq;                 /* when recorded, for eviction */
    struct ptmNetTimeout timeout; /* the last receive timed out (wait_ns > 0) */
    unsigned char data[PTM_NET_RESPONSE_MAX];
};

static struct {
    pthread_mutex_t mu;
    uint64_t seq;
    struct netEntry e[PTM_NET_ENDPOINTS];
} table = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Forks: the table's lock (a leaf) is held across each fork(), so that a
** child of the host never inherits it held by another thread's primary. */
static void tableAtforkPrepare(void)
{
    pthread_mutex_lock(&table.mu);
}

static void tableAtforkRelease(void)
{
    pthread_mutex_unlock(&table.mu);
}

__attribute__((constructor)) static void tableAtforkInit(void)
{
    (void)pthread_atfork(tableAtforkPrepare, tableAtforkRelease, tableAtforkRelease);
}

/* The key of address a.  OUT: key (KEY_MAX bytes), *klen.  0, or EINVAL
** for a family that is not modelled. */
static int addrKey(const struct sockaddr *a, socklen_t len, unsigned char *key, size_t *klen)
{
    size_t n;

    if (!a || len < (socklen_t)sizeof(sa_family_t))
        return EINVAL;
    memset(key, 0, KEY_MAX);
    memcpy(key, &a->sa_family, sizeof a->sa_family);
    switch (a->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        if (len < (socklen_t)sizeof *in)
            return EINVAL;
        memcpy(key + 2, &in->sin_port, 2);
        memcpy(key + 4, &in->sin_addr, 4);
        *klen = 8;
        return 0;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
        if (len < (socklen_t)sizeof *in6)
            return EINVAL;
        memcpy(key + 2, &in6->sin6_port, 2);
        memcpy(key + 4, &in6->sin6_addr, 16);
        *klen = 20;
        return 0;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)a;
        n = (size_t)len - offsetof(struct sockaddr_un, sun_path);
        if ((size_t)len <= offsetof(struct sockaddr_un, sun_path) || n > sizeof un->sun_path)
            return EINVAL;
        if (un->sun_path[0])
            n = strnlen(un->sun_path, n);
        memcpy(key + 2, un->sun_path, n);
        *klen = 2 + n;
        return 0;
    }
    default:
        return EINVAL;
    }
}

/* The entry of key, or NULL; table.mu held. */
static struct netEntry *netFind(const unsigned char *key, size_t klen)
{
    for (size_t i = 0; i < PTM_NET_ENDPOINTS; i++) {
        struct netEntry *e = &table.e[i];
        if (e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    }
    return NULL;
}

/* The entry to reuse for a new endpoint: a free one, else the least
** recently recorded one -- among the timeout-only entries alone when
** timeoutOnly and they already fill half the table, so that peers that
** only time out (a scan, a dead subnet) never push out more than half of
** the answers mirrors replay.  table.mu held. */
static struct netEntry *netVictim(int timeoutOnly)
{
    struct netEntry *victim = NULL;
    size_t silent = 0;

    for (size_t i = 0; i < PTM_NET_ENDPOINTS; i++) {
        if (!table.e[i].klen)
            return &table.e[i];
        silent += !table.e[i].answered;
    }
    int among_silent = timeoutOnly && silent >= PTM_NET_ENDPOINTS / 2;
    for (size_t i = 0; i < PTM_NET_ENDPOINTS; i++) {
        struct netEntry *e = &table.e[i];
        if (among_silent && e->answered)
            continue;
        if (!victim || e->seq < victim->seq)
            victim = e;
    }
    return victim;
}

/*
** ptmNetRecordResponse: remembers the first PTM_NET_RESPONSE_MAX bytes of
** data as the latest response the primary received from endpoint peer, and
** latency_ns as the time it took (0: unknown).  A mirror's recv from the same
** endpoint returns these bytes.  What the engine must call: after a primary
** attempt that received data on a connected socket, with getpeername() of
** that socket, the bytes received, and the time from the last send to the
** first receive.  An answer closes the endpoint's recorded timeout (the
** peer answered: mirrors stop replaying it).  Process-wide, thread-safe;
** PTM_NET_ENDPOINTS endpoints, the least recently recorded evicted first.
** Returns PTM_OK, or PTM_EINVAL for a NULL address, an unsupported family
** (AF_INET, AF_INET6, AF_UNIX are) or NULL data with n > 0.
*/
enum ptmRc ptmNetRecordResponse(const struct sockaddr *peer, socklen_t len, const void *data,
                                size_t n, uint64_t latency_ns)
{
    unsigned char key[KEY_MAX];
    struct netEntry *e;
    size_t klen;

    if (addrKey(peer, len, key, &klen) != 0 || (!data && n > 0))
        return PTM_EINVAL;
    if (n > PTM_NET_RESPONSE_MAX)
        n = PTM_NET_RESPONSE_MAX;
    pthread_mutex_lock(&table.mu);
    if (!(e = netFind(key, klen))) {
        e = netVictim(0);
        memset(e, 0, offsetof(struct netEntry, data));
        memcpy(e->key, key, KEY_MAX);
        e->klen = klen;
    }
    if (n)
        memcpy(e->data, data, n);
    e->n = n;
    e->answered = 1;
    e->latency_ns = latency_ns;
    e->timeout = (struct ptmNetTimeout){0};
    e->seq = ++table.seq;
    pthread_mutex_unlock(&table.mu);
    return PTM_OK;
}

/*
** ptmNetRecordTimeout: a primary's blocking receive from endpoint peer
** waited waited_ns and failed with err (EAGAIN: its SO_RCVTIMEO ran out)
** at now_ns (ptmOsNowNs).  Mirrors' receives from the peer then replay the
** timeout (ptmNetConsult), until the peer answers a primary
** (ptmNetRecordResponse) or the timeout goes half-open
** (ptmNetTimeoutOpen).  The answer recorded before, if any, is kept for
** the half-open probe.  A timeout recorded once the last one went
** half-open -- the probe it allowed timed out too -- opens the peer again;
** from the second such probe in a row on, for twice as many replays (up to
** PTM_NET_HALF_OPEN_MAX).  Why not from the first: a failed probe costs
** one call that a plain build would have made anyway, while each replay
** too many after the peer recovered diverts a call that would have
** succeeded; a slow spell a little longer than PTM_NET_HALF_OPEN_FIRST
** calls then costs one failed probe and a few diverted calls, not a whole
** doubled period of them.  A new
** endpoint with no answer takes a free entry, or evicts; timeout-only
** entries never fill more than half the table (netVictim).  Returns
** PTM_OK, or PTM_EINVAL for an address ptmNetRecordResponse refuses or
** err 0.
*/
enum ptmRc ptmNetRecordTimeout(const struct sockaddr *peer, socklen_t len, uint64_t waited_ns,
                               int err, uint64_t now_ns)
{
    unsigned char key[KEY_MAX];
    struct netEntry *e;
    size_t klen;

    if (addrKey(peer, len, key, &klen) != 0 || err == 0)
        return PTM_EINVAL;
    pthread_mutex_lock(&table.mu);
    if (!(e = netFind(key, klen))) {
        e = netVictim(1);
        memset(e, 0, offsetof(struct netEntry, data));
        memcpy(e->key, key, KEY_MAX);
        e->klen = klen;
    }
    struct ptmNetTimeout *t = &e->timeout;
    unsigned open_for = PTM_NET_HALF_OPEN_FIRST, failed = 0;
    if (t->wait_ns) {
        open_for = t->open_for;
        failed = t->failed_probes;
        if (t->probed || !ptmNetTimeoutOpen(t, now_ns)) {
            failed += failed < UINT_MAX;
            if (failed >= 2 && open_for < PTM_NET_HALF_OPEN_MAX)
                open_for *= 2;
        }
    }
    *t = (struct ptmNetTimeout){.wait_ns = waited_ns ? waited_ns : 1, .at_ns = now_ns,
                                .open_for = open_for, .err = err, .failed_probes = failed};
    e->seq = ++table.seq;
    pthread_mutex_unlock(&table.mu);
    return PTM_OK;
}

/*
** ptmNetTimeoutOpen: whether the recorded timeout t still stands at now_ns
** (mirrors replay it), or went half-open (the next mirror lets the primary
** probe the peer).  It stands for t->open_for replays, and for as long as
** that many receives would have waited (open_for times the recorded wait,
** at least 1 ms each, at most PTM_NET_HALF_OPEN_MAX_MS in all): a busy
** caller probes after a few calls, a rare one once the time passed.  A
** clock behind at_ns (not monotonic: a test's, a corrupt entry) counts as
** no time passed.  0 for no timeout (t->wait_ns 0) or a NULL t.
*/
int ptmNetTimeoutOpen(const struct ptmNetTimeout *t, uint64_t now_ns)
{
    if (!t || !t->wait_ns || t->replays >= t->open_for)
        return 0;
    uint64_t age = now_ns > t->at_ns ? now_ns - t->at_ns : 0;
    uint64_t each = t->wait_ns > 1000000u ? t->wait_ns : 1000000u;
    uint64_t cap = (uint64_t)PTM_NET_HALF_OPEN_MAX_MS * 1000000u;
    uint64_t span = each > cap / t->open_for ? cap : each * t->open_for;
    return age < span;
}

/*
** ptmNetConsult: what a mirror's first blocking receive from endpoint peer
** replays at now_ns: a recorded timeout that stands (counted as one more
** replay), else the recorded answer (half_open set when a timeout was
** recorded since: this mirror lets the primary probe the peer), else
** nothing.  Never waits: a table busy (or locked by a thread that did not
** survive a fork) is a table without the endpoint.  In a fork mirror the
** count is the child's own: the parent counts it again from the mirror's
** events (ptmNetCountForkReplays).  OUT: *out.
*/
void ptmNetConsult(const struct sockaddr *peer, socklen_t len, uint64_t now_ns,
                   struct ptmNetPeerView *out)
{
    unsigned char key[KEY_MAX];
    struct netEntry *e;
    size_t klen;

    memset(out, 0, sizeof *out);
    if (addrKey(peer, len, key, &klen) != 0 || pthread_mutex_trylock(&table.mu) != 0)
        return;
    if ((e = netFind(key, klen))) {
        struct ptmNetTimeout *t = &e->timeout;
        if (t->wait_ns) {
            out->age_ns = now_ns > t->at_ns ? now_ns - t->at_ns : 0;
            out->open_for = t->open_for;
        }
        if (ptmNetTimeoutOpen(t, now_ns)) {
            out->replay = PTM_NET_REPLAY_TIMEOUT;
            out->wait_ns = t->wait_ns;
            out->err = t->err;
            out->replays = ++t->replays;
        } else {
            if (t->wait_ns) {
                out->half_open = 1;
                t->probed = 1;
            }
            if (e->answered) {
                out->replay = PTM_NET_REPLAY_ANSWER;
                out->wait_ns = e->latency_ns;
            }
        }
    }
    pthread_mutex_unlock(&table.mu);
}

/* textAddr: the address addrText wrote as text: "a.b.c.d:port",
** "[v6]:port" or "unix:/path".  OUT: *ss.  Its length, 0 for any other
** text. */
static socklen_t textAddr(const char *text, struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN + 2];
    unsigned port;
    int at = 0;

    memset(ss, 0, sizeof *ss);
    if (strncmp(text, "unix:/", 6) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        size_t n = strlen(text + 5);
        if (n >= sizeof un->sun_path)
            return 0;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, text + 5, n + 1);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    if (text[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        if (sscanf(text, "[%47[0-9a-fA-F:.]]:%u%n", ip, &port, &at) != 2 || text[at] ||
            port > 65535 || inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1)
            return 0;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return sizeof *in6;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    if (sscanf(text, "%15[0-9.]:%u%n", ip, &port, &at) != 2 || text[at] || port > 65535 ||
        inet_pton(AF_INET, ip, &in->sin_addr) != 1)
        return 0;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    return sizeof *in;
}

/*
** ptmNetCountForkReplays: a fork mirror replayed recorded timeouts in its
** own copy of the table, whose counts died with it: this counts them in
** the process's table, from the mirror's events (ring: untrusted; its
** strings are read within their fields).  An event counts when it is a
** receive (recv, recvfrom, recvmsg, read) that failed with the detail
** consultPeer gives a replayed timeout, on a target naming an endpoint
** whose timeout still stands.  A forged event can only bring a half-open
** probe sooner: the primary runs, as in a plain build.  ring NULL: nothing.
*/
void ptmNetCountForkReplays(const struct ptmRing *ring)
{
    uint32_t n = ring ? ptmRingCount(ring) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct ptmEvent *ev = &ring->ev[i];
        char target[PTM_TARGET_MAX], detail[PTM_DETAIL_MAX];
        if (ev->kind != PTM_EV_CALL || ev->err == 0 ||
            (ev->call != PTM_CALL_recv && ev->call != PTM_CALL_recvfrom &&
             ev->call != PTM_CALL_recvmsg && ev->call != PTM_CALL_read))
            continue;
        memcpy(detail, ev->detail, sizeof detail);
        detail[sizeof detail - 1] = '\0';
        if (strncmp(detail, "timed out after ", 16) != 0)
            continue;
        memcpy(target, ev->target, sizeof target);
        target[sizeof target - 1] = '\0';
        struct sockaddr_storage ss;
        unsigned char key[KEY_MAX];
        size_t klen;
        socklen_t len = textAddr(target, &ss);
        if (!len || addrKey((struct sockaddr *)&ss, len, key, &klen) != 0)
            continue;
        pthread_mutex_lock(&table.mu);
        struct netEntry *e = netFind(key, klen);
        if (e && e->timeout.wait_ns && e->timeout.replays < e->timeout.open_for)
            e->timeout.replays++;
        pthread_mutex_unlock(&table.mu);
    }
}

/*
** ptmNetForget: empties the endpoint table.
*/
void ptmNetForget(void)
{
    pthread_mutex_lock(&table.mu);
    memset(table.e, 0, sizeof table.e);
    pthread_mutex_unlock(&table.mu);
}

/* Copies up to n bytes from offset off of the response recorded for key.
** Never waits, as ptmNetConsult.  OUT: *total (the response's size),
** *latency.  The count copied, or -1 when there is none. */
static ssize_t netLookup(const unsigned char *key, size_t klen, size_t off, void *buf, size_t n,
                         size_t *total, uint64_t *latency)
{
    ssize_t r = -1;
    struct netEntry *e;

    if (pthread_mutex_trylock(&table.mu) != 0)
        return -1;
    if ((e = netFind(key, klen)) && e->answered) {
        *total = e->n;
        *latency = e->latency_ns;
        if (off > e->n)
            off = e->n;
        if (n > e->n - off)
            n = e->n - off;
        if (n)
            memcpy(buf, e->data + off, n);
        r = (ssize_t)n;
    }
    pthread_mutex_unlock(&table.mu);
    return r;
}

/* ---------------------------------------------------------------- helpers */

static int failWith(int err)
{
    errno = err;
    return -1;
}

/* "127.0.0.1:80", "[::1]:443", "unix:/run/x.sock": an address for events. */
static void addrText(const struct sockaddr *a, socklen_t len, char *dst, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];

    if (!a || len < (socklen_t)sizeof(sa_family_t)) {
        ptmCopyField(dst, cap, "?");
        return;
    }
    switch (a->sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
        snprintf(dst, cap, "%s:%u", ip, ntohs(((const struct sockaddr_in *)a)->sin_port));
        return;
    case AF_INET6:
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
        snprintf(dst, cap, "[%s]:%u", ip, ntohs(((const struct sockaddr_in6 *)a)->sin6_port));
        return;
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)a;
        size_t n = (size_t)len > offsetof(struct sockaddr_un, sun_path)
                       ? (size_t)len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n > sizeof un->sun_path)
            n = sizeof un->sun_path;
        if (n && un->sun_path[0])
            snprintf(dst, cap, "unix:%.*s", (int)strnlen(un->sun_path, n), un->sun_path);
        else
            snprintf(dst, cap, "unix:@%.*s", n > 1 ? (int)n - 1 : 0, n > 1 ? un->sun_path + 1 : "");
        return;
    }
    default:
        snprintf(dst, cap, "family %d", a->sa_family);
    }
}

/* The target of a socket event: the peer when known, else "fd N". */
static void sockTarget(struct ptmMirror *m, struct ptmSimFile *f, int fd, char *dst, size_t cap)
{
    /* A socket of the host: the primary will use it too, with the call's
    ** timeouts (adjust.c). */
    if (f && f->kind == PTM_SIM_BORROWED)
        ptmRingNoteSocket(m->ring, fd);
    if (f && f->sock && f->sock->connected)
        addrText((const struct sockaddr *)&f->sock->peer, f->sock->peer_len, dst, cap);
    else
        ptmShimFdTarget(m, fd, dst, cap);
}

/* The mirror's state of a socket entry, made for a host socket on first
** need (its type, and whether it is connected, probed).  NULL when out of
** memory. */
static struct ptmSimSock *sockState(struct ptmSimFile *f)
{
    struct ptmSimSock *s;
    socklen_t len;
    int v;

    if (f->sock)
        return f->sock;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    s->type = SOCK_STREAM;
    if (f->fd >= 0) {
        len = sizeof v;
        if (ptmOs.getsockopt(f->fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0)
            s->type = v;
        len = sizeof v;
        if (ptmOs.getsockopt(f->fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0)
            s->domain = v;
        s->peer_len = sizeof s->peer;
        if (ptmOs.getpeername(f->fd, (struct sockaddr *)&s->peer, &s->peer_len) == 0)
            s->connected = 1;
        else
            s->peer_len = 0;
    }
    f->sock = s;
    return s;
}

static int stream(const struct ptmSimSock *s)
{
    return s->type == SOCK_STREAM || s->type == SOCK_SEQPACKET;
}

static int nonblocking(const struct ptmSimFile *f, int flags)
{
    return (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
}

/* ---------------------------------------------------------------- socket */

/*
** ptm_shim_socket: socket(2).  In a mirror: a real socket, never connected
** (its creation is harmless and fails as the real one would), which the
** mirror's other socket shims then simulate.
*/
int ptm_shim_socket(int domain, int type, int proto)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimFile *f = NULL;
    struct ptmEvent *ev;
    uint64_t t0;
    int fd, err = 0;

    if (!m)
        return socket(domain, type, proto);
    t0 = ptmOsNowNs();
    if ((fd = ptmOs.socket(domain, type, proto)) < 0) {
        err = errno;
    } else if (!(f = ptmSimAdd(m, PTM_SIM_SOCKET, fd, O_RDWR | ((type & SOCK_NONBLOCK) ? O_NONBLOCK : 0),
                               S_IFSOCK)) ||
               !(f->sock = calloc(1, sizeof *f->sock))) {
        if (f)
            ptmSimRemove(f);
        else
            ptmOs.close(fd);
        fd = -1;
        err = ENOMEM;
    } else {
        f->sock->domain = domain;
        f->sock->type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
        f->sock->proto = proto;
    }
    ev = ptmMirrorRecordCall(PTM_CALL_socket, t0, "socket", fd, err, 0);
    if (ev)
        snprintf(ev->detail, sizeof ev->detail, "domain %d type %d", domain, type);
    return err ? failWith(err) : fd;
}

/* ---------------------------------------------------------------- connect */

/* Would a connect to Unix socket path succeed?  Read-only: stat, access,
** and /proc/net/unix for a listener bound to that path.  0 or an errno. */
static int unixReachable(const struct sockaddr_un *un, socklen_t len)
{
    char path[sizeof un->sun_path + 1], line[512];
    struct stat st;
    size_t n = (size_t)len - offsetof(struct sockaddr_un, sun_path);
    FILE *fp;
    int err, found = 0, listening = 0;

    if (n == 0 || !un->sun_path[0])
        return 0;                           /* abstract: nothing to look at */
    if (n > sizeof un->sun_path)
        n = sizeof un->sun_path;
    memcpy(path, un->sun_path, n);
    path[strnlen(path, n)] = '\0';
    if ((err = ptmProbeStat(path, &st)) != 0)
        return err;
    if (!S_ISSOCK(st.st_mode))
        return ECONNREFUSED;
    if ((err = ptmProbeAccess(path, W_OK)) != 0)
        return err;
    /* "Num RefCount Protocol Flags Type St Inode Path"; Flags 00010000 is
    ** __SO_ACCEPTCON: listening.  A path bound relative to another working
    ** directory cannot be matched: unknown, then, and taken as reachable. */
    if (!(fp = fopen("/proc/net/unix", "re")))
        return 0;
    while (fgets(line, sizeof line, fp)) {
        unsigned long flags;
        char *p;
        int at = 0;
        if (sscanf(line, "%*s %*s %*s %lx %*x %*x %*u %n", &flags, &at) != 1 || at <= 0)
            continue;
        p = line + at;
        p[strcspn(p, "\n")] = '\0';
        if (!p[0] || p[0] == '@')
            continue;                       /* unnamed, or abstract */
        if (p[0] != '/')
            found |= 2;                     /* a relative path: cannot tell */
        if (strcmp(p, path) == 0) {
            found |= 1;
            if (flags & 0x10000)
                listening = 1;
        }
    }
    fclose(fp);
    if (listening || (found & 2))
        return 0;
    return ECONNREFUSED;
}

/* Probes a TCP connect to a, when the environment allows it.  OUT: detail.
** 0 (reachable, or no answer within the probe's timeout, or not probed),
** or the errno of the refusal. */
static int probeConnect(struct ptmMirror *m, const struct sockaddr *a, socklen_t len, int domain,
                        char *detail, size_t cap)
{
    const char *env = getenv("PTM_PROBE_CONNECT"), *tenv = getenv("PTM_PROBE_TIMEOUT_MS");
    long timeout = tenv ? strtol(tenv, NULL, 10) : PROBE_TIMEOUT_MS;
    struct pollfd pfd;
    socklen_t elen = sizeof(int);
    uint64_t t0;
    int s, r, err = 0;

    if (!env || strcmp(env, "1") != 0) {
        ptmCopyField(detail, cap, "not probed");
        return 0;
    }
    if (m->in_child) {
        ptmCopyField(detail, cap, "not probed: fork child");
        return 0;
    }
    if (timeout <= 0 || timeout > 10000)
        timeout = PROBE_TIMEOUT_MS;
    if ((s = ptmOs.socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        ptmCopyField(detail, cap, "not probed: no socket");
        return 0;
    }
    t0 = ptmOsNowNs();
    if ((r = ptmOs.connect(s, a, len)) != 0 && errno == EINPROGRESS) {
        pfd = (struct pollfd){.fd = s, .events = POLLOUT};
        while ((r = ptmOs.poll(&pfd, 1, (int)timeout)) < 0 && errno == EINTR)
            ;
        if (r == 0) {
            snprintf(detail, cap, "probe: no answer in %ldms", timeout);
            ptmTimeAdvance(m, (uint64_t)timeout * 1000000u);
            ptmOs.close(s);
            return 0;
        }
        if (ptmOs.getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
            err = errno;
    } else if (r != 0) {
        err = errno;
    }
    ptmOs.close(s);
    if (err)
        snprintf(detail, cap, "probe: %s", strerror(err));
    else
        snprintf(detail, cap, "probe: rtt %.3fms", (double)(ptmOsNowNs() - t0) / 1e6);
    return err;
}

/*
** ptm_shim_connect: connect(2).  In a mirror: checked (EBADF, ENOTSOCK,
** EISCONN, EAFNOSUPPORT, a Unix path's ENOENT / EACCES / ECONNREFUSED, a
** probe's ECONNREFUSED / ENETUNREACH / EHOSTUNREACH with PTM_PROBE_CONNECT=1)
** and simulated: the socket counts as connected to addr from now on;
** EINPROGRESS for a non-blocking TCP socket, as the real call would.
*/
int ptm_shim_connect(int fd, PTM_CONST_SOCKADDR_ARG addr, socklen_t len)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    const struct sockaddr *a = CONST_ADDR(addr);
    char target[PTM_TARGET_MAX], detail[PTM_DETAIL_MAX] = "";
    struct ptmSimFile *f;
    struct ptmSimSock *s = NULL;
    struct ptmEvent *ev;
    uint64_t t0;
    int err, r = -1;

    if (!m)
        return connect(fd, addr, len);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err && f->type == 0)
        r = 0;                              /* a fork child's unknown host descriptor */
    else if (!err && !ptmSimIsSocket(f))
        err = ENOTSOCK;
    else if (!err && !(s = sockState(f)))
        err = ENOMEM;
    else if (!err && !a)
        err = EFAULT;
    else if (!err && len < (socklen_t)sizeof(sa_family_t))
        err = EINVAL;
    else if (!err && stream(s) && s->connected)
        err = EISCONN;
    else if (!err && s->domain && a->sa_family != s->domain && a->sa_family != AF_UNSPEC)
        err = EAFNOSUPPORT;
    else if (!err && a->sa_family == AF_UNIX)
        err = unixReachable((const struct sockaddr_un *)a, len);
    else if (!err && stream(s) && (a->sa_family == AF_INET || a->sa_family == AF_INET6))
        err = probeConnect(m, a, len, a->sa_family, detail, sizeof detail);
    if (!err && s) {
        r = 0;
        if (a->sa_family == AF_UNSPEC) {
            s->connected = 0;               /* a datagram socket's disconnect */
        } else {
            s->connected = 1;
            s->peer_len = len > (socklen_t)sizeof s->peer ? (socklen_t)sizeof s->peer : len;
            memcpy(&s->peer, a, s->peer_len);
            s->rx_off = 0;
            s->waited = 0;
        }
        if (stream(s) && (f->flags & O_NONBLOCK) &&
            (a->sa_family == AF_INET || a->sa_family == AF_INET6)) {
            r = -1;
            err = EINPROGRESS;
        }
    }
    if (a && len >= (socklen_t)sizeof(sa_family_t))
        addrText(a, len, target, sizeof target);
    else
        ptmShimFdTarget(m, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(PTM_CALL_connect, t0, target, r, err == EINPROGRESS ? 0 : err, 0);
    if (ev && detail[0])
        ptmCopyField(ev->detail, sizeof ev->detail, detail);
    return err ? failWith(err) : r;
}

/* ------------------------------------------------------------------ send */

/* A host socket's state for a send: EPIPE, ECONNRESET, EAGAIN or 0.
** OUT: detail ("would block"). */
static int hostSendState(struct ptmSimFile *f, int flags, char *detail, size_t cap)
{
    struct pollfd p = {.fd = f->fd, .events = POLLOUT};
    int r;

    while ((r = ptmOs.poll(&p, 1, 0)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return 0;
    if (p.revents & POLLNVAL)
        return EBADF;
    if (p.revents & POLLHUP)
        return EPIPE;
    if (p.revents & POLLERR) {
        if (detail)
            ptmCopyField(detail, cap, "pending socket error");
        return ECONNRESET;
    }
    if (!(p.revents & POLLOUT)) {
        if (nonblocking(f, flags))
            return EAGAIN;
        if (detail)
            ptmCopyField(detail, cap, "would block");
    }
    return 0;
}

/*
** ptmNetSend: send(2)/sendto(2) of n bytes on socket entry f, simulated:
** nothing is sent.  to: a sendto's destination, or NULL.  Predicts EPIPE
** (shut down for writing, or a TCP socket that is not connected), ENOTCONN
** (a Unix stream socket that is not), EDESTADDRREQ (a datagram socket
** without a destination), EMSGSIZE (a UDP datagram over 65507 bytes), and
** for a host socket EPIPE / ECONNRESET / EAGAIN from its probed state.
** OUT: *err; detail (cap bytes; may be NULL).  Returns n or -1.
*/
ssize_t ptmNetSend(struct ptmSimFile *f, size_t n, int flags, const struct sockaddr *to,
                   socklen_t tolen, int *err, char *detail, size_t cap)
{
    struct ptmSimSock *s;
    int mirrorConnected;

    *err = 0;
    if (f->type == 0)
        return (ssize_t)n;                  /* unknown: a fork child's stand-in */
    if (!ptmSimIsSocket(f)) {
        *err = ENOTSOCK;
        return -1;
    }
    if (!(s = sockState(f))) {
        *err = ENOMEM;
        return -1;
    }
    mirrorConnected = f->kind == PTM_SIM_SOCKET;
    if (s->shut_wr) {
        *err = EPIPE;
    } else if (stream(s) && !s->connected) {
        *err = s->domain == AF_UNIX ? ENOTCONN : EPIPE;
    } else if (!stream(s) && !s->connected && !to) {
        *err = EDESTADDRREQ;
    } else if (!stream(s) && (s->domain == AF_INET || s->domain == AF_INET6) && n > 65507) {
        *err = EMSGSIZE;
    } else if (!mirrorConnected && f->fd >= 0 && s->connected) {
        *err = hostSendState(f, flags, detail, cap);
    }
    (void)tolen;
    if (*err)
        return -1;
    return n > SSIZE_MAX ? SSIZE_MAX : (ssize_t)n;
}

static ssize_t mirrorSend(struct ptmMirror *m, enum ptmCall call, int fd, size_t n, int flags,
                          const struct sockaddr *to, socklen_t tolen)
{
    char target[PTM_TARGET_MAX], detail[PTM_DETAIL_MAX] = "";
    struct ptmSimFile *f = NULL;
    struct ptmEvent *ev;
    uint64_t t0 = ptmOsNowNs();
    ssize_t r = -1;
    int err;

    err = ptmSimEntry(m, fd, &f);
    if (!err && (f->flags & O_ACCMODE) == O_RDONLY && f->type != S_IFSOCK && f->type != 0)
        err = EBADF;
    if (!err)
        r = ptmNetSend(f, n, flags, to, tolen, &err, detail, sizeof detail);
    if (to && tolen >= (socklen_t)sizeof(sa_family_t))
        addrText(to, tolen, target, sizeof target);
    else
        sockTarget(m, f, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(call, t0, target, r, err, r > 0 ? (uint64_t)r : 0);
    if (ev && detail[0])
        ptmCopyField(ev->detail, sizeof ev->detail, detail);
    ptmShimNoteSignal(ev, err, flags & MSG_NOSIGNAL);
    return r < 0 ? failWith(err) : r;
}

/*
** ptm_shim_send: send(2).  In a mirror: nothing is sent; the bytes are
** recorded and the length returned, or the error the socket's state gives.
*/
ssize_t ptm_shim_send(int fd, const void *buf, size_t n, int flags)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return send(fd, buf, n, flags);
    return mirrorSend(m, PTM_CALL_send, fd, n, flags, NULL, 0);
}

/*
** ptm_shim_sendto: sendto(2), as ptm_shim_send to address to.
*/
ssize_t ptm_shim_sendto(int fd, const void *buf, size_t n, int flags, PTM_CONST_SOCKADDR_ARG to,
                        socklen_t tolen)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return sendto(fd, buf, n, flags, to, tolen);
    return mirrorSend(m, PTM_CALL_sendto, fd, n, flags, CONST_ADDR(to), tolen);
}

/*
** ptm_shim_sendmsg: sendmsg(2), as ptm_shim_sendto with the total length
** of the message's iovecs.
*/
ssize_t ptm_shim_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    size_t i, n = 0;

    if (!m)
        return sendmsg(fd, msg, flags);
    if (!msg)
        return failWith(EFAULT);
    for (i = 0; i < msg->msg_iovlen; i++)
        n += msg->msg_iov[i].iov_len;
    return mirrorSend(m, PTM_CALL_sendmsg, fd, n, flags, msg->msg_name, msg->msg_namelen);
}

/* ------------------------------------------------------------------ recv */

/* sockNote: the detail (and flags) of the event of s's current receive. */
static void sockNote(struct ptmSimSock *s, uint32_t flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sockNote(struct ptmSimSock *s, uint32_t flags, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->note, sizeof s->note, fmt, ap);
    va_end(ap);
    s->note_flags = flags;
}

/* consultPeer: the first blocking receive on s: whether it replays the
** peer's recorded timeout (then -1 with *err, after the recorded wait on
** the virtual clock, and s->timed_out set) or goes on to its answer (0; a
** half-open probe noted on the event). */
static int consultPeer(struct ptmSimFile *f, struct ptmSimSock *s, int *err)
{
    struct ptmNetPeerView v;

    ptmNetConsult((const struct sockaddr *)&s->peer, s->peer_len, ptmOsNowNs(), &v);
    if (v.replay == PTM_NET_REPLAY_TIMEOUT) {
        ptmTimeAdvance(f->mirror, v.wait_ns);
        s->waited = s->timed_out = 1;
        sockNote(s, 0, "timed out after %.1fms, %.0fms ago (%u of %u)", (double)v.wait_ns / 1e6,
                 (double)v.age_ns / 1e6, v.replays, v.open_for);
        *err = v.err;
        return -1;
    }
    if (v.half_open)
        sockNote(s, PTM_EVF_HALF_OPEN, "half-open: timed out %.0fms ago",
                 (double)v.age_ns / 1e6);
    return 0;
}

/*
** ptmNetRecv: recv(2)/recvfrom(2) on socket entry f.  The first blocking
** receive of a connected socket replays the peer's recorded timeout while
** it stands (ptmNetConsult): -1 with the errno the primary's receive met
** (EAGAIN: its SO_RCVTIMEO), after the time it waited, on the virtual
** clock; the receives after it on that socket are invented (the late
** answer may come or not).  Otherwise: the response recorded for its peer,
** from where the mirror's earlier receives stopped (MSG_PEEK does not
** advance; a datagram socket takes a whole response per call), advancing
** the virtual clock by the recorded latency at the response's first byte;
** else EAGAIN when non-blocking (O_NONBLOCK, MSG_DONTWAIT) and 0
** otherwise.  When no response is recorded for the peer (or the peer is
** unknown: an unconnected datagram socket, a fork child's stand-in), that
** EAGAIN or 0 is invented: f->unrecorded is set for the caller's event
** (ptmShimNoteRecv).  ENOTCONN for a stream socket that is not connected.
** from, fromlen: as recvfrom's (may be NULL).  Returns the count or -1
** with *err.
*/
ssize_t ptmNetRecv(struct ptmSimFile *f, void *buf, size_t n, int flags,
                   struct sockaddr *from, socklen_t *fromlen, int *err)
{
    unsigned char key[KEY_MAX];
    struct ptmSimSock *s;
    size_t klen, total = 0;
    uint64_t latency = 0;
    ssize_t r = -1;

    *err = 0;
    if (f->type == 0) {
        f->unrecorded = 1;                  /* its peer, and what it sends, are unknown */
        if (nonblocking(f, flags)) {
            *err = EAGAIN;
            return -1;
        }
        return 0;
    }
    if (!ptmSimIsSocket(f)) {
        *err = ENOTSOCK;
        return -1;
    }
    if (!(s = sockState(f))) {
        *err = ENOMEM;
        return -1;
    }
    if (stream(s) && !s->connected) {
        *err = ENOTCONN;
        return -1;
    }
    if (s->shut_rd)
        return 0;
    if (s->connected && !s->waited && !nonblocking(f, flags) && consultPeer(f, s, err) != 0)
        return -1;
    if (s->connected && !s->timed_out &&
        addrKey((struct sockaddr *)&s->peer, s->peer_len, key, &klen) == 0)
        r = netLookup(key, klen, s->rx_off, buf, n, &total, &latency);
    if (r > 0 || (r == 0 && total == 0 && s->rx_off == 0 && stream(s))) {
        /* A recorded response (an empty one is the peer's close); the
        ** wait for it counts once. */
        if (!s->waited && latency)
            ptmTimeAdvance(f->mirror, latency);
        s->waited = 1;
        if (!(flags & MSG_PEEK))
            s->rx_off = stream(s) ? s->rx_off + (size_t)r : total;
        if (from && fromlen) {
            socklen_t k = *fromlen < s->peer_len ? *fromlen : s->peer_len;
            memcpy(from, &s->peer, k);
            *fromlen = s->peer_len;
        }
        return r;
    }
    /* r < 0: nothing recorded for this peer (a table too busy to look
    ** counts as that), or what comes after a replayed timeout.  r == 0
    ** here: the recorded response was taken. */
    if (r < 0)
        f->unrecorded = 1;
    if (nonblocking(f, flags)) {
        *err = EAGAIN;
        return -1;
    }
    return 0;
}

static const struct ptmSimSocketIo netIo = {ptmNetSend, ptmNetRecv};

/* netEnter: sim.c hands the reads and writes of m's socket entries here. */
static void netEnter(struct ptmMirror *m)
{
    ptmSimWorldOf(m)->sockets = &netIo;
}

const struct ptmShimFamily ptmNetFamily = {.name = "net", .enter = netEnter};

static ssize_t mirrorRecv(struct ptmMirror *m, enum ptmCall call, int fd, void *buf, size_t n,
                          int flags, struct sockaddr *from, socklen_t *fromlen)
{
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f = NULL;
    uint64_t t0 = ptmOsNowNs();
    ssize_t r = -1;
    int err;

    err = ptmSimEntry(m, fd, &f);
    if (!err && (f->flags & O_ACCMODE) == O_WRONLY && f->type != S_IFSOCK && f->type != 0)
        err = EBADF;
    if (!err)
        r = ptmNetRecv(f, buf, n, flags, from, fromlen, &err);
    sockTarget(m, f, fd, target, sizeof target);
    ptmShimNoteRecv(f, ptmMirrorRecordRead(call, t0, target, r, err, r > 0 ? (uint64_t)r : 0));
    return r < 0 ? failWith(err) : r;
}

/*
** ptm_shim_recv: recv(2).  In a mirror: the response the primary last
** received from the same peer, when recorded; else EAGAIN (non-blocking) or
** an empty read.  Nothing the host could receive is taken.
*/
ssize_t ptm_shim_recv(int fd, void *buf, size_t n, int flags)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return recv(fd, buf, n, flags);
    return mirrorRecv(m, PTM_CALL_recv, fd, ptmRedoOut(buf, n), n, flags, NULL, NULL);
}

/*
** ptm_shim_recvfrom: recvfrom(2), as ptm_shim_recv; from is the peer.
*/
ssize_t ptm_shim_recvfrom(int fd, void *restrict buf, size_t n, int flags,
                          PTM_SOCKADDR_ARG from, socklen_t *restrict fromlen)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        return recvfrom(fd, buf, n, flags, from, fromlen);
    struct sockaddr *peer = ADDR(from);
    if (fromlen) {
        fromlen = ptmRedoOut(fromlen, sizeof *fromlen);
        peer = ptmRedoOut(peer, *fromlen);
    }
    return mirrorRecv(m, PTM_CALL_recvfrom, fd, ptmRedoOut(buf, n), n, flags, peer, fromlen);
}

/*
** ptm_shim_recvmsg: recvmsg(2), as ptm_shim_recv scattered into the
** message's iovecs; no control data.
*/
ssize_t ptm_shim_recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    unsigned char *tmp;
    size_t i, n = 0, off = 0, k;
    socklen_t namelen;
    ssize_t r;

    if (!m)
        return recvmsg(fd, msg, flags);
    if (!msg)
        return failWith(EFAULT);
    for (i = 0; i < msg->msg_iovlen; i++)
        n += msg->msg_iov[i].iov_len;
    if (!(tmp = malloc(n ? n : 1)))
        return failWith(ENOMEM);
    namelen = msg->msg_namelen;
    r = mirrorRecv(m, PTM_CALL_recvmsg, fd, tmp, n, flags, msg->msg_name,
                   msg->msg_name ? &namelen : NULL);
    if (r > 0) {
        for (i = 0; i < msg->msg_iovlen && off < (size_t)r; i++) {
            k = msg->msg_iov[i].iov_len < (size_t)r - off ? msg->msg_iov[i].iov_len : (size_t)r - off;
            memcpy(msg->msg_iov[i].iov_base, tmp + off, k);
            off += k;
        }
    }
    if (r >= 0) {
        if (msg->msg_name)
            msg->msg_namelen = namelen;
        msg->msg_controllen = 0;
        msg->msg_flags = 0;
    }
    free(tmp);
    return r;
}

/* ------------------------------------------------------ shutdown, options */

/*
** ptm_shim_shutdown: shutdown(2).  In a mirror: EINVAL, ENOTSOCK, ENOTCONN
** (a stream socket that is not connected) are checked; the mirror's view
** of the socket is shut down (later sends fail with EPIPE, receives read
** 0); the real socket is not touched.
*/
int ptm_shim_shutdown(int fd, int how)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f = NULL;
    struct ptmSimSock *s = NULL;
    uint64_t t0;
    int err;

    if (!m)
        return shutdown(fd, how);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err && how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        err = EINVAL;
    else if (!err && f->type != 0 && !ptmSimIsSocket(f))
        err = ENOTSOCK;
    else if (!err && f->type != 0 && !(s = sockState(f)))
        err = ENOMEM;
    else if (!err && s && stream(s) && !s->connected)
        err = ENOTCONN;
    if (!err && s) {
        s->shut_rd |= how != SHUT_WR;
        s->shut_wr |= how != SHUT_RD;
    }
    sockTarget(m, f, fd, target, sizeof target);
    ptmMirrorRecordCall(PTM_CALL_shutdown, t0, target, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_setsockopt: setsockopt(2).  In a mirror: EBADF, ENOTSOCK, EFAULT
** checked; the option is recorded, not applied.
*/
int ptm_shim_setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f = NULL;
    struct ptmEvent *ev;
    uint64_t t0;
    int err;

    if (!m)
        return setsockopt(fd, level, opt, val, len);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err && f->type != 0 && !ptmSimIsSocket(f))
        err = ENOTSOCK;
    else if (!err && !val && len > 0)
        err = EFAULT;
    sockTarget(m, f, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(PTM_CALL_setsockopt, t0, target, err ? -1 : 0, err, 0);
    if (ev)
        snprintf(ev->detail, sizeof ev->detail, "level %d option %d", level, opt);
    return err ? failWith(err) : 0;
}

/* ------------------------------------------------------------------------
** A primary's receives
*/

/* peerOf: the peer of fd's receive: peer when given, else fd's connected
** peer.  OUT: *ss.  Its length, 0 when unknown. */
static socklen_t peerOf(int fd, const struct sockaddr *peer, socklen_t peer_len,
                        struct sockaddr_storage *ss)
{
    socklen_t len = sizeof *ss;
    if (peer && peer_len) {
        len = peer_len < (socklen_t)sizeof *ss ? peer_len : (socklen_t)sizeof *ss;
        memcpy(ss, peer, len);
        return len;
    }
    if (ptmOs.getpeername(fd, (struct sockaddr *)ss, &len) != 0)
        return 0;
    return len;
}

/* recordReceived: the r bytes at buf, received on fd from peer (NULL:
** fd's connected peer) in latency_ns, remembered as that endpoint's latest
** response.  errno is left as it was. */
static void recordReceived(int fd, const struct sockaddr *peer, socklen_t peer_len,
                           const void *buf, ssize_t r, uint64_t latency_ns)
{
    int saved = errno;
    struct sockaddr_storage ss;
    socklen_t len = peerOf(fd, peer, peer_len, &ss);
    if (len)
        (void)ptmNetRecordResponse((const struct sockaddr *)&ss, len, buf, (size_t)r, latency_ns);
    errno = saved;
}

/* recordTimeout: a receive on fd with flags failed with err after
** waiting waited_ns.  When that was a blocking receive running out of time
** (EAGAIN on a socket without O_NONBLOCK, not MSG_DONTWAIT: its
** SO_RCVTIMEO), it becomes the timeout of fd's connected peer.  errno is
** left as it was. */
static void recordTimeout(int fd, int flags, int err, uint64_t waited_ns)
{
    if ((err != EAGAIN && err != EWOULDBLOCK) || (flags & MSG_DONTWAIT))
        return;
    int saved = errno, fl = ptmOs.fcntl_getfl(fd);
    struct sockaddr_storage ss;
    socklen_t len;
    if (fl >= 0 && !(fl & O_NONBLOCK) && (len = peerOf(fd, NULL, 0, &ss)) != 0)
        (void)ptmNetRecordTimeout((const struct sockaddr *)&ss, len, waited_ns, err,
                                  ptmOsNowNs());
    errno = saved;
}

/*
** ptm_primary_recv, ptm_primary_recvfrom: recv(2), recvfrom(2) of a
** primary: the real call; what it received (not a MSG_PEEK) becomes the
** peer's recorded response, and the time the call waited its latency, so
** that a later mirror's receive from that endpoint returns it instead of
** an answer it would have to invent.  A blocking receive that ran out of
** time (EAGAIN: SO_RCVTIMEO) becomes the connected peer's recorded
** timeout, which later mirrors replay until it goes half-open.
*/
ssize_t ptm_primary_recv(int fd, void *buf, size_t n, int flags)
{
    uint64_t t0 = ptmOsNowNs();
    ssize_t r = recv(fd, buf, n, flags);
    if (r > 0 && !(flags & MSG_PEEK))
        recordReceived(fd, NULL, 0, buf, r, ptmOsNowNs() - t0);
    else if (r < 0)
        recordTimeout(fd, flags, errno, ptmOsNowNs() - t0);
    return r;
}

ssize_t ptm_primary_recvfrom(int fd, void *restrict buf, size_t n, int flags,
                             PTM_SOCKADDR_ARG from, socklen_t *restrict fromlen)
{
    uint64_t t0 = ptmOsNowNs();
    ssize_t r = recvfrom(fd, buf, n, flags, from, fromlen);
    if (r > 0 && !(flags & MSG_PEEK))
        recordReceived(fd, ADDR(from), fromlen ? *fromlen : 0, buf, r, ptmOsNowNs() - t0);
    else if (r < 0)
        recordTimeout(fd, flags, errno, ptmOsNowNs() - t0);
    return r;
}
