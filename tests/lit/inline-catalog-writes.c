// The inline proof takes the arguments a library call writes through from
// runtime/calls.def, for every call: pure ones, shims and the others
// alike.  inet_pton (a pure row since the catalog: it was an unknown
// external) and ptm_stats_get (pure before, but missing from the old
// table of writers, so a "proved local" mirror wrote the host's struct)
// write through a pointer: handed a global, the mirror is not proved
// local, and its write goes through the write buffer (ptm_redo_own), so
// the host's memory keeps its value.  Handed a local, the proof holds.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | grep -E 'ptm_tx_desc|inline_ok|redo =|mirror_reason|ptm_redo_own' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

static struct in_addr addr;
static struct ptm_stats seen;

PTM_TRANSACTION(.mirror = inline, .success_criteria = return == 0)
int parse_global(const char *s)
{
    return inet_pton(AF_INET, s, &addr) == 1 ? 0 : 1;
}

PTM_TRANSACTION(.mirror = inline, .success_criteria = return == 0)
int stats_global(void)
{
    ptm_stats_get(&seen);
    return seen.transactions > 0 ? 0 : 1;
}

PTM_TRANSACTION(.mirror = inline, .success_criteria = return == 0)
int parse_local(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1 && a.s_addr == htonl(0x7f000001) ? 0 : 1;
}

int main(void)
{
    int r = parse_global("10.0.0.1") + stats_global() + parse_local("127.0.0.1");
    printf("r %d addr %08x counted %d\n", r, ntohl(addr.s_addr), seen.transactions > 0);
    return 0;
}

// CHECK: parse_global__ptm_desc
// CHECK-NEXT: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
// CHECK: stats_global__ptm_desc
// CHECK-NEXT: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
// CHECK: parse_local__ptm_desc
// CHECK-NEXT: .inline_ok = 1,
// CHECK-NOT: .redo
// DRY: r 0 addr 00000000 counted 0
// REAL: r 0 addr 0a000001 counted 1
