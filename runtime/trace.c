/*
** trace.c - PTM_TRACE=path: one JSON object per transaction call.
**
** The variable is read once per process; the file is opened once, with
** O_APPEND, and each record is one line written by a single write(2), so
** that lines from threads (and processes) sharing the file do not mix.
** Writing never disturbs the host: a record that cannot be written is
** dropped, errno is kept.  A file that cannot be opened is said once on
** stderr, and in ptm_last_error().
**
** The field names are a contract (ptm-trace, jq scripts, the rules replay
** tool read them):
**   ts                   ISO-8601 UTC with microseconds, "2024-05-01T12:00:00.000042Z"
**   pid, tid             the calling process and thread
**   transaction_id, function
**   mirror               the executor, "fork" | "inline", or "off" when none ran
**   mirror_reason        why this executor (or why none)
**   mirror_status        "returned" | "crashed" | "timeout" | "denied" | "failed" |
**                        "longjmp" (it left by longjmp) | null
**   mirror_duration_us, mirror_signal (null: none), mirror_exit_code, mirror_error
**                        null when no mirror ran (mirror_error: null unless it failed)
**   events               [{kind, call, target, detail, result, errno, errname, class,
**                          bytes, t_ms, dur_ms}], as the rules see them in m.events
**                        (detail, errname, class null when empty)
**   events_dropped       events that did not fit the ring
**   signals              {name: value} for each row of runtime/signals.def, in
**                          its order (contention, validation, ...,
**                          criteria_errno), or null; an infinite timeout is
**                          null; an ERRNO signal is its name, null when 0
**                          (criteria_errno: the errno the mirror ended with
**                          when its result failed success_criteria)
**   probability          null when no analysis ran or the rules failed
**   reasons              [strings]
**   rules                the script's name, "default" for the built-in rules
**   rules_error          the rules' error message, or null
**   threshold            the transaction's threshold
**   alternatives         the names of its alternatives, [strings] (ptm-rules test
**                        replays a divert against them)
**   adjusted             what the rules changed: {divert?, retries?, timeout_ms?,
**                        backoff? {kind, base_ms, cap_ms}, resources? {memory, cpu}}
**   clamped              what the rules asked beyond its bounds, before the clamp:
**                        {probability?, retries?, timeout_ms?} (null: infinite)
**   decision             "primary" | "divert" | "disabled" (dry run: what would
**                        have been decided)
**   path                 the function that ran; null in a dry run
**   attempts, outcome ("success" | "failure"), dry_run, duration_us
**   left_by_longjmp      the primary or alternative left by longjmp (the
**                        call never returned; outcome "failure")
**   alternative_criteria an alternative ran: "met" | "failed", what the primary's
**                        success_criteria say of its result (its outcome is
**                        success: it returned); null otherwise
**   probe                the primary ran as a half-open probe: the rules predicted
**                        failure from a timeout alone (no contention, no
**                        validation), whose latencies come from the past; a
**                        probe that succeeds in time makes the history learn
**                        its latencies again (history.c)
**   timeout_ms           the call's timeout: the rules' timeout_ms, else the
**                        timeout key; null: none
**   retry_judged         retries judged again (adjust.c): [{attempt, why
**                        ("overran the timeout" | "failed the same way"),
**                        probability (null: the rules failed), decision
**                        ("retry" | "stop" | "divert" | "retry (rules failed)")}];
**                        null when no retry was judged again
**   retry_stopped        why retries stopped before retry.max (a re-judgment,
**                        the retry budget); null: they did not
**   resources            null unless resource_requirements or the rules'
**                        resources asked: {memory, cpu, granted: [strings],
**                        not_granted: [strings, with why]} (broker.c)
**   would_run            dry run: the function that would have run; else null
**   dry_run_result       dry run: what the call returned: "mirror" (the mirror's
**                        result, about a world that stayed in the mirror),
**                        "mirror, pointer cleared", or "none: why" (a zero
**                        result; outcome failure); else null
**   observe              PTM_MODE=observe: the primary ran whatever the prediction
**   predicted            observe mode: what the prediction decided, "primary" |
**                        "divert"; else null (and for a call adaptive
**                        sampling left unmirrored: no prediction was made)
**   model                what the model said (the rules' m.model): {probability,
**                        seed, n, failures, cell, breaker, streak}; null when no
**                        mirror gave signals
**   history_store        why the history file is not used ("off", or the failure,
**                        said once on stderr too); null while it works (a
**                        redis:// history: the server's current problem)
**   mirror_sampled       mirror_sampling = adaptive: whether this call was
**                        mirrored (false: adaptive sampling left it out, its
**                        primary ran as a plain call; mirror_reason says the
**                        share); null for a transaction that mirrors always
**   sampling_every       adaptive: 1 call in this many was being mirrored
**                        (1: every call, full mirroring); null otherwise
**   explored             the rules would have diverted this call, and the
**                        exploration key let its primary run once for a label
**                        (a predicted failure let happen on purpose)
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ptm_int.h"

/*
** jansson seeds its hash tables at the first json_object(); a thread that
** finds another seeding spins (sched_yield) until the seed appears.  A
** child forked while a thread of its parent was seeding would spin for
** ever at its first trace record.  So the seed is set before main, while
** the process has one thread.
*/
__attribute__((constructor)) static void traceSeedJson(void)
{
    size_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (size_t)time(NULL) ^ ((size_t)getpid() << 16);
    json_object_seed(seed | 1);
}

static pthread_once_t traceOnce = PTHREAD_ONCE_INIT;
static _Atomic int traceFd = -1;
/*
** What traceFd was opened on.  A program may close descriptors it did not
** open (a daemon closes all but 0-2) and get the same number for a file
** of its own: a record written there would land in the host's file.  So
** each write first checks that the descriptor is still the trace's file
** and otherwise opens it again by path (absolute: the program may have
** changed directory), never closing the number, which is the host's now.
*/
static struct {
    pthread_mutex_t mu;           /* a reopening; tried, never waited for */
    _Atomic dev_t dev;
    _Atomic ino_t ino;
    char path[4096];
} traceFile = {.mu = PTHREAD_MUTEX_INITIALIZER};
/* PTM_TRACE was set but could not be opened: why, for ptm_last_error(). */
static char traceFailed[256];

/* traceSayFailed: says once, on stderr, that PTM_TRACE names a file that
** cannot be opened (a missing directory, no permission): a user who asked
** for a trace and gets none must not have to guess why. */
static void traceSayFailed(const char *path, int err)
{
    char line[sizeof traceFailed + 2];
    snprintf(traceFailed, sizeof traceFailed,
             "ptm: PTM_TRACE=%s: cannot open it: %s; no trace is written", path, strerror(err));
    int n = snprintf(line, sizeof line, "%s\n", traceFailed);
    if (n > 0)
        (void)!ptmOs.write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The trace file ends in the middle of a line -- a writer killed, or
** stopped by a full disk, in the middle of a record: the next record
** starts with a newline, so that it is a line of its own. */
static atomic_int traceCut;

/* traceEndsCut: whether path, opened as fd, is a regular file that is not
** empty and whose last byte is not a newline.  It is read through a
** descriptor of its own: fd is write-only (a pipe or a terminal opened
** read-write would keep a read end in this process). */
static int traceEndsCut(const char *path, int fd)
{
    struct stat st;
    char last = '\n';
    int rfd;
    if (ptmOs.fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return 0;
    if ((rfd = ptmOs.open(path, O_RDONLY | O_CLOEXEC, 0)) < 0)
        return 0;
    if (ptmOs.fstat(rfd, &st) != 0 || st.st_size == 0 ||
        ptmOs.pread(rfd, &last, 1, st.st_size - 1) != 1)
        last = '\n';
    ptmOs.close(rfd);
    return last != '\n';
}

/* traceOpen: opens path for appending records and notes what it is.
** Returns the descriptor, or -1 (errno set): also when it cannot be told
** what it is, since each record would then open it again. */
static int traceOpen(const char *path)
{
    struct stat st;
    int fd = ptmOs.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (ptmOs.fstat(fd, &st) != 0) {
        int err = errno;
        ptmOs.close(fd);
        errno = err;
        return -1;
    }
    atomic_store(&traceFile.dev, st.st_dev);
    atomic_store(&traceFile.ino, st.st_ino);
    return fd;
}

/* traceInit: opens $PTM_TRACE, once.  errno is kept: the first caller
** may be a call's end, whose errno is the primary's (realpath's readlink
** of each component leaves EINVAL behind even when it succeeds). */
static void traceInit(void)
{
    int saved = errno;
    const char *path = getenv("PTM_TRACE");
    if (!path || !*path)
        return;
    int fd = traceOpen(path);
    if (fd < 0) {
        traceSayFailed(path, errno);
        errno = saved;
        return;
    }
    char *abs = realpath(path, NULL);
    snprintf(traceFile.path, sizeof traceFile.path, "%s", abs ? abs : path);
    free(abs);
    if (traceEndsCut(path, fd))
        atomic_store(&traceCut, 1);
    atomic_store(&traceFd, fd);
    errno = saved;
}

/*
** traceCurrentFd: the trace's descriptor, checked to be still the trace's
** file (see traceFile).  OUT: *st, its fstat.  When the program closed it
** (EBADF) or the number now names another file, the file is opened again
** by its path; the old number is left alone.  Returns -1 when the record
** cannot be written: the reopening failed, or another thread is reopening.
*/
static int traceCurrentFd(struct stat *st)
{
    int fd = atomic_load(&traceFd);
    if (fd >= 0 && ptmOs.fstat(fd, st) == 0 && st->st_dev == atomic_load(&traceFile.dev) &&
        st->st_ino == atomic_load(&traceFile.ino))
        return fd;
    if (pthread_mutex_trylock(&traceFile.mu) != 0)
        return -1; /* this record is dropped; the reopened file gets the next */
    int now = atomic_load(&traceFd);
    if (now == fd) {
        now = traceOpen(traceFile.path);
        if (now >= 0 && traceEndsCut(traceFile.path, now))
            atomic_store(&traceCut, 1);
        atomic_store(&traceFd, now);
    }
    pthread_mutex_unlock(&traceFile.mu);
    if (now < 0 || ptmOs.fstat(now, st) != 0)
        return -1;
    return now;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t traceUtf8Len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A JSON string of s's first n bytes; invalid UTF-8 (a path in another
** encoding, a field truncated mid-character) becomes U+FFFD. */
static json_t *traceStrN(const char *s, size_t n)
{
    if (!s)
        return json_null();
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = traceUtf8Len(u + i, n - i);
        if (!l)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(s, n);
    char *buf = malloc(n * 3 + 1);
    if (!buf)
        return json_null();
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t l = traceUtf8Len(u + i, n - i);
        if (l) {
            memcpy(buf + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_null();
}

static json_t *traceStr(const char *s)
{
    return s ? traceStrN(s, strlen(s)) : json_null();
}

/* A fixed field of an event: its text up to the NUL or cap; null if empty. */
static json_t *traceField(const char *s, size_t cap)
{
    return s[0] ? traceStrN(s, strnlen(s, cap)) : json_null();
}

/* A number; null when it is not finite (JSON has no infinity). */
static json_t *traceNum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *traceInt(int64_t x)
{
    return json_integer((json_int_t)x);
}

/* Sets key of o to v (NULL: null); allocation failures are absorbed. */
static void traceSet(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

static json_t *traceEvent(const struct ptmEvent *ev)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    traceSet(o, "kind", json_string(ptmEventKindName(ev->kind)));
    traceSet(o, "call", traceStr(ptmCallName(ev->call)));
    traceSet(o, "target", traceField(ev->target, sizeof ev->target));
    traceSet(o, "detail", traceField(ev->detail, sizeof ev->detail));
    traceSet(o, "result", traceInt(ev->result));
    traceSet(o, "errno", traceInt(ev->err));
    traceSet(o, "errname", ev->err ? traceStr(strerrorname_np(ev->err)) : NULL);
    traceSet(o, "class", ev->err ? traceStr(ptmErrnoClass(ev->err)) : NULL);
    traceSet(o, "bytes", traceInt((int64_t)ev->bytes));
    traceSet(o, "t_ms", traceNum((double)ev->t_ns / 1e6));
    traceSet(o, "dur_ms", traceNum((double)ev->dur_ns / 1e6));
    return o;
}

static json_t *traceSignals(const struct ptmSignals *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (unsigned i = 0; i < PTM_N_SIGNALS; i++) {
        const struct ptmSignalInfo *si = &ptmSignalTable[i];
        double x = ptmSignalValue(s, i);
        switch (si->type) {
        case PTM_SIGNAL_FLAG: traceSet(o, si->name, json_boolean(x != 0)); break;
        case PTM_SIGNAL_NUM: traceSet(o, si->name, traceNum(x)); break;
        case PTM_SIGNAL_COUNT: traceSet(o, si->name, traceInt((int64_t)x)); break;
        case PTM_SIGNAL_ERRNO:
            traceSet(o, si->name, x != 0 ? traceStr(strerrorname_np((int)x)) : NULL);
            break;
        }
    }
    return o;
}

/*
** ptmTraceUtc: ts as ISO-8601 UTC with microseconds
** ("2026-12-07T23:59:59.123456Z").  OUT: buf (cap bytes, truncated).
**
** The date is computed here (days since the epoch to the proleptic
** Gregorian calendar), not by gmtime_r: glibc's gmtime_r takes the
** process's tzset lock, which fork() does not reset, so a host's child
** forked while another thread wrote a trace record would hang at its own
** first record.
*/
void ptmTraceUtc(struct timespec ts, char *buf, size_t cap)
{
    long long secs = (long long)ts.tv_sec;
    long long days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* civil_from_days: eras of 400 years, years starting in March. */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1;
    long long month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);
    snprintf(buf, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%06ldZ", year, month, day,
             rem / 3600, rem / 60 % 60, rem % 60, ts.tv_nsec / 1000);
}

/* The current time, as ptmTraceUtc.  OUT: buf. */
static void traceTimestamp(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ptmTraceUtc(ts, buf, cap);
}

/* traceRetry: the retries judged again: [{attempt, why, probability,
** decision}] (probability null: the rules failed). */
static json_t *traceRetry(const struct ptmRetryReport *rr)
{
    json_t *a = json_array();
    unsigned n = rr->n_judged < PTM_MAX_REJUDGED ? rr->n_judged : PTM_MAX_REJUDGED;
    for (unsigned i = 0; a && i < n; i++) {
        const struct ptmRejudged *j = &rr->judged[i];
        json_t *o = json_object();
        if (!o)
            break;
        traceSet(o, "attempt", traceInt(j->attempt));
        traceSet(o, "why", traceStr(j->why));
        traceSet(o, "probability", isfinite(j->probability) ? traceNum(j->probability) : NULL);
        traceSet(o, "decision", traceStr(j->decision));
        json_array_append_new(a, o);
    }
    return a;
}

/* traceResources: what the broker was asked, granted and not granted. */
static json_t *traceResources(const struct ptmBrokerGrant *g)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    traceSet(o, "memory", g->memory_bytes ? traceInt((int64_t)g->memory_bytes) : NULL);
    traceSet(o, "cpu", g->cpus ? traceInt(g->cpus) : NULL);
    json_t *yes = json_array(), *no = json_array();
    for (unsigned i = 0; yes && i < g->n_granted && i < PTM_BROKER_NOTES; i++)
        json_array_append_new(yes, traceField(g->granted[i], sizeof g->granted[i]));
    for (unsigned i = 0; no && i < g->n_denied && i < PTM_BROKER_NOTES; i++)
        json_array_append_new(no, traceField(g->denied[i], sizeof g->denied[i]));
    traceSet(o, "granted", yes);
    traceSet(o, "not_granted", no);
    return o;
}

/* Builds r's record.  Returns NULL when out of memory. */
static json_t *traceRecord(const struct ptmTxRecord *r)
{
    const struct ptm_tx_desc *d = r->desc;
    const struct ptmMirrorRun *run = r->run;
    const struct ptmVerdict *v = r->verdict;
    const struct ptmRing *ring = run ? run->ring : NULL;
    char ts[48];

    json_t *o = json_object();
    if (!o)
        return NULL;
    traceTimestamp(ts, sizeof ts);
    traceSet(o, "ts", json_string(ts));
    traceSet(o, "pid", traceInt(getpid()));
    traceSet(o, "tid", traceInt(gettid()));
    traceSet(o, "transaction_id", traceStr(d->transaction_id));
    traceSet(o, "function", traceStr(d->function));

    traceSet(o, "mirror", traceStr(run ? ptmExecutorName(run->executor) : "off"));
    traceSet(o, "mirror_reason", traceStr(r->mirror_reason));
    traceSet(o, "mirror_status", run ? json_string(ptmStatusName(run->status)) : NULL);
    traceSet(o, "mirror_duration_us", run ? traceInt((int64_t)(run->duration_ns / 1000)) : NULL);
    traceSet(o, "mirror_signal", run && run->signo ? traceInt(run->signo) : NULL);
    traceSet(o, "mirror_exit_code", run ? traceInt(run->exit_code) : NULL);
    traceSet(o, "mirror_error", run && run->error[0] ? traceField(run->error, sizeof run->error)
                                                     : NULL);
    /* Whether the mirror's result came back to this process (a dry run
    ** returns it); null when the mirror did not return one. */
    traceSet(o, "mirror_result", !run ? NULL
                                 : run->frame_valid ? json_string("kept")
                                 : run->frame_lost ? traceStr(run->frame_lost)
                                                   : NULL);

    json_t *evs = json_array();
    uint32_t n = ring ? ptmRingCount(ring) : 0;
    for (uint32_t i = 0; evs && i < n; i++) {
        json_t *e = traceEvent(&ring->ev[i]);
        if (e)
            json_array_append_new(evs, e);
    }
    traceSet(o, "events", evs);
    traceSet(o, "events_dropped", traceInt(ring ? ptmRingDropped(ring) : 0));
    traceSet(o, "signals", r->signals ? traceSignals(r->signals) : NULL);

    traceSet(o, "probability", v && !v->rules_error ? traceNum(v->probability) : NULL);
    json_t *reasons = json_array();
    for (unsigned i = 0; reasons && v && i < v->n_reasons && i < PTM_MAX_REASONS; i++)
        json_array_append_new(reasons, traceField(v->reasons[i], sizeof v->reasons[i]));
    traceSet(o, "reasons", reasons);
    traceSet(o, "rules", traceStr(ptmPamRulesName(d)));
    traceSet(o, "rules_error", v && v->rules_error ? traceField(v->error, sizeof v->error) : NULL);
    traceSet(o, "threshold", traceNum(d->threshold));
    json_t *alts = json_array();
    for (unsigned i = 0; alts && i < d->n_alternatives; i++)
        json_array_append_new(alts, traceStr(d->alternatives[i].name));
    traceSet(o, "alternatives", alts);
    json_t *adj = json_object();
    if (adj && v && !v->rules_error) {
        if (v->divert >= 0 && (unsigned)v->divert < d->n_alternatives)
            traceSet(adj, "divert", traceStr(d->alternatives[v->divert].name));
        if (v->retry_max >= 0)
            traceSet(adj, "retries", traceInt(v->retry_max));
        if (v->timeout_us >= 0)
            traceSet(adj, "timeout_ms", traceNum((double)v->timeout_us / 1000.0));
        json_t *b = v->backoff_set ? json_object() : NULL;
        if (b) {
            static const char *const kinds[] = {"none", "constant", "exponential"};
            traceSet(b, "kind", traceStr(v->backoff <= PTM_BACKOFF_EXPONENTIAL ? kinds[v->backoff]
                                                                               : "?"));
            traceSet(b, "base_ms", traceNum((double)v->backoff_base_us / 1000.0));
            traceSet(b, "cap_ms", traceNum((double)v->backoff_cap_us / 1000.0));
            traceSet(adj, "backoff", b);
        }
        json_t *res = v->memory_bytes || v->cpus ? json_object() : NULL;
        if (res) {
            traceSet(res, "memory", v->memory_bytes ? traceInt((int64_t)v->memory_bytes) : NULL);
            traceSet(res, "cpu", v->cpus ? traceInt(v->cpus) : NULL);
            traceSet(adj, "resources", res);
        }
    }
    traceSet(o, "adjusted", adj);
    /* What the rules asked beyond its bounds, before the clamp. */
    json_t *clamped = json_object();
    for (unsigned i = 0; clamped && v && !v->rules_error && i < v->n_clamped; i++) {
        double x = v->clamped[i].asked;
        traceSet(clamped, v->clamped[i].key,
                 floor(x) == x && fabs(x) < 9e18 ? traceInt((int64_t)x) : traceNum(x));
    }
    traceSet(o, "clamped", clamped);

    traceSet(o, "decision", json_string(ptmDecisionName(r->decision)));
    traceSet(o, "path", traceStr(r->path));
    traceSet(o, "attempts", traceInt(r->attempts));
    traceSet(o, "outcome", json_string(r->success ? "success" : "failure"));
    traceSet(o, "left_by_longjmp", json_boolean(r->left));
    traceSet(o, "alternative_criteria", r->alt_criteria == PTM_VERDICT_MET      ? json_string("met")
                                        : r->alt_criteria == PTM_VERDICT_FAILED ? json_string("failed")
                                                                                : NULL);
    traceSet(o, "probe", json_boolean(r->probe));
    traceSet(o, "dry_run", json_boolean(r->dry_run));
    traceSet(o, "would_run", r->dry_run ? traceStr(r->would_run) : NULL);
    traceSet(o, "dry_run_result", r->dry_run ? traceStr(r->dry_result) : NULL);
    traceSet(o, "duration_us", traceInt((int64_t)(r->duration_ns / 1000)));
    traceSet(o, "observe", json_boolean(r->observe));
    /* A call adaptive sampling left unmirrored was never predicted. */
    traceSet(o, "predicted", r->observe && !(r->sampling && !r->mirror_sampled)
                                 ? json_string(ptmDecisionName(r->predicted))
                                 : NULL);
    json_t *model = NULL;
    if (r->model && (model = json_object())) {
        traceSet(model, "probability", traceNum(r->model->probability));
        traceSet(model, "seed", traceNum(r->model->seed));
        traceSet(model, "n", traceInt((int64_t)r->model->n));
        traceSet(model, "failures", traceInt((int64_t)r->model->failures));
        traceSet(model, "cell", traceInt(r->model->cell));
        traceSet(model, "breaker", traceNum(r->model->breaker));
        traceSet(model, "streak", traceInt(r->model->streak));
    }
    traceSet(o, "model", model);
    traceSet(o, "history_store", traceStr(r->history_store));
    traceSet(o, "timeout_ms", r->timeout_us ? traceNum((double)r->timeout_us / 1000.0) : NULL);
    traceSet(o, "retry_judged", r->retry ? traceRetry(r->retry) : NULL);
    traceSet(o, "retry_stopped", r->retry ? traceStr(r->retry->stopped) : NULL);
    traceSet(o, "resources", r->resources ? traceResources(r->resources) : NULL);
    traceSet(o, "mirror_sampled", r->sampling ? json_boolean(r->mirror_sampled) : NULL);
    traceSet(o, "sampling_every", r->sampling ? traceInt(r->sampling_every) : NULL);
    traceSet(o, "explored", json_boolean(r->explored));
    return o;
}

/* traceFits: whether len more bytes fit in the trace file (st, its
** fstat) under RLIMIT_FSIZE.  Writing past it would raise SIGXFSZ, which
** kills the host: the record is dropped instead. */
static int traceFits(const struct stat *st, size_t len)
{
    struct rlimit rl;
    if (ptmOs.getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1;
    return st->st_size >= 0 && (uint64_t)st->st_size + len <= (uint64_t)rl.rlim_cur;
}

/*
** ptmTraceWanted: whether PTM_TRACE names a file that records go to (read
** once per process), so that a caller can skip what only the trace needs.
*/
PTM_HOT int ptmTraceWanted(void)
{
    pthread_once(&traceOnce, traceInit);
    return traceFd >= 0;
}

/*
** ptmTraceWrite: appends r as one JSON line to $PTM_TRACE.
**
** Nothing happens when PTM_TRACE is unset or empty (read once per
** process), or when r or r->desc is NULL.  When the file could not be
** opened, that is said once on stderr, and ptm_last_error() says it after
** each call that reported nothing else.  The line is written with one write(2) on an O_APPEND descriptor
** (retried on EINTR, and for the rest after a short write); any other
** failure drops the record silently.  A record starts on a fresh line:
** when the file ended mid-line on opening (a writer killed in the middle
** of a record), or this process's last record was cut, it starts with a
** newline.  Thread-safe; errno is preserved.
*/
/* traceWriteLine: r as one JSON line on traceFd (ptmTraceWrite's work
** when a trace is on).  Out of line: every call passes ptmTraceWrite, and
** its few instructions stay with the call's path (PTM_HOT) without the
** kilobytes of the record's making. */
__attribute__((noinline)) static void traceWriteLine(const struct ptmTxRecord *r)
{
    json_t *o = traceRecord(r);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return;
    size_t len = strlen(s);
    char *line = malloc(len + 3);
    if (line) {
        /* A fresh line, whatever the last writer left. */
        size_t n = atomic_exchange(&traceCut, 0) ? 1 : 0;
        line[0] = '\n';
        memcpy(line + n, s, len);
        n += len;
        line[n++] = '\n';
        struct stat st;
        int fd = traceCurrentFd(&st);
        if (fd >= 0 && atomic_exchange(&traceCut, 0) && n == len + 1) {
            memmove(line + 1, line, n++); /* reopened: a fresh line */
            line[0] = '\n';
        }
        size_t off = fd >= 0 && traceFits(&st, n) ? 0 : n;
        while (off < n) {
            ssize_t w = ptmOs.write(fd, line + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off > 0 && off < n)
            atomic_store(&traceCut, 1); /* this record was cut */
        free(line);
    }
    free(s);
}

PTM_HOT void ptmTraceWrite(const struct ptmTxRecord *r)
{
    int saved = errno;
    pthread_once(&traceOnce, traceInit);
    if (traceFd < 0 || !r || !r->desc) {
        if (traceFailed[0] && !ptm_last_error()[0])
            ptmSetLastError("%s", traceFailed);
        errno = saved;
        return;
    }
    traceWriteLine(r);
    errno = saved;
}
