/* A write-heavy transaction on shared memory: transfers between accounts
 * that live in a global array, through pointers, with a heap-allocated
 * history list, a formatted note and a journal line, from 8 threads.
 *
 * ptmcc cannot prove the mirror's stores local, so under `auto` it runs
 * inline with every access through the write buffer.  The checks: every
 * balance and counter ends exactly as the primaries alone make it; under
 * PTM_DRY_RUN (mirrors only) nothing at all changes, and a thread that
 * watches the accounts without the lock never sees a value move.
 *
 * usage: bank JOURNAL */
#include <ptm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNTS 8
#define THREADS 8
#define CALLS 25
#define START 1000000

struct entry {
    long amount;
    struct entry *next;
};

struct account {
    long balance;
    int ops;
    unsigned overdrawn : 1;
    char note[32];
    struct entry *history;
};

static struct account accounts[ACCOUNTS];
static long transfers;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *journal;

static void record(struct account *a, long amount)
{
    struct entry *e = malloc(sizeof *e);
    if (!e)
        return;
    e->amount = amount;
    e->next = a->history;
    a->history = e;
    a->ops++;
}

PTM_TRANSACTION(.transaction_id = "bank.transfer", .success_criteria = return == 0)
int transfer(int from, int to, long amount)
{
    struct account *a = &accounts[from], *b = &accounts[to];
    pthread_mutex_lock(&mu);
    if (a->balance < amount) {
        a->overdrawn = 1;
        pthread_mutex_unlock(&mu);
        return -1;
    }
    a->balance -= amount;
    b->balance += amount;
    record(a, -amount);
    record(b, amount);
    snprintf(b->note, sizeof b->note, "from %d: %ld", from, amount);
    transfers++;
    int ok = fprintf(journal, "%d %d %ld\n", from, to, amount) > 0;
    pthread_mutex_unlock(&mu);
    return ok ? 0 : -1;
}

static atomic_int stop;
static atomic_long moved;

/* Sums what it sees, without the lock: only a primary may change it. */
static void *watch(void *arg)
{
    (void)arg;
    volatile struct account *v = accounts;
    long first = 0;
    for (int i = 0; i < ACCOUNTS; i++)
        first += v[i].balance + v[i].ops;
    while (!atomic_load(&stop)) {
        long now = 0;
        for (int i = 0; i < ACCOUNTS; i++)
            now += v[i].balance + v[i].ops + (v[i].note[0] != 0) + (v[i].history != NULL);
        if (now != first)
            atomic_fetch_add(&moved, 1);
    }
    return NULL;
}

static void *run(void *arg)
{
    int id = (int)(long)arg;
    for (int i = 0; i < CALLS; i++)
        if (transfer(id, (id + 1 + i % (ACCOUNTS - 1)) % ACCOUNTS, 10 + i) != 0)
            return (void *)1;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    journal = fopen(argv[1], "a");
    if (!journal)
        return 2;
    for (int i = 0; i < ACCOUNTS; i++)
        accounts[i].balance = START;
    int dry = getenv("PTM_DRY_RUN") != NULL;
    pthread_t w, t[THREADS];
    if (dry)
        pthread_create(&w, NULL, watch, NULL);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, run, (void *)i);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed += r != NULL;
    }
    if (dry) {
        atomic_store(&stop, 1);
        pthread_join(w, NULL);
    }
    fclose(journal);

    long sum = 0, ops = 0, entries = 0, notes = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        sum += accounts[i].balance;
        ops += accounts[i].ops;
        notes += accounts[i].note[0] != 0;
        for (struct entry *e = accounts[i].history; e; e = e->next)
            entries++;
    }
    /* Every account sends and receives the same amounts: it ends at START. */
    int exact = 1;
    for (int i = 0; i < ACCOUNTS; i++)
        exact &= accounts[i].balance == START && !accounts[i].overdrawn;
    printf("failed %d transfers %ld sum %ld exact %d ops %ld entries %ld notes %ld moved %ld\n",
           failed, transfers, sum, exact, ops, entries, notes, atomic_load(&moved));
    return 0;
}
