/*
** shims/net_peers.c - the endpoint table: per peer of the process's sockets,
** what the last primary receive from it met (an answer, or a timeout), for
** mirrors to replay (shims/net.c), and how long its slow spells lasted.
**
** A spell begins when a primary's blocking receive (or wait for read
** readiness) from the peer runs out of time, and ends when a primary
** receives from it again.  While it lasts, each mirror that consults the
** peer (its first blocking receive, or a poll for its readiness) is one
** call of the spell: the calls before the spell's probe replay the
** timeout, and the probe (half-open) replays the last answer so that the
** primary finds out whether the peer recovered.  The spell's length is
** learnt in calls, because a diverted call takes microseconds: a busy
** caller would pass any time bound in a few calls, and a rare one would
** need a count of calls minutes apart.  The probe also comes once as long
** passed as the replays would have waited (each the recorded wait, at
** least 1 ms, at most PTM_NET_HALF_OPEN_MAX_MS in all).
**
** What a spell teaches is bounded on one side only, unless a probe failed:
** a probe that succeeds says the spell lasted at most the calls before it
** ("hi"), one that times out says it lasted at least that many.  So:
**   - a peer with no spell learnt probes after PTM_NET_HALF_OPEN_FIRST
**     replays;
**   - each spell that ends is remembered (the last PTM_NET_SPELLS) as its
**     hi and whether a probe of it failed; the next spell probes after the
**     upper median of their estimates: hi itself for a spell a failed
**     probe bracketed, else three quarters of hi (only an upper bound is
**     known: the next spell explores a quarter below it).  Once any
**     remembered spell had a failed probe, none explores below its hi: the
**     exploration already cost a failed call, and a replay too many costs
**     only a diverted one.  When the last spell had a failed probe, the
**     next one probes no sooner than it ended: the spells grew, and the
**     median of shorter ones would fail the same way again;
**   - a probe that fails is followed by the next after half as many calls
**     again (x1.5, from call 5: 8, 12 ...), or sooner at the calls that
**     ended the remembered spells (their median hi), since this one should
**     be over by then too; never more than PTM_NET_HALF_OPEN_MAX replays
**     between two probes.
** A failed probe costs one call a plain build makes anyway; a replay after
** the peer recovered diverts a call that would have succeeded.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shims_int.h"

/* An endpoint's key: family, address, port (or path). */
#define KEY_MAX (sizeof(struct sockaddr_un) + 4)

/* A spell that ended: the calls before its first successful probe, and
** whether a probe of it failed. */
struct netSpell {
    uint16_t hi;
    uint8_t failed;
};

struct netEntry {
    unsigned char key[KEY_MAX];
    size_t klen;                  /* 0: unused */
    int answered;                 /* data holds a response (else: a timeout alone) */
    size_t n;                     /* bytes of data */
    uint64_t latency_ns;
    uint64_t seq;                 /* when recorded, for eviction */
    struct ptmNetTimeout timeout; /* the spell under way (wait_ns > 0) */
    struct netSpell spells[PTM_NET_SPELLS]; /* the last spells that ended, a ring */
    unsigned nspells, next_spell;
    unsigned char data[PTM_NET_RESPONSE_MAX];
};

static struct {
    pthread_mutex_t mu;
    uint64_t seq;
    struct netEntry e[PTM_NET_ENDPOINTS];
} table = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The table's lock is a leaf. */
PTM_HOLD_ACROSS_FORK(table, &table.mu)

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

/* The entry of key, made (emptied, keyed) from a victim when there is
** none.  table.mu held. */
static struct netEntry *netEntryFor(const unsigned char *key, size_t klen, int timeoutOnly)
{
    struct netEntry *e = netFind(key, klen);
    if (!e) {
        e = netVictim(timeoutOnly);
        memset(e, 0, offsetof(struct netEntry, data));
        memcpy(e->key, key, KEY_MAX);
        e->klen = klen;
    }
    return e;
}

/* ------------------------------------------------------- the learnt cadence */

/* Upper median of v[0..n) (n >= 1), sorted in place. */
static unsigned upperMedian(unsigned *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            unsigned x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return v[n / 2];
}

/* spellReplays: how many calls of a new spell of e replay its timeout
** before the probe: PTM_NET_HALF_OPEN_FIRST with no spell remembered,
** else the upper median of the remembered spells' estimates (the file's
** comment), and at least the last spell's hi when a probe of it failed,
** at most PTM_NET_HALF_OPEN_MAX.  table.mu held. */
static unsigned spellReplays(const struct netEntry *e)
{
    unsigned v[PTM_NET_SPELLS], n = e->nspells < PTM_NET_SPELLS ? e->nspells : PTM_NET_SPELLS;
    int any_failed = 0;

    if (n == 0)
        return PTM_NET_HALF_OPEN_FIRST;
    for (unsigned i = 0; i < n; i++)
        any_failed |= e->spells[i].failed;
    for (unsigned i = 0; i < n; i++) {
        unsigned hi = e->spells[i].hi;
        v[i] = any_failed ? hi : hi - hi / 4;
    }
    unsigned m = upperMedian(v, n);
    const struct netSpell *last = &e->spells[(e->next_spell + PTM_NET_SPELLS - 1) % PTM_NET_SPELLS];
    if (last->failed && last->hi > m)
        m = last->hi;
    return m < PTM_NET_HALF_OPEN_MAX ? m : PTM_NET_HALF_OPEN_MAX;
}

/* medianHi: the upper median of the remembered spells' hi (the calls by
** which they had ended), 0 with none.  table.mu held. */
static unsigned medianHi(const struct netEntry *e)
{
    unsigned v[PTM_NET_SPELLS], n = e->nspells < PTM_NET_SPELLS ? e->nspells : PTM_NET_SPELLS;
    if (n == 0)
        return 0;
    for (unsigned i = 0; i < n; i++)
        v[i] = e->spells[i].hi;
    return upperMedian(v, n);
}

/* nextProbe: the call of t's spell that probes after a probe at call p
** failed (p >= 1): p x 1.5, or the call after the remembered spells'
** median hi when that comes sooner and after p; after t->calls, and at
** most PTM_NET_HALF_OPEN_MAX replays on. */
static unsigned nextProbe(const struct netEntry *e, const struct ptmNetTimeout *t, unsigned p)
{
    uint64_t next = (uint64_t)p + (p + 1) / 2;
    unsigned h = medianHi(e);
    if (h >= p && (uint64_t)h + 1 < next)
        next = (uint64_t)h + 1;
    if (next <= t->calls)
        next = (uint64_t)t->calls + 1;
    if (next > (uint64_t)t->calls + 1 + PTM_NET_HALF_OPEN_MAX)
        next = (uint64_t)t->calls + 1 + PTM_NET_HALF_OPEN_MAX;
    return next > UINT_MAX ? UINT_MAX : (unsigned)next;
}

/* spellEnds: e's spell under way ended with an answer: remembered as its
** hi (the calls before its first probe; all its calls when no probe was
** seen: a fork mirror's probe counts in the child) and whether a probe
** failed.  table.mu held. */
static void spellEnds(struct netEntry *e)
{
    const struct ptmNetTimeout *t = &e->timeout;
    unsigned hi = t->probed_at ? t->probed_at - 1 : t->calls;
    e->spells[e->next_spell % PTM_NET_SPELLS] =
        (struct netSpell){.hi = hi > UINT16_MAX ? UINT16_MAX : (uint16_t)hi, .failed = t->lo > 0};
    e->next_spell = (e->next_spell + 1) % PTM_NET_SPELLS;
    if (e->nspells < PTM_NET_SPELLS)
        e->nspells++;
}

/*
** ptmNetRecordResponse: remembers the first PTM_NET_RESPONSE_MAX bytes of
** data as the latest response the primary received from endpoint peer, and
** latency_ns as the time it took (0: unknown).  A mirror's recv from the same
** endpoint returns these bytes.  What the engine must call: after a primary
** attempt that received data on a connected socket, with getpeername() of
** that socket, the bytes received, and the time from the last send to the
** first receive.  An answer ends the endpoint's slow spell, if one is under
** way (mirrors stop replaying its timeout), and the spell is learnt.
** Process-wide, thread-safe; PTM_NET_ENDPOINTS endpoints, the least
** recently recorded evicted first.  Returns PTM_OK, or PTM_EINVAL for a
** NULL address, an unsupported family (AF_INET, AF_INET6, AF_UNIX are) or
** NULL data with n > 0.
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
    e = netEntryFor(key, klen, 0);
    if (n)
        memcpy(e->data, data, n);
    e->n = n;
    e->answered = 1;
    e->latency_ns = latency_ns;
    if (e->timeout.wait_ns)
        spellEnds(e);
    e->timeout = (struct ptmNetTimeout){0};
    e->seq = ++table.seq;
    pthread_mutex_unlock(&table.mu);
    return PTM_OK;
}

/*
** ptmNetRecordTimeout: a primary's blocking receive from endpoint peer
** (or its wait for the peer's data) waited waited_ns and failed with err
** (EAGAIN: its SO_RCVTIMEO ran out) at now_ns (ptmOsNowNs).  With no spell
** under way, one begins: mirrors' receives from the peer replay the
** timeout (ptmNetConsult) for as many calls as the peer's spells taught
** (the file's comment), then go half-open.  During a spell, the timeout
** of a half-open probe (or of a primary past the probe's call: a fork
** mirror's probe is not counted here) is a failed probe: the next one
** comes later (nextProbe); another (a primary that ran while the timeout
** stood) says only that the spell lasted that long.  The answer recorded
** before, if any, is kept for the probe.  A new endpoint with no answer
** takes a free entry, or evicts; timeout-only entries never fill more than
** half the table (netVictim).  Returns PTM_OK, or PTM_EINVAL for an
** address ptmNetRecordResponse refuses or err 0.
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
    e = netEntryFor(key, klen, 1);
    struct ptmNetTimeout *t = &e->timeout;
    if (!t->wait_ns) {
        *t = (struct ptmNetTimeout){.probe_at = spellReplays(e) + 1};
    } else if (t->probed_at || !ptmNetTimeoutOpen(t, now_ns)) {
        unsigned p = t->probed_at ? t->probed_at : t->calls + (t->calls < UINT_MAX);
        if (p > t->lo)
            t->lo = p;
        t->probe_at = nextProbe(e, t, p);
        t->probed_at = 0;
    } else if (t->calls > t->lo) {
        t->lo = t->calls;
    }
    t->wait_ns = waited_ns ? waited_ns : 1;
    t->at_ns = now_ns;
    t->rec_calls = t->calls;
    t->err = err;
    e->seq = ++table.seq;
    pthread_mutex_unlock(&table.mu);
    return PTM_OK;
}

/*
** ptmNetTimeoutOpen: whether the next call of t's spell at now_ns replays
** the timeout (1), or probes (0: half-open).  It replays while the call
** comes before t->probe_at, and while less time passed since the timeout
** was recorded than the replays left then would have waited (each the
** recorded wait, at least 1 ms; at most PTM_NET_HALF_OPEN_MAX_MS in all):
** a busy caller probes after its calls, a rare one once the time passed.
** A clock behind at_ns (not monotonic: a test's, a corrupt entry) counts
** as no time passed.  0 for no timeout (t->wait_ns 0) or a NULL t.
*/
int ptmNetTimeoutOpen(const struct ptmNetTimeout *t, uint64_t now_ns)
{
    if (!t || !t->wait_ns || t->probed_at || t->calls >= UINT_MAX ||
        t->calls + 1 >= t->probe_at)
        return 0;
    uint64_t left = t->probe_at > t->rec_calls + 1 ? t->probe_at - 1 - (uint64_t)t->rec_calls : 0;
    uint64_t age = now_ns > t->at_ns ? now_ns - t->at_ns : 0;
    uint64_t each = t->wait_ns > 1000000u ? t->wait_ns : 1000000u;
    uint64_t cap = (uint64_t)PTM_NET_HALF_OPEN_MAX_MS * 1000000u;
    uint64_t span = left == 0 ? 0 : each > cap / left ? cap : each * left;
    return age < span;
}

/*
** ptmNetConsult: what a mirror's first blocking receive from endpoint peer
** (or its wait for the peer's data) replays at now_ns: during a slow spell,
** one call of it (counted): the recorded timeout while it stands, else the
** recorded answer with half_open set (this mirror lets the primary probe
** the peer); with no spell, the recorded answer, else nothing.  Never
** waits: a table busy (or locked by a thread that did not survive a fork)
** is a table without the endpoint.  In a fork mirror the count is the
** child's own: the parent counts its replays again from the mirror's
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
        int stands = ptmNetTimeoutOpen(t, now_ns);
        if (t->wait_ns) {
            out->age_ns = now_ns > t->at_ns ? now_ns - t->at_ns : 0;
            out->open_for = t->probe_at ? t->probe_at - 1 : 0;
            if (t->calls < UINT_MAX)
                t->calls++;
            out->replays = t->calls;
        }
        if (stands) {
            out->replay = PTM_NET_REPLAY_TIMEOUT;
            out->wait_ns = t->wait_ns;
            out->err = t->err;
        } else {
            if (t->wait_ns) {
                out->half_open = 1;
                if (!t->probed_at)
                    t->probed_at = t->calls;
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
** receive (recv, recvfrom, recvmsg, read) or a wait for one (poll, ppoll,
** select) that failed or timed out with the detail a replayed timeout
** gives, on a target naming an endpoint whose timeout still stands.  A
** forged event can only bring a half-open probe sooner: the primary runs,
** as in a plain build.  ring NULL: nothing.
*/
void ptmNetCountForkReplays(const struct ptmRing *ring)
{
    uint32_t n = ring ? ptmRingCount(ring) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct ptmEvent *ev = &ring->ev[i];
        char target[PTM_TARGET_MAX], detail[PTM_DETAIL_MAX];
        int waits = ev->call == PTM_CALL_poll || ev->call == PTM_CALL_ppoll ||
                    ev->call == PTM_CALL_select;
        if (ev->kind != PTM_EV_CALL || (ev->err == 0 && !waits) ||
            (!waits && ev->call != PTM_CALL_recv && ev->call != PTM_CALL_recvfrom &&
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
        if (e && e->timeout.wait_ns && e->timeout.calls + 1 < e->timeout.probe_at)
            e->timeout.calls++;
        pthread_mutex_unlock(&table.mu);
    }
}

/*
** ptmNetForget: empties the endpoint table (answers, spells and what was
** learnt of them).
*/
void ptmNetForget(void)
{
    pthread_mutex_lock(&table.mu);
    memset(table.e, 0, sizeof table.e);
    pthread_mutex_unlock(&table.mu);
}

/*
** ptmNetLookup: copies up to n bytes from offset off of the response
** recorded for endpoint peer into buf.  Never waits, as ptmNetConsult.
** OUT: *total (the response's size), *latency.  The count copied, or -1
** when there is none (or the address is not one the table keys).
*/
ssize_t ptmNetLookup(const struct sockaddr *peer, socklen_t len, size_t off, void *buf, size_t n,
                     size_t *total, uint64_t *latency)
{
    unsigned char key[KEY_MAX];
    ssize_t r = -1;
    struct netEntry *e;
    size_t klen;

    if (addrKey(peer, len, key, &klen) != 0 || pthread_mutex_trylock(&table.mu) != 0)
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
