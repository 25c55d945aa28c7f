// Under PTM_DRY_RUN the call returns the mirror's result, but a pointer
// result pointed into the mirror's own memory (its heap inline, the
// child's in a fork): the caller gets NULL, never a dangling pointer.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s --check-prefix=REAL
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// RUN: env PTM_DRY_RUN=1 PTM_MIRROR=fork %t | FileCheck %s --check-prefix=DRY
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s --check-prefix=EMIT

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PTM_TRANSACTION(.success_criteria = return != 0)
char *dup_upper(const char *s)
{
    char *r = strdup(s);
    if (r)
        r[0] = 'H';
    return r;
}

int main(void)
{
    char *u = dup_upper("hello");
    puts(u ? u : "(null)");
    free(u);
    return 0;
}

// REAL: Hello
// DRY: (null)
// EMIT: static void dup_upper__ptm_drop_result(void *p)
// EMIT: .drop_result = dup_upper__ptm_drop_result,
