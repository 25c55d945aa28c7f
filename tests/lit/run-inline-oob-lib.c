// Library calls that fill a local array with a computed length (memcpy,
// memset, snprintf, read, fgets) or as far as their data goes (strcpy,
// sprintf), and stores through a pointer to a local, in inline mirrors.
// A length past the array is found before the call writes anything: the
// mirror ends as crashed with an out_of_bounds event and the call diverts;
// the host's stack is untouched.  Through a pointer (an instrumented
// mirror), the write must stay in the local object the pointer points
// into: a store past it into the mirror's frames ends the mirror the same
// way, and strcpy, snprintf, memcpy or strtol's end pointer through the
// pointer are held to the object's size.
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t
// RUN: %ptmcc -O2 -D_FORTIFY_SOURCE=2 -Wall -Wextra -Werror %s -o %t.fortify
// RUN: rm -f %t.trace %t.fortify.trace
// RUN: env PTM_TRACE=%t.trace %t %s 300 | FileCheck %s
// RUN: env PTM_TRACE=%t.fortify.trace %t.fortify %s 4096 2>&1 | FileCheck %s
// RUN: env PTM_DRY_RUN=1 %t %s 100000 | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"transaction_id"' %t.trace | FileCheck %s --check-prefix=RECORDS
// RUN: grep -c '"mirror":"inline",[^{]*"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":11' %t.trace | FileCheck %s --check-prefix=CRASHES
// RUN: grep -c '"mirror":"inline",[^{]*"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":11' %t.fortify.trace | FileCheck %s --check-prefix=CRASHES
// RUN: grep -c '"kind":"out_of_bounds"' %t.trace | FileCheck %s --check-prefix=CRASHES
// RUN: grep -o '"kind":"out_of_bounds","call":"?","target":"[^"]*"' %t.trace | FileCheck %s --check-prefix=TARGETS
// RUN: grep -o '"transaction_id":"[a-z_]*","function":"[a-z_]*","mirror":"[a-z]*","mirror_reason":"[^"]*"' %t.trace | sort -u | FileCheck %s --check-prefix=MODES

#include <fcntl.h>
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TX PTM_TRANSACTION(.alternative_paths = {refuse}, .success_criteria = return >= 0)

static int refuse(const char *path, const char *s, size_t n) { (void)path; (void)s; (void)n; return -2; }

TX int with_memcpy(const char *path, const char *s, size_t n)
{
    (void)path;
    char buf[32];
    size_t off = 4;
    memcpy(buf + off, s, n);
    return buf[off];
}

TX int with_memset(const char *path, const char *s, size_t n)
{
    (void)path; (void)s;
    char buf[32];
    memset(buf, 'm', n);
    return buf[0];
}

TX int with_snprintf(const char *path, const char *s, size_t n)
{
    (void)path;
    char buf[32];
    snprintf(buf, n, "%s", s);
    return buf[0];
}

TX int with_read(const char *path, const char *s, size_t n)
{
    (void)s;
    char buf[32];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, n);
    close(fd);
    return got > 0 ? buf[0] : -1;
}

TX int with_fgets(const char *path, const char *s, size_t n)
{
    (void)s;
    char line[32];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *got = fgets(line, (int)n, f);
    fclose(f);
    return got ? line[0] : -1;
}

TX int with_strcpy(const char *path, const char *s, size_t n)
{
    (void)path; (void)n;
    char buf[32];
    strcpy(buf, s);
    return buf[0];
}

TX int with_sprintf(const char *path, const char *s, size_t n)
{
    (void)path; (void)n;
    char buf[32];
    sprintf(buf, "<%s>", s);
    return buf[1];
}

/* Through a pointer to a local: the mirror is instrumented. */
static void put(char *p, size_t i, char c) { p[i] = c; }
static void copy_in(char *p, const char *s, size_t n) { memcpy(p, s, n); }
static void name_in(char *p, const char *s) { strcpy(p, s); }
static void print_in(char *p, size_t n, const char *s) { snprintf(p, n, "%s", s); }

TX int via_pointer(const char *path, const char *s, size_t n)
{
    (void)path; (void)s;
    char buf[32];
    buf[0] = 'q';
    for (size_t i = 1; i < n; i++)
        put(buf, i, 'p');
    return buf[0];
}

TX int via_memcpy(const char *path, const char *s, size_t n)
{
    (void)path;
    char buf[32];
    copy_in(buf, s, n);
    return buf[0];
}

TX int via_strcpy(const char *path, const char *s, size_t n)
{
    (void)path; (void)n;
    char buf[32];
    name_in(buf, s);
    return buf[0];
}

TX int via_snprintf(const char *path, const char *s, size_t n)
{
    (void)path;
    char buf[32];
    print_in(buf, n, s);
    return buf[0];
}

/* strtol's end pointer, into two bytes left of a local. */
static long parse(const char *s, char **end) { return strtol(s, end, 10); }

TX int via_endptr(const char *path, const char *s, size_t n)
{
    (void)path; (void)s;
    char *end, tiny[4] = "";
    long v = parse("115", n > 6 ? (char **)(void *)&tiny[2] : &end);
    return (int)v + tiny[0];
}

typedef int (*tx_fn)(const char *, const char *, size_t);

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *path = argv[1];
    size_t far = (size_t)atoi(argv[2]);
    char *big = malloc(far + 1);
    memset(big, 'B', far);
    big[far] = '\0';
    volatile unsigned char canary[1024];
    memset((void *)canary, 0x5a, sizeof canary);

    static const struct {
        const char *name;
        tx_fn fn;
    } calls[] = {
        {"memcpy", with_memcpy},   {"memset", with_memset},   {"snprintf", with_snprintf},
        {"read", with_read},       {"fgets", with_fgets},     {"strcpy", with_strcpy},
        {"sprintf", with_sprintf}, {"pointer", via_pointer},  {"ptr-memcpy", via_memcpy},
        {"ptr-strcpy", via_strcpy}, {"ptr-snprintf", via_snprintf}, {"ptr-endptr", via_endptr},
    };
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        int in = calls[i].fn(path, "small", 6);
        int out = calls[i].fn(path, big, far);
        printf("%s in %d out %d\n", calls[i].name, in, out);
    }
    for (size_t k = 0; k < sizeof canary; k++)
        if (canary[k] != 0x5a) {
            printf("the host's stack changed\n");
            return 1;
        }
    printf("host stack intact\n");
    free(big);
    return 0;
}

// CHECK: memcpy in 115 out -2
// CHECK-NEXT: memset in 109 out -2
// CHECK-NEXT: snprintf in 115 out -2
// CHECK-NEXT: read in 47 out -2
// CHECK-NEXT: fgets in 47 out -2
// CHECK-NEXT: strcpy in 115 out -2
// CHECK-NEXT: sprintf in 115 out -2
// CHECK-NEXT: pointer in 113 out -2
// CHECK-NEXT: ptr-memcpy in 115 out -2
// CHECK-NEXT: ptr-strcpy in 115 out -2
// CHECK-NEXT: ptr-snprintf in 115 out -2
// CHECK-NEXT: ptr-endptr in 115 out -2
// CHECK-NEXT: host stack intact

// DRY: memcpy in 115 out 0
// DRY: ptr-endptr in 115 out 0
// DRY-NEXT: host stack intact

// TARGETS: "target":"buf at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:5"
// TARGETS-NEXT: "target":"buf at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:5"
// TARGETS-NEXT: "target":"buf at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:5"
// TARGETS-NEXT: "target":"buf at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:19"
// TARGETS-NEXT: "target":"line at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:17"
// TARGETS-NEXT: "target":"buf at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:5"
// TARGETS-NEXT: "target":"buf at {{.*}}run-inline-oob-lib.c:{{[0-9]+}}:5"
// TARGETS-NEXT: "target":"through a pointer, into the mirror's stack frames outside its locals"
// TARGETS-NEXT: "target":"through a pointer, into the mirror's stack frames outside its locals"
// TARGETS-NEXT: "target":"by a library call, past the end of the mirror's object"
// TARGETS-NEXT: "target":"by a library call, past the end of the mirror's object"
// TARGETS-NEXT: "target":"by a library call, past the end of the mirror's object"

// RECORDS: 24
// CRASHES: 12

// MODES: "transaction_id":"via_memcpy","function":"via_memcpy","mirror":"inline","mirror_reason":"auto: the mirror calls only shims and clones, and its stores outside its locals go to its write buffer"
// MODES: "transaction_id":"via_pointer","function":"via_pointer","mirror":"inline","mirror_reason":"auto: the mirror calls only shims and clones, and its stores outside its locals go to its write buffer"
// MODES: "transaction_id":"with_fgets","function":"with_fgets","mirror":"inline","mirror_reason":"auto: the mirror stores only into its locals and calls only shims and clones"
// MODES: "transaction_id":"with_strcpy","function":"with_strcpy","mirror":"inline","mirror_reason":"auto: the mirror stores only into its locals and calls only shims and clones"
