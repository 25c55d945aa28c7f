// success_criteria and snapshot are type-checked against the function, as
// clang would check the same C: members must exist (with a did-you-mean
// and the field's declaration), '.' and '->' must fit the type, a struct
// is not a number, and the whole criteria must be a scalar.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --strict-whitespace

#include <ptm.h>

struct result { int status; long cents; };
struct inner { int code; };
struct outer { struct inner in; struct inner *pin; };

PTM_TRANSACTION(.success_criteria = return.stauts == 0)
struct result a(int x) { struct result r = {x, 0}; return r; }

PTM_TRANSACTION(.success_criteria = return == 0)
struct result b(int x) { struct result r = {x, 0}; return r; }

PTM_TRANSACTION(.success_criteria = return->status == 0)
struct result c(int x) { struct result r = {x, 0}; return r; }

PTM_TRANSACTION(.success_criteria = return.status == 0)
struct result *d(struct result *p) { return p; }

PTM_TRANSACTION(.success_criteria = return.in.code == 0 && return.pin->cod > 0)
struct outer e(struct outer o) { return o; }

PTM_TRANSACTION(.success_criteria = return)
struct result f(int x) { struct result r = {x, 0}; return r; }

PTM_TRANSACTION(.success_criteria = o.in.code != 0 && !o.in)
int g(struct outer o) { return o.in.code; }

PTM_TRANSACTION(.success_criteria = return.status == OK && return.cents >= 0,
                .snapshot = { { p, sizeof *p }, { *p, 4 } })
struct result h(struct result *p) { return *p; }

struct opaque;
PTM_TRANSACTION(.success_criteria = return->size > 0 && n.code && n[0] && *n && n->code,
                .snapshot = { { &n, n } })
struct opaque *i(struct inner n) { (void)n; return 0; }

PTM_TRANSACTION(.success_criteria = return.x == 0 || return != OK)
int j(int x) { return x; }

// CHECK: criteria-types.c:13:44: error: no member named 'stauts' in 'struct result'; did you mean 'status'?
// CHECK-NEXT: {{^}}   13 | PTM_TRANSACTION(.success_criteria = return.stauts == 0)
// CHECK-NEXT: {{^}}      |                                            ^~~~~~
// CHECK-NEXT: {{^}}      |                                            status
// CHECK-NEXT: criteria-types.c:9:21: note: 'status' declared here
// CHECK: criteria-types.c:16:44: error: invalid operands to binary expression ('struct result' and 'int')
// CHECK: criteria-types.c:19:43: error: member reference type 'struct result' is not a pointer; did you mean to use '.'?
// CHECK: {{^}}      |                                           .
// CHECK: criteria-types.c:22:43: error: member reference type 'struct result *' is a pointer; did you mean to use '->'?
// CHECK: {{^}}      |                                           ->
// CHECK: criteria-types.c:25:72: error: no member named 'cod' in 'struct inner'; did you mean 'code'?
// CHECK: criteria-types.c:10:20: note: 'code' declared here
// CHECK: criteria-types.c:28:37: error: statement requires expression of scalar type ('struct result' invalid)
// CHECK: criteria-types.c:31:55: error: invalid argument type 'struct inner' to unary expression
// CHECK: criteria-types.c:35:51: error: a snapshot region's address must be a pointer, not 'struct result'
// CHECK: criteria-types.c:39:45: error: incomplete definition of type 'struct opaque'
// CHECK: criteria-types.c:39:67: error: subscripted value is not an array, pointer, or vector
// CHECK: criteria-types.c:39:75: error: indirection requires pointer operand ('struct inner' invalid)
// CHECK: criteria-types.c:39:82: error: member reference type 'struct inner' is not a pointer; did you mean to use '.'?
// CHECK: criteria-types.c:40:37: error: a snapshot region's size must be a number, not 'struct inner'
// CHECK: criteria-types.c:43:43: error: member reference base type 'int' is not a structure or union
// CHECK-NOT: error:
