// A fork mirror that writes stray bytes over its event ring (the one
// writable shared mapping it keeps) cannot crash the host: the parent
// checks what the child left before reading it, and a garbled ring is no
// observation.  The primary runs, as in a plain build, with and without
// PTM_TRACE, and the trace says why there is no prediction.  Each run
// writes other bytes at another place of the ring's header or events
// (the fields the child's runtime stores after the mirror returns --
// returned, verdict, frame_len -- test_ring.c garbles directly).
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: %t 0 0 | FileCheck %s --check-prefix=RAN
// RUN: %t 0 255 | FileCheck %s --check-prefix=RAN
// RUN: %t -1 255 | FileCheck %s --check-prefix=RAN
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t 0 255 | FileCheck %s --check-prefix=RAN
// RUN: env PTM_TRACE=%t.trace %t 12 7 | FileCheck %s --check-prefix=RAN
// RUN: env PTM_TRACE=%t.trace %t -1 255 | FileCheck %s --check-prefix=RAN
// RUN: FileCheck %s < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int later(int host, int at, int byte)
{
    (void)host, (void)at, (void)byte;
    return 2;
}

// In the mirror only (another pid than the host's): the one mapping that
// is writable and shared is the ring; eight bytes at offset `at` of it
// become `byte`, or with `at` -1 everything past its first page (the rest
// of the frame, and the events: their kinds, their strings without a NUL).
PTM_TRANSACTION(.mirror = fork, .alternative_paths = { later }, .success_criteria = return > 0)
int scribble(int host, int at, int byte)
{
    char line[256];
    unsigned long lo, hi;
    char perms[8];
    if (getpid() == host)
        return 1;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || strcmp(perms, "rw-s") != 0)
            continue;
        if (at < 0 && hi - lo > 4096)
            memset((char *)lo + 4096, byte, hi - lo - 4096);
        else if (at >= 0 && lo + (unsigned long)at + 8 <= hi)
            memset((char *)lo + at, byte, 8);
    }
    fclose(f);
    return 1;
}

int main(int argc, char **argv)
{
    int at = argc > 1 ? atoi(argv[1]) : 0, byte = argc > 2 ? atoi(argv[2]) : 255;
    int r = scribble(getpid(), at, byte);
    printf("ran %d\n", r);
    return 0;
}

// RAN: ran 1
// CHECK: "mirror_status":"failed"{{.*}}"mirror_error":"fork: the mirror wrote over its event ring (head (unfilled events)): no observation","mirror_result":null,"events":[],{{.*}}"decision":"primary","path":"scribble"{{.*}}"outcome":"success"
// CHECK: "mirror_error":"fork: the mirror wrote over its event ring (setup_err): no observation"{{.*}}"decision":"primary"
// CHECK: "mirror_error":"fork: the mirror wrote over its event ring (an event's {{[a-z ]+}}): no observation"{{.*}}"decision":"primary"
// SHOW: scribble
