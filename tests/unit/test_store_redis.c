/*
** test_store_redis.c - the history shared through Redis (store_redis.c,
** PTM_HISTORY=redis://host:port/prefix) against a real redis-server
** started here on 127.0.0.1 (a free port, no persistence, a temporary
** directory), and against hostile fake servers (a thread of this test).
**
** What is checked: two processes learning together (store_writer's
** second run starts from the first's counts), a long-running process
** learning what another pushed after its start (a re-read, by hand and
** by the writer thread, nothing counted twice, a server down or emptied
** meanwhile), the model's counts in the server, a server killed in the middle (calls go on, each first use
** bounded, the increments pushed after a restart), a SIGSTOPped server
** (bounded), garbage, huge, truncated, slow and wrongly typed replies (no
** crash, no hang), a bad URL (one clear error, memory only), and a fork
** child that never touches the server.
**
** "Bounded" here is generous (a loaded machine): a first use must return
** within PTM_TEST_BOUND_MS; the design's bound is 50 ms (bench/redis
** measures it).  Without redis-server every test is skipped with a message.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fd_test.h"
#include "ptm_int.h"
#include "store_test.h"

#define PTM_TEST_BOUND_MS 1000

static char dir[64];
static pid_t server = -1;
static int port;

static uint64_t nowMs(void)
{
    return ptmOsNowNs() / 1000000u;
}

/* A port nobody listens on right now. */
static int freePort(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int haveRedis(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

/* Whether something on port answers PING with +PONG. */
static int pings(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
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

/* redis-server on port (0: a new free one), no persistence, in dir. */
static void startServer(int p)
{
    port = p ? p : freePort();
    char sport[16];
    snprintf(sport, sizeof sport, "%d", port);
    char *argv[] = {"redis-server", "--port", sport, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", dir, "--logfile", "", "--loglevel", "warning",
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    cr_assert_eq(posix_spawnp(&server, "redis-server", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 200 && !pings(port); i++)
        usleep(25000);
    cr_assert(pings(port), "redis-server did not start on port %d", port);
}

static void stopServer(void)
{
    if (server > 0) {
        kill(server, SIGCONT);
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    server = -1;
}

static void useUrl(const char *prefix)
{
    char url[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/%s", port, prefix);
    setenv("PTM_HISTORY", url, 1);
    ptmStoreReset();
    ptmHistoryForget();
}

static void setup(void)
{
    if (!haveRedis())
        cr_skip_test("redis-server is not installed (scripts/install-deps.sh installs it)");
    /* A first use that meets a working server must not time out on a loaded
    ** machine; the tests of the bound set the default back. */
    setenv("PTM_HISTORY_WAIT_MS", "1000", 1);
    snprintf(dir, sizeof dir, "/tmp/ptm_redis_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void cleanup(void)
{
    stopServer();
    ptmStoreReset();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

/* redis-cli's answer to args (its first line), for checking the server. */
static long cli(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d %s", port, args);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char line[256] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    pclose(f);
    return strtol(line, NULL, 10);
}

/* A first use of id: its history, and how long it took (ms). */
static struct ptmHistory *firstUse(const char *id, uint64_t *ms)
{
    struct ptm_tx_desc d = descOf(id);
    uint64_t t0 = nowMs();
    struct ptmHistory *h = ptmHistoryFor(&d);
    *ms = nowMs() - t0;
    cr_assert_not_null(h);
    return h;
}

static void modelOf(struct ptmHistory *h, unsigned cell, struct ptmModelView *mv)
{
    struct ptmSignals s = {.acceptable_timeout_ms = 1e9};
    s.validation = (cell & 2) != 0;
    ptmHistoryModel(h, &s, mv);
}

Test(store_redis, two_processes_learn_together, .init = setup, .fini = cleanup)
{
    startServer(0);
    useUrl("fleet1");
    cr_assert_eq(runWriter(dir, "fleet.tx", 100, 4), 0, "a first process starts cold");
    long warm = runWriter(dir, "fleet.tx", 100, 4);
    cr_assert_eq(warm, 100, "a second one starts from the first's: %ld", warm);
    cr_assert_eq(runWriter(dir, "fleet.tx", 10, 0), 200);
    /* The model's counts are in the server, under the prefix. */
    cr_assert_eq(cli("HGET fleet1:fleet.tx mn:2"), 210);
    cr_assert_eq(cli("HGET fleet1:fleet.tx mf:2"), 50);
    cr_assert_eq(cli("HGET fleet1:fleet.tx calls"), 210);
    cr_assert_eq(cli("HGET fleet1:fleet.tx pc:store_writer"), 210);
    /* ... and this process loads them, latency included. */
    uint64_t ms;
    struct ptmHistory *h = firstUse("fleet.tx", &ms);
    struct ptmModelView mv;
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 210);
    cr_assert_eq(mv.failures, 50);
    cr_assert(mv.enough);
    struct ptmHistoryView hv;
    ptmHistoryGet(h, &hv);
    cr_assert_eq(hv.calls, 210);
    cr_assert_float_eq(hv.latency_mean_us, 1000.0, 1e-6);
    cr_assert_null(ptmStoreState());
    /* Another prefix is another fleet. */
    useUrl("fleet2");
    h = firstUse("fleet.tx", &ms);
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 0);
}

Test(store_redis, increments_add_and_never_overwrite, .init = setup, .fini = cleanup)
{
    startServer(0);
    useUrl("add");
    uint64_t ms;
    struct ptmHistory *h = firstUse("add.tx", &ms);
    teach(h, 2, 12, 3, 2000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    teach(h, 2, 8, 8, 2000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    cr_assert_eq(ptmStoreFlush(), PTM_OK, "nothing new: nothing pushed");
    cr_assert_eq(cli("HGET add:add.tx mn:2"), 20);
    cr_assert_eq(cli("HGET add:add.tx mf:2"), 11);
    cr_assert_eq(cli("HGET add:add.tx calls"), 20);
}

Test(store_redis, a_large_push_is_split_into_transactions, .init = setup, .fini = cleanup)
{
    port = freePort(); /* nothing listens yet: everything is kept, merged per id */
    useUrl("big");
    /* 1500 ids of about 10 commands each, pushed at once when the server
    ** starts: several MULTI/EXEC of at most 4096 commands, each EXEC's
    ** reply under the reply's bound. */
    for (int i = 0; i < 1500; i++) {
        char id[32];
        snprintf(id, sizeof id, "big.%d", i);
        struct ptm_tx_desc d = descOf(id);
        struct ptmHistory *h = ptmHistoryFor(&d);
        teach(h, 2, 2, 1, 100);
    }
    cr_assert_neq(ptmStoreFlush(), PTM_OK);
    startServer(port);
    enum ptmRc rc = PTM_ERROR;
    for (int i = 0; i < 100 && rc != PTM_OK; i++) /* past the backoff */
        if ((rc = ptmStoreFlush()) != PTM_OK)
            usleep(200000);
    cr_assert_eq(rc, PTM_OK, "%s", ptmStoreState() ? ptmStoreState() : "");
    cr_assert_null(ptmStoreState(), "%s", ptmStoreState());
    cr_assert_eq(cli("HGET big:big.0 mn:2"), 2);
    cr_assert_eq(cli("HGET big:big.777 mf:2"), 1);
    cr_assert_eq(cli("HGET big:big.1499 calls"), 2);
    cr_assert_eq(cli("DBSIZE"), 1500);
    /* INFO's "cmdstat_exec:calls=N,...", N > 1: the push was split. */
    char cmd[160];
    snprintf(cmd, sizeof cmd,
             "redis-cli -p %d INFO commandstats | "
             "sed -n 's/^cmdstat_exec:calls=\\([0-9]*\\).*/\\1/p'",
             port);
    FILE *f = popen(cmd, "r");
    long execs = 0;
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld", &execs), 1);
    pclose(f);
    cr_assert_gt(execs, 1, "one EXEC for 1500 ids: not split");
}

Test(store_redis, a_killed_server_delays_nothing_and_gets_the_increments_later,
     .init = setup, .fini = cleanup)
{
    startServer(0);
    int p = port;
    useUrl("kill");
    uint64_t ms;
    struct ptmHistory *h = firstUse("kill.tx", &ms);
    teach(h, 2, 10, 0, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    cr_assert_eq(cli("HGET kill:kill.tx mn:2"), 10);
    unsetenv("PTM_HISTORY_WAIT_MS"); /* the default bound from here on */
    ptmStoreReset();

    stopServer(); /* SIGKILL, in the middle of the run */
    teach(h, 2, 30, 5, 1000);
    uint64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "down.%d", i);
        struct ptmHistory *d = firstUse(id, &ms);
        teach(d, 1, 1, 0, 10);
        worst = ms > worst ? ms : worst;
    }
    cr_assert(worst < PTM_TEST_BOUND_MS, "a first use waited %llu ms for a dead server",
              (unsigned long long)worst);
    cr_assert_neq(ptmStoreFlush(), PTM_OK, "the server is down: kept");
    const char *state = ptmStoreState();
    cr_assert_not_null(state);
    cr_assert(strstr(state, "redis://") && strstr(state, "tried again"), "%s", state);

    startServer(p); /* back on the same port: the increments are pushed */
    enum ptmRc rc = PTM_ERROR;
    for (int i = 0; i < 200 && rc != PTM_OK; i++) {
        usleep(100000);
        rc = ptmStoreFlush();
    }
    cr_assert_eq(rc, PTM_OK, "the server came back but nothing was pushed: %s",
                 ptmStoreState() ? ptmStoreState() : "");
    cr_assert_null(ptmStoreState(), "the problem is over");
    /* The restarted server kept nothing (no persistence): what it has is
    ** exactly what was learnt while it was down. */
    cr_assert_eq(cli("HGET kill:kill.tx mn:2"), 30, "%ld", cli("HGET kill:kill.tx mn:2"));
    cr_assert_eq(cli("HGET kill:kill.tx mf:2"), 5);
    for (int i = 0; i < 20; i += 7) {
        char args[64];
        snprintf(args, sizeof args, "HGET kill:down.%d calls", i);
        cr_assert_eq(cli(args), 1, "%s", args);
    }
}

Test(store_redis, a_stopped_server_delays_a_first_use_a_bounded_time, .init = setup,
     .fini = cleanup)
{
    startServer(0);
    useUrl("stop");
    uint64_t ms;
    struct ptmHistory *h = firstUse("stop.tx", &ms);
    teach(h, 2, 5, 0, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);

    unsetenv("PTM_HISTORY_WAIT_MS"); /* the default bound, 50 ms, from here on */
    ptmStoreReset();
    kill(server, SIGSTOP); /* accepts connections (the kernel does), answers nothing */
    uint64_t worst = 0, t0 = nowMs();
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "stopped.%d", i);
        (void)firstUse(id, &ms);
        worst = ms > worst ? ms : worst;
        usleep(50000); /* past a backoff, some of them */
    }
    cr_assert(worst < PTM_TEST_BOUND_MS, "a first use waited %llu ms for a stopped server",
              (unsigned long long)worst);
    teach(h, 2, 5, 0, 1000);
    t0 = nowMs();
    (void)ptmStoreFlush(); /* the writer's own wait: longer, still bounded */
    cr_assert(nowMs() - t0 < 3 * PTM_TEST_BOUND_MS);
    cr_assert_not_null(ptmStoreState());
    kill(server, SIGCONT);
}

/* ---------------------------------------------------------------------
** A re-read: what the fleet learnt after this process's first use.
*/

Test(store_redis, a_long_running_process_learns_what_others_pushed_after_it_started,
     .init = setup, .fini = cleanup)
{
    startServer(0);
    useUrl("again");
    uint64_t ms;
    struct ptmHistory *h = firstUse("again.tx", &ms); /* cold: nothing pushed yet */
    teach(h, 2, 10, 2, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    teach(h, 2, 5, 0, 1000); /* not pushed yet: the server has not seen them */
    /* Another process starts after this one's first use, loads the 10
    ** pushed (15 when this process's writer thread pushed the 5 while the
    ** other started: a slow spawn on a loaded machine), and pushes 100 of
    ** its own (25 failures) at its exit. */
    long warm = runWriter(dir, "again.tx", 100, 4);
    cr_assert(warm == 10 || warm == 15, "the other process loaded %ld", warm);
    struct ptmModelView mv;
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 15, "before the re-read: only this process's own");
    cr_assert_eq(ptmStoreReread(), PTM_OK, "%s", ptmStoreState() ? ptmStoreState() : "");
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 115, "the fleet's 110 and the 5 not pushed: %llu",
                 (unsigned long long)mv.n);
    cr_assert_eq(mv.failures, 27);
    cr_assert_eq(mv.outcomes, 115);
    struct ptmHistoryView hv;
    ptmHistoryGet(h, &hv);
    cr_assert_eq(hv.calls, 115);
    cr_assert_eq(hv.successes, 88);
    cr_assert_eq(hv.latency_n, 115);
    cr_assert_float_eq(hv.latency_mean_us, 1000.0, 1e-6);
    /* Pushed, then read again: nothing counts twice. */
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    cr_assert_eq(cli("HGET again:again.tx mn:2"), 115);
    cr_assert_eq(ptmStoreReread(), PTM_OK);
    cr_assert_eq(ptmStoreReread(), PTM_OK);
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 115);
    ptmHistoryGet(h, &hv);
    cr_assert_eq(hv.calls, 115);
    cr_assert_eq(cli("HGET again:again.tx pc:store_writer"), 100);
    cr_assert_eq(cli("HGET again:again.tx pc:f"), 15);

    /* The writer thread does it on its own, every PTM_STORE_REREAD_MS
    ** (10 s): started by a batch of calls, it learns what another
    ** process pushes later. */
    teach(h, 2, PTM_STORE_BATCH, 0, 1000); /* wakes (starts) the writer */
    cr_assert_eq(runWriter(dir, "again.tx", 50, 0) >= 115, 1);
    uint64_t t0 = nowMs();
    do {
        usleep(100000);
        modelOf(h, 2, &mv);
    } while (mv.n < 115 + PTM_STORE_BATCH + 50 && nowMs() - t0 < 25000);
    cr_assert_eq(mv.n, 115 + PTM_STORE_BATCH + 50, "the writer did not read again: %llu",
                 (unsigned long long)mv.n);
}

Test(store_redis, a_server_down_during_a_reread_delays_nothing_and_counts_nothing_twice,
     .init = setup, .fini = cleanup)
{
    startServer(0);
    int p = port;
    useUrl("down");
    uint64_t ms;
    struct ptmHistory *h = firstUse("down.tx", &ms);
    teach(h, 2, 10, 1, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    stopServer(); /* SIGKILL */
    teach(h, 2, 4, 0, 1000);
    cr_assert_neq(ptmStoreFlush(), PTM_OK, "kept: the 4 wait for the server");
    ptmStoreReset(); /* (the increments kept are forgotten by a reset: teach again) */
    teach(h, 2, 4, 0, 1000);
    cr_assert_neq(ptmStoreFlush(), PTM_OK);
    usleep(400000); /* past the push's backoff (250 ms): the re-read tries the server */
    uint64_t t0 = nowMs();
    cr_assert_neq(ptmStoreReread(), PTM_OK);
    cr_assert(nowMs() - t0 < 3 * PTM_TEST_BOUND_MS, "a re-read of a dead server: %llu ms",
              (unsigned long long)(nowMs() - t0));
    const char *state = ptmStoreState();
    cr_assert(state && strstr(state, "re-reading") && strstr(state, "tried again"), "%s",
              state ? state : "(null)");
    struct ptmModelView mv;
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 18, "nothing learnt, nothing lost");

    /* Back, empty (no persistence): another process pushes 20.  The
    ** server lost the first 10: no count goes back, and the 4 kept (and
    ** 4 forgotten by the reset) are this process's own. */
    startServer(p);
    cr_assert_eq(runWriter(dir, "down.tx", 20, 0), 0);
    enum ptmRc rc = PTM_ERROR;
    for (int i = 0; i < 200 && rc != PTM_OK; i++) { /* past the backoff */
        usleep(50000);
        rc = ptmStoreReread();
    }
    cr_assert_eq(rc, PTM_OK, "%s", ptmStoreState() ? ptmStoreState() : "");
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 24, "max(18, the fleet's 20 + the 4 kept): %llu", (unsigned long long)mv.n);
    cr_assert_eq(mv.failures, 1, "the fleet's none, this process's one");
    /* The 4 kept are pushed; read again, they are not counted twice. */
    rc = ptmStoreFlush();
    cr_assert_eq(rc, PTM_OK, "%s", ptmStoreState() ? ptmStoreState() : "");
    cr_assert_eq(cli("HGET down:down.tx mn:2"), 24);
    cr_assert_eq(ptmStoreReread(), PTM_OK);
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 24);
}

/* ---------------------------------------------------------------------
** Hostile servers: a thread answers every connection with a payload.
*/

struct fake {
    int fd, port;
    const char *payload;
    size_t len;
    int mode; /* 0: payload once; 1: payload, then 'a's forever; 2: payload byte by byte,
               * slowly; 3: close at once; 4: never answer */
    atomic_int stop;
    pthread_t t;
};

static void fakeServe(struct fake *f, int c)
{
    char buf[4096];
    struct pollfd pf = {.fd = c, .events = POLLIN};
    if (f->mode == 3)
        return;
    if (poll(&pf, 1, 1000) == 1)
        (void)!read(c, buf, sizeof buf);
    while (f->mode == 4 && !atomic_load(&f->stop))
        usleep(10000);
    if (f->mode == 2) {
        for (size_t i = 0; i < f->len && !atomic_load(&f->stop); i++) {
            if (send(c, f->payload + i, 1, MSG_NOSIGNAL) != 1)
                return;
            usleep(20000);
        }
        return;
    }
    if (send(c, f->payload, f->len, MSG_NOSIGNAL) < 0)
        return;
    if (f->mode == 1) {
        memset(buf, 'a', sizeof buf);
        size_t sent = 0;
        while (!atomic_load(&f->stop) && sent < ((size_t)64 << 20)) {
            ssize_t n = send(c, buf, sizeof buf, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN)
                return;
            if (n < 0)
                usleep(1000);
            else
                sent += (size_t)n;
        }
    }
}

static void *fakeThread(void *arg)
{
    struct fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd pf = {.fd = f->fd, .events = POLLIN};
        if (poll(&pf, 1, 50) != 1)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        fakeServe(f, c);
        close(c);
    }
    return NULL;
}

static void fakeStart(struct fake *f, const char *payload, size_t len, int mode)
{
    memset(f, 0, sizeof *f);
    f->payload = payload;
    f->len = len;
    f->mode = mode;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    cr_assert_eq(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(f->fd, 16), 0);
    cr_assert_eq(getsockname(f->fd, (struct sockaddr *)&a, &alen), 0);
    f->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&f->t, NULL, fakeThread, f), 0);
}

static void fakeStop(struct fake *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->t, NULL);
    close(f->fd);
}

/* One hostile payload: a first use and a push come back within the
** bound, load nothing, and the problem is recorded. */
static void hostile(const char *name, const char *payload, size_t len, int mode)
{
    unsetenv("PTM_HISTORY_WAIT_MS"); /* the default bound, 50 ms */
    struct fake f;
    fakeStart(&f, payload, len, mode);
    char url[96];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/h", f.port);
    setenv("PTM_HISTORY", url, 1);
    ptmStoreReset();
    ptmHistoryForget();
    struct ptmHistData d;
    uint64_t t0 = nowMs();
    int rows = ptmStoreLoad("hostile.tx", &d);
    uint64_t ms = nowMs() - t0;
    cr_assert(ms < PTM_TEST_BOUND_MS, "%s: a first use took %llu ms", name,
              (unsigned long long)ms);
    cr_assert_eq(rows, 0, "%s: nothing loaded", name);
    cr_assert_eq(d.calls, 0, "%s", name);
    cr_assert_not_null(ptmStoreState(), "%s: the problem is recorded", name);

    ptmHistoryForget();
    struct ptm_tx_desc desc = descOf("hostile.push");
    struct ptmHistory *h = ptmHistoryFor(&desc);
    ptmStoreReset(); /* no backoff: the push meets the server too */
    teach(h, 2, 3, 1, 100);
    t0 = nowMs();
    /* The writer thread (woken by the first use) may push them first: either
    ** way the push meets the server, and fails. */
    (void)ptmStoreFlush();
    ms = nowMs() - t0;
    cr_assert(ms < 3 * PTM_TEST_BOUND_MS, "%s: a push took %llu ms", name,
              (unsigned long long)ms);
    const char *s = ptmStoreState();
    cr_assert(s && strstr(s, "writing"), "%s: %s", name, s ? s : "(null)");

    /* A re-read meets the same server: bounded, and no count goes back
    ** (a dribbling server's reply is whole within the writer's deadline,
    ** and is a real hash: it may teach). */
    struct ptmHistoryView before, after;
    ptmHistoryGet(h, &before);
    ptmStoreReset(); /* no backoff */
    t0 = nowMs();
    enum ptmRc rc = ptmStoreReread();
    ms = nowMs() - t0;
    cr_assert(ms < 3 * PTM_TEST_BOUND_MS, "%s: a re-read took %llu ms", name,
              (unsigned long long)ms);
    ptmHistoryGet(h, &after);
    cr_assert_geq(after.calls, before.calls, "%s", name);
    cr_assert_geq(after.latency_n, before.latency_n, "%s", name);
    s = ptmStoreState();
    if (rc != PTM_OK)
        cr_assert(s && strstr(s, "re-reading"), "%s: %s", name, s ? s : "(null)");
    else
        cr_assert_null(s, "%s: %s", name, s);
    fakeStop(&f);
    ptmStoreReset();
}

#define HOSTILE(name, s, mode) hostile(name, s, sizeof s - 1, mode)

Test(store_redis, hostile_servers_neither_crash_nor_hang, .init = setup, .fini = cleanup)
{
    HOSTILE("garbage", "hello, this is not RESP\r\n", 0);
    HOSTILE("binary garbage", "\x01\x02\xff\xfe\r\n\r\n\x00\x00", 0);
    HOSTILE("an error", "-ERR no such thing\r\n", 0);
    HOSTILE("wrong type", "-WRONGTYPE Operation against a key holding the wrong kind\r\n", 0);
    HOSTILE("an integer for a hash", ":42\r\n", 0);
    HOSTILE("an odd hash", "*3\r\n$5\r\ncalls\r\n$1\r\n7\r\n$1\r\nx\r\n", 0);
    HOSTILE("a huge array", "*2147483647\r\n", 0);
    HOSTILE("an array past int", "*99999999999999\r\n", 0);
    HOSTILE("a negative array", "*-7\r\n", 0);
    HOSTILE("a huge string", "*2\r\n$1000000000\r\n", 1);
    HOSTILE("a string past size_t", "*2\r\n$18446744073709551615\r\n", 0);
    HOSTILE("a string over the bound", "*2\r\n$100000\r\n", 1);
    HOSTILE("deep nesting",
            "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 0);
    HOSTILE("a truncated reply", "*4\r\n$5\r\ncal", 0);
    HOSTILE("a dribbling server", "*2\r\n$5\r\ncalls\r\n$1\r\n9\r\n", 2);
    HOSTILE("a server that closes", "", 3);
    HOSTILE("a server that never answers", "", 4);
}

Test(store_redis, wrong_types_in_a_real_server_are_refused, .init = setup, .fini = cleanup)
{
    startServer(0);
    cli("SET wt:typed.tx notahash");
    cli("HSET wt:odd.tx calls notanumber mn:2 -5 mn:999 3 mf:2 1e308 s:x 1 lat_w nan");
    useUrl("wt");
    uint64_t ms;
    struct ptmHistory *h = firstUse("typed.tx", &ms);
    cr_assert(ms < PTM_TEST_BOUND_MS);
    struct ptmModelView mv;
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 0);
    cr_assert_not_null(ptmStoreState());
    cr_assert(strstr(ptmStoreState(), "WRONGTYPE"), "%s", ptmStoreState());
    ptmStoreReset(); /* past the load's backoff */
    teach(h, 2, 3, 0, 100);
    (void)ptmStoreFlush(); /* here or on the writer thread: refused */
    cr_assert(ptmStoreState() && strstr(ptmStoreState(), "writing") &&
                  strstr(ptmStoreState(), "WRONGTYPE"),
              "%s", ptmStoreState() ? ptmStoreState() : "(null)");
    cr_assert_eq(cli("STRLEN wt:typed.tx"), 8, "the string is left alone");

    useUrl("wt");
    h = firstUse("odd.tx", &ms);
    struct ptmHistoryView hv;
    ptmHistoryGet(h, &hv);
    cr_assert_eq(hv.calls, 0, "not a number: read as nothing");
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 0);
    cr_assert_eq(mv.failures, 0);
    cr_assert_null(ptmStoreState());
}

Test(store_redis, a_bad_url_is_said_once_and_memory_is_used, .init = setup, .fini = cleanup)
{
    static const char *bad[] = {
        "redis:",
        "redis://",
        "redis://:6379/x",
        "redis://host:0/x",
        "redis://host:65536/x",
        "redis://host:12ab/x",
        "redis://user:pw@host:6379/x",
        "redis://host:6379/a b",
        "redis://host:6379/x?db=1",
        "redis://[::1/x",
        "redis://[nothex]:1/x",
        "redis://ho_st/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ptmRedisUrl u;
        char why[200];
        cr_assert_eq(ptmStoreRedisParse(bad[i], &u, why, sizeof why), -1, "%s", bad[i]);
        setenv("PTM_HISTORY", bad[i], 1);
        ptmStoreReset();
        ptmHistoryForget();
        struct ptmHistData d;
        cr_assert_eq(ptmStoreLoad("x", &d), 0);
        const char *s = ptmStoreState();
        cr_assert(s && strstr(s, "a bad Redis URL"), "%s: %s", bad[i], s ? s : "(null)");
        cr_assert_eq(ptmStoreFlush(), PTM_EINVAL);
    }
    struct ptmRedisUrl u;
    char why[200];
    cr_assert_eq(ptmStoreRedisParse("redis://10.0.0.7:7000/team:prog", &u, why, sizeof why), 0);
    cr_assert_str_eq(u.host, "10.0.0.7");
    cr_assert_eq(u.port, 7000);
    cr_assert_str_eq(u.prefix, "team:prog");
    cr_assert_eq(ptmStoreRedisParse("redis://cache.example", &u, why, sizeof why), 0);
    cr_assert_eq(u.port, 6379);
    cr_assert(strncmp(u.prefix, "ptm:", 4) == 0, "%s", u.prefix);
    cr_assert_eq(ptmStoreRedisParse("redis://[::1]:6380/p", &u, why, sizeof why), 0);
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 6380);
}

Test(store_redis, a_fork_child_never_touches_the_server, .init = setup, .fini = cleanup)
{
    startServer(0);
    useUrl("fork");
    uint64_t ms;
    struct ptmHistory *h = firstUse("fork.tx", &ms);
    teach(h, 2, 7, 0, 100);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    pid_t pid = fork();
    if (pid == 0) {
        struct ptmHistData d;
        int rows = ptmStoreLoad("fork.tx", &d);
        struct ptm_tx_desc desc = descOf("fork.child");
        struct ptmHistory *c = ptmHistoryFor(&desc);
        teach(c, 2, 3, 0, 100);
        int pushed = ptmStoreFlush() == PTM_OK;
        _exit(rows == 0 && !pushed ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child used the server");
    cr_assert_eq(cli("EXISTS fork:fork.child"), 0);
}

Test(store_redis, history_wait_ms_sets_the_first_use_deadline, .init = setup, .fini = cleanup)
{
    struct fake f;
    fakeStart(&f, "", 0, 4); /* accepts, never answers */
    char url[96];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/w", f.port);
    setenv("PTM_HISTORY", url, 1);
    static const struct {
        const char *env;
        uint64_t at_least;
    } cases[] = {{"300", 300}, {"abc", 50}, {"0", 50}, {"99999", 50}, {NULL, 50}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].env)
            setenv("PTM_HISTORY_WAIT_MS", cases[i].env, 1);
        else
            unsetenv("PTM_HISTORY_WAIT_MS");
        ptmStoreReset();
        struct ptmHistData d;
        uint64_t t0 = nowMs();
        cr_assert_eq(ptmStoreLoad("w.tx", &d), 0);
        uint64_t ms = nowMs() - t0;
        /* A connection made, a request sent, no reply: the whole deadline. */
        cr_assert(ms >= cases[i].at_least - 1 && ms < cases[i].at_least + PTM_TEST_BOUND_MS,
                  "PTM_HISTORY_WAIT_MS=%s: %llu ms", cases[i].env ? cases[i].env : "(unset)",
                  (unsigned long long)ms);
    }
    fakeStop(&f);
}

/* A name other than "localhost" whose first address is 127.0.0.1 (the
** host's own name, usually), or NULL. */
static const char *loopbackName(char *buf, size_t n)
{
    const char *names[] = {NULL, "localhost.localdomain"};
    if (gethostname(buf, n) == 0 && buf[0])
        names[0] = buf;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        if (!names[i] || getaddrinfo(names[i], NULL, &hints, &res) != 0 || !res)
            continue;
        int ok = res->ai_family == AF_INET &&
                 ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        freeaddrinfo(res);
        if (ok)
            return names[i];
    }
    return NULL;
}

Test(store_redis, a_host_name_is_resolved_by_the_writer, .init = setup, .fini = cleanup)
{
    char buf[256];
    const char *name = loopbackName(buf, sizeof buf);
    if (!name)
        cr_skip_test("no host name other than localhost resolves to 127.0.0.1 here");
    startServer(0);
    char url[400];
    snprintf(url, sizeof url, "redis://%s:%d/named", name, port);
    setenv("PTM_HISTORY", url, 1);
    ptmStoreReset();
    ptmHistoryForget();
    /* The first use waits (within PTM_HISTORY_WAIT_MS) for the writer
    ** thread's getaddrinfo, never calls it. */
    uint64_t ms;
    struct ptmHistory *h = firstUse("named.tx", &ms);
    teach(h, 2, 6, 2, 100);
    cr_assert_eq(ptmStoreFlush(), PTM_OK, "%s", ptmStoreState() ? ptmStoreState() : "");
    cr_assert_eq(cli("HGET named:named.tx mn:2"), 6);
    ptmStoreReset();
    ptmHistoryForget();
    h = firstUse("named.tx", &ms);
    struct ptmModelView mv;
    modelOf(h, 2, &mv);
    cr_assert_eq(mv.n, 6, "%s: loaded through the resolved address", url);
    cr_assert_eq(mv.failures, 2);
}

static int isSocket(const struct stat *st, const void *arg)
{
    (void)arg;
    return S_ISSOCK(st->st_mode);
}

/* The program closes every descriptor it did not open (a daemon) and gets
** the kept connections' numbers for files of its own: the next flush must
** neither write commands into those files nor close them, and reaches
** the server on a new connection. */
Test(store_redis, a_connection_whose_number_the_program_reused_is_dropped, .init = setup,
     .fini = cleanup)
{
    startServer(0);
    useUrl("reuse");
    uint64_t ms;
    struct ptmHistory *h = firstUse("reuse.tx", &ms); /* the read connection */
    teach(h, 2, 5, 1, 2000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);           /* the write connection */
    cr_assert_eq(cli("HGET reuse:reuse.tx calls"), 5);
    /* Every socket of this process is a connection of the store's: each
    ** number now names a file of the host's. */
    char file[300];
    snprintf(file, sizeof file, "%s/host", dir);
    int host = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(host, 0);
    cr_assert_eq(write(host, "host data\n", 10), 10);
    int replaced = reuseFds(host, isSocket, NULL);
    cr_assert_geq(replaced, 2, "the read and the write connections: %d", replaced);
    teach(h, 2, 7, 0, 2000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK, "pushed on a new connection");
    cr_assert_eq(cli("HGET reuse:reuse.tx calls"), 12);
    struct stat st;
    cr_assert_eq(fstat(host, &st), 0);
    cr_assert_eq(st.st_size, 10, "the host's file got %lld bytes", (long long)st.st_size);
    char buf[16] = {0};
    cr_assert_eq(pread(host, buf, sizeof buf, 0), 10);
    cr_assert_str_eq(buf, "host data\n");
    /* The numbers the store had are still the host's (none was closed). */
    int still = openOn(&st);
    cr_assert_eq(still, replaced + 1, "%d of %d", still, replaced + 1);
}
