/*
 * ledger - a small bookkeeping program, and PTM's first example.
 *
 *     ledger DIR add ACCOUNT CENTS     append an entry to DIR/ledger.txt
 *     ledger DIR balance ACCOUNT       print an account's balance
 *
 * Exit status: 0 appended, 3 rejected (the entry went to rejected.txt),
 * 1 failed, 2 usage.
 *
 * Appending is a transaction.  Before each append, PTM runs a mirror of
 * ledger_append() on a read-only snapshot: the mirror reads the real ledger
 * (to compute the balance), but its fopen/fprintf/write calls go to PTM's
 * shims, which check and record them without writing.  When the mirror sees
 * a failed ptm_validate() check (a zero amount, an overdraft, a bad account
 * name) or a write that would fail, the Predictive Analysis Module scores
 * the call, and at probability 0.4 or more the call is diverted to
 * ledger_reject() before anything reaches ledger.txt.
 *
 * Built with a plain compiler (cc ledger.c), PTM_TRANSACTION vanishes and
 * ptm_validate() just returns its condition: the same program, without the
 * prediction.
 */
#include <ptm.h>

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Progress messages, written through a macro: in the mirror they are
 * redirected too, because ptmcc rewrites calls that come from macros. */
#define LOG(...) fprintf(stderr, "ledger: " __VA_ARGS__)

#define MAX_ACCOUNT 16
#define MAX_AMOUNT 1000000L /* cents in one entry */

/* valid_account: lowercase letters and digits, 1 to MAX_ACCOUNT of them. */
static int valid_account(const char *account)
{
    size_t n = strlen(account);
    if (n == 0 || n > MAX_ACCOUNT)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)account[i]) && !isdigit((unsigned char)account[i]))
            return 0;
    return 1;
}

/* balance: the sum of account's entries in dir/ledger.txt (0 if none). */
static long balance(const char *dir, const char *account)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ledger.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char name[64];
    long cents, sum = 0;
    while (fscanf(f, "%63s %ld", name, &cents) == 2)
        if (strcmp(name, account) == 0)
            sum += cents;
    fclose(f);
    return sum;
}

/* audit: one line to dir/audit.log with POSIX I/O (open, write, close). */
static int audit(const char *dir, const char *what, const char *account, long cents)
{
    char path[PATH_MAX], line[128];
    snprintf(path, sizeof path, "%s/audit.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return -1;
    int n = snprintf(line, sizeof line, "%ld %s %s %ld\n", (long)time(NULL), what, account, cents);
    int ok = write(fd, line, (size_t)n) == n;
    return close(fd) == 0 && ok ? 0 : -1;
}

/* ledger_reject: the alternative path.  The entry goes to
 * dir/rejected.txt; the ledger is not touched. */
int ledger_reject(const char *dir, const char *account, long cents)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rejected.txt", dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    fprintf(f, "%s %ld\n", account, cents);
    fclose(f);
    audit(dir, "reject", account, cents);
    printf("rejected: %s %+ld\n", account, cents);
    return 1;
}

PTM_TRANSACTION(
    .transaction_id    = "ledger.append",
    .alternative_paths = { ledger_reject },
    .success_criteria  = return >= 0,
    .retry             = { .max = 2, .backoff = exponential(1 ms, 20 ms) },
    .timeout           = 500 ms)
int ledger_append(const char *dir, const char *account, long cents)
{
    if (!ptm_validate(valid_account(account), "bad account name '%s'", account))
        return -1;
    if (!ptm_validate(cents != 0 && labs(cents) <= MAX_AMOUNT,
                      "amount %ld is zero or over the limit", cents))
        return -1;
    if (!ptm_validate(balance(dir, account) + cents >= 0, "%s would be overdrawn", account))
        return -1;

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ledger.txt", dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    LOG("%s %+ld\n", account, cents);
    fprintf(f, "%s %ld\n", account, cents);
    if (fclose(f) != 0)
        return -1;
    if (audit(dir, "append", account, cents) != 0)
        return -1;
    printf("ok: %s %+ld\n", account, cents);
    return 0;
}

static int usage(void)
{
    fputs("usage: ledger DIR add ACCOUNT CENTS\n"
          "       ledger DIR balance ACCOUNT\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[2], "add") == 0) {
        char *end;
        long cents = strtol(argv[4], &end, 10);
        if (*end)
            return usage();
        int rc = ledger_append(argv[1], argv[3], cents);
        return rc == 0 ? 0 : rc == 1 ? 3 : 1; /* 3: rejected */
    }
    if (argc == 4 && strcmp(argv[2], "balance") == 0) {
        printf("%s %ld\n", argv[3], balance(argv[1], argv[3]));
        return 0;
    }
    return usage();
}
