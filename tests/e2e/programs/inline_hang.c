/* The primary waits for a file that a worker thread creates 500 ms later.
 * The mirror runs inline (its stores stay in its locals), where usleep
 * advances a virtual clock instead of sleeping: it polls in a tight loop
 * until the watchdog stops it at the 100 ms deadline -- a hang in an
 * inline mirror is an observation, and the host carries on. */
#include <ptm.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static const char *path;

static void *worker(void *arg)
{
    usleep(500000);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    return arg;
}

PTM_TRANSACTION(.transaction_id = "inline.wait", .timeout = 100 ms)
int wait_for(const char *file)
{
    while (access(file, F_OK) != 0)
        usleep(1000);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    path = argv[1];
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    int rc = wait_for(path);
    pthread_join(t, NULL);
    printf("done %d\n", rc);
    return 0;
}
