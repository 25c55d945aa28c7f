// A wait for a socket's answer that timed out is replayed, then goes
// half-open, as a receive's is (run-net-timeout-replay.c): the program
// polls its socket for 100 ms before it receives.  The service answers at
// once, except calls 2-6 (a slow burst: 150 ms).  Call 2's primary poll
// runs out of time: ptmcc wrote it as ptm_primary_poll, which records the
// timeout for the socket's peer, so calls 3-6 replay it in their mirrors'
// poll -- 0 ready after the 100 ms on the virtual clock -- and divert
// without connecting.  Call 7 is half-open: its mirror's poll finds the
// last answer (the event marked half_open) and its primary finds the
// service fast again.  Under either executor: a fork mirror's replays are
// counted by the parent from its poll events.  A second phase does the
// same with select() on another service: one slow call, then its replays.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t -lpthread && rm -f %t.inline %t.fork
// RUN: env PTM_MIRROR=inline PTM_TRACE=%t.inline timeout 30 %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.inline
// RUN: %if !asan %{ env PTM_MIRROR=fork PTM_TRACE=%t.fork timeout 30 %t | FileCheck %s %}
// RUN: %if !asan %{ FileCheck %s --check-prefix=TRACE < %t.fork %}

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <ptm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in service, service2;
static atomic_int slow, requests;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* A service: answers "OK", after 150 ms while slow is set. */
static void *serve(void *arg)
{
    int l = *(int *)arg;
    for (;;) {
        int c = accept(l, NULL, NULL);
        char q;
        if (c < 0)
            continue;
        if (recv(c, &q, 1, 0) == 1) {
            atomic_fetch_add(&requests, 1);
            if (atomic_load(&slow))
                sleep_ms(150);
            if (send(c, "OK", 2, MSG_NOSIGNAL) != 2)
                (void)0; /* the client gave up */
        }
        close(c);
    }
    return NULL;
}

static int cached(void)
{
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { cached }, .success_criteria = return == 0,
                .timeout = 100 ms, .mirror_deadline = 1 s)
int ask(void)
{
    char answer[4] = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&service, sizeof service) == 0 &&
        send(fd, "?", 1, 0) == 1 && poll(&p, 1, 100) == 1 &&
        recv(fd, answer, sizeof answer - 1, 0) == 2)
        rc = 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

PTM_TRANSACTION(.alternative_paths = { cached }, .success_criteria = return == 0,
                .timeout = 100 ms, .mirror_deadline = 1 s)
int ask_select(void)
{
    char answer[4] = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&service2, sizeof service2) == 0 &&
        send(fd, "?", 1, 0) == 1) {
        fd_set rd;
        struct timeval tv = {0, 100 * 1000};
        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        if (select(fd + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &rd) &&
            recv(fd, answer, sizeof answer - 1, 0) == 2)
            rc = 0;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static int listen_on(struct sockaddr_in *a, pthread_t *t, int *l)
{
    socklen_t len = sizeof *a;
    *l = socket(AF_INET, SOCK_STREAM, 0);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (*l < 0 || bind(*l, (struct sockaddr *)a, len) != 0 || listen(*l, 16) != 0 ||
        getsockname(*l, (struct sockaddr *)a, &len) != 0)
        return -1;
    return pthread_create(t, NULL, serve, l);
}

int main(void)
{
    pthread_t t, t2;
    int l, l2;
    if (listen_on(&service, &t, &l) != 0 || listen_on(&service2, &t2, &l2) != 0)
        return 2;
    for (int i = 0; i <= 8; i++) {
        atomic_store(&slow, i >= 2 && i <= 6);
        if (i == 7)
            sleep_ms(500);
        int rc = ask();
        printf("call %d: %s\n", i, rc == 0 ? "answered" : rc == 1 ? "diverted" : "failed");
    }
    printf("requests: %d\n", atomic_load(&requests));
    sleep_ms(200);
    for (int i = 0; i <= 3; i++) {
        atomic_store(&slow, i >= 1);
        int rc = ask_select();
        printf("select %d: %s\n", i, rc == 0 ? "answered" : rc == 1 ? "diverted" : "failed");
    }
    return 0;
}

// CHECK: call 0: answered
// CHECK-NEXT: call 1: answered
// CHECK-NEXT: call 2: failed
// CHECK-NEXT: call 3: diverted
// CHECK-NEXT: call 4: diverted
// CHECK-NEXT: call 5: diverted
// CHECK-NEXT: call 6: diverted
// CHECK-NEXT: call 7: answered
// CHECK-NEXT: call 8: answered
// CHECK-NEXT: requests: 5
// CHECK-NEXT: select 0: answered
// CHECK-NEXT: select 1: failed
// CHECK-NEXT: select 2: diverted
// CHECK-NEXT: select 3: diverted

// TRACE-COUNT-3: "decision":"primary"
// TRACE-NEXT: "call":"poll"{{.*}}"detail":"timed out after {{[0-9.]+}}ms, {{[0-9]+}}ms ago (1 of 4)","result":0,
// TRACE-SAME: "decision":"divert"
// TRACE-NEXT: (2 of 4)"{{.*}}"decision":"divert"
// TRACE-NEXT: (3 of 4)"{{.*}}"decision":"divert"
// TRACE-NEXT: (4 of 4)"{{.*}}"decision":"divert"
// TRACE-NEXT: "call":"poll"{{.*}}"detail":"half-open: timed out {{[0-9]+}}ms ago"
// TRACE-SAME: "half_open":true
// TRACE-SAME: "decision":"primary"{{.*}}"outcome":"success"
// TRACE-NEXT: "half_open":false{{.*}}"decision":"primary"{{.*}}"outcome":"success"
// TRACE-NEXT: "decision":"primary"{{.*}}"outcome":"success"
// TRACE-NEXT: "decision":"primary"{{.*}}"outcome":"failure"
// TRACE-NEXT: "call":"select"{{.*}}"detail":"timed out after {{[0-9.]+}}ms, {{[0-9]+}}ms ago (1 of 4)","result":0,
// TRACE-SAME: "decision":"divert"
// TRACE-NEXT: "call":"select"{{.*}}(2 of 4)"{{.*}}"decision":"divert"
