// fcntl(fd, F_GETLK, &p->fl) in an inline mirror fills the write buffer's
// view of the struct, not the host's, and reads the request the mirror
// stored there: a dry run leaves the host's struct as it was, and the
// mirror predicts what the primary will see.
// RUN: %ptmcc -std=gnu11 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.lock %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t %t.lock | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=ONE
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=ONE
// RUN: %t %t.lock | FileCheck %s --check-prefix=REAL

#include <fcntl.h>
#include <ptm.h>
#include <stdio.h>
#include <unistd.h>

struct lockinfo {
    struct flock fl;
    int fd;
};
static struct lockinfo li;

PTM_TRANSACTION(.success_criteria = return == 0)
int probe(struct lockinfo *p)
{
    p->fl.l_type = F_WRLCK;
    p->fl.l_whence = SEEK_SET;
    p->fl.l_start = 0;
    p->fl.l_len = 0;
    if (fcntl(p->fd, F_GETLK, &p->fl) < 0)
        return -1;
    return p->fl.l_type == F_UNLCK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (li.fd = open(argv[1], O_RDWR | O_CREAT, 0644)) < 0)
        return 2;
    li.fl.l_type = 77; /* what the host had: an invalid type */
    li.fl.l_pid = 4242;
    int r = probe(&li);
    printf("r=%d l_type=%d l_pid=%d\n", r, li.fl.l_type, (int)li.fl.l_pid);
    return 0;
}

// DRY: r=0 l_type=77 l_pid=4242
// ONE: 1
// REAL: r=0 l_type=2
