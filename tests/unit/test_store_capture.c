/*
** test_store_capture.c - a host that defines sqlite3_* functions of its
** own (as a program with the SQLite amalgamation compiled in does, maybe
** built with SQLITE_THREADSAFE=0), exported to shared objects
** (ENABLE_EXPORTS: -rdynamic): the history store's SQLite (store.c, a
** private dlopen'd copy) must never call them, neither for its own calls
** nor for the library's calls to itself.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

/* The stand-ins ignore their arguments. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* The host's "SQLite": every entry counts, and fails. */
static volatile int captured;

#define HOST_FN(ret, name, params, value) \
    ret name params;                      \
    ret name params                       \
    {                                     \
        captured++;                       \
        return value;                     \
    }
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
HOST_FN(int, sqlite3_open_v2, (const char *f, sqlite3 **db, int fl, const char *v), 14)
HOST_FN(int, sqlite3_open, (const char *f, sqlite3 **db), 14)
HOST_FN(int, sqlite3_exec, (sqlite3 * db, const char *sql, void *cb, void *a, char **e), 1)
HOST_FN(int, sqlite3_prepare_v2,
        (sqlite3 * db, const char *sql, int n, sqlite3_stmt **s, const char **t), 1)
HOST_FN(int, sqlite3_step, (sqlite3_stmt * s), 1)
HOST_FN(int, sqlite3_finalize, (sqlite3_stmt * s), 1)
HOST_FN(int, sqlite3_libversion_number, (void), 3000000)
HOST_FN(int, sqlite3_initialize, (void), 1)
HOST_FN(void *, sqlite3_malloc, (int n), NULL)
HOST_FN(void *, sqlite3_malloc64, (unsigned long long n), NULL)
HOST_FN(int, sqlite3_busy_timeout, (sqlite3 * db, int ms), 1)
HOST_FN(int, sqlite3_close_v2, (sqlite3 * db), 1)
HOST_FN(const char *, sqlite3_errmsg, (sqlite3 * db), "host")
HOST_FN(int, sqlite3_bind_text, (sqlite3_stmt * s, int i, const char *t, int n, void *d), 1)
HOST_FN(int, sqlite3_bind_int64, (sqlite3_stmt * s, int i, long long v), 1)
HOST_FN(long long, sqlite3_column_int64, (sqlite3_stmt * s, int i), -1)
HOST_FN(int, sqlite3_reset, (sqlite3_stmt * s), 1)
HOST_FN(int, sqlite3_vfs_register, (void *vfs, int dflt), 1)
HOST_FN(void *, sqlite3_vfs_find, (const char *name), NULL)

static char dir[64];

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

Test(capture, the_hosts_sqlite_is_never_called, .fini = cleanup)
{
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
    /* Sanitizers refuse RTLD_DEEPBIND: the library's calls to itself may
    ** then reach the host's (docs/DESIGN.md, "The history store"). */
    cr_skip_test("no RTLD_DEEPBIND under a sanitizer");
#endif
#endif
    /* The host's functions are real and reachable. */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2("x", &db, 0, NULL), 14);
    cr_assert_eq(captured, 1);
    captured = 0;

    snprintf(dir, sizeof dir, "/tmp/ptm_capture_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char file[128];
    snprintf(file, sizeof file, "%s/h.db", dir);
    setenv("PTM_HISTORY", file, 1);
    ptmStoreReset();
    ptmHistoryForget();

    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "capture.tx",
                            .function = "f", .threshold = 0.5};
    struct ptmHistory *h = ptmHistoryFor(&d);
    for (int i = 0; i < 20; i++) {
        uint64_t us = 500;
        ptmHistoryRecord(h, 1, 0, &us, 1, NULL);
        ptmHistoryLearn(h, "f", 0, 1, 0, 1, 2);
    }
    cr_assert_eq(ptmStoreFlush(), PTM_OK, "%s", ptmStoreState() ? ptmStoreState() : "");
    cr_assert_null(ptmStoreState());

    ptmStoreReset();
    ptmHistoryForget();
    struct ptmHistData data;
    cr_assert_eq(ptmStoreLoad("capture.tx", &data), 1);
    cr_assert_eq(data.calls, 20);
    cr_assert_eq(data.model.n[2], 20);
    cr_assert_eq(captured, 0, "the host's sqlite3_* were called %d times", captured);
}
