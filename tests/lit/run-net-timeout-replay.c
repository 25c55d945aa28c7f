// A receive that timed out is replayed, then goes half-open.  The service
// answers at once, except calls 2-6 (a slow burst: 150 ms against the
// call's 100 ms receive timeout).  Call 2 cannot be foreseen: its mirror
// replays the last answer, and its primary times out.  That timeout is
// recorded for the peer, so calls 3-6 replay it -- the 100 ms wait on the
// mirror's virtual clock, then EAGAIN -- and divert without connecting.
// After 4 such replays the peer is half-open: call 7's mirror replays the
// last answer, marked half_open (the history's latencies, which call 2
// made long, are left out of its prediction), and its primary finds the
// service fast again; call 8 runs as usual.  The service sees calls 0-2, 7
// and 8 only.  A fork mirror replays in its own copy of the table: the
// parent counts its replays from its events, so the same happens under
// either executor.  (The fork run is not under ASan: there a fork mirror
// takes 100-450 ms, and time alone, 4 x 100 ms, opens the peer before
// call 6.)
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t -lpthread && rm -f %t.inline %t.fork
// RUN: env PTM_MIRROR=inline PTM_TRACE=%t.inline timeout 30 %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.inline
// RUN: %if !asan %{ env PTM_MIRROR=fork PTM_TRACE=%t.fork timeout 30 %t | FileCheck %s %}
// RUN: %if !asan %{ FileCheck %s --check-prefix=FORK < %t.fork %}

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <ptm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in service;
static atomic_int slow, requests;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* The service: answers "OK", after 150 ms while slow is set. */
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
    struct timeval tv = {0, 100 * 1000};
    char answer[4] = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        connect(fd, (struct sockaddr *)&service, sizeof service) == 0 &&
        send(fd, "?", 1, 0) == 1 && recv(fd, answer, sizeof answer - 1, 0) == 2)
        rc = 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof service;
    service.sin_family = AF_INET;
    service.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&service, len) != 0 || listen(l, 16) != 0 ||
        getsockname(l, (struct sockaddr *)&service, &len) != 0)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, serve, &l);
    for (int i = 0; i <= 8; i++) {
        atomic_store(&slow, i >= 2 && i <= 6);
        if (i == 7)
            sleep_ms(500);
        int rc = ask();
        printf("call %d: %s\n", i, rc == 0 ? "answered" : rc == 1 ? "diverted" : "failed");
    }
    printf("requests: %d\n", atomic_load(&requests));
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

// TRACE-COUNT-3: "decision":"primary"
// TRACE-NEXT: "detail":"timed out after {{[0-9.]+}}ms, {{[0-9]+}}ms ago (1 of 4)","result":-1,"errno":11,
// TRACE-SAME: "decision":"divert"
// TRACE-NEXT: (2 of 4)"{{.*}}"decision":"divert"
// TRACE-NEXT: (3 of 4)"{{.*}}"decision":"divert"
// TRACE-NEXT: (4 of 4)"{{.*}}"decision":"divert"
// TRACE-NEXT: "detail":"half-open: timed out {{[0-9]+}}ms ago"
// TRACE-SAME: "half_open":true
// TRACE-SAME: "decision":"primary"{{.*}}"outcome":"success"
// TRACE-NEXT: "half_open":false{{.*}}"decision":"primary"{{.*}}"outcome":"success"

// FORK: (1 of 4)"{{.*}}"decision":"divert"
// FORK-NEXT: (2 of 4)"{{.*}}"decision":"divert"
// FORK-NEXT: (3 of 4)"{{.*}}"decision":"divert"
// FORK-NEXT: (4 of 4)"{{.*}}"decision":"divert"
// FORK-NEXT: "half-open: timed out
// FORK-SAME: "decision":"primary"
