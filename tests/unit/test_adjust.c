/*
** test_adjust.c - the rules' adjustments applied (adjust.c, tx.c, pam.c):
** the result keys backoff and resources and their hostile values, retries
** judged again (an attempt that overran the timeout, the same failure
** again), the process's retry budget, ptm_prediction() and
** ptm_timeout_ms(), and the trace fields that record them.
**
** Transactions are written by hand as ptmcc would emit them (test_tx.c
** has the pattern); the mirror runs inline.  Criterion runs each test in
** its own process, so PTM_TRACE and PTM_RETRY_BUDGET (read once) are set
** before the first call.
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

struct frame {
    struct {
        int sleep_ms; /* how long each attempt of the primary takes */
        int err;      /* the errno it fails with; 0: it succeeds */
    } arg;
    int ret;
    int err;
};

static int primaryRuns, altOneRuns, altTwoRuns;
static struct ptm_prediction seenPrediction; /* what the last path saw */
static int seenPredicted;                    /* ptm_prediction() was not NULL */
static char seenReason[96];
static long seenTimeoutMs;
static unsigned slept;                       /* the engine's backoff sleeps */
static uint64_t sleptUs[64];

static void see(void)
{
    const struct ptm_prediction *p = ptm_prediction();
    seenPredicted = p != NULL;
    if (p) {
        seenPrediction = *p;
        snprintf(seenReason, sizeof seenReason, "%s", p->n_reasons ? p->reasons[0] : "");
    }
    seenTimeoutMs = ptm_timeout_ms();
}

static void primary(void *p)
{
    struct frame *fr = p;
    primaryRuns++;
    see();
    if (fr->arg.sleep_ms) {
        struct timespec ts = {0, (long)fr->arg.sleep_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    fr->ret = fr->arg.err ? -1 : 0;
    errno = fr->arg.err; /* as a generated thunk leaves it */
}

static void mirror(void *p)
{
    ((struct frame *)p)->ret = 0;
}

static void altOne(void *p)
{
    altOneRuns++;
    see();
    ((struct frame *)p)->ret = 1;
}

static void altTwo(void *p)
{
    altTwoRuns++;
    see();
    ((struct frame *)p)->ret = 2;
}

static int success(const void *p)
{
    return ((const struct frame *)p)->ret >= 0;
}

static const struct ptm_alt alts[] = {{"alt_one", altOne}, {"alt_two", altTwo}};

static struct ptm_tx_desc descWith(const char *rules)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "adjust.test",
        .function = "adjust_primary",
        .file = "test_adjust.c",
        .line = 1,
        .frame_size = sizeof(struct frame),
        .primary = primary,
        .mirror = mirror,
        .success = success,
        .alternatives = alts,
        .n_alternatives = 2,
        .failure_prediction_enabled = 1,
        .mirror_mode = PTM_MIRROR_INLINE,
        .threshold = 0.5,
        .retry_max = 3,
        .mirror_deadline_us = 5000000, /* never the test's timeout */
        .rules_name = rules ? "adjust.lua" : NULL,
        .rules_source = rules,
    };
}

static int recordSleep(const struct timespec *req, struct timespec *rem)
{
    (void)rem;
    if (slept < 64)
        sleptUs[slept] = (uint64_t)req->tv_sec * 1000000u + (uint64_t)req->tv_nsec / 1000u;
    slept++;
    return 0;
}

static char tracePath[64];

static void setup(void)
{
    ptmOs.nanosleep = recordSleep;
    snprintf(tracePath, sizeof tracePath, "/tmp/ptm-adjust-%d.trace", (int)getpid());
    unlink(tracePath);
    setenv("PTM_TRACE", tracePath, 1);
}

static void teardown(void)
{
    ptmOsReset();
    unlink(tracePath);
}

TestSuite(adjust, .init = setup, .fini = teardown);

/* The trace's last line. */
static char *lastTrace(void)
{
    static char line[65536];
    FILE *f = fopen(tracePath, "r");
    cr_assert(f, "no trace at %s", tracePath);
    line[0] = 0;
    char buf[sizeof line];
    while (fgets(buf, sizeof buf, f))
        memcpy(line, buf, sizeof buf);
    fclose(f);
    return line;
}

/* --- retries judged again ------------------------------------------------ */

/* The example: every attempt overruns the timeout (80 ms against
** 50, here 30 against 2), and fails.  Before, all 1 + retry.max attempts
** ran; now the PAM is asked again after the first, and it stops. */
Test(adjust, an_attempt_that_overran_the_timeout_is_judged_again_and_stops)
{
    struct ptm_tx_desc d = descWith("return {analyze = function(m) return 0.1 end}");
    d.timeout_us = 2000;
    struct frame fr = {.arg = {30, ETIMEDOUT}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 1, "one doomed attempt, not %d", primaryRuns);
    cr_expect_eq(altOneRuns + altTwoRuns, 0);
    const char *t = lastTrace();
    cr_expect(strstr(t, "\"retry_judged\":[{\"attempt\":1,\"why\":\"overran the timeout\","
                        "\"probability\":0.1"),
              "%s", t);
    cr_expect(strstr(t, "\"decision\":\"stop\"}]"), "%s", t);
    cr_expect(strstr(t, "\"retry_stopped\":\"an attempt overran the timeout: the next would too\""),
              "%s", t);
    cr_expect(strstr(t, "\"timeout_ms\":2.0"), "%s", t);
}

/* The rules see m.retry and may ask for more attempts. */
Test(adjust, rules_that_return_retries_on_a_rejudgment_go_on)
{
    struct ptm_tx_desc d = descWith(
        "return {analyze = function(m)\n"
        "  if m.retry then\n"
        "    assert(m.retry.attempts == 1 and m.retry.overran and not m.retry.same_failure)\n"
        "    assert(m.retry.errname == 'ETIMEDOUT' and m.retry.last_ms >= 20)\n"
        "    assert(m.retry.retries_left == 3 and m.signals.predicted_timeout_ms >= 20)\n"
        "    return {probability = 0, retries = 1}\n"
        "  end\n"
        "  return 0\n"
        "end}");
    d.timeout_us = 2000;
    struct frame fr = {.arg = {25, ETIMEDOUT}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 2, "the rules' one more retry: %s", lastTrace());
}

/* The rules' timeout_ms is the call's timeout: an attempt past it overran,
** though the metadata has no timeout; ptm_timeout_ms() says it. */
Test(adjust, the_rules_timeout_is_the_calls_timeout)
{
    struct ptm_tx_desc d =
        descWith("return {analyze = function(m) return {probability = 0, timeout_ms = 1.5} end}");
    struct frame fr = {.arg = {20, EIO}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 1);
    cr_expect_eq(seenTimeoutMs, 2, "1.5 ms, rounded up");
    cr_expect_eq(ptm_timeout_ms(), -1, "outside a call: none");
}

/* The same failure again, within the timeout, asks the PAM; rules that
** predict the next attempt fails divert to the alternative they name,
** which learns why, with the errno of the attempts. */
Test(adjust, the_same_failure_again_diverts_to_the_named_alternative)
{
    struct ptm_tx_desc d = descWith(
        "return {analyze = function(m)\n"
        "  if m.retry and m.retry.same_failure then\n"
        "    return {probability = 0.9, reasons = {'EBUSY twice'}, divert = 'alt_two'}\n"
        "  end\n"
        "  return 0\n"
        "end}");
    struct frame fr = {.arg = {0, EBUSY}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1, "the alternative returned");
    cr_expect_eq(primaryRuns, 2);
    cr_expect_eq(altTwoRuns, 1);
    cr_expect_eq(fr.ret, 2);
    cr_assert(seenPredicted, "the alternative can ask why it runs");
    cr_expect_eq(seenPrediction.probability, 0.9);
    cr_expect_str_eq(seenReason, "EBUSY twice");
    cr_expect_eq(seenPrediction.predicted_errno, EBUSY);
    cr_expect_str_eq(seenPrediction.alternative, "alt_two");
    cr_expect_null(ptm_prediction(), "outside a call: NULL");
    const char *t = lastTrace();
    cr_expect(strstr(t, "\"decision\":\"divert\",\"path\":\"alt_two\",\"attempts\":2"), "%s", t);
    cr_expect(strstr(t, "\"why\":\"failed the same way\",\"probability\":0.9"), "%s", t);
    cr_expect(strstr(t, "\"decision\":\"divert\"}]"), "%s", t);
}

/* A script that asks for retries without end at every re-judgment is held
** to the bound of the first judgment (10, or retry.max when larger). */
Test(adjust, a_hostile_rejudgment_cannot_retry_for_ever)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith(
        "return {analyze = function(m) return {probability = 0, retries = math.huge,"
        " backoff = {kind = 'constant', base_ms = 1e300}} end}");
    d.retry_max = 2;
    struct frame fr = {.arg = {0, EAGAIN}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 1 + PTM_PAM_RETRIES_MAX);
    cr_expect_eq(slept, PTM_PAM_RETRIES_MAX);
    for (unsigned i = 0; i < slept && i < 64; i++)
        cr_expect_eq(sleptUs[i], (uint64_t)(PTM_PAM_TIMEOUT_MAX_MS * 1000), "the clamped backoff");
    const char *t = lastTrace();
    cr_expect(strstr(t, "\"backoff.base_ms\":"), "the clamp is recorded: %s", t);
}

/* The rules' backoff replaces the metadata's for this call. */
Test(adjust, the_rules_backoff_applies)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith(
        "return {analyze = function(m) return {probability = 0,"
        " backoff = {kind = 'constant', base_ms = 3}} end}");
    d.backoff = PTM_BACKOFF_CONSTANT;
    d.backoff_base_us = 50000;
    struct frame fr = {.arg = {0, EAGAIN}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 4);
    cr_assert_eq(slept, 3);
    for (unsigned i = 0; i < 3; i++)
        cr_expect_eq(sleptUs[i], 3000);
    cr_expect(strstr(lastTrace(), "\"backoff\":{\"kind\":\"constant\",\"base_ms\":3.0"), "%s",
              lastTrace());
}

/* --- the retry budget ---------------------------------------------------- */

Test(adjust, the_retry_budget_caps_retries_across_calls)
{
    setenv("PTM_RETRY_BUDGET", "0,3", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith(NULL);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 5;
    for (int i = 0; i < 3; i++) {
        struct frame fr = {.arg = {0, EAGAIN}};
        cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    }
    cr_expect_eq(primaryRuns, 4 + 1 + 1, "3 retries in all, then none");
    cr_expect(strstr(lastTrace(), "\"retry_stopped\":\"the process's retry budget is spent"),
              "%s", lastTrace());
}

Test(adjust, the_retry_budget_grows_with_calls)
{
    setenv("PTM_RETRY_BUDGET", "0.5,0", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith(NULL);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 1;
    for (int i = 0; i < 10; i++) {
        struct frame fr = {.arg = {0, EAGAIN}};
        ptm_tx_run(&d, &fr);
    }
    /* Call k may retry while retries < 0.5 k: 5 of the 10 calls retry. */
    cr_expect_eq(primaryRuns, 15);
}

Test(adjust, a_malformed_budget_setting_keeps_the_default)
{
    const char *bad[] = {"nan", "-1", "1e400", "0.2,", "0.2,-3", "x", "0.2,5,6"};
    for (unsigned k = 0; k < sizeof bad / sizeof *bad; k++) {
        setenv("PTM_RETRY_BUDGET", bad[k], 1);
        ptmRetryBudgetReset();
        /* The default: min 10 + 0.2 per call. */
        ptmRetryBudgetCall();
        unsigned allowed = 0;
        while (allowed < 100 && ptmRetryBudgetTake())
            allowed++;
        cr_expect_eq(allowed, 11, "\"%s\": %u retries allowed", bad[k], allowed);
    }
}

/* --- ptm_prediction and ptm_timeout_ms ----------------------------------- */

Test(adjust, the_primary_sees_the_prediction_and_the_metadata_timeout)
{
    struct ptm_tx_desc d =
        descWith("return {analyze = function(m) return {probability = 0.25, reasons = {'r1'}} end}");
    d.timeout_us = 7000;
    struct frame fr = {.arg = {0, 0}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_assert(seenPredicted);
    cr_expect_eq(seenPrediction.probability, 0.25);
    cr_expect_str_eq(seenReason, "r1");
    cr_expect_null(seenPrediction.alternative);
    cr_expect_eq(seenPrediction.predicted_errno, 0);
    cr_expect_eq(seenTimeoutMs, 7);
    cr_expect_null(ptm_prediction());
}

/* The mirror's first failing call with an effect names the errno. */
Test(adjust, the_predicted_errno_is_the_mirrors)
{
    struct ptmRing *ring;
    cr_assert_eq(ptmRingCreate(8, &ring), PTM_OK);
    struct ptmEvent *ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->err = ENOENT; /* a read-side failure: it only informs */
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->err = EFBIG;
    ev->flags = PTM_EVF_EFFECT;
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .ring = ring};
    cr_expect_eq(ptmPredictedErrno(&run, NULL), EFBIG);
    struct ptmSignals s = {.criteria_failed = 1, .criteria_errno = ENOSPC};
    struct ptmMirrorRun none = {.status = PTM_MS_RETURNED};
    cr_expect_eq(ptmPredictedErrno(&none, &s), ENOSPC);
    cr_expect_eq(ptmPredictedErrno(NULL, NULL), 0);
    ptmRingDestroy(ring);
}

/* --- hostile values of the result keys ----------------------------------- */

static int analyzeResult(const char *ret, struct ptmVerdict *v)
{
    static char src[512];
    snprintf(src, sizeof src, "return {analyze = function(m) return %s end}", ret);
    struct ptm_tx_desc d = descWith(src);
    d.backoff = PTM_BACKOFF_EXPONENTIAL;
    d.backoff_base_us = 5000;
    d.backoff_cap_us = 200000;
    struct ptmSignals s = {.acceptable_timeout_ms = HUGE_VAL};
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE};
    struct ptmHistoryView h = {0};
    struct ptmObservation obs = {.desc = &d, .run = &run, .signals = &s, .history = &h};
    return ptmPamAnalyze(&obs, v);
}

Test(adjust, wrong_typed_or_invalid_backoff_and_resources_fail_the_rules)
{
    const char *bad[] = {
        "{probability = 0, backoff = 3}",
        "{probability = 0, backoff = 'fast'}",
        "{probability = 0, backoff = {kind = 'fibonacci'}}",
        "{probability = 0, backoff = {kind = 7}}",
        "{probability = 0, backoff = {base_ms = -1}}",
        "{probability = 0, backoff = {base_ms = 0/0}}",
        "{probability = 0, backoff = {cap_ms = '10'}}",
        "{probability = 0, backoff = {jitter = true}}",
        "{probability = 0, backoff = {[1] = 2}}",
        "{probability = 0, resources = 64}",
        "{probability = 0, resources = {memory = -5}}",
        "{probability = 0, resources = {memory = 0/0}}",
        "{probability = 0, resources = {cpu = 0}}",
        "{probability = 0, resources = {cpu = '2'}}",
        "{probability = 0, resources = {gpu = 1}}",
        "{probability = 0, resources = {[true] = 1}}",
    };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ptmVerdict v;
        cr_expect_eq(analyzeResult(bad[i], &v), PTM_ERULES, "%s was accepted", bad[i]);
        cr_expect(v.rules_error && v.error[0], "%s: no error said", bad[i]);
        cr_expect_eq(v.memory_bytes, 0, "%s: a failed verdict asks nothing", bad[i]);
        cr_expect_eq(v.backoff_set, 0);
    }
}

Test(adjust, backoff_and_resources_beyond_their_bounds_are_clamped_and_recorded)
{
    struct ptmVerdict v;
    cr_assert_eq(analyzeResult("{probability = 0, backoff = {base_ms = math.huge, cap_ms = 2},"
                               " resources = {memory = 1e30, cpu = 1e9}}",
                               &v),
                 PTM_OK, "%s", v.error);
    cr_expect(v.backoff_set);
    cr_expect_eq(v.backoff, PTM_BACKOFF_EXPONENTIAL, "kind left out: the metadata's");
    cr_expect_eq(v.backoff_base_us, (uint64_t)(PTM_PAM_TIMEOUT_MAX_MS * 1000));
    cr_expect_eq(v.backoff_cap_us, v.backoff_base_us, "a cap below the base is the base");
    cr_expect_eq(v.memory_bytes, PTM_PAM_MEMORY_MAX);
    cr_expect_eq(v.cpus, PTM_PAM_CPU_MAX);
    cr_expect_eq(v.n_clamped, 3);
    int seen = 0; /* in the order the table gives them */
    for (unsigned i = 0; i < v.n_clamped; i++)
        seen |= strcmp(v.clamped[i].key, "backoff.base_ms") == 0     ? 1
                : strcmp(v.clamped[i].key, "resources.memory") == 0 ? 2
                : strcmp(v.clamped[i].key, "resources.cpu") == 0    ? 4
                                                                    : 8;
    cr_expect_eq(seen, 7);

    cr_assert_eq(analyzeResult("{probability = 0, backoff = 'none', resources = {cpu = 0.5}}", &v),
                 PTM_OK);
    cr_expect_eq(v.backoff, PTM_BACKOFF_NONE);
    cr_expect_eq(v.cpus, 1, "a share of a CPU asks one");
    cr_expect_eq(v.n_clamped, 0);

    cr_assert_eq(analyzeResult("{probability = 0, backoff = {kind = 'constant'}}", &v), PTM_OK);
    cr_expect_eq(v.backoff, PTM_BACKOFF_CONSTANT);
    cr_expect_eq(v.backoff_base_us, 5000, "the metadata's base");
}

/* --- the rules' timeout on the host's sockets ---------------------------- */

static int sockPair[2];
static struct timeval rcvInPrimary, sndInPrimary, rcvOtherInPrimary;
static int otherSock[2];

static void sockPrimary(void *p)
{
    socklen_t len = sizeof rcvInPrimary;
    getsockopt(sockPair[0], SOL_SOCKET, SO_RCVTIMEO, &rcvInPrimary, &len);
    len = sizeof sndInPrimary;
    getsockopt(sockPair[0], SOL_SOCKET, SO_SNDTIMEO, &sndInPrimary, &len);
    len = sizeof rcvOtherInPrimary;
    getsockopt(otherSock[0], SOL_SOCKET, SO_RCVTIMEO, &rcvOtherInPrimary, &len);
    ((struct frame *)p)->ret = 0;
}

/* The mirror sends on the host's socket, as the primary will. */
static void sockMirror(void *p)
{
    ptm_shim_send(sockPair[0], "x", 1, 0);
    ((struct frame *)p)->ret = 0;
}

static uint64_t tvUs(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

Test(adjust, the_rules_timeout_applies_to_the_hosts_sockets_for_the_primary_only)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sockPair), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, otherSock), 0);
    struct timeval shorter = {0, 10000}; /* 10 ms: shorter than the call's, kept */
    cr_assert_eq(setsockopt(sockPair[0], SOL_SOCKET, SO_SNDTIMEO, &shorter, sizeof shorter), 0);
    struct ptm_tx_desc d =
        descWith("return {analyze = function(m) return {probability = 0, timeout_ms = 30} end}");
    d.primary = sockPrimary;
    d.mirror = sockMirror;
    struct frame fr = {0};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    /* The kernel keeps socket timeouts in jiffies: within one of 4 ms. */
    cr_expect(tvUs(&rcvInPrimary) >= 28000 && tvUs(&rcvInPrimary) <= 34000,
              "no receive timeout: the call's, not %llu us",
              (unsigned long long)tvUs(&rcvInPrimary));
    cr_expect(tvUs(&sndInPrimary) >= 8000 && tvUs(&sndInPrimary) <= 14000,
              "a shorter one is kept, not %llu us", (unsigned long long)tvUs(&sndInPrimary));
    cr_expect_eq(tvUs(&rcvOtherInPrimary), 0, "a socket the mirror did not use is left");
    struct timeval after;
    socklen_t len = sizeof after;
    getsockopt(sockPair[0], SOL_SOCKET, SO_RCVTIMEO, &after, &len);
    cr_expect_eq(tvUs(&after), 0, "restored after the primary");
    len = sizeof after;
    getsockopt(sockPair[0], SOL_SOCKET, SO_SNDTIMEO, &after, &len);
    cr_expect_eq(tvUs(&after), tvUs(&sndInPrimary), "never changed");
}

Test(adjust, the_metadata_timeout_alone_leaves_the_sockets)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sockPair), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, otherSock), 0);
    struct ptm_tx_desc d = descWith("return {analyze = function(m) return 0 end}");
    d.timeout_us = 30000;
    d.primary = sockPrimary;
    d.mirror = sockMirror;
    struct frame fr = {0};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(tvUs(&rcvInPrimary), 0, "a plain program's socket is not changed");
}

/* The ring is the mirror's: a bit for a descriptor that is no socket, or
** not open, is ignored. */
Test(adjust, untrusted_socket_bits_touch_only_sockets)
{
    struct ptmRing *ring;
    cr_assert_eq(ptmRingCreate(8, &ring), PTM_OK);
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    ptmRingNoteSocket(ring, pipefd[0]);
    ptmRingNoteSocket(ring, 1000);
    ptmRingNoteSocket(ring, -1);
    ptmRingNoteSocket(ring, 1 << 20);
    for (unsigned w = 0; w < PTM_RING_SOCK_FDS / 64; w++)
        ring->sock_fds[w] |= w == 0 ? 0 : ~0ULL; /* a wild store set them all */
    struct ptmSockTimeouts st;
    ptmSocketTimeoutsApply(ring, 5000, &st);
    cr_expect_eq(st.n, 0);
    ptmSocketTimeoutsRestore(&st);
    ptmRingDestroy(ring);
}

/* --- hostile: threads, failing re-judgments ----------------------------- */

static void *takeMany(void *arg)
{
    unsigned *allowed = arg;
    for (int i = 0; i < 10000; i++) {
        ptmRetryBudgetCall();
        if (ptmRetryBudgetTake())
            (*allowed)++;
    }
    return NULL;
}

/* Eight threads spend the budget at once: what they get together is what
** one would, the minimum plus the ratio of all their calls. */
Test(adjust, the_retry_budget_holds_across_threads)
{
    setenv("PTM_RETRY_BUDGET", "0.1,5", 1);
    ptmRetryBudgetReset();
    pthread_t t[8];
    unsigned allowed[8] = {0};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, takeMany, &allowed[i]), 0);
    unsigned total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += allowed[i];
    }
    /* 80,000 calls within one or two windows: at most 5 + 8,000. */
    cr_expect_leq(total, 5 + 8000);
    cr_expect_geq(total, 8000 - 8, "the budget grows with the calls: %u", total);
}

/* A script that fails when it is asked again leaves the retries as the
** metadata says, as without rules, and the trace says so. */
Test(adjust, a_rejudgment_that_fails_retries_as_the_metadata_says)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith("return {analyze = function(m)\n"
                                    "  if m.retry then error('no idea') end\n"
                                    "  return 0\n"
                                    "end}");
    struct frame fr = {.arg = {0, EAGAIN}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 4);
    const char *t = lastTrace();
    cr_expect(strstr(t, "\"probability\":null,\"decision\":\"retry (rules failed)\""), "%s", t);
}

/* A re-judgment that spins is stopped by the rules' time budget: the
** retries stay bounded in time (a few budgets), not in the script's hands. */
Test(adjust, a_spinning_rejudgment_is_bounded)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith("return {analyze = function(m)\n"
                                    "  if m.retry then while true do end end\n"
                                    "  return 0\n"
                                    "end}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct frame fr = {.arg = {0, EAGAIN}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_eq(primaryRuns, 4);
    cr_expect_lt(s, 20.0, "3 re-judgments, each stopped by its budget: %.1f s", s);
}

/* An attempt that overran while a lock was held (EBUSY) may find it free
** next time: the retries go on. */
Test(adjust, an_overrun_on_contention_goes_on)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith("return {analyze = function(m) return 0.1 end}");
    d.timeout_us = 2000;
    struct frame fr = {.arg = {10, EBUSY}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 4);
    cr_expect(strstr(lastTrace(), "\"retry_stopped\":null"), "%s", lastTrace());
}
