// I/O written through macros is redirected too: a call spelled in a macro
// argument is renamed in place; a call that comes from a macro's body is
// redirected by a function-like macro scoped to the mirror clone, so that
// members named like I/O functions (ops->write) and addresses are untouched.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>
#include <stdio.h>
#include <unistd.h>

#define LOG(...) fprintf(stderr, __VA_ARGS__)
#define TRY(x) ((x) < 0 ? -1 : 0)

struct ops {
    ssize_t (*write)(int fd, const void *buf, size_t n);
};

PTM_TRANSACTION(.transaction_id = "macro.io")
int emit(struct ops *ops, int fd)
{
    LOG("emit %d\n", fd);
    if (TRY(write(fd, "x", 1)))
        return -1;
    return (int)ops->write(fd, "y", 1);
}

// CHECK: The mirror clone of emit
// CHECK-NEXT: #pragma push_macro("fprintf")
// CHECK-NEXT: #undef fprintf
// CHECK-NEXT: #define fprintf(...) ptm_shim_fprintf(__VA_ARGS__)
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^}}int emit__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(struct ops *ops, int fd)
// CHECK: LOG("emit %d\n", fd);
// CHECK: if (TRY(ptm_shim_write(fd, "x", 1)))
// CHECK: return (int)ops->write(fd, "y", 1);
// CHECK: #pragma pop_macro("fprintf")
