/*
** test_filter.c - the fork child's seccomp filter alone (runtime/sandbox.c),
** without the fork executor: the program ptmSandboxBuild compiles from the
** table, loaded in a plain fork child of the test, must trap a sample of
** the calls the table denies (the child has no SIGSYS handler, so a trap
** kills it with SIGSYS) and let the others through; and the table's rows
** must be what the SIGSYS handler and docs/sandbox.md read.
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* What a child ran under the filter: how it ended. */
enum outcome { PASSED, TRAPPED, OTHER };

/* Runs attempt() in a fork child under the built filter, with the child's
** own pid patched in as "this process".  PASSED: it returned 0 and the
** child exited 0; TRAPPED: SIGSYS killed it. */
static enum outcome underFilter(int (*attempt)(void))
{
    const char *why = NULL;
    int status;
    pid_t pid;

    cr_assert_eq(ptmSandboxBuild(&why), 0, "the filter was not built: %s", why ? why : "?");
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct sock_fprog *prog = ptmSandboxProgram((uint32_t)getpid(), (uint32_t)-1);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) != 0)
            _exit(3);
        _exit(attempt() == 0 ? 0 : 4);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return PASSED;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
        return TRAPPED;
    return OTHER;
}

static char victim[64];

static void makeVictim(void)
{
    int fd;

    snprintf(victim, sizeof victim, "/tmp/ptm_filter_%d", (int)getpid());
    fd = open(victim, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
}

static int doUnlink(void) { return (int)syscall(SYS_unlinkat, AT_FDCWD, victim, 0); }
static int doOpenWrite(void) { return open(victim, O_WRONLY) >= 0 ? 0 : -1; }
static int doKillParent(void) { return (int)syscall(SYS_kill, getppid(), 0); }

/* Reads, its own pid, a signal to itself, a file opened for reading. */
static int doAllowed(void)
{
    char c;
    int fd = open(victim, O_RDONLY);

    if (fd < 0 || read(fd, &c, 1) != 0 || close(fd) != 0)
        return -1;
    if (syscall(SYS_getpid) != getpid() || syscall(SYS_kill, getpid(), 0) != 0)
        return -1;
    return 0;
}

/* Under valgrind a denial fails with EPERM instead of a trap. */
#define SKIP_UNDER_VALGRIND()                                              \
    do {                                                                   \
        if (RUNNING_ON_VALGRIND)                                           \
            cr_skip_test("valgrind: denials are EPERM, not SIGSYS");       \
    } while (0)

Test(filter, denies_unlink_and_the_file_stays)
{
    struct stat st;

    SKIP_UNDER_VALGRIND();
    makeVictim();
    cr_expect_eq(underFilter(doUnlink), TRAPPED);
    cr_expect_eq(stat(victim, &st), 0, "the denied unlink removed the file");
    unlink(victim);
}

Test(filter, denies_open_for_writing)
{
    SKIP_UNDER_VALGRIND();
    makeVictim();
    cr_expect_eq(underFilter(doOpenWrite), TRAPPED);
    unlink(victim);
}

Test(filter, denies_a_signal_to_another_process)
{
    SKIP_UNDER_VALGRIND();
    cr_expect_eq(underFilter(doKillParent), TRAPPED);
}

Test(filter, allows_reads_and_signals_to_itself)
{
    makeVictim();
    cr_expect_eq(underFilter(doAllowed), PASSED);
    unlink(victim);
}

Test(filter, rows_name_the_path_and_the_request)
{
    const struct ptmSandboxDeny *d;

    cr_assert_eq(ptmSandboxBuild(NULL), 0);
    d = ptmSandboxDenied(SYS_unlinkat);
    cr_assert_not_null(d);
    cr_expect_eq(d->path_arg, 1);
    d = ptmSandboxDenied(SYS_ioctl);
    cr_assert_not_null(d);
    cr_expect_eq(d->fd_arg, 0);
    cr_expect_eq(d->detail_arg, 1, "an ioctl's denial shows its request");
    cr_expect_null(ptmSandboxDenied(SYS_getpid));
    cr_expect_null(ptmSandboxDenied(SYS_read));
}

Test(filter, landlock_ruleset_fits_its_abi)
{
    struct ptmLandlockRuleset rs;
    size_t size;

    cr_assert_eq(ptmSandboxBuild(NULL), 0);
    size = ptmSandboxLandlock(&rs);
    cr_expect(size == 0 || size == 8 || size == 16 || size == 24, "size %zu", size);
    if (size)
        cr_expect_neq(rs.handled_access_fs, 0, "Landlock handles no write right");
}

Test(filter, describes_its_table)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    cr_assert_not_null(out);
    cr_assert_eq(ptmSandboxDescribe(out), 0);
    fclose(out);
    cr_expect_not_null(strstr(text, "| `unlinkat` | always |"));
    cr_expect_not_null(strstr(text, "| `kill` | `arg0` is not its own pid |"));
    cr_expect_not_null(strstr(text, "PROCMAP_QUERY_IOCTL"));
    free(text);
}
