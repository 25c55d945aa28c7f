// Signatures that need care: static and void transactions, struct
// parameters and results, arrays (which decay), function pointers, const
// parameters, variably modified arrays, and a header-declared prototype.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -std=c17 -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>

struct point { int x, y; };
typedef struct point point_t;

static int ok_point(struct point p, const int scale, int v[static 2],
                    int (*f)(int), int n, double m[n][n]);

PTM_TRANSACTION(.success_criteria = return.x >= 0)
static inline point_t move(struct point p, const int scale, int v[static 2],
                           int (*f)(int), int n, double m[n][n])
{
    point_t r = { p.x * scale + v[0], f(p.y) + v[1] + (int)m[0][0] };
    return r;
}

PTM_TRANSACTION(.alternative_paths = { ok_point })
static int check(struct point p, const int scale, int v[static 2],
                 int (*f)(int), int n, double m[n][n])
{
    return move(p, scale, v, f, n, m).x;
}

static int ok_point(struct point p, const int scale, int v[static 2],
                    int (*f)(int), int n, double m[n][n])
{
    (void)f; (void)m;
    return p.x + scale + v[0] + n;
}

PTM_TRANSACTION()
void nothing(void)
{
}

static int twice(int v) { return 2 * v; }

int use(void)
{
    int v[2] = { 1, 2 };
    double m[1][1] = { { 0 } };
    nothing();
    return check((struct point){ 1, 2 }, 3, v, twice, 1, m);
}

// CHECK: static inline point_t move(struct point p, const int scale, int v[static 2],
// CHECK: static {{ *}}point_t move__ptm_primary{{$}}
// CHECK: static int check__ptm_primary{{$}}
// CHECK: return move(p, scale, v, f, n, m).x;
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: #line 38
// CHECK-NEXT: {{^}}void nothing__ptm_primary{{$}}
// CHECK-NEXT: #line 38
// CHECK-NEXT: {{^ *}}(void){{$}}

// The mirror of check calls the mirror of move, a transaction of this file.
// CHECK: static int check__ptm_mirror{{$}}
// CHECK: return move__ptm_mirror(p, scale, v, f, n, m).x;

// CHECK: struct move__ptm_frame {
// CHECK-NEXT:     struct {
// CHECK-NEXT:         struct point p;
// CHECK-NEXT:         int scale;
// CHECK-NEXT:         int *v;
// CHECK-NEXT:         __typeof__(int (*)(int)) f;
// CHECK-NEXT:         int n;
// CHECK-NEXT:         void *m;
// CHECK-NEXT:     } arg;
// CHECK-NEXT:     point_t ret;
// CHECK: return ((frame->ret.x >= 0)) != 0;
// CHECK: static inline point_t (move){{$}}
// CHECK: struct nothing__ptm_frame {
// CHECK-NEXT:     int err;
// CHECK-NEXT: };
// CHECK: static void nothing__ptm_run_primary(void *p)
// CHECK:     nothing__ptm_primary();
// CHECK: void (nothing){{$}}
// CHECK-NOT: return __ptm_frame
// CHECK: ptm_tx_run(&nothing__ptm_desc, &__ptm_frame);
