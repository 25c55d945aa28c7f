// A daemon closes every descriptor it did not open (all but 0-2) after
// calls were made, then opens files of its own, which get the numbers
// libptm's trace and history store had.  A record or a page written
// through a kept number would land in the host's file: the trace wrote
// 3.9 MB of records into one before.  Now the trace checks its descriptor
// before each record and opens its file again, and the history store's
// connections last one load or write: the host's files are unchanged,
// the trace has every call, and the history counted every call.
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PTM_TRACE=%t.d/trace PTM_HISTORY=%t.d/h.db PTM_METRICS=%t.d/m.prom %t %t.d/host | FileCheck %s
// RUN: grep -c '"transaction_id":"daemon.step"' %t.d/trace | FileCheck %s --check-prefix=COUNT
// RUN: /usr/bin/python3 -c "import sqlite3,sys; print('history: %%d calls' %% sqlite3.connect(sys.argv[1]).execute('select calls from ptm_tx where id = ?', ('daemon.step',)).fetchone()[0])" %t.d/h.db | FileCheck %s --check-prefix=HISTORY
// CHECK: host files unchanged: 8 of 8
// COUNT: 3050
// HISTORY: history: 3050 calls

#include <ptm.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PTM_TRANSACTION(.transaction_id = "daemon.step", .success_criteria = return >= 0, .mirror = auto)
int step(int x)
{
    return x;
}

static const char data[] = "host data\n";

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int i = 0; i < 50; i++)
        step(i);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int fds[8];
    char path[8][512];
    for (int i = 0; i < 8; i++) {
        snprintf(path[i], sizeof path[i], "%s.%d", argv[1], i);
        fds[i] = open(path[i], O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fds[i] < 0 || write(fds[i], data, sizeof data - 1) != (ssize_t)(sizeof data - 1))
            return 3;
    }
    for (int i = 0; i < 3000; i++)
        step(i);
    int same = 0;
    for (int i = 0; i < 8; i++) {
        char buf[64] = {0};
        close(fds[i]);
        int fd = open(path[i], O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
        same += n == (ssize_t)(sizeof data - 1) && memcmp(buf, data, sizeof data - 1) == 0;
        if (fd >= 0)
            close(fd);
    }
    printf("host files unchanged: %d of 8\n", same);
    return 0;
}
