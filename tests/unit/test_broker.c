/*
** test_broker.c - the resource broker (broker.c): what a primary needs,
** granted for its duration and restored after, with every system call
** replaced through ptmOs to inject EPERM and to see what was set; a
** delegated cgroup directory played by a temporary directory; and the
** restore after a primary that leaves by longjmp.
*/
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

/* --- fake rlimits, niceness and affinity ---------------------------------- */

static struct rlimit fakeAs, fakeData;
static int setrlimitCalls, setrlimitErr;
static int fakeNice, setniceErr, niceSets[8], nNiceSets;
static unsigned fakeCpus, setaffinityErr, affinitySets;

static int fGetrlimit(int res, struct rlimit *rl)
{
    *rl = res == RLIMIT_AS ? fakeAs : fakeData;
    return 0;
}

static int fSetrlimit(int res, const struct rlimit *rl)
{
    setrlimitCalls++;
    if (setrlimitErr) {
        errno = setrlimitErr;
        return -1;
    }
    *(res == RLIMIT_AS ? &fakeAs : &fakeData) = *rl;
    return 0;
}

static int fGetnice(int *out)
{
    *out = fakeNice;
    return 0;
}

static int fSetnice(int n)
{
    if (setniceErr) {
        errno = setniceErr;
        return -1;
    }
    if (nNiceSets < 8)
        niceSets[nNiceSets++] = n;
    fakeNice = n;
    return 0;
}

static int fGetaffinity(size_t size, cpu_set_t *set)
{
    (void)size;
    CPU_ZERO(set);
    for (unsigned i = 0; i < fakeCpus; i++)
        CPU_SET(i, set);
    return 0;
}

static int fSetaffinity(size_t size, const cpu_set_t *set)
{
    (void)size;
    if (setaffinityErr) {
        errno = (int)setaffinityErr;
        return -1;
    }
    affinitySets++;
    fakeCpus = (unsigned)CPU_COUNT(set);
    return 0;
}

static void setup(void)
{
    fakeAs = (struct rlimit){100 << 20, RLIM_INFINITY};
    fakeData = (struct rlimit){100 << 20, 200 << 20};
    fakeNice = 0;
    fakeCpus = 1;
    ptmOs.getrlimit = fGetrlimit;
    ptmOs.setrlimit = fSetrlimit;
    ptmOs.getnice = fGetnice;
    ptmOs.setnice = fSetnice;
    ptmOs.getaffinity = fGetaffinity;
    ptmOs.setaffinity = fSetaffinity;
}

static void teardown(void)
{
    ptmOsReset();
}

TestSuite(broker, .init = setup, .fini = teardown);

static int saidIn(char (*notes)[128], unsigned n, const char *what)
{
    for (unsigned i = 0; i < n; i++)
        if (strstr(notes[i], what))
            return 1;
    return 0;
}

Test(broker, nothing_asked_touches_nothing)
{
    struct ptmBrokerGrant g;
    ptmBrokerApply(0, 0, &g);
    cr_expect_not(g.active);
    ptmBrokerRestore(&g);
    cr_expect_eq(setrlimitCalls, 0);
}

Test(broker, memory_raises_the_soft_limits_and_restores_them)
{
    struct ptmBrokerGrant g;
    ptmBrokerApply(300 << 20, 0, &g);
    cr_expect_eq(fakeAs.rlim_cur, RLIM_INFINITY, "RLIMIT_AS soft up to its hard");
    cr_expect_eq(fakeData.rlim_cur, 200 << 20, "RLIMIT_DATA soft up to its hard");
    cr_expect_eq(g.n_denied, 1, "the hard limit below the request is said");
    cr_expect(saidIn(g.denied, g.n_denied, "RLIMIT_DATA hard limit 209715200 < 314572800 asked"),
              "%s", g.denied[0]);
    ptmBrokerRestore(&g);
    cr_expect_eq(fakeAs.rlim_cur, 100 << 20, "restored");
    cr_expect_eq(fakeData.rlim_cur, 100 << 20, "restored");
}

Test(broker, eperm_on_setrlimit_is_recorded_not_ignored)
{
    setrlimitErr = EPERM;
    struct ptmBrokerGrant g;
    ptmBrokerApply(1 << 20, 0, &g);
    cr_expect(saidIn(g.denied, g.n_denied, "setrlimit RLIMIT_AS: Operation not permitted"));
    cr_expect(saidIn(g.denied, g.n_denied, "setrlimit RLIMIT_DATA: Operation not permitted"));
    cr_expect_eq(g.n_granted, 0);
    int before = setrlimitCalls;
    ptmBrokerRestore(&g);
    cr_expect_eq(setrlimitCalls, before, "nothing changed, nothing to restore");
}

Test(broker, a_niced_thread_runs_at_zero_and_gets_its_niceness_back)
{
    fakeNice = 10;
    fakeCpus = 4;
    struct ptmBrokerGrant g;
    ptmBrokerApply(0, 2, &g);
    cr_expect_eq(fakeNice, 0);
    ptmBrokerRestore(&g);
    cr_expect_eq(fakeNice, 10);
    cr_expect_eq(g.n_denied, 0, "%s", g.denied[0]);
}

Test(broker, eperm_on_niceness_and_affinity_is_recorded)
{
    fakeNice = 10;
    fakeCpus = 1;
    setniceErr = EPERM;
    setaffinityErr = EPERM;
    struct ptmBrokerGrant g;
    ptmBrokerApply(0, 2, &g);
    cr_expect(saidIn(g.denied, g.n_denied, "niceness 10 kept: setpriority: Operation not permitted"));
    if (sysconf(_SC_NPROCESSORS_CONF) > 1)
        cr_expect(saidIn(g.denied, g.n_denied, "sched_setaffinity: Operation not permitted"));
    cr_expect(saidIn(g.denied, g.n_denied, "1 CPUs available to the thread, 2 asked"));
    ptmBrokerRestore(&g);
    cr_expect_eq(fakeNice, 10);
}

Test(broker, a_pinned_thread_is_widened_and_pinned_again)
{
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    cr_assert_gt(conf, 0);
    fakeCpus = 1;
    struct ptmBrokerGrant g;
    ptmBrokerApply(0, 2, &g);
    if (conf > 1) {
        cr_expect_eq(fakeCpus, (unsigned)conf);
        cr_expect_eq(affinitySets, 1);
    }
    ptmBrokerRestore(&g);
    cr_expect_eq(fakeCpus, 1, "pinned again");
}

/* Two primaries at once: the process-wide limits stay raised until the
** last one ends. */
Test(broker, the_last_grant_restores_the_process_wide_limits)
{
    struct ptmBrokerGrant a, b;
    ptmBrokerApply(1 << 20, 0, &a);
    ptmBrokerApply(1 << 20, 0, &b);
    ptmBrokerRestore(&a);
    cr_expect_eq(fakeData.rlim_cur, 200 << 20, "still raised for b");
    ptmBrokerRestore(&b);
    cr_expect_eq(fakeData.rlim_cur, 100 << 20);
    ptmBrokerRestore(&b); /* twice: nothing more */
    cr_expect_eq(fakeData.rlim_cur, 100 << 20);
}

/* --- the delegated cgroup --------------------------------------------------- */

static char cgDir[64];

static void writeFile(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cgDir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

static const char *readFile(const char *name)
{
    static char buf[64];
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cgDir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0; /* a regular file keeps what a shorter write left */
    return buf;
}

static void makeCgroup(void)
{
    snprintf(cgDir, sizeof cgDir, "/tmp/ptm-cg-%d", (int)getpid());
    mkdir(cgDir, 0700);
    setenv("PTM_CGROUP", cgDir, 1);
}

Test(broker, a_cgroup_gets_memory_high_and_cpu_weight_for_the_primary)
{
    makeCgroup();
    writeFile("memory.high", "1000\n");
    writeFile("cpu.weight", "100\n");
    struct ptmBrokerGrant g;
    ptmBrokerApply(5000, 3, &g);
    cr_expect_str_eq(readFile("memory.high"), "5000");
    cr_expect_str_eq(readFile("cpu.weight"), "300");
    ptmBrokerRestore(&g);
    cr_expect_str_eq(readFile("memory.high"), "1000");
    cr_expect_str_eq(readFile("cpu.weight"), "100");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cgDir);
    cr_expect_eq(system(cmd), 0);
}

Test(broker, a_cgroup_at_max_is_left_and_a_missing_file_is_said)
{
    makeCgroup();
    writeFile("memory.high", "max\n");
    struct ptmBrokerGrant g;
    ptmBrokerApply(5000, 1, &g);
    cr_expect_str_eq(readFile("memory.high"), "max");
    cr_expect(saidIn(g.denied, g.n_denied, "PTM_CGROUP cpu.weight: No such file or directory"));
    ptmBrokerRestore(&g);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cgDir);
    cr_expect_eq(system(cmd), 0);
}

/* --- through a transaction --------------------------------------------------- */

struct frame {
    int ret;
    int err;
};

static jmp_buf outside;
static rlim_t softInPrimary;

static void primaryJumps(void *p)
{
    (void)p;
    softInPrimary = fakeData.rlim_cur;
    longjmp(outside, 1);
}

static void primaryFails(void *p)
{
    softInPrimary = fakeData.rlim_cur;
    ((struct frame *)p)->ret = -1;
}

static int success(const void *p)
{
    return ((const struct frame *)p)->ret >= 0;
}

static struct ptm_tx_desc descWith(ptm_thunk primary)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "broker.test",
        .function = "broker_primary",
        .frame_size = sizeof(struct frame),
        .primary = primary,
        .mirror = primary,
        .success = success,
        .mirror_mode = PTM_MIRROR_OFF,
        .memory_bytes = 150 << 20,
    };
}

Test(broker, a_primary_that_leaves_by_longjmp_gets_its_limits_restored)
{
    struct ptm_tx_desc d = descWith(primaryJumps);
    struct frame fr = {0};
    volatile int jumped = 0;
    if (setjmp(outside) == 0)
        ptm_tx_run(&d, &fr);
    else
        jumped = 1;
    cr_assert(jumped);
    cr_expect_eq(softInPrimary, 200 << 20, "raised while the primary ran");
    cr_expect_eq(fakeData.rlim_cur, 100 << 20, "restored after the jump");
}

Test(broker, the_limits_hold_for_every_attempt_and_are_restored)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    struct ptm_tx_desc d = descWith(primaryFails);
    d.retry_max = 2;
    struct frame fr = {0};
    char path[64];
    snprintf(path, sizeof path, "/tmp/ptm-broker-%d.trace", (int)getpid());
    setenv("PTM_TRACE", path, 1);
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(softInPrimary, 200 << 20);
    cr_expect_eq(fakeData.rlim_cur, 100 << 20);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char line[8192] = "";
    cr_assert(fgets(line, sizeof line, f));
    fclose(f);
    unlink(path);
    cr_expect(strstr(line, "\"resources\":{\"memory\":157286400,\"cpu\":null,\"granted\":["), "%s",
              line);
    cr_expect(strstr(line, "\"not_granted\":[\"memory: RLIMIT_DATA hard limit 209715200 < "
                           "157286400 asked\"") == NULL,
              "200 MiB is enough: %s", line);
}
