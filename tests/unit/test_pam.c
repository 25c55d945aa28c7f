/*
** test_pam.c - the Predictive Analysis Module (pam.c) and the default
** rules (lua-rules/default.lua).
**
** Criterion runs each test in its own process, so every test starts with
** no Lua states and PTM_RULES can be set before the first analysis.
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "child_test.h"
#include "ptm_int.h"

/* --- fixture ------------------------------------------------------------ */

static const struct ptm_alt alts[] = {{"tx_queue", NULL}, {"tx_reject", NULL}};

static struct ptm_tx_desc descWith(const char *name, const char *src)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "bank.transfer",
        .function = "transfer",
        .alternatives = alts,
        .n_alternatives = 2,
        .failure_prediction_enabled = 1,
        .threshold = 0.4,
        .retry_max = 3,
        .rules_name = name,
        .rules_source = src,
    };
}

static struct ptmSignals quiet(void)
{
    return (struct ptmSignals){.predicted_timeout_ms = 1.0, .acceptable_timeout_ms = HUGE_VAL};
}

/* Runs analyze for desc with signals s and an empty mirror. */
static int analyze(const struct ptm_tx_desc *d, const struct ptmSignals *s, struct ptmVerdict *v)
{
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE,
                               .duration_ns = 1000000};
    struct ptmHistoryView h = {0};
    struct ptmObservation obs = {.desc = d, .run = &run, .signals = s, .history = &h};
    return ptmPamAnalyze(&obs, v);
}

static int analyzeSrc(const char *name, const char *src, struct ptmVerdict *v)
{
    struct ptm_tx_desc d = descWith(name, src);
    struct ptmSignals s = quiet();
    return analyze(&d, &s, v);
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* --- the default rules: the seed's sums ----------------------------------- */

Test(default_rules, seed_sums_for_every_combination)
{
    /* bit 0 contention 0.2, bit 1 validation 0.4, bit 2 timeout 0.3, bit 3 deviation 0.1 */
    static const double expect[16] = {0.0, 0.2, 0.4, 0.6, 0.3, 0.5, 0.7, 0.9,
                                      0.1, 0.3, 0.5, 0.7, 0.4, 0.6, 0.8, 1.0};
    static const char *const names[4] = {"resource contention", "validation error",
                                         "predicted timeout", "deviation from baseline"};
    struct ptm_tx_desc d = descWith(NULL, NULL);
    for (unsigned mask = 0; mask < 16; mask++) {
        struct ptmSignals s = quiet();
        s.contention = (mask & 1) != 0;
        s.validation = (mask & 2) != 0;
        s.predicted_timeout_ms = 500;
        s.acceptable_timeout_ms = (mask & 4) ? 250 : HUGE_VAL;
        s.deviation = (mask & 8) ? 0.75 : 0.25;
        struct ptmVerdict v;
        cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "mask %u: %s", mask, v.error);
        cr_expect_eq(v.rules_error, 0);
        cr_expect_eq(v.probability, expect[mask], "mask %u: %.17g, not %.17g", mask,
                     v.probability, expect[mask]);
        unsigned k = 0;
        for (unsigned bit = 0; bit < 4; bit++) {
            if (!(mask & (1u << bit)))
                continue;
            cr_assert_lt(k, v.n_reasons, "mask %u: too few reasons", mask);
            cr_expect_str_eq(v.reasons[k], names[bit], "mask %u", mask);
            k++;
        }
        cr_expect_eq(v.n_reasons, k, "mask %u", mask);
        cr_expect_eq(v.divert, -1);
        cr_expect_eq(v.retry_max, -1);
        cr_expect_eq(v.timeout_us, -1);
    }
}

Test(default_rules, strict_comparisons_at_the_boundaries)
{
    struct ptm_tx_desc d = descWith(NULL, NULL);
    struct ptmSignals s = quiet();
    s.predicted_timeout_ms = 250;
    s.acceptable_timeout_ms = 250;   /* not greater: no timeout */
    s.deviation = 0.5;               /* not greater than 0.5 */
    struct ptmVerdict v;
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.0);

    s.predicted_timeout_ms = HUGE_VAL; /* a timed-out mirror, no timeout declared */
    s.acceptable_timeout_ms = HUGE_VAL;
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.0);

    s.acceptable_timeout_ms = 100; /* a timed-out mirror against a real timeout */
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.3);
}

Test(default_rules, validation_alone_reaches_the_default_threshold)
{
    struct ptm_tx_desc d = descWith(NULL, NULL);
    struct ptmSignals s = quiet();
    s.validation = 1;
    struct ptmVerdict v;
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK);
    cr_expect(v.probability >= d.threshold);
}

Test(default_rules, name_is_default)
{
    struct ptm_tx_desc d = descWith(NULL, NULL);
    cr_expect_str_eq(ptmPamRulesName(&d), "default");
    d = descWith("bank.lua", "return {}");
    cr_expect_str_eq(ptmPamRulesName(&d), "bank.lua");
}

/* --- custom rules -------------------------------------------------------- */

Test(custom_rules, table_with_adjustments)
{
    struct ptmVerdict v;
    int rc = analyzeSrc("bank.lua",
                        "return { analyze = function(m)\n"
                        "  return { probability = 0.9, reasons = {'ledger locked', 'late'},\n"
                        "           divert = 'tx_reject', retries = 2, timeout_ms = 50 }\n"
                        "end }\n",
                        &v);
    cr_assert_eq(rc, PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.9);
    cr_expect_eq(v.n_reasons, 2);
    cr_expect_str_eq(v.reasons[0], "ledger locked");
    cr_expect_str_eq(v.reasons[1], "late");
    cr_expect_eq(v.divert, 1);
    cr_expect_eq(v.retry_max, 2);
    cr_expect_eq(v.timeout_us, 50000);
    cr_expect_eq(v.rules_error, 0);
    cr_expect_str_eq(v.error, "");
}

Test(custom_rules, plain_number_and_clamping)
{
    struct ptmVerdict v;
    cr_assert_eq(analyzeSrc("n.lua", "return {analyze = function() return 0.25 end}", &v), PTM_OK);
    cr_expect_eq(v.probability, 0.25);
    cr_expect_eq(v.n_reasons, 0);
    cr_assert_eq(analyzeSrc("hi.lua", "return {analyze = function() return 7 end}", &v), PTM_OK);
    cr_expect_eq(v.probability, 1.0);
    cr_assert_eq(analyzeSrc("lo.lua", "return {analyze = function() return {probability=-3} end}",
                            &v), PTM_OK);
    cr_expect_eq(v.probability, 0.0);
}

Test(custom_rules, many_long_reasons_are_truncated)
{
    struct ptmVerdict v;
    cr_assert_eq(analyzeSrc("r.lua",
                            "return {analyze = function()\n"
                            "  local r = {}\n"
                            "  for i = 1, 20 do r[i] = string.rep('x', 200) end\n"
                            "  return {probability = 0.5, reasons = r} end}",
                            &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.n_reasons, PTM_MAX_REASONS);
    cr_expect_eq(strlen(v.reasons[0]), sizeof v.reasons[0] - 1);
    cr_expect(strstr(v.reasons[0], "...") != NULL);
}

Test(custom_rules, same_text_shares_a_state)
{
    const char *text = "local n = 0\n"
                       "return {analyze = function() n = n + 1; return n / 100 end}\n";
    char *copy = strdup(text);
    struct ptm_tx_desc a = descWith("count.lua", text), b = descWith("count.lua", copy);
    struct ptmSignals s = quiet();
    struct ptmVerdict v;
    cr_assert_eq(analyze(&a, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.01);
    cr_assert_eq(analyze(&b, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.02, "another pointer to the same text: the same state");
    cr_assert_eq(analyze(&a, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.03);
    free(copy);
}

/* Adjustments beyond their bounds are clamped, and the clamp recorded:
** retries = 2147483647 used to make the caller retry for ever. */
Test(custom_rules, adjustments_are_clamped_and_recorded)
{
    static const struct {
        const char *body;
        unsigned retry_max;      /* the metadata's */
        uint64_t timeout_us;     /* the metadata's */
        int retries;             /* what applies; -1: none asked */
        int64_t timeout_us_out;  /* what applies; -1: none asked */
        double probability;
        const char *key;         /* what was clamped; NULL: nothing */
        double asked;
    } cases[] = {
        {"{probability = 0.5, retries = 2147483647}", 3, 0, PTM_PAM_RETRIES_MAX, -1, 0.5,
         "retries", 2147483647.0},
        {"{probability = 0.5, retries = math.maxinteger}", 3, 0, PTM_PAM_RETRIES_MAX, -1, 0.5,
         "retries", 9223372036854775807.0},
        {"{probability = 0.5, retries = math.huge}", 3, 0, PTM_PAM_RETRIES_MAX, -1, 0.5,
         "retries", HUGE_VAL},
        {"{probability = 0.5, retries = 1e300}", 3, 0, PTM_PAM_RETRIES_MAX, -1, 0.5, "retries",
         1e300},
        {"{probability = 0.5, retries = 11}", 3, 0, PTM_PAM_RETRIES_MAX, -1, 0.5, "retries",
         11},
        /* the metadata's own retry.max is always allowed */
        {"{probability = 0.5, retries = 1000}", 25, 0, 25, -1, 0.5, "retries", 1000},
        {"{probability = 0.5, retries = 25}", 25, 0, 25, -1, 0.5, NULL, 0},
        {"{probability = 0.5, retries = 10}", 3, 0, 10, -1, 0.5, NULL, 0},
        {"{probability = 0.5, retries = 0}", 3, 0, 0, -1, 0.5, NULL, 0},
        {"{probability = 0.5, timeout_ms = 1e15}", 3, 0, -1, 60000000, 0.5, "timeout_ms",
         1e15},
        {"{probability = 0.5, timeout_ms = math.huge}", 3, 0, -1, 60000000, 0.5, "timeout_ms",
         HUGE_VAL},
        {"{probability = 0.5, timeout_ms = 1e15}", 3, 120000000, -1, 120000000, 0.5,
         "timeout_ms", 1e15},
        {"{probability = 0.5, timeout_ms = 1e-9}", 3, 0, -1, 1, 0.5, "timeout_ms", 1e-9},
        {"{probability = 0.5, timeout_ms = 60000}", 3, 0, -1, 60000000, 0.5, NULL, 0},
        {"7", 3, 0, -1, -1, 1.0, "probability", 7},
        {"{probability = -3}", 3, 0, -1, -1, 0.0, "probability", -3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "return {analyze = function(m) return %s end}", cases[i].body);
        struct ptm_tx_desc d = descWith("clamp.lua", src);
        d.retry_max = cases[i].retry_max;
        d.timeout_us = cases[i].timeout_us;
        struct ptmSignals s = quiet();
        struct ptmVerdict v;
        cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s: %s", cases[i].body, v.error);
        cr_expect_eq(v.retry_max, cases[i].retries, "%s: %d", cases[i].body, v.retry_max);
        cr_expect_eq(v.timeout_us, cases[i].timeout_us_out, "%s: %lld", cases[i].body,
                     (long long)v.timeout_us);
        cr_expect_eq(v.probability, cases[i].probability, "%s", cases[i].body);
        if (!cases[i].key) {
            cr_expect_eq(v.n_clamped, 0, "%s", cases[i].body);
            continue;
        }
        cr_assert_eq(v.n_clamped, 1, "%s", cases[i].body);
        cr_expect_str_eq(v.clamped[0].key, cases[i].key, "%s", cases[i].body);
        cr_expect_eq(v.clamped[0].asked, cases[i].asked, "%s: %g", cases[i].body,
                     v.clamped[0].asked);
    }
    /* all at once */
    struct ptmVerdict v;
    cr_assert_eq(analyzeSrc("all.lua", "return {analyze = function() return {probability = 2, "
                            "retries = 1 << 40, timeout_ms = 1e13} end}", &v), PTM_OK);
    cr_expect_eq(v.n_clamped, 3);
    cr_expect_eq(v.retry_max, PTM_PAM_RETRIES_MAX);
    cr_expect_eq(v.probability, 1.0);
}

/* Each of these returns something analyze may not: PTM_ERULES, probability 0. */
Test(custom_rules, invalid_results)
{
    static const struct {
        const char *body, *needle;
    } cases[] = {
        {"return 0/0", "nan"},
        {"return math.huge", "inf"},
        {"return {probability = 0/0}", "nan"},
        {"return 'high'", "string"},
        {"return nil", "nil"},
        {"return true", "boolean"},
        {"return {reasons = {'x'}}", "without probability"},
        {"return {probability = '0.5'}", "not a number"},
        {"return {probability = 0.5, divert = 'nowhere'}", "nowhere"},
        {"return {probability = 0.5, divert = 1}", "divert"},
        {"return {probability = 0.5, retries = -1}", "retries"},
        {"return {probability = 0.5, retries = 1.5}", "retries"},
        {"return {probability = 0.5, timeout_ms = 0}", "timeout_ms"},
        {"return {probability = 0.5, timeout_ms = 0/0}", "timeout_ms"},
        {"return {probability = 0.5, reasons = 'x'}", "reasons"},
        {"return {probability = 0.5, reasons = {{}}}", "reasons[1]"},
        {"return {probability = 0.5, retry = 3}", "unknown key 'retry'"},
        {"return {probability = 0.5, [1] = 2}", "number key"},
        {"", "returned nothing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "return {analyze = function(m) %s end}", cases[i].body);
        struct ptm_tx_desc d = descWith("bad.lua", src);
        struct ptmSignals s = quiet();
        struct ptmVerdict v;
        cr_expect_eq(analyze(&d, &s, &v), PTM_ERULES, "%s", cases[i].body);
        cr_expect_eq(v.rules_error, 1, "%s", cases[i].body);
        cr_expect_eq(v.probability, 0.0, "%s", cases[i].body);
        cr_expect_eq(v.n_reasons, 0, "%s", cases[i].body);
        cr_expect_eq(v.divert, -1);
        cr_expect(strstr(v.error, "bad.lua") != NULL, "%s: %s", cases[i].body, v.error);
        cr_expect(strstr(v.error, cases[i].needle) != NULL, "%s: %s", cases[i].body, v.error);
    }
}

/* --- failures of the script ----------------------------------------------- */

Test(failures, syntax_error)
{
    struct ptmVerdict v;
    int rc = analyzeSrc("broken.lua", "return { analyze = function(m) return 0.1 end", &v);
    cr_expect_eq(rc, PTM_ERULES);
    cr_expect_eq(v.rules_error, 1);
    cr_expect_eq(v.probability, 0.0);
    cr_expect(strstr(v.error, "broken.lua:1:") != NULL, "%s", v.error);
    cr_expect(strstr(v.error, "expected") != NULL, "%s", v.error);
}

Test(failures, load_failure_sticks)
{
    const char *src = "counter = (counter or 0) + 1\n"
                      "error('cannot start ' .. counter)\n";
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("boom.lua", src, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "boom.lua:2: cannot start 1") != NULL, "%s", v.error);
    cr_expect_eq(analyzeSrc("boom.lua", src, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "cannot start 1") != NULL, "not reloaded: %s", v.error);
}

Test(failures, script_shape)
{
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("a.lua", "return 1", &v), PTM_ERULES);
    cr_expect(strstr(v.error, "must return a table") != NULL, "%s", v.error);
    cr_expect_eq(analyzeSrc("b.lua", "return {}", &v), PTM_ERULES);
    cr_expect(strstr(v.error, "analyze") != NULL, "%s", v.error);
    cr_expect_eq(analyzeSrc("c.lua", "return {analyze = function() return 0 end, on_event = 3}",
                            &v), PTM_ERULES);
    cr_expect(strstr(v.error, "on_event") != NULL, "%s", v.error);
    cr_expect_eq(analyzeSrc("d.lua", "\x1bLua", &v), PTM_ERULES, "no bytecode");
    cr_expect(strstr(v.error, "d.lua") != NULL, "%s", v.error);
}

Test(failures, runtime_error_leaves_the_state_usable)
{
    const char *src = "return { analyze = function(m)\n"
                      "  if m.signals.validation then\n"
                      "    local t = nil; return t.x\n"
                      "  end\n"
                      "  return 0.3\n"
                      "end }\n";
    struct ptm_tx_desc d = descWith("flaky.lua", src);
    struct ptmSignals s = quiet();
    struct ptmVerdict v;
    s.validation = 1;
    cr_expect_eq(analyze(&d, &s, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "flaky.lua:3:") != NULL, "%s", v.error);
    cr_expect(strstr(v.error, "index a nil value") != NULL, "%s", v.error);
    s.validation = 0;
    cr_expect_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.3);
    cr_expect_eq(v.rules_error, 0);
}

Test(failures, error_with_a_table)
{
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("t.lua", "return {analyze = function() error({}) end}", &v),
                 PTM_ERULES);
    cr_expect(strstr(v.error, "table") != NULL, "%s", v.error);
}

Test(failures, infinite_loop_hits_the_budget, .timeout = 10)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("loop.lua", "return {analyze = function() while true do end end}", &v),
                 PTM_ERULES);
    cr_expect(strstr(v.error, "budget") != NULL, "%s", v.error);
    cr_expect_lt(elapsed(&t0), 1.0);
}

/* A library call can take long for one VM instruction: the wall clock
** stops the run too. */
Test(failures, slow_library_calls_hit_the_time_budget, .timeout = 10)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("rep.lua",
                            "return {analyze = function() for i = 1, 2000 do "
                            "local s = string.rep('x', 2 * 1024 * 1024) end return 0.9 end}",
                            &v),
                 PTM_ERULES);
    cr_expect(strstr(v.error, "time budget") != NULL, "%s", v.error);
    cr_expect_lt(elapsed(&t0), 2.0);
}

Test(failures, budget_survives_pcall, .timeout = 10)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ptmVerdict v;
    const char *src = "return {analyze = function()\n"
                      "  while true do pcall(function() while true do end end) end\n"
                      "end}";
    cr_expect_eq(analyzeSrc("sly.lua", src, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "budget") != NULL, "%s", v.error);
    /* in a C call (no yield possible): the hook's error, re-raised by pcall */
    const char *src2 = "return {analyze = function()\n"
                       "  table.sort({3, 2, 1}, function(a, b)\n"
                       "    while true do pcall(function() while true do end end) end\n"
                       "  end)\n"
                       "end}";
    cr_expect_eq(analyzeSrc("sort.lua", src2, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "budget") != NULL, "%s", v.error);
    cr_expect_lt(elapsed(&t0), 2.0);
}

Test(failures, budget_applies_to_loading, .timeout = 10)
{
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("top.lua", "while true do end", &v), PTM_ERULES);
    cr_expect(strstr(v.error, "budget") != NULL, "%s", v.error);
}

Test(failures, budget_is_per_call)
{
    /* ~0.6 of the budget per call: fine every time. */
    const char *src = "return {analyze = function()\n"
                      "  local x = 0\n"
                      "  for i = 1, 150000 do x = x + i end\n"
                      "  return 0.5 end}";
    struct ptm_tx_desc d = descWith("busy.lua", src);
    struct ptmSignals s = quiet();
    for (int i = 0; i < 5; i++) {
        struct ptmVerdict v;
        cr_expect_eq(analyze(&d, &s, &v), PTM_OK, "call %d: %s", i, v.error);
    }
}

Test(failures, memory_bomb, .timeout = 10)
{
    const char *src = "return {analyze = function(m)\n"
                      "  if m.signals.validation then\n"
                      "    local s = string.rep('x', 1024)\n"
                      "    while true do s = s .. s end\n"
                      "  end\n"
                      "  return 0.2\n"
                      "end}";
    struct ptm_tx_desc d = descWith("bomb.lua", src);
    struct ptmSignals s = quiet();
    struct ptmVerdict v;
    s.validation = 1;
    cr_expect_eq(analyze(&d, &s, &v), PTM_ERULES);
    /* On a busy machine the copies of the doubling can outlast the time
    ** budget before the memory cap is reached: either limit is the stop. */
    cr_expect(strstr(v.error, "memory") != NULL || strstr(v.error, "time budget") != NULL,
              "%s", v.error);
    s.validation = 0;
    cr_expect_eq(analyze(&d, &s, &v), PTM_OK, "the state recovers: %s", v.error);
    cr_expect_eq(v.probability, 0.2);

    cr_expect_eq(analyzeSrc("rep.lua", "return {analyze = function() "
                            "return #string.rep('x', 1 << 30) end}", &v), PTM_ERULES);
    cr_expect(strstr(v.error, "memory") != NULL, "%s", v.error);

    cr_expect_eq(analyzeSrc("tbl.lua", "local t = {} for i = 1, 1e7 do t[i] = {} end "
                            "return {analyze = function() return 0 end}", &v), PTM_ERULES);
    cr_expect(strstr(v.error, "memory") != NULL || strstr(v.error, "budget") != NULL, "%s",
              v.error);
}

Test(failures, no_finalizers)
{
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("gc.lua", "return {analyze = function() "
                            "setmetatable({}, {__gc = function() while true do end end}) "
                            "return 0 end}", &v), PTM_ERULES);
    cr_expect(strstr(v.error, "__gc") != NULL, "%s", v.error);
    cr_expect_eq(analyzeSrc("mt.lua", "return {analyze = function() "
                            "local t = setmetatable({}, {__index = function() return 0.5 end}) "
                            "return t.anything end}", &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.5);
}

Test(failures, close_handlers_are_bounded, .timeout = 10)
{
    struct ptmVerdict v;
    const char *src = "return {analyze = function()\n"
                      "  local mt = {__close = function() while true do end end}\n"
                      "  local x <close> = setmetatable({}, mt)\n"
                      "  while true do end\n"
                      "end}";
    cr_expect_eq(analyzeSrc("close.lua", src, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "budget") != NULL, "%s", v.error);
}

/* --- the sandbox ------------------------------------------------------------ */

Test(sandbox, only_the_whitelist)
{
    const char *src =
        "return {analyze = function()\n"
        "  local banned = {'io', 'require', 'dofile', 'loadfile', 'load', 'collectgarbage',\n"
        "                  'print', 'package', 'debug', 'coroutine', 'warn'}\n"
        "  for _, k in ipairs(banned) do\n"
        "    if _G[k] ~= nil then error(k .. ' is reachable') end\n"
        "  end\n"
        "  for _, k in ipairs({'execute', 'getenv', 'exit', 'remove', 'rename', 'tmpname',\n"
        "                      'setlocale'}) do\n"
        "    if os[k] ~= nil then error('os.' .. k .. ' is reachable') end\n"
        "  end\n"
        "  assert(type(os.time()) == 'number' and type(os.clock()) == 'number')\n"
        "  assert(type(os.date('!%Y')) == 'string')\n"
        "  assert(string.format('%d', 3) == '3' and table.concat({1, 2}, ',') == '1,2')\n"
        "  assert(math.floor(2.5) == 2 and utf8.char(72) == 'H')\n"
        "  assert(ptm.errname(13) == 'EACCES' and ptm.errclass(16) == 'contention')\n"
        "  assert(ptm.errname(0) == nil and ptm.errclass(5) == nil)\n"
        "  assert(not pcall(ptm.errname, 'x'))\n"
        "  assert(select('#', pcall(error, 'e')) == 2)\n"
        "  return 0\n"
        "end}";
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("sandbox.lua", src, &v), PTM_OK, "%s", v.error);
}

Test(sandbox, string_metatable_cannot_reach_load)
{
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc("s.lua", "return {analyze = function() "
                            "return ('x').load == nil and string.load == nil and 0 or 1 end}", &v),
                 PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.0);
}

/* --- m ------------------------------------------------------------------------ */

Test(m_table, fields)
{
    struct ptmRing *ring = NULL;
    cr_assert_eq(ptmRingCreate(8, &ring), PTM_OK);
    struct ptmEvent *ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_fopen;
    ev->err = EACCES;
    ev->result = 0;
    ev->t_ns = 1500000;
    ev->dur_ns = 20000;
    strcpy(ev->target, "ledger.txt");
    strcpy(ev->detail, "a");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_VALIDATE;
    ev->call = PTM_CALL_ptm_validate;
    strcpy(ev->target, "amount must be positive");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_fprintf;
    ev->bytes = 24;
    ev->result = 24;
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_DENIED;
    ev->call = PTM_CALL_SYSCALL | 87; /* unlink on x86_64 */
    ev->err = EPERM;

    const char *src =
        "local function check(c, what) if not c then error('m: ' .. what, 2) end end\n"
        "return {analyze = function(m)\n"
        "  check(m.transaction_id == 'bank.transfer', 'transaction_id')\n"
        "  check(m['function'] == 'transfer', 'function')\n"
        "  check(m.threshold == 0.4, 'threshold')\n"
        "  check(m.deviation_threshold == 0.5, 'deviation_threshold')\n"
        "  check(m.retry_max == 3 and m.timeout_ms == 250, 'retry_max/timeout_ms')\n"
        "  check(#m.alternatives == 2 and m.alternatives[2] == 'tx_reject', 'alternatives')\n"
        "  local mi = m.mirror\n"
        "  check(mi.executor == 'fork' and mi.status == 'crashed', 'mirror status')\n"
        "  check(mi.duration_ms == 2.5 and mi.signal == 11 and mi.exit_code == 0, 'mirror')\n"
        "  check(mi.denied == 1 and mi.events_dropped == 0, 'mirror counts')\n"
        "  check(#m.events == 4, 'events')\n"
        "  local e = m.events[1]\n"
        "  check(e.kind == 'call' and e.call == 'fopen' and e.target == 'ledger.txt', 'ev1')\n"
        "  check(e.detail == 'a' and e.errno == 13 and e.errname == 'EACCES', 'ev1 errno')\n"
        "  check(e.class == 'validation' and e.result == 0 and e.bytes == 0, 'ev1 class')\n"
        "  check(e.t_ms == 1.5 and e.dur_ms == 0.02, 'ev1 times')\n"
        "  e = m.events[2]\n"
        "  check(e.kind == 'validate' and e.call == 'ptm_validate', 'ev2')\n"
        "  check(e.target == 'amount must be positive' and e.detail == nil, 'ev2 target')\n"
        "  check(e.errno == 0 and e.errname == nil and e.class == nil, 'ev2 errno')\n"
        "  e = m.events[3]\n"
        "  check(e.call == 'fprintf' and e.bytes == 24 and e.target == nil, 'ev3')\n"
        "  e = m.events[4]\n"
        "  check(e.kind == 'denied' and e.call == 'unlink' and e.errname == 'EPERM', 'ev4')\n"
        "  local s = m.signals\n"
        "  check(s.validation == true and s.contention == false, 'signals')\n"
        "  check(s.predicted_timeout_ms == 2.5 and s.acceptable_timeout_ms == 250, 'timeouts')\n"
        "  check(s.deviation == 0.125 and s.validation_failures == 1, 'deviation')\n"
        "  check(s.error_events == 1 and s.contention_events == 0, 'counters')\n"
        "  check(m.mirror_success == false, 'mirror_success')\n"
        "  local h = m.history\n"
        "  check(h.calls == 5 and h.successes == 4 and h.failures == 1, 'history')\n"
        "  check(h.diversions == 2 and h.latency_n == 4, 'history counts')\n"
        "  check(h.latency_mean_ms == 1.5 and h.latency_sd_ms == 0.5, 'latency')\n"
        "  check(m.rules == 'm.lua', 'rules')\n"
        "  return 1\n"
        "end}";
    struct ptm_tx_desc d = descWith("m.lua", src);
    d.timeout_us = 250000;
    struct ptmMirrorRun run = {.status = PTM_MS_CRASHED, .executor = PTM_EXEC_FORK, .signo = 11,
                               .duration_ns = 2500000, .denied = 1, .ring = ring,
                               .verdict = PTM_VERDICT_FAILED};
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0.125, &s);
    struct ptmHistoryView h = {.calls = 5, .successes = 4, .failures = 1, .diversions = 2,
                               .latency_n = 4, .latency_mean_us = 1500, .latency_sd_us = 500};
    struct ptmObservation obs = {.desc = &d, .run = &run, .signals = &s, .history = &h};
    struct ptmVerdict v;
    cr_expect_eq(ptmPamAnalyze(&obs, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 1.0);
    ptmRingDestroy(ring);
}

Test(m_table, without_a_mirror)
{
    const char *src = "return {analyze = function(m)\n"
                      "  assert(m.mirror == nil and #m.events == 0 and m.mirror_success == nil)\n"
                      "  assert(m.timeout_ms == nil)\n"
                      "  assert(m.signals.acceptable_timeout_ms == math.huge)\n"
                      "  assert(m.history.calls == 0)\n"
                      "  return 0.5 end}";
    struct ptm_tx_desc d = descWith("nomirror.lua", src);
    struct ptmObservation obs = {.desc = &d};
    struct ptmVerdict v;
    cr_expect_eq(ptmPamAnalyze(&obs, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.5);
}

Test(m_table, bad_observation)
{
    struct ptmVerdict v;
    cr_expect_eq(ptmPamAnalyze(NULL, &v), PTM_EINVAL);
    cr_expect_eq(v.rules_error, 1);
}

/* --- PTM_RULES -------------------------------------------------------------- */

static char *writeTemp(const char *text)
{
    char *path = strdup("/tmp/ptm-rules-XXXXXX.lua");
    int fd = mkstemps(path, 4);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(ptm_rules_env, overrides_every_script)
{
    char *path = writeTemp("return {analyze = function(m) return {probability = 0.75, "
                           "reasons = {'from PTM_RULES'}} end}");
    setenv("PTM_RULES", path, 1);
    struct ptmVerdict v;
    struct ptm_tx_desc d = descWith(NULL, NULL);
    struct ptmSignals s = quiet();
    cr_expect_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.75);
    cr_expect_str_eq(v.reasons[0], "from PTM_RULES");
    cr_expect_eq(analyzeSrc("own.lua", "return {analyze = function() return 0 end}", &v),
                 PTM_OK);
    cr_expect_eq(v.probability, 0.75);
    cr_expect_str_eq(ptmPamRulesName(&d), path);
    unlink(path);
    free(path);
}

Test(ptm_rules_env, unreadable_file)
{
    setenv("PTM_RULES", "/nonexistent/rules.lua", 1);
    struct ptmVerdict v;
    cr_expect_eq(analyzeSrc(NULL, NULL, &v), PTM_ERULES);
    cr_expect(strstr(v.error, "/nonexistent/rules.lua") != NULL, "%s", v.error);
    cr_expect(strstr(v.error, "No such file") != NULL, "%s", v.error);
}

Test(ptm_rules_env, strict_example_rules)
{
    /* lua-rules/strict.lua, found from this file's path in the source tree. */
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/test_pam.c");
    cr_assert_not_null(cut, "built from %s", __FILE__);
    strcpy(cut, "lua-rules/strict.lua");
    cr_assert_eq(access(path, R_OK), 0, "%s", path);
    setenv("PTM_RULES", path, 1);
    struct ptmRing *ring = NULL;
    cr_assert_eq(ptmRingCreate(8, &ring), PTM_OK);
    struct ptmEvent *ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_write;
    ev->err = EIO;
    ev->flags = PTM_EVF_EFFECT;
    strcpy(ev->target, "fd 3");
    ev = ptmRingPush(ring);
    ev->kind = PTM_EV_CALL;
    ev->call = PTM_CALL_open;
    ev->err = EAGAIN;
    ev->flags = PTM_EVF_EFFECT;
    struct ptm_tx_desc d = descWith(NULL, NULL);
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE, .ring = ring};
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    struct ptmObservation obs = {.desc = &d, .run = &run, .signals = &s};
    struct ptmVerdict v;
    cr_assert_eq(ptmPamAnalyze(&obs, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 1.0);
    cr_expect_eq(v.divert, 0);
    cr_expect_eq(v.retry_max, 1);
    cr_expect_geq(v.n_reasons, 1);
    ptmRingDestroy(ring);
}

/* --- threads -------------------------------------------------------------------- */

struct worker {
    int id;
    int failures;
    char error[400];
};

static const char *sharedSrc = "local calls = 0\n"
                               "return {analyze = function(m)\n"
                               "  calls = calls + 1\n"
                               "  if m.transaction_id == 'count' then return calls / 10000 end\n"
                               "  local x = 0\n"
                               "  for i = 1, 1000 do x = x + i end\n"
                               "  return m.signals.contention and 0.9 or 0.1\n"
                               "end}";

static void *workerMain(void *arg)
{
    struct worker *w = arg;
    struct ptm_tx_desc dflt = descWith(NULL, NULL), custom = descWith("shared.lua", sharedSrc);
    for (int i = 0; i < 300; i++) {
        struct ptmSignals s = quiet();
        s.contention = (i + w->id) % 2;
        s.validation = (i + w->id) % 3 == 0;
        double want_default = (s.contention ? 0.2 : 0) + (s.validation ? 0.4 : 0);
        want_default = round(want_default * 1e9) / 1e9;
        struct ptmVerdict v;
        if (analyze(&dflt, &s, &v) != PTM_OK || v.probability != want_default) {
            w->failures++;
            snprintf(w->error, sizeof w->error, "default: %g vs %g %s", v.probability,
                     want_default, v.error);
        }
        if (analyze(&custom, &s, &v) != PTM_OK || v.probability != (s.contention ? 0.9 : 0.1)) {
            w->failures++;
            snprintf(w->error, sizeof w->error, "custom: %g %s", v.probability, v.error);
        }
    }
    return NULL;
}

Test(threads, share_states, .timeout = 60)
{
    enum { N = 8 };
    pthread_t th[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, workerMain, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(w[i].failures, 0, "thread %d: %s", i, w[i].error);
    }
    /* the shared state saw every call exactly once */
    struct ptm_tx_desc custom = descWith("shared.lua", sharedSrc);
    custom.transaction_id = "count";
    struct ptmSignals s = quiet();
    struct ptmVerdict v;
    cr_assert_eq(analyze(&custom, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, (N * 300 + 1) / 10000.0);
}

/* --- when: the signals a script depends on --------------------------------- */

Test(when, analyze_runs_only_when_a_listed_signal_fired)
{
    static const char src[] =
        "local calls = 0\n"
        "return { when = { 'validation', 'timeout' },\n"
        "         analyze = function(m) calls = calls + 1; return { probability = 1,\n"
        "                                reasons = { 'call ' .. calls } } end }\n";
    struct ptm_tx_desc d = descWith("when.lua", src);
    struct ptmVerdict v;
    struct ptmSignals s = quiet();
    s.contention = 1; /* not listed */
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.0, "quiet for this script: analyze did not run");
    cr_expect_eq(v.n_reasons, 0);

    s = quiet();
    s.validation = 1;
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 1.0);
    cr_expect_str_eq(v.reasons[0], "call 1", "the first call that ran");

    s = quiet();
    s.predicted_timeout_ms = 500;
    s.acceptable_timeout_ms = 250;
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_str_eq(v.reasons[0], "call 2");
}

Test(when, default_rules_skip_quiet_calls_and_keep_their_sums)
{
    /* Equal results with and without the shortcut: quiet -> 0, and each
    ** signal alone -> its seed weight. */
    struct ptm_tx_desc d = descWith(NULL, NULL);
    struct ptmVerdict v;
    struct ptmSignals s = quiet();
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.0);
    s.deviation = 0.75;
    cr_assert_eq(analyze(&d, &s, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.1);
    cr_expect_str_eq(v.reasons[0], "deviation from baseline");
}

Test(when, malformed_lists_fail_to_load)
{
    static const struct {
        const char *when, *needle;
    } cases[] = {
        {"3", "list of signal names"},
        {"{ 'bogus' }", "when[1]"},
        {"{ 'validation', 7 }", "when[2]"},
        {"{}", "when is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "return { when = %s, analyze = function(m) return 0 end }", cases[i].when);
        char name[32];
        snprintf(name, sizeof name, "when%zu.lua", i);
        struct ptm_tx_desc d = descWith(name, src);
        struct ptmSignals s = quiet();
        s.validation = 1;
        struct ptmVerdict v;
        cr_expect_eq(analyze(&d, &s, &v), PTM_ERULES, "%s", cases[i].when);
        cr_expect(strstr(v.error, cases[i].needle) != NULL, "%s: %s", cases[i].when, v.error);
    }
}

/* ptm.errno: the inverse of ptm.errname, aliases included. */
Test(sandbox, ptm_errno_names_an_errno)
{
    const char *src =
        "return {analyze = function(m)\n"
        "  local ok = ptm.errno('ENOSPC') == 28 and ptm.errno('EACCES') == 13\n"
        "  ok = ok and ptm.errname(ptm.errno('EBUSY')) == 'EBUSY'\n"
        "  ok = ok and ptm.errno('EWOULDBLOCK') == ptm.errno('EAGAIN')\n"
        "  ok = ok and ptm.errno('ENOTSUP') == 95 and ptm.errno('EDEADLOCK') == 35\n"
        "  ok = ok and ptm.errno('ENOPE') == nil and ptm.errno('') == nil\n"
        "  ok = ok and ptm.errclass(ptm.errno('EAGAIN')) == 'contention'\n"
        "  ok = ok and not pcall(ptm.errno) and not pcall(ptm.errno, {})\n"
        "  return ok and 0.75 or 0.25\n"
        "end}";
    struct ptmVerdict v;
    cr_assert_eq(analyzeSrc("errno.lua", src, &v), PTM_OK, "%s", v.error);
    cr_expect_eq(v.probability, 0.75, "a ptm.errno result was not the expected one");
}

/* --- forks --------------------------------------------------------------- */

struct slowRun {
    struct ptm_tx_desc d;
    atomic_int started;
};

static void *runSlowRules(void *arg)
{
    struct slowRun *r = arg;
    struct ptmSignals s = quiet();
    struct ptmVerdict v;
    atomic_store(&r->started, 1);
    analyze(&r->d, &s, &v);
    return NULL;
}

/* A host forks while another thread is inside a rules run, which holds the
** state's lock until the run ends: the child (without that thread) must
** still get an answer from the same rules, within its own budget, not
** wait for ever on the lock. */
Test(threads, a_fork_child_is_not_held_by_a_run_of_its_parent, .timeout = 60)
{
    static const char src[] =
        "return { analyze = function(m)\n"
        "  local t = os.clock(); while os.clock() - t < 0.02 do end\n"
        "  return 0.25 end }\n";
    struct slowRun r = {.d = descWith("slow.lua", src)};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, runSlowRules, &r), 0);
    while (!atomic_load(&r.started))
        sched_yield();
    nanosleep(&(struct timespec){0, 5 * 1000000}, NULL); /* inside the run */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* Child */
        struct ptmSignals s = quiet();
        struct ptmVerdict v;
        int rc = analyze(&r.d, &s, &v);
        /* Its own run of the rules, or its budget's stop: an answer. */
        _exit(rc == PTM_OK ? v.probability != 0.25 : !strstr(v.error, "budget"));
    }
    /* Parent */
    int status;
    int ended = waitChild(pid, 10000, &status);
    pthread_join(t, NULL);
    cr_assert(ended, "the child waited 10 s on its parent's rules");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}
