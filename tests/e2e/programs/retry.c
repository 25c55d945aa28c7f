/* A flaky primary: it fails its first `fail_times` attempts.  retry.max
 * bounds the attempts; success_criteria judges each one. */
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

static int calls;

PTM_TRANSACTION(.transaction_id = "retry.flaky",
                .success_criteria = return == 0,
                .retry = { .max = 3, .backoff = exponential(1 ms, 4 ms) },
                .mirror = off)
int flaky(int fail_times)
{
    calls++;
    return calls <= fail_times ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int rc = flaky(atoi(argv[1]));
    printf("rc %d calls %d\n", rc, calls);
    return 0;
}
