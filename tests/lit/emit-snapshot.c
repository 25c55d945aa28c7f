// `snapshot` regions are saved before the first attempt and restored before
// each retry (and before an alternative runs): a deposit that changes the
// caller's account and then fails is retried from the account as it was,
// so the money arrives once.  ptmcc turns the regions into a function of
// the frame; the runtime does the copying.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: %ptmcc -Wall -Wextra -Werror -DNO_SNAPSHOT %s -o %t.plain
// RUN: %t.plain | FileCheck %s --check-prefix=TWICE

#include <ptm.h>
#include <stdio.h>

struct account { long balance; int ops; char note[16]; };

static int flaky = 1;

#ifdef NO_SNAPSHOT
PTM_TRANSACTION(.success_criteria = return == 0,
                .retry = { .max = 2, .backoff = constant(1 ms) },
                .mirror = off)
#else
PTM_TRANSACTION(.success_criteria = return == 0,
                .retry = { .max = 2, .backoff = constant(1 ms) },
                .snapshot = { { acct, sizeof *acct }, { &flaky, 0 } },
                .mirror = off)
#endif
int deposit(struct account *acct, long cents)
{
    acct->balance += cents;
    acct->ops++;
    snprintf(acct->note, sizeof acct->note, "op %d", acct->ops);
    if (flaky) {
        flaky = 0;
        return -1;
    }
    return 0;
}

int main(void)
{
    struct account a = { 100, 0, "" };
    int rc = deposit(&a, 10);
    printf("rc %d balance %ld ops %d note %s\n", rc, a.balance, a.ops, a.note);
    return 0;
}

// CHECK: static unsigned deposit__ptm_snapshot(void *p, struct ptm_region *out, unsigned max)
// CHECK-NEXT: {
// CHECK-NEXT:     struct deposit__ptm_frame *frame = p;
// CHECK-NEXT:     (void)frame;
// CHECK-NEXT:     const struct ptm_region r[2] = {
// CHECK-NEXT:         { (void *)(frame->arg.acct), (size_t)(sizeof(*frame->arg.acct)) },
// What the backend resolves stands at its place in the annotation, each
// name and operator on a line of its own: an error in it is reported there.
// CHECK-NEXT:         { (void *)(
// CHECK-NEXT: #line 26 "{{.*}}emit-snapshot.c"
// CHECK-NEXT: {{^                                                        }}&{{$}}
// CHECK-NEXT: #line 26 "{{.*}}emit-snapshot.c"
// CHECK-NEXT: {{^                                                         }}flaky), (size_t)(0) },
// CHECK-NEXT:     };
// CHECK-NEXT:     for (unsigned i = 0; i < 2u && i < max; i++)
// CHECK-NEXT:         out[i] = r[i];
// CHECK-NEXT:     return 2u;
// CHECK-NEXT: }
// CHECK: .snapshot = deposit__ptm_snapshot,

// OUT: rc 0 balance 110 ops 1 note op 1
// TWICE: rc 0 balance 120 ops 2 note op 2
