/*
** store_test.h - what test_store.c and test_store_redis.c share: a
** descriptor, outcomes taught to a history, and a run of store_writer
** (tests/unit/store_writer.c, STORE_WRITER) in another process.
*/
#ifndef PTM_STORE_TEST_H
#define PTM_STORE_TEST_H

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

extern char **environ;

static inline struct ptm_tx_desc descOf(const char *id)
{
    return (struct ptm_tx_desc){.abi = PTM_ABI_VERSION, .transaction_id = id,
                                .function = "f", .threshold = 0.5};
}

/* n labelled outcomes of cell, fail of them failures, each a primary
** attempt of us microseconds. */
static inline void teach(struct ptmHistory *h, unsigned cell, int n, int fail, uint64_t us)
{
    for (int i = 0; i < n; i++) {
        int failed = i < fail;
        ptmHistoryRecord(h, !failed, 0, &us, 1, NULL);
        ptmHistoryLearn(h, "f", failed, 1, failed, 1, cell);
    }
}

/* Runs store_writer id calls every, its output in dir; returns the "warm"
** count it printed. */
static inline long runWriter(const char *dir, const char *id, int calls, int every)
{
    char out[128], scalls[16], severy[16];
    snprintf(out, sizeof out, "%s/out.%s.%d", dir, id, rand());
    snprintf(scalls, sizeof scalls, "%d", calls);
    snprintf(severy, sizeof severy, "%d", every);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[] = {STORE_WRITER, (char *)id, scalls, severy, NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, STORE_WRITER, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "store_writer: status %d", status);
    FILE *f = fopen(out, "r");
    long warm = -1;
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "warm %ld", &warm), 1);
    fclose(f);
    return warm;
}

#endif
