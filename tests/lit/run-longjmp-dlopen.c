// A library loaded with dlopen, which the program was not linked against,
// longjmps out of a transaction: its jump must reach libptm's longjmp too
// (ptmcc exports it from the program), so that the fork mirror ends there
// instead of running the host on in the child -- which would end in a
// crash and a diversion.  The output is a plain build's.
// RUN: %clang -shared -fPIC -DLIB %s -o %t.so
// RUN: %clang -I%ptm_include %s -o %t.plain
// RUN: %t.plain %t.so > %t.expected
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t %t.so > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <setjmp.h>

#ifdef LIB
void lib_check(jmp_buf env, int x)
{
    if (x < 0)
        longjmp(env, -x);
}
#else
#include <dlfcn.h>
#include <ptm.h>
#include <stdio.h>

static jmp_buf env;
static void (*check)(jmp_buf env, int x);

static int refuse(int x)
{
    (void)x;
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { refuse })
int checked(int x)
{
    check(env, x);
    return x;
}

int main(int argc, char **argv)
{
    void *lib = argc > 1 ? dlopen(argv[1], RTLD_NOW) : NULL;
    if (!lib || !(check = (void (*)(jmp_buf, int))dlsym(lib, "lib_check")))
        return 2;
    for (volatile int x = 2; x >= -2; x -= 2) {
        int code = setjmp(env);
        if (code)
            printf("checked(%d): error %d\n", x, code);
        else
            printf("checked(%d) = %d\n", x, checked(x));
    }
    return 0;
}
#endif

// CHECK:      checked(2) = 2
// CHECK-NEXT: checked(0) = 0
// CHECK-NEXT: checked(-2): error 2

// TRACE:      "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"decision":"primary"
// TRACE-NEXT: "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"decision":"primary"
// TRACE-NEXT: "mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"decision":"primary","path":"checked","attempts":1,"outcome":"failure","left_by_longjmp":true
