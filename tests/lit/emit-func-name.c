// __func__ (and __FUNCTION__) in a body that ptmcc renames -- a primary, a
// mirror clone -- still names the user's function, as in a plain build,
// also when a macro writes it: a macro scoped to each renamed copy pins it.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -std=c17 -Wall -Wextra -Werror -pedantic %s -o %t
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: env PTM_CC=gcc %ptmcc -std=c17 -Wall -Wextra -Werror -pedantic -c %s -o %t.o

#include <ptm.h>
#include <stdio.h>

#define TRACE(what) printf("%s: %s\n", __func__, what)

static int helper(void)
{
    TRACE("helper");
    return 2;
}

PTM_TRANSACTION(.success_criteria = return > 0)
int audit(void)
{
    printf("%s/%zu\n", __FUNCTION__, sizeof __func__);
    TRACE("audit");
    return helper();
}

int main(void)
{
    return audit() == 2 ? 0 : 1;
}

// -Weverything: the pinning macros' reserved names are said on purpose.
// CHECK: #pragma clang diagnostic ignored "-Wreserved-macro-identifier"
// CHECK-NEXT: #endif
// CHECK-NEXT: #pragma push_macro("__func__")
// CHECK-NEXT: #undef __func__
// CHECK-NEXT: #define __func__ "audit"
// CHECK-NEXT: #pragma push_macro("__FUNCTION__")
// CHECK-NEXT: #undef __FUNCTION__
// CHECK-NEXT: #define __FUNCTION__ "audit"
// CHECK-NEXT: #if defined(__clang__)
// CHECK-NEXT: #pragma clang diagnostic pop
// CHECK-NEXT: #endif
// CHECK-NEXT: #line 20 "{{.*}}emit-func-name.c"
// CHECK-NEXT: {{^}}static{{$}}
// CHECK-NEXT: #line 21 "{{.*}}emit-func-name.c"
// CHECK-NEXT: {{^}}int audit__ptm_primary{{$}}
// CHECK-NEXT: #line 21 "{{.*}}emit-func-name.c"
// CHECK-NEXT: {{^ *}}(void){{$}}
// CHECK: {{^}}}
// CHECK-NEXT: #pragma pop_macro("__FUNCTION__")
// CHECK-NEXT: #pragma pop_macro("__func__")
// CHECK: #define __func__ "helper"
// CHECK: static int helper__ptm_mirror{{$}}

// OUT: audit/6
// OUT-NEXT: audit: audit
// OUT-NEXT: helper: helper
