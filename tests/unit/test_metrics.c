/*
** test_metrics.c - per-transaction metrics (metrics.c): the counts, the
** Prometheus text format, PTM_METRICS written atomically, and the hostile
** cases (an unwritable path, a full disk, many threads, a table full of ids).
**
** PTM_METRICS is read once per process; Criterion runs each test in its
** own process, so each test sets it before its first record.
*/
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "ptm_int.h"

static const struct ptm_alt alts[] = {{.name = "reject"}};

static struct ptm_tx_desc descFor(const char *id)
{
    return (struct ptm_tx_desc){.abi = PTM_ABI_VERSION, .transaction_id = id,
                                .function = "append", .alternatives = alts,
                                .n_alternatives = 1, .threshold = 0.5};
}

/* record: one finished call of d: a mirror of mirror_ms (0: none), then
** the primary (attempts of it) or a diversion, for total_ms in all. */
static void record(const struct ptm_tx_desc *d, double mirror_ms, int divert, unsigned attempts,
                   int success, double total_ms)
{
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE,
                               .duration_ns = (uint64_t)(mirror_ms * 1e6)};
    struct ptmTxRecord r = {.desc = d, .run = mirror_ms > 0 ? &run : NULL,
                            .decision = divert ? PTM_DECISION_DIVERT : PTM_DECISION_PRIMARY,
                            .path = divert ? "reject" : "append", .attempts = attempts,
                            .success = success, .duration_ns = (uint64_t)(total_ms * 1e6)};
    ptmMetricsRecord(&r);
}

/* The exposition as a string (malloc'd). */
static char *exposition(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    cr_assert_eq(ptm_metrics_write(f), 0);
    fclose(f);
    return text;
}

static void hasLine(const char *text, const char *line)
{
    char *want = NULL;
    cr_assert(asprintf(&want, "\n%s\n", line) > 0);
    char *padded = NULL;
    cr_assert(asprintf(&padded, "\n%s", text) > 0);
    cr_assert_not_null(strstr(padded, want), "no line '%s' in:\n%s", line, text);
    free(want);
    free(padded);
}

Test(metrics, counts_calls_mirrors_diversions_failures_retries)
{
    struct ptm_tx_desc a = descFor("ledger.append"), b = descFor("bank.transfer");
    record(&a, 2, 0, 1, 1, 5);    /* mirror 2 ms, primary 3 ms */
    record(&a, 2, 1, 0, 1, 2.5);  /* diverted */
    record(&a, 0, 0, 3, 0, 300);  /* no mirror, 2 retries, failed: 300 ms */
    record(&b, 0.05, 0, 1, 1, 0.2);
    char *t = exposition();
    hasLine(t, "# TYPE ptm_calls_total counter");
    hasLine(t, "ptm_calls_total{transaction_id=\"ledger.append\"} 3");
    hasLine(t, "ptm_calls_total{transaction_id=\"bank.transfer\"} 1");
    hasLine(t, "ptm_mirrors_total{transaction_id=\"ledger.append\"} 2");
    hasLine(t, "ptm_diversions_total{transaction_id=\"ledger.append\"} 1");
    hasLine(t, "ptm_failures_total{transaction_id=\"ledger.append\"} 1");
    hasLine(t, "ptm_retries_total{transaction_id=\"ledger.append\"} 2");
    hasLine(t, "ptm_retries_total{transaction_id=\"bank.transfer\"} 0");
    /* Histograms: cumulative buckets, +Inf = count, sum in seconds. */
    hasLine(t, "# TYPE ptm_mirror_latency_seconds histogram");
    hasLine(t, "ptm_mirror_latency_seconds_bucket{transaction_id=\"ledger.append\",le=\"0.001\"} 0");
    hasLine(t, "ptm_mirror_latency_seconds_bucket{transaction_id=\"ledger.append\",le=\"0.005\"} 2");
    hasLine(t, "ptm_mirror_latency_seconds_bucket{transaction_id=\"ledger.append\",le=\"+Inf\"} 2");
    hasLine(t, "ptm_mirror_latency_seconds_sum{transaction_id=\"ledger.append\"} 0.004000000");
    hasLine(t, "ptm_mirror_latency_seconds_count{transaction_id=\"ledger.append\"} 2");
    hasLine(t, "ptm_mirror_latency_seconds_bucket{transaction_id=\"bank.transfer\",le=\"0.0001\"} 1");
    /* The primary: 3 ms after its mirror, and 300 ms; not the diverted call. */
    hasLine(t, "ptm_primary_latency_seconds_bucket{transaction_id=\"ledger.append\",le=\"0.005\"} 1");
    hasLine(t, "ptm_primary_latency_seconds_bucket{transaction_id=\"ledger.append\",le=\"0.1\"} 1");
    hasLine(t, "ptm_primary_latency_seconds_bucket{transaction_id=\"ledger.append\",le=\"0.5\"} 2");
    hasLine(t, "ptm_primary_latency_seconds_count{transaction_id=\"ledger.append\"} 2");
    hasLine(t, "ptm_primary_latency_seconds_sum{transaction_id=\"ledger.append\"} 0.303000000");
    hasLine(t, "ptm_metrics_dropped_total 0");
    free(t);
}

/* Every line is a comment (# HELP / # TYPE) or name{labels} value. */
Test(metrics, exposition_format_and_label_escaping)
{
    struct ptm_tx_desc d = descFor("we\"ird\\id\nx");
    record(&d, 1, 0, 1, 1, 2);
    char *t = exposition();
    hasLine(t, "ptm_calls_total{transaction_id=\"we\\\"ird\\\\id\\nx\"} 1");
    char *save = NULL;
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#') {
            cr_assert(strncmp(l, "# HELP ptm_", 11) == 0 || strncmp(l, "# TYPE ptm_", 11) == 0,
                      "%s", l);
            continue;
        }
        cr_assert(strncmp(l, "ptm_", 4) == 0, "%s", l);
        char *sp = strrchr(l, ' ');
        cr_assert_not_null(sp, "%s", l);
        char *end;
        strtod(sp + 1, &end);
        cr_assert_eq(*end, '\0', "value of %s", l);
    }
    free(t);
}

static char dir[64];

static void metricsIn(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/ptm-metrics-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(setenv("PTM_METRICS", path, 1), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Written at exit, atomically: no temporary file is left beside it. */
Test(metrics, written_at_exit_by_rename)
{
    metricsIn("ptm.prom");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("PTM_METRICS_INTERVAL", "0", 1);
        struct ptm_tx_desc d = descFor("exit.tx");
        record(&d, 1, 0, 1, 1, 2);
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char path[128];
    snprintf(path, sizeof path, "%s/ptm.prom", dir);
    char *t = slurp(path);
    cr_assert_not_null(t, "no %s", path);
    hasLine(t, "ptm_calls_total{transaction_id=\"exit.tx\"} 1");
    free(t);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1 && rm -r %s", dir, dir);
    cr_assert_eq(system(cmd), 0, "a temporary file was left in %s", dir);
}

/* Every PTM_METRICS_INTERVAL seconds, while the process runs. */
Test(metrics, written_periodically, .timeout = 30)
{
    metricsIn("ptm.prom");
    setenv("PTM_METRICS_INTERVAL", "1", 1);
    struct ptm_tx_desc d = descFor("periodic.tx");
    record(&d, 1, 0, 1, 1, 2);
    char path[128];
    snprintf(path, sizeof path, "%s/ptm.prom", dir);
    char *t = NULL;
    for (int i = 0; i < 200 && !(t = slurp(path)); i++)
        usleep(50000); /* up to 10 s: the machine may be loaded */
    cr_assert_not_null(t, "not written within 10 s");
    hasLine(t, "ptm_calls_total{transaction_id=\"periodic.tx\"} 1");
    free(t);
}

/* An unwritable path: said once on stderr, never a crash, calls go on. */
Test(metrics, unwritable_path_said_once, .init = cr_redirect_stderr)
{
    setenv("PTM_METRICS", "/nonexistent-ptm-dir/sub/ptm.prom", 1);
    setenv("PTM_METRICS_INTERVAL", "0", 1);
    struct ptm_tx_desc d = descFor("nowhere.tx");
    record(&d, 1, 0, 1, 1, 2);
    errno = 1234;
    cr_assert_eq(ptmMetricsFlush(), ENOENT);
    cr_assert_eq(errno, 1234, "errno is kept");
    cr_assert_eq(ptmMetricsFlush(), ENOENT);
    record(&d, 1, 0, 1, 1, 2);
    fflush(stderr);
    cr_assert_stderr_eq_str("ptm: PTM_METRICS=/nonexistent-ptm-dir/sub/ptm.prom: cannot write "
                            "it: No such file or directory; metrics are not written\n");
}

static ssize_t fullDisk(int fd, const void *buf, size_t n)
{
    (void)fd, (void)buf, (void)n;
    errno = ENOSPC;
    return -1;
}

/* A full disk: the old file stays whole, the temporary one goes. */
Test(metrics, full_disk_keeps_the_old_file, .init = cr_redirect_stderr)
{
    metricsIn("ptm.prom");
    setenv("PTM_METRICS_INTERVAL", "0", 1);
    struct ptm_tx_desc d = descFor("disk.tx");
    record(&d, 1, 0, 1, 1, 2);
    cr_assert_eq(ptmMetricsFlush(), 0);
    record(&d, 1, 0, 1, 1, 2);
    ptmOs.write = fullDisk;
    cr_assert_eq(ptmMetricsFlush(), ENOSPC);
    ptmOsReset();
    char path[128];
    snprintf(path, sizeof path, "%s/ptm.prom", dir);
    char *t = slurp(path);
    cr_assert_not_null(t);
    hasLine(t, "ptm_calls_total{transaction_id=\"disk.tx\"} 1");
    free(t);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1 && rm -r %s", dir, dir);
    cr_assert_eq(system(cmd), 0, "a temporary file was left in %s", dir);
}

static void *hammer(void *arg)
{
    const struct ptm_tx_desc *d = arg;
    for (int i = 0; i < 10000; i++)
        record(d, 0.5, i % 10 == 0, 1 + (i % 3 == 0), i % 7 != 0, 1);
    return NULL;
}

/* 8 threads on 2 ids: no call is lost. */
Test(metrics, threads_lose_no_call)
{
    struct ptm_tx_desc a = descFor("t.a"), b = descFor("t.b");
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, hammer, i % 2 ? &a : &b);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    char *t = exposition();
    hasLine(t, "ptm_calls_total{transaction_id=\"t.a\"} 40000");
    hasLine(t, "ptm_calls_total{transaction_id=\"t.b\"} 40000");
    hasLine(t, "ptm_diversions_total{transaction_id=\"t.a\"} 4000");
    hasLine(t, "ptm_mirror_latency_seconds_count{transaction_id=\"t.b\"} 40000");
    free(t);
}

/* More ids than the table holds: the rest are counted as dropped. */
Test(metrics, table_full_counts_dropped)
{
    static char ids[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(ids[i], sizeof ids[i], "id%d", i);
        struct ptm_tx_desc d = descFor(ids[i]);
        record(&d, 0, 0, 1, 1, 1);
    }
    char *t = exposition();
    hasLine(t, "ptm_metrics_dropped_total 44");
    hasLine(t, "ptm_calls_total{transaction_id=\"id0\"} 1");
    free(t);
}

Test(metrics, write_reports_a_failing_stream)
{
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    struct ptm_tx_desc d = descFor("full.tx");
    record(&d, 1, 0, 1, 1, 2);
    cr_assert_eq(ptm_metrics_write(f), -1);
    fclose(f);
    cr_assert_eq(ptm_metrics_write(NULL), -1);
    cr_assert_eq(errno, EINVAL);
}
