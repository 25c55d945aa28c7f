/* Many threads running fork-mirrored transactions at once: no deadlock,
 * every append lands exactly once. */
#include <ptm.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define CALLS 25

static const char *path;

PTM_TRANSACTION(.transaction_id = "threads.append", .success_criteria = return == 0)
int append(int thread, int call)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%d %d\n", thread, call);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, line, (size_t)n) == n;
    return close(fd) == 0 && ok ? 0 : -1;
}

static void *run(void *arg)
{
    int id = (int)(long)arg;
    for (int i = 0; i < CALLS; i++)
        if (append(id, i) != 0)
            return (void *)1;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    path = argv[1];
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, run, (void *)i);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed += r != NULL;
    }
    struct ptm_stats s;
    ptm_stats_get(&s);
    printf("failed %d transactions %llu mirrors %llu\n", failed,
           (unsigned long long)s.transactions, (unsigned long long)s.mirrors);
    return failed != 0;
}
