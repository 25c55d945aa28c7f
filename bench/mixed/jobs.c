/*
 * jobs.c - the mixed workload of issue 13: 400 jobs, about a quarter of
 * them doomed, run one after another by one process.  Built twice from this
 * file: by ptmcc (run_job is a transaction that defers a job it predicts
 * will fail) and by clang-19 alone, where run_job runs in the retry loop a
 * careful programmer writes (careful_loop: retries of transient failures
 * with exponential backoff, an overall time limit, no retry of a failure
 * that cannot pass).  Either build defers a job that finally failed, as the
 * alternative does.  bench/mixed/run.py runs both side by side.
 *
 *   jobs DIR PLAN
 *
 * DIR holds the job's files (made by run.py); PLAN has one job per line,
 * "<kind> <id>", kind one of
 *   g  good: a valid input, a free lock, a fast service, a writable path;
 *   b  bad input (the input does not parse): fails every time;
 *   w  an unwritable output path (under a regular file: ENOTDIR);
 *   L  the job's lock is held by another process for the whole run;
 *   B  the job's lock is taken by another process just before the job and
 *      held 30 ms (a retry 35 ms later gets it);
 *   s  the service is in a slow burst: it answers in 80 ms against the
 *      job's 50 ms receive timeout (consecutive s jobs make one burst).
 * Every kind but g is doomed: its first attempt fails.
 *
 * The other processes (the lock holders, the service's four workers) are
 * this process's children; the service's slowness is a flag in shared memory that the
 * runner sets for the jobs of a burst.
 *
 * Output: one line per job, "<id> <kind> <us> <attempts> <primaries>
 * <diverted> <deferred>", then "done".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <ptm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECV_TIMEOUT_MS 50 /* the job's limit on the service */
#define SLOW_MS 80         /* the service's answer in a slow burst */
#define BRIEF_MS 30        /* a lock held briefly */
#define LOOP_RETRIES 3     /* the careful loop: as many as .retry.max */
#define LOOP_LIMIT_MS 250  /* and it stops retrying past this */

struct job {
    int id;
    char input[200];
    char output[200];
    char lock[200];
};

static struct sockaddr_in service;
static volatile int *slow; /* shared with the service */
static const char *dir;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* One request to the service: its answer to value, within the timeout. */
static int ask_service(long value, long *answer)
{
    char req[32], resp[32] = {0};
    struct timeval tv = {0, RECV_TIMEOUT_MS * 1000};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1, err = 0;

    if (fd < 0)
        return -1;
    int len = snprintf(req, sizeof req, "%ld\n", value);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        connect(fd, (struct sockaddr *)&service, sizeof service) == 0 &&
        send(fd, req, (size_t)len, 0) == len) {
        ssize_t n = recv(fd, resp, sizeof resp - 1, 0);
        if (n > 0 && sscanf(resp, "%ld", answer) == 1)
            rc = 0;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            err = ETIMEDOUT; /* SO_RCVTIMEO ran out: the answer came too late */
        else
            err = n < 0 ? errno : EPROTO;
    } else {
        err = errno;
    }
    close(fd);
    errno = err;
    return rc;
}

/* defer_job: the alternative: the job goes to the queue, to be run later. */
int defer_job(const struct job *j)
{
    char path[256], line[32];
    snprintf(path, sizeof path, "%s/queue", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    int len = snprintf(line, sizeof line, "%d\n", j->id);
    int rc = write(fd, line, (size_t)len) == len ? 1 : -1;
    close(fd);
    return rc;
}

/* run_job: one job: its input read and checked, its lock taken (never
 * waited for), the service asked, the answer written to its output.  0, or
 * -1 with errno: EINVAL (bad input), EWOULDBLOCK (the lock is held),
 * ETIMEDOUT (the service answered late), ENOTDIR and the like (the output
 * cannot be written). */
PTM_TRANSACTION(
    .transaction_id    = "mixed.job",
    .alternative_paths = { defer_job },
    .success_criteria  = return == 0,
    .retry             = { .max = 3, .backoff = exponential(5 ms, 40 ms) },
    .timeout           = 50 ms,
    .rules             = "jobs.lua")
int run_job(const struct job *j)
{
    char buf[64], out[64];
    long value = 0, answer = 0;
    int fd, lk, rc, err;

    if ((fd = open(j->input, O_RDONLY)) < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!ptm_validate(sscanf(buf, "OK %ld", &value) == 1 && value >= 0, "bad input %d", j->id)) {
        errno = EINVAL;
        return -1;
    }
    if ((lk = open(j->lock, O_RDONLY)) < 0)
        return -1;
    if (flock(lk, LOCK_EX | LOCK_NB) != 0) {
        err = errno;
        close(lk);
        errno = err;
        return -1;
    }
    rc = ask_service(value, &answer);
    err = errno;
    if (rc == 0) {
        if ((fd = open(j->output, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
            rc = -1;
            err = errno;
        } else {
            int len = snprintf(out, sizeof out, "%ld\n", answer);
            if (write(fd, out, (size_t)len) != len) {
                rc = -1;
                err = errno;
            }
            close(fd);
        }
    }
    flock(lk, LOCK_UN);
    close(lk);
    errno = err;
    return rc;
}

/* careful_loop: the plain build's way: retry what may pass (a held lock, a
 * late answer) with exponential backoff, not what cannot (a bad input, a
 * path that cannot be written), and stop past LOOP_LIMIT_MS.
 * OUT: *attempts.  (Compiled in the plain build only.) */
#ifndef __PTMCC__
static int careful_loop(const struct job *j, long *attempts)
{
    double t0 = now_us();
    for (int attempt = 0;; attempt++) {
        ++*attempts;
        int rc = run_job(j);
        if (rc == 0)
            return 0;
        int e = errno;
        int transient = e == EWOULDBLOCK || e == EAGAIN || e == ETIMEDOUT || e == EINTR ||
                        e == ECONNREFUSED;
        long ms = 5L << attempt;
        if (!transient || attempt == LOOP_RETRIES ||
            (now_us() - t0) / 1e3 + (double)ms > LOOP_LIMIT_MS)
            return rc;
        sleep_ms(ms > 40 ? 40 : ms);
    }
}
#endif

/* ---- the world around the jobs ------------------------------------------ */

/* The service: answers value + 1, after SLOW_MS while *slow. */
static void serve(int l)
{
    for (;;) {
        int c = accept(l, NULL, NULL);
        char req[32] = {0}, resp[32];
        if (c < 0)
            continue;
        if (recv(c, req, sizeof req - 1, 0) > 0) {
            if (*slow)
                sleep_ms(SLOW_MS);
            int len = snprintf(resp, sizeof resp, "%ld\n", atol(req) + 1);
            if (send(c, resp, (size_t)len, MSG_NOSIGNAL) != len)
                continue;
        }
        close(c);
    }
}

/* Another process takes flock(LOCK_EX) on path and keeps it for ms
 * milliseconds (forever when ms < 0).  Returns once it holds it. */
static pid_t hold_lock(const char *path, long ms)
{
    int ready[2];
    char c;
    if (pipe(ready) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "k", 1) != 1)
            _exit(1);
        if (ms < 0)
            pause();
        sleep_ms(ms);
        _exit(0);
    }
    close(ready[1]);
    if (pid < 0 || read(ready[0], &c, 1) != 1)
        pid = -1;
    close(ready[0]);
    return pid;
}

static void reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        continue;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    dir = argv[1];
    FILE *plan = fopen(argv[2], "r");
    if (!plan)
        return 2;
    slow = mmap(NULL, sizeof *slow, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slow == MAP_FAILED)
        return 2;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t alen = sizeof service;
    service.sin_family = AF_INET;
    service.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&service, alen) != 0 || listen(l, 64) != 0 ||
        getsockname(l, (struct sockaddr *)&service, &alen) != 0)
        return 2;
    /* Four workers: a late answer still being written does not hold up
     * the next job's request. */
    pid_t server[4];
    for (int i = 0; i < 4; i++)
        if ((server[i] = fork()) == 0) {
            serve(l);
            _exit(0);
        }
    close(l);
    char held[256], brief[256];
    snprintf(held, sizeof held, "%s/lock.held", dir);
    snprintf(brief, sizeof brief, "%s/lock.brief", dir);
    pid_t holder = hold_lock(held, -1);
    if (server[0] < 0 || server[3] < 0 || holder < 0)
        return 2;

    char kind;
    int id;
    while (fscanf(plan, " %c %d", &kind, &id) == 2) {
        struct job j = {.id = id};
        snprintf(j.input, sizeof j.input, "%s/in/%s", dir, kind == 'b' ? "bad" : "good");
        snprintf(j.output, sizeof j.output, "%s/%s/%d", dir, kind == 'w' ? "blocked" : "out", id);
        snprintf(j.lock, sizeof j.lock, "%s/%s", dir,
                 kind == 'L' ? "lock.held" : kind == 'B' ? "lock.brief" : "lock.free");
        *slow = kind == 's';
        if (kind == 'B' && hold_lock(brief, BRIEF_MS) < 0)
            return 2;
        long attempts = 0, primaries = 1;
        int diverted = 0, deferred = 0;
        double t0 = now_us();
#ifdef __PTMCC__
        struct ptm_stats before, after;
        ptm_stats_get(&before);
        int rc = run_job(&j);
        ptm_stats_get(&after);
        attempts = (long)(after.attempts - before.attempts);
        primaries = (long)(after.primaries - before.primaries);
        diverted = after.diversions > before.diversions;
        deferred = diverted;
#else
        int rc = careful_loop(&j, &attempts);
#endif
        if (rc != 0 && !diverted) /* it failed: the program defers it itself */
            deferred = 2 * (defer_job(&j) == 1);
        double us = now_us() - t0;
        printf("%d %c %.0f %ld %ld %d %d\n", id, kind, us, attempts, primaries, diverted,
               deferred);
        reap();
    }
    *slow = 0;
    for (int i = 0; i < 4; i++)
        kill(server[i], SIGKILL);
    kill(holder, SIGKILL);
    while (wait(NULL) > 0)
        continue;
    printf("done\n");
    return 0;
}
