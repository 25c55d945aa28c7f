/*
** ptm-rules - tools for the authors of rules scripts.
**
**   ptm-rules check RULES.lua [--alternative NAME]...
**   ptm-rules test  RULES.lua TRACE.jsonl [--alternative NAME]... [--quiet]
**
** Both run the script through libptm's own PAM (pam.c, via PTM_RULES), so
** the sandbox, the instruction, time and memory budgets and the reading of
** analyze's result are the runtime's, not a copy of them.
**
** check loads the script and runs analyze on synthetic observations: a
** clean call, then one call per signal of runtime/signals.def fired alone.
** Problems are reported clang-style (file:line: error: message); the exit
** status is 1 when any was found.
**
** test replays PTM_TRACE records (JSON Lines, the fields of trace.c): each
** record becomes the observation the rules saw (descriptor, mirror run,
** events, signals; the history is rebuilt from the earlier records of the
** same transaction), the script judges it, and the tool prints the
** probability and the decision it would take.  Totals: calls that would
** divert, how many of those failed for real (among the calls whose
** primary ran), and the Brier score over the calls whose primary ran (the
** labelled ones).  Malformed lines are reported with their line number
** and skipped.  A call adaptive sampling left unmirrored
** (mirror_sampled false) was never judged: it is counted apart and not
** replayed, and its outcome feeds only the rebuilt history.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ptm_int.h"

#define RULES_MAX_ALTS 16
#define RULES_MAX_TX 4096

static const char *rulesPath;
static const char *cliAlts[RULES_MAX_ALTS];
static unsigned nCliAlts;

static void usage(void)
{
    fprintf(stderr, "usage: ptm-rules check RULES.lua [--alternative NAME]...\n"
                    "       ptm-rules test RULES.lua TRACE.jsonl [--alternative NAME]... "
                    "[--quiet]\n");
}

/* rulesReport: prints the PAM's message msg clang-style: "file:line:
** error: ..." when the message carries Lua's position in the script,
** else "file: error: ...".  ctx says which observation (NULL: loading). */
static void rulesReport(const char *msg, const char *ctx)
{
    /* The PAM says "rules NAME: PHASE: text" or "rules NAME: analyze returned ...". */
    const char *rest = msg;
    size_t nl = strlen(rulesPath);
    if (strncmp(rest, "rules ", 6) == 0 && strncmp(rest + 6, rulesPath, nl) == 0)
        rest += 6 + nl;
    if (strncmp(rest, " (PTM_RULES)", 12) == 0)
        rest += 12;
    if (*rest == ':')
        rest++;
    while (*rest == ' ')
        rest++;
    const char *phase = rest;
    size_t phase_len = 0;
    const char *colon = strstr(rest, ": ");
    if (colon && (strncmp(rest, "load:", 5) == 0 || strncmp(rest, "analyze:", 8) == 0)) {
        phase_len = (size_t)(colon - rest);
        rest = colon + 2;
    }
    /* Lua's "NAME:LINE: text" */
    if (strncmp(rest, rulesPath, nl) == 0 && rest[nl] == ':' && rest[nl + 1] >= '0' &&
        rest[nl + 1] <= '9') {
        const char *p = rest + nl + 1;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == ':') {
            fprintf(stdout, "%.*s: error:%s", (int)(p - rest), rest, p + 1);
            if (ctx)
                fprintf(stdout, " (in analyze, observation '%s')", ctx);
            fputc('\n', stdout);
            return;
        }
    }
    fprintf(stdout, "%s: error: %.*s%s", rulesPath, (int)phase_len, phase,
            phase_len ? ": " : "");
    fputs(rest, stdout);
    if (ctx)
        fprintf(stdout, " (observation '%s')", ctx);
    fputc('\n', stdout);
}

/* --- check ---------------------------------------------------------------- */

struct checkCase {
    const char *name;
    struct ptmSignals sig;
    int err;                      /* an event's errno, 0: none */
};

/* checkCases: the clean call, then one per signal of signals.def.  OUT: *cs
** (PTM_N_SIGNALS + 1 of them). */
static void checkCases(struct checkCase *cs)
{
    struct ptmSignals clean = {.acceptable_timeout_ms = 1000, .predicted_timeout_ms = 10};
    cs[0] = (struct checkCase){.name = "clean", .sig = clean};
    for (unsigned i = 0; i < PTM_N_SIGNALS; i++) {
        const struct ptmSignalInfo *si = &ptmSignalTable[i];
        struct checkCase *c = &cs[i + 1];
        *c = (struct checkCase){.name = si->name, .sig = clean};
        char *f = (char *)&c->sig + si->offset;
        switch (si->type) {
        case PTM_SIGNAL_FLAG: *(int *)f = 1; break;
        case PTM_SIGNAL_COUNT: *(unsigned *)f = 1; break;
        case PTM_SIGNAL_ERRNO:
            *(int *)f = EAGAIN;
            c->sig.criteria_failed = 1;
            c->err = EAGAIN;
            break;
        case PTM_SIGNAL_NUM:
            /* Past what makes it fire (timeout above acceptable, deviation
            ** above its threshold); acceptable: none (infinite). */
            if (si->offset == offsetof(struct ptmSignals, acceptable_timeout_ms))
                *(double *)f = 5; /* below the predicted 10 ms */
            else if (si->offset == offsetof(struct ptmSignals, deviation))
                *(double *)f = 0.9;
            else
                *(double *)f = 5000;
            break;
        }
        if (c->sig.contention || c->sig.contention_events)
            c->err = EAGAIN;
        if (c->sig.validation || c->sig.error_events)
            c->err = c->err ? c->err : EINVAL;
    }
}

static void checkDesc(struct ptm_tx_desc *d, struct ptm_alt *alts)
{
    memset(d, 0, sizeof *d);
    d->abi = PTM_ABI_VERSION;
    d->transaction_id = "check";
    d->function = "check";
    d->threshold = 0.5;
    d->retry_max = 3;
    d->timeout_us = 1000000;
    for (unsigned i = 0; i < nCliAlts; i++)
        alts[i] = (struct ptm_alt){.name = cliAlts[i]};
    d->alternatives = alts;
    d->n_alternatives = nCliAlts;
}

static int cmdCheck(void)
{
    struct ptm_alt alts[RULES_MAX_ALTS];
    struct ptm_tx_desc d;
    checkDesc(&d, alts);
    struct ptmRing *ring;
    if (ptmRingCreate(0, &ring) != PTM_OK) {
        fprintf(stderr, "ptm-rules: cannot map an event ring\n");
        return 2;
    }
    struct checkCase cs[PTM_N_SIGNALS + 1];
    checkCases(cs);
    int errors = 0;
    char last[sizeof ((struct ptmVerdict *)0)->error] = "";
    for (unsigned i = 0; i < PTM_N_SIGNALS + 1; i++) {
        ptmRingReset(ring);
        if (cs[i].err) {
            struct ptmEvent *ev = ptmRingPush(ring);
            if (ev) {
                ev->kind = PTM_EV_CALL;
                ev->call = 0;
                ev->err = cs[i].err;
                ev->result = -1;
                ptmCopyField(ev->target, sizeof ev->target, "check.dat");
            }
        }
        struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_FORK,
                                   .duration_ns = 1000000, .ring = ring};
        if (cs[i].sig.criteria_failed)
            run.verdict = PTM_VERDICT_FAILED;
        struct ptmHistoryView h = {.calls = 10, .successes = 9, .failures = 1,
                                   .latency_n = 9, .latency_mean_us = 800,
                                   .latency_sd_us = 100};
        struct ptmObservation obs = {.desc = &d, .run = &run, .signals = &cs[i].sig,
                                     .history = &h};
        struct ptmVerdict v;
        enum ptmRc rc = ptmPamAnalyze(&obs, &v);
        if (rc != PTM_OK) {
            int loading = strstr(v.error, ": load: ") || strstr(v.error, "cannot read") ||
                          strstr(v.error, "(PTM_RULES)");
            if (strstr(v.error, "which is not one of")) {
                printf("%s: warning: %s (observation '%s'); name the transaction's "
                       "alternatives with --alternative NAME\n",
                       rulesPath, v.error, cs[i].name);
                continue;
            }
            /* The same error on every observation is said once. */
            if (strcmp(v.error, last) == 0)
                continue;
            ptmCopyField(last, sizeof last, v.error);
            rulesReport(v.error, loading ? NULL : cs[i].name);
            errors++;
            if (loading)
                break; /* a script that fails to load fails every call */
            continue;
        }
        printf("%s: observation '%s': probability %.3f", rulesPath, cs[i].name, v.probability);
        for (unsigned r = 0; r < v.n_reasons; r++)
            printf("%s%s", r ? ", " : " (", v.reasons[r]);
        printf("%s\n", v.n_reasons ? ")" : "");
    }
    ptmRingDestroy(ring);
    if (errors) {
        printf("%d error%s generated.\n", errors, errors == 1 ? "" : "s");
        return 1;
    }
    printf("%s: ok\n", rulesPath);
    return 0;
}

/* --- test ------------------------------------------------------------------ */

/* What the replay knows of one transaction: its names and the history of
** its earlier records. */
struct txState {
    char *id;
    char *function;
    struct ptm_alt alts[RULES_MAX_ALTS];
    char *alt_names[RULES_MAX_ALTS];
    unsigned n_alts;
    int alts_known;               /* a record listed them ("alternatives") */
    struct ptmHistoryView h;
    double m2;                    /* Welford's sum of squares, in us^2 */
};

static struct txState txs[RULES_MAX_TX];
static unsigned nTx;

static struct txState *txFind(const char *id, int add)
{
    for (unsigned i = 0; i < nTx; i++)
        if (strcmp(txs[i].id, id) == 0)
            return &txs[i];
    if (!add || nTx == RULES_MAX_TX)
        return NULL;
    struct txState *t = &txs[nTx++];
    memset(t, 0, sizeof *t);
    t->id = strdup(id);
    return t->id ? t : (nTx--, NULL);
}

static void txAddAlt(struct txState *t, const char *name)
{
    if (!name || !*name)
        return;
    for (unsigned i = 0; i < t->n_alts; i++)
        if (strcmp(t->alt_names[i], name) == 0)
            return;
    if (t->n_alts < RULES_MAX_ALTS && (t->alt_names[t->n_alts] = strdup(name)))
        t->n_alts++;
}

static const char *jStr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static double jNum(json_t *o, const char *k, double dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* errno of a name ("EAGAIN"), 0 when unknown. */
static int errnoNamed(const char *name)
{
    for (int e = 1; name && e < 200; e++) {
        const char *n = strerrorname_np(e);
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return 0;
}

static unsigned callNamed(const char *name, unsigned kind)
{
    if (!name)
        return 0;
    if (kind == PTM_EV_DENIED) {
        for (unsigned nr = 0; nr < 512; nr++)
            if (strcmp(ptmCallName(PTM_CALL_SYSCALL | nr), name) == 0)
                return PTM_CALL_SYSCALL | nr;
        return 0;
    }
    for (unsigned c = 0; c < PTM_CALL_COUNT; c++)
        if (strcmp(ptmCallName(c), name) == 0)
            return c;
    return 0;
}

/* recSignals: the record's signals into *s.  Returns 0, or -1 when the
** record has none (null). */
static int recSignals(json_t *rec, struct ptmSignals *s)
{
    json_t *o = json_object_get(rec, "signals");
    memset(s, 0, sizeof *s);
    if (!json_is_object(o))
        return -1;
    for (unsigned i = 0; i < PTM_N_SIGNALS; i++) {
        const struct ptmSignalInfo *si = &ptmSignalTable[i];
        json_t *v = json_object_get(o, si->name);
        char *f = (char *)s + si->offset;
        switch (si->type) {
        case PTM_SIGNAL_FLAG: *(int *)f = json_is_true(v); break;
        case PTM_SIGNAL_COUNT:
            *(unsigned *)f = json_is_integer(v) ? (unsigned)json_integer_value(v) : 0;
            break;
        case PTM_SIGNAL_ERRNO: *(int *)f = errnoNamed(json_string_value(v)); break;
        case PTM_SIGNAL_NUM:
            /* The trace writes an infinite timeout as null. */
            *(double *)f = json_is_number(v) ? json_number_value(v) : HUGE_VAL;
            if (si->offset == offsetof(struct ptmSignals, deviation) && !json_is_number(v))
                *(double *)f = 0;
            break;
        }
    }
    return 0;
}

/* recEvents: the record's events into ring. */
static void recEvents(json_t *rec, struct ptmRing *ring)
{
    ptmRingReset(ring);
    json_t *evs = json_object_get(rec, "events");
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) {
        struct ptmEvent *ev = ptmRingPush(ring);
        if (!ev)
            break;
        const char *kind = jStr(e, "kind");
        ev->kind = kind && strcmp(kind, "validate") == 0 ? PTM_EV_VALIDATE
                   : kind && strcmp(kind, "denied") == 0 ? PTM_EV_DENIED
                                                         : PTM_EV_CALL;
        ev->call = (uint16_t)callNamed(jStr(e, "call"), ev->kind);
        ev->err = (int32_t)jNum(e, "errno", 0);
        ev->result = (int64_t)jNum(e, "result", 0);
        ev->bytes = (uint64_t)jNum(e, "bytes", 0);
        ev->t_ns = (uint64_t)(jNum(e, "t_ms", 0) * 1e6);
        ev->dur_ns = (uint64_t)(jNum(e, "dur_ms", 0) * 1e6);
        ptmCopyField(ev->target, sizeof ev->target, jStr(e, "target"));
        ptmCopyField(ev->detail, sizeof ev->detail, jStr(e, "detail"));
    }
    double dropped = jNum(rec, "events_dropped", 0);
    if (dropped > 0 && dropped < 1e6)
        atomic_fetch_add(&ring->head, (uint32_t)dropped);
}

static enum ptmMirrorStatus statusNamed(const char *s)
{
    static const enum ptmMirrorStatus all[] = {PTM_MS_RETURNED, PTM_MS_CRASHED, PTM_MS_TIMEOUT,
                                               PTM_MS_DENIED, PTM_MS_FAILED, PTM_MS_LONGJMP};
    for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(ptmStatusName(all[i]), s) == 0)
            return all[i];
    return PTM_MS_FAILED;
}

/* The first pass: each transaction's function and alternatives. */
static void learnNames(json_t *rec)
{
    struct txState *t = txFind(jStr(rec, "transaction_id"), 1);
    if (!t)
        return;
    const char *fn = jStr(rec, "function");
    if (fn && !t->function)
        t->function = strdup(fn);
    json_t *alts = json_object_get(rec, "alternatives");
    if (json_is_array(alts)) {
        size_t i;
        json_t *a;
        t->alts_known = 1;
        json_array_foreach(alts, i, a) txAddAlt(t, json_string_value(a));
    }
    const char *path = jStr(rec, "path");
    if (path && fn && strcmp(path, fn) != 0)
        txAddAlt(t, path);
    txAddAlt(t, jStr(json_object_get(rec, "adjusted"), "divert"));
}

/* The history the next call of t sees, after rec. */
static void learnHistory(struct txState *t, json_t *rec, int primary_ran)
{
    struct ptmHistoryView *h = &t->h;
    int ok = strcmp(jStr(rec, "outcome") ? jStr(rec, "outcome") : "", "success") == 0;
    h->calls++;
    if (ok)
        h->successes++;
    else
        h->failures++;
    if (strcmp(jStr(rec, "decision") ? jStr(rec, "decision") : "", "divert") == 0)
        h->diversions++;
    if (primary_ran && ok) {
        double x = jNum(rec, "duration_us", 0);
        h->latency_n++;
        double d = x - h->latency_mean_us;
        h->latency_mean_us += d / (double)h->latency_n;
        t->m2 += d * (x - h->latency_mean_us);
        h->latency_sd_us = h->latency_n > 1 ? sqrt(t->m2 / (double)(h->latency_n - 1)) : 0;
    }
}

struct totals {
    unsigned calls, malformed, rules_errors, divert, divert_labelled, divert_failed;
    unsigned unsampled;           /* not mirrored (adaptive sampling): not replayed */
    unsigned labelled, failed;
    double brier;
};

/* Replays one record (line lineno).  Returns -1 when it is malformed. */
static int replayOne(json_t *rec, unsigned lineno, struct ptmRing *ring, struct totals *tot,
                     int quiet, const char *trace)
{
    const char *id = jStr(rec, "transaction_id");
    struct txState *t = id ? txFind(id, 0) : NULL;
    if (!t)
        return -1;
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = t->id,
                            .function = t->function ? t->function : t->id};
    d.threshold = jNum(rec, "threshold", 0.5);
    d.retry_max = (unsigned)jNum(rec, "retry_max", 0);
    double tmo = jNum(rec, "timeout_ms", 0);
    d.timeout_us = tmo > 0 && tmo < 1e12 ? (uint64_t)(tmo * 1000) : 0;
    for (unsigned i = 0; i < t->n_alts; i++)
        t->alts[i] = (struct ptm_alt){.name = t->alt_names[i]};
    unsigned n = t->n_alts;
    for (unsigned i = 0; i < nCliAlts && n < RULES_MAX_ALTS; i++)
        t->alts[n++] = (struct ptm_alt){.name = cliAlts[i]};
    d.alternatives = t->alts;
    d.n_alternatives = n;

    /* A call adaptive sampling left unmirrored was never judged: nothing
    ** to replay, and no label for the rules (its outcome still feeds the
    ** history, as in the runtime). */
    if (json_is_false(json_object_get(rec, "mirror_sampled"))) {
        const char *p = jStr(rec, "path");
        tot->unsampled++;
        if (!quiet)
            printf("%s:%u: %s: not mirrored (adaptive sampling), not replayed\n", trace, lineno,
                   t->id);
        learnHistory(t, rec, p && strcmp(p, d.function) == 0 && jStr(rec, "outcome"));
        return 0;
    }

    struct ptmSignals sig;
    int has_sig = recSignals(rec, &sig) == 0;
    const char *status = jStr(rec, "mirror_status");
    struct ptmMirrorRun run = {0};
    if (status) {
        run.status = statusNamed(status);
        const char *ex = jStr(rec, "mirror");
        run.executor = ex && strcmp(ex, "inline") == 0 ? PTM_EXEC_INLINE : PTM_EXEC_FORK;
        run.duration_ns = (uint64_t)(jNum(rec, "mirror_duration_us", 0) * 1000);
        run.signo = (int)jNum(rec, "mirror_signal", 0);
        run.exit_code = (int)jNum(rec, "mirror_exit_code", 0);
        ptmCopyField(run.error, sizeof run.error, jStr(rec, "mirror_error"));
        recEvents(rec, ring);
        run.ring = ring;
        for (uint32_t i = 0; i < ptmRingCount(ring); i++)
            run.denied += ring->ev[i].kind == PTM_EV_DENIED;
        if (has_sig && sig.criteria_failed)
            run.verdict = PTM_VERDICT_FAILED;
    }
    struct ptmObservation obs = {.desc = &d, .run = status ? &run : NULL,
                                 .signals = has_sig ? &sig : NULL, .history = &t->h};
    struct ptmVerdict v;
    enum ptmRc rc = ptmPamAnalyze(&obs, &v);

    const char *path = jStr(rec, "path");
    const char *outcome = jStr(rec, "outcome");
    int primary_ran = path && strcmp(path, d.function) == 0 && outcome;
    int failed = outcome && strcmp(outcome, "failure") == 0;
    /* A trace without "alternatives" (older than the field) and no name
    ** seen: the transaction may have one, so the threshold decides. */
    int may_divert = d.n_alternatives > 0 || !t->alts_known;
    int divert = rc == PTM_OK && may_divert && (v.divert >= 0 || v.probability >= d.threshold);
    const char *was = jStr(rec, "decision");

    tot->calls++;
    if (rc != PTM_OK) {
        tot->rules_errors++;
        printf("%s:%u: %s: rules error: %s\n", trace, lineno, t->id, v.error);
    } else if (!quiet) {
        printf("%s:%u: %s: probability %.3f, %s%s%s (recorded: %s, %s%s)\n", trace, lineno,
               t->id, v.probability, divert ? "divert" : "primary",
               divert && v.divert >= 0 ? " to " : "",
               divert && v.divert >= 0 ? d.alternatives[v.divert].name : "",
               was ? was : "?", outcome ? outcome : "?",
               primary_ran ? "" : ", primary did not run");
    }
    if (divert) {
        tot->divert++;
        if (primary_ran) {
            tot->divert_labelled++;
            tot->divert_failed += failed;
        }
    }
    if (primary_ran) {
        /* A rules error runs the primary: probability 0, as the runtime does. */
        double p = rc == PTM_OK ? v.probability : 0;
        double y = failed ? 1 : 0;
        tot->labelled++;
        tot->failed += failed;
        tot->brier += (p - y) * (p - y);
    }
    learnHistory(t, rec, primary_ran);
    return 0;
}

/* readRecord: the next record of f (NULL at the end).  A malformed line
** is reported (when report is set) and counted in *malformed, and skipped.
** OUT: *lineno, the record's line. */
static json_t *readRecord(FILE *f, const char *trace, unsigned *lineno, int report,
                          unsigned *malformed)
{
    static char *line;
    static size_t lcap;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        ++*lineno;
        if (len == 0 || strspn(line, " \t\r\n") == (size_t)len)
            continue;
        json_error_t jerr;
        json_t *rec = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        const char *why = !rec                                  ? jerr.text
                          : !json_is_object(rec)                ? "not a JSON object"
                          : !jStr(rec, "transaction_id")         ? "no transaction_id"
                          : !json_is_string(json_object_get(rec, "outcome")) ? "no outcome"
                                                                               : NULL;
        if (!why)
            return rec;
        if (report) {
            printf("%s:%u: error: malformed record, skipped: %s\n", trace, *lineno, why);
            ++*malformed;
        }
        json_decref(rec);
    }
    free(line);
    line = NULL;
    lcap = 0;
    return NULL;
}

/* Two passes over the file, one record in memory at a time: the first
** learns each transaction's names (a diversion late in the trace names an
** alternative that earlier calls had too), the second replays. */
static int cmdTest(const char *trace, int quiet)
{
    FILE *f = fopen(trace, "r");
    if (!f) {
        fprintf(stderr, "ptm-rules: %s: %s\n", trace, strerror(errno));
        return 2;
    }
    struct totals tot = {0};
    unsigned lineno = 0;
    json_t *rec;
    while ((rec = readRecord(f, trace, &lineno, 0, &tot.malformed))) {
        learnNames(rec);
        json_decref(rec);
    }
    if (ferror(f)) {
        fprintf(stderr, "ptm-rules: %s: cannot read: %s\n", trace, strerror(errno));
        fclose(f);
        return 2;
    }
    rewind(f);
    struct ptmRing *ring;
    if (ptmRingCreate(0, &ring) != PTM_OK) {
        fprintf(stderr, "ptm-rules: cannot map an event ring\n");
        fclose(f);
        return 2;
    }
    lineno = 0;
    while ((rec = readRecord(f, trace, &lineno, 1, &tot.malformed))) {
        if (replayOne(rec, lineno, ring, &tot, quiet, trace) != 0) {
            printf("%s:%u: error: more than %d transactions, skipped\n", trace, lineno,
                   RULES_MAX_TX);
            tot.malformed++;
        }
        json_decref(rec);
    }
    fclose(f);
    ptmRingDestroy(ring);

    printf("calls: %u replayed, %u malformed line%s skipped, %u rules error%s\n", tot.calls,
           tot.malformed, tot.malformed == 1 ? "" : "s", tot.rules_errors,
           tot.rules_errors == 1 ? "" : "s");
    if (tot.unsampled)
        printf("not mirrored (adaptive sampling): %u, not replayed\n", tot.unsampled);
    printf("would divert: %u (of them, primary ran: %u, failed for real: %u)\n", tot.divert,
           tot.divert_labelled, tot.divert_failed);
    if (tot.labelled)
        printf("labelled: %u (primary ran), failed: %u, Brier score: %.4f\n", tot.labelled,
               tot.failed, tot.brier / tot.labelled);
    else
        printf("labelled: 0 (no call ran its primary), Brier score: n/a\n");
    return tot.malformed || tot.rules_errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *pos[3];
    int npos = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--alternative") == 0 && i + 1 < argc) {
            if (nCliAlts < RULES_MAX_ALTS)
                cliAlts[nCliAlts++] = argv[++i];
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (npos < 2) {
        usage();
        return 2;
    }
    rulesPath = pos[1];
    /* The PAM's own way to run a script for every transaction. */
    if (setenv("PTM_RULES", rulesPath, 1) != 0) {
        perror("ptm-rules: setenv");
        return 2;
    }
    unsetenv("PTM_TRACE");
    if (strcmp(pos[0], "check") == 0 && npos == 2)
        return cmdCheck();
    if (strcmp(pos[0], "test") == 0 && npos == 3)
        return cmdTest(pos[2], quiet);
    usage();
    return 2;
}
