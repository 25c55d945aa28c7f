// An alternative is not judged by the primary's success_criteria: they
// describe the primary's result, and an alternative's result has its own
// meaning (here: 1, "queued", where the primary returns 0, "written").  A
// divert whose alternative returned is a success, in the trace, in the
// stats and in ptm_tx_run's answer; the trace reports what the primary's
// criteria say of its result in alternative_criteria.
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW

#include <ptm.h>
#include <stdio.h>

static int queue_record(int bad)
{
    (void)bad;
    return 1;
}

static int refuse(int bad)
{
    (void)bad;
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { queue_record }, .success_criteria = return == 0)
int write_record(int bad)
{
    if (!ptm_validate(!bad, "bad record"))
        return -1;
    return 0;
}

PTM_TRANSACTION(.alternative_paths = { refuse }, .success_criteria = return == 0)
int write_other(int bad)
{
    if (!ptm_validate(!bad, "bad record"))
        return -1;
    return 0;
}

int main(void)
{
    struct ptm_stats st;
    printf("write_record %d\n", write_record(1));
    printf("write_other %d\n", write_other(1));
    ptm_stats_get(&st);
    printf("diversions %llu failures %llu\n", (unsigned long long)st.diversions,
           (unsigned long long)st.failures);
    return 0;
}

// OUT: write_record 1
// OUT: write_other -1
// OUT: diversions 2 failures 0
// CHECK: "decision":"divert","path":"queue_record","attempts":1,"outcome":"success",{{.*}}"alternative_criteria":"failed"
// CHECK: "decision":"divert","path":"refuse","attempts":1,"outcome":"success",{{.*}}"alternative_criteria":"failed"
// SHOW: divert to queue_record {{.*}} success after 1 attempt
