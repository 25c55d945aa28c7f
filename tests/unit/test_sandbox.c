/*
** test_sandbox.c - what a fork mirror cannot do to the world or to its
** host (runtime/fork_child.c: childPrivateFds, childSharedMemory,
** childConfine; runtime/sandbox.c: the filter's table).
**
** Each test is an escape a hostile mirror tries -- a shared mapping made
** writable, an ioctl that changes a terminal, a file or an interface, a
** route into the host process (pidfd, /proc/<ppid>, process groups,
** signals, ptrace, process_vm_*, shared futexes), or a lock it must probe
** but never take -- and checks the world
** before and after: file contents and metadata, the host's offsets and
** pending input, priorities, terminal modes.  A denial must be an event
** (PTM_EV_DENIED) and the mirror must walk on (EPERM), never crash.
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/ioprio.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "shims/shims_int.h"

/* Under valgrind the filter fails denied calls with EPERM but cannot
** record them, and there is no Landlock (runtime/sandbox.c, runtime/fork_child.c). */
#define DENIALS_RECORDED (!RUNNING_ON_VALGRIND)

struct frame {
    int fd;                      /* a descriptor of the host's */
    int fd2;
    pid_t host;                  /* the host's pid */
    long ret;                    /* the attempt's result, in the mirror */
    int err;                     /* and its errno */
    int flags;                   /* what the mirror saw */
    char path[160];
    volatile unsigned char *mem;
    struct flock probe[3];       /* the lock probes' answers, in the mirror */
};

static struct ptmRing *ring;
static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/ptm-sandbox-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(ptmRingCreate(64, &ring), PTM_OK);
}

static void teardown(void)
{
    char cmd[128];
    ptmRingDestroy(ring);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(sandbox, .init = setup, .fini = teardown, .timeout = 60);

#define SECOND 1000000000ull

/* Runs mirror on fr under the fork executor.  OUT: *r.  The mirror's
** frame, as it left it. */
static struct frame *run(ptm_thunk mirror, struct frame *fr, struct ptmMirrorRun *r)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION,
        .transaction_id = "test.sandbox",
        .function = "f",
        .file = __FILE__,
        .frame_size = sizeof *fr,
        .mirror = mirror,
        .mirror_mode = PTM_MIRROR_FORK,
    };
    fr->host = getpid();
    cr_assert_eq(ptmForkRun(&d, fr, 5 * SECOND, ring, r), PTM_OK, "%s", r->error);
    cr_assert(r->frame_valid, "the mirror returned: status %s signal %d",
              ptmStatusName(r->status), r->signo);
    return (struct frame *)ring->frame;
}

/* The mirror's attempt was denied: EPERM, a denied mirror, and an event
** naming one of calls ("|a|b|"). */
static void expectDenied(const struct ptmMirrorRun *r, const struct frame *got, const char *calls,
                         const char *what)
{
    char name[48];
    unsigned i;

    cr_assert_eq(got->ret, -1, "%s: returned %ld", what, got->ret);
    cr_assert_eq(got->err, EPERM, "%s: errno %s", what, strerror(got->err));
    if (!DENIALS_RECORDED)
        return;
    cr_assert_eq(r->status, PTM_MS_DENIED, "%s: status %s", what, ptmStatusName(r->status));
    cr_assert_geq(r->denied, 1, "%s", what);
    for (i = 0; i < atomic_load(&ring->head) && i < ptmRingCap(ring); i++) {
        if (ring->ev[i].kind != PTM_EV_DENIED)
            continue;
        snprintf(name, sizeof name, "|%s|", ptmCallName(ring->ev[i].call));
        if (strstr(calls, name))
            return;
    }
    cr_assert_fail("%s: no denied event for %s", what, calls);
}

static void writeFile(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* The file's bytes, up to 255. */
static const char *readFile(const char *path)
{
    static char buf[256];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    return buf;
}

/* ---------------------------------------------- 1. writable shared maps */

/* The ways to a writable shared mapping of a descriptor the host opened
** O_RDWR: each returns 0 when it got one and stored through it. */
static long viaMprotect(struct frame *f)
{
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0)
        return -1;
    p[0] = 'M';
    return 0;
}
static long viaPkeyMprotect(struct frame *f)
{
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED || syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, -1) != 0)
        return -1;
    p[0] = 'M';
    return 0;
}
static long viaMremap(struct frame *f)
{
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f->fd, 0), *q;
    if (p == MAP_FAILED)
        return -1;
    q = mremap(p, 4096, 8192, MREMAP_MAYMOVE);
    if (q == MAP_FAILED || mprotect(q, 4096, PROT_READ | PROT_WRITE) != 0)
        return -1;
    q[0] = 'M';
    return 0;
}
static long viaDup(struct frame *f)
{
    int fd = dup(f->fd);
    char *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_WRITE | PROT_READ) != 0)
        return -1;
    p[0] = 'M';
    return 0;
}
static long viaProcSelfFd(struct frame *f)
{
    char path[64];
    int fd;
    char *p;

    snprintf(path, sizeof path, "/proc/self/fd/%d", f->fd);
    if ((fd = open(path, O_RDONLY)) < 0)
        return -1;
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0)
        return -1;
    p[0] = 'M';
    return 0;
}
static long viaPopulateWrite(struct frame *f)
{
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED || madvise(p, 4096, 23 /* MADV_POPULATE_WRITE */) != 0)
        return -1;
    return 0;
}
static long viaSharedValidate(struct frame *f)
{
    char *p = mmap(NULL, 4096, PROT_READ, 0x03 /* MAP_SHARED_VALIDATE */, f->fd, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0)
        return -1;
    p[0] = 'M';
    return 0;
}

static long (*const writableMaps[])(struct frame *) = {
    viaMprotect, viaPkeyMprotect, viaMremap, viaDup, viaProcSelfFd, viaPopulateWrite,
    viaSharedValidate,
};
static long (*tryMap)(struct frame *);

static void mirrorMaps(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = tryMap(f);
    f->err = errno;
}

Test(sandbox, no_sequence_of_mmap_calls_makes_a_writable_file_mapping)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    struct stat before, after;
    unsigned i;

    snprintf(fr.path, sizeof fr.path, "%s/precious", dir);
    writeFile(fr.path, "precious data, one page of it");
    cr_assert_eq(truncate(fr.path, 8192), 0);
    cr_assert_eq(stat(fr.path, &before), 0);
    fr.fd = open(fr.path, O_RDWR);
    cr_assert_geq(fr.fd, 0);
    for (i = 0; i < sizeof writableMaps / sizeof writableMaps[0]; i++) {
        tryMap = writableMaps[i];
        got = run(mirrorMaps, &fr, &r);
        cr_assert_eq(got->ret, -1, "attempt %u got a writable shared mapping", i);
        cr_assert_str_eq(readFile(fr.path), "precious data, one page of it", "attempt %u", i);
    }
    cr_assert_eq(stat(fr.path, &after), 0);
    cr_assert_eq(after.st_size, before.st_size);
    cr_assert_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    close(fr.fd);
}

/* The mirror reads what the host's descriptor reads, sees the host's
** access mode through the shims, and its own descriptor is read-only. */
static void mirrorInspectsFd(void *p)
{
    struct frame *f = p;
    char buf[8] = {0};
    f->ret = pread(f->fd, buf, 7, 0) == 7 && memcmp(buf, "precious", 7) == 0;
    f->flags = fcntl(f->fd, F_GETFL);
    f->err = ptmProbeGetfl(f->fd, &f->fd2) == 0 ? 0 : -1;
}

Test(sandbox, a_writable_descriptor_is_read_only_in_the_child_but_not_to_the_shims)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;

    snprintf(fr.path, sizeof fr.path, "%s/precious", dir);
    writeFile(fr.path, "precious");
    for (int mode = O_WRONLY; mode <= O_RDWR; mode++) {
        fr.fd = open(fr.path, mode | O_APPEND);
        cr_assert_geq(fr.fd, 0);
        got = run(mirrorInspectsFd, &fr, &r);
        cr_assert_eq(r.status, PTM_MS_RETURNED, "%s", ptmStatusName(r.status));
        cr_assert_eq(got->ret, 1, "mode %d: the mirror reads the file", mode);
        cr_assert_eq(got->flags & O_ACCMODE, O_RDONLY, "mode %d: real F_GETFL", mode);
        cr_assert_eq(got->err, 0);
        cr_assert_eq(got->fd2 & O_ACCMODE, mode, "mode %d: the shims see the host's mode", mode);
        cr_assert(got->fd2 & O_APPEND, "mode %d: and its other flags", mode);
        close(fr.fd);
    }
}

/* ----------------------------------------------------------- 2. ioctl */

static void mirrorSetsTerminal(void *p)
{
    struct frame *f = p;
    struct termios t;
    struct winsize ws;
    int fd = open(f->path, O_RDONLY | O_NOCTTY);

    f->flags = fd >= 0 && tcgetattr(fd, &t) == 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0;
    if (fd < 0)
        return;
    t.c_lflag &= ~(tcflag_t)ECHO;
    errno = 0;
    f->ret = tcsetattr(fd, TCSANOW, &t);
    f->err = errno;
    if (f->ret != -1 || f->err != EPERM)
        return;
    /* TCSETS2 (struct termios2: c_lflag at byte 12), which the old deny
    ** list did not name. */
    uint32_t t2[11];
    if (ioctl(fd, 0x802c542a /* TCGETS2 */, t2) != 0) {
        f->ret = -2;
        return;
    }
    t2[3] &= ~(uint32_t)ECHO;
    errno = 0;
    f->ret = ioctl(fd, 0x402c542b /* TCSETS2 */, t2);
    f->err = errno;
}

Test(sandbox, a_terminal_keeps_its_modes)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    struct termios before, after;
    int master = posix_openpt(O_RDWR | O_NOCTTY), slave;

    cr_assert_geq(master, 0);
    cr_assert_eq(grantpt(master), 0);
    cr_assert_eq(unlockpt(master), 0);
    snprintf(fr.path, sizeof fr.path, "%s", ptsname(master));
    slave = open(fr.path, O_RDWR | O_NOCTTY);
    cr_assert_geq(slave, 0);
    cr_assert_eq(tcgetattr(slave, &before), 0);
    cr_assert(before.c_lflag & ECHO);
    got = run(mirrorSetsTerminal, &fr, &r);
    cr_assert_eq(got->flags, 1, "TCGETS and TIOCGWINSZ are allowed");
    expectDenied(&r, got, "|ioctl|", "TCSETS");
    if (DENIALS_RECORDED) { /* TCSETS (or TCSETS2 from a newer libc), then TCSETS2 */
        cr_assert(strcmp(ring->ev[0].detail, "arg1=0x5402") == 0 ||
                      strcmp(ring->ev[0].detail, "arg1=0x402c542b") == 0,
                  "the event names the request: %s", ring->ev[0].detail);
        cr_assert_eq(r.denied, 2);
        cr_assert_str_eq(ring->ev[1].detail, "arg1=0x402c542b");
    }
    cr_assert_eq(tcgetattr(slave, &after), 0);
    cr_assert_eq(after.c_lflag, before.c_lflag, "the terminal still echoes");
    close(slave);
    close(master);
}

static void mirrorSetsFileFlags(void *p)
{
    struct frame *f = p;
    unsigned attr = FS_NODUMP_FL;
    errno = 0;
    f->ret = ioctl(f->fd, FS_IOC_SETFLAGS, &attr);
    f->err = errno;
}

static void mirrorSetsFsxattr(void *p)
{
    struct frame *f = p;
    struct fsxattr x = {0};
    f->flags = ioctl(f->fd, FS_IOC_FSGETXATTR, &x); /* allowed: reads */
    x.fsx_xflags |= FS_XFLAG_NODUMP;
    errno = 0;
    f->ret = ioctl(f->fd, FS_IOC_FSSETXATTR, &x);
    f->err = errno;
}

Test(sandbox, a_read_only_descriptor_cannot_set_file_flags)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    struct stat before, after;

    snprintf(fr.path, sizeof fr.path, "%s/flags", dir);
    writeFile(fr.path, "x");
    cr_assert_eq(stat(fr.path, &before), 0);
    fr.fd = open(fr.path, O_RDONLY);
    cr_assert_geq(fr.fd, 0);
    got = run(mirrorSetsFileFlags, &fr, &r);
    expectDenied(&r, got, "|ioctl|", "FS_IOC_SETFLAGS");
    got = run(mirrorSetsFsxattr, &fr, &r);
    expectDenied(&r, got, "|ioctl|", "FS_IOC_FSSETXATTR");
    cr_assert_eq(stat(fr.path, &after), 0);
    cr_assert_eq(after.st_ctim.tv_sec, before.st_ctim.tv_sec, "no attribute changed");
    cr_assert_eq(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec, "no attribute changed");
    close(fr.fd);
}

/* SIOCSIFFLAGS with the interface's own flags: a no-op even if it got
** through (this test must not take lo down), but it must not get through. */
static void mirrorSetsInterface(void *p)
{
    struct frame *f = p;
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    f->flags = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    errno = 0;
    f->ret = f->flags ? ioctl(s, SIOCSIFFLAGS, &ifr) : -2;
    f->err = errno;
}

Test(sandbox, a_network_interface_cannot_be_changed)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;

    got = run(mirrorSetsInterface, &fr, &r);
    cr_assert_eq(got->flags, 1, "SIOCGIFFLAGS is allowed");
    expectDenied(&r, got, "|ioctl|", "SIOCSIFFLAGS");
}

static void mirrorAsksReadOnlyIoctls(void *p)
{
    struct frame *f = p;
    int n = -1, s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    unsigned attr = 0;

    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    f->ret = ioctl(f->fd, FIONREAD, &n) == 0 && n == 5;
    f->ret += ioctl(f->fd, FIOCLEX) == 0;
    f->ret += s >= 0 && ioctl(s, SIOCGIFINDEX, &ifr) == 0;
    f->ret += isatty(f->fd) == 0 && errno == ENOTTY;
    (void)ioctl(f->fd, FS_IOC_GETFLAGS, &attr); /* EOPNOTSUPP on some file systems */
}

Test(sandbox, ioctls_that_only_read_are_allowed)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;

    snprintf(fr.path, sizeof fr.path, "%s/five", dir);
    writeFile(fr.path, "12345");
    fr.fd = open(fr.path, O_RDONLY);
    got = run(mirrorAsksReadOnlyIoctls, &fr, &r);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "%s, %u denied", ptmStatusName(r.status), r.denied);
    cr_assert_eq(got->ret, 4);
    close(fr.fd);
}

/* ------------------------------------------- 2b. lock probes (SQLite's) */

/* Byte ranges of the probed file: SQLite's overlay asks who holds its
** lock bytes, in rollback mode on the database, in WAL mode on -shm. */
#define OFD_HELD 1000   /* the host holds an OFD write lock */
#define POSIX_HELD 2000 /* the host holds a process (POSIX) read lock */
#define FREE_BYTE 3000  /* nobody */

static void probe(int fd, int cmd, off_t at, struct flock *out)
{
    memset(out, 0, sizeof *out);
    out->l_type = F_WRLCK;
    out->l_whence = SEEK_SET;
    out->l_start = at;
    out->l_len = 1;
    if (fcntl(fd, cmd, out) != 0)
        out->l_type = -1;
}

/* What the VFS does in a fork child: its own read-only descriptor, reads
** and fstat, then the lock probes; last, the lock it must never take. */
static void mirrorProbesLocks(void *p)
{
    struct frame *f = p;
    struct stat st;
    char head[6] = {0};
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);

    f->flags = fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 4096 &&
               pread(fd, head, 5, 0) == 5 && strcmp(head, "SQLit") == 0;
    probe(fd, F_OFD_GETLK, OFD_HELD, &f->probe[0]);
    probe(fd, F_GETLK, POSIX_HELD, &f->probe[1]);
    probe(fd, F_OFD_GETLK, FREE_BYTE, &f->probe[2]);
    struct flock take = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = FREE_BYTE, .l_len = 1};
    errno = 0;
    f->ret = fcntl(fd, f->fd2 ? F_SETLK : F_OFD_SETLK, &take);
    f->err = errno;
}

Test(sandbox, lock_probes_see_the_hosts_locks_and_no_lock_is_taken)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    char page[4096] = "SQLite format 3";

    snprintf(fr.path, sizeof fr.path, "%s/db", dir);
    int host = open(fr.path, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(host, 0);
    cr_assert_eq(pwrite(host, page, sizeof page, 0), (ssize_t)sizeof page);
    struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = OFD_HELD, .l_len = 1};
    cr_assert_eq(fcntl(host, F_OFD_SETLK, &w), 0);
    struct flock rd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = POSIX_HELD, .l_len = 1};
    cr_assert_eq(fcntl(host, F_SETLK, &rd), 0);

    for (fr.fd2 = 0; fr.fd2 < 2; fr.fd2++) {
        const char *what = fr.fd2 ? "F_SETLK" : "F_OFD_SETLK";
        got = run(mirrorProbesLocks, &fr, &r);
        cr_assert(got->flags, "%s: open O_RDONLY, fstat and pread are allowed", what);
        cr_assert_eq(got->probe[0].l_type, F_WRLCK, "F_OFD_GETLK sees the host's OFD lock");
        cr_assert_eq(got->probe[0].l_pid, -1, "an OFD lock has no pid");
        cr_assert_eq(got->probe[0].l_start, OFD_HELD);
        cr_assert_eq(got->probe[1].l_type, F_RDLCK, "F_GETLK sees the host's process lock");
        cr_assert_eq(got->probe[1].l_pid, getpid(), "held by the host");
        cr_assert_eq(got->probe[2].l_type, F_UNLCK, "a free byte is free");
        expectDenied(&r, got, "|fcntl|", what);
    }
    /* The host's locks are as they were, and nobody holds the free byte. */
    int other = open(fr.path, O_RDONLY);
    struct flock q;
    probe(other, F_OFD_GETLK, FREE_BYTE, &q);
    cr_assert_eq(q.l_type, F_UNLCK, "the denied lock was not taken");
    probe(other, F_OFD_GETLK, OFD_HELD, &q);
    cr_assert_eq(q.l_type, F_WRLCK, "the host still holds its lock");
    close(other);
    close(host);
}

/* ----------------------------------------------- 3. routes into the host */

/* The host's pending input (a pipe with 15 bytes) and a file at offset 5:
** what each attempt must leave as it found. */
struct hostState {
    int pipe[2];
    int file;
};

static void hostStateMake(struct hostState *h, struct frame *fr)
{
    char path[160];

    cr_assert_eq(pipe(h->pipe), 0);
    cr_assert_eq(write(h->pipe[1], "fifteen bytes!\n", 15), 15);
    snprintf(path, sizeof path, "%s/offset", dir);
    writeFile(path, "0123456789abcdef");
    h->file = open(path, O_RDONLY);
    cr_assert_geq(h->file, 0);
    cr_assert_eq(lseek(h->file, 5, SEEK_SET), 5);
    fr->fd = h->pipe[0];
    fr->fd2 = h->file;
}

static void hostStateCheck(struct hostState *h, const char *what)
{
    char buf[32];
    int n = -1;

    cr_assert_eq(ioctl(h->pipe[0], FIONREAD, &n), 0);
    cr_assert_eq(n, 15, "%s: the host's 15 pending bytes are %d", what, n);
    cr_assert_eq(lseek(h->file, 0, SEEK_CUR), 5, "%s: the host's offset moved", what);
    cr_assert_eq(read(h->file, buf, 3), 3);
    cr_assert_eq(memcmp(buf, "567", 3), 0, "%s", what);
    cr_assert_eq(lseek(h->file, 5, SEEK_SET), 5);
}

static void hostStateFree(struct hostState *h)
{
    close(h->pipe[0]);
    close(h->pipe[1]);
    close(h->file);
}

/* Reads what it can through fd: the attempt got in when that is > 0. */
static long drain(int fd)
{
    char buf[64];
    long got = 0, n;
    if (fd < 0)
        return -1;
    (void)fcntl(fd, F_GETFL);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        got += n;
    (void)lseek(fd, 0, SEEK_END);
    return got;
}

static long viaPidfdGetfd(struct frame *f)
{
    int pidfd = (int)syscall(SYS_pidfd_open, f->host, 0);
    long a, b;
    if (pidfd < 0)
        return -1;
    a = drain((int)syscall(SYS_pidfd_getfd, pidfd, f->fd, 0));
    b = drain((int)syscall(SYS_pidfd_getfd, pidfd, f->fd2, 0));
    return a > 0 || b > 0 ? 1 : -1;
}
static long viaProcFd(struct frame *f)
{
    char path[64];
    int fd;
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)f->host, f->fd);
    fd = open(path, O_RDONLY | O_NONBLOCK);
    return drain(fd) > 0 ? 1 : -1;
}
static long viaProcTaskFd(struct frame *f)
{
    char path[80];
    int fd;
    snprintf(path, sizeof path, "/proc/%d/task/%d/fd/%d", (int)f->host, (int)f->host, f->fd);
    fd = open(path, O_RDONLY | O_NONBLOCK);
    return drain(fd) > 0 ? 1 : -1;
}
static long viaProcParentFd(struct frame *f)
{
    char path[64];
    int fd;
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getppid(), f->fd);
    fd = open(path, O_RDONLY | O_NONBLOCK);
    return drain(fd) > 0 ? 1 : -1;
}
static long viaProcMem(struct frame *f)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)f->host);
    return open(path, O_RDONLY) >= 0 ? 1 : -1;
}
static long viaProcessVmReadv(struct frame *f)
{
    char buf[8];
    struct iovec l = {buf, sizeof buf}, rem = {(void *)f, sizeof buf};
    return syscall(SYS_process_vm_readv, f->host, &l, 1UL, &rem, 1UL, 0UL) > 0 ? 1 : -1;
}

static const struct route {
    const char *what;
    long (*call)(struct frame *);
    const char *denied_by;       /* the filter's row, "": the kernel refuses */
} routes[] = {
    {"pidfd_open + pidfd_getfd", viaPidfdGetfd, "|pidfd_open|"},
    {"/proc/<host>/fd/N", viaProcFd, ""},
    {"/proc/<host>/task/<tid>/fd/N", viaProcTaskFd, ""},
    {"/proc/<getppid()>/fd/N", viaProcParentFd, ""},
    {"/proc/<host>/mem", viaProcMem, ""},
    {"process_vm_readv", viaProcessVmReadv, "|process_vm_readv|"},
};
static const struct route *route;

static void mirrorTakesRoute(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = route->call(f);
    f->err = errno;
}

/* Landlock's ptrace scoping is what closes /proc/<pid>: without it (a
** kernel before 5.13 or without the LSM) those routes stay open. */
static int haveLandlock(void)
{
    return !RUNNING_ON_VALGRIND && syscall(444, NULL, 0UL, 1UL) > 0;
}

Test(sandbox, the_host_keeps_its_pending_input_and_offsets)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    struct hostState h;
    unsigned i;

    hostStateMake(&h, &fr);
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        route = &routes[i];
        if (!route->denied_by[0] && !haveLandlock())
            continue;
        got = run(mirrorTakesRoute, &fr, &r);
        cr_assert_eq(got->ret, -1, "%s: the mirror got in", route->what);
        if (route->denied_by[0])
            expectDenied(&r, got, route->denied_by, route->what);
        else
            cr_assert(got->err == EACCES || got->err == EPERM, "%s: %s", route->what,
                      strerror(got->err));
        hostStateCheck(&h, route->what);
    }
    hostStateFree(&h);
}

/* A pidfd the host holds is not the child's to use. */
static void mirrorUsesInheritedPidfd(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = drain((int)syscall(SYS_pidfd_getfd, f->flags, f->fd, 0));
    f->err = errno;
}

Test(sandbox, an_inherited_pidfd_reaches_nothing)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    struct hostState h;

    hostStateMake(&h, &fr);
    fr.flags = (int)syscall(SYS_pidfd_open, getpid(), 0);
    cr_assert_geq(fr.flags, 0);
    got = run(mirrorUsesInheritedPidfd, &fr, &r);
    expectDenied(&r, got, "|pidfd_getfd|", "pidfd_getfd");
    hostStateCheck(&h, "an inherited pidfd");
    close(fr.flags);
    hostStateFree(&h);
}

/* Priorities: who = 0 under PRIO_PGRP or PRIO_USER is a group, not the
** caller.  The host is made a group of its own, so that even a failing
** run changes nothing but this test process. */
static int prioWhich, prioWho;

static void mirrorRenices(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = setpriority(prioWhich, (id_t)prioWho, 7);
    f->err = errno;
}

static void mirrorIoprio(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = syscall(SYS_ioprio_set, prioWhich, prioWho,
                     IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7));
    f->err = errno;
}

static void mirrorRenicesItself(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = setpriority(PRIO_PROCESS, 0, 3) == 0 && getpriority(PRIO_PROCESS, 0) == 3 &&
             setpriority(PRIO_PROCESS, (id_t)getpid(), 4) == 0;
    f->err = errno;
}

Test(sandbox, the_hosts_priorities_stay)
{
    static const struct {
        int which, who;
        const char *what;
    } cases[] = {{PRIO_PGRP, 0, "PRIO_PGRP 0"}, {PRIO_USER, 0, "PRIO_USER 0"},
                 {PRIO_PROCESS, -1, "PRIO_PROCESS host"}, {PRIO_PGRP, -1, "PRIO_PGRP host"}};
    static const struct {
        int which, who;
        const char *what;
    } ioCases[] = {{IOPRIO_WHO_PGRP, 0, "IOPRIO_WHO_PGRP 0"},
                   {IOPRIO_WHO_USER, 0, "IOPRIO_WHO_USER 0"},
                   {IOPRIO_WHO_PROCESS, -1, "IOPRIO_WHO_PROCESS host"}};
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    int nice_pgrp, nice_self, io;
    unsigned i;

    if (getpgrp() != getpid())  /* Criterion's workers may lead a session */
        cr_assert_eq(setpgid(0, 0), 0, "%s", strerror(errno));
    errno = 0;
    nice_pgrp = getpriority(PRIO_PGRP, 0);
    nice_self = getpriority(PRIO_PROCESS, 0);
    io = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
    cr_assert_eq(errno, 0);
    cr_assert_neq(nice_self, 7, "the test needs a nice value other than 7");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prioWhich = cases[i].which;
        prioWho = cases[i].who < 0 ? getpid() : cases[i].who;
        got = run(mirrorRenices, &fr, &r);
        expectDenied(&r, got, "|setpriority|", cases[i].what);
        cr_assert_eq(getpriority(PRIO_PGRP, 0), nice_pgrp, "%s", cases[i].what);
        cr_assert_eq(getpriority(PRIO_PROCESS, 0), nice_self, "%s", cases[i].what);
    }
    for (i = 0; i < sizeof ioCases / sizeof ioCases[0]; i++) {
        prioWhich = ioCases[i].which;
        prioWho = ioCases[i].who < 0 ? getpid() : ioCases[i].who;
        got = run(mirrorIoprio, &fr, &r);
        expectDenied(&r, got, "|ioprio_set|", ioCases[i].what);
        cr_assert_eq(syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0), io, "%s",
                     ioCases[i].what);
    }
    got = run(mirrorRenicesItself, &fr, &r);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "%s", ptmStatusName(r.status));
    cr_assert_eq(got->ret, 1, "the mirror may renice itself: %s", strerror(got->err));
    cr_assert_eq(getpriority(PRIO_PROCESS, 0), nice_self);
}

/* Signals, process groups, sessions, tracing, memory: each route must be
** denied, and the host must not see a thing. */
static _Atomic int hostSignals;

static void hostHandler(int sig)
{
    (void)sig;
    atomic_fetch_add(&hostSignals, 1);
}

static long sigKillHost(struct frame *f) { return kill(f->host, SIGUSR1); }
static long sigKillGroup(struct frame *f) { (void)f; return kill(0, SIGUSR1); }
static long sigKillPgid(struct frame *f) { return kill(-getpgid(f->host), SIGUSR1); }
static long sigKillAll(struct frame *f) { (void)f; return kill(-1, 0); }
static long sigKillpg(struct frame *f) { return killpg(getpgid(f->host), SIGUSR1); }
static long sigTgkill(struct frame *f) { return syscall(SYS_tgkill, f->host, f->host, SIGUSR1); }
static long sigTkill(struct frame *f) { return syscall(SYS_tkill, f->host, SIGUSR1); }
static long sigQueue(struct frame *f)
{
    union sigval v = {.sival_int = 1};
    return sigqueue(f->host, SIGUSR1, v);
}
static long sigPidfd(struct frame *f)
{
    int pidfd = (int)syscall(SYS_pidfd_open, f->host, 0);
    return syscall(SYS_pidfd_send_signal, pidfd, SIGUSR1, NULL, 0);
}
static long grpSetpgid(struct frame *f) { (void)f; return setpgid(0, 0); }
static long grpSetsid(struct frame *f) { (void)f; return setsid(); }
static long grpSetpgidHost(struct frame *f) { return setpgid(f->host, f->host); }
static long trPtrace(struct frame *f) { return ptrace(PTRACE_SEIZE, f->host, 0, 0); }
static long trPtraceMe(struct frame *f) { (void)f; return ptrace(PTRACE_TRACEME, 0, 0, 0); }
static long memWritev(struct frame *f)
{
    char buf[1] = {'M'};
    struct iovec l = {buf, 1}, rem = {(void *)f->mem, 1};
    return syscall(SYS_process_vm_writev, f->host, &l, 1UL, &rem, 1UL, 0UL);
}
static long memMadvise(struct frame *f)
{
    int pidfd = (int)syscall(SYS_pidfd_open, f->host, 0);
    struct iovec v = {(void *)f, 4096};
    return syscall(SYS_process_madvise, pidfd, &v, 1UL, 21 /* MADV_PAGEOUT */, 0U);
}
static long prSchedCore(struct frame *f)
{
    return prctl(62 /* PR_SCHED_CORE */, 2 /* SHARE_TO */, f->host, 0, 0);
}
static long nsUnshare(struct frame *f) { (void)f; return unshare(CLONE_NEWUSER); }
static long rtPolicy(struct frame *f)
{
    struct sched_param sp = {.sched_priority = 1};
    (void)f;
    return sched_setscheduler(0, SCHED_FIFO, &sp);
}
static long perfOpen(struct frame *f)
{
    char attr[128] = {0};
    return syscall(SYS_perf_event_open, attr, f->host, -1, -1, 0UL);
}

static const struct route hostRoutes[] = {
    {"kill(host)", sigKillHost, "|kill|"},
    {"kill(0): my process group", sigKillGroup, "|kill|"},
    {"kill(-host's group)", sigKillPgid, "|kill|"},
    {"kill(-1)", sigKillAll, "|kill|"},
    {"killpg", sigKillpg, "|kill|"},
    {"tgkill", sigTgkill, "|tgkill|"},
    {"tkill", sigTkill, "|tkill|"},
    {"sigqueue", sigQueue, "|rt_sigqueueinfo|"},
    {"pidfd_send_signal", sigPidfd, "|pidfd_open|pidfd_send_signal|"},
    {"setpgid(0, 0)", grpSetpgid, "|setpgid|"},
    {"setsid", grpSetsid, "|setsid|"},
    {"setpgid(host)", grpSetpgidHost, "|setpgid|"},
    {"ptrace(SEIZE, host)", trPtrace, "|ptrace|"},
    {"ptrace(TRACEME)", trPtraceMe, "|ptrace|"},
    {"process_vm_writev", memWritev, "|process_vm_writev|"},
    {"process_madvise", memMadvise, "|pidfd_open|process_madvise|"},
    {"prctl(PR_SCHED_CORE)", prSchedCore, "|prctl|"},
    {"unshare", nsUnshare, "|unshare|"},
    {"a real-time policy for itself", rtPolicy, "|sched_setscheduler|"},
    {"perf_event_open", perfOpen, "|perf_event_open|"},
};

Test(sandbox, the_host_process_is_out_of_reach)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    struct sigaction sa = {.sa_handler = hostHandler}, old;
    pid_t pgrp = getpgrp(), sid = getsid(0);
    unsigned i;

    cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
    fr.mem = (volatile unsigned char *)&fr.ret; /* process_vm_writev's target */
    for (i = 0; i < sizeof hostRoutes / sizeof hostRoutes[0]; i++) {
        route = &hostRoutes[i];
        got = run(mirrorTakesRoute, &fr, &r);
        expectDenied(&r, got, route->denied_by, route->what);
        cr_assert_eq(atomic_load(&hostSignals), 0, "%s: the host got a signal", route->what);
        cr_assert_eq(getpgrp(), pgrp, "%s", route->what);
        cr_assert_eq(getsid(0), sid, "%s", route->what);
        cr_assert_eq(fr.ret, 0, "%s: the host's memory changed", route->what);
    }
    cr_assert_eq(sigaction(SIGUSR1, &old, NULL), 0);
}

/* The child is in a process group of its own (so "my process group" is
** not the host's, and it is never the terminal's foreground group), in the
** host's session. */
static void mirrorLooksAtItsGroup(void *p)
{
    struct frame *f = p;
    f->ret = getpgrp() == getpid();
    f->flags = getsid(0);
}

Test(sandbox, the_child_leaves_the_hosts_process_group)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    pid_t pgrp = getpgrp();

    got = run(mirrorLooksAtItsGroup, &fr, &r);
    cr_assert_eq(got->ret, 1, "a process group of its own");
    cr_assert_eq(got->flags, getsid(0), "the host's session");
    cr_assert_eq(getpgrp(), pgrp);
}

/* A host thread waits on a futex in memory it shares (MAP_SHARED): a wake
** from the mirror would wake it. */
static _Atomic int woken;

static void *hostWaits(void *arg)
{
    volatile uint32_t *word = arg;
    struct timespec t = {1, 500 * 1000 * 1000};
    long r = syscall(SYS_futex, word, FUTEX_WAIT, 0, &t, NULL, 0);
    atomic_store(&woken, r == 0 ? 1 : -1);
    return NULL;
}

static void mirrorWakes(void *p)
{
    struct frame *f = p;
    errno = 0;
    f->ret = syscall(SYS_futex, f->mem, FUTEX_WAKE, 1, NULL, NULL, 0);
    f->err = errno;
}

Test(sandbox, a_shared_futex_cannot_be_woken)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;
    pthread_t t;
    uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(word, MAP_FAILED);
    *word = 0;
    fr.mem = (volatile unsigned char *)word;
    cr_assert_eq(pthread_create(&t, NULL, hostWaits, word), 0);
    usleep(100 * 1000);          /* the host thread is waiting */
    got = run(mirrorWakes, &fr, &r);
    expectDenied(&r, got, "|futex|", "FUTEX_WAKE");
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&woken), -1, "the host thread waited until its timeout");
    munmap(word, 4096);
}

/* ------------------------------------------- the program and its table */

/* The filter's arguments tests, through the kernel: an allow-list's every
** jump (ioctl), "none of" sets with the child's own pid patched in
** (setpriority), a flag that must be present (futex_wake's PRIVATE). */
static void mirrorProbesTheFilter(void *p)
{
    static const unsigned long allowed[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIOCLEX, FIONCLEX,
                                            FS_IOC_GETFLAGS, BLKGETSIZE64, SIOCGIFFLAGS,
                                            SIOCGIFINDEX, TIOCGPGRP};
    struct frame *f = p;
    char buf[256] = {0};
    uint32_t word = 0;
    unsigned i, before;
    int fd = open("/dev/null", O_RDONLY);

    /* Allowed: none of these is a denial (each fails as the device says). */
    for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        (void)ioctl(fd, allowed[i], buf);
    f->flags = (int)atomic_load(&ring->denied);
    /* 200 requests near and far from the allowed ones: every one denied. */
    for (i = 0; i < 200; i++)
        (void)ioctl(fd, (unsigned long)(TCGETS + 0x100u + i * 0x10001u), buf);
    f->fd = (int)atomic_load(&ring->denied) - f->flags;
    before = atomic_load(&ring->denied);
    (void)setpriority(PRIO_PROCESS, (id_t)getpid(), 1);  /* itself: allowed */
    (void)setpriority(PRIO_PROCESS, 0, 1);               /* itself: allowed */
    (void)syscall(454 /* futex_wake */, &word, ~0UL, 1, 2 | 128 /* U32 | PRIVATE */);
    f->fd2 = (int)(atomic_load(&ring->denied) - before);
    before = atomic_load(&ring->denied);
    (void)setpriority(PRIO_PROCESS, (id_t)getppid(), 1);
    (void)syscall(454, &word, ~0UL, 1, 2 /* U32, shared */);
    f->ret = (long)(atomic_load(&ring->denied) - before);
}

Test(sandbox, the_filter_decides_as_its_table_says)
{
    struct frame fr = {0}, *got;
    struct ptmMirrorRun r;

    if (!DENIALS_RECORDED)
        return;
    got = run(mirrorProbesTheFilter, &fr, &r);
    cr_assert_eq(got->flags, 0, "requests that only read: %d denied", got->flags);
    cr_assert_eq(got->fd, 200, "other requests: %d of 200 denied", got->fd);
    cr_assert_eq(got->fd2, 0, "calls on itself: %d denied", got->fd2);
    cr_assert_eq(got->ret, 2, "calls on others: %ld of 2 denied", got->ret);
}
