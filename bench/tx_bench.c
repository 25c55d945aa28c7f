/*
 * tx_bench: the cost of a PTM transaction against the plain function with a
 * plain retry loop, side by side in one process (built by ptmcc).
 *
 * Each pair has the same body twice: *_plain is not annotated, *_ptm is.
 * The baseline calls *_plain through the retry loop a programmer would
 * write; the PTM side calls *_ptm, which runs the mirror, the rules and the
 * primary.  Reported: median microseconds per call over batches, and the
 * ratio.  A bare fork+_exit+waitpid is measured too, as the floor of the
 * fork executor.
 */
#include <ptm.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 9

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile int sink;

/* --- the pairs ------------------------------------------------------- */

static int add_plain(int a, int b)
{
    return a + b;
}

/* auto: ptmcc proves the mirror stores only into its locals: inline */
PTM_TRANSACTION(.transaction_id = "bench.trivial", .success_criteria = return >= 0)
int add_ptm(int a, int b)
{
    return a + b;
}

PTM_TRANSACTION(.transaction_id = "bench.trivial_fork", .success_criteria = return >= 0,
                .mirror = fork)
int add_ptm_fork(int a, int b)
{
    return a + b;
}

PTM_TRANSACTION(.transaction_id = "bench.trivial_off", .success_criteria = return >= 0,
                .mirror = off)
int add_ptm_off(int a, int b)
{
    return a + b;
}

static int append_plain(int fd, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

PTM_TRANSACTION(.transaction_id = "bench.append", .success_criteria = return == 0,
                .retry = { .max = 2, .backoff = exponential(1 ms, 10 ms) })
int append_ptm(int fd, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

/* A durable append, as a ledger or a journal makes one: open, write, fsync,
** close.  The real I/O is most of its cost. */
static int durable_plain(const char *path, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

PTM_TRANSACTION(.transaction_id = "bench.durable", .success_criteria = return == 0,
                .retry = { .max = 2, .backoff = exponential(1 ms, 10 ms) })
int durable_ptm(const char *path, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

/* A transaction that updates a record through a pointer: its mirror runs
** inline with every store through the write buffer. */
struct record {
    long value;
    long updates;
    long history[8];
};
static struct record records[64];

static int update_plain(struct record *r, long delta)
{
    r->value += delta;
    r->history[r->updates++ % 8] = delta;
    return r->value >= 0 ? 0 : -1;
}

PTM_TRANSACTION(.transaction_id = "bench.update", .success_criteria = return == 0)
int update_ptm(struct record *r, long delta)
{
    r->value += delta;
    r->history[r->updates++ % 8] = delta;
    return r->value >= 0 ? 0 : -1;
}

/* The baseline: the retry loop a programmer writes without PTM. */
static int append_with_retry(int fd, int n)
{
    for (int attempt = 0; attempt <= 2; attempt++)
        if (append_plain(fd, n) == 0)
            return 0;
    return -1;
}

static int durable_with_retry(const char *path, int n)
{
    for (int attempt = 0; attempt <= 2; attempt++)
        if (durable_plain(path, n) == 0)
            return 0;
    return -1;
}

/* --- measuring ------------------------------------------------------- */

typedef void (*body_fn)(int i);

static int bench_fd;
static char durable_path[4096];
static void call_add_plain(int i) { sink = add_plain(i, 1); }
static void call_add_ptm(int i) { sink = add_ptm(i, 1); }
static void call_add_ptm_fork(int i) { sink = add_ptm_fork(i, 1); }
static void call_add_ptm_off(int i) { sink = add_ptm_off(i, 1); }
static void call_append_plain(int i) { sink = append_with_retry(bench_fd, i); }
static void call_append_ptm(int i) { sink = append_ptm(bench_fd, i); }
static void call_durable_plain(int i) { sink = durable_with_retry(durable_path, i); }
static void call_durable_ptm(int i) { sink = durable_ptm(durable_path, i); }
static void call_update_plain(int i)
{
    for (int attempt = 0; attempt <= 2; attempt++)
        if ((sink = update_plain(&records[i % 64], 1)) == 0)
            return;
}
static void call_update_ptm(int i) { sink = update_ptm(&records[i % 64], 1); }
static void call_fork(int i)
{
    (void)i;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int st;
    if (pid > 0)
        waitpid(pid, &st, 0);
}

/* median_us: the median over BATCHES of the mean time of n calls. */
static double median_us(body_fn f, int n)
{
    double t[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_us();
        for (int i = 0; i < n; i++)
            f(i);
        t[b] = (now_us() - t0) / n;
    }
    qsort(t, BATCHES, sizeof *t, cmp_double);
    return t[BATCHES / 2];
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tx_bench.out";
    bench_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (bench_fd < 0) {
        perror(path);
        return 1;
    }
    snprintf(durable_path, sizeof durable_path, "%s.durable", path);
    call_add_ptm(0); /* first calls: Lua state, watchdog, filter build */
    call_add_ptm_fork(0);

    double fork_us = median_us(call_fork, 50);
    double add_plain_us = median_us(call_add_plain, 1000000);
    double add_inline_us = median_us(call_add_ptm, 100000);
    double add_fork_us = median_us(call_add_ptm_fork, 50);
    double add_off_us = median_us(call_add_ptm_off, 100000);
    double app_plain_us = median_us(call_append_plain, 20000);
    double app_ptm_us = median_us(call_append_ptm, 20000);
    double upd_plain_us = median_us(call_update_plain, 1000000);
    double upd_ptm_us = median_us(call_update_ptm, 100000);
    double dur_plain_us = median_us(call_durable_plain, 200);
    double dur_ptm_us = median_us(call_durable_ptm, 200);

    printf("%-40s %12s %12s %10s\n", "benchmark (median us per call)", "baseline", "PTM", "ratio");
    printf("%-40s %12.4f %12.2f %10.0f\n", "trivial: plain vs inline mirror", add_plain_us,
           add_inline_us, add_inline_us / add_plain_us);
    printf("%-40s %12.4f %12.1f %10.0f\n", "trivial: plain vs fork mirror", add_plain_us,
           add_fork_us, add_fork_us / add_plain_us);
    printf("%-40s %12.4f %12.3f %10.1f\n", "trivial: plain vs mirror = off", add_plain_us,
           add_off_us, add_off_us / add_plain_us);
    printf("%-40s %12.4f %12.2f %10.0f\n", "update via pointer: plain vs inline+buffer",
           upd_plain_us, upd_ptm_us, upd_ptm_us / upd_plain_us);
    printf("%-40s %12.2f %12.2f %10.2f\n", "inline: trivial vs write-buffer mirror", add_inline_us,
           upd_ptm_us, upd_ptm_us / add_inline_us);
    printf("%-40s %12.1f %12.1f %10.2f\n", "fork executor vs bare fork+wait", fork_us,
           add_fork_us, add_fork_us / fork_us);
    printf("%-40s %12.2f %12.2f %10.2f\n", "append (1 write): retry loop vs inline", app_plain_us,
           app_ptm_us, app_ptm_us / app_plain_us);
    printf("%-40s %12.1f %12.1f %10.2f\n", "durable append (fsync): retry loop vs inline",
           dur_plain_us, dur_ptm_us, dur_ptm_us / dur_plain_us);
    printf("throughput ratio, PTM/plain: append %.3f, durable append %.3f\n",
           app_plain_us / app_ptm_us, dur_plain_us / dur_ptm_us);
    close(bench_fd);
    unlink(path);
    unlink(durable_path);
    return 0;
}
