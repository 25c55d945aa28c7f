/* A service slower than its transaction's timeout: each call takes 20 ms
 * against a timeout of 5 ms.  A predicted timeout alone weighs 0.3 in the
 * seed's rules, under the default threshold (0.4): with no history the
 * primary runs, and overruns.  The model learns from those outcomes. */
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cached_answer(int x)
{
    printf("cached %d\n", x);
    return 0;
}

PTM_TRANSACTION(.transaction_id = "history.slow",
                .alternative_paths = { cached_answer },
                .success_criteria = return == 0,
                .timeout = 5 ms)
int slow_service(int x)
{
    usleep(20000);
    printf("served %d\n", x);
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    for (int i = 0; i < n; i++)
        slow_service(i);
    return 0;
}
