/*
** sandbox.c - the fork child's seccomp filter: its table (denyRules), the
** BPF program built from it, the Landlock ruleset, and the table printed
** as docs/sandbox.md's generated part.
**
** The filter is built once per process as a BPF program in memory, by this
** file (libseccomp only names the system calls): bitmaps of the denied
** numbers, 32 to a word, found by a binary search (bpfProgram), some 200
** instructions where libseccomp's output has 345.  The fork child
** (fork_child.c) patches its own pid and deadline timer into its copy
** (ptmSandboxProgram) and attaches it with seccomp(2): libseccomp's own
** load allocates and recompiles, which a fork child of a multi-threaded
** host must not do.  Nothing here runs in the child but ptmSandboxProgram,
** ptmSandboxDenied and ptmSandboxLandlock, which only read and patch
** memory built before the fork (no lock, no allocation, no libc).
*/
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/ioprio.h>
#include <linux/random.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
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
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "fork_int.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif

/* ------------------------------------------------------------------------
** The filter's table.
**
** The filter's default action is ALLOW; each row below traps (SIGSYS, then
** -EPERM) a system call, always or when its arguments match.  What a row
** protects is the world outside the child: files, other processes, the
** parent's shared kernel objects.  Rows naming syscalls this architecture
** lacks are skipped.  The table is also the documentation: SECTION rows
** head its parts, and ptmSandboxDescribe prints it (docs/sandbox.md is
** its output; a test fails when the two differ).
**
** An argument is compared by its low 32 bits only: every argument below
** is an int, an unsigned int, or a flags word whose bits tested here are in
** its low half, and the kernel ignores the high half of an int, so a caller
** that sets high bits cannot step around a row.
**
** The filter is one layer of four; the others are kernel state the child
** sets up before it (childPrivateFds, childSharedMemory, childConfine):
**   - every inherited descriptor is replaced by a private one, and a
**     regular file open for writing is reopened read-only, so the child
**     holds no descriptor that can write a file: a MAP_SHARED mapping of
**     any file it can reach cannot become writable (mprotect fails with
**     EACCES, whatever sequence of mmap, mprotect, mremap and madvise it
**     tries), which is why mprotect and mremap need no row here (malloc
**     needs them on private memory, which seccomp cannot tell apart);
**   - every inherited shared mapping but the ring is read-only and sealed
**     (or, without mseal, replaced by a private copy);
**   - the child leaves the host's process group (setpgid), so "my process
**     group" is no longer the host's and a read of the controlling
**     terminal fails, and enters a Landlock domain, under which the kernel refuses
**     it ptrace access to every process outside (so /proc/<pid>/fd, mem,
**     environ, process_vm_*, pidfd_getfd) and, from Linux 6.12, signals
**     to them;
**   - this table, which names what the other layers cannot see.
**
** Not covered, by design or by necessity (see also docs/sandbox.md):
**   - system calls newer than this table are allowed (a deny list);
**   - memfd_create and anonymous MAP_SHARED memory are allowed: the child
**     cannot pass them to anyone (no sendmsg, no fork);
**   - reading is allowed, including opening for reading a named FIFO or a
**     terminal other than the controlling one by its path, which consumes
**     what it reads.
**
** SELF_PID marks "this process": the program is compiled once, before any
** child exists, with SELF_PID in place of a pid, and each child patches its
** own pid into its copy.  So raise() and abort() in a mirror still work
** (tgkill to itself) while signals to any other process are denied.
** DEADLINE_TIMER marks the child's deadline timer the same way: the mirror
** may use POSIX timers of its own, but not disarm that one.
*/
#define SELF_PID 0x7ffe4d31u       /* above any pid_max; unlike any constant below */
#define DEADLINE_TIMER 0x7ffe4d32u /* above any timer id the child will see */

enum denyOp {
    OP_HAS = 1,  /* denied when (arg & k) != 0 */
    OP_LACKS,    /* denied when (arg & k) == 0 */
    OP_IS,       /* denied when arg == k */
    OP_NOT,      /* denied when arg != k */
    OP_LT,       /* denied when arg < k (unsigned) */
    OP_NONE_OF   /* denied when arg is none of set's values: an allow-list */
};

/* A value, with its name for the documentation. */
struct denyValue {
    uint32_t v;
    const char *name;
};

struct denySet {
    const struct denyValue *v;
    unsigned n;
};

struct denyCmp {
    unsigned char arg;     /* which argument, 0-5 */
    unsigned char op;      /* enum denyOp */
    uint32_t k;
    const char *name;      /* k's name */
    const struct denySet *set; /* OP_NONE_OF */
};

struct denyRule {
    const char *name;      /* resolved for the native architecture; NULL: a SECTION */
    int nr;                /* when libseccomp may not know the name: its number, else -1 */
    signed char path_arg;  /* the argument naming a path, for the event target, or -1 */
    signed char fd_arg;    /* the argument naming a descriptor, or -1 */
    unsigned char n_cmp;   /* 0: always denied; 1; 2: denied when both hold */
    struct denyCmp cmp[2];
};

/* The names are spelt by the outer macros, before their arguments expand. */
#define CMPN(i, o, v, n) {.arg = (i), .op = (o), .k = (uint32_t)(v), .name = (n), .set = NULL}
#define CMP(i, o, v) CMPN(i, o, v, #v)
#define NO_CMP       CMPN(0, 0, 0, "")
#define ANY          0, {NO_CMP, NO_CMP}
#define HAS(i, bit)  1, {CMPN(i, OP_HAS, bit, #bit), NO_CMP}
#define LACKS(i, bit) 1, {CMPN(i, OP_LACKS, bit, #bit), NO_CMP}
#define IS(i, v)     1, {CMPN(i, OP_IS, v, #v), NO_CMP}
#define NOT(i, v)    1, {CMPN(i, OP_NOT, v, #v), NO_CMP}
#define NONE_OF(i, s) \
    1, {{.arg = (i), .op = OP_NONE_OF, .k = 0, .name = #s, .set = &s}, NO_CMP}
#define BOTH(i, bi, j, bj) 2, {CMPN(i, OP_HAS, bi, #bi), CMPN(j, OP_HAS, bj, #bj)}
#define SECTION(text) {NULL, -1, -1, -1, 0, {{.name = (text)}, NO_CMP}}

#define OPEN_WRITE(name, p) \
    {name, -1, p, -1, HAS(p + 1, O_WRONLY)}, {name, -1, p, -1, HAS(p + 1, O_RDWR)}, \
    {name, -1, p, -1, HAS(p + 1, O_CREAT)},  {name, -1, p, -1, HAS(p + 1, O_TRUNC)}, \
    {name, -1, p, -1, HAS(p + 1, O_APPEND)}

#define VALUE(x) {(uint32_t)(x), #x}
#define SET_OF(a) {a, sizeof a / sizeof a[0]}

/* TCGETS2 needs <asm/termbits.h>'s struct termios2, which clashes with
** <termios.h>: _IOR('T', 0x2A, 44 bytes), the same on x86_64 and aarch64. */
#define TCGETS2_REQ 0x802c542au

/* The ioctl requests a mirror may make: the ones that only read, about
** the descriptor, the terminal, the file, the block device or the network
** interfaces (FIOCLEX and FIONCLEX change the child's own descriptor
** table, as fcntl(F_SETFD) does).  Every other request is denied, so an
** unknown driver's request that writes is too.  The match is on the
** number: a driver that gave one of these numbers to a request that
** writes would get it through; the child opens devices read-only, which
** many drivers check for writes. */
static const struct denyValue ioctlReadsV[] = {
    VALUE(TCGETS), {TCGETS2_REQ, "TCGETS2"}, VALUE(TCGETA), VALUE(TIOCGWINSZ),
    VALUE(TIOCGPGRP), VALUE(TIOCGSID), VALUE(TIOCGETD), VALUE(TIOCGPTN),
    VALUE(TIOCGLCKTRMIOS), VALUE(TIOCMGET), VALUE(TIOCGSERIAL), VALUE(TIOCOUTQ),
    VALUE(TIOCGEXCL), VALUE(TIOCGPKT), VALUE(TIOCGSOFTCAR), VALUE(FIONREAD),
    VALUE(FIOCLEX), VALUE(FIONCLEX), VALUE(FIOQSIZE), VALUE(FIGETBSZ),
    VALUE(FS_IOC_GETFLAGS), VALUE(FS_IOC_GETVERSION), VALUE(FS_IOC_FSGETXATTR),
    VALUE(FS_IOC_FIEMAP),
    VALUE(BLKGETSIZE), VALUE(BLKGETSIZE64), VALUE(BLKSSZGET), VALUE(BLKPBSZGET),
    VALUE(BLKBSZGET), VALUE(BLKIOMIN), VALUE(BLKIOOPT), VALUE(BLKALIGNOFF),
    VALUE(BLKROGET), VALUE(BLKRAGET), VALUE(BLKROTATIONAL),
    VALUE(SIOCGIFCONF), VALUE(SIOCGIFNAME), VALUE(SIOCGIFINDEX), VALUE(SIOCGIFFLAGS),
    VALUE(SIOCGIFADDR), VALUE(SIOCGIFDSTADDR), VALUE(SIOCGIFBRDADDR),
    VALUE(SIOCGIFNETMASK), VALUE(SIOCGIFMTU), VALUE(SIOCGIFHWADDR),
    VALUE(SIOCGIFTXQLEN), VALUE(SIOCGIFMETRIC), VALUE(SIOCATMARK),
    VALUE(SIOCGSTAMP_OLD), VALUE(SIOCGSTAMPNS_OLD), VALUE(SIOCGPGRP), VALUE(FIOGETOWN),
    VALUE(RNDGETENTCNT), VALUE(PROCMAP_QUERY_IOCTL),
};
static const struct denySet ioctlReads = SET_OF(ioctlReadsV);

/* "This process", as a pid argument: 0 or its own pid. */
static const struct denyValue thisProcessV[] = {{0, "0"}, {SELF_PID, "SELF_PID"}};
static const struct denySet thisProcess = SET_OF(thisProcessV);

static const struct denyRule denyRules[] = {
    SECTION("Writing through descriptors"),
    {"write", -1, -1, 0, ANY},        {"writev", -1, -1, 0, ANY},
    {"pwrite64", -1, -1, 0, ANY},     {"pwritev", -1, -1, 0, ANY},
    {"pwritev2", -1, -1, 0, ANY},     {"sendfile", -1, -1, 1, ANY},
    {"splice", -1, -1, 2, ANY},       {"tee", -1, -1, 1, ANY},
    {"vmsplice", -1, -1, 0, ANY},     {"copy_file_range", -1, -1, 2, ANY},
    {"fallocate", -1, -1, 0, ANY},    {"ftruncate", -1, -1, 0, ANY},
    {"fsync", -1, -1, 0, ANY},        {"fdatasync", -1, -1, 0, ANY},
    {"syncfs", -1, -1, 0, ANY},       {"sync", -1, -1, -1, ANY},
    {"sync_file_range", -1, -1, 0, ANY},
    SECTION("Opening for writing (open and openat only with write intent)"),
    OPEN_WRITE("open", 0), OPEN_WRITE("openat", 1),
    {"openat2", -1, 1, -1, ANY},      {"creat", -1, 0, -1, ANY},
    {"open_by_handle_at", -1, -1, 0, ANY},
    SECTION("The namespace and metadata of files"),
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
    SECTION("Locks and state shared through a descriptor"),
    {"flock", -1, -1, 0, ANY},
    {"fcntl", -1, -1, 0, IS(1, F_SETLK)},      {"fcntl", -1, -1, 0, IS(1, F_SETLKW)},
    {"fcntl", -1, -1, 0, IS(1, F_OFD_SETLK)},  {"fcntl", -1, -1, 0, IS(1, F_OFD_SETLKW)},
    {"fcntl", -1, -1, 0, IS(1, F_SETFL)},      {"fcntl", -1, -1, 0, IS(1, F_SETOWN)},
    {"fcntl", -1, -1, 0, IS(1, F_SETOWN_EX)},  {"fcntl", -1, -1, 0, IS(1, F_SETSIG)},
    {"fcntl", -1, -1, 0, IS(1, F_SETLEASE)},   {"fcntl", -1, -1, 0, IS(1, F_NOTIFY)},
    {"fcntl", -1, -1, 0, IS(1, F_SETPIPE_SZ)}, {"fcntl", -1, -1, 0, IS(1, F_ADD_SEALS)},
    {"epoll_ctl", -1, -1, 0, ANY},    {"inotify_add_watch", -1, 1, 0, ANY},
    {"inotify_rm_watch", -1, -1, 0, ANY}, {"fanotify_mark", -1, -1, 0, ANY},
    {"timerfd_settime", -1, -1, 0, ANY},  {"signalfd", -1, -1, 0, ANY},
    {"signalfd4", -1, -1, 0, ANY},
    SECTION("Device and terminal control: only requests that read"),
    {"ioctl", -1, -1, 0, NONE_OF(1, ioctlReads)},
    SECTION("Shared memory"),
    {"mmap", -1, -1, 4, BOTH(2, PROT_WRITE, 3, MAP_SHARED)},
    {"msync", -1, -1, -1, ANY},       {"remap_file_pages", -1, -1, -1, ANY},
    {"madvise", -1, -1, -1, IS(2, MADV_REMOVE)},
    {"madvise", -1, -1, -1, IS(2, MADV_HWPOISON)},
    {"madvise", -1, -1, -1, IS(2, MADV_SOFT_OFFLINE)},
    {"userfaultfd", -1, -1, -1, ANY},
    SECTION("The network: no sending, no connecting, no taking the parent's data"),
    {"connect", -1, -1, 0, ANY},      {"bind", -1, -1, 0, ANY},
    {"listen", -1, -1, 0, ANY},       {"accept", -1, -1, 0, ANY},
    {"accept4", -1, -1, 0, ANY},      {"shutdown", -1, -1, 0, ANY},
    {"sendto", -1, -1, 0, ANY},       {"sendmsg", -1, -1, 0, ANY},
    {"sendmmsg", -1, -1, 0, ANY},     {"setsockopt", -1, -1, 0, ANY},
    {"recvfrom", -1, -1, 0, ANY},     {"recvmsg", -1, -1, 0, ANY},
    {"recvmmsg", -1, -1, 0, ANY},
    SECTION("Asynchronous I/O, which would write behind the filter's back"),
    {"io_uring_setup", -1, -1, -1, ANY}, {"io_uring_enter", -1, -1, 0, ANY},
    {"io_uring_register", -1, -1, 0, ANY}, {"io_setup", -1, -1, -1, ANY},
    {"io_submit", -1, -1, -1, ANY},
    SECTION("Other processes: signals (except to itself), tracing, pidfds"),
    {"kill", -1, -1, -1, NOT(0, SELF_PID)},  {"tkill", -1, -1, -1, NOT(0, SELF_PID)},
    {"tgkill", -1, -1, -1, NOT(0, SELF_PID)},
    {"rt_sigqueueinfo", -1, -1, -1, NOT(0, SELF_PID)},
    {"rt_tgsigqueueinfo", -1, -1, -1, NOT(0, SELF_PID)},
    {"pidfd_send_signal", -1, -1, 0, ANY}, {"pidfd_open", -1, -1, -1, NOT(0, SELF_PID)},
    {"pidfd_getfd", -1, -1, 0, ANY},  {"ptrace", -1, -1, -1, ANY},
    {"process_vm_readv", -1, -1, -1, NOT(0, SELF_PID)},
    {"process_vm_writev", -1, -1, -1, ANY}, {"process_madvise", -1, -1, 0, ANY},
    {"process_mrelease", -1, -1, 0, ANY}, {"perf_event_open", -1, -1, -1, ANY},
    /* A wake of a futex in memory shared with the host (no PRIVATE flag)
    ** wakes the host's waiters; a private futex is the child's own. */
    {"futex", -1, -1, -1, IS(1, FUTEX_WAKE)},  {"futex", -1, -1, -1, IS(1, FUTEX_REQUEUE)},
    {"futex", -1, -1, -1, IS(1, FUTEX_CMP_REQUEUE)},
    {"futex", -1, -1, -1, IS(1, FUTEX_WAKE_OP)},
    {"futex", -1, -1, -1, IS(1, FUTEX_WAKE_BITSET)},
    {"futex", -1, -1, -1, IS(1, FUTEX_UNLOCK_PI)},
    {"futex", -1, -1, -1, IS(1, FUTEX_CMP_REQUEUE_PI)},
    {"futex_wake", 454, -1, -1, LACKS(3, FUTEX_PRIVATE_FLAG)},
    {"futex_requeue", 456, -1, -1, ANY},
    SECTION("Scheduling and limits: this process only (who = 0 under PRIO_PGRP "
            "or PRIO_USER is a group)"),
    {"setpriority", -1, -1, -1, NOT(0, PRIO_PROCESS)},
    {"setpriority", -1, -1, -1, NONE_OF(1, thisProcess)},
    {"ioprio_set", -1, -1, -1, NOT(0, IOPRIO_WHO_PROCESS)},
    {"ioprio_set", -1, -1, -1, NONE_OF(1, thisProcess)},
    {"prlimit64", -1, -1, -1, NONE_OF(0, thisProcess)},
    {"sched_setaffinity", -1, -1, -1, NONE_OF(0, thisProcess)},
    /* Even on itself: a real-time policy (root may set one) would let the
    ** mirror starve the host's threads until its deadline. */
    {"sched_setscheduler", -1, -1, -1, ANY}, {"sched_setparam", -1, -1, -1, ANY},
    {"sched_setattr", -1, -1, -1, ANY},
    {"migrate_pages", -1, -1, -1, NONE_OF(0, thisProcess)},
    {"move_pages", -1, -1, -1, NONE_OF(0, thisProcess)},
    {"prctl", -1, -1, -1, IS(0, PR_SCHED_CORE)},
    {"prctl", -1, -1, -1, IS(0, PR_SET_PDEATHSIG)},
    SECTION("The deadline (childDeadline): the timer that kills the child"),
    {"timer_settime", -1, -1, -1, IS(0, DEADLINE_TIMER)},
    {"timer_delete", -1, -1, -1, IS(0, DEADLINE_TIMER)},
    SECTION("Spawning, sessions and namespaces: the mirror must not start "
            "what it cannot contain"),
    {"fork", -1, -1, -1, ANY},        {"vfork", -1, -1, -1, ANY},
    {"clone", -1, -1, -1, ANY},       {"clone3", -1, -1, -1, ANY},
    {"execve", -1, 0, -1, ANY},       {"execveat", -1, 1, -1, ANY},
    {"setsid", -1, -1, -1, ANY},      {"setpgid", -1, -1, -1, ANY},
    {"unshare", -1, -1, -1, ANY},     {"setns", -1, -1, 0, ANY},
    {"personality", -1, -1, -1, NOT(0, 0xffffffff)},
    SECTION("System V and POSIX IPC: objects shared with the world"),
    {"semop", -1, -1, -1, ANY},       {"semtimedop", -1, -1, -1, ANY},
    {"semctl", -1, -1, -1, ANY},      {"semget", -1, -1, -1, HAS(2, IPC_CREAT)},
    {"msgsnd", -1, -1, -1, ANY},      {"msgrcv", -1, -1, -1, ANY},
    {"msgctl", -1, -1, -1, ANY},      {"msgget", -1, -1, -1, HAS(1, IPC_CREAT)},
    {"shmat", -1, -1, -1, ANY},       {"shmctl", -1, -1, -1, ANY},
    {"shmget", -1, -1, -1, HAS(2, IPC_CREAT)},
    {"mq_open", -1, 0, -1, HAS(1, O_CREAT)}, {"mq_unlink", -1, 0, -1, ANY},
    {"mq_timedsend", -1, -1, 0, ANY}, {"mq_timedreceive", -1, -1, 0, ANY},
    {"mq_notify", -1, -1, 0, ANY},    {"mq_getsetattr", -1, -1, 0, ANY},
    SECTION("The machine: root may, a mirror may not"),
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
    {"iopl", -1, -1, -1, ANY},        {"ioperm", -1, -1, -1, ANY},
};

#define N_DENY (sizeof denyRules / sizeof denyRules[0])

#define MAX_PATCH 16       /* instructions comparing against one mark, at most */

/* The instructions comparing against a mark (SELF_PID, DEADLINE_TIMER),
** which each child patches with its own value. */
struct patch {
    unsigned at[MAX_PATCH];
    unsigned n;
};

/* The compiled filter, built once per process. */
static struct {
    pthread_once_t once;
    int err;                      /* errno of a failed build, 0: built */
    const char *why;              /* the step that failed */
    int landlock_abi;             /* the kernel's Landlock ABI, 0: none */
    struct sock_fprog prog;
    struct patch self_pid, timer; /* instructions comparing against the marks */
    struct ptmSandboxDeny info[N_DENY];
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
    filter.info[filter.n_info++] = (struct ptmSandboxDeny){
        nr, r->path_arg, r->fd_arg, r->n_cmp ? (signed char)r->cmp[0].arg : -1};
}

/* Under valgrind, whose core shares the child's syscalls: valgrind's
** scheduler lock is a pipe it write()s to, so trapping every write()
** deadlocks the child.  Valgrind keeps its own descriptors at or above the
** RLIMIT_NOFILE soft limit it reports to the program, where the program
** cannot open or dup2 one; write() is trapped below that limit only. */
static int valgrindWriteRule(const struct denyRule *r, struct denyRule *out)
{
    struct rlimit nofile;

    if (!RUNNING_ON_VALGRIND || !r->name || strcmp(r->name, "write") != 0 ||
        getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur >= UINT32_MAX)
        return 0;
    *out = *r;
    out->n_cmp = 1;
    out->cmp[0] = (struct denyCmp)CMP(0, OP_LT, nofile.rlim_cur);
    return 1;
}

/* What a denied syscall does: SIGSYS, so that the handler records it.
** Under valgrind (3.19), which runs many syscalls itself and asserts when
** seccomp's SIGSYS arrives for one of those (m_signals.c:2545), it fails
** with EPERM without a signal instead: the mirror sees the same error and
** nothing is written, but the denial is not recorded. */
static uint32_t filterAction(void)
{
    return RUNNING_ON_VALGRIND ? SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)
                               : SECCOMP_RET_TRAP;
}

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_BIT 0x40000000u       /* x32 syscalls: same arch, this bit set */
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "sandbox.c: the filter knows x86_64 and aarch64 only"
#endif

/* The low 32 bits of argument i in struct seccomp_data. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) ((uint32_t)offsetof(struct seccomp_data, args[0]) + 8u * (i))
#else
#define ARG_LO(i) ((uint32_t)offsetof(struct seccomp_data, args[0]) + 8u * (i) + 4u)
#endif

/* A BPF program being written.  code NULL: only count the instructions,
** which is how a jump learns how far its target is. */
struct bpf {
    struct sock_filter *code;
    unsigned n, cap;
    int err;                      /* a jump that does not fit: EOVERFLOW */
};

static void bpfPut(struct bpf *b, uint16_t code, uint32_t k, unsigned jt, unsigned jf)
{
    if (jt > 255 || jf > 255)
        b->err = EOVERFLOW;
    if (b->code && b->n < b->cap)
        b->code[b->n] = (struct sock_filter){code, (uint8_t)jt, (uint8_t)jf, k};
    b->n++;
}

/* The rows of one syscall number, in table order. */
struct denyGroup {
    int nr;
    int any;                      /* some row denies it whatever its arguments */
    unsigned n;
    const struct denyRule *rows[N_DENY];
};

/* Notes that the next instruction compares against k, when k is a mark
** (SELF_PID, DEADLINE_TIMER) that each child patches. */
static void bpfMark(struct bpf *b, uint32_t k)
{
    struct patch *mark = k == SELF_PID ? &filter.self_pid
                         : k == DEADLINE_TIMER ? &filter.timer : NULL;
    if (b->code && mark && mark->n < MAX_PATCH)
        mark->at[mark->n++] = b->n;
    else if (b->code && mark)
        b->err = E2BIG;
}

/* One test of cmp on the accumulator: jump `holds` ahead (counted from the
** test's first instruction) when the row's condition holds, `fails` ahead
** (counted from the test's end) when it does not.  Every test is one
** instruction but OP_NONE_OF's: one JEQ per allowed value, then a JA, so
** it may only be a row's one comparison (filterGroups). */
static void bpfTest(struct bpf *b, const struct denyCmp *c, unsigned holds, unsigned fails)
{
    unsigned i;

    if (c->op != OP_NONE_OF)
        bpfMark(b, c->k);
    switch (c->op) {
    case OP_HAS: bpfPut(b, BPF_JMP | BPF_JSET | BPF_K, c->k, holds, fails); break;
    case OP_LACKS: bpfPut(b, BPF_JMP | BPF_JSET | BPF_K, c->k, fails, holds); break;
    case OP_IS: bpfPut(b, BPF_JMP | BPF_JEQ | BPF_K, c->k, holds, fails); break;
    case OP_NOT: bpfPut(b, BPF_JMP | BPF_JEQ | BPF_K, c->k, fails, holds); break;
    case OP_NONE_OF:
        for (i = 0; i < c->set->n; i++) {
            bpfMark(b, c->set->v[i].v);
            bpfPut(b, BPF_JMP | BPF_JEQ | BPF_K, c->set->v[i].v, c->set->n - i + fails, 0);
        }
        bpfPut(b, BPF_JMP | BPF_JA, holds > c->set->n ? holds - c->set->n : 0, 0, 0);
        break;
    default: bpfPut(b, BPF_JMP | BPF_JGE | BPF_K, c->k, fails, holds); break; /* OP_LT */
    }
}

/* The instructions deciding one conditional syscall number; they end in
** RET ALLOW, RET deny.  The accumulator holds the number on entry.  Single
** HAS rows on one argument are merged into one JSET (open's five flags). */
static void bpfGroup(struct bpf *b, const struct denyGroup *g, uint32_t deny)
{
    struct bpf count = {NULL, 0, 0, 0};
    unsigned start = b->n, trap, i, arg;
    int loaded = -1;

    if (b->code) {                /* where RET deny will be */
        bpfGroup(&count, g, deny);
        trap = start + count.n - 1;
    } else {
        trap = start;             /* counting: any offset will do */
    }
#define TO_TRAP (trap > b->n ? trap - b->n - 1 : 0)
#define LOAD(a)                                                         \
    do {                                                                \
        if (loaded != (int)(a))                                         \
            bpfPut(b, BPF_LD | BPF_W | BPF_ABS, ARG_LO(a), 0, 0);       \
        loaded = (int)(a);                                              \
    } while (0)
    for (arg = 0; arg < 6; arg++) {
        uint32_t mask = 0;
        for (i = 0; i < g->n; i++)
            if (g->rows[i]->n_cmp == 1 && g->rows[i]->cmp[0].op == OP_HAS &&
                g->rows[i]->cmp[0].arg == arg)
                mask |= g->rows[i]->cmp[0].k;
        if (mask) {
            struct denyCmp c = CMP(arg, OP_HAS, mask);
            LOAD(arg);
            bpfTest(b, &c, TO_TRAP, 0);
        }
    }
    for (i = 0; i < g->n; i++) {
        const struct denyRule *r = g->rows[i];
        if (r->n_cmp == 1 && r->cmp[0].op != OP_HAS) {
            LOAD(r->cmp[0].arg);
            bpfTest(b, &r->cmp[0], TO_TRAP, 0);
        } else if (r->n_cmp == 2) {
            /* LD a; test a (fails: over the next two); LD b; test b. */
            bpfPut(b, BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->cmp[0].arg), 0, 0);
            bpfTest(b, &r->cmp[0], 0, 2);
            bpfPut(b, BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->cmp[1].arg), 0, 0);
            bpfTest(b, &r->cmp[1], TO_TRAP, 0);
            loaded = -1;
        }
    }
#undef LOAD
#undef TO_TRAP
    bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
    bpfPut(b, BPF_RET | BPF_K, deny, 0, 0);
}

/* The deny table grouped by syscall number, ascending; vg holds the
** valgrind variant of write's row.  OUT: groups[], *n.  0 or an errno. */
static int filterGroups(struct denyGroup *groups, unsigned *n, struct denyRule *vg)
{
    unsigned i, k;
    int nr;

    *n = 0;
    for (i = 0; i < N_DENY; i++) {
        const struct denyRule *r = valgrindWriteRule(&denyRules[i], vg) ? vg : &denyRules[i];
        if (!r->name || (nr = ruleNumber(r)) < 0)
            continue;
        if (r->n_cmp == 2 && (r->cmp[0].op == OP_NONE_OF || r->cmp[1].op == OP_NONE_OF))
            return EINVAL;
        for (k = 0; k < *n && groups[k].nr < nr; k++)
            ;
        if (k == *n || groups[k].nr != nr) {
            memmove(&groups[k + 1], &groups[k], (*n - k) * sizeof *groups);
            groups[k].nr = nr;
            groups[k].any = 0;
            groups[k].n = 0;
            (*n)++;
        }
        groups[k].rows[groups[k].n++] = r;
        groups[k].any |= r->n_cmp == 0;
        noteInfo(&denyRules[i], nr);
    }
    return *n ? 0 : ENOSYS;
}

/* Two groups decided by the same rows share one block (kill, tkill and
** tgkill; the sched_* calls on another process). */
static int groupSame(const struct denyGroup *a, const struct denyGroup *b)
{
    unsigned i;

    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++) {
        const struct denyRule *x = a->rows[i], *y = b->rows[i];
        unsigned j;
        if (x->n_cmp != y->n_cmp)
            return 0;
        for (j = 0; j < x->n_cmp; j++)
            if (x->cmp[j].arg != y->cmp[j].arg || x->cmp[j].op != y->cmp[j].op ||
                x->cmp[j].k != y->cmp[j].k || x->cmp[j].set != y->cmp[j].set)
                return 0;
    }
    return 1;
}

#define MAX_BUCKETS 64            /* syscall numbers below 2048 */

/* The deny table, arranged for the program (bpfProgram). */
struct plan {
    unsigned n_buckets;           /* of 32 numbers; above them all is allowed */
    uint32_t deny[MAX_BUCKETS];   /* per bucket: bit n % 32 set, n denied */
    uint32_t cond[MAX_BUCKETS];   /* ... n decided by its arguments */
    uint32_t lo[MAX_BUCKETS + 1]; /* the search's ranges of buckets: first bucket */
    int full[MAX_BUCKETS + 1];    /* ... holds a denied or conditional number */
    unsigned n_ranges;
    const struct denyGroup *conds[N_DENY]; /* the conditional numbers, ascending */
    unsigned block_of[N_DENY];    /* ... the block deciding each */
    unsigned n_conds;
    const struct denyGroup *blocks[N_DENY]; /* distinct blocks */
    unsigned n_blocks;
};

/* The leaf of bucket k: M[0] (1 << nr % 32) against its bitmaps. */
static void bpfBucket(struct bpf *b, const struct plan *p, unsigned k, unsigned dispatch,
                      uint32_t deny)
{
    uint32_t d = p->deny[k], c = p->cond[k];

    bpfPut(b, BPF_LD | BPF_MEM, 0, 0, 0);
    if (d)
        bpfPut(b, BPF_JMP | BPF_JSET | BPF_K, d, c ? 2 : 1, 0);
    if (c)
        bpfPut(b, BPF_JMP | BPF_JSET | BPF_K, c, d ? 2 : 1, 0);
    bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
    if (d)
        bpfPut(b, BPF_RET | BPF_K, deny, 0, 0);
    if (c)
        bpfPut(b, BPF_JMP | BPF_JA, dispatch > b->n ? dispatch - b->n - 1 : 0, 0, 0);
}

/* A binary search over the bucket ranges [i, j) on the accumulator (the
** bucket number).  A left half too far for an 8-bit jump gets a JA. */
static void bpfSearch(struct bpf *b, const struct plan *p, unsigned i, unsigned j,
                      unsigned dispatch, uint32_t deny)
{
    struct bpf count = {NULL, b->n + 2, 0, 0};
    unsigned m;

    if (j - i == 1) {
        if (p->full[i])
            bpfBucket(b, p, p->lo[i], dispatch, deny);
        else
            bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
        return;
    }
    m = i + (j - i) / 2;
    bpfSearch(&count, p, i, m, dispatch, deny);
    count.n -= b->n + 2;
    if (count.n <= 255) {
        bpfPut(b, BPF_JMP | BPF_JGE | BPF_K, p->lo[m], count.n, 0);
    } else {
        bpfPut(b, BPF_JMP | BPF_JGE | BPF_K, p->lo[m], 0, 1);
        bpfPut(b, BPF_JMP | BPF_JA, count.n, 0, 0);
    }
    bpfSearch(b, p, i, m, dispatch, deny);
    bpfSearch(b, p, m, j, dispatch, deny);
}

/* The program:
**   the ABI checks; numbers above the buckets are allowed;
**   M[0] = 1 << nr % 32, A = nr / 32;
**   a binary search over the buckets of 32 numbers, whose leaf tests M[0]
**   against the bucket's bitmaps: denied (RET deny), decided by the
**   arguments (JA to the dispatch), else RET ALLOW;
**   the dispatch: one JEQ per conditional number, to its block;
**   the blocks (bpfGroup).
** Bitmaps instead of a search over numbers: half the instructions, and
** the kernel translates and JIT-compiles every one of them in every child.
** (The kernel's cache of always-allowed numbers cannot read this program,
** so each system call of the mirror runs it: some 20 instructions.) */
static void bpfProgram(struct bpf *b, const struct plan *p, uint32_t deny)
{
    struct bpf count;
    unsigned i, at, dispatch, start[N_DENY];

    /* A load of an argument first: the kernel's cache of always-allowed
    ** numbers, which it computes in every child by running the program
    ** for each number, stops at once (it cannot use this program anyway). */
    bpfPut(b, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0), 0, 0);
    /* Not the native ABI (i386 through int 0x80, x32): the process dies by
    ** SIGSYS, a crash the parent observes. */
    bpfPut(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
    bpfPut(b, BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
    bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
    bpfPut(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef X32_BIT
    bpfPut(b, BPF_JMP | BPF_JGE | BPF_K, X32_BIT, 0, 1);
    bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
#endif
    bpfPut(b, BPF_JMP | BPF_JGE | BPF_K, p->n_buckets * 32, 0, 1);
    bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
    bpfPut(b, BPF_ALU | BPF_AND | BPF_K, 31, 0, 0);
    bpfPut(b, BPF_MISC | BPF_TAX, 0, 0, 0);
    bpfPut(b, BPF_LD | BPF_IMM, 1, 0, 0);
    bpfPut(b, BPF_ALU | BPF_LSH | BPF_X, 0, 0, 0);
    bpfPut(b, BPF_ST, 0, 0, 0);
    bpfPut(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
    bpfPut(b, BPF_ALU | BPF_RSH | BPF_K, 5, 0, 0);

    count = (struct bpf){NULL, b->n, 0, 0};
    bpfSearch(&count, p, 0, p->n_ranges, 0, deny);
    dispatch = count.n;
    bpfSearch(b, p, 0, p->n_ranges, dispatch, deny);

    /* Where each block will start, after the dispatch. */
    at = dispatch + 1 + p->n_conds + 1;
    for (i = 0; i < p->n_blocks; i++) {
        start[i] = at;
        count = (struct bpf){NULL, at, 0, 0};
        bpfGroup(&count, p->blocks[i], deny);
        at = count.n;
    }
    bpfPut(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
    for (i = 0; i < p->n_conds; i++)
        bpfPut(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)p->conds[i]->nr,
               start[p->block_of[i]] - b->n - 1, 0);
    bpfPut(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0); /* not reached */
    for (i = 0; i < p->n_blocks; i++)
        bpfGroup(b, p->blocks[i], deny);
}

/* groups[0, n) arranged for bpfProgram.  OUT: *p.  0 or an errno. */
static int filterPlan(const struct denyGroup *groups, unsigned n, struct plan *p)
{
    unsigned i, k;

    memset(p, 0, sizeof *p);
    for (i = 0; i < n; i++) {
        unsigned nr = (unsigned)groups[i].nr;
        if (nr >= MAX_BUCKETS * 32)
            return ERANGE;
        if (nr / 32 + 1 > p->n_buckets)
            p->n_buckets = nr / 32 + 1;
        if (groups[i].any) {
            p->deny[nr / 32] |= 1u << (nr % 32);
            continue;
        }
        p->cond[nr / 32] |= 1u << (nr % 32);
        for (k = 0; k < p->n_blocks && !groupSame(p->blocks[k], &groups[i]); k++)
            ;
        if (k == p->n_blocks)
            p->blocks[p->n_blocks++] = &groups[i];
        p->block_of[p->n_conds] = k;
        p->conds[p->n_conds++] = &groups[i];
    }
    /* Runs of empty buckets become one range each. */
    for (k = 0; k < p->n_buckets; k++) {
        int full = (p->deny[k] | p->cond[k]) != 0;
        if (full || p->n_ranges == 0 || p->full[p->n_ranges - 1]) {
            p->lo[p->n_ranges] = k;
            p->full[p->n_ranges++] = full;
        }
    }
    return 0;
}

/* Landlock (Linux 5.13), through the raw system calls: the same numbers
** on x86_64 and aarch64; the ruleset's layout of ABI 6. */
#define LL_CREATE_RULESET_VERSION 1u
#define LL_FS_WRITES_V1 0x1ff2ull  /* WRITE_FILE, REMOVE_DIR/FILE, MAKE_* */
#define LL_FS_REFER (1ull << 13)   /* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14) /* ABI 3 */
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)        /* ABI 6 */

/* The kernel's Landlock ABI, 0 when it has none (or under valgrind, which
** does not know its system calls).  Asked once, in filterBuild. */
static int landlockAbi(void)
{
    long abi;

    if (RUNNING_ON_VALGRIND)
        return 0;
    abi = syscall(PTM_NR_LANDLOCK_CREATE_RULESET, NULL, 0, LL_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}


static void filterBuild(void)
{
    static struct denyGroup groups[N_DENY];
    static struct plan plan;
    struct denyRule vg;
    struct bpf b = {NULL, 0, 0, 0};
    unsigned n_groups;

    filter.why = "deny table";
    if ((filter.err = filterGroups(groups, &n_groups, &vg)) != 0 ||
        (filter.err = filterPlan(groups, n_groups, &plan)) != 0)
        return;
    bpfProgram(&b, &plan, filterAction());
    filter.why = "program";
    if (b.err || b.n > BPF_MAXINSNS) {
        filter.err = b.err ? b.err : E2BIG;
        return;
    }
    if (!(b.code = malloc(b.n * sizeof *b.code))) {
        filter.err = ENOMEM;
        return;
    }
    b.cap = b.n;
    b.n = 0;
    bpfProgram(&b, &plan, filterAction());
    filter.prog.filter = b.code;
    filter.prog.len = (unsigned short)b.n;
    /* EPROTO when nothing compares against a mark: a self-signal would then
    ** be denied (abort() would report the wrong signal), or the deadline
    ** could be disarmed. */
    filter.why = "marks";
    filter.err = filter.self_pid.n && filter.timer.n ? 0 : EPROTO;
    filter.landlock_abi = landlockAbi();
}

/* A comparison's operand as the documentation names it. */
static const char *describeName(const char *name)
{
    if (strcmp(name, "SELF_PID") == 0)
        return "its own pid";
    if (strcmp(name, "DEADLINE_TIMER") == 0)
        return "its deadline timer";
    return name;
}

/* Sets this long or longer are listed after their section's table. */
#define DESCRIBE_LONG_SET 5

/* One row's condition, in Markdown.  Consecutive OP_HAS rows on the same
** argument (open's flags) are one condition: rows[0, n). */
static void describeCondition(FILE *out, const struct denyRule *rows, unsigned n)
{
    const struct denyCmp *c = &rows[0].cmp[0];
    unsigned i, j;

    if (rows[0].n_cmp == 0) {
        fputs("always", out);
        return;
    }
    if (n > 1) {                  /* merged OP_HAS rows */
        fprintf(out, "`arg%u & (", c->arg);
        for (i = 0; i < n; i++)
            fprintf(out, "%s%s", i ? " \\| " : "", rows[i].cmp[0].name);
        fputs(")` is not 0", out);
        return;
    }
    for (j = 0; j < rows[0].n_cmp; j++) {
        c = &rows[0].cmp[j];
        if (j)
            fputs(" and ", out);
        switch (c->op) {
        case OP_HAS: fprintf(out, "`arg%u & %s` is not 0", c->arg, c->name); break;
        case OP_LACKS: fprintf(out, "`arg%u & %s` is 0", c->arg, c->name); break;
        case OP_IS: fprintf(out, "`arg%u` is %s", c->arg, describeName(c->name)); break;
        case OP_NOT: fprintf(out, "`arg%u` is not %s", c->arg, describeName(c->name)); break;
        case OP_LT: fprintf(out, "`arg%u` < %s", c->arg, describeName(c->name)); break;
        default:
            if (c->set->n >= DESCRIBE_LONG_SET) {
                fprintf(out, "`arg%u` is none of `%s` (below)", c->arg, c->name);
                break;
            }
            fprintf(out, "`arg%u` is none of ", c->arg);
            for (i = 0; i < c->set->n; i++)
                fprintf(out, "%s%s", i ? ", " : "", describeName(c->set->v[i].name));
            break;
        }
    }
}

/* The long sets of the section that ends before denyRules[end]. */
static void describeSets(FILE *out, unsigned start, unsigned end)
{
    unsigned i, j;

    for (i = start; i < end; i++) {
        const struct denyCmp *c = &denyRules[i].cmp[0];
        if (!denyRules[i].name || denyRules[i].n_cmp != 1 || c->op != OP_NONE_OF ||
            c->set->n < DESCRIBE_LONG_SET)
            continue;
        fprintf(out, "\n`%s`, the values `arg%u` of `%s` may take:\n\n", c->name, c->arg,
                denyRules[i].name);
        for (j = 0; j < c->set->n; j++)
            fprintf(out, "%s`%s`", j ? ", " : "", c->set->v[j].name);
        fputs(".\n", out);
    }
}

/*
** ptmSandboxDescribe: prints the filter's table (denyRules) to out as
** Markdown: per section, a table of the system calls the filter denies and
** when, with the values each comparison names; the allow-lists after their
** section.  Architecture-independent (names, not numbers).  This output is
** docs/sandbox.md's generated part.  Returns 0, or EIO when out failed.
*/
int ptmSandboxDescribe(FILE *out)
{
    unsigned i = 0, section = 0, n;

    fputs("Every system call not listed here is allowed.  A call made through another\n"
          "ABI than the native one (i386's `int 0x80`, x32) kills the child (a crash).\n"
          "Arguments are numbered from 0 and compared by their low 32 bits.\n",
          out);
    while (i < N_DENY) {
        if (!denyRules[i].name) {
            if (i)
                describeSets(out, section, i);
            fprintf(out, "\n### %s\n\n| system call | denied when |\n|---|---|\n",
                    denyRules[i].cmp[0].name);
            section = i++;
            continue;
        }
        fprintf(out, "| `%s` | ", denyRules[i].name);
        for (n = 0;; n = 0) {
            /* Consecutive OP_HAS rows of this call on one argument: merged. */
            while (i + n + 1 < N_DENY && denyRules[i + n + 1].name &&
                   strcmp(denyRules[i + n + 1].name, denyRules[i].name) == 0 &&
                   denyRules[i].n_cmp == 1 && denyRules[i].cmp[0].op == OP_HAS &&
                   denyRules[i + n + 1].n_cmp == 1 && denyRules[i + n + 1].cmp[0].op == OP_HAS &&
                   denyRules[i + n + 1].cmp[0].arg == denyRules[i].cmp[0].arg)
                n++;
            describeCondition(out, &denyRules[i], n + 1);
            i += n + 1;
            if (i >= N_DENY || !denyRules[i].name ||
                strcmp(denyRules[i].name, denyRules[i - 1].name) != 0)
                break;
            fputs("; or ", out);
        }
        fputs(" |\n", out);
    }
    describeSets(out, section, N_DENY);
    return fflush(out) == 0 && !ferror(out) ? 0 : EIO;
}

/*
** ptmSandboxBuild: builds the filter, once per process (later calls return
** the first one's result).  OUT: *why, the step that failed (static text),
** when it did.  Returns 0, or the errno of the failed step (EPROTO when the
** program compares against no mark, E2BIG when it is too long, ENOMEM).
*/
int ptmSandboxBuild(const char **why)
{
    pthread_once(&filter.once, filterBuild);
    if (filter.err && why)
        *why = filter.why;
    return filter.err;
}

/*
** ptmSandboxProgram: this process's copy of the built filter, with pid in
** place of "this process" and timer (-1: none) in place of the deadline
** timer.  Called by the fork child on its copy-on-write copy; only stores
** into memory built before the fork (async-signal-safe).  Returns the
** program, for seccomp(2); ptmSandboxBuild must have returned 0.
*/
struct sock_fprog *ptmSandboxProgram(uint32_t pid, uint32_t timer)
{
    unsigned i;

    for (i = 0; i < filter.self_pid.n; i++)
        filter.prog.filter[filter.self_pid.at[i]].k = pid;
    for (i = 0; i < filter.timer.n; i++)
        filter.prog.filter[filter.timer.at[i]].k = timer;
    return &filter.prog;
}

/*
** ptmSandboxDenied: what the filter knows of system call nr, for the
** SIGSYS handler's event (async-signal-safe).  Returns its row, or NULL
** when the filter denies no form of nr.
*/
const struct ptmSandboxDeny *ptmSandboxDenied(int nr)
{
    unsigned i;

    for (i = 0; i < filter.n_info; i++)
        if (filter.info[i].nr == nr)
            return &filter.info[i];
    return NULL;
}

/*
** ptmSandboxLandlock: the Landlock ruleset the fork child enters: every
** filesystem write right the kernel's ABI knows handled (and from ABI 6
** signals and abstract Unix sockets scoped), with no rule, so nothing
** outside may be written.  OUT: *rs.  Returns the size to pass to
** landlock_create_ruleset, or 0 when the kernel has no Landlock (or under
** valgrind).  Async-signal-safe; ptmSandboxBuild must have run.
*/
size_t ptmSandboxLandlock(struct ptmLandlockRuleset *rs)
{
    int abi = filter.landlock_abi;

    *rs = (struct ptmLandlockRuleset){LL_FS_WRITES_V1, 0, 0};
    if (abi <= 0)
        return 0;
    if (abi >= 2)
        rs->handled_access_fs |= LL_FS_REFER;
    if (abi >= 3)
        rs->handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 6)
        rs->scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
    return abi >= 6 ? sizeof *rs : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
}
