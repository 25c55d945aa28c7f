// A mirror that stores outside its locals runs inline all the same: each
// access to memory that is not a local of its function goes through the
// write buffer (ptm_redo_ld / ptm_redo_st), spelled once around the user's
// own tokens, so that real memory never changes and the mirror reads back
// what it wrote.  Locals and errno are left alone; a bit-field is reached
// through its struct; a library writer's destination is checked with
// ptm_redo_own, and the length it writes with ptm_redo_fit (it must stay in
// the mirror's object); malloc, free and memcpy are shims.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu17 -pedantic -Wall -Wextra -Wshadow -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: grep -c '"mirror":"inline","mirror_reason":"auto: the mirror calls only shims and clones, and its stores outside its locals go to its write buffer","mirror_status":"returned"' %t.trace | FileCheck %s --check-prefix=INLINE
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=INLINE
// RUN: env PTM_MIRROR=fork %t | FileCheck %s --check-prefix=OUT

#include <errno.h>
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct account {
    long balance;
    int ops;
    unsigned frozen : 1;
    char note[24];
    struct account *next;
};

static struct account book[3];
static long total;

static void debit(struct account *a, long amount)
{
    a->balance -= amount;
    a->ops++;
    ++total;
    errno = 0;
    a->frozen = a->balance < 0;
}

PTM_TRANSACTION(.transaction_id = "pay", .success_criteria = return >= 0)
long pay(int i, long amount)
{
    struct account *a = &book[i];
    long before = a->balance;
    debit(a, amount);
    a->next->balance = a->balance;
    char *msg = malloc(sizeof a->note);
    snprintf(msg, sizeof a->note, "paid %ld", amount);
    memcpy(a->note, msg, sizeof a->note);
    free(msg);
    if (a->balance != before - amount || strcspn(a->note, " ") != 4)
        return -1; /* the mirror did not read back its own writes */
    return a->balance;
}

int main(void)
{
    book[0].balance = 100;
    book[0].next = &book[1];
    for (int k = 0; k < 3; k++) {
        long r = pay(0, 30);
        printf("pay=%ld balance=%ld ops=%d total=%ld next=%ld frozen=%u note=%s\n", r,
               book[0].balance, book[0].ops, total, book[1].balance, book[0].frozen,
               book[0].note);
    }
    return 0;
}

// The primary's results: the mirror changed nothing of the host's.
// OUT: pay=70 balance=70 ops=1 total=1 next=70 frozen=0 note=paid 30
// OUT-NEXT: pay=40 balance=40 ops=2 total=2 next=40 frozen=0 note=paid 30
// OUT-NEXT: pay=10 balance=10 ops=3 total=3 next=10 frozen=0 note=paid 30
// Three inline mirrors, each of which read back its own writes (pay >= 0).
// INLINE: 3

// A local pointer is read in place; what it points to is not.
// CHECK-LABEL: /* The mirror clone of pay (
// CHECK: {{^}}long pay__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(int i, long amount){{$}}
// CHECK: struct account *a = &book[i];
// CHECK-NEXT: long before = (*__extension__({ __auto_type __ptm_a1 = &(a->balance); (__typeof__(__ptm_a1))ptm_redo_ld(__ptm_a1, sizeof *__ptm_a1); }));
// CHECK-NEXT: debit__ptm_mirror(a, amount);
// Nested: the pointer a->next is loaded inside the store's address.
// CHECK-NEXT: (__extension__({ __auto_type __ptm_a2 = &((*__extension__({ __auto_type __ptm_a3 = &(a->next); (__typeof__(__ptm_a3))ptm_redo_ld(__ptm_a3, sizeof *__ptm_a3); }))->balance ); __typeof__(*__ptm_a2) __ptm_v2 = ( (*__extension__({ __auto_type __ptm_a4 = &(a->balance); (__typeof__(__ptm_a4))ptm_redo_ld(__ptm_a4, sizeof *__ptm_a4); }))); *(__typeof__(__ptm_a2))ptm_redo_st(__ptm_a2, sizeof *__ptm_a2) = __ptm_v2; }));
// CHECK-NEXT: char *msg = ptm_shim_malloc(sizeof a->note);
// CHECK-NEXT: snprintf(msg, __extension__({ __auto_type __ptm_f5 = (sizeof a->note); ptm_redo_fit((__SIZE_TYPE__)__ptm_f5, (1), (msg)); __ptm_f5; }), "paid %ld", amount);
// CHECK-NEXT: ptm_shim_memcpy(a->note, msg, sizeof a->note);
// CHECK-NEXT: ptm_shim_free(msg);
// A library function reads a non-local array in the mirror's view.
// CHECK-NEXT: strcspn((*__extension__({ __auto_type __ptm_a7 = &(a->note); (__typeof__(__ptm_a7))ptm_redo_ld(__ptm_a7, sizeof *__ptm_a7); })), " ") != 4)

// CHECK-LABEL: /* The mirror clone of debit (
// CHECK: {{^}}static void debit__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(struct account *a, long amount){{$}}
// CHECK: (__extension__({ __auto_type __ptm_a1 = &(a->balance ); __auto_type __ptm_v1 = +( amount); *(__typeof__(__ptm_a1))ptm_redo_st(__ptm_a1, sizeof *__ptm_a1) -= __ptm_v1; }));
// CHECK-NEXT: (__extension__({ __auto_type __ptm_a2 = &(a->ops); (*(__typeof__(__ptm_a2))ptm_redo_st(__ptm_a2, sizeof *__ptm_a2))++; }));
// CHECK-NEXT: (__extension__({ __auto_type __ptm_a3 = &(total); ++*(__typeof__(__ptm_a3))ptm_redo_st(__ptm_a3, sizeof *__ptm_a3); }));
// CHECK-NEXT: errno = 0;
// CHECK-NEXT: (__extension__({ __auto_type __ptm_a4 = (a); (__typeof__(__ptm_a4))ptm_redo_st(__ptm_a4, sizeof *__ptm_a4); }))->frozen = (*__extension__({ __auto_type __ptm_a5 = &(a->balance); (__typeof__(__ptm_a5))ptm_redo_ld(__ptm_a5, sizeof *__ptm_a5); })) < 0;

// CHECK-LABEL: static const struct ptm_tx_desc pay__ptm_desc = {
// CHECK: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
