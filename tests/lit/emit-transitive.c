// Mirror clones are transitive, like GCC's transactional-memory clones:
// every function of this file that a mirror can reach gets its own clone,
// recursion and mutual recursion included, and the clones' I/O is
// redirected as well.  Functions of other files run as they are (under the
// fork executor's seccomp filter).
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>
#include <stdio.h>
#include <string.h>

static int even(int n);
static int odd(int n) { return n == 0 ? 0 : even(n - 1); }
static int even(int n) { return n == 0 ? 1 : odd(n - 1); }

static int fact(int n) { return n <= 1 ? 1 : n * fact(n - 1); }

static void note(const char *what)
{
    puts(what);
}

static int unreached(void) { return puts("never"); }

PTM_TRANSACTION(.transaction_id = "walk")
int walk(int n)
{
    note("walking");
    return even(n) + fact(3) + (int)strlen("libc runs as is");
}

int main(void) { return walk(4) + unreached(); }

// The primary calls the originals.
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^}}int walk__ptm_primary{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(int n)
// CHECK: note("walking");
// CHECK: return even(n) + fact(3) + (int)strlen("libc runs as is");

// Every reachable function has a prototype, then a clone.
// CHECK-DAG: {{^}}int walk__ptm_mirror{{$}}
// CHECK-DAG: static void note__ptm_mirror{{$}}
// CHECK-DAG: static int even__ptm_mirror{{$}}
// CHECK-DAG: static int odd__ptm_mirror{{$}}
// CHECK-DAG: static int fact__ptm_mirror{{$}}
// CHECK-NOT: unreached__ptm_mirror

// CHECK: note__ptm_mirror("walking");
// CHECK: return even__ptm_mirror(n) + fact__ptm_mirror(3) + (int)strlen("libc runs as is");
// Each clone polls for cancellation on entry (the inline executor's
// watchdog); a #line and padding put the rest of the line back in place.
// CHECK: /* The mirror clone of note (
// CHECK-NEXT: #line 19
// CHECK-NEXT: static void note__ptm_mirror{{$}}
// CHECK-NEXT: #line 19
// CHECK-NEXT: {{^ *}}(const char *what){{$}}
// CHECK-NEXT: {
// CHECK-NEXT: if (ptm_mirror_cancel) ptm_mirror_cancelled();
// CHECK-NEXT: #line 20 "{{.*}}emit-transitive.c"
// CHECK-NEXT: {{^ +$}}
// CHECK-NEXT:     ptm_shim_puts(what);
// CHECK: /* The mirror clone of even (
// CHECK-NEXT: #line 15
// CHECK-NEXT: static int even__ptm_mirror{{$}}
// CHECK-NEXT: #line 15
// CHECK-NEXT: {{^               }}(int n) {
// CHECK-NEXT: if (ptm_mirror_cancel) ptm_mirror_cancelled();
// CHECK-NEXT: #line 15
// CHECK-NEXT: {{^                         }}return n == 0 ? 1 : odd__ptm_mirror(n - 1); }
// CHECK: /* The mirror clone of fact (
// CHECK: {{^ +}}return n <= 1 ? 1 : n * fact__ptm_mirror(n - 1); }
// CHECK: /* The mirror clone of odd (
// CHECK: {{^ +}}return n == 0 ? 0 : even__ptm_mirror(n - 1); }
