// A request/response transaction over TCP.  On the first call no response
// from its server has been recorded, so the mirror's recv can only invent
// one (an empty read): its event says "no recorded response" and is marked
// pretended, and the mirror's failing result is inconclusive -- the
// primary runs, with the inline and the fork executor alike, and records
// the response, which the second call's mirror receives (run-net-replay.c).  A server that refuses the connection (seen by the
// connect probe) is still predicted to fail, and the call diverts.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace %t.fork.trace %t.dead.trace
// RUN: env PTM_TRACE=%t.trace %t live | FileCheck %s --check-prefix=LIVE
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=TWO
// RUN: grep -c '"detail":"no recorded response"' %t.trace | FileCheck %s --check-prefix=ONE
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=TWO
// RUN: grep -c '"decision":"primary"' %t.trace | FileCheck %s --check-prefix=TWO
// RUN: env PTM_MIRROR=fork PTM_TRACE=%t.fork.trace %t live | FileCheck %s --check-prefix=LIVE
// RUN: grep -c '"mirror":"fork"' %t.fork.trace | FileCheck %s --check-prefix=TWO
// RUN: grep -c '"detail":"no recorded response"' %t.fork.trace | FileCheck %s --check-prefix=ONE
// RUN: grep -c '"decision":"primary"' %t.fork.trace | FileCheck %s --check-prefix=TWO
// RUN: env PTM_PROBE_CONNECT=1 PTM_TRACE=%t.dead.trace %t dead | FileCheck %s --check-prefix=DEAD
// RUN: grep -c '"call":"connect"[^}]*"errname":"ECONNREFUSED"' %t.dead.trace | FileCheck %s --check-prefix=ONE
// RUN: grep -c '"criteria_failed":true' %t.dead.trace | FileCheck %s --check-prefix=ONE
// RUN: grep -c '"decision":"divert"' %t.dead.trace | FileCheck %s --check-prefix=ONE

// LIVE: call 1: rc=0
// LIVE-NEXT: call 2: rc=0
// LIVE-NOT: diverted

// TWO: 2
// ONE: 1

// DEAD: diverted
// DEAD-NEXT: call 1: rc=1

#include <ptm.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int offline(int port)
{
    (void)port;
    puts("diverted");
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { offline }, .success_criteria = return == 0)
int ping(int port)
{
    /* Byte order by hand: htons may be a call the inline executor does not
    ** know, and only an inline mirror probes its connect. */
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = (unsigned short)((port >> 8) | ((port & 0xff) << 8)) };
    sa.sin_addr.s_addr = 0x0100007f; /* 127.0.0.1, little-endian */
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    char b[8];
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && send(fd, "hi", 2, 0) == 2 &&
        recv(fd, b, sizeof b, 0) > 0)
        rc = 0;
    close(fd);
    return rc;
}

/* A socket bound to a loopback port: listening (a live echo server for
** n connections, in a child) or not (connections are refused). */
static int server(int live, int n, int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&sa, sl) != 0 || getsockname(l, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    *port = ntohs(sa.sin_port);
    if (!live)
        return l;
    listen(l, 4);
    if (fork() == 0) {
        alarm(5);  /* a call that never connects (a divert) must not hang the test */
        for (int i = 0; i < n; i++) {
            int c = accept(l, 0, 0);
            char b[8];
            ssize_t k = recv(c, b, sizeof b, 0);
            if (k > 0)
                send(c, b, (size_t)k, 0);
            close(c);
        }
        _exit(0);
    }
    close(l);
    return 0;
}

int main(int argc, char **argv)
{
    int live = argc > 1 && strcmp(argv[1], "live") == 0, port, calls = live ? 2 : 1;
    if (server(live, calls, &port) < 0)
        return 2;
    for (int i = 1; i <= calls; i++) {
        int rc = ping(port);
        printf("call %d: rc=%d\n", i, rc);
        fflush(stdout);
    }
    if (live) {
        /* The server is done once both calls connected; otherwise (a call
        ** diverted) its alarm ends it. */
        wait(NULL);
    }
    return 0;
}
