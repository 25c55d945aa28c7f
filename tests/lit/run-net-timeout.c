// The rules' timeout_ms applies to the host's sockets that the mirror
// used, for the primary's duration: a persistent connection whose server
// answers after 400 ms gives up after about 50 ms (EAGAIN), under either
// executor; before and after the call the socket has no timeout, as the
// program set it.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cp %inputs/timeout50.lua %t.dir/
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror t.c -o t -lpthread
// RUN: cd %t.dir && env PTM_MIRROR=fork PTM_TRACE=t.trace timeout 20 ./t | FileCheck %s
// RUN: cd %t.dir && env PTM_MIRROR=inline timeout 20 ./t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.dir/t.trace

#include <errno.h>
#include <pthread.h>
#include <ptm.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int sv[2];

static void *server(void *arg)
{
    (void)arg;
    char c;
    if (read(sv[1], &c, 1) == 1) {
        struct timespec ts = {0, 400 * 1000000L};
        nanosleep(&ts, NULL);
        if (write(sv[1], "pong", 4) != 4)
            return NULL;
    }
    return NULL;
}

static long timeout_us(void)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    return (long)tv.tv_sec * 1000000 + tv.tv_usec;
}

PTM_TRANSACTION(.rules = "timeout50.lua", .success_criteria = return == 4)
int ask(int fd)
{
    if (send(fd, "p", 1, 0) != 1)
        return -1;
    char buf[8];
    return (int)recv(fd, buf, sizeof buf, 0);
}

int main(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, server, NULL);
    printf("before: %ld us\n", timeout_us());
    int n = ask(sv[0]);
    int err = errno;
    printf("ask: %d (%s)\n", n, n < 0 ? (err == EAGAIN ? "EAGAIN" : "other") : "answer");
    printf("after: %ld us\n", timeout_us());
    pthread_join(t, NULL);
    return 0;
}

// CHECK: before: 0 us
// CHECK-NEXT: ask: -1 (EAGAIN)
// CHECK-NEXT: after: 0 us
// TRACE: "adjusted":{"timeout_ms":50.0}
// TRACE-SAME: "timeout_ms":50.0
