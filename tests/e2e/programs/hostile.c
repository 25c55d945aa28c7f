/* A hostile mirror: each attack tries one way to change the world or to
 * reach the host process from a fork mirror, with raw system calls ptmcc
 * cannot redirect.  Run with PTM_DRY_RUN=1 only the mirror makes them.
 *
 *   hostile ATTACK DIR [auto]
 *
 * DIR holds the victim files (victim, log).  The host opens DIR/victim
 * read-write at offset 5, DIR/log for appending, installs a SIGUSR1
 * counter, and prints its own state before and after the transaction
 * (priorities, process group, session, offsets, pending input, signals,
 * a global the mirror may try to write through process_vm_writev, its
 * terminal's modes); then it reads its stdin to the end and prints how
 * much it got.  test_hostile.py compares everything.  With "auto" the
 * transaction is the one with the default executor choice. */
#define _GNU_SOURCE
#include <ptm.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/ioprio.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t host_signals;
static volatile long host_global = 42;
static volatile uint32_t *host_futex; /* MAP_SHARED, a host thread would wait on it */

static void on_usr1(int sig)
{
    (void)sig;
    host_signals++;
}

/* Every attack tries everything it can and counts what got through. */
static int ok(long r)
{
    return r >= 0;
}

static char *at(const char *dir, const char *name)
{
    static char path[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
    return path[i];
}

/* Files, through descriptors. */
static int write_fd(const char *dir, int fd)
{
    struct iovec v = {"X", 1};
    (void)dir;
    return ok(write(fd, "X", 1)) + ok(pwrite(fd, "X", 1, 0)) + ok(writev(fd, &v, 1)) +
           ok(pwritev2(fd, &v, 1, 0, 0)) + ok(ftruncate(fd, 1)) +
           ok(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4)) +
           ok(fsync(fd)) + ok(fchmod(fd, 0777)) + ok(fchown(fd, 1, 1)) + ok(futimens(fd, NULL)) +
           ok(fsetxattr(fd, "user.ptm", "x", 1, 0)) + ok(flock(fd, LOCK_EX)) +
           ok(copy_file_range(open(at(dir, "log"), O_RDONLY), NULL, fd, NULL, 4, 0)) +
           ok(sendfile(fd, open(at(dir, "log"), O_RDONLY), NULL, 4));
}

/* A shared mapping of the host's read-write descriptor made writable. */
static int mmap_writable(const char *dir, int fd)
{
    int got = 0;
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0), *q;
    (void)dir;
    if (p != MAP_FAILED && mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0)
        p[0] = 'M', got++;
    if (p != MAP_FAILED && syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, -1) == 0)
        p[1] = 'M', got++;
    if (p != MAP_FAILED && (q = mremap(p, 4096, 4096, MREMAP_MAYMOVE)) != MAP_FAILED &&
        mprotect(q, 4096, PROT_READ | PROT_WRITE) == 0)
        q[2] = 'M', got++;
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED)
        p[3] = 'M', got++;
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, 0x03 /* MAP_SHARED_VALIDATE */, fd, 0);
    if (p != MAP_FAILED)
        p[4] = 'M', got++;
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED && madvise(p, 4096, MADV_REMOVE) == 0)
        got++;
    if (p != MAP_FAILED && madvise(p, 4096, 23 /* MADV_POPULATE_WRITE */) == 0)
        got++;
    /* through a new descriptor: /proc/self/fd of the host's, dup */
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int fd2 = open(self, O_RDONLY);
    p = fd2 < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd2, 0);
    if (p != MAP_FAILED && mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0)
        p[5] = 'M', got++;
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, dup(fd), 0);
    if (p != MAP_FAILED && mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0)
        p[6] = 'M', got++;
    return got + ok(open(self, O_RDWR));
}

/* Files, by name. */
static int by_name(const char *dir, int fd)
{
    (void)fd;
    return ok(open(at(dir, "victim"), O_RDWR)) + ok(open(at(dir, "new"), O_CREAT | O_RDONLY, 0644)) +
           ok(open(at(dir, "victim"), O_RDONLY | O_TRUNC)) + ok(creat(at(dir, "new"), 0644)) +
           ok(truncate(at(dir, "victim"), 0)) + ok(rename(at(dir, "victim"), at(dir, "moved"))) +
           ok(unlink(at(dir, "log"))) + ok(link(at(dir, "victim"), at(dir, "hard"))) +
           ok(symlink(at(dir, "victim"), at(dir, "soft"))) + ok(mkdir(at(dir, "sub"), 0755)) +
           ok(mkfifo(at(dir, "fifo"), 0644)) + ok(chmod(at(dir, "victim"), 0777)) +
           ok(chown(at(dir, "victim"), 1, 1)) + ok(utimes(at(dir, "victim"), NULL)) +
           ok(setxattr(at(dir, "victim"), "user.ptm", "x", 1, 0)) +
           ok(removexattr(at(dir, "victim"), "user.ptm")) +
           ok(syscall(SYS_openat2, AT_FDCWD, at(dir, "victim"), NULL, 0));
}

/* ioctls that change a file, a terminal, an interface. */
static int ioctls(const char *dir, int fd)
{
    unsigned flags = FS_APPEND_FL | FS_NODUMP_FL;
    struct fsxattr x = {0};
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM, 0), got = 0, ro = open(at(dir, "victim"), O_RDONLY);
    (void)ioctl(ro, FS_IOC_FSGETXATTR, &x);
    x.fsx_xflags |= FS_XFLAG_NODUMP | FS_XFLAG_APPEND;
    got += ok(ioctl(ro, FS_IOC_FSSETXATTR, &x)) + ok(ioctl(fd, FS_IOC_SETFLAGS, &flags));
    got += ok(ioctl(fd, FICLONE, open(at(dir, "log"), O_RDONLY)));
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) /* the same flags: harmless if it got through */
        got += ok(ioctl(s, SIOCSIFFLAGS, &ifr));
    return got;
}

/* The controlling terminal's name, from /proc/self/stat's tty_nr (the
 * host's, which the child shares): "/dev/pts/N", or "" when not a pty. */
static void tty_path(char *path, size_t cap)
{
    char buf[512];
    int fd = open("/proc/self/stat", O_RDONLY), n = fd < 0 ? -1 : (int)read(fd, buf, sizeof buf - 1);
    unsigned long nr = 0;
    char *p;

    path[0] = '\0';
    if (n <= 0)
        return;
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')) || sscanf(p + 2, "%*c %*d %*d %*d %lu", &nr) != 1)
        return;
    if (((nr >> 8) & 0xfff) >= 136 && ((nr >> 8) & 0xfff) <= 143)
        snprintf(path, cap, "/dev/pts/%lu",
                 (((nr >> 8) & 0xfff) - 136) * 256 + ((nr & 0xff) | ((nr >> 12) & 0xfff00)));
}

/* The host's terminal: modes, input, size, its process group; through
 * /dev/tty, /proc/<host>/fd/0 and its /dev/pts name. */
static int terminal(const char *dir, int fd)
{
    int got = 0, t = open("/dev/tty", O_RDONLY | O_NOCTTY), n;
    char proc[64], pts[64], c = 'x';
    struct termios tio;
    uint32_t t2[11];
    struct winsize ws = {1, 1, 0, 0};
    (void)dir;
    (void)fd;
    snprintf(proc, sizeof proc, "/proc/%d/fd/0", (int)getppid());
    tty_path(pts, sizeof pts);
    for (n = 0; n < 3; n++, t = open(n == 1 ? proc : pts, O_RDONLY | O_NOCTTY)) {
        if (t < 0)
            continue;
        got++;
        if (tcgetattr(t, &tio) == 0) {
            tio.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
            got += ok(tcsetattr(t, TCSANOW, &tio));
        }
        if (ioctl(t, 0x802c542a /* TCGETS2 */, t2) == 0) {
            t2[3] &= ~(uint32_t)ECHO;
            got += ok(ioctl(t, 0x402c542b /* TCSETS2 */, t2));
        }
        got += ok(ioctl(t, TIOCSTI, &c)) + ok(ioctl(t, TIOCSWINSZ, &ws)) +
               ok(ioctl(t, TCFLSH, TCIFLUSH)) + ok(tcsetpgrp(t, getpgrp()));
        char buf[64];
        fcntl(t, F_SETFL, O_NONBLOCK);
        got += read(t, buf, sizeof buf) > 0;
    }
    return got;
}

/* The host's descriptors: its pending stdin, its file offset. */
static int host_fds(const char *dir, int fd)
{
    char path[64], buf[64];
    int got = 0, pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0), n, t;
    (void)dir;
    for (n = 0; n < 2; n++) {
        int target = n ? fd : 0;
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getppid(), target);
        if ((t = open(path, O_RDONLY | O_NONBLOCK)) >= 0)
            got += read(t, buf, sizeof buf) > 0;
        if ((t = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0)) >= 0)
            got += 1 + (read(t, buf, sizeof buf) > 0) + (lseek(t, 0, SEEK_END) > 0);
    }
    snprintf(path, sizeof path, "/proc/%d/mem", (int)getppid());
    got += ok(open(path, O_RDWR)) + ok(open(path, O_RDONLY));
    return got;
}

/* Priorities, process groups, sessions. */
static int groups(const char *dir, int fd)
{
    (void)dir;
    (void)fd;
    return ok(setpriority(PRIO_PGRP, 0, 9)) + ok(setpriority(PRIO_PROCESS, (id_t)getppid(), 9)) +
           ok(setpriority(PRIO_PGRP, (id_t)getpgid(getppid()), 9)) +
           ok(syscall(SYS_ioprio_set, IOPRIO_WHO_PGRP, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0))) +
           ok(syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, getppid(),
                      IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0))) +
           ok(setpgid(0, 0)) + ok(setsid()) + ok(setpgid(getppid(), 0)) +
           ok(sched_setaffinity(getppid(), sizeof(cpu_set_t), &(cpu_set_t){{1}})) +
           ok(prlimit(getppid(), RLIMIT_NOFILE, &(struct rlimit){16, 16}, NULL));
}

/* Signals to the host, its group, everyone. */
static int signals(const char *dir, int fd)
{
    union sigval v = {.sival_int = 1};
    int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
    (void)dir;
    (void)fd;
    return ok(kill(getppid(), SIGUSR1)) + ok(kill(0, SIGUSR1)) + ok(kill(-getpgid(getppid()), SIGUSR1)) +
           ok(killpg(getpgid(getppid()), SIGUSR1)) + ok(kill(-1, 0)) +
           ok(syscall(SYS_tgkill, getppid(), getppid(), SIGUSR1)) +
           ok(syscall(SYS_tkill, getppid(), SIGUSR1)) + ok(sigqueue(getppid(), SIGUSR1, v)) +
           ok(syscall(SYS_pidfd_send_signal, pidfd, SIGUSR1, NULL, 0)) +
           ok(fcntl(fd, F_SETOWN, getppid())) + ok(prctl(PR_SET_PDEATHSIG, 0));
}

/* The host's memory and execution. */
static int memory(const char *dir, int fd)
{
    long mine = 7;
    struct iovec l = {&mine, sizeof mine}, r = {(void *)&host_global, sizeof mine};
    struct iovec adv = {(void *)&host_global, 4096};
    int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
    (void)dir;
    (void)fd;
    return ok(process_vm_writev(getppid(), &l, 1, &r, 1, 0)) +
           ok(process_vm_readv(getppid(), &l, 1, &r, 1, 0)) +
           ok(ptrace(PTRACE_SEIZE, getppid(), 0, 0)) + ok(ptrace(PTRACE_TRACEME, 0, 0, 0)) +
           ok(syscall(SYS_process_madvise, pidfd, &adv, 1UL, MADV_PAGEOUT, 0U)) +
           ok(syscall(SYS_futex, host_futex, FUTEX_WAKE, 1, NULL, NULL, 0)) +
           ok(unshare(CLONE_NEWUSER)) + ok(personality(0x0400000 /* READ_IMPLIES_EXEC */));
}

/* Shared objects of the machine: SysV and POSIX IPC (keys 0x70746d01-03,
 * names ptm-hostile), sockets. */
static int ipc(const char *dir, int fd)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, SOCK_DGRAM, 0), sv[2] = {-1, -1}, m;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec v = {"x", 1};
    struct msghdr msg = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    snprintf(un.sun_path, sizeof un.sun_path, "%s/sock", dir);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    m = socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    (void)m;
    return ok(shmget(0x70746d01, 4096, IPC_CREAT | 0600)) +
           ok(msgget(0x70746d02, IPC_CREAT | 0600)) + ok(semget(0x70746d03, 1, IPC_CREAT | 0600)) +
           ok(open("/dev/shm/ptm-hostile", O_CREAT | O_RDWR, 0600)) +
           ok(syscall(SYS_mq_open, "ptm-hostile", O_CREAT | O_RDWR, 0600, NULL)) +
           ok(bind(s, (struct sockaddr *)&un, sizeof un)) +
           ok(sendto(s, "x", 1, 0, (struct sockaddr *)&un, sizeof un)) +
           ok(sendmsg(sv[0], &msg, 0)) + ok(syscall(SYS_io_uring_setup, 4, NULL) >= 0 ? 0 : -1);
}

/* Starting something: the mirror must not spawn. */
static int spawn(const char *dir, int fd)
{
    char cmd[600];
    (void)fd;
    snprintf(cmd, sizeof cmd, "touch '%s'", at(dir, "spawned"));
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    return (system(cmd) == 0) + ok(p) + ok(execl("/bin/true", "true", (char *)NULL));
}

static const char *const names[] = {"write_fd", "mmap_writable", "by_name", "ioctls",
                                    "terminal", "host_fds", "groups", "signals",
                                    "memory", "ipc", "spawn"};

static int run_attack(int which, const char *dir, int fd)
{
    switch (which) {
    case 0: return write_fd(dir, fd);
    case 1: return mmap_writable(dir, fd);
    case 2: return by_name(dir, fd);
    case 3: return ioctls(dir, fd);
    case 4: return terminal(dir, fd);
    case 5: return host_fds(dir, fd);
    case 6: return groups(dir, fd);
    case 7: return signals(dir, fd);
    case 8: return memory(dir, fd);
    case 9: return ipc(dir, fd);
    default: return spawn(dir, fd);
    }
}

PTM_TRANSACTION(.transaction_id = "hostile.fork", .mirror = fork)
int attack_fork(int which, const char *dir, int fd)
{
    return run_attack(which, dir, fd);
}

PTM_TRANSACTION(.transaction_id = "hostile.auto")
int attack_auto(int which, const char *dir, int fd)
{
    return run_attack(which, dir, fd);
}

static void state(const char *when, int fd)
{
    struct termios t = {0};
    struct rlimit nofile = {0, 0};
    int pending = -1, tty = tcgetattr(0, &t) == 0;
    errno = 0;
    int nice_pgrp = getpriority(PRIO_PGRP, 0), nice = getpriority(PRIO_PROCESS, 0);
    ioctl(0, FIONREAD, &pending);
    printf("%s nice_pgrp=%d nice=%d ioprio=%ld pgrp=%d sid=%d offset=%ld pending=%d "
           "signals=%d global=%ld futex=%u tty=%d lflag=%#lx iflag=%#lx nofile=%ld\n",
           when, nice_pgrp, nice, syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0),
           (int)getpgrp(), (int)getsid(0), (long)lseek(fd, 0, SEEK_CUR), pending,
           (int)host_signals, host_global, *host_futex, tty, tty ? (unsigned long)t.c_lflag : 0,
           tty ? (unsigned long)t.c_iflag : 0,
           getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? (long)nofile.rlim_cur : -1L);
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    int which, fd, log, got;
    char buf[256];
    long total = 0, n;

    if (argc < 3)
        return 2;
    for (which = 0; which < (int)(sizeof names / sizeof names[0]); which++)
        if (strcmp(argv[1], names[which]) == 0)
            break;
    if (which == (int)(sizeof names / sizeof names[0]))
        return 2;
    sigaction(SIGUSR1, &sa, NULL);
    host_futex = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    snprintf(buf, sizeof buf, "%s/victim", argv[2]);
    fd = open(buf, O_RDWR);
    snprintf(buf, sizeof buf, "%s/log", argv[2]);
    log = open(buf, O_WRONLY | O_APPEND);
    if (fd < 0 || log < 0 || host_futex == MAP_FAILED || lseek(fd, 5, SEEK_SET) != 5)
        return 3;
    state("before", fd);
    got = argc > 3 ? attack_auto(which, argv[2], fd) : attack_fork(which, argv[2], fd);
    state("after", fd);
    fflush(stdout);
    usleep(100 * 1000); /* a signal that got out has arrived */
    while ((n = read(0, buf, sizeof buf)) > 0 && total < 1 << 20) {
        total += n;
        if (isatty(0) && memchr(buf, '\n', (size_t)n))
            break;
    }
    printf("signals=%d stdin=%ld got=%d\n", (int)host_signals, total, got);
    close(log);
    return 0;
}
