// Input from a pipe or a terminal is the host's: a mirror may not take it,
// so its read gets an invented end of file, marked pretended ("host input
// left for the primary"), and what the mirror computes from it is no
// evidence.  The
// primary runs and reads the real line, with stdio and with read(2), under
// both executors.  From a regular file the mirror reads the real data.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: echo launch | %t | FileCheck %s
// RUN: echo launch | %t raw | FileCheck %s
// RUN: echo launch | env PTM_MIRROR=fork %t | FileCheck %s
// RUN: echo launch | env PTM_MIRROR=fork %t raw | FileCheck %s
// RUN: rm -f %t.trace && echo launch | env PTM_TRACE=%t.trace %t > /dev/null
// RUN: grep -c '"detail":"host input left for the primary"' %t.trace | FileCheck %s --check-prefix=ONE
// RUN: echo launch > %t.in && %t < %t.in | FileCheck %s

#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int no_input(char *buf, size_t n) { snprintf(buf, n, "(default)"); return 0; }
PTM_TRANSACTION(.success_criteria = return > 0, .alternative_paths = { no_input })
int read_cmd(char *buf, size_t n) {
    if (!fgets(buf, (int)n, stdin)) return -1;
    buf[strcspn(buf, "\n")] = 0; return (int)strlen(buf) + 1; }
PTM_TRANSACTION(.success_criteria = return > 0, .alternative_paths = { no_input })
int read_raw(char *buf, size_t n) {
    ssize_t r = read(0, buf, n - 1);
    if (r <= 0) return -1;
    buf[r] = 0; buf[strcspn(buf, "\n")] = 0; return (int)strlen(buf) + 1; }
int main(int argc, char **argv)
{
    char b[64];
    (void)argv;
    int r = argc > 1 ? read_raw(b, sizeof b) : read_cmd(b, sizeof b);
    printf("r=%d cmd=%s\n", r, b);
    return 0;
}

// CHECK: r=7 cmd=launch
// ONE: 1
