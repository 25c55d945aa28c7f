// A function-local static of a cloned function moves to file scope under
// a name of its own (f__ptm_static_x, above f), so that the primary (or
// the original) and the mirror clone share it: the mirror sees the count
// the primary left, and predicts the third call's refusal.  A static that
// cannot move (its type or initializer needs the function's own names, a
// use in a macro's body, several declarators, a header ptmcc does not
// rewrite) keeps a copy per clone, with a warning that says why.
// RUN: %ptmcc -Wall -Wextra -Werror -I %inputs %s -o %t 2>&1 | FileCheck %s --check-prefix=WARN --implicit-check-not=warning:
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: %ptmcc --emit-source -I %inputs %s -o - 2>/dev/null | grep -v '^// ' | FileCheck %s
// RUN: env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror -I %inputs -c %s -o %t.gcc.o 2>/dev/null

#include <inline-helpers.h>
#include <ptm.h>
#include <stdio.h>

#define BUMP(x) (x)++
#define SERIAL serial++

static int next_id(void)
{
    static int id = 100;
    static int *last = &id;
    int buf[4];
    static size_t nbuf = sizeof buf;
    static struct { int k; } scratch;
    static int serial;
    static int a, b;
    int s = SERIAL;
    (void)buf, (void)scratch, (void)a, (void)b, (void)nbuf, (void)s;
    BUMP(id);
    return *last;
}

int refuse(void)
{
    puts("refused");
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { refuse }, .success_criteria = return >= 0)
int take(void)
{
    static int taken;
    if (!ptm_validate(taken < 2, "only two"))
        return -1;
    taken++;
    printf("took %d (id %d, ticket %d)\n", taken, next_id(), next_ticket());
    return 0;
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        take();
    return 0;
}

// WARN: emit-static-hoist.c:25:19: warning: the mirror clone of 'next_id' gets its own copy of static variable 'nbuf': the mirror sees its initial value, not the primary's [-Wptm-static-copy]
// WARN: emit-static-hoist.c:25:19: note: {{.*}}cannot move 'nbuf': its declaration refers to names declared inside the function
// WARN: emit-static-hoist.c:26:30: warning: {{.*}}static variable 'scratch'
// WARN: note: {{.*}}cannot move 'scratch': its type is declared inside the function
// WARN: emit-static-hoist.c:27:16: warning: {{.*}}static variable 'serial'
// WARN: note: {{.*}}cannot move 'serial': it is used inside a macro's body
// WARN: emit-static-hoist.c:28:16: warning: {{.*}}static variable 'a'
// WARN: note: {{.*}}cannot move 'a': its declaration declares several variables
// WARN: emit-static-hoist.c:28:19: warning: {{.*}}static variable 'b'
// WARN: inline-helpers.h:18:16: warning: the mirror clone of 'next_ticket' gets its own copy of static variable 'ticket'
// WARN: note: {{.*}}cannot move 'ticket': it is defined in a header, which ptmcc does not rewrite

// OUT: took 1 (id 101, ticket 1)
// OUT-NEXT: took 2 (id 102, ticket 2)
// OUT-NEXT: refused

// CHECK: /* ptmcc: the static variables of next_id, moved out of it so that its mirror clone shares them. */
// CHECK-NEXT: #line 22 "{{.*}}emit-static-hoist.c"
// CHECK-NEXT: {{^}}static int next_id__ptm_static_id = 100;
// CHECK-NEXT: #line 23 "{{.*}}emit-static-hoist.c"
// CHECK-NEXT: {{^}}static int *next_id__ptm_static_last = &next_id__ptm_static_id;
// CHECK-NEXT: #line 20 "{{.*}}emit-static-hoist.c"
// CHECK-NEXT: {{^}}static int next_id(void)
// CHECK-NEXT: {
// CHECK-NEXT: /* static id: now next_id__ptm_static_id */
// CHECK-NEXT: /* static last: now next_id__ptm_static_last */
// CHECK: BUMP(next_id__ptm_static_id);
// CHECK-NEXT: return *next_id__ptm_static_last;

// CHECK: {{^}}static int take__ptm_static_taken;
// CHECK: /* ptmcc: take below is the primary
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^}}int take__ptm_primary{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(void)
// CHECK: if (!ptm_validate(take__ptm_static_taken < 2, "only two"))
// CHECK: take__ptm_static_taken++;

// CHECK: {{^}}int take__ptm_mirror{{$}}
// CHECK: if (!ptm_shim_validate((*__extension__({ __auto_type __ptm_a1 = &(take__ptm_static_taken); {{.*}} < 2, "only two"))
// CHECK: (__extension__({ __auto_type __ptm_a2 = &(take__ptm_static_taken); (*(__typeof__(__ptm_a2))ptm_redo_st(__ptm_a2, sizeof *__ptm_a2))++; }));
// CHECK: ptm_shim_printf("took %d (id %d, ticket %d)\n", (*__extension__({ __auto_type __ptm_a3 = &(take__ptm_static_taken); {{.*}})), next_id__ptm_mirror(), next_ticket__ptm_mirror());
// CHECK: static int next_id__ptm_mirror{{$}}
// CHECK: BUMP((*__extension__({ __auto_type __ptm_a{{[0-9]+}} = &(next_id__ptm_static_id);
