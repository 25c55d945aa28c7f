/*
** test_sim_locks.c - the flock probe's view of /proc/locks
** (runtime/shims/sim_locks.c): the parse of hostile and huge inputs, the
** reader thread's table (fresh, stale, unknown), its bounds (bytes read,
** holders kept), its time budget against a read that stalls, what a stale
** table misses (documented), probes from many threads while another process
** takes and drops locks, a host's fork child, and the flock shim's event
** when the state is unknown.  /proc/locks is replaced through ptmOs.open
** where a test needs a file of its own.
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"
#include "shims_test.h"

#define MS 1000000ull
#define SEC (1000 * MS)

/* ------------------------------------------------------------- the parse */

Test(parse, holders_waiters_other_kinds_and_shared_with_shared)
{
    const char *text = "1: FLOCK  ADVISORY  WRITE 100 08:02:77 0 EOF\n"
                       "1: -> FLOCK  ADVISORY  WRITE 101 08:02:77 0 EOF\n" /* a waiter */
                       "2: POSIX  ADVISORY  WRITE 102 08:02:77 0 EOF\n"
                       "3: OFDLCK ADVISORY  WRITE -1 08:02:77 0 EOF\n"
                       "4: FLOCK  ADVISORY  READ  103 08:02:77 0 EOF\n"
                       "5: FLOCK  ADVISORY  WRITE 104 08:03:77 0 EOF\n"  /* another device */
                       "6: FLOCK  ADVISORY  WRITE 105 08:02:78 0 EOF";    /* no newline */
    pid_t who = 0;

    cr_assert_eq(ptmFlockConflicts(text, makedev(8, 2), 77, 1, &who), 2, "WRITE 100 and READ 103");
    cr_assert_eq(ptmFlockConflicts(text, makedev(8, 2), 77, 0, &who), 1, "shared: only the writer");
    cr_assert_eq(who, 100);
    cr_assert_eq(ptmFlockConflicts(text, makedev(8, 2), 78, 1, &who), 1, "the last, unterminated");
    cr_assert_eq(who, 105);
    cr_assert_eq(ptmFlockConflicts("lock:\t1: FLOCK  ADVISORY  WRITE 9 08:02:77 0 EOF\n",
                                   makedev(8, 2), 77, 1, &who), 1, "fdinfo's form");
}

Test(parse, a_cut_line_never_reads_into_the_next)
{
    /* sscanf skips newlines as blanks: a line cut after its kind must not
    ** take its pid and inode from the line below. */
    const char *text = "1: FLOCK  ADVISORY  WRITE\n"
                       "1234 08:02:77 0 EOF\n"
                       "2: FLOCK\n"
                       "\n\n::::\n"
                       "3: FLOCK ADVISORY WRITE notapid 08:02:77 0 EOF\n"
                       "4: FLOCK ADVISORY WRITE 5 zz:yy:77 0 EOF\n";
    pid_t who = 0;

    cr_assert_eq(ptmFlockConflicts(text, makedev(8, 2), 77, 1, &who), 0);
    cr_assert_eq(who, 0);
    cr_assert_eq(ptmFlockConflicts("", makedev(8, 2), 77, 1, &who), 0);
}

/* A /proc/locks-like text of lines lines, every 1000th a holder of
** (8:2, 77), the rest other kinds, other files, waiters, overlong lines. */
static char *hugeText(int lines, int *holders)
{
    size_t cap = (size_t)lines * 120 + 4096, len = 0;
    char *t = malloc(cap);
    cr_assert_not_null(t);
    *holders = 0;
    for (int i = 0; i < lines; i++) {
        const char *fmt;
        switch (i % 5) {
        case 0:
            fmt = "%d: POSIX  ADVISORY  WRITE %d 08:02:77 0 EOF\n";
            break;
        case 1:
            fmt = "%d: FLOCK  ADVISORY  WRITE %d 08:02:78 0 EOF\n";
            break;
        case 2:
            fmt = "%d: -> FLOCK  ADVISORY  WRITE %d 08:02:77 0 EOF\n";
            break;
        case 3:
            fmt = "%d: FLOCK  ADVISORY  READ  %d 08:02:77 0 EOF %0300d\n"; /* overlong */
            break;
        default:
            fmt = i % 1000 == 4 ? "%d: FLOCK  ADVISORY  WRITE %d 08:02:77 0 EOF\n"
                                : "%d: LEASE  ACTIVE    READ  %d 08:02:77 0 EOF\n";
        }
        if (len + 300 >= cap) {
            cap *= 2;
            cr_assert_not_null(t = realloc(t, cap));
        }
        len += (size_t)snprintf(t + len, cap - len, fmt, i, 1000 + i, 0);
        *holders += i % 5 == 4 && i % 1000 == 4;
    }
    t[len] = '\0';
    return t;
}

Test(parse, a_huge_input_is_read_whole_in_bounded_time)
{
    int holders;
    char *t = hugeText(200000, &holders); /* about 21 MB */
    pid_t who = 0;
    uint64_t t0 = ptmOsNowNs();

    cr_assert_gt(strlen(t), 8u << 20);
    cr_assert_eq(ptmFlockConflicts(t, makedev(8, 2), 77, 1, &who), holders,
                 "overlong lines are skipped, holders counted");
    cr_assert_eq(holders, 200);
    cr_assert_lt(ptmOsNowNs() - t0, 20 * SEC, "linear, even on a loaded machine");
    free(t);
}

/* --------------------------------------------------- a /proc/locks of our own */

static char fakePath[64];
static int (*realOpen)(const char *, int, mode_t);
static _Atomic int stallMs;   /* an open of /proc/locks sleeps this long first */

static int fakeOpen(const char *path, int flags, mode_t mode)
{
    if (strcmp(path, "/proc/locks") != 0)
        return realOpen(path, flags, mode);
    if (stallMs) {
        struct timespec ts = {stallMs / 1000, (long)(stallMs % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return realOpen(fakePath, flags, mode);
}

/* /proc/locks becomes a file holding text. */
static void fakeLocks(const char *text)
{
    FILE *f;
    if (!fakePath[0]) {
        snprintf(fakePath, sizeof fakePath, "/tmp/ptm-locks-XXXXXX");
        int fd = mkstemp(fakePath);
        cr_assert_geq(fd, 0);
        close(fd);
        realOpen = ptmOs.open;
        ptmOs.open = fakeOpen;
    }
    cr_assert_not_null(f = fopen(fakePath, "w"));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void unfake(void)
{
    ptmOsReset();
    if (fakePath[0])
        unlink(fakePath);
}

TestSuite(table, .fini = unfake);

Test(table, the_reader_answers_and_a_fresh_table_is_reused)
{
    pid_t who = 0;
    uint64_t age = 1;

    ptmFlockProbeSet(0, 10 * SEC, 5 * SEC, 5 * SEC, 10 * SEC);
    fakeLocks("1: FLOCK  ADVISORY  WRITE 4242 08:02:77 0 EOF\n");
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 77, 0, 0, 0, &who, &age), 1);
    cr_assert_eq(who, 4242);
    cr_assert_eq(age, 0, "read for this probe");
    uint64_t reads = ptmFlockProbeReads();
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 78, 1, 0, 0, &who, &age), 0);
    cr_assert_eq(ptmFlockProbeReads(), reads, "within the ttl: no read");
}

Test(table, this_process_s_own_lock_counts_only_from_a_read_made_for_the_probe)
{
    char text[160];
    pid_t who = 0, self = getpid();
    uint64_t age;

    /* The table was read while this process's primary held (8:2, 77); the
    ** next mirror must not see the primary's own lock. */
    snprintf(text, sizeof text,
             "1: FLOCK  ADVISORY  WRITE %d 08:02:77 0 EOF\n"
             "2: FLOCK  ADVISORY  WRITE 4242 08:02:78 0 EOF\n", (int)self);
    fakeLocks(text);
    ptmFlockProbeSet(0, 60 * SEC, 5 * SEC, 5 * SEC, 60 * SEC);
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 77, 1, 0, self, &who, &age), 1,
                 "a read made for this probe shows it");
    cr_assert_eq(who, self);
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 77, 1, 0, self, &who, &age), 0,
                 "a reused table does not");
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 78, 1, 0, self, &who, &age), 1,
                 "another process's lock in the same table does");
    cr_assert_eq(who, 4242);
}

Test(table, bytes_past_the_cap_are_not_read_and_an_unlisted_file_is_unknown)
{
    int holders;
    char *t = hugeText(100000, &holders); /* about 10 MB, over the 4 MiB cap */
    pid_t who = 0;
    uint64_t age;

    ptmFlockProbeSet(0, 0, 5 * SEC, 5 * SEC, 10 * SEC);
    fakeLocks(t);
    int n = ptmProbeFlockConflicts(makedev(8, 2), 77, 1, 0, 0, &who, &age);
    cr_assert(n > 0 && n < holders, "the holders in the first 4 MiB (%d of %d)", n, holders);
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 9), 1, 1, 0, 0, &who, &age), -1,
                 "a cut table cannot say that a file is free");
    free(t);
}

Test(table, more_holders_than_the_table_keeps)
{
    size_t cap = 6000 * 64, len = 0;
    char *t = malloc(cap);
    pid_t who = 0;
    uint64_t age;

    cr_assert_not_null(t);
    for (int i = 0; i < 6000; i++)
        len += (size_t)snprintf(t + len, cap - len, "%d: FLOCK  ADVISORY  WRITE %d 08:02:%d 0 EOF\n",
                                i, 10 + i, 1000 + i);
    ptmFlockProbeSet(0, 0, 5 * SEC, 5 * SEC, 10 * SEC);
    fakeLocks(t);
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 1000, 1, 0, 0, &who, &age), 1, "kept");
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 1000 + 5999, 1, 0, 0, &who, &age), -1,
                 "past the table's 4096: unknown, not free");
    free(t);
}

Test(table, a_stalled_read_costs_the_probe_its_budget_not_the_stall)
{
    pid_t who = 0;
    uint64_t age = 0, t0;

    fakeLocks("1: FLOCK  ADVISORY  WRITE 7 08:02:77 0 EOF\n");
    ptmFlockProbeSet(0, 0, 2 * MS, 5 * SEC, 20 * SEC);
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 77, 1, 0, 0, &who, &age), 1, "a first read");
    ptmFlockProbeSet(0, 0, 2 * MS, 50 * MS, 20 * SEC);
    stallMs = 3000; /* the kernel's side stalls 3 s from now on */
    struct timespec pause = {0, 5 * 1000000L};
    nanosleep(&pause, NULL);
    t0 = ptmOsNowNs();
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 77, 1, 0, 0, &who, &age), 1,
                 "the last table, stale but within `stale`");
    cr_assert_lt(ptmOsNowNs() - t0, 2 * SEC, "did not wait for the 3 s read");
    cr_assert_geq(age, 5 * MS, "its age is said");
    /* Past `stale` there is no answer: unknown, again without the stall. */
    ptmFlockProbeSet(0, 0, 2 * MS, 50 * MS, 1 * MS);
    t0 = ptmOsNowNs();
    cr_assert_eq(ptmProbeFlockConflicts(makedev(8, 2), 77, 1, 0, 0, &who, &age), -1);
    cr_assert_lt(ptmOsNowNs() - t0, 2 * SEC);
    stallMs = 0;
}

/* ---------------------------------------------------- real locks, real file */

TestSuite(real_locks, .init = makeDir, .fini = removeDir);

/* A child that holds flock(LOCK_EX) on path until killed. */
static pid_t holdFlock(const char *path)
{
    int ready[2];
    char c;
    pid_t pid;

    cr_assert_eq(pipe(ready), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "k", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    cr_assert_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static void stat2(const char *path, struct stat *st)
{
    cr_assert_eq(stat(path, st), 0);
}

Test(real_locks, what_a_stale_table_misses_and_a_fresh_one_sees)
{
    const char *p = at("f");
    struct stat st;
    pid_t who = 0, holder;
    uint64_t age;

    writeFile(p, "x");
    stat2(p, &st);
    /* A long ttl: the second probe answers from the first read, and so
    ** misses the lock taken in between.  That is the staleness the table
    ** trades for not reading the file in every mirror (sim_locks.c). */
    ptmFlockProbeSet(0, 60 * SEC, 5 * SEC, 5 * SEC, 60 * SEC);
    cr_assert_eq(ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age), 0);
    holder = holdFlock(p);
    cr_assert_eq(ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age), 0, "missed");
    /* With no reuse (ttl 0), the next probe reads and sees it. */
    ptmFlockProbeSet(0, 0, 5 * SEC, 5 * SEC, 60 * SEC);
    cr_assert_eq(ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age), 1);
    cr_assert_eq(who, holder);
    cr_assert_eq(age, 0);
    /* And the synchronous probe (PTM_FLOCK_PROBE=sync) as well. */
    ptmFlockProbeSet(1, 0, 0, 0, 0);
    cr_assert_eq(ptmProbeFlockConflicts(st.st_dev, st.st_ino, 0, 0, 0, &who, &age), 1);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    cr_assert_eq(ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age), 0, "released");
}

struct prober {
    dev_t dev;
    ino_t ino;
    int seen_free; /* answers that said the always-held file was free */
    int answered, unknown;
};

static void *probeMany(void *arg)
{
    struct prober *pr = arg;
    for (int i = 0; i < 300; i++) {
        pid_t who;
        uint64_t age;
        int n = ptmProbeFlockConflicts(pr->dev, pr->ino, 1, 0, 0, &who, &age);
        pr->seen_free += n == 0;
        pr->answered += n > 0;
        pr->unknown += n < 0;
    }
    return NULL;
}

Test(real_locks, many_threads_probe_while_another_process_churns_locks)
{
    const char *held = at("held"), *churn = at("churn");
    struct prober pr[6];
    pthread_t t[6];
    struct stat st;
    pid_t holder, churner;

    writeFile(held, "x");
    writeFile(churn, "y");
    stat2(held, &st);
    holder = holdFlock(held);
    churner = fork();
    if (churner == 0) { /* takes and drops a flock lock, and reads the file, in a loop */
        int fd = open(churn, O_RDONLY);
        for (;;) {
            if (flock(fd, LOCK_EX) == 0)
                flock(fd, LOCK_UN);
            int lf = open("/proc/locks", O_RDONLY);
            char buf[4096];
            while (lf >= 0 && read(lf, buf, sizeof buf) > 0)
                continue;
            if (lf >= 0)
                close(lf);
        }
    }
    ptmFlockProbeSet(0, 2 * MS, 2 * MS, 50 * MS, 250 * MS);
    uint64_t reads = ptmFlockProbeReads(), t0 = ptmOsNowNs();
    for (int i = 0; i < 6; i++) {
        pr[i] = (struct prober){.dev = st.st_dev, .ino = st.st_ino};
        cr_assert_eq(pthread_create(&t[i], NULL, probeMany, &pr[i]), 0);
    }
    int answered = 0, unknown = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(pr[i].seen_free, 0, "a lock held the whole time is never seen free");
        answered += pr[i].answered;
        unknown += pr[i].unknown;
    }
    kill(churner, SIGKILL);
    kill(holder, SIGKILL);
    waitpid(churner, NULL, 0);
    waitpid(holder, NULL, 0);
    cr_assert_eq(answered + unknown, 1800);
    cr_assert_gt(answered, 0);
    cr_assert_leq(ptmFlockProbeReads() - reads, 1800u, "never more reads than probes");
    cr_assert_lt(ptmOsNowNs() - t0, 120 * SEC);
    cr_log_info("1800 probes from 6 threads: %d answered, %d unknown, %llu reads", answered,
                unknown, (unsigned long long)(ptmFlockProbeReads() - reads));
}

Test(real_locks, a_host_fork_child_starts_its_own_reader)
{
    const char *p = at("f");
    struct stat st;
    pid_t who, holder, child;
    uint64_t age;
    int status, answer[2];
    char got = 0;

    writeFile(p, "x");
    stat2(p, &st);
    ptmFlockProbeSet(0, 0, 5 * SEC, 5 * SEC, 60 * SEC);
    cr_assert_eq(ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age), 0,
                 "the parent's reader runs");
    holder = holdFlock(p);
    cr_assert_eq(pipe(answer), 0);
    child = fork();
    if (child == 0) {
        int n = ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age);
        char c = n == 1 ? 'y' : n == 0 ? 'n' : 'u';
        _exit(write(answer[1], &c, 1) == 1 ? 0 : 1);
    }
    close(answer[1]);
    cr_assert_eq(read(answer[0], &got, 1), 1);
    waitpid(child, &status, 0);
    cr_assert_eq(got, 'y', "the child saw the lock ('%c')", got);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
}

/* ------------------------------------------------------------- the shim */

TestSuite(shim, .init = enterMirror, .fini = leaveMirror);

Test(shim, an_unknown_state_is_a_pretended_event_that_goes_on)
{
    const char *p = at("f");
    int fd;

    writeFile(p, "x");
    fakeLocks("");
    stallMs = 3000;
    ptmFlockProbeSet(0, 0, 2 * MS, 20 * MS, 250 * MS);
    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    uint64_t t0 = ptmOsNowNs();
    cr_assert_eq(ptm_shim_flock(fd, LOCK_EX | LOCK_NB), 0, "goes on as if free");
    cr_assert_lt(ptmOsNowNs() - t0, 2 * SEC, "without the 3 s stall");
    struct ptmEvent *e = lastOf(PTM_CALL_flock);
    cr_assert(e->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(e->err, 0);
    cr_assert(strstr(e->detail, "unknown"), "%s", e->detail);
    stallMs = 0;
    unlink(fakePath);
}

Test(shim, a_stale_answer_says_its_age)
{
    const char *p = at("f");
    struct stat st;
    char text[128];
    int fd;

    writeFile(p, "x");
    stat2(p, &st);
    snprintf(text, sizeof text, "1: FLOCK  ADVISORY  WRITE 31337 %02x:%02x:%llu 0 EOF\n",
             major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino);
    fakeLocks(text);
    ptmFlockProbeSet(0, 60 * SEC, 5 * SEC, 5 * SEC, 60 * SEC);
    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_EX | LOCK_NB), -1);
    cr_assert_eq(errno, EWOULDBLOCK);
    cr_assert_str_eq(lastOf(PTM_CALL_flock)->detail, "held by pid 31337");
    struct timespec pause = {0, 20 * 1000000L};
    nanosleep(&pause, NULL);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_EX), 0, "blocking: would wait");
    cr_assert(strstr(lastOf(PTM_CALL_flock)->detail, "held by pid 31337 (as of "),
              "%s", lastOf(PTM_CALL_flock)->detail);
    unlink(fakePath);
}
