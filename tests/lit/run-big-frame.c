// A transaction whose frame (arguments and result) is larger than the fork
// ring's 16 KiB.  The inline executor keeps the mirror's whole result: a dry
// run returns it, and success_criteria judges it.  The fork executor judges
// it in the child, where it lives, and hands back only the verdict: the
// prediction is the same, and a dry run says (in the trace and through
// ptm_last_error) that the result it returns is not the mirror's.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.dry.trace %t.fork.trace %t.run.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.dry.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline","mirror_reason":"[^"]*","mirror_status":"returned"' %t.dry.trace | FileCheck %s --check-prefix=TWO
// RUN: grep -c '"mirror_result":"kept"' %t.dry.trace | FileCheck %s --check-prefix=TWO
// RUN: grep -o '"criteria_failed":[a-z]*' %t.dry.trace | FileCheck %s --check-prefix=CRIT
// RUN: env PTM_DRY_RUN=1 PTM_MIRROR=fork PTM_TRACE=%t.fork.trace %t | FileCheck %s --check-prefix=FORKDRY
// RUN: grep -c '"mirror_result":"fork: the frame is larger than the ring' %t.fork.trace | FileCheck %s --check-prefix=TWO
// RUN: grep -o '"criteria_failed":[a-z]*' %t.fork.trace | FileCheck %s --check-prefix=CRIT
// RUN: env PTM_TRACE=%t.run.trace %t | FileCheck %s --check-prefix=REAL
// RUN: env PTM_MIRROR=fork PTM_TRACE=%t.run.trace %t | FileCheck %s --check-prefix=REAL
// RUN: grep -o '"decision":"[a-z]*"' %t.run.trace | FileCheck %s --check-prefix=DECIDE

// DRY: fetch(1): status 200, tail 'k'
// DRY-NEXT: fetch(0): status 404, tail 'x'

// TWO: 2

// CRIT: "criteria_failed":false
// CRIT-NEXT: "criteria_failed":true

// The call's result stays the caller's zeroed one, and the call says so.
// FORKDRY: fetch(1): status 0, tail ''
// FORKDRY-NEXT: last error: ptm: fetch: dry run: the mirror's result is not available (fork: the frame is larger than the ring's 16384 bytes: judged in the child, not handed back)
// FORKDRY-NEXT: fetch(0): status 0, tail ''
// FORKDRY-NEXT: last error: ptm: fetch: dry run: the mirror's result is not available

// REAL: fetch(1): status 200, tail 'k'
// REAL-NEXT: fetch(0): status 503, tail 'o'

// DECIDE: "decision":"primary"
// DECIDE-NEXT: "decision":"divert"
// DECIDE-NEXT: "decision":"primary"
// DECIDE-NEXT: "decision":"divert"

#include <ptm.h>
#include <stdio.h>
#include <string.h>

struct page {
    int status;
    char body[16384];
};

struct page offline(int ok)
{
    struct page p = { .status = 503 };
    (void)ok;
    p.body[sizeof p.body - 1] = 'o';
    return p;
}

PTM_TRANSACTION(.alternative_paths = { offline }, .success_criteria = return.status == 200)
struct page fetch(int ok)
{
    struct page p = { .status = ok ? 200 : 404 };
    p.body[sizeof p.body - 1] = ok ? 'k' : 'x';
    return p;
}

static void show(int ok)
{
    struct page p = fetch(ok);
    printf("fetch(%d): status %d, tail '%.1s'\n", ok, p.status, &p.body[sizeof p.body - 1]);
    if (ptm_last_error()[0])
        printf("last error: %s\n", ptm_last_error());
}

int main(void)
{
    show(1);
    show(0);
    return 0;
}
