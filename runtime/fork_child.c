/*
** fork_child.c - the fork executor's child: from fork() to _exit(), the
** sandbox it sets up around the mirror and the mirror's run
** (ptmForkChildRun).  exec_fork.c forks it and reads what it left in the
** ring; the filter it attaches is sandbox.c's.
*/
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "fork_int.h"

/* PROCMAP_QUERY_IOCTL's flags (ptm_int.h, sandbox.c). */
#define PMQ_WRITABLE 0x02u
#define PMQ_EXECUTABLE 0x04u
#define PMQ_SHARED 0x08u
#define PMQ_COVERING_OR_NEXT 0x10u

/* ------------------------------------------------------------------------
** Child
**
** Until the mirror starts, the child makes its system calls itself
** (childSys), not through libc, and formats nothing with stdio.  A child
** of fork() starts without the page tables of the file mappings (code,
** libraries): each page of code it touches first is a page fault, and a
** libc function the parent never called (prctl, poll, dup3) goes through
** the dynamic linker's lazy binding, which walks the symbol tables of every
** library -- in every child.  Measured here, that was most of the
** sandbox's cost before the filter (bench/fork_bench.c).
*/

/* What the SIGSYS handler reads: set by the child before the filter is on. */
static struct ptmRing *childRing;
static uint64_t childT0;
static pid_t childPid;

#define CHILD_SETUP_FAILED 125 /* exit code when the sandbox could not be set up */

#if defined(__x86_64__)
static const int argReg[6] = {REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9};
#define SYSCALL_ARG(uc, i) ((uint64_t)(uc)->uc_mcontext.gregs[argReg[i]])
#define SET_SYSCALL_RET(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (greg_t)(v))
#elif defined(__aarch64__)
#define SYSCALL_ARG(uc, i) ((uint64_t)(uc)->uc_mcontext.regs[i])
#define SET_SYSCALL_RET(uc, v) ((uc)->uc_mcontext.regs[0] = (uint64_t)(int64_t)(v))
#endif


static int childOpen(const char *path, int flags)
{
    return (int)SYS4(SYS_openat, AT_FDCWD, path, flags, 0);
}

static void childClose(int fd)
{
    (void)SYS1(SYS_close, fd);
}

/* "fd N", async-signal-safe. */
static void fdTarget(char *dst, size_t cap, int64_t fd)
{
    char digits[24];
    size_t n = 0, i = 0;
    uint64_t v = fd < 0 ? (uint64_t)(-fd) : (uint64_t)fd;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0 && n < sizeof digits);
    if (fd < 0 && n < sizeof digits)
        digits[n++] = '-';
    if (cap < n + 4)
        return;
    memcpy(dst, "fd ", 3);
    for (i = 0; i < n; i++)
        dst[3 + i] = digits[n - 1 - i];
    dst[3 + n] = '\0';
}

/* "argN=0x..." (the low 32 bits the filter compared), async-signal-safe. */
static void argDetail(char *dst, size_t cap, int arg, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char buf[24];
    size_t n = 0;
    int shift;

    buf[n++] = 'a', buf[n++] = 'r', buf[n++] = 'g', buf[n++] = (char)('0' + arg);
    buf[n++] = '=', buf[n++] = '0', buf[n++] = 'x';
    for (shift = 28; shift > 0 && ((uint32_t)v >> shift) == 0; shift -= 4)
        ;
    for (; shift >= 0; shift -= 4)
        buf[n++] = hex[((uint32_t)v >> shift) & 0xf];
    if (cap < n + 1)
        return;
    memcpy(dst, buf, n);
    dst[n] = '\0';
}

/* Copies the string at addr in this process into dst without trusting it:
** process_vm_readv fails (or stops) at an unmapped page instead of
** faulting.  Async-signal-safe. */
static void pathTarget(char *dst, size_t cap, uint64_t addr)
{
    struct iovec local = {dst, cap - 1}, remote = {(void *)(uintptr_t)addr, cap - 1};
    ssize_t n = process_vm_readv(childPid, &local, 1, &remote, 1, 0);

    if (n <= 0) {
        ptmCopyField(dst, cap, "?");
        return;
    }
    dst[n] = '\0';
    if (strnlen(dst, (size_t)n) == (size_t)n && (size_t)n == cap - 1 && cap > 4)
        memcpy(dst + cap - 4, "...", 3);
}

/* SIGSYS from the filter: record the denial, count it, and make the system
** call return -EPERM to the mirror. */
static void childSigsys(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    const struct ptmSandboxDeny *d;
    struct ptmEvent *ev;
    unsigned nr = (unsigned)si->si_syscall;
    int saved = errno;

    (void)sig;
    atomic_fetch_add_explicit(&childRing->denied, 1, memory_order_relaxed);
    ev = ptmRingPush(childRing);
    if (ev) {
        ev->kind = PTM_EV_DENIED;
        ev->call = (uint16_t)(PTM_CALL_SYSCALL | (nr & 0x7fff));
        ev->err = EPERM;
        ev->result = -1;
        ev->t_ns = ptmOsNowNs() - childT0;
        if ((d = ptmSandboxDenied((int)nr)) != NULL) {
            if (d->path_arg >= 0)
                pathTarget(ev->target, sizeof ev->target, SYSCALL_ARG(uc, d->path_arg));
            else if (d->fd_arg >= 0)
                fdTarget(ev->target, sizeof ev->target, (int)SYSCALL_ARG(uc, d->fd_arg));
            if (d->detail_arg >= 0)
                argDetail(ev->detail, sizeof ev->detail, d->detail_arg,
                          SYSCALL_ARG(uc, d->detail_arg));
        }
    }
    SET_SYSCALL_RET(uc, -EPERM);
    errno = saved;
}

/* The signals whose host handlers must not run in the mirror: a crash is
** the mirror's observation, not the host's business. */
static const int crashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                                   SIGTRAP, SIGINT, SIGTERM, SIGPIPE};


#define KSA_RESTORER 0x04000000ul /* SA_RESTORER */

/* The return from a signal handler installed without libc: x86_64 needs
** one (glibc's __restore_rt is not exported); aarch64's kernel supplies
** its own from the vDSO. */
#if defined(__x86_64__)
#define STR_(x) #x
#define STR(x) STR_(x)
__asm__(".pushsection .text\n"
        ".align 16\n"
        "ptmForkRestorer:\n"
        "    movq $" STR(SYS_rt_sigreturn) ", %rax\n"
        "    syscall\n"
        ".popsection\n");
extern void ptmForkRestorer(void) __asm__("ptmForkRestorer")
    __attribute__((visibility("hidden")));
#define RESTORER ((uintptr_t)ptmForkRestorer)
#define RESTORER_FLAG KSA_RESTORER
#else
#define RESTORER ((uintptr_t)0)
#define RESTORER_FLAG 0ul
#endif

/* Child: sig's action, through the raw system call.  Raw also because an
** interposed sigaction() may refuse: AddressSanitizer's keeps its own
** SIGSEGV handler, which would then run (and report) in the mirror.
** 0 or an errno. */
static int childAction(int sig, uintptr_t handler, unsigned long flags)
{
    struct kernelSigaction ksa = {handler, flags, 0, 0};
    long r;

    if (handler) {
        ksa.flags |= RESTORER_FLAG;
        ksa.restorer = RESTORER;
    }
    r = SYS4(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
    return FAILED(r) ? (int)-r : 0;
}

/* Child: signals, core dumps, parent death.  The child starts with every
** signal blocked (forkHelperRun); it gets the host thread's mask back,
** less the crash signals and SIGSYS, once their actions are its own.
** 0 or an errno. */
static int childSignals(pid_t parent, uint64_t mask)
{
    struct rlimit core = {0, 0};
    uint64_t unblock = 1ull << (SIGSYS - 1);
    unsigned i;
    long r;
    int err;

    for (i = 0; i < sizeof crashSignals / sizeof crashSignals[0]; i++) {
        if ((err = childAction(crashSignals[i], 0 /* SIG_DFL */, 0)) != 0)
            return err;
        unblock |= 1ull << (crashSignals[i] - 1);
    }
    if ((err = childAction(SIGSYS, (uintptr_t)childSigsys, SA_SIGINFO)) != 0)
        return err;
    mask &= ~unblock;
    if (FAILED(r = SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof mask)))
        return (int)-r;
    /* A crashing mirror must not leave a core file behind: not dumpable
    ** is enough for the kernel (a core_pattern pipe included); the limit
    ** is for whoever reads it. */
    if (FAILED(r = SYS4(SYS_prlimit64, 0, RLIMIT_CORE, &core, NULL)) ||
        FAILED(r = SYS2(SYS_prctl, PR_SET_DUMPABLE, 0)) ||
        FAILED(r = SYS2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL)))
        return (int)-r;
    if (SYS0(SYS_getppid) != parent)
        return ESRCH;             /* the parent died before PDEATHSIG was set */
    return 0;
}


/* /dev/null opened once per mode, for the descriptors that become it. */
#define NULL_MODES 16
struct nullFds {
    int how[NULL_MODES];
    int fd[NULL_MODES];
    unsigned n;
};

/* Child: /dev/null opened with how (cached in nf), or -errno. */
static int childNull(struct nullFds *nf, int how)
{
    unsigned i;
    int fd;

    for (i = 0; i < nf->n; i++)
        if (nf->how[i] == how)
            return nf->fd[i];
    fd = childOpen("/dev/null", how);
    if (fd >= 0 && nf->n < NULL_MODES) {
        nf->how[nf->n] = how;
        nf->fd[nf->n++] = fd;
    }
    return fd;
}

/* "/proc/self/fd/N" into buf (room for 32). */
static void procFdPath(char *buf, int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    unsigned v = (unsigned)fd;

    memcpy(buf, prefix, sizeof prefix - 1);
    buf += sizeof prefix - 1;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *buf++ = digits[--n];
    *buf = '\0';
}

/* Child: one inherited descriptor made private.  A regular file or a
** directory is reopened through /proc/self/fd (the same inode and flags, a
** new open file description) at the same offset, and read-only (without
** O_APPEND either): a
** descriptor that could write the file would let a MAP_SHARED mapping of
** it be made writable with mprotect() (the filter sees neither the
** mapping nor the descriptor's mode), and any write-class call the filter
** misses fails on it (EBADF) all the same.  The host's flags are kept for
** the shims (ptmForkHostFlags).  Anything else -- a pipe, a socket, a
** terminal, an eventfd -- and a file that cannot be reopened become
** /dev/null opened the same way: reading those consumes data the parent
** has not read yet, and moving the offset of a shared description moves
** the parent's, which no mirror may do.  When not even /dev/null opens,
** the descriptor is closed (in the child only). */
static void childPrivateFd(int fd, struct nullFds *nf)
{
    struct stat st;
    int fl = (int)SYS2(SYS_fcntl, fd, F_GETFL), fdfl = (int)SYS2(SYS_fcntl, fd, F_GETFD);
    int nfd = -1, own = 0;

    if (fl < 0 || fdfl < 0 || (fl & O_PATH) || FAILED(SYS2(SYS_fstat, fd, &st)))
        return;                   /* not open, or an O_PATH: nothing to share */
    int how = (fl & (O_ACCMODE | O_APPEND | O_NONBLOCK)) | O_NOCTTY | O_CLOEXEC;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        char proc[32];
        procFdPath(proc, fd);
        nfd = childOpen(proc, (how & ~(O_ACCMODE | O_APPEND)) | O_RDONLY |
                                  (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        long at = nfd >= 0 ? SYS3(SYS_lseek, fd, 0, SEEK_CUR) : 0;
        if (at > 0 && SYS3(SYS_lseek, nfd, at, SEEK_SET) != at) {
            childClose(nfd);
            nfd = -1;
        }
        own = nfd >= 0;
    } else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 7) {
        /* /dev/full, reopened read-only (reading it takes nothing from
        ** anyone): the shims see the device and predict its ENOSPC, where
        ** /dev/null would predict success. */
        char proc[32];
        procFdPath(proc, fd);
        nfd = childOpen(proc, (how & ~(O_ACCMODE | O_APPEND)) | O_RDONLY);
        own = nfd >= 0;
    }
    if (nfd < 0)
        nfd = childNull(nf, how);
    if (nfd < 0 || FAILED(SYS3(SYS_dup3, nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0)))
        childClose(fd);
    else if (own && (fl & O_ACCMODE) != O_RDONLY)
        ptmForkNoteReopen(fd, fl, &st);
    if (own)
        childClose(nfd);
}

/* Child: the open descriptors, from /proc/self/fd, each made private.  The
** numbers are collected first: reopening adds entries to /proc/self/fd.
** OUT: *max, the highest.  0 or an errno. */
static __attribute__((noinline)) int childWalkFds(struct nullFds *nf, int *max)
{
    int dir = childOpen("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int small[256], *fds = small, cap = 256, n = 0, i;
    char buf[4096];
    long got;

    if (dir < 0)
        return -dir;
    while ((got = SYS3(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < got;) {
            const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */
            int fd = 0;
            off += *(const unsigned short *)(buf + off + 16);
            if (name[0] < '0' || name[0] > '9')
                continue;
            while (*name >= '0' && *name <= '9')
                fd = fd * 10 + (*name++ - '0');
            if (fd == dir)
                continue;
            if (n == cap) {
                int *more = malloc(sizeof *more * (size_t)cap * 2);
                if (!more)
                    break;
                memcpy(more, fds, sizeof *fds * (size_t)n);
                if (fds != small)
                    free(fds);
                fds = more;
                cap *= 2;
            }
            fds[n++] = fd;
        }
    }
    childClose(dir);
    for (i = 0; i < n; i++) {
        childPrivateFd(fds[i], nf);
        if (fds[i] > *max)
            *max = fds[i];
    }
    if (fds != small)
        free(fds);
    return FAILED(got) ? (int)-got : 0;
}

/* Child: every inherited descriptor made private (childPrivateFd); the
** highest one open goes to ring->fd_max.  The descriptors are found by one
** poll() over [0, bound) -- one that is not open answers POLLNVAL -- when
** their number is count, the parent's just before the fork; then any
** descriptor at or above bound is closed (close_range): one opened by
** another host thread between the count and the fork cannot stay shared.
** Otherwise (one at or above bound, a kernel before 6.2 whose count is 0)
** the child walks /proc/self/fd.  0 or an errno. */
static int childPrivateFds(struct ptmRing *ring, long count, unsigned bound)
{
    struct nullFds nf = {.n = 0};
    struct timespec zero = {0, 0};
    int err = 0, max = -1, n = 0;
    unsigned i;

    if (bound > FD_POLL_MAX)
        bound = FD_POLL_MAX;
    struct pollfd pf[bound];
    for (i = 0; i < bound; i++)
        pf[i] = (struct pollfd){.fd = (int)i, .events = 0, .revents = 0};
    /* EINVAL: bound is above RLIMIT_NOFILE, walk instead. */
    if (!FAILED(SYS5(SYS_ppoll, pf, bound, &zero, NULL, 0))) {
        for (i = 0; i < bound; i++)
            n += !(pf[i].revents & POLLNVAL);
    }
    if (n > 0 && n == count && !FAILED(SYS3(SYS_close_range, bound, ~0U, 0))) {
        for (i = 0; i < bound; i++) {
            if (pf[i].revents & POLLNVAL)
                continue;
            childPrivateFd((int)i, &nf);
            max = (int)i;
        }
    } else {
        err = childWalkFds(&nf, &max);
    }
    for (i = 0; i < nf.n; i++)
        childClose(nf.fd[i]);
    ring->fd_max = max;
    return err;
}

/* mseal(2), Linux 6.10: the same number on x86_64 and aarch64. */
#define NR_MSEAL 462


/* Child: [start, start + len) replaced by a private, read-only copy of
** itself, for a kernel without mseal: the mirror reads the same bytes, and
** no mprotect() can make the host's pages writable again.  The copy is
** taken with process_vm_readv, which stops at a page it cannot read (past
** the end of a truncated file) instead of faulting: the rest reads as
** zeros.  Unmapped when no copy can be made.  0 or an errno. */
static int childPrivatize(uintptr_t start, size_t len, int exec)
{
    long copy = childSys(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct iovec local = {(void *)copy, len}, remote = {(void *)start, len};
    long r;

    if (!FAILED(copy) &&
        !FAILED(childSys(SYS_process_vm_readv, childPid, (long)&local, 1, (long)&remote, 1, 0)) &&
        !FAILED(SYS3(SYS_mprotect, copy, len, PROT_READ | (exec ? PROT_EXEC : 0))) &&
        !FAILED(childSys(SYS_mremap, copy, (long)len, (long)len, MREMAP_MAYMOVE | MREMAP_FIXED,
                         (long)start, 0)))
        return 0;
    if (!FAILED(copy))
        (void)SYS2(SYS_munmap, copy, len);
    return FAILED(r = SYS2(SYS_munmap, start, len)) ? (int)-r : 0;
}

/* Child: the shared mapping [start, end) made read-only when writable,
** and sealed (mseal) so that mprotect() cannot make it writable again.  A
** writable one that cannot be made read-only is unmapped.  Where it cannot
** be sealed (Linux before 6.10, valgrind: *seal is then 0), a mapping that
** mprotect() could make writable -- the kernel says so by doing it -- is
** replaced by a private copy (childPrivatize); one it cannot (a file
** opened read-only) stays as it is.  0 or an errno (the mapping is still
** writable). */
static int childShareOne(uintptr_t start, uintptr_t end, int writable, int exec, int *seal)
{
    size_t len = end - start;
    int prot = PROT_READ | (exec ? PROT_EXEC : 0);
    long r;

    if (writable && FAILED(SYS3(SYS_mprotect, start, len, prot)))
        return FAILED(r = SYS2(SYS_munmap, start, len)) ? (int)-r : 0;
    if (*seal) {
        if (!FAILED(r = SYS3(NR_MSEAL, start, len, 0)))
            return 0;
        if (r == -ENOSYS)
            *seal = 0;
    }
    if (FAILED(SYS3(SYS_mprotect, start, len, prot | PROT_WRITE)))
        return 0;                 /* it can never be writable */
    return childPrivatize(start, len, exec);
}

/* Child: the shared mappings, from PROCMAP_QUERY on fd (/proc/self/maps).
** 0, ENOTTY or EINVAL (a kernel without it), or another errno. */
static int childSharedByQuery(int fd, const struct ptmRing *ring, int *seal)
{
    uint64_t addr = 0;
    long r;
    int err;

    for (;;) {
        struct ptmProcmapQuery q = {.size = sizeof q,
                                 .query_flags = PMQ_COVERING_OR_NEXT | PMQ_SHARED,
                                 .query_addr = addr};
        if (FAILED(r = SYS3(SYS_ioctl, fd, PROCMAP_QUERY_IOCTL, &q)))
            return r == -ENOENT ? 0 : (int)-r;
        if (q.vma_start != (uintptr_t)ring &&
            (err = childShareOne(q.vma_start, q.vma_end, (q.vma_flags & PMQ_WRITABLE) != 0,
                                 (q.vma_flags & PMQ_EXECUTABLE) != 0, seal)) != 0)
            return err;
        addr = q.vma_end;
    }
}

static int hexDigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Child: the shared mappings, from the text of /proc/self/maps on fd
** ("start-end rw-s ..." per line), read in chunks without stdio or
** malloc.  0 or an errno. */
static __attribute__((noinline)) int childSharedByText(int fd, const struct ptmRing *ring,
                                                      int *seal)
{
    char buf[4096], perms[4] = {0};
    uintptr_t start = 0, end = 0;
    int state = 0, np = 0, d, err;
    long got, i;

    while ((got = SYS3(SYS_read, fd, buf, sizeof buf)) > 0) {
        for (i = 0; i < got; i++) {
            char c = buf[i];
            switch (state) {
            case 0: /* start */
                if ((d = hexDigit(c)) >= 0)
                    start = start * 16 + (uintptr_t)d;
                else
                    state = 1;
                break;
            case 1: /* end */
                if ((d = hexDigit(c)) >= 0)
                    end = end * 16 + (uintptr_t)d;
                else
                    state = 2, np = 0;
                break;
            case 2: /* perms */
                perms[np++] = c;
                if (np < 4)
                    break;
                state = 3;
                if (perms[3] == 's' && start != (uintptr_t)ring &&
                    (err = childShareOne(start, end, perms[1] == 'w', perms[2] == 'x', seal)) != 0)
                    return err;
                break;
            default: /* the rest of the line */
                break;
            }
            if (c == '\n')
                state = 0, start = end = 0;
        }
    }
    return FAILED(got) ? (int)-got : 0;
}

/* Child: every shared mapping but ring made read-only and sealed
** (childShareOne): a store into memory the host shares with another
** process, or into its other threads' rings, is then a SIGSEGV -- the
** mirror crashed writing to shared memory -- and not a write that gets
** out.  0 or an errno. */
static int childSharedMemory(const struct ptmRing *ring)
{
    int fd = childOpen("/proc/self/maps", O_RDONLY | O_CLOEXEC), err, seal;

    if (fd < 0)
        return -fd;
    /* valgrind 3.19 knows neither mseal nor PROCMAP_QUERY, and warns. */
    seal = !RUNNING_ON_VALGRIND;
    err = RUNNING_ON_VALGRIND ? ENOTTY : childSharedByQuery(fd, ring, &seal);
    if (err == ENOTTY || err == EINVAL)
        err = childSharedByText(fd, ring, &seal);
    childClose(fd);
    return err;
}

/* Child: a Landlock domain of its own, with no rule: the kernel then
** refuses this process ptrace access to every process outside the domain
** -- /proc/<pid>/fd/N (the host's stdin pipe, its files' descriptions),
** /proc/<pid>/mem, process_vm_readv, pidfd_getfd, kcmp -- whatever the
** uids, root included; from ABI 6 also signals and abstract Unix sockets
** outside it.  It also handles every filesystem write right, so a write
** the filter misses (a system call newer than its table) finds no file it
** may write.  Reads are not restricted.  0 (also when the kernel has no
** Landlock) or an errno. */
static int childLandlock(void)
{
    struct ptmLandlockRuleset rs;
    size_t size = ptmSandboxLandlock(&rs);
    long fd, r;

    if (!size)
        return 0;
    if (FAILED(fd = SYS3(PTM_NR_LANDLOCK_CREATE_RULESET, &rs, size, 0)))
        return (int)-fd;
    r = SYS2(PTM_NR_LANDLOCK_RESTRICT_SELF, fd, 0);
    childClose((int)fd);
    return FAILED(r) ? (int)-r : 0;
}

/* Child: out of the host's reach, before the filter: a process group of
** its own, so that "my process group" (kill(0), setpriority(PRIO_PGRP, 0),
** ioprio_set(IOPRIO_WHO_PGRP, 0)) means the child alone, and so that it is
** never the foreground group of the host's terminal: a read of /dev/tty
** then fails (EIO, SIGTTIN ignored) instead of taking the host's input;
** then no new privileges, and the Landlock domain.  Not setsid(), which
** would close /dev/tty too: with scheduler autogroups (the default) it
** creates a task group per child, measured here at milliseconds.  The
** filter's rows stand behind a setpgid() that failed.  0 or an errno. */
static int childConfine(void)
{
    long r;
    int err;

    (void)SYS2(SYS_setpgid, 0, 0);
    if ((err = childAction(SIGTTIN, (uintptr_t)SIG_IGN, 0)) != 0)
        return err;
    if (FAILED(r = SYS5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)))
        return (int)-r;
    return childLandlock();
}

/* Child: confined (childConfine), then the filter, with this child's pid
** and deadline timer (-1: none) patched in.  seccomp(2) with
** SECCOMP_FILTER_FLAG_SPEC_ALLOW: the mirror is the host's own code, not
** an adversary, so the speculative store bypass mitigation that kernels
** booted with spec_store_bypass_disable=seccomp (the default before 5.16)
** would force on it, slowing its every store, protects nothing.  prctl()
** when that flag is unknown (before 4.17) and under valgrind.  0 or an
** errno. */
static int childSeccomp(int timer)
{
    struct sock_fprog *prog = ptmSandboxProgram((uint32_t)childPid, (uint32_t)timer);
    long r;
    int err;

    if ((err = childConfine()) != 0)
        return err;
    if (!RUNNING_ON_VALGRIND && !FAILED(SYS3(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                             SECCOMP_FILTER_FLAG_SPEC_ALLOW, prog)))
        return 0;
    if (FAILED(r = SYS3(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog)))
        return (int)-r;
    return 0;
}

/* The child's one way out: _exit(), without libc's wrapper (see above). */
static __attribute__((noreturn)) void childExit(int code)
{
    for (;;)
        (void)SYS1(SYS_exit_group, code);
}

static __attribute__((noreturn)) void childFail(struct ptmRing *ring, int err)
{
    atomic_store_explicit(&ring->setup_err, err ? err : EINVAL, memory_order_relaxed);
    childExit(CHILD_SETUP_FAILED);
}


/* Child: the deadline, as a POSIX timer that sends SIGKILL (which cannot be
** blocked, caught or ignored) at deadline, CLOCK_MONOTONIC.  The parent
** then only waits.  OUT: *id, the timer's id, for the filter to protect
** it (-1: no deadline).  0 or an errno. */
static int childDeadline(uint64_t deadline, int *id)
{
    struct sigevent sev;
    struct itimerspec at;
    long r;

    *id = -1;
    if (!deadline)
        return 0;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGKILL;
    if (FAILED(r = SYS3(SYS_timer_create, CLOCK_MONOTONIC, &sev, id)))
        return (int)-r;
    memset(&at, 0, sizeof at);
    at.it_value.tv_sec = (time_t)(deadline / 1000000000u);
    at.it_value.tv_nsec = (long)(deadline % 1000000000u);
    if (FAILED(r = SYS4(SYS_timer_settime, *id, TIMER_ABSTIME, &at, NULL)))
        return (int)-r;
    return 0;
}

/* Child: desc->mirror on buf.  Returns 1 when it left by longjmp, to a
** frame of the host (longjmp.c lands here instead): the child must not
** run the host's program on from there.  0 when it returned. */
static __attribute__((noinline)) int childMirror(const struct ptm_tx_desc *desc, void *buf)
{
    sigjmp_buf back;
    struct ptmJumpScope scope = {.kind = PTM_SCOPE_MIRROR,
                                 .hi = (uintptr_t)__builtin_frame_address(0),
                                 .back = &back};

    if (sigsetjmp(back, 0) != 0) {
        ptmJumpLeave(&scope);
        return 1;
    }
    ptmJumpEnter(&scope);
    desc->mirror(buf);
    ptmJumpLeave(&scope);
    return 0;
}

/*
** ptmForkChildRun: see fork_int.h.  The deadline first, then the sandbox;
** run the mirror on the ring's frame (the parent copied the
** caller's there; a frame too big for the ring runs on a malloc'd copy and
** is not handed back), judge its result against success_criteria here,
** where the frame and whatever its pointers reach are the mirror's own,
** and put the verdict in the ring; mark the ring returned, _exit.  The
** verdict is stored before returned: criteria that crash on the mirror's
** result end the child as a crashed mirror, as the primary would crash.
*/
void ptmForkChildRun(const struct ptmForkChildArgs *a)
{
    struct ptmRing *ring = a->ring;
    unsigned char *buf = ring->frame;
    size_t size = a->desc->frame_size;
    struct ptmMirror m;
    int err, timer;

    ring->stamp_ns[PTM_STAMP_CHILD] = ptmOsNowNs();
    childRing = ring;
    childPid = (pid_t)SYS0(SYS_getpid);
    if ((err = childDeadline(a->deadline, &timer)) != 0 ||
        (err = childSignals(a->parent, a->mask)) != 0)
        childFail(ring, err);
    ring->stamp_ns[PTM_STAMP_SIGNALS] = ptmOsNowNs();
    if ((err = childPrivateFds(ring, a->fd_count, a->fd_bound)) != 0)
        childFail(ring, err);
    ring->stamp_ns[PTM_STAMP_FDS] = ptmOsNowNs();
    if ((err = childSharedMemory(ring)) != 0)
        childFail(ring, err);
    ring->stamp_ns[PTM_STAMP_SHARED] = ptmOsNowNs();
    if (size > PTM_RING_FRAME_MAX) {
        if (!(buf = malloc(size)))
            childFail(ring, ENOMEM);
        memcpy(buf, a->frame, size);
    }
    ptmMirrorEnter(&m, ring);
    m.host_flags = ptmForkHostFlags;
    childT0 = m.t0_ns;
    if ((err = childSeccomp(timer)) != 0)
        childFail(ring, err);
    ring->stamp_ns[PTM_STAMP_FILTER] = ptmOsNowNs();

    if (childMirror(a->desc, buf)) {
        ring->stamp_ns[PTM_STAMP_MIRROR] = ptmOsNowNs();
        ptmMirrorCurrent = NULL;
        atomic_store_explicit(&ring->left, 1, memory_order_release);
        childExit(0);
    }
    atomic_store_explicit(&ring->end_errno, errno, memory_order_relaxed);

    ring->stamp_ns[PTM_STAMP_MIRROR] = ptmOsNowNs();
    ptmMirrorCurrent = NULL;
    if (a->desc->success)
        atomic_store_explicit(&ring->verdict,
                              a->desc->success(buf) ? PTM_VERDICT_MET : PTM_VERDICT_FAILED,
                              memory_order_relaxed);
    if (size <= PTM_RING_FRAME_MAX)
        ring->frame_len = (uint32_t)size;
    atomic_store_explicit(&ring->returned, 1, memory_order_release);
    childExit(0);
}
