/* The primary waits for a worker thread.  In a fork mirror the worker does
 * not exist (a child is a copy of one thread), so the mirror spins until
 * its deadline: a hang in the mirror is an observation, and the host
 * carries on.  (Inline, the worker would be there: this is about fork.) */
#include <ptm.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static volatile int ready;

static void *worker(void *arg)
{
    usleep(300000); /* well after the mirror's fork, even under load */
    ready = 1;
    return arg;
}

PTM_TRANSACTION(.transaction_id = "hang.wait", .timeout = 100 ms, .mirror = fork)
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
