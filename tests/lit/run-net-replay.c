// A primary's receive is recorded: a later mirror's receive from the same
// endpoint returns that response instead of an invented one.  The server
// answers OK to the first request and NO after.  Call 1: the mirror has
// nothing recorded (inconclusive), the primary runs and gets OK.  Call 2:
// the mirror replays OK, the primary runs and gets NO, which it records.
// Call 3: the mirror replays NO, fails the criteria, and the call diverts
// without connecting: the server sees two connections.  The same when the
// receive is in a function the transaction calls (ask_via): its original
// records too.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s
// RUN: %t via | FileCheck %s
// RUN: env PTM_MIRROR=inline %t | FileCheck %s
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s %} %}
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

#include <netinet/in.h>
#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in server;

static int offline(void)
{
    puts("diverted");
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { offline }, .success_criteria = return == 0,
                .mirror = inline)
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

static ssize_t answer_of(int fd, char *answer, size_t n)
{
    return recv(fd, answer, n, 0);
}

PTM_TRANSACTION(.alternative_paths = { offline }, .success_criteria = return == 0,
                .mirror = inline)
int ask_via(void)
{
    char answer[8] = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&server, sizeof server) == 0 &&
        send(fd, "?", 1, 0) == 1 && answer_of(fd, answer, sizeof answer - 1) == 2 &&
        memcmp(answer, "OK", 2) == 0)
        rc = 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    int (*tx)(void) = argc > 1 && strcmp(argv[1], "via") == 0 ? ask_via : ask;
    alarm(10);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof server;
    if (bind(l, (struct sockaddr *)&server, len) != 0 || listen(l, 4) != 0 ||
        getsockname(l, (struct sockaddr *)&server, &len) != 0)
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 2; i++) {
            int c = accept(l, NULL, NULL);
            char q;
            if (c < 0 || recv(c, &q, 1, 0) != 1 || send(c, i == 0 ? "OK" : "NO", 2, 0) != 2)
                _exit(1);
            close(c);
        }
        _exit(0);
    }
    close(l);
    for (int i = 1; i <= 3; i++)
        printf("call %d: %d\n", i, tx());
    int st;
    waitpid(pid, &st, 0);
    printf("server %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

// CHECK: call 1: 0
// CHECK-NEXT: call 2: -1
// CHECK-NEXT: diverted
// CHECK-NEXT: call 3: 1
// CHECK-NEXT: server 0
// EMIT: ptm_primary_recv(fd, answer, sizeof answer - 1, 0) == 2
// EMIT: {{^}}static ssize_t answer_of(int fd, char *answer, size_t n)
// EMIT-NEXT: {
// EMIT-NEXT: return ptm_primary_recv(fd, answer, n, 0);
