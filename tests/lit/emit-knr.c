// K&R-style definitions (parameters declared after the list; valid gnu11,
// and all of zlib's).  A clone copies the header as written, renamed: it
// takes its arguments as the original does (promoted, when the caller
// sees no prototype) and converts them to the declared types itself.  Its
// forward declaration is __typeof__ of the original, so that a mirror's
// calls convert as the original's do: to the prototype when there is one
// (wide below: 1 becomes a long, 0 a null pointer).  A parameter with no
// declaration is an int.  A transaction may be written K&R-style too: its
// primary and wrapper keep its header, and the primary's declaration
// above it (for the code between it and the wrapper) is `int count();`,
// whatever comments its list holds.
// RUN: %ptmcc -Wno-implicit-int --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT
// RUN: %ptmcc -Wall -Wextra -Werror -Wno-deprecated-non-prototype -Wno-implicit-int %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// RUN: %clang -Wno-deprecated-non-prototype -Wno-implicit-int -I %ptm_include %s -o %t.plain
// RUN: %t.plain | FileCheck %s --check-prefix=OUT

#include <ptm.h>
#include <stdio.h>

static int calls;

static int twice(x)
{
    calls++;
    return 2 * x;
}

static int sum(x, y)
    long y;
{
    return (int)(x + y);
}

static int wide(long v, const char *p);

static int wide(v, p)
    long v;
    const char *p;
{
    return p ? -1 : (int)(v << 33 >> 33);
}

/* a prototype of the promoted types (C asks for them): the call converts
** 260 to an int, the definition then to a char (4), 0.5 to a double and
** back to a float */
static int narrow(int c, double x);

static int narrow(c, x)
    char c;
    float x;
{
    return c + (int)(x * 2);
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int count(n, f /* ) */, c)
    float f;
    char c;
{
    return twice(n) + sum(n, 3L) + (int)(f * 2) + c + wide(1, 0) + narrow(n + 256, 0.5);
}

/* a prototype whose parameters a macro writes is not K&R */
#define PAIR int a, int b

PTM_TRANSACTION(.success_criteria = return >= 0)
int both(PAIR)
{
    return a + b;
}

int main(void)
{
    printf("%d\n", count(4, 2.5f, 'a') + both(0, 0));
    printf("calls %d\n", calls);
    return 0;
}

// EMIT: {{^}}int count();{{$}}
// EMIT: {{^}}int count__ptm_primary{{$}}
// EMIT-NEXT: #line 59
// EMIT-NEXT: {{^ *}}(n, f /* ) */, c){{$}}
// EMIT-NEXT: {{^}}    float f;{{$}}
// EMIT-NEXT: {{^}}    char c;{{$}}
// EMIT: {{^}}int both(PAIR);{{$}}
// EMIT: {{^}}static __typeof__(count) count__ptm_mirror;
// EMIT: {{^}}static __typeof__(twice) twice__ptm_mirror;
// EMIT-NEXT: {{^}}static __typeof__(sum) sum__ptm_mirror;
// EMIT-NEXT: {{^}}static __typeof__(wide) wide__ptm_mirror;
// EMIT-NEXT: {{^}}static __typeof__(narrow) narrow__ptm_mirror;
// EMIT: wide__ptm_mirror(1, 0) + narrow__ptm_mirror(n + 256, 0.5)
// EMIT: {{^}}static int twice__ptm_mirror{{$}}
// EMIT-NEXT: #line 25
// EMIT-NEXT: {{^ *}}(x){{$}}
// EMIT-NEXT: {
// EMIT: {{^}}static int sum__ptm_mirror{{$}}
// EMIT-NEXT: #line 31
// EMIT-NEXT: {{^ *}}(x, y){{$}}
// EMIT-NEXT: {{^}}    long y;{{$}}
// EMIT: struct count__ptm_frame {
// EMIT-NEXT: struct {
// EMIT-NEXT: int n;
// EMIT-NEXT: float f;
// EMIT-NEXT: char c;
// EMIT: fr->ret = count__ptm_primary(fr->arg.n, fr->arg.f, fr->arg.c);
// EMIT: {{^}}int (count){{$}}
// EMIT-NEXT: #line 59
// EMIT-NEXT: {{^ *}}(n, f /* ) */, c){{$}}
// EMIT-NEXT: {{^}}    float f;{{$}}
// EMIT-NEXT: {{^}}    char c;{{$}}
// EMIT-NEXT: {
// EMIT-NEXT: struct count__ptm_frame __ptm_frame;

// 8 + 7 + 5 + 97 + 1 + 5
// OUT: 123
// OUT-NEXT: calls 1

// TRACE: "transaction_id":"count",{{.*}}"mirror":"inline","mirror_reason":"auto: the mirror{{[^"]*}} calls only shims and clones{{[^"]*}}","mirror_status":"returned"

// DRY: 123
// DRY-NEXT: calls 0
