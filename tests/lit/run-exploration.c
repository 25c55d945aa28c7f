// The exploration key (issue 13): a share of the calls the rules would
// divert run the primary once instead, so that the model gets labels for
// what it diverts.  It lets a predicted failure happen on purpose, and
// never without the key.  The trace marks such a call explored, with its
// real outcome; ptm-trace show says so.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW

#include <errno.h>
#include <ptm.h>
#include <stdio.h>

static int explored_primaries, plain_primaries, queued;

int queue(int amount);

int queue(int amount)
{
    (void)amount;
    queued++;
    return 0;
}

/* Every call is doomed: the mirror sees the failed check (validation,
** 0.4 >= the threshold 0.4) and the call diverts to queue. */
PTM_TRANSACTION(.transaction_id = "pay.explored", .alternative_paths = { queue },
                .success_criteria = return == 0, .exploration = 0.05)
int pay(int amount)
{
    explored_primaries++;
    if (!ptm_validate(amount > 0, "amount %d is not positive", amount)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

PTM_TRANSACTION(.transaction_id = "pay.plain", .alternative_paths = { queue },
                .success_criteria = return == 0)
int pay_plain(int amount)
{
    plain_primaries++;
    if (!ptm_validate(amount > 0, "amount %d is not positive", amount)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int main(void)
{
    int failed = 0;
    for (int i = 0; i < 2000; i++)
        failed += pay(-1) != 0;
    /* 100 expected (sd ~10). */
    printf("with exploration: %s, each a failure: %s\n",
           explored_primaries >= 40 && explored_primaries <= 200 ? "about 5% explored"
                                                                 : "not about 5% explored",
           failed == explored_primaries ? "yes" : "no");
    for (int i = 0; i < 2000; i++)
        pay_plain(-1);
    printf("without the key: %d explored, %d queued\n", plain_primaries, queued - (2000 - failed));
    return 0;
}

// OUT: with exploration: about 5% explored, each a failure: yes
// OUT-NEXT: without the key: 0 explored, 2000 queued

// CHECK: "transaction_id":"pay.explored",{{.*}}"decision":"divert","path":"queue",{{.*}}"explored":false}
// CHECK: "transaction_id":"pay.explored",{{.*}}"probability":0.4{{.*}}"decision":"primary","path":"pay","attempts":1,"outcome":"failure",{{.*}}"explored":true}
// CHECK-NOT: "transaction_id":"pay.plain",{{.*}}"explored":true

// SHOW: pay.explored (pay) · mirror inline
// SHOW: → primary (explored: a predicted failure let run for a label) · failure after 1 attempt
