/*
** exec_fork.c - the fork executor: a mirror in a copy-on-write child under
** a seccomp filter.
**
** fork() gives the mirror a snapshot of the whole process for the price of
** copying page tables.  The child
**   - resets the crash signals to SIG_DFL (the host's SIGSEGV handler must
**     not run in the mirror) and disables core dumps,
**   - dies with its parent (PR_SET_PDEATHSIG),
**   - replaces its inherited descriptors by private ones: a regular file or
**     directory is reopened at the same offset, anything else (a pipe, a
**     socket, a terminal) becomes /dev/null,
**   - attaches a seccomp filter that traps write-class system calls: the
**     SIGSYS handler records each as a PTM_EV_DENIED event in the ring and
**     makes the call return -EPERM, so the mirror walks on and the denial
**     is an observation,
**   - runs desc->mirror on a private copy of the frame, copies the frame
**     into the ring, marks the ring returned, and _exit()s (no atexit
**     handlers, no stdio flush: the host's buffered output is not doubled).
** The parent waits on a pidfd with a deadline, kills the child when it
** passes, reaps it, and reads what happened from the exit status and the
** ring (a MAP_SHARED mapping, so the child's events are in the parent's
** pages).
**
** The filter is compiled once per process with libseccomp and exported to
** a BPF program in memory; the child attaches it with prctl(), because
** libseccomp's own load allocates and recompiles, which a fork child of a
** multi-threaded host must not do.
**
** Multi-threaded hosts: the child is a copy of one thread.  It touches only
** its stack, the ring, the BPF program (patched in place, in its own
** copy-on-write pages), malloc (glibc's is fork-safe), and the shims, which
** take no lock a host thread could hold at the fork (they never lock a host
** FILE: fileno() does not lock).  An unknown external function called by
** the mirror may take a lock that another host thread held at the fork and
** hang: the deadline turns that into PTM_MS_TIMEOUT.  This file has no
** locks of its own, so it installs no pthread_atfork handlers.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "ptm_int.h"

/* ------------------------------------------------------------------------
** The deny table.
**
** The filter's default action is ALLOW; each row below traps (SIGSYS, then
** -EPERM) a system call, always or when its arguments match.  What a row
** protects is the world outside the child: files, other processes, the
** parent's shared kernel objects (an inherited descriptor shares its open
** file description, so fcntl(F_SETFL), flock, epoll_ctl on it reach the
** parent's).  Rows naming syscalls this architecture lacks are skipped.
**
** Not covered, by design or by necessity (see also DESIGN.md §4):
**   - stores into a writable MAP_SHARED mapping inherited from the host
**     are not system calls (the host should MADV_DONTFORK such mappings);
**   - read() and lseek() on inherited descriptors are not denied (the
**     mirror needs them); instead the child gives each inherited descriptor
**     an open file description of its own before the filter is attached
**     (childPrivateFds), so they cannot move the parent's offsets or
**     consume its input;
**   - system calls newer than this table are allowed (a deny list).
**
** SELF_PID marks "this process": the program is compiled once, before any
** child exists, with SELF_PID in place of a pid, and each child patches its
** own pid into its copy.  So raise() and abort() in a mirror still work
** (tgkill to itself) while signals to any other process are denied.
*/
#define SELF_PID 0x7ffe4d31u /* above any pid_max; unlike any constant below */

#define ANY          0, {{0}}
#define HAS(i, bit)  1, {{.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (bit), .datum_b = (bit)}}
#define IS(i, v)     1, {{.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = (v)}}
#define NOT(i, v)    1, {{.arg = (i), .op = SCMP_CMP_NE, .datum_a = (v)}}
#define BOTH(i, bi, j, bj) \
    2, {{.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (bi), .datum_b = (bi)}, \
        {.arg = (j), .op = SCMP_CMP_MASKED_EQ, .datum_a = (bj), .datum_b = (bj)}}

struct denyRule {
    const char *name;      /* resolved for the native architecture */
    int nr;                /* when libseccomp may not know the name: its number, else -1 */
    signed char path_arg;  /* the argument naming a path, for the event target, or -1 */
    signed char fd_arg;    /* the argument naming a descriptor, or -1 */
    unsigned n_cmp;
    struct scmp_arg_cmp cmp[2];
};

#define OPEN_WRITE(name, p) \
    {name, -1, p, -1, HAS(p + 1, O_WRONLY)}, {name, -1, p, -1, HAS(p + 1, O_RDWR)}, \
    {name, -1, p, -1, HAS(p + 1, O_CREAT)},  {name, -1, p, -1, HAS(p + 1, O_TRUNC)}, \
    {name, -1, p, -1, HAS(p + 1, O_APPEND)}

static const struct denyRule denyRules[] = {
    /* Writing through descriptors. */
    {"write", -1, -1, 0, ANY},        {"writev", -1, -1, 0, ANY},
    {"pwrite64", -1, -1, 0, ANY},     {"pwritev", -1, -1, 0, ANY},
    {"pwritev2", -1, -1, 0, ANY},     {"sendfile", -1, -1, 1, ANY},
    {"splice", -1, -1, 2, ANY},       {"tee", -1, -1, 1, ANY},
    {"vmsplice", -1, -1, 0, ANY},     {"copy_file_range", -1, -1, 2, ANY},
    {"fallocate", -1, -1, 0, ANY},    {"ftruncate", -1, -1, 0, ANY},
    {"fsync", -1, -1, 0, ANY},        {"fdatasync", -1, -1, 0, ANY},
    {"syncfs", -1, -1, 0, ANY},       {"sync", -1, -1, -1, ANY},
    {"sync_file_range", -1, -1, 0, ANY},
    /* Opening for writing; open(2) and openat(2) only with write intent. */
    OPEN_WRITE("open", 0), OPEN_WRITE("openat", 1),
    {"openat2", -1, 1, -1, ANY},      {"creat", -1, 0, -1, ANY},
    {"open_by_handle_at", -1, -1, 0, ANY},
    /* The namespace and metadata of files. */
    {"unlink", -1, 0, -1, ANY},       {"unlinkat", -1, 1, -1, ANY},
    {"rename", -1, 0, -1, ANY},       {"renameat", -1, 1, -1, ANY},
    {"renameat2", -1, 1, -1, ANY},    {"mkdir", -1, 0, -1, ANY},
    {"mkdirat", -1, 1, -1, ANY},      {"rmdir", -1, 0, -1, ANY},
    {"link", -1, 0, -1, ANY},         {"linkat", -1, 1, -1, ANY},
    {"symlink", -1, 1, -1, ANY},      {"symlinkat", -1, 2, -1, ANY},
    {"mknod", -1, 0, -1, ANY},        {"mknodat", -1, 1, -1, ANY},
    {"truncate", -1, 0, -1, ANY},     {"chmod", -1, 0, -1, ANY},
    {"fchmod", -1, -1, 0, ANY},       {"fchmodat", -1, 1, -1, ANY},
    {"fchmodat2", 452, 1, -1, ANY},   {"chown", -1, 0, -1, ANY},
    {"fchown", -1, -1, 0, ANY},       {"lchown", -1, 0, -1, ANY},
    {"fchownat", -1, 1, -1, ANY},     {"utime", -1, 0, -1, ANY},
    {"utimes", -1, 0, -1, ANY},       {"utimensat", -1, 1, -1, ANY},
    {"futimesat", -1, 1, -1, ANY},    {"setxattr", -1, 0, -1, ANY},
    {"lsetxattr", -1, 0, -1, ANY},    {"fsetxattr", -1, -1, 0, ANY},
    {"setxattrat", 463, 1, -1, ANY},  {"removexattr", -1, 0, -1, ANY},
    {"lremovexattr", -1, 0, -1, ANY}, {"fremovexattr", -1, -1, 0, ANY},
    {"removexattrat", 466, 1, -1, ANY}, {"file_setattr", 469, 1, -1, ANY},
    /* Locks and state shared with the parent through a descriptor. */
    {"flock", -1, -1, 0, ANY},
    {"fcntl", -1, -1, 0, IS(1, F_SETLK)},      {"fcntl", -1, -1, 0, IS(1, F_SETLKW)},
    {"fcntl", -1, -1, 0, IS(1, F_OFD_SETLK)},  {"fcntl", -1, -1, 0, IS(1, F_OFD_SETLKW)},
    {"fcntl", -1, -1, 0, IS(1, F_SETFL)},      {"fcntl", -1, -1, 0, IS(1, F_SETOWN)},
    {"fcntl", -1, -1, 0, IS(1, F_SETOWN_EX)},  {"fcntl", -1, -1, 0, IS(1, F_SETSIG)},
    {"fcntl", -1, -1, 0, IS(1, F_SETLEASE)},   {"fcntl", -1, -1, 0, IS(1, F_NOTIFY)},
    {"fcntl", -1, -1, 0, IS(1, F_SETPIPE_SZ)}, {"fcntl", -1, -1, 0, IS(1, F_ADD_SEALS)},
    {"ioctl", -1, -1, 0, IS(1, TIOCSTI)},      {"ioctl", -1, -1, 0, IS(1, TCSETS)},
    {"ioctl", -1, -1, 0, IS(1, TCSETSW)},      {"ioctl", -1, -1, 0, IS(1, TCSETSF)},
    {"ioctl", -1, -1, 0, IS(1, TCSETA)},       {"ioctl", -1, -1, 0, IS(1, TCSETAW)},
    {"ioctl", -1, -1, 0, IS(1, TCSETAF)},      {"ioctl", -1, -1, 0, IS(1, TCFLSH)},
    {"ioctl", -1, -1, 0, IS(1, TCXONC)},       {"ioctl", -1, -1, 0, IS(1, TCSBRK)},
    {"ioctl", -1, -1, 0, IS(1, TIOCSWINSZ)},   {"ioctl", -1, -1, 0, IS(1, TIOCSPGRP)},
    {"ioctl", -1, -1, 0, IS(1, TIOCSETD)},     {"ioctl", -1, -1, 0, IS(1, FIONBIO)},
    {"ioctl", -1, -1, 0, IS(1, FIOASYNC)},     {"ioctl", -1, -1, 0, IS(1, FICLONE)},
    {"ioctl", -1, -1, 0, IS(1, FICLONERANGE)}, {"ioctl", -1, -1, 0, IS(1, FIDEDUPERANGE)},
    {"ioctl", -1, -1, 0, IS(1, FS_IOC_SETFLAGS)}, {"ioctl", -1, -1, 0, IS(1, BLKDISCARD)},
    {"ioctl", -1, -1, 0, IS(1, BLKZEROOUT)},   {"ioctl", -1, -1, 0, IS(1, BLKSECDISCARD)},
    {"epoll_ctl", -1, -1, 0, ANY},    {"inotify_add_watch", -1, 1, 0, ANY},
    {"inotify_rm_watch", -1, -1, 0, ANY}, {"fanotify_mark", -1, -1, 0, ANY},
    {"timerfd_settime", -1, -1, 0, ANY},  {"signalfd", -1, -1, 0, ANY},
    {"signalfd4", -1, -1, 0, ANY},
    /* Shared memory that outlives the child. */
    {"mmap", -1, -1, 4, BOTH(2, PROT_WRITE, 3, MAP_SHARED)},
    {"msync", -1, -1, -1, ANY},       {"remap_file_pages", -1, -1, -1, ANY},
    {"madvise", -1, -1, -1, IS(2, MADV_REMOVE)},
    /* The network: no sending, no connecting, no taking the parent's data. */
    {"connect", -1, -1, 0, ANY},      {"bind", -1, -1, 0, ANY},
    {"listen", -1, -1, 0, ANY},       {"accept", -1, -1, 0, ANY},
    {"accept4", -1, -1, 0, ANY},      {"shutdown", -1, -1, 0, ANY},
    {"sendto", -1, -1, 0, ANY},       {"sendmsg", -1, -1, 0, ANY},
    {"sendmmsg", -1, -1, 0, ANY},     {"setsockopt", -1, -1, 0, ANY},
    {"recvfrom", -1, -1, 0, ANY},     {"recvmsg", -1, -1, 0, ANY},
    {"recvmmsg", -1, -1, 0, ANY},
    /* Asynchronous I/O would write behind the filter's back. */
    {"io_uring_setup", -1, -1, -1, ANY}, {"io_uring_enter", -1, -1, 0, ANY},
    {"io_uring_register", -1, -1, 0, ANY}, {"io_setup", -1, -1, -1, ANY},
    {"io_submit", -1, -1, -1, ANY},
    /* Other processes: signals (except to itself), tracing, scheduling. */
    {"kill", -1, -1, -1, NOT(0, SELF_PID)},  {"tkill", -1, -1, -1, NOT(0, SELF_PID)},
    {"tgkill", -1, -1, -1, NOT(0, SELF_PID)},
    {"rt_sigqueueinfo", -1, -1, -1, NOT(0, SELF_PID)},
    {"rt_tgsigqueueinfo", -1, -1, -1, NOT(0, SELF_PID)},
    {"pidfd_send_signal", -1, -1, 0, ANY}, {"ptrace", -1, -1, -1, ANY},
    {"process_vm_writev", -1, -1, -1, ANY}, {"process_madvise", -1, -1, -1, ANY},
    {"prlimit64", -1, -1, -1, NOT(0, 0)},  {"setpriority", -1, -1, -1, NOT(1, 0)},
    {"sched_setaffinity", -1, -1, -1, NOT(0, 0)},
    {"sched_setscheduler", -1, -1, -1, NOT(0, 0)},
    {"sched_setparam", -1, -1, -1, NOT(0, 0)}, {"sched_setattr", -1, -1, -1, NOT(0, 0)},
    {"ioprio_set", -1, -1, -1, NOT(1, 0)}, {"migrate_pages", -1, -1, -1, NOT(0, 0)},
    {"move_pages", -1, -1, -1, NOT(0, 0)},
    /* Spawning: the mirror must not start what it cannot contain. */
    {"fork", -1, -1, -1, ANY},        {"vfork", -1, -1, -1, ANY},
    {"clone", -1, -1, -1, ANY},       {"clone3", -1, -1, -1, ANY},
    {"execve", -1, 0, -1, ANY},       {"execveat", -1, 1, -1, ANY},
    {"setsid", -1, -1, -1, ANY},      {"setpgid", -1, -1, -1, ANY},
    /* System V and POSIX IPC: objects shared with the world. */
    {"semop", -1, -1, -1, ANY},       {"semtimedop", -1, -1, -1, ANY},
    {"semctl", -1, -1, -1, ANY},      {"semget", -1, -1, -1, HAS(2, IPC_CREAT)},
    {"msgsnd", -1, -1, -1, ANY},      {"msgrcv", -1, -1, -1, ANY},
    {"msgctl", -1, -1, -1, ANY},      {"msgget", -1, -1, -1, HAS(1, IPC_CREAT)},
    {"shmat", -1, -1, -1, ANY},       {"shmctl", -1, -1, -1, ANY},
    {"shmget", -1, -1, -1, HAS(2, IPC_CREAT)},
    {"mq_open", -1, 0, -1, HAS(1, O_CREAT)}, {"mq_unlink", -1, 0, -1, ANY},
    {"mq_timedsend", -1, -1, 0, ANY}, {"mq_timedreceive", -1, -1, 0, ANY},
    {"mq_notify", -1, -1, 0, ANY},    {"mq_getsetattr", -1, -1, 0, ANY},
    /* The machine: root may, a mirror may not. */
    {"reboot", -1, -1, -1, ANY},      {"mount", -1, 1, -1, ANY},
    {"umount2", -1, 0, -1, ANY},      {"swapon", -1, 0, -1, ANY},
    {"swapoff", -1, 0, -1, ANY},      {"pivot_root", -1, 0, -1, ANY},
    {"fsopen", -1, -1, -1, ANY},      {"fsconfig", -1, -1, -1, ANY},
    {"fsmount", -1, -1, -1, ANY},     {"move_mount", -1, -1, -1, ANY},
    {"open_tree", -1, 1, -1, ANY},    {"mount_setattr", -1, 1, -1, ANY},
    {"fspick", -1, 1, -1, ANY},       {"open_tree_attr", 467, 1, -1, ANY},
    {"acct", -1, 0, -1, ANY},         {"quotactl", -1, -1, -1, ANY},
    {"quotactl_fd", -1, -1, -1, ANY}, {"settimeofday", -1, -1, -1, ANY},
    {"clock_settime", -1, -1, -1, ANY}, {"clock_adjtime", -1, -1, -1, ANY},
    {"adjtimex", -1, -1, -1, ANY},    {"sethostname", -1, -1, -1, ANY},
    {"setdomainname", -1, -1, -1, ANY}, {"syslog", -1, -1, -1, ANY},
    {"vhangup", -1, -1, -1, ANY},     {"init_module", -1, -1, -1, ANY},
    {"finit_module", -1, -1, -1, ANY}, {"delete_module", -1, -1, -1, ANY},
    {"kexec_load", -1, -1, -1, ANY},  {"kexec_file_load", -1, -1, -1, ANY},
    {"bpf", -1, -1, -1, ANY},         {"keyctl", -1, -1, -1, ANY},
    {"add_key", -1, -1, -1, ANY},     {"request_key", -1, -1, -1, ANY},
};

#define N_DENY (sizeof denyRules / sizeof denyRules[0])

/* What the SIGSYS handler needs to describe a denial: per denied syscall
** number, where its path or descriptor argument is.  Filled by the one
** filter build, read-only afterwards. */
struct denyInfo {
    int nr;
    signed char path_arg, fd_arg;
};

/* The compiled filter, built once per process. */
static struct {
    pthread_once_t once;
    int err;                      /* errno of a failed build, 0: built */
    const char *why;              /* the step that failed */
    struct sock_fprog prog;
    unsigned *self_pid_at;        /* instructions comparing against SELF_PID */
    unsigned n_self_pid;
    struct denyInfo info[N_DENY];
    unsigned n_info;
} filter = {.once = PTHREAD_ONCE_INIT};

static int ruleNumber(const struct denyRule *r)
{
    int nr = seccomp_syscall_resolve_name(r->name);
    if (nr == __NR_SCMP_ERROR && r->nr >= 0)
        nr = r->nr;
    return nr;                    /* negative: not a syscall here */
}

static void noteInfo(const struct denyRule *r, int nr)
{
    unsigned i;
    for (i = 0; i < filter.n_info; i++)
        if (filter.info[i].nr == nr)
            return;
    filter.info[filter.n_info++] = (struct denyInfo){nr, r->path_arg, r->fd_arg};
}

/* Under valgrind, whose core shares the child's syscalls: valgrind's
** scheduler lock is a pipe it write()s to, so trapping every write()
** deadlocks the child.  Valgrind keeps its own descriptors at or above the
** RLIMIT_NOFILE soft limit it reports to the program, where the program
** cannot open or dup2 one; write() is trapped below that limit only. */
static int valgrindWriteRule(const struct denyRule *r, struct denyRule *out)
{
    struct rlimit nofile;

    if (!RUNNING_ON_VALGRIND || strcmp(r->name, "write") != 0 ||
        getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY)
        return 0;
    *out = *r;
    out->n_cmp = 1;
    out->cmp[0] = (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_LT,
                                        .datum_a = (scmp_datum_t)nofile.rlim_cur};
    return 1;
}

/* What a denied syscall does: SIGSYS, so that the handler records it.
** Under valgrind (3.19), which runs many syscalls itself and asserts when
** seccomp's SIGSYS arrives for one of those (m_signals.c:2545), it fails
** with EPERM without a signal instead: the mirror sees the same error and
** nothing is written, but the denial is not recorded. */
static uint32_t filterAction(void)
{
    return RUNNING_ON_VALGRIND ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_TRAP;
}

/* Adds every row of the deny table to ctx.  0 or an errno. */
static int filterRules(scmp_filter_ctx ctx)
{
    const struct denyRule *r;
    struct denyRule vg;
    unsigned i;
    int nr, rc;

    for (i = 0; i < N_DENY; i++) {
        r = valgrindWriteRule(&denyRules[i], &vg) ? &vg : &denyRules[i];
        if ((nr = ruleNumber(r)) < 0)
            continue;
        rc = seccomp_rule_add_array(ctx, filterAction(), nr, r->n_cmp, r->cmp);
        if (rc < 0) {
            filter.why = denyRules[i].name;
            return -rc;
        }
        noteInfo(&denyRules[i], nr);
    }
    return 0;
}

/* Exports ctx as BPF into filter.prog, through a memfd (libseccomp 2.5
** exports only to a descriptor).  0 or an errno. */
static int filterExport(scmp_filter_ctx ctx)
{
    struct sock_filter *code;
    ssize_t got, r;
    off_t size;
    int fd, rc;

    if ((fd = memfd_create("ptm-seccomp", MFD_CLOEXEC)) < 0)
        return errno;
    if ((rc = seccomp_export_bpf(ctx, fd)) < 0 || (size = lseek(fd, 0, SEEK_END)) <= 0 ||
        size % (off_t)sizeof *code != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return rc < 0 ? -rc : EIO;
    }
    if (!(code = malloc((size_t)size))) {
        close(fd);
        return ENOMEM;
    }
    for (got = 0; got < size; got += r) {
        r = read(fd, (char *)code + got, (size_t)(size - got));
        if (r < 0 && errno == EINTR)
            r = 0;
        else if (r <= 0) {
            free(code);
            close(fd);
            return r < 0 ? errno : EIO;
        }
    }
    close(fd);
    filter.prog.filter = code;
    filter.prog.len = (unsigned short)(size / (off_t)sizeof *code);
    return 0;
}

/* Finds the comparisons against SELF_PID, for each child to patch.  0 or
** an errno (EPROTO when libseccomp's output has none: a self-signal would
** then be denied, and abort() would report the wrong signal). */
static int filterFindSelfPid(void)
{
    unsigned i, n = 0;

    for (i = 0; i < filter.prog.len; i++)
        n += filter.prog.filter[i].k == SELF_PID;
    if (n == 0)
        return EPROTO;
    if (!(filter.self_pid_at = malloc(n * sizeof *filter.self_pid_at)))
        return ENOMEM;
    for (i = 0; i < filter.prog.len; i++)
        if (filter.prog.filter[i].k == SELF_PID)
            filter.self_pid_at[filter.n_self_pid++] = i;
    return 0;
}

static void filterBuild(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

    if (!ctx) {
        filter.why = "seccomp_init";
        filter.err = ENOMEM;
        return;
    }
    /* A binary tree of syscall numbers: every syscall of the mirror runs
    ** the filter, so its length matters.  Older libseccomp: ignored. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if ((filter.err = filterRules(ctx)) == 0) {
        filter.why = "export";
        if ((filter.err = filterExport(ctx)) == 0) {
            filter.why = "self pid";
            filter.err = filterFindSelfPid();
        }
    }
    seccomp_release(ctx);
}

/* ------------------------------------------------------------------------
** Child
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
#else
#error "exec_fork.c: the SIGSYS handler knows the registers of x86_64 and aarch64 only"
#endif

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
    struct ptmEvent *ev;
    unsigned i, nr = (unsigned)si->si_syscall;
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
        for (i = 0; i < filter.n_info; i++) {
            if (filter.info[i].nr != (int)nr)
                continue;
            if (filter.info[i].path_arg >= 0)
                pathTarget(ev->target, sizeof ev->target,
                           SYSCALL_ARG(uc, filter.info[i].path_arg));
            else if (filter.info[i].fd_arg >= 0)
                fdTarget(ev->target, sizeof ev->target,
                         (int)SYSCALL_ARG(uc, filter.info[i].fd_arg));
            break;
        }
    }
    SET_SYSCALL_RET(uc, -EPERM);
    errno = saved;
}

/* The signals whose host handlers must not run in the mirror: a crash is
** the mirror's observation, not the host's business. */
static const int crashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                                   SIGTRAP, SIGINT, SIGTERM, SIGPIPE};

/* The kernel's struct sigaction (x86_64 and aarch64 share the layout). */
struct kernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

/* Child: sig back to SIG_DFL through the raw system call, because an
** interposed sigaction() may refuse: AddressSanitizer's keeps its own
** SIGSEGV handler, which would then run (and report) in the mirror.
** 0 or an errno. */
static int childDefaultAction(int sig)
{
    struct kernelSigaction ksa = {SIG_DFL, 0, NULL, 0};
    if (syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask) != 0)
        return errno;
    return 0;
}

/* Child: signals, core dumps, parent death.  0 or an errno. */
static int childSignals(pid_t parent)
{
    struct sigaction sa;
    sigset_t unblock;
    struct rlimit core = {0, 0};
    unsigned i;
    int err;

    sigemptyset(&unblock);
    for (i = 0; i < sizeof crashSignals / sizeof crashSignals[0]; i++) {
        if ((err = childDefaultAction(crashSignals[i])) != 0)
            return err;
        sigaddset(&unblock, crashSignals[i]);
    }
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = childSigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return errno;
    sigaddset(&unblock, SIGSYS);
    if (sigprocmask(SIG_UNBLOCK, &unblock, NULL) != 0)
        return errno;
    /* A crashing mirror must not leave a core file behind. */
    if (setrlimit(RLIMIT_CORE, &core) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return errno;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        return errno;
    if (getppid() != parent)
        return ESRCH;             /* the parent died before PDEATHSIG was set */
    return 0;
}

/* Child: one inherited descriptor made private.  A regular file or a
** directory is reopened through /proc/self/fd (the same inode, access mode
** and flags, a new open file description) at the same offset; anything
** else -- a pipe, a socket, a terminal, an eventfd -- is replaced by
** /dev/null opened the same way: reading those consumes data the parent
** has not read yet, which no mirror may take.  Descriptors that cannot be
** reopened are left as they are. */
static void childPrivateFd(int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0 || (fl & O_PATH) || fstat(fd, &st) != 0)
        return;
    int how = (fl & (O_ACCMODE | O_APPEND | O_NONBLOCK)) | O_NOCTTY | O_CLOEXEC;
    int nfd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        char proc[40];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        nfd = open(proc, how | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        off_t at = nfd >= 0 ? lseek(fd, 0, SEEK_CUR) : 0;
        if (at > 0 && lseek(nfd, at, SEEK_SET) != at) {
            close(nfd);
            return;
        }
    } else {
        nfd = open("/dev/null", how);
    }
    if (nfd < 0)
        return;
    dup3(nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    close(nfd);
}

/* Child: every inherited descriptor made private (childPrivateFd).  The
** numbers are collected first: reopening adds entries to /proc/self/fd.
** 0 or an errno. */
static int childPrivateFds(void)
{
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return errno;
    int small[256], *fds = small, cap = 256, n = 0;
    char buf[4096];
    long got;
    while ((got = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < got;) {
            const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */
            off += *(const unsigned short *)(buf + off + 16);
            if (name[0] < '0' || name[0] > '9')
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
            fds[n++] = atoi(name);
        }
    }
    int err = got < 0 ? errno : 0;
    for (int i = 0; i < n; i++)
        if (fds[i] != dir)
            childPrivateFd(fds[i]);
    close(dir);
    if (fds != small)
        free(fds);
    return err;
}

/* Child: the filter, with this child's pid patched in.  0 or an errno. */
static int childSeccomp(void)
{
    unsigned i;

    for (i = 0; i < filter.n_self_pid; i++)
        filter.prog.filter[filter.self_pid_at[i]].k = (uint32_t)childPid;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter.prog) != 0)
        return errno;
    return 0;
}

/* The child's one way out. */
static __attribute__((noreturn)) void childExit(int code)
{
    _exit(code);
}

static __attribute__((noreturn)) void childFail(struct ptmRing *ring, int err)
{
    atomic_store_explicit(&ring->setup_err, err ? err : EINVAL, memory_order_relaxed);
    childExit(CHILD_SETUP_FAILED);
}

/* Child: sandbox, run the mirror, hand the frame back, _exit. */
static __attribute__((noreturn)) void childRun(const struct ptm_tx_desc *desc,
                                               const void *frame, struct ptmRing *ring,
                                               pid_t parent)
{
    alignas(max_align_t) unsigned char local[PTM_RING_FRAME_MAX];
    unsigned char *buf = local;
    struct ptmMirror m;
    size_t size = desc->frame_size;
    int err;

    childRing = ring;
    childPid = getpid();
    if ((err = childSignals(parent)) != 0 || (err = childPrivateFds()) != 0)
        childFail(ring, err);
    if (size > sizeof local && !(buf = malloc(size)))
        childFail(ring, ENOMEM);
    if (size)
        memcpy(buf, frame, size);
    ptmMirrorEnter(&m, ring);
    childT0 = m.t0_ns;
    if ((err = childSeccomp()) != 0)
        childFail(ring, err);

    desc->mirror(buf);

    ptmMirrorCurrent = NULL;
    if (size <= PTM_RING_FRAME_MAX) {
        memcpy(ring->frame, buf, size);
        ring->frame_len = (uint32_t)size;
    }
    atomic_store_explicit(&ring->returned, 1, memory_order_release);
    childExit(0);
}

/* ------------------------------------------------------------------------
** Parent
*/

/* waitpid(pid, __WALL), retried on EINTR.  OUT: *status.  0 or an errno
** (ECHILD: someone else reaped it -- SIGCHLD ignored, or a host handler
** that waits for any child). */
static int parentReap(pid_t pid, int *status)
{
    while (ptmOs.waitpid(pid, status, __WALL) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* Milliseconds until deadline (0: none -> -1, wait forever), rounded up so
** that poll does not wake just before it. */
static int msUntil(uint64_t deadline)
{
    uint64_t now = ptmOsNowNs(), ms;
    if (!deadline)
        return -1;
    if (now >= deadline)
        return 0;
    ms = (deadline - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* How a wait ended. */
enum waitEnd { WAIT_EXITED, WAIT_DEADLINE, WAIT_ERROR };

/* Waits on a pidfd until the child exits or the deadline passes.  Does
** not reap.  *err set for WAIT_ERROR. */
static enum waitEnd parentWaitPidfd(int pidfd, uint64_t deadline, int *err)
{
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    int ms, rc;

    for (;;) {
        ms = msUntil(deadline);
        if (ms == 0)
            return WAIT_DEADLINE;
        rc = ptmOs.poll(&pfd, 1, ms);
        if (rc > 0)
            return WAIT_EXITED;
        if (rc < 0 && errno != EINTR) {
            *err = errno;
            return WAIT_ERROR;
        }
    }
}

/* Without pidfds (kernel < 5.3): WNOHANG polling with sleeps growing from
** 20 us to 1 ms.  Reaps on WAIT_EXITED (OUT: *status). */
static enum waitEnd parentWaitPoll(pid_t pid, uint64_t deadline, int *status, int *err)
{
    uint64_t step = 20000, now;
    struct timespec ts;
    pid_t r;

    for (;;) {
        r = ptmOs.waitpid(pid, status, WNOHANG | __WALL);
        if (r == pid)
            return WAIT_EXITED;
        if (r < 0 && errno != EINTR) {
            *err = errno;
            return WAIT_ERROR;
        }
        if (r < 0)
            continue;
        now = ptmOsNowNs();
        if (deadline && now >= deadline)
            return WAIT_DEADLINE;
        if (deadline && deadline - now < step)
            step = deadline - now;
        ts.tv_sec = (time_t)(step / 1000000000u);
        ts.tv_nsec = (long)(step % 1000000000u);
        ptmOs.nanosleep(&ts, NULL);       /* EINTR: just look again */
        if (step < 1000000)
            step *= 2;
    }
}

/* Waits for the child, killing it at the deadline, and reaps it.  OUT:
** *status, *timed_out, *lost (it was reaped elsewhere: no status).
** 0 or an errno. */
static int parentWait(pid_t pid, uint64_t deadline, int *status, int *timed_out, int *lost)
{
    enum waitEnd end = WAIT_ERROR;
    int pidfd, err = 0, reaped = 0;

    *timed_out = *lost = 0;
    pidfd = ptmOs.pidfd_open(pid);
    if (pidfd >= 0) {
        end = parentWaitPidfd(pidfd, deadline, &err);
        ptmOs.close(pidfd);
    }
    if (pidfd < 0 || end == WAIT_ERROR) {
        end = parentWaitPoll(pid, deadline, status, &err);
        reaped = end == WAIT_EXITED;
    }
    if (end == WAIT_ERROR) {
        if (err != ECHILD)
            return err;
        *lost = 1;
        return 0;
    }
    if (end == WAIT_DEADLINE) {
        *timed_out = 1;
        ptmOs.kill(pid, SIGKILL);
    }
    if (!reaped && (err = parentReap(pid, status)) != 0) {
        if (err != ECHILD)
            return err;
        *lost = 1;
    }
    return 0;
}

/* What the child's end says, into run. */
static void parentClassify(const struct ptm_tx_desc *desc, struct ptmRing *ring, int status,
                           int timed_out, int lost, struct ptmMirrorRun *run)
{
    int returned = atomic_load_explicit(&ring->returned, memory_order_acquire) != 0;
    int setup_err = atomic_load_explicit(&ring->setup_err, memory_order_relaxed);

    run->denied = atomic_load_explicit(&ring->denied, memory_order_relaxed);
    if (setup_err) {
        run->status = PTM_MS_FAILED;
        snprintf(run->error, sizeof run->error, "fork executor: sandbox setup: %s",
                 strerror(setup_err));
    } else if (timed_out && (lost || (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))) {
        run->status = PTM_MS_TIMEOUT;
        run->signo = SIGKILL;
    } else if (lost) {
        /* No status: the ring says whether the mirror finished. */
        run->status = returned ? (run->denied ? PTM_MS_DENIED : PTM_MS_RETURNED)
                               : PTM_MS_CRASHED;
        run->exit_code = -1;
    } else if (WIFSIGNALED(status)) {
        run->status = PTM_MS_CRASHED;
        run->signo = WTERMSIG(status);
    } else if (!returned) {
        run->status = PTM_MS_CRASHED; /* it called exit() or _exit() */
        run->exit_code = WEXITSTATUS(status);
    } else {
        run->status = run->denied ? PTM_MS_DENIED : PTM_MS_RETURNED;
    }
    run->frame_valid = returned &&
                       (run->status == PTM_MS_RETURNED || run->status == PTM_MS_DENIED) &&
                       desc->frame_size <= PTM_RING_FRAME_MAX &&
                       ring->frame_len == desc->frame_size;
}

static int runFailed(struct ptmMirrorRun *run, int rc, const char *what, int err)
{
    run->status = PTM_MS_FAILED;
    snprintf(run->error, sizeof run->error, "fork executor: %s: %s", what, strerror(err));
    return rc;
}

/*
** ptmForkRun: runs desc->mirror on a copy of frame (desc->frame_size
** bytes) in a sandboxed fork child, recording into ring (from
** ptmRingCreate; reset here), and reaps the child before deadline_ns (ns
** from now; 0: no deadline) or kills it then.
**
** OUT: *run, always filled: status (returned, crashed + signo or
** exit_code, timeout, denied, failed + error), denied, duration_ns,
** executor "fork", ring, and frame_valid when ring->frame holds the
** mirror's frame (it returned, and frame_size <= PTM_RING_FRAME_MAX).
**
** Returns PTM_OK when the mirror ran (whatever it did), PTM_EINVAL for a
** bad argument, PTM_ERROR when it could not run (the seccomp filter could
** not be built, fork failed, the sandbox could not be set up, the wait
** failed); run->error says why.
*/
int ptmForkRun(const struct ptm_tx_desc *desc, const void *frame, uint64_t deadline_ns,
               struct ptmRing *ring, struct ptmMirrorRun *run)
{
    uint64_t t0 = ptmOsNowNs(), deadline;
    int status = 0, timed_out, lost, err;
    pid_t pid, parent;

    memset(run, 0, sizeof *run);
    run->executor = "fork";
    run->ring = ring;
    if (!desc || !desc->mirror || !ring || (desc->frame_size && !frame))
        return runFailed(run, PTM_EINVAL, "bad argument", EINVAL);
    pthread_once(&filter.once, filterBuild);
    if (filter.err)
        return runFailed(run, PTM_ERROR, filter.why, filter.err);

    ptmRingReset(ring);
    parent = getpid();
    deadline = deadline_ns ? t0 + deadline_ns : 0;
    pid = ptmOs.fork();
    if (pid < 0)
        return runFailed(run, PTM_ERROR, "fork", errno);
    if (pid == 0) {
        /* Child */
        childRun(desc, frame, ring, parent);
    }
    /* Parent */
    err = parentWait(pid, deadline, &status, &timed_out, &lost);
    if (err) {
        /* No verdict; still, leave no mirror running and no zombie. */
        ptmOs.kill(pid, SIGKILL);
        (void)parentReap(pid, &status);
    }
    run->duration_ns = ptmOsNowNs() - t0;
    if (err)
        return runFailed(run, PTM_ERROR, "wait", err);
    parentClassify(desc, ring, status, timed_out, lost, run);
    return run->status == PTM_MS_FAILED ? PTM_ERROR : PTM_OK;
}
