/*
** test_fork.c - the fork executor (runtime/exec_fork.c).
**
** Each test builds a struct ptm_tx_desc by hand around a mirror thunk, as
** ptmcc would, runs it with ptmForkRun, and checks the status, the frame
** handed back, the events, and that the world outside is unchanged.
*/
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "ptm_int.h"

/* Under valgrind the filter fails denied calls with EPERM but cannot
** record them (runtime/sandbox.c, filterAction): no events, no count. */
#define DENIALS_RECORDED (!RUNNING_ON_VALGRIND)

struct frame {
    int in;
    int out;
    long ret;                    /* a raw call's result, in the mirror */
    int err;                     /* and its errno */
    char path[128];
    volatile unsigned char *mem; /* host memory the mirror touches */
};

static struct ptmRing *ring;
static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/ptm-fork-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(ptmRingCreate(64, &ring), PTM_OK);
}

static void teardown(void)
{
    char cmd[128];
    ptmOsReset();
    ptmRingDestroy(ring);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(fork, .init = setup, .fini = teardown, .timeout = 30);

static struct ptm_tx_desc descFor(ptm_thunk mirror, size_t frame_size)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "test.fork",
        .function = "f",
        .file = __FILE__,
        .frame_size = frame_size,
        .mirror = mirror,
        .mirror_mode = PTM_MIRROR_FORK,
    };
}

static int run(ptm_thunk mirror, struct frame *fr, uint64_t deadline_ns,
               struct ptmMirrorRun *r)
{
    struct ptm_tx_desc d = descFor(mirror, sizeof *fr);
    return ptmForkRun(&d, fr, deadline_ns, ring, r);
}

#define SECOND 1000000000ull
#define MS 1000000ull

static void writeFile(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static const char *readFile(const char *path)
{
    static char buf[512];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* -------------------------------------------------------------- returns */

static void mirrorReturns(void *p)
{
    struct frame *f = p;
    FILE *fp;

    f->out = f->in * 2;
    ptm_shim_printf("in=%d\n", f->in);
    ptm_shim_validate(f->in < 10, "in %d is too big", f->in);
    fp = ptm_shim_fopen(f->path, "a");
    if (fp) {
        ptm_shim_fprintf(fp, "appended by the mirror\n");
        ptm_shim_fclose(fp);
    }
}

Test(fork, a_returning_mirror_hands_back_its_frame_and_events)
{
    struct frame fr = {.in = 21};
    struct ptmMirrorRun r;

    snprintf(fr.path, sizeof fr.path, "%s/log", dir);
    writeFile(fr.path, "original\n");
    cr_assert_eq(run(mirrorReturns, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s: %s", ptmStatusName(r.status), r.error);
    cr_assert_eq(r.executor, PTM_EXEC_FORK);
    cr_assert_eq(r.ring, ring);
    cr_assert(r.frame_valid);
    cr_assert_eq(ring->frame_len, sizeof fr);
    cr_assert_eq(((struct frame *)ring->frame)->out, 42);
    cr_assert_eq(fr.out, 0, "the caller's frame is untouched: the mirror ran on a copy");
    cr_assert_eq(r.denied, 0);
    cr_assert_gt(r.duration_ns, 0);

    cr_assert_eq(ptmRingCount(ring), 5);
    cr_assert_eq(ring->ev[0].call, PTM_CALL_printf);
    cr_assert_eq(ring->ev[0].bytes, 6);
    cr_assert_eq(ring->ev[1].kind, PTM_EV_VALIDATE);
    cr_assert_str_eq(ring->ev[1].target, "in 21 is too big");
    cr_assert_eq(ring->ev[2].call, PTM_CALL_fopen);
    cr_assert_eq(ring->ev[3].call, PTM_CALL_fprintf);
    cr_assert_eq(ring->ev[3].bytes, 23);
    cr_assert_eq(ring->ev[4].call, PTM_CALL_fclose);
    cr_assert_eq(ring->ev[4].err, 0);
    cr_assert_str_eq(readFile(fr.path), "original\n");
}

static void mirrorNothing(void *p)
{
    (void)p;
}

Test(fork, the_ring_is_reset_before_each_run)
{
    struct frame fr = {.in = 1};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorReturns, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_gt(ptmRingCount(ring), 0);
    cr_assert_eq(run(mirrorNothing, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_eq(ptmRingCount(ring), 0);
}

/* -------------------------------------------------------------- crashes */

/* A page nothing may touch: a store there faults even in a sanitized build
** (UBSan would catch a NULL store first, and exit instead). */
static int *noAccess(void)
{
    static void *page;
    if (!page)
        page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return page;
}

static void mirrorSegfaults(void *p)
{
    int *volatile nowhere = noAccess();
    (void)p;
    *nowhere = 1;
}

Test(fork, a_segfault_is_a_crash)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorSegfaults, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(r.signo, SIGSEGV, "signal %d exit %d denied %u", r.signo, r.exit_code, r.denied);
    cr_assert_not(r.frame_valid);
}

static void mirrorAborts(void *p)
{
    (void)p;
    abort();
}

Test(fork, abort_is_a_crash_with_sigabrt)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorAborts, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(r.signo, SIGABRT, "signal %d: a signal to itself is allowed", r.signo);
    cr_assert_eq(r.denied, 0);
}

/* AddressSanitizer, as gcc and clang each announce it. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void mirrorExits(void *p)
{
    (void)p;
    exit(3);
}

Test(fork, exit_is_a_crash_with_its_code)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorExits, &fr, 5 * SECOND, &r), PTM_OK);
#if defined(UNDER_ASAN)
    /* exit() runs LeakSanitizer's check, whose thread (clone) is denied
    ** while it blocks every signal: the kernel then kills with SIGSYS,
    ** and the sandbox, not the mirror, ended it. */
    if (r.signo == SIGSYS) {
        cr_assert_eq(r.status, PTM_MS_DENIED);
        return;
    }
#endif
    cr_assert_eq(r.status, PTM_MS_CRASHED);
    cr_assert_eq(r.signo, 0, "signal %d exit %d denied %u", r.signo, r.exit_code, r.denied);
    cr_assert_eq(r.exit_code, 3);
    cr_assert_not(r.frame_valid);
}

/* A host SIGSEGV handler, which must not run in the mirror: it would flag
** a shared page and leave with exit code 42. */
static volatile int *handlerRan;

static void hostSegvHandler(int sig)
{
    (void)sig;
    *handlerRan = 1;
    _exit(42);
}

Test(fork, host_crash_handlers_do_not_run_in_the_mirror)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    struct sigaction sa = {.sa_handler = hostSegvHandler};

    handlerRan = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)handlerRan, MAP_FAILED);
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    cr_assert_eq(run(mirrorSegfaults, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED);
    cr_assert_eq(r.signo, SIGSEGV, "signal %d exit %d denied %u", r.signo, r.exit_code, r.denied);
    cr_assert_eq(*handlerRan, 0, "the host's SIGSEGV handler ran in the mirror");
    signal(SIGSEGV, SIG_DFL);
}

static void mirrorRaises(void *p)
{
    (void)p;
    signal(SIGUSR1, SIG_DFL);
    raise(SIGUSR1);
}

Test(fork, raise_to_itself_is_not_denied)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorRaises, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED);
    cr_assert_eq(r.signo, SIGUSR1);
}

/* -------------------------------------------------------------- timeout */

static void mirrorLoops(void *p)
{
    volatile unsigned long n = 0;
    (void)p;
    for (;;)
        n++;
}

Test(fork, a_hang_is_killed_at_the_deadline)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    uint64_t t0 = ptmOsNowNs(), took;

    cr_assert_eq(run(mirrorLoops, &fr, 100 * MS, &r), PTM_OK);
    took = ptmOsNowNs() - t0;
    cr_assert_eq(r.status, PTM_MS_TIMEOUT, "status %s", ptmStatusName(r.status));
    cr_assert_eq(r.signo, SIGKILL);
    cr_assert_geq(took, 100 * MS);
    cr_assert_lt(took, 600 * MS, "took %.1f ms", took / 1e6);
    cr_assert_not(r.frame_valid);
}

/* The deadline is the child's own timer sending SIGKILL: blocking every
** signal, or trying to disarm it, changes nothing.  (SIGSYS stays open: a
** denied call with SIGSYS blocked kills the mirror by SIGSYS, a denial.) */
#if defined(UNDER_ASAN)
#define SANITIZED_FORK 1
#else
#define SANITIZED_FORK 0
#endif

static void mirrorHidesFromItsDeadline(void *p)
{
    struct frame *f = p;
    sigset_t all;

    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    sigprocmask(SIG_BLOCK, &all, NULL);
    signal(SIGALRM, SIG_IGN);
    errno = 0;
    f->ret = syscall(SYS_timer_delete, 0);
    f->err = errno;
    mirrorLoops(p);
}

Test(fork, the_mirror_cannot_escape_its_deadline)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    /* AddressSanitizer's fork alone can take 100 ms on a busy machine. */
    uint64_t deadline = SANITIZED_FORK ? 500 * MS : 100 * MS;
    uint64_t t0 = ptmOsNowNs(), took;

    cr_assert_eq(run(mirrorHidesFromItsDeadline, &fr, deadline, &r), PTM_OK);
    took = ptmOsNowNs() - t0;
    cr_assert_eq(r.status, PTM_MS_TIMEOUT, "status %s", ptmStatusName(r.status));
    cr_assert_lt(took, deadline + 500 * MS, "took %.1f ms", took / 1e6);
    if (DENIALS_RECORDED) {
        cr_assert_eq(r.denied, 1, "timer_delete of the deadline is denied");
        cr_assert_str_eq(ptmCallName(ring->ev[0].call), "timer_delete");
    }
}

/* A mirror's own timers are its business. */
static void mirrorUsesATimer(void *p)
{
    struct frame *f = p;
    struct sigevent sev = {.sigev_notify = SIGEV_NONE};
    struct itimerspec in1s = {.it_value = {1, 0}};
    timer_t t;

    f->out = timer_create(CLOCK_MONOTONIC, &sev, &t) == 0 &&
             timer_settime(t, 0, &in1s, NULL) == 0 && timer_delete(t) == 0;
}

Test(fork, a_mirror_may_use_timers_of_its_own)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorUsesATimer, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(((struct frame *)ring->frame)->out, 1);
}

/* --------------------------------------------------------------- denied */

static void mirrorRawWrite(void *p)
{
    struct frame *f = p;
    int fd = f->in;

    errno = 0;
    f->ret = write(fd, "junk", 4);
    f->err = errno;
}

Test(fork, a_raw_write_is_denied)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    struct ptmEvent *e;
    char want[16];
    struct stat st;

    snprintf(fr.path, sizeof fr.path, "%s/target", dir);
    writeFile(fr.path, "intact");
    fr.in = open(fr.path, O_WRONLY | O_APPEND);
    cr_assert_geq(fr.in, 0);
    cr_assert_eq(run(mirrorRawWrite, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert(r.frame_valid, "a denied mirror still returned");
    cr_assert_eq(((struct frame *)ring->frame)->ret, -1);
    cr_assert_eq(((struct frame *)ring->frame)->err, EPERM);
    cr_assert_str_eq(readFile(fr.path), "intact");
    if (!DENIALS_RECORDED)
        return;
    cr_assert_eq(r.status, PTM_MS_DENIED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(r.denied, 1);
    cr_assert_eq(ptmRingCount(ring), 1);
    e = &ring->ev[0];
    cr_assert_eq(e->kind, PTM_EV_DENIED);
    cr_assert_str_eq(ptmCallName(e->call), "write");
    cr_assert_eq(e->err, EPERM);
    snprintf(want, sizeof want, "fd %d", fr.in);
    cr_assert_str_eq(e->target, want);
    cr_assert_eq(fstat(fr.in, &st), 0);
    cr_assert_eq(st.st_size, 6);
    cr_assert_str_eq(readFile(fr.path), "intact");
    close(fr.in);
}

static void mirrorRawOpen(void *p)
{
    struct frame *f = p;

    errno = 0;
    f->ret = open(f->path, O_WRONLY | O_TRUNC);
    f->err = errno;
    if (f->ret >= 0)
        close((int)f->ret);
    /* Reading is allowed, and sees the real data. */
    f->out = open(f->path, O_RDONLY) >= 0;
}

Test(fork, a_raw_open_for_writing_is_denied)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    struct ptmEvent *e;
    const char *name;

    snprintf(fr.path, sizeof fr.path, "%s/keep", dir);
    writeFile(fr.path, "do not truncate");
    cr_assert_eq(run(mirrorRawOpen, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(((struct frame *)ring->frame)->ret, -1);
    cr_assert_eq(((struct frame *)ring->frame)->err, EPERM);
    cr_assert_eq(((struct frame *)ring->frame)->out, 1, "read-only open allowed");
    cr_assert_str_eq(readFile(fr.path), "do not truncate");
    if (!DENIALS_RECORDED)
        return;
    cr_assert_eq(r.status, PTM_MS_DENIED);
    cr_assert_eq(r.denied, 1);
    e = &ring->ev[0];
    cr_assert_eq(e->kind, PTM_EV_DENIED);
    name = ptmCallName(e->call);
    cr_assert(strcmp(name, "openat") == 0 || strcmp(name, "open") == 0, "call %s", name);
    cr_assert_str_eq(e->target, fr.path);
    cr_assert_str_eq(readFile(fr.path), "do not truncate");
}

/* What the filter must stop: one attempt per mirror, each expected to get
** EPERM and to leave one PTM_EV_DENIED event naming its system call.  (One
** denial per child also keeps valgrind 3.19 happy: a second SIGSYS in one
** child trips its m_signals.c:2545 assertion.) */
static long tryUnlink(struct frame *f) { return unlink(f->path); }
static long tryRename(struct frame *f)
{
    char other[160];
    snprintf(other, sizeof other, "%s.moved", f->path);
    return rename(f->path, other);
}
static long tryMkdir(struct frame *f)
{
    char other[160];
    snprintf(other, sizeof other, "%s.d", f->path);
    return mkdir(other, 0755);
}
static long tryChmod(struct frame *f) { return chmod(f->path, 0600); }
static long trySymlink(struct frame *f)
{
    char other[160];
    snprintf(other, sizeof other, "%s.lnk", f->path);
    return symlink(f->path, other);
}
static long tryTruncate(struct frame *f) { return truncate(f->path, 0); }
static long tryCreat(struct frame *f)
{
    char other[160];
    snprintf(other, sizeof other, "%s.new", f->path);
    return creat(other, 0644);
}
static long tryFork(struct frame *f)
{
    pid_t pid;
    (void)f;
    if ((pid = fork()) == 0)
        _exit(0);
    return pid;
}
static long tryExec(struct frame *f)
{
    (void)f;
    return execl("/bin/true", "true", (char *)NULL);
}
static long tryKill(struct frame *f)
{
    (void)f;
    return kill(getppid(), SIGCONT);
}
/* The descriptor-based attempts use the read-only descriptor in f->in. */
static long tryMmapShared(struct frame *f)
{
    return mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f->in, 0) == MAP_FAILED
               ? -1 : 0;
}
static long tryFtruncate(struct frame *f) { return ftruncate(f->in, 0); }
static long trySetfl(struct frame *f) { return fcntl(f->in, F_SETFL, O_NONBLOCK); }
/* The kernel reads an int argument from the low half of its register: so
** does the filter, or a high bit would step around a row. */
static long trySetflHigh(struct frame *f)
{
    return syscall(SYS_fcntl, f->in, (long)(F_SETFL | (1ull << 32)), (long)O_NONBLOCK);
}
static long tryOpenHigh(struct frame *f)
{
    return syscall(SYS_openat, (long)AT_FDCWD, f->path, (long)(O_WRONLY | (1ull << 40)), 0L);
}
static long tryFlock(struct frame *f) { return flock(f->in, LOCK_EX); }
static long tryFutimens(struct frame *f) { return futimens(f->in, NULL); }
static long tryFsync(struct frame *f) { return fsync(f->in); }
static long tryPwrite(struct frame *f) { return pwrite(f->in, "x", 1, 0); }
static long tryWritev(struct frame *f)
{
    struct iovec v = {"x", 1};
    return writev(f->in, &v, 1);
}
static long tryConnect(struct frame *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    (void)f;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return s < 0 ? -2 : connect(s, (struct sockaddr *)&a, sizeof a);
}
static long trySendto(struct frame *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    (void)f;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return s < 0 ? -2 : sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
}

static const struct attempt {
    const char *what;
    long (*call)(struct frame *);
    const char *syscalls;        /* the names the event may carry, "|"-separated */
} attempts[] = {
    {"unlink", tryUnlink, "|unlink|"},       {"rename", tryRename, "|rename|"},
    {"mkdir", tryMkdir, "|mkdir|"},          {"chmod", tryChmod, "|chmod|"},
    {"symlink", trySymlink, "|symlink|"},    {"truncate", tryTruncate, "|truncate|"},
    {"creat", tryCreat, "|creat|"},          {"fork", tryFork, "|clone|clone3|fork|"},
    {"exec", tryExec, "|execve|"},           {"kill parent", tryKill, "|kill|"},
    {"mmap shared", tryMmapShared, "|mmap|"}, {"ftruncate", tryFtruncate, "|ftruncate|"},
    {"F_SETFL", trySetfl, "|fcntl|"},        {"flock", tryFlock, "|flock|"},
    {"futimens", tryFutimens, "|utimensat|"}, {"fsync", tryFsync, "|fsync|"},
    {"pwrite", tryPwrite, "|pwrite64|"},     {"writev", tryWritev, "|writev|"},
    {"connect", tryConnect, "|connect|"},    {"sendto", trySendto, "|sendto|"},
    {"F_SETFL, high bits", trySetflHigh, "|fcntl|"},
    {"open O_WRONLY, high bits", tryOpenHigh, "|openat|"},
};
static const struct attempt *current;

static int entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void mirrorAttempt(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = current->call(f);
    f->err = errno;
}

Test(fork, the_filter_stops_side_effects)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    struct stat before, after;
    struct frame *got;
    char name[40];
    unsigned i;

    snprintf(fr.path, sizeof fr.path, "%s/precious", dir);
    writeFile(fr.path, "data");
    cr_assert_eq(stat(fr.path, &before), 0);
    fr.in = open(fr.path, O_RDONLY);
    cr_assert_geq(fr.in, 0);
    for (i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        current = &attempts[i];
        /* valgrind gives up when its own execve fails ("Cannot continue"). */
        if (RUNNING_ON_VALGRIND && current->call == tryExec)
            continue;
        cr_assert_eq(run(mirrorAttempt, &fr, 5 * SECOND, &r), PTM_OK);
        got = (struct frame *)ring->frame;
        cr_assert(r.frame_valid, "%s: status %s", current->what, ptmStatusName(r.status));
        cr_assert_eq(got->ret, -1, "%s: returned %ld", current->what, got->ret);
        cr_assert_eq(got->err, EPERM, "%s: errno %d", current->what, got->err);
        if (!DENIALS_RECORDED)
            continue;
        cr_assert_eq(r.status, PTM_MS_DENIED, "%s: status %s", current->what,
                     ptmStatusName(r.status));
        cr_assert_eq(r.denied, 1, "%s: %u denials", current->what, r.denied);
        cr_assert_eq(ring->ev[0].kind, PTM_EV_DENIED);
        snprintf(name, sizeof name, "|%s|", ptmCallName(ring->ev[0].call));
        cr_assert_not_null(strstr(current->syscalls, name), "%s: event %s", current->what,
                           name);
    }
    close(fr.in);
    cr_assert_eq(stat(fr.path, &after), 0);
    cr_assert_str_eq(readFile(fr.path), "data");
    cr_assert_eq(after.st_mode, before.st_mode);
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    cr_assert_eq(after.st_atim.tv_sec, before.st_atim.tv_sec);
    cr_assert_eq(after.st_nlink, 1);
    cr_assert_eq(entries(dir), 1, "nothing was created, moved or linked next to it");
}

static void mirrorInspectsItself(void *p)
{
    struct frame *f = p;
    struct rlimit core;
    f->out = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
    f->out |= (getrlimit(RLIMIT_CORE, &core) == 0 && core.rlim_cur == 0) << 1;
    f->out |= (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) << 2;
    f->out |= (signal(SIGSEGV, SIG_DFL) == SIG_DFL) << 3;
}

Test(fork, the_child_cannot_dump_core)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorInspectsItself, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_eq(((struct frame *)ring->frame)->out, 0xf, "bits %#x",
                 ((struct frame *)ring->frame)->out);
}

/* --------------------------------------------------------- fault paths */

static pid_t failingFork(void)
{
    errno = EAGAIN;
    return -1;
}

Test(fork, fork_failure_is_failed)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    ptmOs.fork = failingFork;
    cr_assert_eq(run(mirrorReturns, &fr, SECOND, &r), PTM_ERROR);
    cr_assert_eq(r.status, PTM_MS_FAILED);
    cr_assert_not(r.frame_valid);
    cr_assert_not_null(strstr(r.error, "fork"), "error: %s", r.error);
    cr_assert_not_null(strstr(r.error, strerror(EAGAIN)), "error: %s", r.error);
}

Test(fork, bad_arguments)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    struct ptm_tx_desc d = descFor(NULL, sizeof fr);

    cr_assert_eq(ptmForkRun(&d, &fr, SECOND, ring, &r), PTM_EINVAL);
    cr_assert_eq(r.status, PTM_MS_FAILED);
    d = descFor(mirrorNothing, sizeof fr);
    cr_assert_eq(ptmForkRun(&d, &fr, SECOND, NULL, &r), PTM_EINVAL);
}

static int interruptedWaits;

static pid_t eintrWaitpid(pid_t pid, int *st, int options)
{
    if (interruptedWaits > 0) {
        interruptedWaits--;
        errno = EINTR;
        return -1;
    }
    return waitpid(pid, st, options);
}

Test(fork, eintr_from_waitpid_is_retried)
{
    struct frame fr = {.in = 5};
    struct ptmMirrorRun r;

    ptmOs.waitpid = eintrWaitpid;
    interruptedWaits = 4;
    cr_assert_eq(run(mirrorReturns, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_eq(((struct frame *)ring->frame)->out, 10);
    cr_assert_eq(interruptedWaits, 0);
}

Test(fork, a_host_that_ignores_sigchld_still_gets_a_verdict)
{
    struct frame fr = {.in = 3};
    struct ptmMirrorRun r;

    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel: ECHILD */
    cr_assert_eq(run(mirrorReturns, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s", ptmStatusName(r.status));
    cr_assert(r.frame_valid);
    cr_assert_eq(run(mirrorSegfaults, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED);
    cr_assert_eq(run(mirrorLoops, &fr, 50 * MS, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_TIMEOUT, "status %s", ptmStatusName(r.status));
    signal(SIGCHLD, SIG_DFL);
}

static void mirrorBigFrame(void *p)
{
    ((unsigned char *)p)[0] = 0xab;
}

/* success_criteria on a big frame's last byte, which the mirror sets. */
static int bigFrameEndsWith7(const void *p)
{
    return ((const unsigned char *)p)[PTM_RING_FRAME_MAX] == 7;
}

static void mirrorBigFrameEnds(void *p)
{
    ((unsigned char *)p)[PTM_RING_FRAME_MAX] = ((unsigned char *)p)[0];
}

Test(fork, a_frame_too_big_for_the_ring_is_not_handed_back)
{
    size_t size = PTM_RING_FRAME_MAX + 1;
    unsigned char *big = calloc(1, size);
    struct ptm_tx_desc d = descFor(mirrorBigFrame, size);
    struct ptmMirrorRun r;

    cr_assert_eq(ptmForkRun(&d, big, 5 * SECOND, ring, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_not(r.frame_valid);
    cr_assert_null(r.frame);
    cr_assert_not_null(r.frame_lost, "the run says why it has no frame");
    cr_assert_eq(r.verdict, PTM_VERDICT_NONE, "no criteria: not judged");
    cr_assert_eq(big[0], 0);
    free(big);
}

Test(fork, the_child_judges_a_frame_too_big_for_the_ring)
{
    size_t size = PTM_RING_FRAME_MAX + 1;
    unsigned char *big = calloc(1, size);
    struct ptm_tx_desc d = descFor(mirrorBigFrameEnds, size);
    struct ptmMirrorRun r;

    d.success = bigFrameEndsWith7;
    big[0] = 7;
    cr_assert_eq(ptmForkRun(&d, big, 5 * SECOND, ring, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_eq(r.verdict, PTM_VERDICT_MET, "met, judged on the child's frame");
    cr_assert_not(r.frame_valid);
    big[0] = 8;
    cr_assert_eq(ptmForkRun(&d, big, 5 * SECOND, ring, &r), PTM_OK);
    cr_assert_eq(r.verdict, PTM_VERDICT_FAILED, "failed: the verdict is not lost with the frame");
    cr_assert_eq(big[PTM_RING_FRAME_MAX], 0, "the caller's frame is untouched");
    free(big);
}

/* success_criteria through a pointer the mirror returns: memory of the
** child's own heap, which the parent does not have. */
struct ptrFrame {
    int *ret;
};

static void mirrorReturnsHeap(void *p)
{
    struct ptrFrame *fr = p;
    fr->ret = malloc(sizeof *fr->ret);
    if (fr->ret)
        *fr->ret = 200;
}

static int pointsAt200(const void *p)
{
    const struct ptrFrame *fr = p;
    return fr->ret && *fr->ret == 200;
}

Test(fork, the_child_judges_a_result_that_points_into_its_heap)
{
    struct ptrFrame fr = {0};
    struct ptm_tx_desc d = descFor(mirrorReturnsHeap, sizeof fr);
    struct ptmMirrorRun r;

    d.success = pointsAt200;
    cr_assert_eq(ptmForkRun(&d, &fr, 5 * SECOND, ring, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "%s", r.error);
    cr_assert_eq(r.verdict, PTM_VERDICT_MET);
    cr_assert(r.frame_valid);
    cr_assert_eq(r.frame, (void *)ring->frame);
    cr_assert_null(r.frame_lost);
}

/* A host thread holds stdout's lock across the fork: the mirror's printf
** shim must not need it. */
static pthread_mutex_t holding = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held = PTHREAD_COND_INITIALIZER;
static int isHeld, release;

static void *holdStdout(void *arg)
{
    (void)arg;
    flockfile(stdout);
    pthread_mutex_lock(&holding);
    isHeld = 1;
    pthread_cond_broadcast(&held);
    while (!release)
        pthread_cond_wait(&held, &holding);
    pthread_mutex_unlock(&holding);
    funlockfile(stdout);
    return NULL;
}

static void mirrorPrints(void *p)
{
    struct frame *f = p;
    f->out = ptm_shim_printf("locked? %d\n", 1) + ptm_shim_fputs("x", stdout);
}

Test(fork, a_lock_held_by_a_host_thread_does_not_hang_the_shims)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, holdStdout, NULL), 0);
    pthread_mutex_lock(&holding);
    while (!isHeld)
        pthread_cond_wait(&held, &holding);
    pthread_mutex_unlock(&holding);
    cr_assert_eq(run(mirrorPrints, &fr, 2 * SECOND, &r), PTM_OK);
    pthread_mutex_lock(&holding);
    release = 1;
    pthread_cond_broadcast(&held);
    pthread_mutex_unlock(&holding);
    pthread_join(t, NULL);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(((struct frame *)ring->frame)->out, 10 + 1);
}

/* -------------------------------------------------------- shared memory */

/* mseal(2) is there (Linux 6.10): the child seals what it made read-only. */
static int haveMseal(void)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = p != MAP_FAILED && syscall(462, p, 4096UL, 0UL) == 0;
    if (p != MAP_FAILED)
        munmap(p, 4096); /* EPERM once sealed: the page stays, harmlessly */
    return ok;
}

static void mirrorReadsShared(void *p)
{
    struct frame *f = p;
    f->out = f->mem[0] + f->mem[4095];
}

static void mirrorStoresShared(void *p)
{
    struct frame *f = p;
    f->mem[0] = 'M';
    f->out = 1;                  /* not reached */
}

static void mirrorUnprotectsShared(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = mprotect((void *)f->mem, 4096, PROT_READ | PROT_WRITE);
    f->err = errno;
    if (f->ret != 0)
        return;                  /* sealed: it stays read-only */
    f->mem[0] = 'M';
}

/* A store into memory the host shares with anyone is a crash, not a write. */
static void expectSharedHeld(volatile unsigned char *mem, const char *what)
{
    struct frame fr = {.mem = mem};
    struct ptmMirrorRun r;

    mem[0] = 'h';
    mem[4095] = 1;
    cr_assert_eq(run(mirrorReadsShared, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "%s: reading: %s", what, ptmStatusName(r.status));
    cr_assert_eq(((struct frame *)ring->frame)->out, 'h' + 1, "%s: the mirror reads it", what);

    cr_assert_eq(run(mirrorStoresShared, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "%s: storing: %s", what, ptmStatusName(r.status));
    cr_assert_eq(r.signo, SIGSEGV, "%s: signal %d", what, r.signo);
    cr_assert_eq(mem[0], 'h', "%s: the host's byte is unchanged", what);

    cr_assert_eq(run(mirrorUnprotectsShared, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(mem[0], 'h', "%s: mprotect() does not carry a store out", what);
    if (haveMseal() && !RUNNING_ON_VALGRIND) {
        cr_assert_eq(r.status, PTM_MS_RETURNED, "%s: %s", what, ptmStatusName(r.status));
        cr_assert_eq(((struct frame *)ring->frame)->ret, -1);
        cr_assert_eq(((struct frame *)ring->frame)->err, EPERM, "%s: sealed", what);
    }
}

Test(fork, a_store_into_shared_anonymous_memory_is_a_crash)
{
    unsigned char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                              -1, 0);
    cr_assert_neq(mem, MAP_FAILED);
    expectSharedHeld(mem, "MAP_SHARED|MAP_ANONYMOUS");
    munmap(mem, 4096);
}

Test(fork, a_store_into_a_shared_file_mapping_is_a_crash)
{
    char path[160];
    unsigned char *mem;
    int fd;

    snprintf(path, sizeof path, "%s/mapped", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 4096), 0);
    mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(mem, MAP_FAILED);
    expectSharedHeld(mem, "MAP_SHARED file");
    cr_assert_eq(msync(mem, 4096, MS_SYNC), 0);
    cr_assert_eq(pread(fd, path, 1, 0), 1);
    cr_assert_eq(path[0], 'h', "the file holds the host's byte");
    munmap(mem, 4096);
    close(fd);
}

Test(fork, a_read_only_shared_mapping_stays_read_only)
{
    unsigned char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                              -1, 0);
    struct frame fr;
    struct ptmMirrorRun r;

    cr_assert_neq(mem, MAP_FAILED);
    mem[0] = 'h';
    cr_assert_eq(mprotect(mem, 4096, PROT_READ), 0);
    fr = (struct frame){.mem = mem};
    cr_assert_eq(run(mirrorUnprotectsShared, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(mem[0], 'h');
    if (haveMseal() && !RUNNING_ON_VALGRIND)
        cr_assert_eq(((struct frame *)ring->frame)->err, EPERM, "sealed: %s",
                     strerror(((struct frame *)ring->frame)->err));
    munmap(mem, 4096);
}

/* Another ring is out of the mirror's reach: one from ptmRingCreate (a
** test's) is writable shared memory like any other, so it is read-only in
** the child; a thread's ring from ptmRingForThread is not even inherited
** (here, this thread's, while the mirror records into the test's ring). */
Test(fork, other_rings_are_out_of_the_mirrors_reach)
{
    struct ptmRing *other;
    struct frame fr;
    struct ptmMirrorRun r;

    cr_assert_eq(ptmRingCreate(8, &other), PTM_OK);
    fr = (struct frame){.mem = (unsigned char *)other->frame};
    cr_assert_eq(run(mirrorStoresShared, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(other->frame[0], 0);
    ptmRingDestroy(other);

    other = ptmRingForThread();
    cr_assert_not_null(other);
    fr = (struct frame){.mem = (unsigned char *)other->frame};
    cr_assert_eq(run(mirrorReadsShared, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "not inherited: %s", ptmStatusName(r.status));
    cr_assert_eq(r.signo, SIGSEGV);
}

Test(fork, a_threads_ring_reaches_its_own_mirror_only)
{
    struct ptmRing *mine = ptmRingForThread();
    struct ptm_tx_desc d = descFor(mirrorReturns, sizeof(struct frame));
    struct frame fr = {.in = 1};
    struct ptmMirrorRun r;
    pid_t pid;
    int st;

    cr_assert_not_null(mine);
    snprintf(fr.path, sizeof fr.path, "%s/log", dir);
    cr_assert_eq(ptmForkRun(&d, &fr, 5 * SECOND, mine, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s: %s", ptmStatusName(r.status), r.error);
    cr_assert_gt(ptmRingCount(mine), 0, "the child wrote into it");
    /* The host's own fork() does not inherit it, before or after. */
    pid = fork();
    if (pid == 0) {
        unsigned char v;
        _exit(mincore(mine, 4096, &v) != 0 && errno == ENOMEM ? 0 : 1); /* not mapped */
    }
    cr_assert_gt(pid, 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

/* ---------------------------------------------------------- descriptors */

static void mirrorReadsFd(void *p)
{
    struct frame *f = p;
    char c;
    errno = 0;
    f->ret = read(f->in, &c, 1);
    f->err = errno;
    f->out = (int)lseek(f->in, 0, SEEK_END);
}

/* Descriptors anywhere -- below the first poll bound, above it, above the
** largest poll -- are private in the mirror: a pipe yields no data, a
** file's offset is the mirror's own. */
Test(fork, high_descriptors_are_private_too)
{
    static const int from[] = {5, 700, 1500};
    struct rlimit nofile;
    struct frame fr = {0};
    struct ptmMirrorRun r;
    char c;
    unsigned i;
    int p[2], fd, at;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    for (i = 0; i < sizeof from / sizeof from[0]; i++) {
        if ((rlim_t)from[i] + 10 >= nofile.rlim_cur) {
            cr_log_warn("RLIMIT_NOFILE %lu: descriptors from %d skipped",
                        (unsigned long)nofile.rlim_cur, from[i]);
            continue;
        }
        /* The lowest free one from there: Criterion has its own. */
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(write(p[1], "x", 1), 1);
        at = fcntl(p[0], F_DUPFD, from[i]);
        cr_assert_geq(at, from[i]);
        fr.in = at;
        cr_assert_eq(run(mirrorReadsFd, &fr, 5 * SECOND, &r), PTM_OK);
        cr_assert_eq(r.status, PTM_MS_RETURNED, "fd %d: %s", at, ptmStatusName(r.status));
        cr_assert_eq(((struct frame *)ring->frame)->ret, 0, "fd %d: /dev/null in the mirror", at);
        cr_assert_eq(read(at, &c, 1), 1, "fd %d: the host's byte is still there", at);
        close(at), close(p[0]), close(p[1]);

        snprintf(fr.path, sizeof fr.path, "%s/f%d", dir, at);
        writeFile(fr.path, "0123456789");
        fd = open(fr.path, O_RDONLY);
        cr_assert_geq(fd, 0);
        at = fcntl(fd, F_DUPFD, from[i]);
        cr_assert_geq(at, from[i]);
        close(fd);
        fr.in = at;
        cr_assert_eq(lseek(at, 3, SEEK_SET), 3);
        cr_assert_eq(run(mirrorReadsFd, &fr, 5 * SECOND, &r), PTM_OK);
        cr_assert_eq(((struct frame *)ring->frame)->ret, 1, "fd %d: reads the file", at);
        cr_assert_eq(((struct frame *)ring->frame)->out, 10);
        cr_assert_eq(lseek(at, 0, SEEK_CUR), 3, "fd %d: the host's offset stays", at);
        close(at);
    }
}

/* ---------------------------------------------------------------- stamps */

Test(fork, each_step_is_stamped)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    unsigned k;

    cr_assert_eq(run(mirrorNothing, &fr, 5 * SECOND, &r), PTM_OK);
    for (k = 0; k < PTM_STAMP_COUNT; k++) {
        cr_assert_gt(ring->stamp_ns[k], 0, "step %u", k);
        if (k > 0)
            cr_assert_geq(ring->stamp_ns[k], ring->stamp_ns[k - 1], "step %u", k);
    }
    cr_assert_geq(r.duration_ns,
                  ring->stamp_ns[PTM_STAMP_REAPED] - ring->stamp_ns[PTM_STAMP_FORK]);
}

/* ------------------------------------------------ a multi-threaded host */

/* While host threads hammer malloc, stdio locks and libptm (the engine's
** mutexes, concurrent fork mirrors), one thread forks mirrors that use
** malloc, the shims, a nested transaction and stdout through a call no
** shim redirects (glibc resets every FILE's lock in a child).  Not one may
** hang until its deadline. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* AddressSanitizer's fork stops its allocator: a fork costs tens of ms. */
#define HAMMER_MIRRORS (SANITIZED ? 30 : 500)

static _Atomic int hammerStop;
static FILE *devNull;

static void *hammerMalloc(void *arg)
{
    unsigned n = 0;
    (void)arg;
    while (!atomic_load(&hammerStop)) {
        void *p = malloc(16 + n++ % 4000);
        fprintf(devNull, "%u %p\n", n, p);
        free(p);
    }
    return NULL;
}

static void *hammerStdout(void *arg)
{
    (void)arg;
    while (!atomic_load(&hammerStop)) {
        flockfile(stdout);
        for (volatile int i = 0; i < 2000; i++)
            ;
        funlockfile(stdout);
        fflush(stderr);
    }
    return NULL;
}

static int succeed(const void *f)
{
    (void)f;
    return 1;
}

static void nestedMirror(void *p)
{
    ((struct frame *)p)->out = 7;
}

static struct ptm_tx_desc nestedDesc(void)
{
    struct ptm_tx_desc d = descFor(nestedMirror, sizeof(struct frame));
    d.transaction_id = "test.fork.nested";
    d.primary = nestedMirror;
    d.success = succeed;
    d.failure_prediction_enabled = 1;
    d.mirror_mode = PTM_MIRROR_OFF;
    return d;
}

static void *hammerEngine(void *arg)
{
    struct ptm_tx_desc d = nestedDesc();
    (void)arg;
    while (!atomic_load(&hammerStop)) {
        struct frame fr = {0};
        ptm_tx_run(&d, &fr);
    }
    return NULL;
}

static void *hammerForks(void *arg)
{
    struct ptm_tx_desc d = descFor(mirrorNothing, sizeof(struct frame));
    struct ptmRing *mine = ptmRingForThread();
    struct ptmMirrorRun r;
    (void)arg;
    while (mine && !atomic_load(&hammerStop)) {
        struct frame fr = {0};
        ptmForkRun(&d, &fr, 5 * SECOND, mine, &r);
    }
    return NULL;
}

static int (*volatile rawFputs)(const char *, FILE *) = fputs;

static void mirrorBusy(void *p)
{
    struct frame *f = p;
    struct ptm_tx_desc d = nestedDesc();
    struct frame inner = {0};
    char *s = malloc(100 + (size_t)f->in % 1000);

    ptm_shim_printf("mirror %d\n", f->in);
    rawFputs("through no shim\n", stdout); /* takes stdout's lock */
    ptm_tx_run(&d, &inner);
    f->out = s != NULL && inner.out == 7;
    free(s);
}

Test(fork, a_busy_multithreaded_host_never_hangs_its_mirror)
{
    void *(*const kinds[])(void *) = {hammerMalloc, hammerMalloc, hammerMalloc, hammerStdout,
                                      hammerStdout, hammerEngine, hammerForks, hammerForks};
    pthread_t t[sizeof kinds / sizeof kinds[0]];
    struct ptmMirrorRun r;
    unsigned i, timeouts = 0, other = 0;
    int n = RUNNING_ON_VALGRIND ? 10 : HAMMER_MIRRORS, k;
    uint64_t t0 = ptmOsNowNs();

    devNull = fopen("/dev/null", "w");
    cr_assert_not_null(devNull);
    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, kinds[i], NULL), 0);
    /* n mirrors, or as many as 12 s allow past the first 10: on a loaded
    ** machine (ASan, load 13) a fork under eight busy threads can take
    ** hundreds of ms, and the suite's 30 s timeout is for hangs, not for
    ** slow forks. */
    for (k = 0; k < n && (k < 10 || ptmOsNowNs() - t0 < 12 * SECOND); k++) {
        struct frame fr = {.in = k};
        cr_assert_eq(run(mirrorBusy, &fr, 2 * SECOND, &r), PTM_OK, "%s", r.error);
        timeouts += r.status == PTM_MS_TIMEOUT;
        other += r.status != PTM_MS_TIMEOUT && r.status != PTM_MS_RETURNED &&
                 r.status != PTM_MS_DENIED;
        if (r.status == PTM_MS_RETURNED || r.status == PTM_MS_DENIED)
            cr_assert_eq(((struct frame *)ring->frame)->out, 1);
    }
    atomic_store(&hammerStop, 1);
    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        pthread_join(t[i], NULL);
    fclose(devNull);
    cr_assert_eq(timeouts, 0, "%u of %d mirrors hung until their deadline", timeouts, k);
    cr_assert_eq(other, 0, "%u of %d mirrors crashed or failed", other, k);
}

/* A lock a shim's mirror side takes, held by a host thread nearly all the
** time: registered with ptmForkHoldAdd, the child always finds it free. */
static pthread_mutex_t shimLock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int shimLockStop;

static void *holdShimLock(void *arg)
{
    struct timespec hold = {0, 20 * 1000 * 1000}, gap = {0, 1000 * 1000};
    (void)arg;
    while (!atomic_load(&shimLockStop)) {
        pthread_mutex_lock(&shimLock);
        nanosleep(&hold, NULL);
        pthread_mutex_unlock(&shimLock);
        nanosleep(&gap, NULL);
    }
    return NULL;
}

/* Waits for the lock, but not forever. */
static int holdShim(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    return pthread_mutex_timedlock(&shimLock, &until) == 0;
}

static void releaseShim(void)
{
    pthread_mutex_unlock(&shimLock);
}

static void mirrorTakesShimLock(void *p)
{
    pthread_mutex_lock(&shimLock);
    ((struct frame *)p)->out = 1;
    pthread_mutex_unlock(&shimLock);
}

Test(fork, a_registered_lock_is_free_in_the_child)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    pthread_t t;

    cr_assert_eq(ptmForkHoldAdd(NULL, releaseShim), PTM_EINVAL);
    cr_assert_eq(ptmForkHoldAdd(holdShim, releaseShim), PTM_OK);
    cr_assert_eq(pthread_create(&t, NULL, holdShimLock, NULL), 0);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(run(mirrorTakesShimLock, &fr, 2 * SECOND, &r), PTM_OK);
        cr_assert_eq(r.status, PTM_MS_RETURNED, "run %d: %s", i, ptmStatusName(r.status));
        cr_assert_eq(((struct frame *)ring->frame)->out, 1);
    }
    atomic_store(&shimLockStop, 1);
    pthread_join(t, NULL);
    cr_assert_eq(pthread_mutex_trylock(&shimLock), 0, "released in the parent too");
    pthread_mutex_unlock(&shimLock);
}

