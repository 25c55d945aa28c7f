// A service that answered slowly once is contacted again.  The first
// response takes 1.2 s; the mirror replays it with its latency, so the
// next calls predict a timeout (300 ms) and divert without connecting.
// The 4th of them runs the primary as a half-open probe: the service is
// fast again, the probe records the new response time, and the calls
// after it run the primary.  The server sees calls 1, 5 and 6.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <netinet/in.h>
#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server;

static int offline(void)
{
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { offline }, .success_criteria = return == 0,
                .mirror = inline, .timeout = 300 ms, .threshold = 0.3)
int ask(void)
{
    char answer[8] = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&server, sizeof server) == 0 &&
        send(fd, "?", 1, 0) == 1 && recv(fd, answer, sizeof answer - 1, 0) == 2 &&
        memcmp(answer, "OK", 2) == 0)
        rc = 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(void)
{
    alarm(20);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof server;
    if (bind(l, (struct sockaddr *)&server, len) != 0 || listen(l, 4) != 0 ||
        getsockname(l, (struct sockaddr *)&server, &len) != 0)
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* not inherited: a server left waiting must end too */
        for (int i = 0; i < 3; i++) {
            int c = accept(l, NULL, NULL);
            char q;
            if (c < 0 || recv(c, &q, 1, 0) != 1)
                _exit(1);
            if (i == 0) {
                struct timespec slow = {1, 200000000};
                nanosleep(&slow, NULL);
            }
            if (send(c, "OK", 2, 0) != 2)
                _exit(1);
            close(c);
        }
        _exit(0);
    }
    close(l);
    for (int i = 1; i <= 6; i++)
        printf("call %d: %d\n", i, ask());
    int st;
    waitpid(pid, &st, 0);
    printf("server %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

// CHECK: call 1: 0
// CHECK-NEXT: call 2: 1
// CHECK-NEXT: call 3: 1
// CHECK-NEXT: call 4: 1
// CHECK-NEXT: call 5: 0
// CHECK-NEXT: call 6: 0
// CHECK-NEXT: server 0
// TRACE: "decision":"primary","path":"ask",{{.*}}"probe":false
// TRACE-COUNT-3: "reasons":["predicted timeout"],{{.*}}"decision":"divert","path":"offline"
// TRACE-NEXT: "reasons":["predicted timeout"],{{.*}}"decision":"primary","path":"ask",{{.*}}"probe":true
// TRACE-NEXT: "probability":0.0,{{.*}}"decision":"primary","path":"ask",{{.*}}"probe":false
