// Stores whose target is an lvalue that is none of a variable, a member, an
// element or *p: _Generic(x, int: g), __builtin_choose_expr(1, g, l),
// __real__ / __imag__ of a complex.  The inline proof took
// __builtin_choose_expr(1, g, l) for its last operand l (a local: no write
// buffer at all), and the write buffer's rewrite left the others as
// written: each stored into the host's g from an inline mirror, so a dry
// run changed the host.  Now such a store makes the mirror fork, and a
// member of one (&__builtin_choose_expr(1, gs, l))->a goes through the
// write buffer.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

int g = 7, h = 8;
_Complex double gc = 1.0;
struct S { int a; } gs = {5};

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int choose_local(int x) { int l = 0; __builtin_choose_expr(1, g, l) = x; return l; }
TX int generic_local(int x) { int l = 0; _Generic(x, int: g, default: l) = x; return l; }
TX int choose_incr(int x) { __builtin_choose_expr(1, g, h)++; return x; }
TX int generic_add(int x) { _Generic(x, int: g) += x; return x; }
TX int choose_member(int x) { struct S l = {0}; (&__builtin_choose_expr(1, gs, l))->a = x; return l.a; }
TX int real_part(int x) { __real__ gc = x; return 0; }
TX int imag_part(int x) { __imag__ gc += x; (__real__ gc)++; return 0; }

int main(void)
{
#define RUN(f) f(3); printf(#f ": g=%d h=%d gs=%d gc=%g%+gi\n", g, h, gs.a, __real__ gc, __imag__ gc);
    RUN(choose_local) RUN(generic_local) RUN(choose_incr) RUN(generic_add) RUN(choose_member)
    RUN(real_part) RUN(imag_part)
    return 0;
}

// DRY: choose_local: g=7 h=8 gs=5 gc=1+0i
// DRY: generic_local: g=7 h=8 gs=5 gc=1+0i
// DRY: choose_incr: g=7 h=8 gs=5 gc=1+0i
// DRY: generic_add: g=7 h=8 gs=5 gc=1+0i
// DRY: choose_member: g=7 h=8 gs=5 gc=1+0i
// DRY: real_part: g=7 h=8 gs=5 gc=1+0i
// DRY: imag_part: g=7 h=8 gs=5 gc=1+0i

// TRACE: "function":"choose_local","mirror":"fork","mirror_reason":"choose_local: stores to an lvalue the write buffer cannot route at {{.*}}:24:41"
// TRACE: "function":"generic_local","mirror":"fork","mirror_reason":"generic_local: stores to an lvalue the write buffer cannot route
// TRACE: "function":"choose_incr","mirror":"fork","mirror_reason":"choose_incr: stores to an lvalue the write buffer cannot route
// TRACE: "function":"generic_add","mirror":"fork","mirror_reason":"generic_add: stores to an lvalue the write buffer cannot route
// TRACE: "function":"choose_member","mirror":"inline","mirror_reason":"auto: the mirror calls only shims and clones, and its stores outside its locals go to its write buffer"
// TRACE: "function":"real_part","mirror":"fork","mirror_reason":"real_part: stores to an lvalue the write buffer cannot route
// TRACE: "function":"imag_part","mirror":"fork","mirror_reason":"imag_part: stores to an lvalue the write buffer cannot route

// REAL: choose_local: g=3 h=8 gs=5 gc=1+0i
// REAL: generic_local: g=3 h=8 gs=5 gc=1+0i
// REAL: choose_incr: g=4 h=8 gs=5 gc=1+0i
// REAL: generic_add: g=7 h=8 gs=5 gc=1+0i
// REAL: choose_member: g=7 h=8 gs=3 gc=1+0i
// REAL: real_part: g=7 h=8 gs=3 gc=3+0i
// REAL: imag_part: g=7 h=8 gs=3 gc=4+3i
