/*
** test_store.c - the persisted history (store.c): persistence across
** runs, several processes writing one file at once, a corrupt file, a
** file locked by another process, and an unwritable one (ptmOs fault
** injection: EACCES, a full disk).
**
** Criterion runs each test in its own process; each test names its own
** file in a fresh directory and sets PTM_HISTORY before the store's first
** use.  A second "run" in one process is ptmStoreReset + ptmHistoryForget;
** real second runs are store_writer, a program of its own.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "ptm_int.h"
#include "store_test.h"

static char dir[64], file[128];

/* A fresh directory and PTM_HISTORY naming a file in it (a subdirectory
** that does not exist yet: the store makes it). */
static void freshFile(void)
{
    snprintf(dir, sizeof dir, "/tmp/ptm_store_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/state/ptm/prog.db", dir);
    setenv("PTM_HISTORY", file, 1);
    ptmStoreReset();
    ptmHistoryForget();
}

static void cleanup(void)
{
    ptmOsReset();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

/* The file's totals for id, read as a new run would. */
static struct ptmModelView loadModel(const char *id, unsigned cell, struct ptmHistoryView *hv)
{
    ptmStoreReset();
    ptmHistoryForget();
    struct ptm_tx_desc d = descOf(id);
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmModelView mv;
    struct ptmSignals s = {.acceptable_timeout_ms = 1e9};
    s.validation = (cell & 2) != 0;
    ptmHistoryModel(h, &s, &mv);
    if (hv)
        ptmHistoryGet(h, hv);
    return mv;
}

Test(store, a_second_run_starts_warm, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("bank.transfer");
    struct ptmHistory *h = ptmHistoryFor(&d);
    teach(h, 2, 12, 9, 2000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    cr_assert_null(ptmStoreState());
    cr_assert_eq(access(file, F_OK), 0, "the store made its directories");

    struct ptmHistoryView hv;
    struct ptmModelView mv = loadModel("bank.transfer", 2, &hv);
    cr_assert_eq(mv.n, 12);
    cr_assert_eq(mv.failures, 9);
    cr_assert(mv.enough);
    cr_assert_eq(hv.calls, 12);
    cr_assert_eq(hv.failures, 9);
    cr_assert_eq(hv.latency_n, 12);
    cr_assert_float_eq(hv.latency_mean_us, 2000.0, 1e-6);
    /* Another id of the same file is cold. */
    struct ptmModelView other = loadModel("bank.audit", 2, NULL);
    cr_assert_eq(other.n, 0);
    cr_assert(other.probability == ptmModelSeed(2));
}

Test(store, flushes_add_and_never_overwrite, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("add.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    teach(h, 2, 5, 1, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    teach(h, 2, 7, 2, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    cr_assert_eq(ptmStoreFlush(), PTM_OK); /* nothing new: nothing added */
    struct ptmModelView mv = loadModel("add.tx", 2, NULL);
    cr_assert_eq(mv.n, 12);
    cr_assert_eq(mv.failures, 3);
}

Test(store, two_real_runs, .fini = cleanup)
{
    freshFile();
    cr_assert_eq(runWriter(dir, "runs.tx", 30, 3), 0, "the first run starts cold");
    cr_assert_eq(runWriter(dir, "runs.tx", 30, 3), 30, "the second starts with the first's outcomes");
    struct ptmModelView mv = loadModel("runs.tx", 2, NULL);
    cr_assert_eq(mv.n, 60);
    cr_assert_eq(mv.failures, 20);
}

Test(store, concurrent_writers_lose_nothing, .fini = cleanup)
{
    freshFile();
    enum { WRITERS = 4, CALLS = 1000 };
    pid_t pids[WRITERS];
    char scalls[16];
    snprintf(scalls, sizeof scalls, "%d", CALLS);
    for (int i = 0; i < WRITERS; i++) {
        char *argv[] = {STORE_WRITER, "many.tx", scalls, "4", NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        cr_assert_eq(posix_spawn(&pids[i], STORE_WRITER, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
    }
    for (int i = 0; i < WRITERS; i++) {
        int status;
        cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct ptmHistoryView hv;
    struct ptmModelView mv = loadModel("many.tx", 2, &hv);
    cr_assert_eq(mv.n, WRITERS * CALLS, "%llu", (unsigned long long)mv.n);
    cr_assert_eq(mv.failures, WRITERS * CALLS / 4);
    cr_assert_eq(hv.calls, WRITERS * CALLS);
    cr_assert_eq(hv.latency_n, WRITERS * CALLS);
    cr_assert_float_eq(hv.latency_mean_us, 1000.0, 1e-6);
}

Test(store, a_corrupt_file_is_said_once_and_left_alone, .fini = cleanup)
{
    freshFile();
    char sub[160];
    snprintf(sub, sizeof sub, "%s/state", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/state/ptm", dir);
    mkdir(sub, 0700);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 400; i++)
        fputs("this is not a history file. ", f);
    fclose(f);
    struct stat before, after;
    cr_assert_eq(stat(file, &before), 0);

    struct ptm_tx_desc d = descOf("corrupt.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    cr_assert_not_null(h, "the history lives on in memory");
    teach(h, 2, 12, 12, 1000);
    struct ptmModelView mv;
    struct ptmSignals s = {.validation = 1, .acceptable_timeout_ms = 1e9};
    ptmHistoryModel(h, &s, &mv);
    cr_assert_eq(mv.n, 12, "it learns in memory");
    const char *why = ptmStoreState();
    cr_assert_not_null(why);
    cr_assert(strstr(why, "corrupt"), "%s", why);
    cr_assert(strstr(why, "kept in memory only"), "%s", why);
    cr_assert_eq(ptmStoreFlush(), PTM_EINVAL);
    cr_assert_eq(stat(file, &after), 0);
    cr_assert_eq(before.st_size, after.st_size);
    cr_assert_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

static int openEacces(const char *path, int flags, mode_t mode)
{
    if (strstr(path, "prog.db")) {
        errno = EACCES;
        return -1;
    }
    return open(path, flags, mode);
}

Test(store, unwritable_path_eacces, .fini = cleanup)
{
    freshFile();
    ptmOs.open = openEacces;
    struct ptm_tx_desc d = descOf("eacces.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    cr_assert_not_null(h);
    teach(h, 2, 3, 1, 1000);
    const char *why = ptmStoreState();
    cr_assert_not_null(why);
    cr_assert(strstr(why, strerror(EACCES)), "%s", why);
    cr_assert_eq(ptmStoreFlush(), PTM_EINVAL);
    cr_assert_neq(access(file, F_OK), 0, "no file was made");
}

static int fstatvfsFull(int fd, struct statvfs *sv)
{
    int rc = fstatvfs(fd, sv);
    sv->f_bavail = 0;
    return rc;
}

Test(store, full_disk_enospc, .fini = cleanup)
{
    freshFile();
    ptmOs.fstatvfs = fstatvfsFull;
    struct ptm_tx_desc d = descOf("enospc.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    cr_assert_not_null(h);
    teach(h, 2, 3, 1, 1000);
    const char *why = ptmStoreState();
    cr_assert_not_null(why);
    cr_assert(strstr(why, strerror(ENOSPC)), "%s", why);
    cr_assert_eq(ptmStoreFlush(), PTM_EINVAL);
}

static int mkdirEacces(const char *path, mode_t mode)
{
    (void)path;
    (void)mode;
    errno = EACCES;
    return -1;
}

Test(store, no_directory, .fini = cleanup)
{
    freshFile();
    ptmOs.mkdir = mkdirEacces;
    struct ptm_tx_desc d = descOf("mkdir.tx");
    cr_assert_not_null(ptmHistoryFor(&d));
    const char *why = ptmStoreState();
    cr_assert_not_null(why);
    cr_assert(strstr(why, "directory"), "%s", why);
}

Test(store, off_keeps_memory_only, .fini = cleanup)
{
    freshFile();
    setenv("PTM_HISTORY", "off", 1);
    ptmStoreReset();
    struct ptm_tx_desc d = descOf("off.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    teach(h, 2, 3, 1, 1000);
    cr_assert_str_eq(ptmStoreState(), "off");
    cr_assert_eq(ptmStoreFlush(), PTM_EINVAL);
    cr_assert_neq(access(file, F_OK), 0);
}

Test(store, a_file_locked_by_another_process, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("locked.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    teach(h, 2, 10, 5, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);

    /* Another holder of the write lock, for good. */
    sqlite3 *other;
    cr_assert_eq(sqlite3_open(file, &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE ptm_tx SET calls = calls", NULL,
                              NULL, NULL),
                 SQLITE_OK);

    /* A new id still loads (a WAL read waits for no writer). */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ptm_tx_desc d2 = descOf("locked.other");
    cr_assert_not_null(ptmHistoryFor(&d2));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 3);

    /* Writes are put off, the batch kept, until the limit: then it is
    ** said once and the history goes on in memory. */
    enum ptmRc rc = PTM_OK;
    for (int i = 0; i < 10 && rc != PTM_EINVAL; i++) {
        teach(h, 2, 1, 0, 1000);
        rc = ptmStoreFlush();
        if (i < 4)
            cr_assert_eq(rc, PTM_ERROR, "write %d", i);
    }
    const char *why = ptmStoreState();
    cr_assert_not_null(why);
    cr_assert(strstr(why, "locked"), "%s", why);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    /* What reached the file before the lock is intact. */
    setenv("PTM_HISTORY", file, 1);
    struct ptmModelView mv = loadModel("locked.tx", 2, NULL);
    cr_assert_eq(mv.n, 10);
}

Test(store, a_forked_child_never_touches_it, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("fork.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    teach(h, 2, 4, 0, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    pid_t pid = fork();
    if (pid == 0) {
        teach(h, 2, 50, 0, 1000);
        struct ptmHistData data;
        int loaded = ptmStoreLoad("fork.tx", &data);
        _exit(ptmStoreFlush() == PTM_EINVAL && !loaded ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct ptmModelView mv = loadModel("fork.tx", 2, NULL);
    cr_assert_eq(mv.n, 4, "the child's outcomes were not written");
}

Test(store, hostile_values_in_the_file_are_bounded, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("hostile.tx");
    teach(ptmHistoryFor(&d), 2, 1, 0, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    /* A file edited by hand, or by a broken writer. */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(file, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "UPDATE ptm_tx SET calls = -5, latency_mean_us = -1, "
                              "latency_var = 1e999, latency_n = 9223372036854775807;"
                              "INSERT INTO ptm_model VALUES('hostile.tx', 9999, 5, 5);"
                              "INSERT INTO ptm_model VALUES('hostile.tx', -1, 5, 5);"
                              "INSERT INTO ptm_model VALUES('hostile.tx', 4, 1e15, 7e15);"
                              "INSERT INTO ptm_sig VALUES('hostile.tx', 1, -3);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    struct ptmHistData data;
    ptmStoreReset();
    cr_assert_eq(ptmStoreLoad("hostile.tx", &data), 1);
    cr_assert_eq(data.calls, 0);
    cr_assert_eq(data.latency_mean_us, 0.0);
    cr_assert_eq(data.latency_var, 0.0);
    cr_assert_eq(data.model.n[4], UINT32_MAX);
    cr_assert_leq(data.model.fail[4], data.model.n[4]);
    cr_assert_eq(data.model.n[2], 1);
    /* The history built from it gives a probability in [0, 1]. */
    ptmHistoryForget();
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmSignals s = {.predicted_timeout_ms = 20, .acceptable_timeout_ms = 15};
    struct ptmModelView mv;
    ptmHistoryModel(h, &s, &mv);
    cr_assert(mv.probability >= 0 && mv.probability <= 1, "%g", mv.probability);
}

Test(store, a_writer_killed_mid_run_leaves_a_usable_file, .fini = cleanup)
{
    freshFile();
    char *argv[] = {STORE_WRITER, "killed.tx", "100000000", "2", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, STORE_WRITER, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    usleep(400 * 1000); /* batches are being written */
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status));
    /* Whatever was committed is whole; the next run reads and adds. */
    struct ptmModelView before = loadModel("killed.tx", 2, NULL);
    cr_assert_null(ptmStoreState());
    cr_assert(before.failures * 2 == before.n || before.failures * 2 + 1 == before.n,
              "n %llu failures %llu", (unsigned long long)before.n,
              (unsigned long long)before.failures);
    cr_assert_eq(runWriter(dir, "killed.tx", 10, 2), (long)before.n);
    struct ptmModelView after = loadModel("killed.tx", 2, NULL);
    cr_assert_eq(after.n, before.n + 10);
}

static void *threadTeach(void *arg)
{
    struct ptmHistory *h = arg;
    teach(h, 2, 5000, 1000, 1000);
    return NULL;
}

Test(store, threads_record_while_the_writer_writes, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("threads.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, threadTeach, h), 0);
    for (int i = 0; i < 20; i++) {
        enum ptmRc rc = ptmStoreFlush();
        cr_assert(rc == PTM_OK || rc == PTM_ERROR, "flush %d: %d", i, rc);
        usleep(2000);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 10 && ptmStoreFlush() != PTM_OK; i++)
        ;
    cr_assert_null(ptmStoreState());
    struct ptmHistoryView hv;
    struct ptmModelView mv = loadModel("threads.tx", 2, &hv);
    cr_assert_eq(mv.n, 20000);
    cr_assert_eq(mv.failures, 4000);
    cr_assert_eq(hv.calls, 20000);
}

/* Fast calls wake the writer every PTM_STORE_BATCH calls, but at most once
** per PTM_STORE_KICK_GAP_NS; what the skipped wake-ups would have written
** is written by the next write all the same. */
Test(store, a_burst_of_calls_wakes_the_writer_once_per_gap, .fini = cleanup)
{
    freshFile();
    struct ptm_tx_desc d = descOf("burst.tx");
    struct ptmHistory *h = ptmHistoryFor(&d);
    unsigned long k0 = ptmStoreKicks();
    uint64_t t0 = ptmOsNowNs();
    teach(h, 2, PTM_STORE_BATCH * 20, 0, 1000);
    uint64_t took = ptmOsNowNs() - t0;
    unsigned long k = ptmStoreKicks() - k0;
    cr_assert_geq(k, 1, "the first batch wakes the writer");
    cr_assert_leq(k, 1 + took / PTM_STORE_KICK_GAP_NS, "%lu wake-ups in %llu ms", k,
                  (unsigned long long)(took / 1000000));
    usleep(PTM_STORE_KICK_GAP_NS / 1000 + 20000);
    unsigned long before = ptmStoreKicks();
    teach(h, 2, PTM_STORE_BATCH, 0, 1000);
    cr_assert_geq(ptmStoreKicks(), before + 1, "a batch after the gap wakes it again");
    for (int i = 0; i < 10 && ptmStoreFlush() != PTM_OK; i++)
        ;
    struct ptmHistoryView hv;
    struct ptmModelView mv = loadModel("burst.tx", 2, &hv);
    cr_assert_eq(hv.calls, PTM_STORE_BATCH * 21);
    cr_assert_eq(mv.n, PTM_STORE_BATCH * 21);
}

Test(store, never_from_inside_a_mirror, .fini = cleanup)
{
    freshFile();
    /* A mirror is running on this thread (inline): the store is not
    ** touched, not even created. */
    static struct ptmMirror *fake;
    fake = (struct ptmMirror *)&fake;
    ptmMirrorCurrent = fake;
    struct ptmHistData data;
    int loaded = ptmStoreLoad("mirror.tx", &data);
    enum ptmRc rc = ptmStoreFlush();
    ptmStoreKick();
    ptmMirrorCurrent = NULL;
    cr_assert_eq(loaded, 0);
    cr_assert_eq(rc, PTM_EINVAL);
    cr_assert_neq(access(file, F_OK), 0, "no file was made from inside a mirror");
    /* Outside, it works. */
    struct ptm_tx_desc d = descOf("mirror.tx");
    teach(ptmHistoryFor(&d), 2, 2, 0, 1000);
    cr_assert_eq(ptmStoreFlush(), PTM_OK);
    cr_assert_eq(access(file, F_OK), 0);
}
