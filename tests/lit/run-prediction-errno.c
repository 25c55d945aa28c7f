// An alternative can ask why it runs (ptm_prediction()): the probability,
// the rules' reasons and the errno the mirror predicted for the primary.
// Under a 4 KiB file size limit, a write of 8 KiB is predicted to fail
// with EFBIG; the call diverts, and the alternative tells its caller "File
// too large" instead of a bare failure with errno 0.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.out && %t %t.out | FileCheck %s

#include <errno.h>
#include <fcntl.h>
#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char block[8192];

static int save_later(const char *path)
{
    const struct ptm_prediction *p = ptm_prediction();
    if (!p)
        return -2;
    printf("alternative %s: probability %.1f, %u reason(s), first: %s\n", p->alternative,
           p->probability, p->n_reasons, p->n_reasons ? p->reasons[0] : "-");
    (void)path;
    errno = p->predicted_errno;
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { save_later }, .success_criteria = return == 0)
int save(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    for (size_t done = 0; done < sizeof block;) {
        ssize_t n = write(fd, block + done, sizeof block - done);
        if (n < 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

int main(int argc, char **argv)
{
    struct rlimit rl = {4096, RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &rl);
    int rc = save(argc > 1 ? argv[1] : "out");
    printf("save: %d (%s)\n", rc, rc ? strerror(errno) : "ok");
    printf("outside: %s\n", ptm_prediction() ? "a prediction" : "none");
    return 0;
}

// CHECK: alternative save_later: probability {{0\.[4-9]|1\.0}}, {{[1-9]}} reason(s), first:
// CHECK: save: -1 (File too large)
// CHECK: outside: none
