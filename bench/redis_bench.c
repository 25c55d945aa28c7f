/*
** redis_bench.c - what a Redis history (PTM_HISTORY=redis://, store_redis.c)
** adds to a transaction's call, with the server up, SIGSTOPped and killed.
**
** The only place a call meets the server is the first use of its
** transaction id (the id's hash is read on the calling thread); every other
** call touches memory only, and increments are pushed by the writer
** thread.  So the added delay is measured there: the time of
** ptmHistoryFor() for new ids, N of them per phase, 10 ms apart (so that
** some fall after a backoff and try the server again):
**
**   up       the server answers
**   stopped  SIGSTOP: the kernel accepts connections, nothing answers
**   killed   SIGKILL: connections are refused
**
** and, for the writer thread, the time of one push (ptmStoreFlush) in
** each phase.  Starts its own redis-server on a free port of 127.0.0.1
** (no persistence, a temporary directory).
**
** usage: redis_bench [N]     (default 100)
*/
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptm_int.h"

extern char **environ;

static int cmpDouble(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int freePort(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("redis_bench: a free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int pings(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, "PING\r\n", 6) == 6) {
        char buf[16] = {0};
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ok = poll(&pf, 1, 500) == 1 && read(fd, buf, sizeof buf - 1) >= 5 &&
             strncmp(buf, "+PONG", 5) == 0;
    }
    close(fd);
    return ok;
}

static pid_t startServer(int port, char *dir)
{
    char sport[16];
    snprintf(sport, sizeof sport, "%d", port);
    char *argv[] = {"redis-server", "--port", sport, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", dir, "--loglevel", "warning", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    if (posix_spawnp(&pid, "redis-server", &fa, NULL, argv, environ) != 0) {
        fprintf(stderr, "redis_bench: no redis-server (scripts/install-deps.sh)\n");
        exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 200 && !pings(port); i++)
        usleep(25000);
    if (!pings(port)) {
        fprintf(stderr, "redis_bench: redis-server did not start\n");
        exit(1);
    }
    return pid;
}

/* N first uses of new ids; prints their distribution, in ms. */
static void phase(const char *name, int n, int *seq)
{
    double *ms = calloc((size_t)n, sizeof *ms);
    int tried = 0;
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "bench.%d", (*seq)++);
        struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = id,
                                .function = "f", .threshold = 0.5};
        uint64_t t0 = ptmOsNowNs();
        struct ptmHistory *h = ptmHistoryFor(&d);
        ms[i] = (double)(ptmOsNowNs() - t0) / 1e6;
        uint64_t us = 100;
        ptmHistoryRecord(h, 1, 0, &us, 1, NULL);
        tried += ms[i] > 1.0;
        usleep(10000);
    }
    uint64_t t0 = ptmOsNowNs();
    enum ptmRc rc = ptmStoreFlush();
    double push = (double)(ptmOsNowNs() - t0) / 1e6;
    qsort(ms, (size_t)n, sizeof *ms, cmpDouble);
    printf("%-8s  %9.3f  %9.3f  %9.3f  %9.3f  %6d  %8.1f %s\n", name, ms[n / 2],
           ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], ms[n - 1], ms[0], tried, push,
           rc == PTM_OK ? "pushed" : "kept/dropped");
    free(ms);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    if (n < 2)
        n = 2;
    char dir[] = "/tmp/ptm_redis_bench_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("redis_bench: mkdtemp");
        return 1;
    }
    int port = freePort();
    pid_t server = startServer(port, dir);
    char url[96];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/bench", port);
    setenv("PTM_HISTORY", url, 1);
    fprintf(stderr, "redis_bench: %s, %d first uses per phase\n", url, n);

    int seq = 0;
    printf("phase     first use: median     p99        max        min   over1  push ms\n");
    phase("up", n, &seq);
    kill(server, SIGSTOP);
    phase("stopped", n, &seq);
    kill(server, SIGCONT);
    /* Back: the writer's next push after the backoff ends the problem. */
    uint64_t t0 = ptmOsNowNs();
    while (ptmStoreFlush() != PTM_OK && ptmOsNowNs() - t0 < 20000000000ull)
        usleep(50000);
    printf("resumed: pushed again after %.0f ms (the backoff)\n",
           (double)(ptmOsNowNs() - t0) / 1e6);
    phase("up", n, &seq);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    phase("killed", n, &seq);
    printf("(ms; over1: first uses that took over 1 ms; push: one ptmStoreFlush)\n");
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    return 0;
}
