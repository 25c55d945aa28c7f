/*
** broker.c - resources for the primary's duration.
**
** A transaction's resource_requirements (`{ .memory = 64 MiB, .cpu = 2 }`)
** and the rules' resources = { memory = bytes, cpu = n } say what its
** primary needs.  For the primary's duration (all its attempts) the broker
** grants what the process may grant itself, and restores it afterwards:
**   memory  the soft RLIMIT_AS and RLIMIT_DATA are raised to their hard
**           limits (a hard limit below the request is recorded); with
**           PTM_CGROUP=dir, a delegated cgroup v2 directory that holds the
**           process, its memory.high is raised to the request when lower;
**   cpu     the calling thread's niceness, when positive, goes to 0 (which
**           needs CAP_SYS_NICE or RLIMIT_NICE); its CPU affinity, when it
**           has fewer CPUs than asked, is widened to every CPU; with
**           PTM_CGROUP, cpu.weight is raised to 100 per CPU asked (the
**           default weight is 100), at most 10000.
** What could not be granted, and why (EPERM, a hard limit, a missing
** cgroup file), is recorded for the trace's `resources`, never ignored.
**
** rlimits and the cgroup belong to the process, and threads run primaries
** at once: the first grant saves their values, later ones may raise them
** further, the last restore puts the saved values back.  Niceness and
** affinity are the calling thread's (Linux: per thread), saved per grant.
** Every system call goes through ptmOs, so tests inject EPERM.
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptm_int.h"

#define CPU_WEIGHT_DEFAULT 100
#define CPU_WEIGHT_MAX 10000

static const int memLimits[] = {RLIMIT_AS, RLIMIT_DATA};
static const char *const memLimitNames[] = {"RLIMIT_AS", "RLIMIT_DATA"};
#define N_MEM_LIMITS 2

/* The process-wide part: saved by the first grant, restored by the last. */
static struct {
    pthread_mutex_t mu;
    unsigned refs;
    struct rlimit saved[N_MEM_LIMITS];
    int changed[N_MEM_LIMITS];
    char high_saved[32], weight_saved[32];
    int high_changed, weight_changed;
} pw = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* pw's lock is a leaf. */
PTM_HOLD_ACROSS_FORK(pw, &pw.mu)

static pthread_once_t cgOnce = PTHREAD_ONCE_INIT;
static char cgDir[512]; /* PTM_CGROUP, "" when unset */

static void cgReadEnv(void)
{
    const char *s = getenv("PTM_CGROUP");
    if (s && *s && strlen(s) < sizeof cgDir)
        strcpy(cgDir, s);
}

static void PTM_PRINTF_LIKE(2, 3) noteGranted(struct ptmBrokerGrant *g, const char *fmt, ...)
{
    if (g->n_granted >= PTM_BROKER_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->granted[g->n_granted++], sizeof g->granted[0], fmt, ap);
    va_end(ap);
}

static void PTM_PRINTF_LIKE(2, 3) noteDenied(struct ptmBrokerGrant *g, const char *fmt, ...)
{
    if (g->n_denied >= PTM_BROKER_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->denied[g->n_denied++], sizeof g->denied[0], fmt, ap);
    va_end(ap);
}

/* --- the cgroup ----------------------------------------------------------- */

/* cgRead: the first line of cgDir/file into buf.  Returns 0 or an errno. */
static int cgRead(const char *file, char *buf, size_t cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", cgDir, file);
    int fd = ptmOs.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno ? errno : EIO;
    ssize_t n = ptmOs.read(fd, buf, cap - 1);
    int err = n < 0 ? (errno ? errno : EIO) : 0;
    ptmOs.close(fd);
    if (err)
        return err;
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

/* cgWrite: writes text to cgDir/file.  Returns 0 or an errno. */
static int cgWrite(const char *file, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", cgDir, file);
    int fd = ptmOs.open(path, O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno ? errno : EIO;
    size_t len = strlen(text);
    ssize_t n = ptmOs.write(fd, text, len);
    int err = n < 0 ? (errno ? errno : EIO) : (size_t)n != len ? EIO : 0;
    ptmOs.close(fd);
    return err;
}

/* cgRaise: raises cgDir/file to want when it is lower ("max" is never
** lower); the first raise saves the old text.  pw.mu held. */
static void cgRaise(struct ptmBrokerGrant *g, const char *file, uint64_t want, char *saved,
                    int *changed)
{
    char cur[32];
    int err = cgRead(file, cur, sizeof cur);
    if (err) {
        noteDenied(g, "PTM_CGROUP %s: %s", file, strerror(err));
        return;
    }
    if (strcmp(cur, "max") == 0)
        return;
    char *end;
    unsigned long long have = strtoull(cur, &end, 10);
    if (end == cur || *end) {
        noteDenied(g, "PTM_CGROUP %s: unreadable value \"%.20s\"", file, cur);
        return;
    }
    if (have >= want)
        return;
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, want);
    err = cgWrite(file, text);
    if (err) {
        noteDenied(g, "PTM_CGROUP %s %" PRIu64 ": %s", file, want, strerror(err));
        return;
    }
    if (!*changed) {
        snprintf(saved, 32, "%s", cur);
        *changed = 1;
    }
    noteGranted(g, "%s %" PRIu64, file, want);
}

/* --- the process-wide part ------------------------------------------------ */

/* raiseMemLimits: the soft memory rlimits up to their hard ones.  pw.mu held. */
static void raiseMemLimits(struct ptmBrokerGrant *g)
{
    for (int i = 0; i < N_MEM_LIMITS; i++) {
        struct rlimit rl;
        if (ptmOs.getrlimit(memLimits[i], &rl) != 0) {
            noteDenied(g, "memory: getrlimit %s: %s", memLimitNames[i], strerror(errno));
            continue;
        }
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < g->memory_bytes)
            noteDenied(g, "memory: %s hard limit %llu < %" PRIu64 " asked", memLimitNames[i],
                       (unsigned long long)rl.rlim_max, g->memory_bytes);
        if (rl.rlim_cur == rl.rlim_max)
            continue;
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (ptmOs.setrlimit(memLimits[i], &raised) != 0) {
            noteDenied(g, "memory: setrlimit %s: %s", memLimitNames[i], strerror(errno));
            continue;
        }
        if (!pw.changed[i]) {
            pw.saved[i] = rl;
            pw.changed[i] = 1;
        }
        noteGranted(g, "memory: %s soft limit raised to its hard limit", memLimitNames[i]);
    }
}

/* applyProcessWide: the rlimits and the cgroup, under pw's reference. */
static void applyProcessWide(struct ptmBrokerGrant *g)
{
    pthread_once(&cgOnce, cgReadEnv);
    pthread_mutex_lock(&pw.mu);
    pw.refs++;
    g->process_wide = 1;
    if (g->memory_bytes) {
        raiseMemLimits(g);
        if (cgDir[0])
            cgRaise(g, "memory.high", g->memory_bytes, pw.high_saved, &pw.high_changed);
    }
    if (g->cpus && cgDir[0]) {
        uint64_t w = (uint64_t)g->cpus * CPU_WEIGHT_DEFAULT;
        cgRaise(g, "cpu.weight", w > CPU_WEIGHT_MAX ? CPU_WEIGHT_MAX : w, pw.weight_saved,
                &pw.weight_changed);
    }
    pthread_mutex_unlock(&pw.mu);
}

/* restoreProcessWide: the last reference puts the saved values back. */
static void restoreProcessWide(struct ptmBrokerGrant *g)
{
    pthread_mutex_lock(&pw.mu);
    if (pw.refs > 0 && --pw.refs == 0) {
        for (int i = 0; i < N_MEM_LIMITS; i++) {
            if (pw.changed[i] && ptmOs.setrlimit(memLimits[i], &pw.saved[i]) != 0)
                noteDenied(g, "restore: setrlimit %s: %s", memLimitNames[i], strerror(errno));
            pw.changed[i] = 0;
        }
        int err;
        if (pw.high_changed && (err = cgWrite("memory.high", pw.high_saved)) != 0)
            noteDenied(g, "restore: PTM_CGROUP memory.high: %s", strerror(err));
        if (pw.weight_changed && (err = cgWrite("cpu.weight", pw.weight_saved)) != 0)
            noteDenied(g, "restore: PTM_CGROUP cpu.weight: %s", strerror(err));
        pw.high_changed = pw.weight_changed = 0;
    }
    g->process_wide = 0;
    pthread_mutex_unlock(&pw.mu);
}

/* --- the thread's part ---------------------------------------------------- */

/* applyNice: a niced thread runs its primary at niceness 0. */
static void applyNice(struct ptmBrokerGrant *g)
{
    int nice;
    if (ptmOs.getnice(&nice) != 0) {
        noteDenied(g, "cpu: getpriority: %s", strerror(errno));
        return;
    }
    if (nice <= 0)
        return;
    if (ptmOs.setnice(0) != 0) {
        noteDenied(g, "cpu: niceness %d kept: setpriority: %s", nice, strerror(errno));
        return;
    }
    g->nice_saved = nice;
    g->nice_changed = 1;
    noteGranted(g, "cpu: niceness %d -> 0", nice);
}

/* applyAffinity: a thread pinned to fewer CPUs than asked is let onto
** every CPU (the kernel keeps it within its cpuset). */
static void applyAffinity(struct ptmBrokerGrant *g)
{
    cpu_set_t cur;
    if (ptmOs.getaffinity(sizeof cur, &cur) != 0) {
        noteDenied(g, "cpu: sched_getaffinity: %s", strerror(errno));
        return;
    }
    unsigned have = (unsigned)CPU_COUNT(&cur);
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    unsigned ncpu = conf > 0 ? (conf < CPU_SETSIZE ? (unsigned)conf : CPU_SETSIZE) : have;
    if (have < g->cpus && have < ncpu) {
        cpu_set_t all;
        CPU_ZERO(&all);
        for (unsigned i = 0; i < ncpu; i++)
            CPU_SET(i, &all);
        if (ptmOs.setaffinity(sizeof all, &all) != 0) {
            noteDenied(g, "cpu: sched_setaffinity: %s", strerror(errno));
        } else {
            g->affinity_saved = cur;
            g->affinity_changed = 1;
            cpu_set_t now;
            if (ptmOs.getaffinity(sizeof now, &now) == 0)
                have = (unsigned)CPU_COUNT(&now);
            noteGranted(g, "cpu: affinity widened to %u CPUs", have);
        }
    }
    if (have < g->cpus)
        noteDenied(g, "cpu: %u CPUs available to the thread, %u asked", have, g->cpus);
}

/*
** ptmBrokerApply: grants what a primary needs for its duration, as far as
** the process may (see the top of this file).
**
** memory_bytes: memory the primary needs (0: none asked); cpus: CPUs (0:
** none).  OUT: *g: what was asked, granted and not granted
** (g->denied, with why), and what ptmBrokerRestore must put back.  Nothing
** is asked: g->active is 0, the rest of *g untouched, and nothing else is
** touched.  Never fails the call.
*/
void ptmBrokerApply(uint64_t memory_bytes, unsigned cpus, struct ptmBrokerGrant *g)
{
    if (!memory_bytes && !cpus) {
        /* Nothing asked: only the flag the restore and the trace read
        ** (the grant is kilobytes, cleared on every cheap call otherwise). */
        g->active = 0;
        return;
    }
    memset(g, 0, sizeof *g);
    g->memory_bytes = memory_bytes;
    g->cpus = cpus;
    g->active = 1;
    int saved = errno;
    applyProcessWide(g);
    if (cpus) {
        applyNice(g);
        applyAffinity(g);
    }
    errno = saved;
}

/*
** ptmBrokerRestore: puts back what ptmBrokerApply changed for g: the
** thread's niceness and affinity, and, with the last grant of the process,
** the rlimits and cgroup values.  A restore that fails is recorded in
** g->denied.  Safe to call twice, and on a grant with nothing asked;
** errno is kept.
*/
void ptmBrokerRestore(struct ptmBrokerGrant *g)
{
    if (!g->active)
        return;
    int saved = errno;
    if (g->nice_changed && ptmOs.setnice(g->nice_saved) != 0)
        noteDenied(g, "restore: niceness %d: %s", g->nice_saved, strerror(errno));
    g->nice_changed = 0;
    if (g->affinity_changed && ptmOs.setaffinity(sizeof g->affinity_saved, &g->affinity_saved) != 0)
        noteDenied(g, "restore: sched_setaffinity: %s", strerror(errno));
    g->affinity_changed = 0;
    if (g->process_wide)
        restoreProcessWide(g);
    errno = saved;
}
