/*
 * locks_bench: the cost of the flock probe's look at /proc/locks, as a
 * mirror pays it, for probes spaced as jobs are (a pause between two).
 *
 *   locks_bench [probes per block] [gap in microseconds ...]
 *
 * For each gap, blocks alternate ABAB (4 blocks each):
 *   read   open + read whole + close of /proc/locks, as every flock probe
 *          did before sim_locks.c (and as PTM_FLOCK_PROBE=sync still does);
 *   probe  ptmProbeFlockConflicts with the default limits: the reader
 *          thread reads, the probe waits for it at most its budget.
 * A child process holds a flock lock on a temporary file the whole time,
 * and each probe asks about that file: the answers are counted (held,
 * free, unknown, and the age of stale answers).  Reported per variant:
 * median, p90, p99 and max in ms, and how many took over 1 ms; for the
 * probe, how many times the file was read.
 *
 * Built against libptm's internals (shims/shims_int.h).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "median.h"
#include "shims/shims_int.h"

#define BLOCKS 4

static double nowMs(void)
{
    return (double)ptmOsNowNs() / 1e6;
}

static void readWhole(void)
{
    char buf[65536];
    int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (read(fd, buf, sizeof buf) > 0)
        continue;
    close(fd);
}

static void report(const char *name, double *v, int n)
{
    int over = 0;
    for (int i = 0; i < n; i++)
        over += v[i] > 1.0;
    double med = median(v, n); /* sorts v */
    printf("  %-6s median %7.3f  p90 %7.3f  p99 %7.3f  max %8.3f ms  >1ms %3d/%d\n", name, med,
           v[n * 9 / 10], v[n * 99 / 100], v[n - 1], over, n);
}

int main(int argc, char **argv)
{
    int per = argc > 1 ? atoi(argv[1]) : 100;
    char path[] = "/tmp/ptm_locks_bench_XXXXXX";
    int fd = mkstemp(path), ready[2];
    struct stat st;
    pid_t holder;
    char c;

    if (per < 10 || fd < 0 || fstat(fd, &st) != 0 || pipe(ready) != 0)
        return 1;
    holder = fork();
    if (holder == 0) {
        if (flock(fd, LOCK_EX) != 0 || write(ready[1], "k", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    if (read(ready[0], &c, 1) != 1)
        return 1;
    double *raw = malloc(sizeof(double) * (size_t)per * BLOCKS);
    double *prb = malloc(sizeof(double) * (size_t)per * BLOCKS);
    static const int dflt[] = {0, 1000, 5000, 20000};
    int ngaps = argc > 2 ? argc - 2 : 4;
    for (int g = 0; g < ngaps; g++) {
        int gap = argc > 2 ? atoi(argv[g + 2]) : dflt[g];
        int held = 0, freed = 0, unknown = 0, stale = 0, nr = 0, np = 0;
        double oldest = 0;
        uint64_t reads0 = ptmFlockProbeReads();
        for (int b = 0; b < 2 * BLOCKS; b++) {
            for (int i = 0; i < per; i++) {
                if (gap)
                    usleep((useconds_t)gap);
                double t = nowMs();
                if (b % 2 == 0) {
                    readWhole();
                    raw[nr++] = nowMs() - t;
                    continue;
                }
                pid_t who = 0;
                uint64_t age = 0;
                int n = ptmProbeFlockConflicts(st.st_dev, st.st_ino, 1, 0, 0, &who, &age);
                prb[np++] = nowMs() - t;
                held += n > 0;
                freed += n == 0;
                unknown += n < 0;
                stale += n >= 0 && age > 0;
                if ((double)age / 1e6 > oldest)
                    oldest = (double)age / 1e6;
            }
        }
        printf("gap %d us (%d probes per variant)\n", gap, per * BLOCKS);
        report("read", raw, nr);
        report("probe", prb, np);
        printf("  probe answers: held %d, free %d, unknown %d; from an older read %d (oldest "
               "%.1f ms); /proc/locks read %llu times\n",
               held, freed, unknown, stale, oldest,
               (unsigned long long)(ptmFlockProbeReads() - reads0));
    }
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    unlink(path);
    return 0;
}
