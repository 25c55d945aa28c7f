/*
** test_trace.c - the JSON Lines trace (trace.c) and the ptm-trace tool.
**
** PTM_TRACE is read once per process; Criterion runs each test in its own
** process, so each test sets it, to its own file, before the first write.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "fd_test.h"
#include "ptm_int.h"

/* --- helpers ------------------------------------------------------------ */

static char tracePath[64];

static void removeTrace(void)
{
    unlink(tracePath);
}

static void traceTo(void)
{
    atexit(removeTrace);
    snprintf(tracePath, sizeof tracePath, "/tmp/ptm-trace-test-XXXXXX");
    int fd = mkstemp(tracePath);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(setenv("PTM_TRACE", tracePath, 1), 0);
}

/* The trace's lines, parsed.  OUT: recs[0..return). */
static size_t readTrace(json_t **recs, size_t max)
{
    FILE *f = fopen(tracePath, "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0) {
        cr_assert_lt(n, max);
        cr_assert_eq(line[strlen(line) - 1], '\n', "every record ends its line");
        json_error_t err;
        recs[n] = json_loads(line, 0, &err);
        cr_assert_not_null(recs[n], "line %zu is not JSON: %s: %s", n + 1, err.text, line);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_string(v), "%s is not a string", k);
    return json_string_value(v);
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_number(v), "%s is not a number", k);
    return json_number_value(v);
}

static void isNull(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert_not_null(v, "%s is missing", k);
    cr_assert(json_is_null(v), "%s is not null", k);
}

static const struct ptm_alt alts[] = {{"ledger_queue", NULL}, {"ledger_reject", NULL}};

static struct ptm_tx_desc ledgerDesc(void)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "ledger.append",
        .function = "ledger_append",
        .alternatives = alts,
        .n_alternatives = 2,
        .failure_prediction_enabled = 1,
        .threshold = 0.4,
        .timeout_us = 250000,
    };
}

/* The ledger example's mirror: fopen ok, fprintf 24 B, a failed check, a
** denied unlink. */
static struct ptmRing *ledgerRing(void)
{
    struct ptmRing *ring = NULL;
    cr_assert_eq(ptmRingCreate(16, &ring), PTM_OK);
    struct ptmEvent *ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_fopen;
    ev->result = 1;
    ev->t_ns = 10000;
    ev->dur_ns = 5000;
    strcpy(ev->target, "ledger.txt");
    strcpy(ev->detail, "a");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_fprintf;
    ev->result = 24;
    ev->bytes = 24;
    strcpy(ev->target, "ledger.txt");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_VALIDATE;
    ev->call = PTM_CALL_ptm_validate;
    strcpy(ev->target, "amount must be positive");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_open;
    ev->result = -1;
    ev->err = EACCES;
    strcpy(ev->target, "/etc/shadow");
    strcpy(ev->detail, "O_RDONLY");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_DENIED;
    ev->call = PTM_CALL_SYSCALL | 87; /* unlink on x86_64 */
    ev->err = EPERM;
    ev->result = -1;
    return ring;
}

/* Writes the ledger example's record: a fork mirror, a divert. */
static void writeLedger(struct ptmRing *ring)
{
    struct ptm_tx_desc d = ledgerDesc();
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_FORK,
                               .duration_ns = 420000, .ring = ring};
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0.0, &s);
    struct ptmVerdict v = {.probability = 0.4, .n_reasons = 1, .divert = 1, .retry_max = 2,
                           .timeout_us = 50000};
    strcpy(v.reasons[0], "validation error");
    struct ptmTxRecord r = {.desc = &d, .run = &run, .signals = &s, .verdict = &v,
                            .decision = PTM_DECISION_DIVERT, .path = "ledger_reject", .attempts = 1,
                            .success = 1, .dry_run = 0, .duration_ns = 1900000,
                            .mirror_reason = "auto: ledger_append calls an unknown external"};
    ptmTraceWrite(&r);
}

/* --- the record ----------------------------------------------------------- */

/* The record's time, computed without gmtime_r, agrees with it from 1900
** to 2400 (leap days, centuries, the 400-year rule, before 1970), and
** never overruns a short buffer. */
Test(trace, timestamps_agree_with_gmtime)
{
    static const long long days[] = {-25567, -1, 0, 59, 60, 365, 10956, 11016, 11017,
                                     47541, 47482, 47483, 157095, 157096, 156730};
    for (size_t i = 0; i < sizeof days / sizeof *days; i++)
        for (long long s = -2; s <= 86401; s += 3607) {
            struct timespec ts = {.tv_sec = (time_t)(days[i] * 86400 + s), .tv_nsec = 123456789};
            char got[64], want[64];
            ptmTraceUtc(ts, got, sizeof got);
            struct tm tm;
            cr_assert_not_null(gmtime_r(&ts.tv_sec, &tm));
            size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(want + n, sizeof want - n, ".123456Z");
            cr_assert_str_eq(got, want, "at %lld", (long long)ts.tv_sec);
        }
    for (long long t = -3000000000LL; t < 13000000000LL; t += 7777777) {
        struct timespec ts = {.tv_sec = (time_t)t, .tv_nsec = 0};
        char got[64], want[64];
        ptmTraceUtc(ts, got, sizeof got);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + n, sizeof want - n, ".000000Z");
        cr_assert_str_eq(got, want, "at %lld", t);
    }
    char small[8] = "xxxxxxx";
    ptmTraceUtc((struct timespec){0}, small, 5);
    cr_assert_str_eq(small, "1970");
    cr_assert_eq(small[5], 'x');
}

Test(trace, every_contract_field)
{
    traceTo();
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    ptmRingDestroy(ring);

    json_t *recs[4];
    cr_assert_eq(readTrace(recs, 4), 1);
    json_t *o = recs[0];

    const char *ts = str(o, "ts");
    int y, mo, da, h, mi, se, us;
    char z;
    cr_expect_eq(strlen(ts), 27, "%s", ts);
    cr_expect_eq(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%6d%c", &y, &mo, &da, &h, &mi, &se, &us, &z),
                 8, "%s", ts);
    cr_expect_eq(z, 'Z');
    cr_expect_geq(y, 2024);
    cr_expect_eq(num(o, "pid"), getpid());
    cr_expect_eq(num(o, "tid"), gettid());
    cr_expect_str_eq(str(o, "transaction_id"), "ledger.append");
    cr_expect_str_eq(str(o, "function"), "ledger_append");
    cr_expect_str_eq(str(o, "mirror"), "fork");
    cr_expect_str_eq(str(o, "mirror_reason"), "auto: ledger_append calls an unknown external");
    cr_expect_str_eq(str(o, "mirror_status"), "returned");
    cr_expect_eq(num(o, "mirror_duration_us"), 420);
    isNull(o, "mirror_signal");
    cr_expect_eq(num(o, "mirror_exit_code"), 0);
    isNull(o, "mirror_error");
    isNull(o, "mirror_result"); /* this run has neither a frame nor a reason */

    json_t *evs = json_object_get(o, "events");
    cr_assert(json_is_array(evs));
    cr_assert_eq(json_array_size(evs), 5);
    json_t *e = json_array_get(evs, 0);
    cr_expect_str_eq(str(e, "kind"), "call");
    cr_expect_str_eq(str(e, "call"), "fopen");
    cr_expect_str_eq(str(e, "target"), "ledger.txt");
    cr_expect_str_eq(str(e, "detail"), "a");
    cr_expect_eq(num(e, "result"), 1);
    cr_expect_eq(num(e, "errno"), 0);
    isNull(e, "errname");
    isNull(e, "class");
    cr_expect_eq(num(e, "bytes"), 0);
    cr_expect_float_eq(num(e, "t_ms"), 0.01, 1e-12);
    cr_expect_float_eq(num(e, "dur_ms"), 0.005, 1e-12);
    e = json_array_get(evs, 1);
    cr_expect_str_eq(str(e, "call"), "fprintf");
    cr_expect_eq(num(e, "bytes"), 24);
    isNull(e, "detail");
    e = json_array_get(evs, 2);
    cr_expect_str_eq(str(e, "kind"), "validate");
    cr_expect_str_eq(str(e, "call"), "ptm_validate");
    cr_expect_str_eq(str(e, "target"), "amount must be positive");
    e = json_array_get(evs, 3);
    cr_expect_eq(num(e, "errno"), EACCES);
    cr_expect_str_eq(str(e, "errname"), "EACCES");
    cr_expect_str_eq(str(e, "class"), "validation");
    cr_expect_eq(num(e, "result"), -1);
    e = json_array_get(evs, 4);
    cr_expect_str_eq(str(e, "kind"), "denied");
    cr_expect_str_eq(str(e, "call"), "unlink");
    cr_expect_str_eq(str(e, "errname"), "EPERM");
    cr_expect_eq(num(o, "events_dropped"), 0);

    json_t *s = json_object_get(o, "signals");
    cr_assert(json_is_object(s));
    cr_expect(json_is_false(json_object_get(s, "contention")));
    cr_expect(json_is_true(json_object_get(s, "validation")));
    cr_expect_float_eq(num(s, "predicted_timeout_ms"), 0.42, 1e-12);
    cr_expect_float_eq(num(s, "acceptable_timeout_ms"), 250.0, 1e-12);
    cr_expect_float_eq(num(s, "deviation"), 0.0, 1e-12);
    cr_expect_eq(num(s, "validation_failures"), 1);
    cr_expect_eq(num(s, "error_events"), 1);

    cr_expect_float_eq(num(o, "probability"), 0.4, 1e-12);
    json_t *reasons = json_object_get(o, "reasons");
    cr_assert_eq(json_array_size(reasons), 1);
    cr_expect_str_eq(json_string_value(json_array_get(reasons, 0)), "validation error");
    cr_expect_str_eq(str(o, "rules"), "default");
    isNull(o, "rules_error");
    cr_expect_float_eq(num(o, "threshold"), 0.4, 1e-12);
    json_t *alts = json_object_get(o, "alternatives");
    cr_assert(json_is_array(alts));
    cr_assert_eq(json_array_size(alts), 2);
    cr_expect_str_eq(json_string_value(json_array_get(alts, 0)), "ledger_queue");
    cr_expect_str_eq(json_string_value(json_array_get(alts, 1)), "ledger_reject");
    json_t *adj = json_object_get(o, "adjusted");
    cr_expect_str_eq(str(adj, "divert"), "ledger_reject");
    cr_expect_eq(num(adj, "retries"), 2);
    cr_expect_float_eq(num(adj, "timeout_ms"), 50.0, 1e-12);
    cr_expect_str_eq(str(o, "decision"), "divert");
    cr_expect_str_eq(str(o, "path"), "ledger_reject");
    cr_expect_eq(num(o, "attempts"), 1);
    cr_expect_str_eq(str(o, "outcome"), "success");
    cr_expect(json_is_false(json_object_get(o, "dry_run")));
    cr_expect_eq(num(o, "duration_us"), 1900);
    json_decref(o);
}

Test(trace, without_a_mirror_or_analysis)
{
    traceTo();
    struct ptm_tx_desc d = ledgerDesc();
    d.timeout_us = 0;
    struct ptmTxRecord r = {.desc = &d, .decision = PTM_DECISION_DISABLED, .path = "ledger_append",
                            .attempts = 3, .success = 0, .duration_ns = 12000,
                            .mirror_reason = "failure_prediction_enabled = false"};
    ptmTraceWrite(&r);
    json_t *recs[2];
    cr_assert_eq(readTrace(recs, 2), 1);
    json_t *o = recs[0];
    cr_expect_str_eq(str(o, "mirror"), "off");
    cr_expect_str_eq(str(o, "mirror_reason"), "failure_prediction_enabled = false");
    isNull(o, "mirror_status");
    isNull(o, "mirror_duration_us");
    isNull(o, "mirror_signal");
    isNull(o, "mirror_exit_code");
    isNull(o, "mirror_error");
    isNull(o, "mirror_result");
    cr_expect_eq(json_array_size(json_object_get(o, "events")), 0);
    cr_expect_eq(num(o, "events_dropped"), 0);
    isNull(o, "signals");
    isNull(o, "probability");
    cr_expect_eq(json_array_size(json_object_get(o, "reasons")), 0);
    cr_expect_str_eq(str(o, "rules"), "default");
    isNull(o, "rules_error");
    cr_expect_str_eq(str(o, "decision"), "disabled");
    cr_expect_str_eq(str(o, "path"), "ledger_append");
    cr_expect_eq(num(o, "attempts"), 3);
    cr_expect_str_eq(str(o, "outcome"), "failure");
    cr_expect_eq(num(o, "duration_us"), 12);
    json_decref(o);
}

Test(trace, crash_timeout_and_rules_error)
{
    traceTo();
    struct ptm_tx_desc d = ledgerDesc();
    d.timeout_us = 0;
    d.rules_name = "bank.lua";
    d.rules_source = "return {}";
    struct ptmRing *ring = NULL;
    cr_assert_eq(ptmRingCreate(2, &ring), PTM_OK);
    for (int i = 0; i < 5; i++) {
        struct ptmEvent *ev = ptmRingPush(ring);
        if (ev) {
            ev->kind = PTM_EV_CALL;
            ev->call = PTM_CALL_write;
        }
    }
    struct ptmMirrorRun run = {.status = PTM_MS_TIMEOUT, .executor = PTM_EXEC_FORK,
                               .duration_ns = 5000000000ull, .signo = 9, .ring = ring};
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0.0, &s);
    struct ptmVerdict v = {.rules_error = 1, .divert = -1, .retry_max = -1, .timeout_us = -1};
    strcpy(v.error, "rules bank.lua: analyze: bank.lua:3: attempt to index a nil value");
    struct ptmTxRecord r = {.desc = &d, .run = &run, .signals = &s, .verdict = &v,
                            .decision = PTM_DECISION_PRIMARY, .path = "ledger_append", .attempts = 1,
                            .success = 1, .dry_run = 1, .duration_ns = 1000,
                            .mirror_reason = "mirror = fork"};
    ptmTraceWrite(&r);

    run = (struct ptmMirrorRun){.status = PTM_MS_FAILED, .executor = PTM_EXEC_FORK};
    strcpy(run.error, "fork: Resource temporarily unavailable");
    r.run = &run;
    r.signals = NULL;
    r.verdict = NULL;
    ptmTraceWrite(&r);
    ptmRingDestroy(ring);

    json_t *recs[4];
    cr_assert_eq(readTrace(recs, 4), 2);
    json_t *o = recs[0];
    cr_expect_str_eq(str(o, "mirror_status"), "timeout");
    cr_expect_eq(num(o, "mirror_signal"), 9);
    cr_expect_eq(num(o, "mirror_duration_us"), 5000000);
    cr_expect_eq(json_array_size(json_object_get(o, "events")), 2);
    cr_expect_eq(num(o, "events_dropped"), 3);
    json_t *sg = json_object_get(o, "signals");
    isNull(sg, "predicted_timeout_ms");
    isNull(sg, "acceptable_timeout_ms");
    isNull(o, "probability");
    cr_expect_str_eq(str(o, "rules"), "bank.lua");
    cr_expect_str_eq(str(o, "rules_error"),
                     "rules bank.lua: analyze: bank.lua:3: attempt to index a nil value");
    cr_expect_eq(json_object_size(json_object_get(o, "adjusted")), 0);
    cr_expect(json_is_true(json_object_get(o, "dry_run")));
    json_decref(o);

    o = recs[1];
    cr_expect_str_eq(str(o, "mirror_status"), "failed");
    cr_expect_str_eq(str(o, "mirror_error"), "fork: Resource temporarily unavailable");
    isNull(o, "signals");
    json_decref(o);
}

Test(trace, mirror_result_says_whether_the_frame_came_back)
{
    traceTo();
    struct ptm_tx_desc d = ledgerDesc();
    unsigned char frame[8] = {0};
    struct ptmMirrorRun kept = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE,
                                .frame_valid = 1, .frame = frame, .verdict = PTM_VERDICT_FAILED};
    struct ptmMirrorRun lost = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_FORK,
                                .verdict = PTM_VERDICT_FAILED, .frame_lost = "fork: too big"};
    struct ptmTxRecord r = {.desc = &d, .run = &kept, .decision = PTM_DECISION_PRIMARY,
                            .path = "ledger_append", .dry_run = 1};
    ptmTraceWrite(&r);
    r.run = &lost;
    ptmTraceWrite(&r);

    json_t *recs[4];
    cr_assert_eq(readTrace(recs, 4), 2);
    cr_expect_str_eq(str(recs[0], "mirror_result"), "kept");
    cr_expect_str_eq(str(recs[1], "mirror_result"), "fork: too big", "not a silent zero");
    json_decref(recs[0]);
    json_decref(recs[1]);
}

Test(trace, invalid_utf8_becomes_replacement_characters)
{
    traceTo();
    struct ptmRing *ring = NULL;
    cr_assert_eq(ptmRingCreate(2, &ring), PTM_OK);
    struct ptmEvent *ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_open;
    strcpy(ev->target, "caf\xe9.txt");               /* Latin-1 */
    strcpy(ev->detail, "\xc3\xa9t\xc3");             /* valid, then cut mid-character */
    struct ptm_tx_desc d = ledgerDesc();
    d.transaction_id = "quote\"back\\slash\nnewline";
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE, .ring = ring};
    struct ptmTxRecord r = {.desc = &d, .run = &run, .decision = PTM_DECISION_PRIMARY, .path = "f",
                            .attempts = 1, .success = 1};
    ptmTraceWrite(&r);
    ptmRingDestroy(ring);
    json_t *recs[2];
    cr_assert_eq(readTrace(recs, 2), 1);
    json_t *e = json_array_get(json_object_get(recs[0], "events"), 0);
    cr_expect_str_eq(str(e, "target"), "caf\xef\xbf\xbd.txt");
    cr_expect_str_eq(str(e, "detail"), "\xc3\xa9t\xef\xbf\xbd");
    cr_expect_str_eq(str(recs[0], "transaction_id"), "quote\"back\\slash\nnewline");
    json_decref(recs[0]);
}

Test(trace, unset_writes_nothing)
{
    unsetenv("PTM_TRACE");
    struct ptm_tx_desc d = ledgerDesc();
    struct ptmTxRecord r = {.desc = &d, .decision = PTM_DECISION_PRIMARY, .path = "f", .attempts = 1};
    errno = 1234;
    ptmTraceWrite(&r);
    ptmTraceWrite(NULL);
    cr_expect_eq(errno, 1234);
}

/* A trace that cannot be opened is said once on stderr, and by
** ptm_last_error(); the host goes on, errno untouched. */
Test(trace, unwritable_path_is_said_once)
{
    char err[] = "/tmp/ptm-trace-stderr-XXXXXX";
    int fd = mkstemp(err), saved = dup(2);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    setenv("PTM_TRACE", "/nonexistent-dir/trace.jsonl", 1);
    struct ptm_tx_desc d = ledgerDesc();
    struct ptmTxRecord r = {.desc = &d, .decision = PTM_DECISION_PRIMARY, .path = "f", .attempts = 1};
    errno = 42;
    ptmTraceWrite(&r);
    cr_expect_eq(errno, 42);
    ptmTraceWrite(&r);
    dup2(saved, 2);
    const char *want = "ptm: PTM_TRACE=/nonexistent-dir/trace.jsonl: cannot open it: "
                       "No such file or directory; no trace is written";
    cr_expect_str_eq(ptm_last_error(), want);
    char buf[1024];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    char line[1024];
    snprintf(line, sizeof line, "%s\n", want);
    cr_expect_str_eq(buf, line, "once, whole");
    close(fd);
    unlink(err);
}

/* The file's whole content, in a static buffer. */
static const char *traceText(void)
{
    static char buf[65536];
    FILE *f = fopen(tracePath, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A run killed mid-record left a cut line: the next writer starts on a
** fresh line, and every line after the fragment is a record. */
Test(trace, a_writer_starts_on_a_fresh_line_after_a_cut_one)
{
    traceTo();
    FILE *f = fopen(tracePath, "w");
    fputs("{\"ts\":\"2026-01-01T00:00", f);
    fclose(f);
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    writeLedger(ring);
    ptmRingDestroy(ring);
    const char *t = traceText();
    cr_assert(strncmp(t, "{\"ts\":\"2026-01-01T00:00\n{\"ts\":\"", 31) == 0, "%.80s", t);
    const char *second = strchr(strchr(t, '\n') + 1, '\n');
    cr_assert(second && strncmp(second, "\n{\"ts\":\"", 8) == 0, "no blank line between");
    cr_assert_eq(t[strlen(t) - 1], '\n');
}

static int cutCalls;

/* The first record is cut after 10 bytes (a full disk), then writes work. */
static ssize_t cutOnce(int fd, const void *buf, size_t n)
{
    if (cutCalls++ == 0)
        return write(fd, buf, 10);
    if (cutCalls == 2) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, n);
}

Test(trace, a_record_after_this_writers_cut_one_starts_a_new_line)
{
    traceTo();
    ptmOs.write = cutOnce;
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    writeLedger(ring);
    ptmRingDestroy(ring);
    const char *t = traceText();
    cr_assert_gt(strlen(t), 11);
    cr_assert_eq(t[10], '\n', "the fragment is a line of its own: %.40s", t);
    cr_assert(strncmp(t + 11, "{\"ts\":\"", 7) == 0, "%.40s", t + 11);
}

/* --- writing ---------------------------------------------------------------- */

static int writeCalls;

static ssize_t eintrOnce(int fd, const void *buf, size_t n)
{
    if (writeCalls++ == 0) {
        errno = EINTR;
        return -1;
    }
    if (writeCalls == 2 && n > 10) /* then a short write */
        return write(fd, buf, 10);
    return write(fd, buf, n);
}

Test(trace, eintr_and_short_writes)
{
    traceTo();
    ptmOs.write = eintrOnce;
    struct ptmRing *ring = ledgerRing();
    errno = 77;
    writeLedger(ring);
    cr_expect_eq(errno, 77, "errno is preserved");
    ptmOsReset();
    ptmRingDestroy(ring);
    cr_expect_eq(writeCalls, 3);
    json_t *recs[2];
    cr_assert_eq(readTrace(recs, 2), 1);
    json_decref(recs[0]);
}

static ssize_t alwaysEio(int fd, const void *buf, size_t n)
{
    (void)fd, (void)buf, (void)n;
    errno = EIO;
    return -1;
}

Test(trace, write_errors_are_dropped)
{
    traceTo();
    ptmOs.write = alwaysEio;
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    ptmOsReset();
    writeLedger(ring);
    ptmRingDestroy(ring);
    json_t *recs[2];
    cr_assert_eq(readTrace(recs, 2), 1, "the first record is lost, the second written");
    json_decref(recs[0]);
}

static int anyFd(const struct stat *st, const void *arg)
{
    (void)st, (void)arg;
    return 1;
}

static int openFds(void)
{
    return fdsPicked(anyFd, NULL, -1);
}

static int fstatFails(int fd, struct stat *st)
{
    (void)fd, (void)st;
    errno = EIO;
    return -1;
}

/* A trace file that cannot be told what it is (fstat fails) is no trace:
** said, and no descriptor is opened again for each record. */
Test(trace, a_file_that_cannot_be_stat_is_no_trace)
{
    traceTo();
    ptmOs.fstat = fstatFails;
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    int fds = openFds();
    for (int i = 0; i < 50; i++)
        writeLedger(ring);
    cr_expect_eq(openFds(), fds, "no descriptor per record");
    ptmOsReset();
    ptmRingDestroy(ring);
    cr_expect(strstr(ptm_last_error(), "cannot open it"), "%s", ptm_last_error());
}

/* The program closes the trace's descriptor and gets its number for a
** file of its own: the next record goes to the trace file, opened again,
** and the host's file keeps what it had. */
Test(trace, a_descriptor_the_program_reused_is_not_written)
{
    traceTo();
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    char host[64];
    snprintf(host, sizeof host, "/tmp/ptm-trace-host-XXXXXX");
    int hfd = mkstemp(host);
    cr_assert_geq(hfd, 0);
    cr_assert_eq(write(hfd, "host\n", 5), 5);
    struct stat ts;
    cr_assert_eq(stat(tracePath, &ts), 0);
    cr_assert_eq(reuseFds(hfd, sameFile, &ts), 1);
    writeLedger(ring);
    ptmRingDestroy(ring);
    struct stat hs;
    cr_assert_eq(fstat(hfd, &hs), 0);
    cr_expect_eq(hs.st_size, 5, "the host's file got %lld bytes", (long long)hs.st_size);
    close(hfd);
    unlink(host);
    json_t *recs[2];
    cr_assert_eq(readTrace(recs, 2), 2, "both records in the trace file");
    json_decref(recs[0]);
    json_decref(recs[1]);
}

static void *writer(void *arg)
{
    struct ptmRing *ring = arg;
    for (int i = 0; i < 50; i++)
        writeLedger(ring);
    return NULL;
}

Test(trace, threads_append_whole_lines, .timeout = 60)
{
    traceTo();
    struct ptmRing *ring = ledgerRing();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, writer, ring), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ptmRingDestroy(ring);
    static json_t *recs[300];
    cr_assert_eq(readTrace(recs, 300), 200);
    for (int i = 0; i < 200; i++)
        json_decref(recs[i]);
}

/* --- ptm-trace ------------------------------------------------------------------ */

/* build/tests/unit/test_trace -> build/bin/ptm-trace */
static int toolPath(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(out, cap, "%s/../../bin/ptm-trace", self);
    return access(out, X_OK);
}

/* Runs cmd, returns its exit status.  OUT: out (stdout). */
static int runTool(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ledgerTrace: the trace file holds the ledger record; the tool's path
** into tool (the test is skipped when it is not built). */
static void ledgerTrace(char *tool, size_t cap)
{
    if (toolPath(tool, cap) != 0)
        cr_skip_test("ptm-trace is not built next to the tests");
    traceTo();
    struct ptmRing *ring = ledgerRing();
    writeLedger(ring);
    ptmRingDestroy(ring);
}

Test(ptm_trace, show)
{
    char tool[PATH_MAX + 32];
    ledgerTrace(tool, sizeof tool);

    char cmd[PATH_MAX * 2 + 64], out[8192];
    snprintf(cmd, sizeof cmd, "%s show %s", tool, tracePath);
    cr_assert_eq(runTool(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "ledger.append (ledger_append) \xc2\xb7 mirror fork returned in "
                          "0.42 ms\n") == out, "%s", out);
    cr_expect(strstr(out, "  saw: fopen(\"ledger.txt\", \"a\") ok \xc2\xb7 "
                          "fprintf(\"ledger.txt\") 24 B \xc2\xb7 "
                          "ptm_validate failed: \"amount must be positive\" \xc2\xb7 "
                          "open(\"/etc/shadow\", \"O_RDONLY\") EACCES \xc2\xb7 "
                          "unlink denied by seccomp\n") != NULL, "%s", out);
    cr_expect(strstr(out, "  probability 0.40 (validation error) \xe2\x89\xa5 threshold "
                          "\xe2\x86\x92 divert to ledger_reject") != NULL, "%s", out);
    cr_expect(strstr(out, "success after 1 attempt (1.9 ms)\n") != NULL, "%s", out);

    snprintf(cmd, sizeof cmd, "%s show --ascii - < %s", tool, tracePath);
    cr_assert_eq(runTool(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "probability 0.40 (validation error) >= threshold -> divert to "
                          "ledger_reject, retries 2, timeout 50 ms | success") != NULL,
              "%s", out);
    for (const unsigned char *c = (const unsigned char *)out; *c; c++)
        cr_assert(*c < 0x80, "--ascii output is ASCII");
}

/* A full disk can cut the last record off: the records before it are
** shown, and the cut one is skipped with a warning, not an error. */
Test(ptm_trace, a_cut_off_last_record_is_skipped)
{
    char tool[PATH_MAX + 32];
    ledgerTrace(tool, sizeof tool);

    char cmd[PATH_MAX * 3 + 96], out[8192];
    snprintf(cmd, sizeof cmd, "(cat %s; printf '{\"ts\":\"2026') | %s show - 2>&1", tracePath,
             tool);
    cr_assert_eq(runTool(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "ledger.append (ledger_append)") != NULL, "%s", out);
    cr_expect(strstr(out, "<stdin>:2: the last record is cut off") != NULL, "%s", out);
}

/* A cut record in the middle of a file (a run killed mid-line, then
** another run) is skipped with a warning; the records after it are shown. */
Test(ptm_trace, a_cut_record_in_the_middle_is_skipped)
{
    char tool[PATH_MAX + 32];
    ledgerTrace(tool, sizeof tool);

    char cmd[PATH_MAX * 4 + 128], out[16384];
    snprintf(cmd, sizeof cmd,
             "(cat %s; printf '{\"ts\":\"2026\\n{\"ts\":\"2026-01-01\",\"x\":tru\\n'; cat %s) | "
             "%s show - 2>&1",
             tracePath, tracePath, tool);
    cr_assert_eq(runTool(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "<stdin>:2: a record is cut off") != NULL, "%s", out);
    cr_expect(strstr(out, "<stdin>:3: a record is cut off") != NULL, "%s", out);
    const char *first = strstr(out, "ledger.append (ledger_append)");
    cr_expect(first && strstr(first + 1, "ledger.append (ledger_append)"), "both shown: %s", out);
}

Test(ptm_trace, malformed_input)
{
    char tool[PATH_MAX + 32];
    if (toolPath(tool, sizeof tool) != 0)
        cr_skip_test("ptm-trace is not built next to the tests");
    char cmd[PATH_MAX * 2 + 64], out[4096];
    snprintf(cmd, sizeof cmd, "printf '{\"not\": \"a record\"}\\n' | %s show - 2>&1", tool);
    cr_expect_eq(runTool(cmd, out, sizeof out), 1);
    cr_expect(strstr(out, "<stdin>:1:") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "printf '\\n{oops\\n' | %s show - 2>&1", tool);
    cr_expect_eq(runTool(cmd, out, sizeof out), 1);
    cr_expect(strstr(out, "<stdin>:2:") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s show /nonexistent/trace 2>&1", tool);
    cr_expect_eq(runTool(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "%s 2>&1", tool);
    cr_expect_eq(runTool(cmd, out, sizeof out), 2);
    cr_expect(strstr(out, "usage") != NULL, "%s", out);
}
