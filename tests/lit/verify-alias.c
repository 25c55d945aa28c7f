// Raw I/O under another name, where the source rewrite cannot see it: an
// asm label gives the C name emit to the symbol write (the way glibc's
// __REDIRECT renames functions), and an alias gives log_impl a second
// name.  The rewrite sees calls to unknown externals named emit and
// log_msg; the bitcode shows write, and the alias leads to log_impl.
// RUN: not %ptmcc --verify-mirror %s 2>&1 | FileCheck %s

#include <ptm.h>
#include <string.h>
#include <sys/types.h>

extern ssize_t emit(int fd, const void *buf, size_t n) __asm__("write");

static void log_impl(const char *s) { emit(2, s, strlen(s)); }
void log_msg(const char *s) __attribute__((alias("log_impl")));

PTM_TRANSACTION(.transaction_id = "renamed")
int renamed(int v)
{
    emit(1, "x", 1);
    log_msg("y");
    return v;
}

int main(void) { return renamed(0); }

// CHECK: verify-alias.c:20:5: error: mirror of 'renamed' reaches 'write' through renamed__ptm_mirror -> write
// CHECK-NEXT: {{^}}   20 |     emit(1, "x", 1);
// CHECK-NEXT: {{^}}      |     ^~~~
// CHECK-NEXT: verify-alias.c:20:5: note: 'emit' here is the symbol 'write' (an asm label or a macro)
// CHECK: verify-alias.c:14:39: error: mirror of 'renamed' reaches 'write' through renamed__ptm_mirror -> log_msg (alias of log_impl) -> write
// CHECK: 2 errors generated.
