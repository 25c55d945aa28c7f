/*
** test_calls.c - runtime/calls.def against the headers it describes.
**
** Two checks a compiler cannot make, with libclang:
**   - every ptm_shim_* prototype of include/ptm_gen.h has a shim row, and
**     each of its parameters that is a pointer to (or array of) something
**     not const is in the row's written or unwritten column: a shim that
**     writes through an argument the inline proof does not know of would
**     let a "proved local" mirror write the host's memory;
**   - every function the glibc headers listed in calls.def declare, by its
**     name and by its link name, has a row: pure, shim, raw or fork.
** And what the rows must agree on among themselves: one row per name,
** routed and unwritten within what the shim may touch.
*/
#include <criterion/criterion.h>
#include <clang-c/Index.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rowKind { ROW_SHIM, ROW_PURE, ROW_RAW, ROW_FORK };

struct row {
    const char *name;
    enum rowKind kind;
    unsigned written, routed, unwritten;
};

static const struct row rows[] = {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered)        \
    {#name, ROW_SHIM, written, routed, unwritten},
#define PTM_PURE_CALL(name, family, written) {#name, ROW_PURE, written, 0, 0},
#define PTM_RAW_CALL(name, family, written) {#name, ROW_RAW, written, 0, 0},
#define PTM_FORK_CALL(name, family, written, why) {#name, ROW_FORK, written, 0, 0},
#include "calls.def"
};

#define N_ROWS (sizeof rows / sizeof rows[0])

static const struct row *rowOf(const char *name)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

/* The headers of calls.def's comment, with a reason each is there. */
static const char *const headers[] = {
    "string.h", "strings.h", "stdlib.h", "stdio.h", "ctype.h", "wctype.h",
    "errno.h", "unistd.h", "fcntl.h", "sys/stat.h", "time.h", "sys/time.h",
    "sys/socket.h", "netdb.h", "arpa/inet.h", "netinet/in.h", "poll.h",
    "dirent.h", "signal.h", "inttypes.h", "locale.h", "setjmp.h", "pthread.h",
};

/* A translation unit of text parsed with args; the test fails when it does
** not parse cleanly. */
static CXTranslationUnit parse(CXIndex ix, const char *text, const char *const *args, int nargs)
{
    struct CXUnsavedFile f = {"calls_probe.c", text, (unsigned long)strlen(text)};
    CXTranslationUnit tu = clang_parseTranslationUnit(ix, "calls_probe.c", args, nargs, &f, 1,
                                                      CXTranslationUnit_None);
    cr_assert_not_null(tu, "libclang parses the probe");
    for (unsigned i = 0; i < clang_getNumDiagnostics(tu); i++) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
        CXString s = clang_formatDiagnostic(d, clang_defaultDiagnosticDisplayOptions());
        cr_assert_lt(sev, CXDiagnostic_Error, "%s", clang_getCString(s));
        clang_disposeString(s);
        clang_disposeDiagnostic(d);
    }
    return tu;
}

/* The pointee of a parameter's type, pointer or array; invalid when it is
** neither. */
static CXType pointee(CXType t)
{
    t = clang_getCanonicalType(t);
    if (t.kind == CXType_Pointer)
        return clang_getPointeeType(t);
    if (t.kind == CXType_ConstantArray || t.kind == CXType_IncompleteArray)
        return clang_getArrayElementType(t);
    return (CXType){.kind = CXType_Invalid};
}

struct shimScan {
    int seen;
    char failures[4096];
};

static void fail(struct shimScan *s, const char *fmt, const char *a, unsigned i)
{
    size_t n = strlen(s->failures);
    snprintf(s->failures + n, sizeof s->failures - n, fmt, a, i);
}

static enum CXChildVisitResult shimVisit(CXCursor c, CXCursor parent, CXClientData data)
{
    struct shimScan *s = data;
    CXString sp;
    const char *name;
    const struct row *r;
    (void)parent;
    if (clang_getCursorKind(c) != CXCursor_FunctionDecl)
        return CXChildVisit_Continue;
    sp = clang_getCursorSpelling(c);
    name = clang_getCString(sp);
    if (strncmp(name, "ptm_shim_", 9) == 0) {
        s->seen++;
        r = rowOf(strcmp(name, "ptm_shim_validate") == 0 ? "ptm_validate" : name + 9);
        if (!r || r->kind != ROW_SHIM) {
            fail(s, "%s has no shim row%.0u\n", name, 0);
        } else {
            int n = clang_Cursor_getNumArguments(c);
            for (int i = 0; i < n && i < 32; i++) {
                CXType e = pointee(clang_getCursorType(clang_Cursor_getArgument(c, (unsigned)i)));
                if (e.kind == CXType_Invalid || clang_isConstQualifiedType(e))
                    continue;
                if (!((r->written | r->unwritten) & (1u << i)))
                    fail(s, "%s: argument %u is a pointer to writable memory, in neither "
                            "written nor unwritten\n", name, (unsigned)i);
            }
        }
    }
    clang_disposeString(sp);
    return CXChildVisit_Continue;
}

Test(calls, shim_pointers_are_written_or_unwritten)
{
    static const char text[] = "#include <stdio.h>\n#include <pthread.h>\n"
                               "#include <sys/socket.h>\n#include <ptm_gen.h>\n";
    const char *args[] = {"-std=gnu17", "-D_GNU_SOURCE", "-I" PTM_SOURCE_DIR "/runtime/include",
                          "-I" PTM_BINARY_DIR "/include"};
    CXIndex ix = clang_createIndex(0, 0);
    CXTranslationUnit tu = parse(ix, text, args, 4);
    struct shimScan s = {0};
    size_t shims = 0;

    clang_visitChildren(clang_getTranslationUnitCursor(tu), shimVisit, &s);
    cr_expect_str_empty(s.failures, "%s", s.failures);
    for (size_t i = 0; i < N_ROWS; i++)
        shims += rows[i].kind == ROW_SHIM;
    /* Under _GNU_SOURCE every shim's prototype is visible. */
    cr_expect_eq((size_t)s.seen, shims, "%d ptm_shim_* prototypes, %zu shim rows", s.seen,
                 shims);
    clang_disposeTranslationUnit(tu);
    clang_disposeIndex(ix);
}

struct declScan {
    int seen;
    char missing[8192];
};

static void missing(struct declScan *s, const char *name)
{
    size_t n = strlen(s->missing);
    snprintf(s->missing + n, sizeof s->missing - n, " %s", name);
}

/* Functions declared in a system header: those of the listed headers and
** of the bits/ headers they include. */
static enum CXChildVisitResult declVisit(CXCursor c, CXCursor parent, CXClientData data)
{
    struct declScan *s = data;
    CXString sp, mangled;
    (void)parent;
    if (clang_getCursorKind(c) != CXCursor_FunctionDecl ||
        !clang_Location_isInSystemHeader(clang_getCursorLocation(c)))
        return CXChildVisit_Continue;
    s->seen++;
    sp = clang_getCursorSpelling(c);
    mangled = clang_Cursor_getMangling(c);
    if (!rowOf(clang_getCString(sp)))
        missing(s, clang_getCString(sp));
    if (*clang_getCString(mangled) && !rowOf(clang_getCString(mangled)))
        missing(s, clang_getCString(mangled));
    clang_disposeString(mangled);
    clang_disposeString(sp);
    return CXChildVisit_Continue;
}

static void scanHeaders(const char *const *args, int nargs)
{
    char text[2048] = "";
    CXIndex ix = clang_createIndex(0, 0);
    CXTranslationUnit tu;
    struct declScan s = {0};

    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "#include <%s>\n", headers[i]);
    }
    tu = parse(ix, text, args, nargs);
    clang_visitChildren(clang_getTranslationUnitCursor(tu), declVisit, &s);
    cr_expect_gt(s.seen, 500, "the headers declare functions (%d)", s.seen);
    cr_expect_str_empty(s.missing, "functions with no row in calls.def:%s", s.missing);
    clang_disposeTranslationUnit(tu);
    clang_disposeIndex(ix);
}

Test(calls, every_glibc_function_has_a_row)
{
    const char *gnu[] = {"-std=gnu17", "-D_GNU_SOURCE"};
    const char *fortify[] = {"-std=gnu17", "-D_GNU_SOURCE", "-D_FILE_OFFSET_BITS=64", "-O2",
                             "-D_FORTIFY_SOURCE=2"};
    const char *c23[] = {"-std=gnu2x", "-O2", "-D_FORTIFY_SOURCE=3"};
    scanHeaders(gnu, 2);
    scanHeaders(fortify, 5);
    scanHeaders(c23, 3);
}

/* The prototypes ptm_gen.h takes from the catalog, each a shim's. */
static const char *const protos[] = {
#define PTM_SHIM_PROTO(name, ret, params) #name,
#include "calls.def"
    NULL,
};

Test(calls, prototype_rows_are_shims)
{
    for (size_t i = 0; protos[i]; i++) {
        const struct row *r = rowOf(protos[i]);
        cr_expect(r && r->kind == ROW_SHIM, "PTM_SHIM_PROTO(%s) without its shim row", protos[i]);
    }
}

Test(calls, one_row_per_name)
{
    for (size_t i = 0; i < N_ROWS; i++)
        for (size_t j = i + 1; j < N_ROWS; j++)
            cr_assert_str_neq(rows[i].name, rows[j].name, "%s has two rows", rows[i].name);
}

Test(calls, routed_arguments_are_written)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        cr_expect_eq(rows[i].routed & ~rows[i].written, 0u,
                     "%s: a shim fills only what the call writes", rows[i].name);
        cr_expect_eq(rows[i].unwritten & rows[i].written, 0u,
                     "%s: written and unwritten at once", rows[i].name);
    }
}

/* The calls the issue names as write-class, each with its written
** arguments: a row that forgets one is the hole this catalog closes. */
Test(calls, write_class_calls_list_their_arguments)
{
    static const struct {
        const char *name;
        unsigned written;
    } want[] = {
        {"sendfile", 1u << 2},   {"inet_pton", 1u << 2},   {"inet_ntop", 1u << 2},
        {"getsockopt", 1u << 3 | 1u << 4}, {"recvmmsg", ~0u}, {"ptm_stats_get", 1u << 0},
        {"read", 1u << 1},       {"memcpy", 1u << 0},      {"strtol", 1u << 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct row *r = rowOf(want[i].name);
        cr_assert_not_null(r, "%s has a row", want[i].name);
        cr_expect_eq(r->written & want[i].written, want[i].written, "%s writes %#x",
                     want[i].name, want[i].written);
    }
    cr_expect_eq(rowOf("inet_pton")->kind, ROW_PURE);
    cr_expect_eq(rowOf("ntohl")->kind, ROW_PURE);
    cr_expect_eq(rowOf("sendfile")->kind, ROW_RAW);
}
