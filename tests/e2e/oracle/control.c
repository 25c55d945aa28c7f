/* Oracle: control flow: goto-based cleanup, nested loops with break and
 * continue, switch with fallthrough, and transactions that call each other
 * (a transaction called by a primary is a transaction of its own). */
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
int parse_digit(char c)
{
    switch (c) {
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return c - '0';
    case 'x':
    case 'X':
        return 0; /* 'x' marks an unknown digit, read as 0 */
    default:
        return 0;
    }
}

PTM_TRANSACTION(.success_criteria = return != -1)
long parse_number(const char *s)
{
    long v = 0;
    char *copy = malloc(strlen(s) + 1);
    if (!copy)
        goto fail;
    strcpy(copy, s);
    for (char *p = copy; *p; p++) {
        if (*p == '_')
            continue;
        if (*p == '.')
            break;
        v = v * 10 + parse_digit(*p);
    }
    free(copy);
    return v;
fail:
    return -1;
}

PTM_TRANSACTION()
int matrix_trace(int n)
{
    int m[4][4], trace = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            m[i][j] = i * 4 + j;
    for (int i = 0; i < n && i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            if (j < i)
                continue;
            if (j > i)
                break;
            trace += m[i][j];
        }
    }
    return trace;
}

PTM_TRANSACTION(.success_criteria = return == 0)
int process(const char *const *inputs, int n, long *total)
{
    int rc = 0;
    *total = 0;
    for (int i = 0; i < n; i++) {
        long v = parse_number(inputs[i]);
        if (v < 0) {
            rc = -1;
            goto out;
        }
        *total += v;
    }
    *total += matrix_trace(4);
out:
    return rc;
}

int main(void)
{
    const char *inputs[] = {"12", "1_000", "7.5", "x9", "42"};
    long total;
    int rc = process(inputs, 5, &total);
    printf("rc %d total %ld\n", rc, total);
    printf("trace %d %d\n", matrix_trace(2), matrix_trace(9));
    return rc;
}
