/*
** os.c - the system calls of libptm, behind one replaceable table.
**
** Every system call the executors and the shims make goes through ptmOs,
** so that a test can replace one entry (a fork that fails with EAGAIN, a
** statvfs that reports a full disk, an access() that says EACCES to root, a
** waitpid interrupted by EINTR) and put the real call back with
** ptmOsReset().  The entries are thin wrappers rather than the libc symbols
** themselves because some libc functions are variadic (open), inline under
** _FORTIFY_SOURCE, or missing from the libc (pidfd_open before glibc 2.36).
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"

static int osOpen(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static int osClose(int fd)
{
    return close(fd);
}

static ssize_t osRead(int fd, void *buf, size_t n)
{
    return read(fd, buf, n);
}

static ssize_t osWrite(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}

static int osAccess(const char *path, int mode)
{
    return access(path, mode);
}

/* The history store's directory (store.c). */
static int osMkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode);
}

static int osStat(const char *path, struct stat *st)
{
    return stat(path, st);
}

static int osLstat(const char *path, struct stat *st)
{
    return lstat(path, st);
}

static int osFstat(int fd, struct stat *st)
{
    return fstat(fd, st);
}

static int osStatvfs(const char *path, struct statvfs *st)
{
    return statvfs(path, st);
}

static int osFstatvfs(int fd, struct statvfs *st)
{
    return fstatvfs(fd, st);
}

/* The limit of this process, as glibc asks it (prlimit64).  The kernel's
** own getrlimit(2) costs half as much here, but a host's seccomp filter
** made from what the plain program calls (glibc's prlimit64) may kill the
** process on getrlimit(2), which the plain program never makes. */
static int osGetrlimit(int resource, struct rlimit *rl)
{
    return getrlimit(resource, rl);
}

static int osFcntlGetfl(int fd)
{
    return fcntl(fd, F_GETFL);
}

static pid_t osFork(void)
{
    return fork();
}

static pid_t osWaitpid(pid_t pid, int *status, int options)
{
    return waitpid(pid, status, options);
}

static int osKill(pid_t pid, int sig)
{
    return kill(pid, sig);
}

/* pidfd_open(2) through syscall(2): glibc before 2.36 has no wrapper, and
** a kernel before 5.3 answers ENOSYS, which the fork executor handles. */
static int osPidfdOpen(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int osPoll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return poll(fds, n, timeout_ms);
}

static void *osMmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

static int osMunmap(void *addr, size_t len)
{
    return munmap(addr, len);
}

static int osNanosleep(const struct timespec *req, struct timespec *rem)
{
    return nanosleep(req, rem);
}

static off_t osLseek(int fd, off_t off, int whence)
{
    return lseek(fd, off, whence);
}

static int osMadvise(void *addr, size_t len, int advice)
{
    return madvise(addr, len, advice);
}

static ssize_t osPread(int fd, void *buf, size_t n, off_t off)
{
    return pread(fd, buf, n, off);
}

static int osFcntlLock(int fd, int cmd, struct flock *fl)
{
    return fcntl(fd, cmd, fl);
}

static int osFcntlInt(int fd, int cmd, int arg)
{
    return fcntl(fd, cmd, arg);
}

static int osIoctlInt(int fd, unsigned long req, int *out)
{
    return ioctl(fd, req, out);
}

/* getdents64(2) through syscall(2): opendir() would allocate a DIR the
** fault-injecting tests could not replace. */
static long osGetdents(int fd, void *buf, size_t n)
{
    return syscall(SYS_getdents64, fd, buf, n);
}

static ssize_t osReadlink(const char *path, char *buf, size_t n)
{
    return readlink(path, buf, n);
}

static char *osGetcwd(char *buf, size_t n)
{
    return getcwd(buf, n);
}

static int osSocket(int domain, int type, int proto)
{
    return socket(domain, type, proto);
}

static int osConnect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return connect(fd, addr, len);
}

static int osGetsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    return getsockopt(fd, level, opt, val, len);
}

static int osGetpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    return getpeername(fd, addr, len);
}

static int osClockGettime(clockid_t clk, struct timespec *ts)
{
    return clock_gettime(clk, ts);
}

static int osMutexTrylock(pthread_mutex_t *mu)
{
    return pthread_mutex_trylock(mu);
}

static int osMutexUnlock(pthread_mutex_t *mu)
{
    return pthread_mutex_unlock(mu);
}

static int osRwlockTryrdlock(pthread_rwlock_t *rw)
{
    return pthread_rwlock_tryrdlock(rw);
}

static int osRwlockTrywrlock(pthread_rwlock_t *rw)
{
    return pthread_rwlock_trywrlock(rw);
}

static int osRwlockUnlock(pthread_rwlock_t *rw)
{
    return pthread_rwlock_unlock(rw);
}

static int osSpinTrylock(pthread_spinlock_t *sp)
{
    return pthread_spin_trylock(sp);
}

static int osSpinUnlock(pthread_spinlock_t *sp)
{
    return pthread_spin_unlock(sp);
}

static pid_t osGetpid(void)
{
    return getpid();
}

/* The resource broker's calls (broker.c) and the call's socket timeouts
** (adjust.c). */
static int osSetrlimit(int resource, const struct rlimit *rl)
{
    return setrlimit(resource, rl);
}

static int osGetnice(int *out)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (n == -1 && errno)
        return -1;
    *out = n;
    return 0;
}

static int osSetnice(int nice)
{
    return setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
}

static int osGetaffinity(size_t size, cpu_set_t *set)
{
    return sched_getaffinity(0, size, set);
}

static int osSetaffinity(size_t size, const cpu_set_t *set)
{
    return sched_setaffinity(0, size, set);
}

static int osSetsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    return setsockopt(fd, level, opt, val, len);
}

static ssize_t osReadSelf(void *dst, const void *src, size_t n)
{
    struct iovec local = {dst, n}, remote = {(void *)(uintptr_t)src, n};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
}

#define PTM_OS_REAL                                                         \
    {                                                                       \
        .open = osOpen, .close = osClose, .read = osRead, .write = osWrite, \
        .access = osAccess, .mkdir = osMkdir, .stat = osStat,               \
        .fstat = osFstat,                                                   \
        .statvfs = osStatvfs, .fstatvfs = osFstatvfs,                       \
        .getrlimit = osGetrlimit, .fcntl_getfl = osFcntlGetfl,              \
        .fork = osFork, .waitpid = osWaitpid, .kill = osKill,               \
        .pidfd_open = osPidfdOpen, .poll = osPoll, .mmap = osMmap,          \
        .munmap = osMunmap, .nanosleep = osNanosleep, .lstat = osLstat,     \
        .lseek = osLseek, .madvise = osMadvise,                             \
        .pread = osPread, .fcntl_lock = osFcntlLock, .fcntl_int = osFcntlInt, \
        .ioctl_int = osIoctlInt, .getdents = osGetdents,                    \
        .readlink = osReadlink, .getcwd = osGetcwd, .socket = osSocket,     \
        .connect = osConnect, .getsockopt = osGetsockopt,                   \
        .getpeername = osGetpeername, .clock_gettime = osClockGettime,      \
        .mutex_trylock = osMutexTrylock, .mutex_unlock = osMutexUnlock,     \
        .rwlock_tryrdlock = osRwlockTryrdlock,                              \
        .rwlock_trywrlock = osRwlockTrywrlock,                              \
        .rwlock_unlock = osRwlockUnlock, .spin_trylock = osSpinTrylock,     \
        .spin_unlock = osSpinUnlock, .getpid = osGetpid,                    \
        .setrlimit = osSetrlimit, .getnice = osGetnice, .setnice = osSetnice, \
        .getaffinity = osGetaffinity, .setaffinity = osSetaffinity,         \
        .setsockopt = osSetsockopt, .read_self = osReadSelf,                \
    }

struct ptmOsTable ptmOs = PTM_OS_REAL;

/*
** ptmOsReset: puts the real system calls back into every entry of ptmOs.
** Not thread-safe with respect to calls in flight: tests call it between
** cases.
*/
void ptmOsReset(void)
{
    static const struct ptmOsTable real = PTM_OS_REAL;
    ptmOs = real;
}

/*
** ptmOsNowNs: CLOCK_MONOTONIC in nanoseconds.  Served by the vDSO, so it is
** cheap, async-signal-safe, and no system call a seccomp filter could see.
*/
uint64_t ptmOsNowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ptmOsPid's cache: 0 until the first call, and again in a fork child. */
static _Atomic pid_t cachedPid;

/* The child side of every fork(): the pid it inherited is its parent's.
** Async-signal-safe (a store), and takes no lock: a fork executor child
** runs it too. */
static void pidForget(void)
{
    atomic_store_explicit(&cachedPid, 0, memory_order_relaxed);
}

/* Registered before main: a handler registered by a thread while another
** forks is not run for that fork (glibc runs only those its prepare step
** saw), and that child would keep its parent's pid. */
__attribute__((constructor)) static void pidRegister(void)
{
    pthread_atfork(NULL, NULL, pidForget);
}

/*
** ptmOsPid: getpid(), asked of the kernel once per process.  The cache is
** forgotten by a pthread_atfork child handler (registered before main, so
** no child of fork() inherits a value without the handler), which covers fork() and the fork executor's children; a child
** made by a raw clone(2) or by _Fork() runs no handler and would see its
** parent's pid.  When a test has replaced ptmOs.getpid, that is called
** every time and nothing is cached.  Thread-safe.
*/
pid_t ptmOsPid(void)
{
    pid_t pid = atomic_load_explicit(&cachedPid, memory_order_relaxed);

    if (ptmOs.getpid != osGetpid)
        return ptmOs.getpid();
    if (pid > 0)
        return pid;
    pid = osGetpid();
    atomic_store_explicit(&cachedPid, pid, memory_order_relaxed);
    return pid;
}
