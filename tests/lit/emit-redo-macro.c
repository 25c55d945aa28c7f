// Accesses written inside macro arguments go through the write buffer
// too: the argument's own text is rewritten, once even when the macro
// expands it twice (MAX), so assert(), MIN/MAX and wrappers keep a
// mirror inline.  A macro that expands to one whole designator or one
// parenthesized expression (TALLY, LEVEL(s)) is redefined around the
// instrumented clone, its body's object through the buffer.  The C library's variables (stderr) are read in place.
// A failed assert() in the mirror is a validation event and a crash of
// the mirror, never of the host: the call diverts.  A macro whose body
// stores into its argument (BUMP) gets the argument rewritten into the
// buffer's copy of the object.  What a macro's body stores into an object
// it names itself (BUMP_MOVES) is rewritten in the macro: the
// instrumented clone redefines BUMP_MOVES around itself, and its mirror
// stays inline too.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=INLINE
// RUN: grep -o '"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":6' %t.trace | wc -l | FileCheck %s --check-prefix=ABRT
// RUN: grep -o 'assertion failed: [^"(]*' %t.trace | FileCheck %s --check-prefix=EVENT

#include <assert.h>
#include <ptm.h>
#include <stdio.h>

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define BUMP(x) ((x) += 1)
#define TALLY shelf.moves
#define LEVEL(s) ((s)->level)

struct stock {
    int level;
    int peak;
    int moves;
};

static struct stock shelf = {5, 5, 0};

static int refuse(int n)
{
    printf("refused %d\n", n);
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { refuse }, .success_criteria = return >= 0)
int take(int n)
{
    struct stock *s = &shelf;
    s->level -= n;
    assert(s->level >= 0);
    s->peak = MAX(s->peak, s->level);
    fprintf(stderr, "level %d\n", s->level);
    return s->level;
}

PTM_TRANSACTION()
int bump(void)
{
    return BUMP(shelf.moves);
}

PTM_TRANSACTION(.success_criteria = return == 0)
int tally(void)
{
    TALLY++;
    TALLY += 2;
    return TALLY == 4 && LEVEL(&shelf) == 3 ? 0 : 1;
}

#define BUMP_MOVES() (shelf.moves += 1)
PTM_TRANSACTION()
int bump_moves(void)
{
    return BUMP_MOVES();
}

int main(void)
{
    printf("take %d\n", take(2));
    printf("take %d\n", take(7));
    printf("bump %d\n", bump());
    printf("tally %d\n", tally());
    printf("bump_moves %d\n", bump_moves());
    printf("level %d peak %d moves %d\n", shelf.level, shelf.peak, shelf.moves);
    return 0;
}

// CHECK-LABEL: /* The mirror clone of take (
// CHECK: {{^}}int take__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(int n){{$}}
// CHECK: assert((*__extension__({ __auto_type __ptm_a2 = &(s->level); (__typeof__(__ptm_a2))ptm_redo_ld(__ptm_a2, sizeof *__ptm_a2); })) >= 0);
// CHECK-NEXT: (__extension__({ __auto_type __ptm_a3 = &(s->peak ); __typeof__(*__ptm_a3) __ptm_v3 = ( MAX((*__extension__({ __auto_type __ptm_a4 = &(s->peak); (__typeof__(__ptm_a4))ptm_redo_ld(__ptm_a4, sizeof *__ptm_a4); })), (*__extension__({ __auto_type __ptm_a5 = &(s->level); (__typeof__(__ptm_a5))ptm_redo_ld(__ptm_a5, sizeof *__ptm_a5); })))); *(__typeof__(__ptm_a3))ptm_redo_st(__ptm_a3, sizeof *__ptm_a3) = __ptm_v3; }));
// CHECK-NEXT: fprintf(stderr, "level %d\n", (*__extension__({ __auto_type __ptm_a6 = &(s->level);

// BUMP's body stores into its argument: the argument is the buffer's copy.
// CHECK-LABEL: /* The mirror clone of bump (
// CHECK: return BUMP((*__extension__({ __auto_type __ptm_a1 = &(shelf.moves); (__typeof__(__ptm_a1))ptm_redo_st(__ptm_a1, sizeof *__ptm_a1); })));

// CHECK-LABEL: /* The mirror clone of tally (
// CHECK: #define TALLY (*__extension__({ __auto_type __ptm_m{{[0-9]+}} = &(shelf.moves); {{.*}}ptm_redo_st(
// CHECK: #define LEVEL(s) ((*__extension__({ __auto_type __ptm_m{{[0-9]+}} = &((s)->level); {{.*}}ptm_redo_ld(
// CHECK: {{^}}int tally__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(void){{$}}
// CHECK: TALLY++;
// CHECK-NEXT: TALLY += 2;
// CHECK-NEXT: return TALLY == 4 && LEVEL(&shelf) == 3 ? 0 : 1;
// CHECK: #pragma pop_macro("LEVEL")
// CHECK-NEXT: #pragma pop_macro("TALLY")

// CHECK-LABEL: /* The mirror clone of bump_moves (
// CHECK: #define BUMP_MOVES() ((*__extension__({ __auto_type __ptm_m{{[0-9]+}} = &(shelf.moves); {{.*}}ptm_redo_st({{.*}} += 1)

// CHECK-LABEL: static const struct ptm_tx_desc take__ptm_desc = {
// CHECK: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
// CHECK-LABEL: static const struct ptm_tx_desc bump__ptm_desc = {
// CHECK: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
// CHECK-LABEL: static const struct ptm_tx_desc bump_moves__ptm_desc = {
// CHECK: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,

// The second take would leave the shelf below zero: its mirror's assert
// fails, and the call diverts before the primary runs.
// OUT: take 3
// OUT-NEXT: refused 7
// OUT-NEXT: take -1
// OUT-NEXT: bump 1
// OUT-NEXT: tally 0
// OUT-NEXT: bump_moves 5
// OUT-NEXT: level 3 peak 5 moves 5
// INLINE: 5
// ABRT: 1
// EVENT: assertion failed: s->level >= 0
