/*
 * bank - money transfers between accounts kept in SQLite, made by several
 * processes at once: PTM's example of a transaction on a database.
 *
 *     bank init     --db F [--accounts N] [--balance CENTS] [--journal wal|delete]
 *     bank run      --db F [--procs P] [--transfers N] [--overdraft-share X]
 *                   [--large-share X] [--seed S] [--journal wal|delete]
 *                   [--accounts N] [--balance CENTS] [--busy-ms MS]
 *                   [--synchronous full|normal] [--calls FILE] [--think-us US]
 *     bank transfer --db F [--repeat N] [--quiet] [--busy-ms MS] FROM TO CENTS ...
 *     bank hold     --db F --ms MS
 *     bank check    --db F
 *
 * `run` creates the database when it has no accounts yet (WAL unless
 * `--journal delete`), forks P writers that each make N random transfers
 * (a share of them overdrafts, a share over the per-transfer limit) on
 * their own connections, prints one JSON line of counters per writer and
 * one for all of them, then checks that money was conserved (--calls F:
 * each writer also writes one line per call to F.<pid>; --think-us N: each
 * writer spends N us of CPU before each call, as a mirror would: the
 * bench's experiments, bench/bank/holds.py).  `transfer`
 * makes the given transfers in turn (FROM TO CENTS triples, cycled until
 * --repeat calls were made) and prints one JSON line per call, or a
 * summary with --quiet.  `hold` keeps the database's write lock (BEGIN
 * IMMEDIATE) for MS milliseconds: a competing writer, for the demo and the
 * tests.  `check` verifies that sum(balance) + sum(pending) is the total
 * the database was created with and that no balance is negative (exit 1
 * when not).
 *
 * transfer() is the transaction.  Before each call PTM runs its mirror: the
 * same SQL, through PTM's SQLite shims, on an overlay of the database that
 * reads the real file, keeps its writes in memory and probes the locks
 * instead of taking them.  An overdraft fails the accounts' CHECK in the
 * mirror (SQLITE_CONSTRAINT_CHECK), and the rules (bank.lua) divert the
 * call to transfer_reject() before the primary touches the database; a
 * transfer over the limit fails the transfers log's CHECK, and goes to
 * transfer_queued(), which holds the money in `pending` for review.  A
 * write lock that another process holds is contention: the primary runs,
 * with more retries.
 *
 * Built by a plain compiler, PTM_TRANSACTION vanishes: the program then
 * wraps transfer() in the retry loop a programmer writes today
 * (plain_retry_loop), and handles its errors itself (settle) -- which the
 * PTM build also does for a failure its mirror did not predict.
 */
#include <ptm.h>
#include <sqlite3.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What transfer() and its alternatives return. */
enum bank_result {
    BANK_OK = 0,
    BANK_BUSY,        /* the database stayed locked by another writer */
    BANK_OVERDRAFT,   /* the debit failed the accounts' CHECK(balance >= 0) */
    BANK_OVER_LIMIT,  /* the transfers log's CHECK(cents <= LIMIT) failed */
    BANK_NO_ACCOUNT,  /* no such account */
    BANK_INVALID,     /* a non-positive amount, or from == to */
    BANK_ERROR,       /* any other SQLite error */
    BANK_QUEUED = 10, /* transfer_queued: the money is held in `pending` */
    BANK_REJECTED,    /* transfer_reject: nothing was done */
};

static const char *result_name(int rc)
{
    switch (rc) {
    case BANK_OK: return "ok";
    case BANK_BUSY: return "busy";
    case BANK_OVERDRAFT: return "overdraft";
    case BANK_OVER_LIMIT: return "over_limit";
    case BANK_NO_ACCOUNT: return "no_account";
    case BANK_INVALID: return "invalid";
    case BANK_QUEUED: return "queued";
    case BANK_REJECTED: return "rejected";
    default: return "error";
    }
}

#define LIMIT 100000L /* cents in one transfer; more waits in `pending` for review */

#define SCHEMA                                                                            \
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT NOT NULL,"                  \
    "  balance INTEGER NOT NULL CONSTRAINT overdraft CHECK(balance >= 0));"               \
    "CREATE TABLE transfers(id INTEGER PRIMARY KEY, from_id INTEGER NOT NULL,"            \
    "  to_id INTEGER NOT NULL,"                                                           \
    "  cents INTEGER NOT NULL CONSTRAINT over_limit CHECK(cents > 0 AND cents <= 100000),"\
    "  at INTEGER NOT NULL DEFAULT (unixepoch()));"                                       \
    "CREATE TABLE pending(id INTEGER PRIMARY KEY, from_id INTEGER NOT NULL,"              \
    "  to_id INTEGER NOT NULL, cents INTEGER NOT NULL CHECK(cents > 0),"                  \
    "  reason TEXT NOT NULL);"                                                            \
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"

#define DEBIT_SQL "UPDATE accounts SET balance = balance - ?1 WHERE id = ?2"
#define CREDIT_SQL "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2"
#define LOG_SQL "INSERT INTO transfers(from_id, to_id, cents) VALUES (?1, ?2, ?3)"
#define HOLD_SQL "INSERT INTO pending(from_id, to_id, cents, reason) VALUES (?1, ?2, ?3, ?4)"

/* ---- the transaction ---------------------------------------------------- */

/* step_once: prepares sql, binds its first n parameters to a, b, c (and the
 * text t to the fourth when given), steps it once.  Returns SQLITE_DONE,
 * or the extended code of the failure; sqlite3_changes() then says how many
 * rows it changed.  (It stores only into its own locals: ptmcc proves that,
 * and the mirror runs the clones as written, without a write buffer.) */
static int step_once(sqlite3 *db, const char *sql, int n, sqlite3_int64 a, sqlite3_int64 b,
                     sqlite3_int64 c, const char *t)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite3_extended_errcode(db);
    sqlite3_int64 v[3] = {a, b, c};
    for (int i = 0; i < n && i < 3 && rc == SQLITE_OK; i++)
        rc = sqlite3_bind_int64(st, i + 1, v[i]);
    if (rc == SQLITE_OK && t)
        rc = sqlite3_bind_text(st, 4, t, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            rc = sqlite3_extended_errcode(db);
    }
    sqlite3_finalize(st);
    return rc;
}

/* bank_code: what an SQLite failure means for a transfer; a constraint
 * means `constraint` (which CHECK depends on the statement). */
static int bank_code(sqlite3 *db, int rc, int constraint)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return BANK_BUSY;
    case SQLITE_CONSTRAINT:
        return constraint;
    default:
        fprintf(stderr, "bank: %s\n", sqlite3_errmsg(db));
        return BANK_ERROR;
    }
}

/* move_money: the debit and the credit of one transfer, inside the
 * caller's transaction.  BANK_OK or the failure. */
static int move_money(sqlite3 *db, int from, int to, long cents)
{
    int rc = step_once(db, DEBIT_SQL, 2, cents, from, 0, NULL);
    if (rc != SQLITE_DONE)
        return bank_code(db, rc, BANK_OVERDRAFT);
    if (sqlite3_changes(db) == 0)
        return BANK_NO_ACCOUNT;
    rc = step_once(db, CREDIT_SQL, 2, cents, to, 0, NULL);
    if (rc != SQLITE_DONE)
        return bank_code(db, rc, BANK_ERROR);
    return sqlite3_changes(db) == 0 ? BANK_NO_ACCOUNT : BANK_OK;
}

/* finish: commits when result is BANK_OK, else rolls back what the
 * transaction did.  The result, or the commit's failure. */
static int finish(sqlite3 *db, int result)
{
    if (result == BANK_OK) {
        int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            result = bank_code(db, rc, BANK_ERROR);
    }
    if (result != BANK_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return result;
}

/* transfer_reject: an alternative path.  The transfer is refused; the
 * database is not touched. */
int transfer_reject(sqlite3 *db, int from, int to, long cents)
{
    (void)db, (void)from, (void)to, (void)cents;
    return BANK_REJECTED;
}

/* transfer_queued: an alternative path.  The money leaves the sender now
 * and waits in `pending` (for a reviewer, who is not part of this
 * example): sum(balance) + sum(pending) stays the same. */
int transfer_queued(sqlite3 *db, int from, int to, long cents)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return bank_code(db, rc, BANK_ERROR);
    rc = step_once(db, DEBIT_SQL, 2, cents, from, 0, NULL);
    int result = rc != SQLITE_DONE          ? bank_code(db, rc, BANK_OVERDRAFT)
                 : sqlite3_changes(db) == 0 ? BANK_NO_ACCOUNT
                                            : BANK_OK;
    if (result == BANK_OK) {
        rc = step_once(db, HOLD_SQL, 3, from, to, cents, "over the per-transfer limit");
        if (rc != SQLITE_DONE)
            result = bank_code(db, rc, BANK_ERROR);
    }
    result = finish(db, result);
    return result == BANK_OK ? BANK_QUEUED : result;
}

PTM_TRANSACTION(
    .transaction_id    = "bank.transfer",
    .alternative_paths = { transfer_queued, transfer_reject },
    .success_criteria  = return == BANK_OK,
    .retry             = { .max = 3, .backoff = exponential(2 ms, 50 ms) },
    .timeout           = 500 ms,
    .rules             = "bank.lua")
int transfer(sqlite3 *db, int from, int to, long cents)
{
    if (!ptm_validate(cents > 0 && from != to, "bad transfer of %ld cents from %d to %d",
                      cents, from, to))
        return BANK_INVALID;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return bank_code(db, rc, BANK_ERROR);
    int result = move_money(db, from, to, cents);
    if (result == BANK_OK) {
        rc = step_once(db, LOG_SQL, 3, from, to, cents, NULL);
        if (rc != SQLITE_DONE)
            result = bank_code(db, rc, BANK_OVER_LIMIT);
    }
    return finish(db, result);
}

/* ---- what the program does around transfer() ---------------------------- */

#define PLAIN_RETRIES 10 /* the plain loop's retries on SQLITE_BUSY, as many as bank.lua's */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Per-process counters, in shared memory so that the parent of `run` can
 * add them up. */
struct counters {
    long transfers, good, overdrafts, large;
    long ok, attempts, primaries, primary_failures, rollbacks, commits;
    long diverted, queued, rejected, fallbacks, gave_up;
    long overdrafts_diverted, overdrafts_without_primary, good_diverted, large_diverted;
    double elapsed_us;
};

static int count_commit(void *arg)
{
    ((struct counters *)arg)->commits++;
    return 0;
}

static void count_rollback(void *arg)
{
    ((struct counters *)arg)->rollbacks++;
}

/* plain_retry_loop: what a program without PTM writes: transfer() again
 * while the database is busy, with a growing sleep.  OUT: *attempts. */
static int plain_retry_loop(int (*fn)(sqlite3 *, int, int, long), sqlite3 *db, int from, int to,
                            long cents, long *attempts)
{
    for (int attempt = 0;; attempt++) {
        ++*attempts;
        int rc = fn(db, from, to, cents);
        if (rc != BANK_BUSY || attempt == PLAIN_RETRIES)
            return rc;
        long ms = 2L << attempt;
        sleep_ms(ms > 50 ? 50 : ms);
    }
}

/* settle: what the program does with transfer()'s answer, in both builds:
 * an overdraft (or a bad transfer) is rejected, a transfer over the limit
 * is queued.  With PTM, the mirror usually saw it coming and the call was
 * diverted already; this catches what it did not predict. */
static int settle(sqlite3 *db, int rc, int from, int to, long cents, struct counters *c)
{
    long unused = 0;
    switch (rc) {
    case BANK_OVERDRAFT:
    case BANK_NO_ACCOUNT:
    case BANK_INVALID:
        c->fallbacks++;
        return transfer_reject(db, from, to, cents);
    case BANK_OVER_LIMIT:
        c->fallbacks++;
        return plain_retry_loop(transfer_queued, db, from, to, cents, &unused);
    default:
        return rc;
    }
}

/* one_transfer: transfer(), its retries and settle(), with the counters.
 * kind: 'g' good, 'o' overdraft, 'l' over the limit.  The result. */
static int one_transfer(sqlite3 *db, int from, int to, long cents, int kind, struct counters *c,
                        double *latency_us)
{
    double t0 = now_us();
    int rc;
#ifdef __PTMCC__
    struct ptm_stats before, after;
    ptm_stats_get(&before);
    rc = transfer(db, from, to, cents);
    ptm_stats_get(&after);
    long attempts = (long)(after.attempts - before.attempts);
    int diverted = after.diversions > before.diversions;
    c->primaries += (long)(after.primaries - before.primaries);
#else
    long attempts = 0;
    rc = plain_retry_loop(transfer, db, from, to, cents, &attempts);
    int diverted = 0;
    c->primaries++;
#endif
    c->attempts += attempts;
    c->ok += rc == BANK_OK;
    c->primary_failures += attempts - (rc == BANK_OK);
    c->diverted += diverted;
    if (kind == 'o') {
        c->overdrafts_diverted += diverted;
        c->overdrafts_without_primary += attempts == 0;
    }
    c->good_diverted += kind == 'g' && diverted;
    c->large_diverted += kind == 'l' && diverted;
    rc = settle(db, rc, from, to, cents, c);
    c->queued += rc == BANK_QUEUED;
    c->rejected += rc == BANK_REJECTED;
    c->gave_up += rc != BANK_OK && rc != BANK_QUEUED && rc != BANK_REJECTED;
    *latency_us = now_us() - t0;
    return rc;
}

/* ---- the database ---------------------------------------------------------- */

struct options {
    const char *db, *journal, *synchronous;
    const char *calls;          /* run --calls: each writer's calls to calls.<pid> */
    int think_us;               /* run --think-us: CPU spent between two calls */
    int procs, transfers, accounts, busy_ms, repeat, quiet, hold_ms;
    long balance;
    double overdraft_share, large_share;
    unsigned long seed;
};

static void die(const char *what, sqlite3 *db)
{
    fprintf(stderr, "bank: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
    exit(1);
}

/* open_db: the connection a process works on (never carried over a
 * fork), with the busy timeout the writers wait for a lock with. */
static sqlite3 *open_db(const struct options *o, int create)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(o->db, &db, flags, NULL) != SQLITE_OK)
        die(o->db, db);
    sqlite3_busy_timeout(db, o->busy_ms);
    if (o->synchronous) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA synchronous = %s", o->synchronous);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            die("PRAGMA synchronous", db);
    }
    return db;
}

/* try_query_int: the first column of sql's first row (arg bound to its
 * parameter, if any).  OUT: *v (-1 when no row).  SQLite's result code. */
static int try_query_int(sqlite3 *db, const char *sql, sqlite3_int64 arg, sqlite3_int64 *v)
{
    sqlite3_stmt *st = NULL;
    *v = -1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static sqlite3_int64 query_int(sqlite3 *db, const char *sql, sqlite3_int64 arg)
{
    sqlite3_int64 v;
    if (try_query_int(db, sql, arg, &v) != SQLITE_OK)
        die(sql, db);
    return v;
}

static int has_accounts(sqlite3 *db)
{
    return query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'accounts'", 0) > 0;
}

/* init_db: the schema, o->accounts accounts of o->balance cents, and the
 * total the check holds the database to.  Nothing when it has accounts. */
static void init_db(const struct options *o)
{
    sqlite3 *db = open_db(o, 1);
    if (has_accounts(db)) {
        sqlite3_close(db);
        return;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode = %s", o->journal);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN; " SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        die("creating the schema", db);
    for (int i = 1; i <= o->accounts; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO accounts VALUES (%d, 'owner%d', %ld)", i, i,
                 o->balance);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            die("creating the accounts", db);
    }
    snprintf(sql, sizeof sql, "INSERT INTO meta VALUES ('total', %ld); COMMIT",
             o->balance * o->accounts);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die("creating the accounts", db);
    sqlite3_close(db);
}

/* check_db: money conserved and no negative balance.  Prints one JSON
 * line; 0 when both hold, else 1. */
static int check_db(const struct options *o)
{
    sqlite3 *db = open_db(o, 0);
    sqlite3_int64 total = query_int(db, "SELECT value FROM meta WHERE key = 'total'", 0);
    sqlite3_int64 balances = query_int(db, "SELECT total(balance) FROM accounts", 0);
    sqlite3_int64 pending = query_int(db, "SELECT total(cents) FROM pending", 0);
    sqlite3_int64 negative = query_int(db, "SELECT count(*) FROM accounts WHERE balance < 0", 0);
    sqlite3_int64 logged = query_int(db, "SELECT count(*) FROM transfers", 0);
    sqlite3_int64 queued = query_int(db, "SELECT count(*) FROM pending", 0);
    sqlite3_close(db);
    int ok = balances + pending == total && negative == 0;
    printf("{\"check\": %s, \"total\": %lld, \"balances\": %lld, \"pending\": %lld, "
           "\"negative_balances\": %lld, \"transfers_logged\": %lld, \"pending_rows\": %lld}\n",
           ok ? "true" : "false", (long long)total, (long long)balances, (long long)pending,
           (long long)negative, (long long)logged, (long long)queued);
    return ok ? 0 : 1;
}

/* ---- run: P writers ------------------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static double uniform(uint64_t *s)
{
    return (next_random(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* percentile: the p-th percentile (nearest rank) of the n sorted values. */
static double percentile(const double *v, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p / 100.0 * n + 0.999999) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

#ifdef __PTMCC__
#define BUILD_NAME "ptm"
#else
#define BUILD_NAME "plain"
#endif

static void print_counters(const char *who, long pid, const struct counters *c, double *lat,
                           long n, const struct options *o)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("{\"%s\": %ld, \"build\": \"" BUILD_NAME "\", \"journal\": \"%s\", "
           "\"transfers\": %ld, \"good\": %ld, \"overdrafts\": %ld, \"large\": %ld, "
           "\"ok\": %ld, \"attempts\": %ld, \"primaries\": %ld, \"primary_failures\": %ld, "
           "\"rollbacks\": %ld, \"commits\": %ld, \"diverted\": %ld, \"queued\": %ld, "
           "\"rejected\": %ld, \"fallbacks\": %ld, \"gave_up\": %ld, "
           "\"overdrafts_diverted\": %ld, \"overdrafts_without_primary\": %ld, "
           "\"good_diverted\": %ld, \"large_diverted\": %ld, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"elapsed_s\": %.6f}\n",
           who, pid, o->journal, c->transfers, c->good, c->overdrafts, c->large, c->ok,
           c->attempts, c->primaries, c->primary_failures, c->rollbacks, c->commits, c->diverted,
           c->queued, c->rejected, c->fallbacks, c->gave_up, c->overdrafts_diverted,
           c->overdrafts_without_primary, c->good_diverted, c->large_diverted,
           percentile(lat, n, 50), percentile(lat, n, 99), n ? lat[n - 1] : 0.0,
           c->elapsed_us / 1e6);
    fflush(stdout);
}

/* think: spins for us microseconds of the writer's own work between two
 * calls (bench/bank: the time a mirror adds there, in a plain build). */
static void think(int us)
{
    double until = now_us() + us;
    while (us > 0 && now_us() < until)
        ;
}

/* write_calls: one line per call of this writer, "start_us latency_us kind
 * attempts result", to o->calls.<pid> (for bench/bank/holds.py's timeline). */
static void write_calls(const struct options *o, const double *start, const double *lat,
                        const char *kind, const long *attempts, const int *result, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%ld", o->calls, (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    for (int i = 0; i < n; i++)
        fprintf(f, "%.0f %.0f %c %ld %s\n", start[i], lat[i], kind[i], attempts[i],
                result_name(result[i]));
    fclose(f);
}

/* writer: one process's share of `run`: o->transfers random transfers. */
static void writer(const struct options *o, int index, struct counters *c, double *lat)
{
    size_t n = o->calls ? (size_t)o->transfers : 0;
    double *start = calloc(n + 1, sizeof *start);
    long *attempts = calloc(n + 1, sizeof *attempts);
    int *result = calloc(n + 1, sizeof *result);
    char *kinds = calloc(n + 1, 1);
    if (!start || !attempts || !result || !kinds)
        die("run", NULL);
    uint64_t s = (o->seed + 1) * 0x9E3779B97F4A7C15ULL + (uint64_t)index * 7919 + 1;
    sqlite3 *db = open_db(o, 0);
    sqlite3_commit_hook(db, count_commit, c);
    sqlite3_rollback_hook(db, count_rollback, c);
    double t0 = now_us();
    for (int i = 0; i < o->transfers; i++) {
        int from = 1 + (int)(next_random(&s) % (uint64_t)o->accounts);
        int to = 1 + (int)(next_random(&s) % (uint64_t)(o->accounts - 1));
        to += to >= from;
        double r = uniform(&s);
        int kind = r < o->overdraft_share ? 'o' : r < o->overdraft_share + o->large_share ? 'l' : 'g';
        long cents;
        if (kind == 'o') {
            /* Just over what the account holds; more than all the bank's
             * money when the read stays locked out (rollback mode: a
             * writer's EXCLUSIVE lock past the busy timeout). */
            sqlite3_int64 bal;
            if (try_query_int(db, "SELECT balance FROM accounts WHERE id = ?1", from, &bal) !=
                SQLITE_OK)
                bal = (sqlite3_int64)o->balance * o->accounts;
            cents = (long)bal + 20000 + (long)(next_random(&s) % 10000);
        } else if (kind == 'l') {
            cents = LIMIT + 1 + (long)(next_random(&s) % 1000);
        } else {
            cents = 1 + (long)(next_random(&s) % 5000);
        }
        c->transfers++;
        c->good += kind == 'g';
        c->overdrafts += kind == 'o';
        c->large += kind == 'l';
        think(o->think_us);
        long attempts_before = c->attempts;
        double started = now_us();
        int rc = one_transfer(db, from, to, cents, kind, c, &lat[i]);
        if (n) {
            start[i] = started;
            attempts[i] = c->attempts - attempts_before;
            result[i] = rc;
            kinds[i] = (char)kind;
        }
    }
    c->elapsed_us = now_us() - t0;
    sqlite3_close(db);
    if (n)
        write_calls(o, start, lat, kinds, attempts, result, (int)n);
    free(start);
    free(attempts);
    free(result);
    free(kinds);
}

static int run(const struct options *o)
{
    init_db(o);
    size_t lat_bytes = sizeof(double) * (size_t)o->procs * (size_t)o->transfers;
    size_t bytes = sizeof(struct counters) * (size_t)o->procs + lat_bytes;
    void *shared = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("bank: mmap");
        return 1;
    }
    struct counters *cs = shared;
    double *lat = (double *)(cs + o->procs);
    int start[2];
    if (pipe(start) != 0) {
        perror("bank: pipe");
        return 1;
    }
    fflush(stdout);
    pid_t *pids = calloc((size_t)o->procs, sizeof *pids);
    if (!pids)
        die("run", NULL);
    for (int i = 0; i < o->procs; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("bank: fork");
            return 1;
        }
        if (pids[i] == 0) {
            /* All writers start together, when the parent closes the pipe. */
            close(start[1]);
            char b;
            while (read(start[0], &b, 1) < 0 && errno == EINTR)
                ;
            writer(o, i, &cs[i], lat + (size_t)i * (size_t)o->transfers);
            print_counters("proc", (long)getpid(), &cs[i],
                           lat + (size_t)i * (size_t)o->transfers, o->transfers, o);
            free(pids);
            exit(0);
        }
    }
    close(start[0]);
    close(start[1]);
    int failed = 0;
    for (int i = 0; i < o->procs; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
            ;
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    free(pids);
    struct counters all = {0};
    for (int i = 0; i < o->procs; i++) {
        long *dst = &all.transfers, *src = &cs[i].transfers;
        for (size_t k = 0; k < offsetof(struct counters, elapsed_us) / sizeof(long); k++)
            dst[k] += src[k];
        if (cs[i].elapsed_us > all.elapsed_us)
            all.elapsed_us = cs[i].elapsed_us;
    }
    print_counters("procs", o->procs, &all, lat, (long)o->procs * o->transfers, o);
    munmap(shared, bytes);
    return check_db(o) | failed;
}

/* ---- transfer, hold ------------------------------------------------------ */

static int transfers_cmd(const struct options *o, char **args, int n)
{
    if (n == 0 || n % 3 != 0) {
        fputs("bank transfer: FROM TO CENTS triples expected\n", stderr);
        return 2;
    }
    sqlite3 *db = open_db(o, 0);
    struct counters c = {0};
    sqlite3_commit_hook(db, count_commit, &c);
    sqlite3_rollback_hook(db, count_rollback, &c);
    int calls = o->repeat > 0 ? o->repeat : n / 3;
    long results[BANK_REJECTED + 1] = {0};
    for (int i = 0; i < calls; i++) {
        char **t = args + (i % (n / 3)) * 3;
        int from = atoi(t[0]), to = atoi(t[1]);
        long cents = atol(t[2]);
        long attempts_before = c.attempts, fallbacks_before = c.fallbacks;
        double us, start_us = now_us();
        int rc = one_transfer(db, from, to, cents, 'g', &c, &us);
        results[rc >= 0 && rc <= BANK_REJECTED ? rc : BANK_ERROR]++;
        if (!o->quiet)
            printf("{\"from\": %d, \"to\": %d, \"cents\": %ld, \"result\": \"%s\", "
                   "\"attempts\": %ld, \"fallback\": %s, \"us\": %.1f, \"start_us\": %.0f}\n",
                   from, to, cents, result_name(rc), c.attempts - attempts_before,
                   c.fallbacks > fallbacks_before ? "true" : "false", us, start_us);
    }
    if (o->quiet) {
        printf("{\"calls\": %d", calls);
        for (int r = 0; r <= BANK_REJECTED; r++)
            if (results[r])
                printf(", \"%s\": %ld", result_name(r), results[r]);
        printf(", \"attempts\": %ld, \"rollbacks\": %ld, \"commits\": %ld}\n", c.attempts,
               c.rollbacks, c.commits);
    }
    sqlite3_close(db);
    return 0;
}

/* hold: a competing writer that keeps the write lock for o->hold_ms. */
static int hold(const struct options *o)
{
    sqlite3 *db = open_db(o, 0);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        die("BEGIN IMMEDIATE", db);
    printf("holding the write lock for %d ms\n", o->hold_ms);
    fflush(stdout);
    sleep_ms(o->hold_ms);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return 0;
}

/* ---- arguments ----------------------------------------------------------- */

static int usage(void)
{
    fputs("usage: bank init     --db F [--accounts N] [--balance CENTS] [--journal wal|delete]\n"
          "       bank run      --db F [--procs P] [--transfers N] [--overdraft-share X]\n"
          "                     [--large-share X] [--seed S] [--journal wal|delete]\n"
          "                     [--accounts N] [--balance CENTS] [--busy-ms MS]\n"
          "                     [--synchronous full|normal] [--calls FILE] [--think-us US]\n"
          "       bank transfer --db F [--repeat N] [--quiet] [--busy-ms MS] FROM TO CENTS ...\n"
          "       bank hold     --db F --ms MS\n"
          "       bank check    --db F\n",
          stderr);
    return 2;
}

/* parse_options: the options of argv[2..]; the first argument that is not
 * one is *rest.  0, or -1 on a bad option. */
static int parse_options(int argc, char **argv, struct options *o, int *rest)
{
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *k = argv[i] + 2;
        if (strcmp(k, "quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        char *end = NULL;
        if (strcmp(k, "db") == 0)
            o->db = v;
        else if (strcmp(k, "journal") == 0 && (!strcmp(v, "wal") || !strcmp(v, "delete")))
            o->journal = v;
        else if (strcmp(k, "calls") == 0)
            o->calls = v;
        else if (strcmp(k, "think-us") == 0)
            o->think_us = (int)strtol(v, &end, 10);
        else if (strcmp(k, "synchronous") == 0 && (!strcmp(v, "full") || !strcmp(v, "normal")))
            o->synchronous = v;
        else if (strcmp(k, "procs") == 0)
            o->procs = (int)strtol(v, &end, 10);
        else if (strcmp(k, "transfers") == 0)
            o->transfers = (int)strtol(v, &end, 10);
        else if (strcmp(k, "accounts") == 0)
            o->accounts = (int)strtol(v, &end, 10);
        else if (strcmp(k, "balance") == 0)
            o->balance = strtol(v, &end, 10);
        else if (strcmp(k, "busy-ms") == 0)
            o->busy_ms = (int)strtol(v, &end, 10);
        else if (strcmp(k, "repeat") == 0)
            o->repeat = (int)strtol(v, &end, 10);
        else if (strcmp(k, "ms") == 0)
            o->hold_ms = (int)strtol(v, &end, 10);
        else if (strcmp(k, "seed") == 0)
            o->seed = strtoul(v, &end, 10);
        else if (strcmp(k, "overdraft-share") == 0)
            o->overdraft_share = strtod(v, &end);
        else if (strcmp(k, "large-share") == 0)
            o->large_share = strtod(v, &end);
        else
            return -1;
        if (end && *end)
            return -1;
    }
    *rest = i;
    if (!o->db || o->procs < 1 || o->transfers < 0 || o->accounts < 2 || o->balance < 0 ||
        o->busy_ms < 0 || o->think_us < 0 || o->overdraft_share < 0 || o->large_share < 0 ||
        o->overdraft_share + o->large_share > 1)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {
        .journal = "wal", .procs = 3, .transfers = 200, .accounts = 20, .busy_ms = 50,
        .balance = 1000000, .overdraft_share = 0.10, .large_share = 0.02, .seed = 1,
    };
    int rest;
    if (argc < 2 || parse_options(argc, argv, &o, &rest) != 0)
        return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "transfer") == 0)
        return transfers_cmd(&o, argv + rest, argc - rest);
    if (rest != argc)
        return usage();
    if (strcmp(cmd, "init") == 0) {
        init_db(&o);
        return check_db(&o);
    }
    if (strcmp(cmd, "run") == 0)
        return run(&o);
    if (strcmp(cmd, "hold") == 0)
        return hold(&o);
    if (strcmp(cmd, "check") == 0)
        return check_db(&o);
    return usage();
}
