// A va_list parameter: the mirror reads the arguments from a copy, so the
// primary still reads them from the start (on x86_64 a va_list is passed
// by reference, and the mirror's va_arg used to advance the caller's).
// The frame holds a va_copy, each clone call its own copy: no type the
// source cannot spell (struct __va_list_tag) reaches the output, so gcc
// and clang build it warning-free.  In an instrumented mirror, va_start's
// operands are left alone: its second must stay the last parameter's name.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s
// RUN: env PTM_MIRROR=fork %t | FileCheck %s
// RUN: env PTM_MIRROR=inline %t | FileCheck %s
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s %} %}
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

#include <ptm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char line[64];

PTM_TRANSACTION(.success_criteria = return >= 0)
int vsum(int n, va_list ap)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += va_arg(ap, int);
    return s;
}

PTM_TRANSACTION(.success_criteria = return > 0)
int vformat(const char *fmt, va_list ap)
{
    return vsnprintf(line, sizeof line, fmt, ap);
}

static int steps;

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

PTM_TRANSACTION(.success_criteria = return == 0)
int step(int n)
{
    steps++;
    say("step %d of %d\n", steps, n);
    return 0;
}

static int sum(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    int r = vsum(n, ap);
    va_end(ap);
    return r;
}

static int format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vformat(fmt, ap);
    va_end(ap);
    return r;
}

int main(void)
{
    printf("sum %d\n", sum(3, 10, 20, 30));
    int n = format("%s=%d;%s=%.1f", "a", 7, "b", 2.5);
    printf("format %d '%s'\n", n, line);
    return step(2);
}

// CHECK: sum 60
// CHECK-NEXT: format 9 'a=7;b=2.5'
// CHECK-NEXT: step 1 of 2
// The dry run returns the mirror's results; the line is the host's, untouched.
// DRY: sum 60
// DRY-NEXT: format 9 ''
// DRY-NOT: step
// EMIT: {{^}}static void say__ptm_mirror{{$}}
// EMIT: va_start(ap, fmt);
// EMIT-NEXT: ptm_shim_vprintf(
// EMIT: __builtin_va_list ap;
// EMIT: __builtin_va_copy(__ptm_va_ap, fr->arg.ap);
// EMIT-NOT: __va_list_tag
