/* The primary waits for a worker thread.  In the mirror (a fork child) the
 * worker does not exist, so the mirror spins until its deadline: a hang in
 * the mirror is an observation, and the host carries on. */
#include <ptm.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static volatile int ready;

static void *worker(void *arg)
{
    usleep(20000);
    ready = 1;
    return arg;
}

PTM_TRANSACTION(.transaction_id = "hang.wait", .timeout = 100 ms)
int wait_ready(int spin)
{
    while (spin && !ready)
        ;
    return 0;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    int rc = wait_ready(1);
    pthread_join(t, NULL);
    printf("done %d\n", rc);
    return 0;
}
