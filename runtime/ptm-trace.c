/*
** ptm-trace - reads PTM_TRACE files (JSON Lines, see runtime/trace.c).
**
**     ptm-trace show [--ascii] FILE     each record in plain words
**     ptm-trace show [--ascii] -        the same, from stdin
**
** For each record, three lines:
**
**   ledger.append (ledger_append) · mirror fork returned in 0.42 ms
**     saw: fopen("ledger.txt", "a") ok · fprintf("ledger.txt") 24 B · ptm_validate failed: "amount must be positive"
**     probability 0.40 (validation error) ≥ threshold → divert to ledger_reject · success after 1 attempt (1.9 ms)
**
** --ascii writes "|", ">=", "->" for the three symbols and escapes every
** byte outside printable ASCII.  Exit status: 0; 1 when the input is not a
** trace (the message names the file and line) or cannot be read; 2 on a
** usage error.
*/
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SHOW_EVENTS_MAX 12 /* events shown per record; the rest are counted */

struct style {
    const char *dot, *ge, *lt, *arrow;
    int ascii;
};

static const struct style styleUtf8 = {" \xc2\xb7 ", "\xe2\x89\xa5", "<", "\xe2\x86\x92", 0};
static const struct style styleAscii = {" | ", ">=", "<", "->", 1};

/* A growing output line. */
struct buf {
    char *p;
    size_t len, cap;
};

static void bufAdd(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "ptm-trace: out of memory\n");
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void bufPrintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bufPrintf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    bufAdd(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends s for a terminal: control bytes (and, in ASCII mode, every
** non-ASCII byte) escaped; quoted when quote is set. */
static void bufText(struct buf *b, const struct style *st, const char *s, int quote)
{
    if (quote)
        bufAdd(b, "\"", 1);
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        char e[8];
        if (*u == '\n')
            bufAdd(b, "\\n", 2);
        else if (*u == '\t')
            bufAdd(b, "\\t", 2);
        else if (*u == '"' && quote)
            bufAdd(b, "\\\"", 2);
        else if (*u == '\\' && quote)
            bufAdd(b, "\\\\", 2);
        else if (*u < 0x20 || *u == 0x7f || (st->ascii && *u >= 0x80)) {
            snprintf(e, sizeof e, "\\x%02x", *u);
            bufAdd(b, e, 4);
        } else
            bufAdd(b, (const char *)u, 1);
    }
    if (quote)
        bufAdd(b, "\"", 1);
}

/* A duration in ms, with as many decimals as are worth reading. */
static void bufMs(struct buf *b, double ms)
{
    if (ms < 1.0)
        bufPrintf(b, "%.2f ms", ms);
    else if (ms < 10.0)
        bufPrintf(b, "%.1f ms", ms);
    else
        bufPrintf(b, "%.0f ms", ms);
}

/* Field accessors: NULL/-1 when absent or null. */
static const char *getStr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int getNum(json_t *o, const char *k, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    return 1;
}

/*
** checkRecord: the fields ptm-trace needs, with their types.  Returns NULL
** when rec is a trace record, else what is wrong with it.
*/
static const char *checkRecord(json_t *rec, char *why, size_t cap)
{
    static const struct {
        const char *key;
        json_type type;
        int nullable;
    } need[] = {
        {"transaction_id", JSON_STRING, 0}, {"function", JSON_STRING, 1},
        {"mirror", JSON_STRING, 0},         {"mirror_status", JSON_STRING, 1},
        {"events", JSON_ARRAY, 0},          {"probability", JSON_REAL, 1},
        {"reasons", JSON_ARRAY, 0},         {"rules_error", JSON_STRING, 1},
        {"decision", JSON_STRING, 0},       {"path", JSON_STRING, 1},
        {"attempts", JSON_INTEGER, 0},      {"outcome", JSON_STRING, 0},
        {"duration_us", JSON_INTEGER, 0},
    };
    if (!json_is_object(rec))
        return "not a JSON object";
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        json_t *v = json_object_get(rec, need[i].key);
        if (!v) {
            snprintf(why, cap, "no \"%s\" field", need[i].key);
            return why;
        }
        if (json_is_null(v) && need[i].nullable)
            continue;
        int ok = need[i].type == JSON_REAL ? json_is_number(v) : json_typeof(v) == need[i].type;
        if (!ok) {
            snprintf(why, cap, "\"%s\" has the wrong type", need[i].key);
            return why;
        }
    }
    json_t *ev;
    size_t i;
    json_array_foreach(json_object_get(rec, "events"), i, ev) {
        if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "kind"))) {
            snprintf(why, cap, "events[%zu] is not an event", i);
            return why;
        }
    }
    return NULL;
}

/* One event, as "fopen("ledger.txt", "a") ok". */
static void showEvent(struct buf *b, const struct style *st, json_t *ev)
{
    const char *kind = getStr(ev, "kind");
    const char *call = getStr(ev, "call");
    const char *target = getStr(ev, "target");
    const char *detail = getStr(ev, "detail");
    const char *errname = getStr(ev, "errname");
    double err = 0, bytes = 0;
    getNum(ev, "errno", &err);
    getNum(ev, "bytes", &bytes);

    if (strcmp(kind, "validate") == 0) {
        bufText(b, st, call ? call : "ptm_validate", 0);
        bufAdd(b, " failed: ", 9);
        bufText(b, st, target ? target : "", 1);
        return;
    }
    if (strcmp(kind, "out_of_bounds") == 0) {
        bufAdd(b, "out-of-bounds store (", 21);
        bufText(b, st, target ? target : "?", 0);
        bufAdd(b, "): not done", 11);
        return;
    }
    bufText(b, st, call ? call : "?", 0);
    if (strcmp(kind, "denied") == 0) {
        bufAdd(b, " denied by seccomp", 18);
        return;
    }
    bufAdd(b, "(", 1);
    if (target)
        bufText(b, st, target, 1);
    if (detail) {
        if (target)
            bufAdd(b, ", ", 2);
        bufText(b, st, detail, 1);
    }
    bufAdd(b, ")", 1);
    if (err != 0) {
        bufAdd(b, " ", 1);
        if (errname)
            bufText(b, st, errname, 0);
        else
            bufPrintf(b, "errno %.0f", err);
    } else if (bytes > 0) {
        bufPrintf(b, " %.0f B", bytes);
    } else {
        bufAdd(b, " ok", 3);
    }
}

/* The first line: what ran and what the mirror did. */
static void showHead(struct buf *b, const struct style *st, json_t *rec)
{
    const char *id = getStr(rec, "transaction_id");
    const char *fn = getStr(rec, "function");
    const char *mirror = getStr(rec, "mirror");
    const char *status = getStr(rec, "mirror_status");
    const char *reason = getStr(rec, "mirror_reason");
    const char *merr = getStr(rec, "mirror_error");
    double us = 0, sig = 0, code = 0;
    int has_us = getNum(rec, "mirror_duration_us", &us);
    int has_sig = getNum(rec, "mirror_signal", &sig);
    /* A crash without a signal is a mirror that called exit(). */
    int has_code = getNum(rec, "mirror_exit_code", &code) && code != 0;

    bufText(b, st, id, 0);
    if (fn && strcmp(fn, id) != 0) {
        bufAdd(b, " (", 2);
        bufText(b, st, fn, 0);
        bufAdd(b, ")", 1);
    }
    bufAdd(b, st->dot, strlen(st->dot));
    if (strcmp(mirror, "off") == 0 || !status) {
        /* Adaptive sampling left it out (mirror_sampled false): said so,
        ** not taken for a transaction without a mirror. */
        if (json_is_false(json_object_get(rec, "mirror_sampled")))
            bufAdd(b, "not mirrored", 12);
        else
            bufAdd(b, "no mirror", 9);
        if (reason) {
            bufAdd(b, " (", 2);
            bufText(b, st, reason, 0);
            bufAdd(b, ")", 1);
        }
        return;
    }
    bufAdd(b, "mirror ", 7);
    bufText(b, st, mirror, 0);
    if (strcmp(status, "returned") == 0) {
        bufAdd(b, " returned in ", 13);
    } else if (strcmp(status, "denied") == 0 && has_sig) {
        /* The sandbox killed it: a denied call made with SIGSYS blocked. */
        bufPrintf(b, " killed by the sandbox (signal %.0f%s%s) after ", sig,
                  sigabbrev_np((int)sig) ? ", SIG" : "",
                  sigabbrev_np((int)sig) ? sigabbrev_np((int)sig) : "");
    } else if (strcmp(status, "denied") == 0) {
        bufAdd(b, " returned, with syscalls denied, in ", 36);
    } else if (strcmp(status, "crashed") == 0) {
        if (has_sig)
            bufPrintf(b, " crashed (signal %.0f%s%s) after ", sig,
                      sigabbrev_np((int)sig) ? ", SIG" : "",
                      sigabbrev_np((int)sig) ? sigabbrev_np((int)sig) : "");
        else if (has_code)
            bufPrintf(b, " exited with %.0f after ", code);
        else
            bufAdd(b, " crashed after ", 15);
    } else if (strcmp(status, "timeout") == 0) {
        bufAdd(b, " timed out after ", 17);
    } else if (strcmp(status, "longjmp") == 0) {
        bufAdd(b, " left by longjmp after ", 23);
    } else if (strcmp(status, "failed") == 0) {
        bufAdd(b, " could not run", 14);
        if (merr) {
            bufAdd(b, ": ", 2);
            bufText(b, st, merr, 0);
        }
        return;
    } else {
        bufAdd(b, " ", 1);
        bufText(b, st, status, 0);
        bufAdd(b, " in ", 4);
    }
    bufMs(b, has_us ? us / 1000.0 : 0);
}

/* The second line: the mirror's events. */
static int showEvents(struct buf *b, const struct style *st, json_t *rec)
{
    json_t *events = json_object_get(rec, "events");
    double dropped = 0;
    getNum(rec, "events_dropped", &dropped);
    size_t n = json_array_size(events);
    if (n == 0 && dropped == 0)
        return getStr(rec, "mirror_status") != NULL &&
               strcmp(getStr(rec, "mirror_status"), "failed") != 0
                   ? (bufAdd(b, "  saw: no I/O", 13), 1)
                   : 0;
    bufAdd(b, "  saw: ", 7);
    for (size_t i = 0; i < n && i < SHOW_EVENTS_MAX; i++) {
        if (i)
            bufAdd(b, st->dot, strlen(st->dot));
        showEvent(b, st, json_array_get(events, i));
    }
    if (n > SHOW_EVENTS_MAX)
        bufPrintf(b, "%sand %zu more", st->dot, n - SHOW_EVENTS_MAX);
    if (dropped > 0)
        bufPrintf(b, "%s%.0f more not recorded (ring full)", n ? st->dot : "", dropped);
    return 1;
}

/* The third line: the verdict, the decision and the outcome. */
static void showVerdict(struct buf *b, const struct style *st, json_t *rec)
{
    const char *decision = getStr(rec, "decision");
    /* A dry run ran no path: it names the one that would have run. */
    const char *path = getStr(rec, "path") ? getStr(rec, "path") : getStr(rec, "would_run");
    const char *rules_error = getStr(rec, "rules_error");
    const char *outcome = getStr(rec, "outcome");
    json_t *dry = json_object_get(rec, "dry_run");
    int dry_run = json_is_true(dry);
    double p = 0, thr = 0, attempts = 0, dur_us = 0;
    int has_p = getNum(rec, "probability", &p);
    int has_thr = getNum(rec, "threshold", &thr);
    getNum(rec, "attempts", &attempts);
    getNum(rec, "duration_us", &dur_us);

    bufAdd(b, "  ", 2);
    if (strcmp(decision, "disabled") == 0) {
        bufAdd(b, "prediction disabled", 19);
    } else if (rules_error) {
        bufAdd(b, "rules error: ", 13);
        /* trace.c's messages start "rules NAME: ..." */
        bufText(b, st, strncmp(rules_error, "rules ", 6) == 0 ? rules_error + 6 : rules_error, 0);
    } else if (has_p) {
        bufPrintf(b, "probability %.2f", p);
        json_t *reasons = json_object_get(rec, "reasons");
        size_t n = json_array_size(reasons);
        if (n) {
            bufAdd(b, " (", 2);
            for (size_t i = 0; i < n; i++) {
                json_t *r = json_array_get(reasons, i);
                if (i)
                    bufAdd(b, ", ", 2);
                bufText(b, st, json_is_string(r) ? json_string_value(r) : "?", 0);
            }
            bufAdd(b, ")", 1);
        }
        int above = strcmp(decision, "divert") == 0 || (has_thr && p >= thr);
        bufPrintf(b, " %s threshold", above ? st->ge : st->lt);
        if (above && strcmp(decision, "divert") != 0)
            bufAdd(b, dry_run ? " (dry run)" : ", no alternative",
                   dry_run ? 10 : 16);
    } else {
        bufAdd(b, "not analyzed", 12);
    }

    bufPrintf(b, " %s ", st->arrow);
    if (strcmp(decision, "divert") == 0) {
        bufAdd(b, "divert to ", 10);
        bufText(b, st, path ? path : "?", 0);
    } else {
        bufAdd(b, "primary", 7);
        if (json_is_true(json_object_get(rec, "probe")))
            bufAdd(b, " (half-open probe)", 18);
        if (json_is_true(json_object_get(rec, "explored")))
            bufAdd(b, " (explored: a predicted failure let run for a label)", 52);
    }
    json_t *adj = json_object_get(rec, "adjusted");
    double x;
    if (json_is_object(adj) && getNum(adj, "retries", &x))
        bufPrintf(b, ", retries %.0f", x);
    if (json_is_object(adj) && getNum(adj, "timeout_ms", &x)) {
        bufAdd(b, ", timeout ", 10);
        bufMs(b, x);
    }
    json_t *clamped = json_object_get(rec, "clamped");
    const char *key;
    json_t *asked;
    json_object_foreach(clamped, key, asked) {
        bufAdd(b, ", rules asked ", 14);
        bufText(b, st, key, 0);
        bufAdd(b, " ", 1);
        if (json_is_number(asked))
            bufPrintf(b, "%.17g", json_number_value(asked));
        else
            bufAdd(b, "inf", 3);
    }

    bufAdd(b, st->dot, strlen(st->dot));
    bufText(b, st, outcome, 0);
    bufPrintf(b, " after %.0f attempt%s (", attempts, attempts == 1 ? "" : "s");
    bufMs(b, dur_us / 1000.0);
    bufAdd(b, ")", 1);
    if (json_is_true(json_object_get(rec, "left_by_longjmp")))
        bufAdd(b, ", left by longjmp", 17);
    const char *result = getStr(rec, "dry_run_result");
    if (dry_run && result && strncmp(result, "none: ", 6) == 0) {
        bufAdd(b, " [dry run, no result: ", 22);
        bufText(b, st, result + 6, 0);
        bufAdd(b, "]", 1);
    } else if (dry_run && !(has_p && strcmp(decision, "divert") != 0 && has_thr && p >= thr)) {
        bufAdd(b, " [dry run]", 10);
    }
}

/* showAdjusted: the retries judged again and the resources, one line
** each, when there are any. */
static void showAdjusted(struct buf *b, const struct style *st, json_t *rec)
{
    json_t *judged = json_object_get(rec, "retry_judged");
    size_t n = json_array_size(judged);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(judged, i);
        double attempt = 0, p = 0;
        getNum(j, "attempt", &attempt);
        bufPrintf(b, "  attempt %.0f ", attempt);
        bufText(b, st, getStr(j, "why") ? getStr(j, "why") : "?", 0);
        if (getNum(j, "probability", &p))
            bufPrintf(b, ": judged again, probability %.2f", p);
        else
            bufAdd(b, ": judged again, rules failed", 28);
        bufPrintf(b, " %s ", st->arrow);
        bufText(b, st, getStr(j, "decision") ? getStr(j, "decision") : "?", 0);
        bufAdd(b, "\n", 1);
    }
    const char *stopped = getStr(rec, "retry_stopped");
    if (stopped) {
        bufAdd(b, "  retries stopped: ", 19);
        bufText(b, st, stopped, 0);
        bufAdd(b, "\n", 1);
    }
    json_t *not = json_object_get(json_object_get(rec, "resources"), "not_granted");
    for (size_t i = 0; i < json_array_size(not); i++) {
        json_t *r = json_array_get(not, i);
        bufAdd(b, "  resource not granted: ", 24);
        bufText(b, st, json_is_string(r) ? json_string_value(r) : "?", 0);
        bufAdd(b, "\n", 1);
    }
}

static void showRecord(const struct style *st, json_t *rec)
{
    struct buf b = {0};
    showHead(&b, st, rec);
    bufAdd(&b, "\n", 1);
    if (showEvents(&b, st, rec))
        bufAdd(&b, "\n", 1);
    showVerdict(&b, st, rec);
    bufAdd(&b, "\n", 1);
    showAdjusted(&b, st, rec);
    fwrite(b.p, 1, b.len, stdout);
    free(b.p);
}

/* cutRecord: whether line[0..len), which jansson could not parse (err),
** is the beginning of a record whose writer stopped: the input ended too
** early, or it starts as every record does and breaks off at its end (in
** the middle of a literal: "tru"). */
static int cutRecord(const char *line, size_t len, const json_error_t *err)
{
    static const char start[] = "{\"ts\":\"";
    if (json_error_code(err) == json_error_premature_end_of_input)
        return 1;
    return len >= sizeof start - 1 && memcmp(line, start, sizeof start - 1) == 0 &&
           (size_t)err->position >= len;
}

static int cmdShow(const char *file, const struct style *st)
{
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    const char *name = in == stdin ? "<stdin>" : file;
    if (!in) {
        fprintf(stderr, "ptm-trace: %s: %s\n", file, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        /* A last line with no newline: the writer stopped in the middle of
        ** a record (a full disk). */
        int cut = n > 0 && line[n - 1] != '\n';
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len)
            continue; /* blank lines are allowed */
        json_error_t jerr;
        json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        char why[160];
        const char *bad = rec ? checkRecord(rec, why, sizeof why) : jerr.text;
        if (bad && cut) {
            fflush(stdout);
            fprintf(stderr, "ptm-trace: %s:%lu: the last record is cut off (its writer stopped "
                            "mid-line); skipped\n", name, lineno);
            json_decref(rec);
            break;
        }
        if (!rec && cutRecord(line + k, len - k, &jerr)) {
            /* A writer killed mid-record; the next one started a new line. */
            fflush(stdout);
            fprintf(stderr, "ptm-trace: %s:%lu: a record is cut off (its writer stopped "
                            "mid-line); skipped\n", name, lineno);
            continue;
        }
        if (bad) {
            fflush(stdout);
            fprintf(stderr, "ptm-trace: %s:%lu: not a PTM trace record: %s\n", name, lineno, bad);
            json_decref(rec);
            rc = 1;
            break;
        }
        showRecord(st, rec);
        json_decref(rec);
    }
    if (rc == 0 && ferror(in)) {
        fprintf(stderr, "ptm-trace: %s: %s\n", name, strerror(errno));
        rc = 1;
    }
    free(line);
    if (in != stdin)
        fclose(in);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "ptm-trace: writing: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}

static int usage(FILE *to, int rc)
{
    fputs("usage: ptm-trace show [--ascii] FILE    describe each record of a PTM_TRACE file\n"
          "       ptm-trace show [--ascii] -       read the trace from stdin\n",
          to);
    return rc;
}

int main(int argc, char **argv)
{
    const struct style *st = &styleUtf8;
    const char *file = NULL;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return usage(stdout, 0);
    if (argc < 2 || strcmp(argv[1], "show") != 0)
        return usage(stderr, 2);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--ascii") == 0)
            st = &styleAscii;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ptm-trace: unknown option '%s'\n", argv[i]);
            return usage(stderr, 2);
        } else if (!file)
            file = argv[i];
        else
            return usage(stderr, 2);
    }
    if (!file)
        return usage(stderr, 2);
    return cmdShow(file, st);
}
