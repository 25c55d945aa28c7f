/* verify-audit.c: a helper in another translation unit, for
** verify-cross-tu.c.  It has no annotation: ptmcc passes it to the backend
** untouched, and a mirror that calls audit_record() runs it as it is. */
#include <stdio.h>

static void audit_emit(const char *what, int amount)
{
    FILE *f = stderr;
    fputs(what, f);
    fprintf(f, " %d\n", amount);
}

void audit_record(const char *what, int amount)
{
    if (amount != 0)
        audit_emit(what, amount);
}

/* Pure: a mirror may call it. */
int audit_fee(int amount)
{
    return amount / 100;
}

/* A comparison that logs: handed to qsort by a mirror, it prints. */
int audit_compare(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    audit_record("compare", x - y);
    return (x > y) - (x < y);
}
