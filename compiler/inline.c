/*
** inline.c - what the inline executor needs from ptmcc.
**
** 1. A proof, per function of a mirror's tree, that its stores stay in its
**    own locals: then the mirror can run on the host's thread, in the
**    host's memory, without a write reaching anything the host can see.
**    A store is local when its target is an automatic variable of the
**    function (not static, not extern) or a member or element of one,
**    reached without going through a pointer.  Library calls that write
**    memory through their arguments (memcpy, snprintf, fgets, sscanf ...)
**    must be handed such local objects (a local array, &local).  The first
**    store that is not local is the blocker, named in the trace and in the
**    error for `mirror = inline`.  Calls are judged elsewhere (front.c): a
**    call that may write is either a clone (proved on its own), a shim, or
**    an unknown external (which needs the fork executor anyway).
**
** 2. Cancellation points: offsets in the body where the clone polls
**    ptm_mirror_cancel (function entry, every loop iteration, every label,
**    since a label can be the target of a backward goto), so that the
**    watchdog can stop an endless loop at a point where no lock is held.
**
** Both are conservative: a mirror that passes a pointer to its local into
** a clone, which stores through it, is refused (the clone's store goes
** through a pointer).  Such mirrors run in the fork executor.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* Library functions that write memory through pointer arguments: which
** arguments (bit i = argument i; ALL_FROM(n) = argument n and after). */
#define ARG(i) (1u << (i))
#define ALL_FROM(n) (~0u << (n))

static const struct {
    const char *name;
    unsigned written;
} writers[] = {
    {"memcpy", ARG(0)},    {"memmove", ARG(0)},   {"memset", ARG(0)},
    {"mempcpy", ARG(0)},   {"bzero", ARG(0)},     {"explicit_bzero", ARG(0)},
    {"strcpy", ARG(0)},    {"strncpy", ARG(0)},   {"stpcpy", ARG(0)},
    {"stpncpy", ARG(0)},   {"strcat", ARG(0)},    {"strncat", ARG(0)},
    {"strlcpy", ARG(0)},   {"strlcat", ARG(0)},   {"sprintf", ARG(0)},
    {"snprintf", ARG(0)},  {"vsprintf", ARG(0)},  {"vsnprintf", ARG(0)},
    {"sscanf", ALL_FROM(2)}, {"fscanf", ALL_FROM(2)}, {"scanf", ALL_FROM(1)},
    {"fgets", ARG(0)},     {"fread", ARG(0)},     {"read", ARG(1)},
    {"pread", ARG(1)},     {"recv", ARG(1)},      {"recvfrom", ARG(1) | ARG(4) | ARG(5)},
    {"strtol", ARG(1)},    {"strtoul", ARG(1)},   {"strtoll", ARG(1)},
    {"strtoull", ARG(1)},  {"strtod", ARG(1)},    {"strtof", ARG(1)},
    {"strtold", ARG(1)},   {"strtok_r", ARG(0) | ARG(2)}, {"time", ARG(0)},
    {"localtime_r", ARG(1)}, {"gmtime_r", ARG(1)}, {"strftime", ARG(0)},
    {"clock_gettime", ARG(1)}, {"gettimeofday", ARG(0) | ARG(1)},
    {"qsort", ARG(0)},     {"stat", ARG(1)},      {"fstat", ARG(1)},
    {"lstat", ARG(1)},     {"getline", ARG(0) | ARG(1)},
    /* The same under _FORTIFY_SOURCE, as clang and glibc spell them. */
    {"__builtin_memcpy", ARG(0)},          {"__builtin_memmove", ARG(0)},
    {"__builtin_memset", ARG(0)},          {"__builtin___memcpy_chk", ARG(0)},
    {"__builtin___memmove_chk", ARG(0)},   {"__builtin___memset_chk", ARG(0)},
    {"__builtin___mempcpy_chk", ARG(0)},   {"__builtin___strcpy_chk", ARG(0)},
    {"__builtin___stpcpy_chk", ARG(0)},    {"__builtin___strncpy_chk", ARG(0)},
    {"__builtin___stpncpy_chk", ARG(0)},   {"__builtin___strcat_chk", ARG(0)},
    {"__builtin___strncat_chk", ARG(0)},   {"__builtin___sprintf_chk", ARG(0)},
    {"__builtin___snprintf_chk", ARG(0)},  {"__builtin___vsprintf_chk", ARG(0)},
    {"__builtin___vsnprintf_chk", ARG(0)}, {"__read_chk", ARG(1)},
    {"__pread_chk", ARG(1)},               {"__fgets_chk", ARG(0)},
    {"__fread_chk", ARG(0)},               {"__recv_chk", ARG(1)},
    {"__recvfrom_chk", ARG(1) | ARG(5) | ARG(6)},
    {"strerror_r", ARG(1)}, {"strxfrm", ARG(0)}, {"posix_memalign", ARG(0)},
    {"strtoimax", ARG(1)}, {"strtoumax", ARG(1)}, {"__isoc23_strtol", ARG(1)},
    {"__isoc23_strtoll", ARG(1)}, {"__isoc23_strtoul", ARG(1)},
    {"__isoc23_strtoull", ARG(1)}, {"__isoc99_sscanf", ALL_FROM(2)},
    {"__isoc23_sscanf", ALL_FROM(2)},
    /* Writers into state of their own, or through what they cannot show
    ** (a va_list, the string strsep walks), or that release memory the
    ** host may own: refused. */
    {"strtok", ~0u},       {"setlocale", ~0u},    {"srand", ~0u},
    {"rand", ~0u},         {"putenv", ~0u},       {"setenv", ~0u},
    {"strsep", ~0u},       {"vsscanf", ~0u},      {"free", ~0u},
    {"realloc", ~0u},      {"reallocarray", ~0u},
};

typedef struct Proof {
    InlineFacts *out;
    SrcFile *file;
    CXCursor fn;
} Proof;

static char *spelling(CXCursor c)
{
    CXString s = clang_getCursorSpelling(c);
    char *r = xstrdup(clang_getCString(s) ? clang_getCString(s) : "");
    clang_disposeString(s);
    return r;
}

/* where: the expansion offset of a cursor in the function's file. */
static size_t where(CXCursor c)
{
    unsigned off;
    clang_getExpansionLocation(clang_getCursorLocation(c), NULL, NULL, NULL, &off);
    return off;
}

/* block: records the first reason the function is not proved, as
** "<what> at file:line:col". */
static void block(Proof *p, CXCursor at, const char *fmt, ...) PTMCC_PRINTF(3, 4);
static void block(Proof *p, CXCursor at, const char *fmt, ...)
{
    if (p->out->blocker)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *what = NULL;
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    unsigned line, col;
    src_line_col((SrcLoc){p->file, where(at)}, &line, &col);
    p->out->blocker = format("%s at %s:%u:%u", what ? what : "?", p->file->path, line, col);
    p->out->blocker_off = where(at);
    free(what);
}

/* children: the first n children of c (unexposed wrappers included). */
typedef struct Kids {
    CXCursor c[4];
    int n;
} Kids;

static enum CXChildVisitResult collect(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Kids *k = data;
    if (k->n < 4)
        k->c[k->n] = c;
    k->n++;
    return CXChildVisit_Continue;
}

static Kids kids_of(CXCursor c)
{
    Kids k = {.n = 0};
    clang_visitChildren(c, collect, &k);
    return k;
}

/* strip: looks through parentheses and implicit casts. */
static CXCursor strip(CXCursor c)
{
    for (int i = 0; i < 64; i++) {
        enum CXCursorKind k = clang_getCursorKind(c);
        if (k != CXCursor_ParenExpr && k != CXCursor_UnexposedExpr && k != CXCursor_CStyleCastExpr)
            return c;
        Kids ks = kids_of(c);
        if (ks.n < 1)
            return c;
        c = ks.c[ks.n > 4 ? 3 : ks.n - 1];
    }
    return c;
}

/* is_own_local: whether a declaration is an automatic variable of the
** function being proved (a parameter counts: its value is the frame's). */
static bool is_own_local(CXCursor decl)
{
    enum CXCursorKind k = clang_getCursorKind(decl);
    if (k == CXCursor_ParmDecl)
        return true;
    if (k != CXCursor_VarDecl)
        return false;
    enum CX_StorageClass sc = clang_Cursor_getStorageClass(decl);
    if (sc == CX_SC_Static || sc == CX_SC_Extern)
        return false;
    CXCursor parent = clang_getCursorSemanticParent(decl);
    return clang_getCursorKind(parent) == CXCursor_FunctionDecl;
}

static bool is_pointer_type(CXType t)
{
    CXType c = clang_getCanonicalType(t);
    return c.kind == CXType_Pointer || c.kind == CXType_BlockPointer;
}

/* is_array_object: whether e is an array object (not a pointer).  A
** parameter declared as an array is a pointer (C adjusts it), though
** libclang reports the type as written. */
static bool is_array_object(CXCursor e)
{
    e = strip(e);
    if (clang_getCursorKind(e) == CXCursor_DeclRefExpr &&
        clang_getCursorKind(clang_getCursorReferenced(e)) == CXCursor_ParmDecl)
        return false;
    CXType t = clang_getCanonicalType(clang_getCursorType(e));
    return t.kind == CXType_ConstantArray || t.kind == CXType_IncompleteArray ||
           t.kind == CXType_VariableArray;
}

/* is_local_object: whether an lvalue names (part of) one of the function's
** own locals without going through a pointer: x, x.f, x[i] with x an
** array, (x), and those nested. */
static bool is_local_object(CXCursor e)
{
    e = strip(e);
    switch (clang_getCursorKind(e)) {
    case CXCursor_DeclRefExpr:
        return is_own_local(clang_getCursorReferenced(e));
    case CXCursor_MemberRefExpr: {
        Kids k = kids_of(e);
        if (k.n < 1)
            return false;
        /* base->f goes through a pointer; base.f does not */
        CXCursor base = strip(k.c[0]);
        return !is_pointer_type(clang_getCursorType(base)) && is_local_object(base);
    }
    case CXCursor_ArraySubscriptExpr: {
        Kids k = kids_of(e);
        if (k.n < 2)
            return false;
        CXCursor base = strip(k.c[0]);
        return is_array_object(base) && is_local_object(base);
    }
    default:
        return false;
    }
}

/* is_null_constant: a null pointer constant (NULL, 0, (void *)0): the
** library writes nothing through it (time(NULL), strtol(s, NULL, 10)). */
static bool is_null_constant(CXCursor e)
{
    /* (void *)0 evaluates as a pointer, which libclang does not report:
    ** look at the integer under the casts. */
    e = strip(e);
    if (clang_getCursorKind(e) == CXCursor_GNUNullExpr)
        return true;
    if (clang_getCursorKind(e) != CXCursor_IntegerLiteral)
        return false;
    CXEvalResult r = clang_Cursor_Evaluate(e);
    if (!r)
        return false;
    bool null = clang_EvalResult_getKind(r) == CXEval_Int &&
                clang_EvalResult_getAsLongLong(r) == 0;
    clang_EvalResult_dispose(r);
    return null;
}

/* is_local_address: an argument a library call may write through: a local
** array (decayed), &local_object, or a null pointer. */
static bool is_local_address(CXCursor e)
{
    if (is_null_constant(e))
        return true;
    e = strip(e);
    if (clang_getCursorKind(e) == CXCursor_UnaryOperator) {
        CXString op = clang_getUnaryOperatorKindSpelling(clang_getCursorUnaryOperatorKind(e));
        bool addr = strcmp(clang_getCString(op), "&") == 0;
        clang_disposeString(op);
        Kids k = kids_of(e);
        return addr && k.n >= 1 && is_local_object(k.c[0]);
    }
    return is_array_object(e) && is_local_object(e);
}

/* is_errno: errno, that is (*__errno_location()): thread-local, and the
** inline executor restores it after the mirror. */
static bool is_errno(CXCursor e)
{
    e = strip(e);
    if (clang_getCursorKind(e) != CXCursor_UnaryOperator)
        return false;
    Kids k = kids_of(e);
    if (k.n < 1)
        return false;
    CXCursor call = strip(k.c[0]);
    if (clang_getCursorKind(call) != CXCursor_CallExpr)
        return false;
    char *name = spelling(clang_getCursorReferenced(call));
    bool yes = strcmp(name, "__errno_location") == 0;
    free(name);
    return yes;
}

static void prove_assignment(Proof *p, CXCursor c)
{
    Kids k = kids_of(c);
    if (k.n >= 1 && !is_local_object(k.c[0]) && !is_errno(k.c[0]))
        block(p, c, "stores outside its locals");
}

static bool is_increment(CXCursor c)
{
    CXString op = clang_getUnaryOperatorKindSpelling(clang_getCursorUnaryOperatorKind(c));
    const char *s = clang_getCString(op);
    bool inc = strcmp(s, "++") == 0 || strcmp(s, "--") == 0;
    clang_disposeString(op);
    return inc;
}

/* prove_call: a library call that writes through its arguments must be
** given local objects. */
static void prove_call(Proof *p, CXCursor call)
{
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl)
        return; /* through a pointer: front.c refuses those */
    char *name = spelling(callee);
    /* Atomic builtins store through their first argument. */
    if ((strncmp(name, "__atomic_", 9) == 0 || strncmp(name, "__sync_", 7) == 0 ||
         strncmp(name, "__c11_atomic_", 13) == 0) &&
        strstr(name, "load") == NULL && clang_Cursor_getNumArguments(call) > 0 &&
        !is_local_address(clang_Cursor_getArgument(call, 0)))
        block(p, call, "%s writes outside its locals", name);
    for (size_t i = 0; i < sizeof writers / sizeof *writers; i++) {
        if (strcmp(writers[i].name, name) != 0)
            continue;
        int n = clang_Cursor_getNumArguments(call);
        if (writers[i].written == ~0u)
            block(p, call, "calls %s, which changes library state", name);
        for (int a = 0; a < n && a < 32; a++)
            if ((writers[i].written & (1u << a)) &&
                !is_local_address(clang_Cursor_getArgument(call, (unsigned)a)))
                block(p, call, "%s writes outside its locals", name);
    }
    free(name);
}

/* prove_atomic: C11 and GNU atomic operations are AtomicExprs, which
** libclang shows only as unexposed expressions: recognised by how they are
** written at the node (atomic_fetch_add(...), __atomic_store_n(...),
** through stdatomic.h's macros too), they must work on a local object. */
static void prove_atomic(Proof *p, CXCursor c)
{
    unsigned off;
    CXFile file;
    clang_getExpansionLocation(clang_getCursorLocation(c), &file, NULL, NULL, &off);
    const char *t = p->file->text;
    if (off >= p->file->len)
        return;
    size_t n = 0;
    while (off + n < p->file->len && (t[off + n] == '_' || (t[off + n] >= 'a' && t[off + n] <= 'z') ||
                                      (t[off + n] >= '0' && t[off + n] <= '9')))
        n++;
    size_t after = off + n;
    while (after < p->file->len && (t[after] == ' ' || t[after] == '\t'))
        after++;
    if (after >= p->file->len || t[after] != '(')
        return;
    char *word = xstrndup(t + off, n);
    bool atomic = strncmp(word, "atomic_", 7) == 0 || strncmp(word, "__atomic_", 9) == 0 ||
                  strncmp(word, "__c11_atomic_", 13) == 0;
    if (atomic && !strstr(word, "load") && !strstr(word, "is_lock_free") &&
        !strstr(word, "thread_fence") && !strstr(word, "signal_fence") &&
        !strstr(word, "init")) {
        Kids k = kids_of(c);
        if (k.n < 1 || !is_local_address(k.c[0]))
            block(p, c, "%s writes outside its locals", word);
    }
    free(word);
}

static enum CXChildVisitResult prove_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Proof *p = data;
    switch (clang_getCursorKind(c)) {
    case CXCursor_UnexposedExpr:
        prove_atomic(p, c);
        break;
    case CXCursor_BinaryOperator: {
        CXString op = clang_getBinaryOperatorKindSpelling(clang_getCursorBinaryOperatorKind(c));
        bool assign = strcmp(clang_getCString(op), "=") == 0;
        clang_disposeString(op);
        if (assign)
            prove_assignment(p, c);
        break;
    }
    case CXCursor_CompoundAssignOperator:
        prove_assignment(p, c);
        break;
    case CXCursor_UnaryOperator:
        if (is_increment(c)) {
            Kids k = kids_of(c);
            if (k.n >= 1 && !is_local_object(k.c[0]) && !is_errno(k.c[0]))
                block(p, c, "stores outside its locals");
        }
        break;
    case CXCursor_CallExpr:
        prove_call(p, c);
        break;
    case CXCursor_GCCAsmStmt:
    case CXCursor_MSAsmStmt:
        block(p, c, "uses inline assembly");
        break;
    case CXCursor_VarDecl:
        if (clang_Cursor_getStorageClass(c) == CX_SC_Static)
            block(p, c, "has a static variable");
        break;
    default:
        break;
    }
    return p->out->blocker ? CXChildVisit_Break : CXChildVisit_Recurse;
}

/* ------------------------------------------------------------------------
** Cancellation points
*/
static void add_poll(InlineFacts *f, size_t off, bool wrap, size_t wrap_end)
{
    f->polls = xrealloc(f->polls, sizeof *f->polls * (size_t)(f->npolls + 1));
    f->polls[f->npolls++] = (Poll){off, wrap, wrap_end};
}

/* poll_body: the statement a loop repeats gets a poll at its start; one
** without braces is wrapped in them. */
typedef struct PollScan {
    InlineFacts *f;
    SrcFile *file;
} PollScan;

/* statement_end: where a statement that ends at e really ends: clang's
** extents leave out the ';' of an expression, return, break ... */
static size_t statement_end(const SrcFile *file, size_t e)
{
    size_t i = e;
    while (i < file->len && (file->text[i] == ' ' || file->text[i] == '\t' ||
                             file->text[i] == '\n' || file->text[i] == '\r'))
        i++;
    return i < file->len && file->text[i] == ';' ? i + 1 : e;
}

static void poll_body(PollScan *ps, CXCursor body)
{
    InlineFacts *f = ps->f;
    CXSourceRange r = clang_getCursorExtent(body);
    unsigned s, e, ss, se;
    CXFile fs, fe;
    clang_getExpansionLocation(clang_getRangeStart(r), &fs, NULL, NULL, &s);
    clang_getExpansionLocation(clang_getRangeEnd(r), &fe, NULL, NULL, &e);
    clang_getSpellingLocation(clang_getRangeStart(r), NULL, NULL, NULL, &ss);
    clang_getSpellingLocation(clang_getRangeEnd(r), NULL, NULL, NULL, &se);
    /* A loop written by a macro cannot be edited in place (the watchdog's
    ** signal still stops it), nor can a declaration be wrapped in braces. */
    if (ss != s || se != e || !clang_File_isEqual(fs, fe) ||
        clang_getCursorKind(body) == CXCursor_DeclStmt)
        return;
    if (clang_getCursorKind(body) == CXCursor_CompoundStmt)
        add_poll(f, s + 1, false, 0);
    else
        add_poll(f, s, true, statement_end(ps->file, e));
}

static enum CXChildVisitResult poll_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    PollScan *ps = data;
    switch (clang_getCursorKind(c)) {
    case CXCursor_ForStmt:
    case CXCursor_WhileStmt:
    case CXCursor_DoStmt: {
        /* The body is the last child of for and while, the first of do. */
        Kids k = kids_of(c);
        if (k.n >= 1 && k.n <= 4)
            poll_body(ps, clang_getCursorKind(c) == CXCursor_DoStmt ? k.c[0] : k.c[k.n - 1]);
        break;
    }
    case CXCursor_LabelStmt: {
        Kids k = kids_of(c);
        if (k.n >= 1)
            poll_body(ps, k.c[0]);
        break;
    }
    default:
        break;
    }
    return CXChildVisit_Recurse;
}

void inline_facts(CXCursor fn, CXCursor body, SrcFile *file, InlineFacts *out)
{
    Proof p = {out, file, fn};
    out->blocker = NULL;
    clang_visitChildren(body, prove_visit, &p);
    out->local_stores_only = out->blocker == NULL;

    unsigned open;
    clang_getExpansionLocation(clang_getRangeStart(clang_getCursorExtent(body)), NULL, NULL,
                               NULL, &open);
    add_poll(out, open + 1, false, 0); /* function entry */
    PollScan ps = {out, file};
    clang_visitChildren(body, poll_visit, &ps);
}

void inline_facts_free(InlineFacts *f)
{
    free(f->blocker);
    free(f->polls);
    *f = (InlineFacts){0};
}
