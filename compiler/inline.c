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
**    an unknown external (which needs the fork executor anyway).  An index
**    or a length that would leave the local is checked at run time (see
**    "Stores into local arrays").
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
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

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

/* reason_at: "<what> at file:line:col", what formatted from fmt and ap,
** at cursor at of file.  Owned by the caller. */
static char *reason_at(SrcFile *file, CXCursor at, const char *fmt, va_list ap)
    PTMCC_PRINTF(3, 0);
static char *reason_at(SrcFile *file, CXCursor at, const char *fmt, va_list ap)
{
    char *what = NULL;
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    unsigned line, col;
    src_line_col((SrcLoc){file, where(at)}, &line, &col);
    char *why = format("%s at %s:%u:%u", what ? what : "?", file->path, line, col);
    free(what);
    return why;
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
    p->out->blocker = reason_at(p->file, at, fmt, ap);
    va_end(ap);
    p->out->blocker_off = where(at);
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

/* strip_parens: looks through parentheses. */
static CXCursor strip_parens(CXCursor c)
{
    for (int i = 0; i < 64 && clang_getCursorKind(c) == CXCursor_ParenExpr; i++) {
        Kids ks = kids_of(c);
        if (ks.n != 1)
            return c;
        c = ks.c[0];
    }
    return c;
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
    unsigned written = call_written(name);
    if (written) {
        int n = clang_Cursor_getNumArguments(call);
        if (written == CALL_WRITES_STATE)
            block(p, call, "calls %s, which changes library state", name);
        for (int a = 0; a < n && a < 32; a++)
            if ((written & (1u << a)) &&
                !is_local_address(clang_Cursor_getArgument(call, (unsigned)a)))
                block(p, call, "%s writes outside its locals", name);
    }
    free(name);
}

/* atomic_writer: C11 and GNU atomic operations are AtomicExprs, which
** libclang shows only as unexposed expressions: recognised by how they are
** written at the node (atomic_fetch_add(...), __atomic_store_n(...),
** through stdatomic.h's macros too).  Returns the operation's name when c
** is one that writes, and not to a local object (malloc'd), else NULL. */
static char *atomic_writer(const SrcFile *file, CXCursor c)
{
    unsigned off;
    CXFile cf;
    clang_getExpansionLocation(clang_getCursorLocation(c), &cf, NULL, NULL, &off);
    const char *t = file->text;
    if (off >= file->len)
        return NULL;
    size_t n = 0;
    while (off + n < file->len && (t[off + n] == '_' || (t[off + n] >= 'a' && t[off + n] <= 'z') ||
                                   (t[off + n] >= '0' && t[off + n] <= '9')))
        n++;
    size_t after = off + n;
    while (after < file->len && (t[after] == ' ' || t[after] == '\t'))
        after++;
    if (after >= file->len || t[after] != '(')
        return NULL;
    char *word = xstrndup(t + off, n);
    bool atomic = strncmp(word, "atomic_", 7) == 0 || strncmp(word, "__atomic_", 9) == 0 ||
                  strncmp(word, "__c11_atomic_", 13) == 0;
    if (atomic && !strstr(word, "load") && !strstr(word, "is_lock_free") &&
        !strstr(word, "thread_fence") && !strstr(word, "signal_fence") &&
        !strstr(word, "init")) {
        Kids k = kids_of(c);
        if (k.n < 1 || !is_local_address(k.c[0]))
            return word;
    }
    free(word);
    return NULL;
}

static void prove_atomic(Proof *p, CXCursor c)
{
    char *word = atomic_writer(p->file, c);
    if (word)
        block(p, c, "%s writes outside its locals", word);
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

/* ------------------------------------------------------------------------
** The write buffer
**
** A function whose stores are not all local is instrumented instead: each
** access to memory that is not one of its own locals goes through the
** write buffer of ptm_gen.h.  With A a fresh name:
**
**   a read of E      (*({ __auto_type A = &(E); (__typeof__(A))ptm_redo_ld(A, sizeof *A); }))
**   E = V            ({ __auto_type A = &(E); __typeof__(*A) v = (V);
**                       *(__typeof__(A))ptm_redo_st(A, sizeof *A) = v; })
**   E op= V          ({ __auto_type A = &(E); __auto_type v = +(V);
**                       *(__typeof__(A))ptm_redo_st(A, sizeof *A) op= v; })
**   E++, ++E         ({ __auto_type A = &(E); (*(__typeof__(A))ptm_redo_st(A, sizeof *A))++; })
**   a bit-field      its whole struct is translated: ptr->bits, (*S).bits
**   a library call   an array it writes into (snprintf(acct->name, ...)) is
**   writing          translated whole for writing; a pointer it writes
**                    through is checked by ptm_redo_own: an inline mirror
**                    stops there when it does not own the memory (a fork
**                    runs it instead)
**   a library call   an array it reads is translated whole for reading
**   reading          (printf("%s", acct->name))
**
** each inside __extension__ and parentheses.  Every rewrite inserts text
** around the source's own tokens (or replaces an operator token), so E is
** spelled once and evaluated once, and nested accesses (g->next->v) nest.
** The value of V is computed before the store is translated: a call in V
** may itself write the buffer.  A store whose operator is in a macro's
** body and whose E is the macro's argument (#define BUMP(x) ((x) += 1))
** rewrites E, in the argument, into the buffer's copy of the object.
** Accesses the body names itself (#define RESET() (g = 0)) cannot be
** edited: they, inline assembly, atomics on shared memory and library
** calls that change library state (rand, strtok, setenv) leave the
** function uninstrumentable (redo_blocker), and its mirrors run in a fork.
*/

typedef enum Use {
    USE_VALUE, /* its value is read: an lvalue here is loaded */
    USE_PLACE, /* the object is designated (&E, E.f, E[i] of an array): no load */
    USE_NONE   /* not evaluated (sizeof, _Alignof) */
} Use;

/* A span already rewritten: a macro argument expanded twice is one text. */
typedef struct Done {
    size_t start, end;
    const char *kind;
} Done;

typedef struct Redo {
    InlineFacts *out;
    SrcFile *file;
    CXFile cxfile;
    const Callees *callees;
    int seq;
    bool from_macro; /* the last span was a macro argument's */
    enum CXCursorKind parent; /* of the cursor walk_child is visiting */
    Done *done;
    int ndone;
    size_t lo, hi; /* the function body's text: where edits can go */
} Redo;

static void redo_block(Redo *r, CXCursor at, const char *what)
{
    if (r->out->redo_blocker)
        return;
    unsigned line, col;
    src_line_col((SrcLoc){r->file, where(at)}, &line, &col);
    r->out->redo_blocker = format("%s at %s:%u:%u", what, r->file->path, line, col);
    r->out->redo_blocker_off = where(at);
}

static void redo_add(Redo *r, size_t off, size_t len, int order, char *text)
{
    InlineFacts *f = r->out;
    f->redo = xrealloc(f->redo, sizeof *f->redo * (size_t)(f->nredo + 1));
    f->redo[f->nredo++] = (RedoEdit){off, len, order, text};
}

/* skip_space: past blanks and comments from i. */
static size_t skip_space(const SrcFile *file, size_t i, size_t end)
{
    const char *t = file->text;
    while (i < end) {
        if (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r' || t[i] == '\f' ||
            t[i] == '\v' || (t[i] == '\\' && i + 1 < end && t[i + 1] == '\n')) {
            i++;
        } else if (t[i] == '/' && i + 1 < end && t[i + 1] == '*') {
            const char *close = strstr(t + i + 2, "*/");
            i = close ? (size_t)(close - t) + 2 : end;
        } else if (t[i] == '/' && i + 1 < end && t[i + 1] == '/') {
            while (i < end && t[i] != '\n')
                i++;
        } else {
            break;
        }
    }
    return i;
}

/* balanced: whether text[from, to) is one macro argument's worth: its
** brackets balanced, no comma outside them, no literal left open. */
static bool balanced(const SrcFile *file, size_t from, size_t to)
{
    const char *t = file->text;
    int depth = 0;
    for (size_t i = from; i < to; i++) {
        if (t[i] == '"' || t[i] == '\'') {
            i = skip_literal(t, i, to) - 1;
            if (i >= to)
                return false;
        } else if (t[i] == '(' || t[i] == '[' || t[i] == '{') {
            depth++;
        } else if (t[i] == ')' || t[i] == ']' || t[i] == '}') {
            if (--depth < 0)
                return false;
        } else if (t[i] == ',' && depth == 0) {
            return false;
        }
    }
    return depth == 0;
}

/* invocation_end: the end (past its ')') of the function-like macro
** invocation whose name is at off; 0 when there is none. */
static size_t invocation_end(const SrcFile *file, size_t off)
{
    const char *t = file->text;
    size_t i = off;
    while (i < file->len && (t[i] == '_' || (t[i] >= 'a' && t[i] <= 'z') ||
                             (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9')))
        i++;
    i = skip_space(file, i, file->len);
    if (i == off || i >= file->len || t[i] != '(')
        return 0;
    int depth = 0;
    for (; i < file->len; i++) {
        if (t[i] == '"' || t[i] == '\'')
            i = skip_literal(t, i, file->len) - 1;
        else if (t[i] == '(')
            depth++;
        else if (t[i] == ')' && --depth == 0)
            return i + 1;
    }
    return 0;
}

/* span: the offsets of c's text in the function's file, when c is written
** there as it is compiled: in plain code, or whole inside one argument of
** a macro invocation (assert(acct->balance >= 0)), whose text the
** expansion copies.  False otherwise (c comes from a macro's body). */
/* macro_body: the body of the #define whose text holds off, in text:
** [*body, *body_end), and the macro's name and whether it takes
** arguments.  False when off is not in a #define's body. */
static bool macro_body(const char *text, size_t len, size_t off, size_t *body,
                       size_t *body_end, char **name, bool *function_like)
{
    size_t line = off;
    for (;;) { /* back to the first line of a continued #define */
        while (line > 0 && text[line - 1] != '\n')
            line--;
        if (line >= 2 && text[line - 2] == '\\')
            line--;
        else
            break;
    }
    size_t i = line;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i >= len || text[i] != '#')
        return false;
    i++;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (len - i < 7 || strncmp(text + i, "define", 6) != 0 ||
        (text[i + 6] != ' ' && text[i + 6] != '\t'))
        return false;
    i += 6;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    size_t n0 = i;
    while (i < len && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z') ||
                       (text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '0' && text[i] <= '9')))
        i++;
    if (i == n0)
        return false;
    *name = xstrndup(text + n0, i - n0);
    *function_like = i < len && text[i] == '(';
    if (*function_like) {
        while (i < len && text[i] != ')')
            i++;
        i++;
    }
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    *body = i;
    while (i < len && !(text[i] == '\n' && text[i - 1] != '\\'))
        i++;
    while (i > *body && (text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\r'))
        i--;
    *body_end = i;
    return true;
}

/* closes: the index of the ')' that closes the '(' at text[open], or 0. */
static size_t closes(const char *text, size_t open, size_t end)
{
    int depth = 0;
    for (size_t i = open; i < end; i++) {
        if (text[i] == '"' || text[i] == '\'')
            i = skip_literal(text, i, end) - 1;
        else if (text[i] == '(')
            depth++;
        else if (text[i] == ')' && --depth == 0)
            return i;
    }
    return 0;
}

/* opens: the index of the '[' that the ']' at text[close] closes, or 0. */
static size_t opens(const char *text, size_t from, size_t close)
{
    int depth = 0;
    for (size_t i = close + 1; i-- > from;) {
        if (text[i] == ']')
            depth++;
        else if (text[i] == '[' && --depth == 0)
            return i;
    }
    return 0;
}

/* covers_body: whether c, which starts where a macro's body does, is the
** whole body: a body in one pair of parentheses ((p)[0]) has no other
** expression starting there; a designator (stats.n, p->count) ends with
** the name c is located at (its base, stats, is located earlier); a
** subscript (stats.hits[i], grid[r][c]) ends with its last bracket, after
** a base that covers the rest. */
static bool covers_body(CXCursor c, const char *text, size_t body, size_t body_end)
{
    if (text[body] == '(')
        return closes(text, body, body_end) == body_end - 1;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_ArraySubscriptExpr && body_end > body && text[body_end - 1] == ']') {
        size_t open = opens(text, body, body_end - 1);
        while (open > body && (text[open - 1] == ' ' || text[open - 1] == '\t'))
            open--;
        Kids kids = kids_of(c);
        return open > body && kids.n == 2 && covers_body(strip(kids.c[0]), text, body, open);
    }
    if (k != CXCursor_DeclRefExpr && k != CXCursor_MemberRefExpr)
        return false;
    unsigned at;
    clang_getSpellingLocation(clang_getCursorLocation(c), NULL, NULL, NULL, &at);
    size_t i = at;
    while (i < body_end && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z') ||
                            (text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '0' && text[i] <= '9')))
        i++;
    return i > at && i == body_end;
}

/* whole_invocation: c is everything one macro invocation in the function's
** file expands to (#define FIRST(p) ((p)[0]), #define COUNT stats.n): the
** invocation's text [a, b) can be rewritten around whole.  (libclang
** reports the end of a macro's tokens at the invocation's end: where c
** ends is judged from the #define's text.) */
static bool whole_invocation(Redo *r, CXCursor c, unsigned a, unsigned b, CXFile s1, unsigned sa)
{
    size_t len;
    const char *text = clang_getFileContents(clang_Cursor_getTranslationUnit(c), s1, &len);
    size_t body, body_end;
    char *name = NULL;
    bool function_like, whole = false;
    if (text && sa < len && macro_body(text, len, sa, &body, &body_end, &name, &function_like) &&
        sa == body && body < body_end && covers_body(c, text, body, body_end)) {
        size_t n = strlen(name);
        size_t end = function_like ? invocation_end(r->file, a) : a + n;
        whole = a + n <= r->file->len && memcmp(r->file->text + a, name, n) == 0 && end == b;
    }
    free(name);
    return whole;
}

static bool span(Redo *r, CXCursor c, size_t *start, size_t *end)
{
    CXSourceRange ext = clang_getCursorExtent(c);
    CXFile f1, f2, s1, s2;
    unsigned a, b, sa, sb;
    clang_getExpansionLocation(clang_getRangeStart(ext), &f1, NULL, NULL, &a);
    clang_getExpansionLocation(clang_getRangeEnd(ext), &f2, NULL, NULL, &b);
    clang_getSpellingLocation(clang_getRangeStart(ext), &s1, NULL, NULL, &sa);
    clang_getSpellingLocation(clang_getRangeEnd(ext), &s2, NULL, NULL, &sb);
    if (!f1 || !clang_File_isEqual(f1, r->cxfile) || !clang_File_isEqual(f2, r->cxfile) || !s1 ||
        !s2 || !clang_File_isEqual(s1, s2))
        return false;
    if (!clang_File_isEqual(s1, r->cxfile) || sa > sb || sb > r->file->len) {
        /* From a macro defined elsewhere: only a whole invocation. */
        r->from_macro = true;
        if (a >= b || !whole_invocation(r, c, a, b, s1, sa))
            return false;
        *start = a;
        *end = b;
        return true;
    }
    r->from_macro = a != sa || b != sb;
    if (r->from_macro) {
        if (whole_invocation(r, c, a, b, s1, sa)) {
            *start = a;
            *end = b;
            return true;
        }
        size_t call_end = invocation_end(r->file, a);
        if (!call_end || sa <= a || sb > call_end || !balanced(r->file, sa, sb))
            return false;
    }
    *start = sa;
    *end = sb;
    return true;
}

/* once: whether [start, end), just spanned, is still to be rewritten as
** kind.  A macro argument the macro expands twice is rewritten once per
** kind; rewrites of different kinds on one span nest (a string's view
** around the load of the pointer, in plain code or in an argument). */
static bool once(Redo *r, size_t start, size_t end, const char *kind)
{
    for (int i = 0; r->from_macro && i < r->ndone; i++)
        if (r->done[i].start == start && r->done[i].end == end &&
            strcmp(r->done[i].kind, kind) == 0)
            return false;
    r->done = xrealloc(r->done, sizeof *r->done * (size_t)(r->ndone + 1));
    r->done[r->ndone++] = (Done){start, end, kind};
    return true;
}

/* find_op: where the operator token op is, first thing in [from, to). */
static bool find_op(const SrcFile *file, size_t from, size_t to, const char *op, size_t *at)
{
    size_t i = skip_space(file, from, to);
    size_t n = strlen(op);
    if (i + n > to || memcmp(file->text + i, op, n) != 0)
        return false;
    *at = i;
    return true;
}

static char *op_spelling_unary(CXCursor c)
{
    CXString s = clang_getUnaryOperatorKindSpelling(clang_getCursorUnaryOperatorKind(c));
    char *r = xstrdup(clang_getCString(s));
    clang_disposeString(s);
    return r;
}

static char *op_spelling_binary(CXCursor c)
{
    CXString s = clang_getBinaryOperatorKindSpelling(clang_getCursorBinaryOperatorKind(c));
    char *r = xstrdup(clang_getCString(s));
    clang_disposeString(s);
    return r;
}

static bool is_array_or_function(CXCursor e)
{
    CXType t = clang_getCanonicalType(clang_getCursorType(e));
    return t.kind == CXType_ConstantArray || t.kind == CXType_IncompleteArray ||
           t.kind == CXType_VariableArray || t.kind == CXType_DependentSizedArray ||
           t.kind == CXType_FunctionProto || t.kind == CXType_FunctionNoProto ||
           t.kind == CXType_Void || t.kind == CXType_Invalid;
}

/* is_lvalue: whether e designates an object (C's lvalues, as far as the
** rewrites need: the ones that can be accessed through another place). */
static bool is_lvalue(CXCursor e)
{
    e = strip_parens(e);
    switch (clang_getCursorKind(e)) {
    case CXCursor_DeclRefExpr:
        return clang_getCursorKind(clang_getCursorReferenced(e)) == CXCursor_VarDecl ||
               clang_getCursorKind(clang_getCursorReferenced(e)) == CXCursor_ParmDecl;
    case CXCursor_ArraySubscriptExpr:
        return true;
    case CXCursor_MemberRefExpr: {
        Kids k = kids_of(e);
        if (k.n < 1)
            return false;
        return is_pointer_type(clang_getCursorType(strip(k.c[0]))) || is_lvalue(k.c[0]);
    }
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(e);
        bool deref = strcmp(op, "*") == 0;
        free(op);
        return deref;
    }
    default:
        return false;
    }
}

/* is_bit_field: e is a member access of a bit-field. */
static bool is_bit_field(CXCursor e)
{
    e = strip_parens(e);
    return clang_getCursorKind(e) == CXCursor_MemberRefExpr &&
           clang_Cursor_isBitField(clang_getCursorReferenced(e));
}

static char *addr_name(int n)
{
    return format("__ptm_a%d", n);
}

/* is_system_variable: a variable the C library declares (stdout, stderr,
** optarg): read in place, since no instrumented code writes it -- a
** mirror's store to one still goes through the buffer -- and its name is
** often a macro. */
static bool is_system_variable(CXCursor e)
{
    if (clang_getCursorKind(e) != CXCursor_DeclRefExpr)
        return false;
    CXCursor d = clang_getCursorReferenced(e);
    return clang_getCursorKind(d) == CXCursor_VarDecl &&
           clang_Location_isInSystemHeader(clang_getCursorLocation(d));
}

/* library_object: e is memory the C library keeps for itself, reached from
** a call into a system header or a library variable: ctype's table
** ((*__ctype_b_loc())[c], through isspace's macro).  No instrumented code
** writes it: a read inside a macro's body may stay in place. */
static bool library_object(CXCursor e)
{
    for (int depth = 0; depth < 16; depth++) {
        e = strip(e);
        switch (clang_getCursorKind(e)) {
        case CXCursor_CallExpr: {
            CXCursor callee = clang_getCursorReferenced(e);
            return !clang_Cursor_isNull(callee) &&
                   clang_Location_isInSystemHeader(clang_getCursorLocation(callee));
        }
        case CXCursor_DeclRefExpr:
            return is_system_variable(e);
        case CXCursor_ArraySubscriptExpr: {
            Kids k = kids_of(e);
            if (k.n < 2)
                return false;
            e = is_pointer_type(clang_getCursorType(strip(k.c[0]))) || is_array_object(k.c[0])
                    ? k.c[0]
                    : k.c[1];
            break;
        }
        case CXCursor_MemberRefExpr:
        case CXCursor_UnaryOperator: {
            Kids k = kids_of(e);
            if (k.n < 1)
                return false;
            e = k.c[0];
            break;
        }
        default:
            return false;
        }
    }
    return false;
}

/* wrap_object: the object e designates is reached through the buffer:
** fn is ptm_redo_ld or ptm_redo_st. */
static void wrap_object(Redo *r, CXCursor e, const char *fn)
{
    size_t s, t;
    /* A macro's body may parenthesize an argument: ((a) > (b) ? ...). */
    while (!span(r, e, &s, &t) && clang_getCursorKind(e) == CXCursor_ParenExpr &&
           kids_of(e).n == 1)
        e = kids_of(e).c[0];
    if (!span(r, e, &s, &t)) {
        if (strcmp(fn, "ptm_redo_ld") != 0 || !library_object(e))
            redo_block(r, e, "accesses memory inside a macro");
        return;
    }
    if (!once(r, s, t, fn))
        return;
    int n = ++r->seq;
    char *a = addr_name(n);
    redo_add(r, s, 0, n, format("(*__extension__({ __auto_type %s = &(", a));
    redo_add(r, t, 0, -n, format("); (__typeof__(%s))%s(%s, sizeof *%s); }))", a, fn, a, a));
    free(a);
}

/* wrap_pointer: the pointer value p is translated for the object it points
** to (a bit-field's struct). */
static void wrap_pointer(Redo *r, CXCursor p, const char *fn)
{
    size_t s, t;
    if (!span(r, p, &s, &t)) {
        redo_block(r, p, "accesses memory inside a macro");
        return;
    }
    if (!once(r, s, t, "pointer"))
        return;
    int n = ++r->seq;
    char *a = addr_name(n);
    redo_add(r, s, 0, n, format("(__extension__({ __auto_type %s = (", a));
    redo_add(r, t, 0, -n, format("); (__typeof__(%s))%s(%s, sizeof *%s); }))", a, fn, a, a));
    free(a);
}

/* wrap_own: an argument a library call writes through is checked: the
** object of its type it points to (strtol's char **end, localtime_r's
** struct tm *) must be the mirror's, or its first byte when the type says
** nothing of the size (char *, void *). */
static void wrap_own(Redo *r, CXCursor arg)
{
    size_t s, t;
    if (!span(r, arg, &s, &t)) {
        redo_block(r, arg, "passes memory to a library writer inside a macro");
        return;
    }
    if (!once(r, s, t, "own"))
        return;
    CXType pointee = clang_getCanonicalType(
        clang_getPointeeType(clang_getCanonicalType(clang_getCursorType(strip(arg)))));
    long long size = clang_Type_getSizeOf(pointee);
    bool sized = size > 1 && pointee.kind != CXType_Void;
    int n = ++r->seq;
    char *a = addr_name(n);
    redo_add(r, s, 0, n, format("(__extension__({ __auto_type %s = (", a));
    if (sized)
        redo_add(r, t, 0, -n,
                 format("); (__typeof__(%s))ptm_redo_own_n(%s, sizeof *%s); }))", a, a, a));
    else
        redo_add(r, t, 0, -n, format("); (__typeof__(%s))ptm_redo_own(%s); }))", a, a));
    free(a);
}

/* wrap_string: a string a library function reads is passed as the
** mirror's view of it. */
static void wrap_string(Redo *r, CXCursor arg)
{
    size_t s, t;
    if (!span(r, arg, &s, &t) || !once(r, s, t, "string"))
        return; /* written inside a macro: read in place */
    int n = ++r->seq;
    char *a = addr_name(n);
    redo_add(r, s, 0, n, format("(__extension__({ __auto_type %s = (", a));
    redo_add(r, t, 0, -n, format("); (__typeof__(%s))ptm_redo_str(%s); }))", a, a));
    free(a);
}

static void redo_walk(Redo *r, CXCursor c, Use use);

/* is_nonlocal_access: an lvalue that the rewrites must route: not one of
** the function's locals (those stay in place: the mirror's own stack), not
** errno (thread-local, restored after the mirror). */
static bool is_nonlocal_access(CXCursor e)
{
    return is_lvalue(e) && !is_local_object(e) && !is_errno(e) && !is_array_or_function(e);
}

/* bit_field_base: a bit-field e (p->f or s.f) is reached by translating
** its struct: the pointer p, or the object s when it is not local. */
static void bit_field_base(Redo *r, CXCursor e, const char *fn)
{
    Kids k = kids_of(strip_parens(e));
    if (k.n < 1)
        return;
    CXCursor base = k.c[0];
    if (is_pointer_type(clang_getCursorType(strip(base)))) {
        wrap_pointer(r, base, fn);
        redo_walk(r, base, USE_VALUE);
    } else {
        if (is_nonlocal_access(base))
            wrap_object(r, base, fn);
        redo_walk(r, base, USE_PLACE);
    }
}

/* redo_lvalue: e, an lvalue read (or designated) in the function. */
static void redo_lvalue(Redo *r, CXCursor e, Use use)
{
    CXCursor s = strip_parens(e);
    if (is_system_variable(s))
        return;
    if (use == USE_VALUE && is_bit_field(s) && is_nonlocal_access(s)) {
        bit_field_base(r, s, "ptm_redo_ld");
        return;
    }
    if (use == USE_VALUE && is_nonlocal_access(s))
        wrap_object(r, e, "ptm_redo_ld");
    /* What the access is made of. */
    Kids k = kids_of(s);
    switch (clang_getCursorKind(s)) {
    case CXCursor_MemberRefExpr:
        if (k.n >= 1)
            redo_walk(r, k.c[0],
                      is_pointer_type(clang_getCursorType(strip(k.c[0]))) ? USE_VALUE : USE_PLACE);
        break;
    case CXCursor_ArraySubscriptExpr:
        for (int i = 0; i < k.n && i < 2; i++)
            redo_walk(r, k.c[i], USE_VALUE);
        break;
    case CXCursor_UnaryOperator:
        if (k.n >= 1)
            redo_walk(r, k.c[0], USE_VALUE);
        break;
    default:
        break;
    }
}

/* macro_parens: *e, parenthesized by a macro's body ((x)++), becomes the
** argument inside when that can be rewritten.  Returns whether it can. */
static bool macro_parens(Redo *r, CXCursor *e)
{
    size_t s, t;
    CXCursor in = *e;
    while (clang_getCursorKind(in) == CXCursor_ParenExpr && kids_of(in).n == 1) {
        in = kids_of(in).c[0];
        if (span(r, in, &s, &t)) {
            *e = in;
            return true;
        }
    }
    return false;
}

/* redo_store_in_place: a store whose operator is in a macro's body and E
** in an argument (#define BUMP(x) ((x) += 1), BUMP(acct->n)): E itself is
** rewritten into the buffer's copy of the object, an lvalue the body reads
** and writes.  Unlike the rewrite around the operator, E's copy is found
** before V runs: a call in V (rhs, or a null cursor) that merged E's
** block into a larger one would make the store miss the current copy. */
static void redo_store_in_place(Redo *r, CXCursor lhs, CXCursor rhs)
{
    wrap_object(r, lhs, "ptm_redo_st");
    redo_walk(r, lhs, USE_PLACE);
    if (!clang_Cursor_isNull(rhs))
        redo_walk(r, rhs, USE_VALUE);
}

/* redo_store: E = V, E op= V: a store to E, after V. */
static void redo_store(Redo *r, CXCursor c)
{
    Kids k = kids_of(c);
    if (k.n < 2)
        return;
    CXCursor lhs = k.c[0], rhs = k.c[1];
    char *op = op_spelling_binary(c);
    bool simple = strcmp(op, "=") == 0;
    if (!is_nonlocal_access(lhs)) {
        redo_walk(r, lhs, USE_PLACE);
        redo_walk(r, rhs, USE_VALUE);
        free(op);
        return;
    }
    if (is_bit_field(lhs)) {
        bit_field_base(r, lhs, "ptm_redo_st");
        redo_walk(r, rhs, USE_VALUE);
        free(op);
        return;
    }
    size_t ls, le, rs, re, at;
    if (!span(r, lhs, &ls, &le) && macro_parens(r, &lhs)) {
        /* ((x) = (v)) in a macro's body: the operator is there too. */
        free(op);
        redo_store_in_place(r, lhs, rhs);
        return;
    }
    if (span(r, lhs, &ls, &le) && !span(r, rhs, &rs, &re)) {
        /* V ends inside a macro's body (acct->max = MAX(a, b)): translate
        ** E first.  Only a call in V that merges E's block into a larger
        ** one could make this store miss the buffer's current copy. */
        wrap_object(r, lhs, "ptm_redo_st");
        redo_walk(r, lhs, USE_PLACE);
        redo_walk(r, rhs, USE_VALUE);
        free(op);
        return;
    }
    if (!span(r, lhs, &ls, &le)) {
        redo_block(r, c, "stores to memory inside a macro");
        free(op);
        return;
    }
    if (!find_op(r->file, le, rs, op, &at)) {
        free(op);
        redo_store_in_place(r, lhs, rhs);
        return;
    }
    if (!once(r, ls, re, "store")) {
        free(op);
        return;
    }
    int n = ++r->seq;
    char *a = addr_name(n);
    redo_add(r, ls, 0, n, format("(__extension__({ __auto_type %s = &(", a));
    if (simple)
        redo_add(r, at, strlen(op), 0, format("); __typeof__(*%s) __ptm_v%d = (", a, n));
    else
        redo_add(r, at, strlen(op), 0, format("); __auto_type __ptm_v%d = +(", n));
    redo_add(r, re, 0, -n,
             format("); *(__typeof__(%s))ptm_redo_st(%s, sizeof *%s) %s __ptm_v%d; }))", a, a, a,
                    op, n));
    free(a);
    free(op);
    redo_walk(r, lhs, USE_PLACE);
    redo_walk(r, rhs, USE_VALUE);
}

/* redo_incdec: E++, E--, ++E, --E. */
static void redo_incdec(Redo *r, CXCursor c, const char *op)
{
    Kids k = kids_of(c);
    if (k.n < 1)
        return;
    CXCursor e = k.c[0];
    if (!is_nonlocal_access(e)) {
        redo_walk(r, e, USE_PLACE);
        return;
    }
    if (is_bit_field(e)) {
        bit_field_base(r, e, "ptm_redo_st");
        return;
    }
    /* The operator is right after the operand (postfix) or right before
    ** it (prefix); the operand may be a whole macro invocation (COUNT++). */
    size_t es, ee, at;
    if (!span(r, e, &es, &ee)) {
        if (macro_parens(r, &e))
            redo_store_in_place(r, e, clang_getNullCursor());
        else
            redo_block(r, c, "stores to memory inside a macro");
        return;
    }
    bool from_macro = r->from_macro;
    size_t before = es;
    while (before > 0 && (r->file->text[before - 1] == ' ' || r->file->text[before - 1] == '\t'))
        before--;
    bool postfix = find_op(r->file, ee, r->file->len, op, &at);
    if (!postfix && !(before >= 2 && memcmp(r->file->text + before - 2, op, 2) == 0)) {
        r->from_macro = from_macro;
        redo_store_in_place(r, e, clang_getNullCursor());
        return;
    }
    if (!postfix)
        at = before - 2;
    r->from_macro = from_macro;
    if (!once(r, postfix ? es : at, postfix ? at + 2 : ee, "store"))
        return;
    int n = ++r->seq;
    char *a = addr_name(n);
    char *open = format("(__extension__({ __auto_type %s = &(", a);
    char *store = format("*(__typeof__(%s))ptm_redo_st(%s, sizeof *%s)", a, a, a);
    if (postfix) {
        redo_add(r, es, 0, n, open);
        redo_add(r, at, strlen(op), 0, format("); (%s)%s; }))", store, op));
    } else {
        redo_add(r, at, strlen(op), 0, open);
        redo_add(r, ee, 0, -n, format("); %s%s; }))", op, store));
    }
    free(store);
    free(a);
    redo_walk(r, e, USE_PLACE);
}

/* array_argument: the array an argument decays from, when it is not a
** local (a global buffer, a member reached through a pointer). */
static bool array_argument(CXCursor arg, CXCursor *array)
{
    CXCursor e = arg;
    for (int i = 0; i < 8 && clang_getCursorKind(e) == CXCursor_UnexposedExpr; i++) {
        Kids k = kids_of(e);
        if (k.n != 1)
            return false;
        e = k.c[0];
    }
    CXType t = clang_getCanonicalType(clang_getCursorType(e));
    if (t.kind != CXType_ConstantArray || !is_lvalue(e) || is_local_object(e))
        return false;
    *array = e;
    return true;
}

/* array_within: the non-local array an argument points into: buf + len,
** len + buf, buf - k, &buf[i] (snprintf(buf + len, sizeof buf - len, ...)
** appending to a global buffer).  Translating the whole array, the
** argument then points into its view. */
static bool array_within(CXCursor arg, CXCursor *array)
{
    CXCursor e = strip_parens(arg);
    while (clang_getCursorKind(e) == CXCursor_UnexposedExpr ||
           clang_getCursorKind(e) == CXCursor_ParenExpr) {
        Kids k = kids_of(e);
        if (k.n != 1)
            return false;
        e = k.c[0];
    }
    enum CXCursorKind kind = clang_getCursorKind(e);
    Kids k = kids_of(e);
    if (kind == CXCursor_BinaryOperator && k.n == 2) {
        char *op = op_spelling_binary(e);
        bool arith = strcmp(op, "+") == 0 || strcmp(op, "-") == 0;
        free(op);
        return arith && (array_argument(k.c[0], array) || array_argument(k.c[1], array));
    }
    if (kind == CXCursor_UnaryOperator && k.n == 1) {
        char *op = op_spelling_unary(e);
        bool addr = strcmp(op, "&") == 0;
        free(op);
        CXCursor sub = strip_parens(k.c[0]);
        Kids s = kids_of(sub);
        return addr && clang_getCursorKind(sub) == CXCursor_ArraySubscriptExpr && s.n == 2 &&
               is_array_object(s.c[0]) && array_argument(s.c[0], array);
    }
    return false;
}

/* is_string_pointer: e is a char pointer (not an array, not a literal, not
** null): what a library function reads as a string. */
static bool is_string_pointer(CXCursor e)
{
    CXType t = clang_getCanonicalType(clang_getCursorType(e));
    if (t.kind != CXType_Pointer || is_null_constant(e))
        return false;
    enum CXTypeKind k = clang_getCanonicalType(clang_getPointeeType(t)).kind;
    if (k != CXType_Char_S && k != CXType_Char_U && k != CXType_SChar && k != CXType_UChar)
        return false;
    CXCursor s = strip(e);
    return clang_getCursorKind(s) != CXCursor_StringLiteral && !is_local_address(e);
}

/* redo_library_reads: a library function (not a clone: those route their
** own accesses) reads what a non-local array argument holds, or a string,
** in the mirror's view: printf("%s", acct->name) after the mirror wrote
** the name.  Returns whether it made a view. */
static bool redo_library_reads(Redo *r, CXCursor call, unsigned written)
{
    bool viewed = false;
    int n = clang_Cursor_getNumArguments(call);
    for (int a = 0; a < n; a++) {
        CXCursor array;
        CXCursor arg = clang_Cursor_getArgument(call, (unsigned)a);
        if (a < 32 && (written & (1u << a)))
            continue;
        if (array_argument(arg, &array) || array_within(arg, &array)) {
            wrap_object(r, array, "ptm_redo_ld");
            viewed = true;
        } else if (is_string_pointer(arg)) {
            wrap_string(r, arg);
            viewed = true;
        }
    }
    return viewed;
}

/* is_unevaluated_builtin: a builtin whose operands are not evaluated
** (__builtin_object_size(dst, 1) in a fortified snprintf), or name the
** function's own va_list and parameters (va_start(ap, fmt): fmt must stay
** the last parameter's name). */
static bool is_unevaluated_builtin(const char *name)
{
    return strcmp(name, "__builtin_object_size") == 0 || strcmp(name, "__builtin_va_start") == 0 ||
           strcmp(name, "__builtin_c23_va_start") == 0 || strcmp(name, "__builtin_va_end") == 0 ||
           strcmp(name, "__builtin_va_copy") == 0 ||
           strcmp(name, "__builtin_dynamic_object_size") == 0 ||
           strcmp(name, "__builtin_constant_p") == 0 ||
           strcmp(name, "__builtin_classify_type") == 0;
}

static bool local_dest(CXCursor arg, CXCursor *root);
static bool pure_local(CXCursor e);
static bool unbounded_name(Redo *r, CXCursor call, size_t *at, size_t *open);
static bool is_unbounded_writer(const char *name);
static bool filler_of(const char *name, int *dest, int *count, int *unit);

/* redo_fill: a library call writes through argument a, a pointer, as far
** as a length it is given (snprintf(p, n, ...)) or its data goes
** (strcpy(p, s)): the write must stay in one object the mirror owns.  The
** length is checked (ptm_redo_fit, with p copied: it names only locals),
** or the call becomes ptm_redo_strcpy and its kind, which check it.
** False when neither can be done here (ptm_redo_own then checks p). */
static bool redo_fill(Redo *r, CXCursor call, const char *name, int a)
{
    int di, ci, ui;
    size_t at, open, ds, dt, cs, ct, us = 0, ut = 0;
    if (a == 0 && is_unbounded_writer(name)) {
        if (!unbounded_name(r, call, &at, &open))
            return false;
        redo_add(r, at, 0, INT_MAX, xstrdup("ptm_redo_"));
        return true;
    }
    if (!filler_of(name, &di, &ci, &ui) || di != a)
        return false;
    int n = clang_Cursor_getNumArguments(call);
    if (ci >= n || ui >= n)
        return false;
    CXCursor dest = clang_Cursor_getArgument(call, (unsigned)di);
    CXCursor count = clang_Cursor_getArgument(call, (unsigned)ci);
    CXCursor unit = ui >= 0 ? clang_Cursor_getArgument(call, (unsigned)ui) : clang_getNullCursor();
    if (!span(r, dest, &ds, &dt) || !pure_local(dest) ||
        (ui >= 0 && (!span(r, unit, &us, &ut) || !pure_local(unit))) ||
        !span(r, count, &cs, &ct) || cs < r->lo || ct > r->hi || ds < r->lo || dt > r->hi ||
        !once(r, cs, ct, "fit"))
        return false;
    int k = ++r->seq;
    char *d = xstrndup(r->file->text + ds, dt - ds);
    char *u = ui >= 0 ? xstrndup(r->file->text + us, ut - us) : xstrdup("1");
    redo_add(r, cs, 0, k, format("__extension__({ __auto_type __ptm_f%d = (", k));
    redo_add(r, ct, 0, -k,
             format("); ptm_redo_fit((__SIZE_TYPE__)__ptm_f%d, (%s), (%s)); __ptm_f%d; })", k, u,
                    d, k));
    free(u);
    free(d);
    return true;
}

/* redo_call: a library call's written arguments are checked or made views,
** its read arrays and strings made views, and a pointer it returns into a
** view mapped back to real memory.  Returns false when its operands are
** not evaluated (nothing in them to rewrite). */
static bool redo_call(Redo *r, CXCursor call)
{
    /* A call that is a statement of its own: its value is not used. */
    bool discarded = r->parent == CXCursor_CompoundStmt || r->parent == CXCursor_LabelStmt ||
                     r->parent == CXCursor_CaseStmt || r->parent == CXCursor_DefaultStmt;
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl)
        return true;
    if (r->callees && r->callees->is_clone(r->callees->ctx, callee))
        return true;
    char *name = spelling(callee);
    if (is_unevaluated_builtin(name)) {
        free(name);
        return false;
    }
    bool viewed = false;
    unsigned written = 0;
    if ((strncmp(name, "__atomic_", 9) == 0 || strncmp(name, "__sync_", 7) == 0 ||
         strncmp(name, "__c11_atomic_", 13) == 0) &&
        strstr(name, "load") == NULL && clang_Cursor_getNumArguments(call) > 0 &&
        !is_local_address(clang_Cursor_getArgument(call, 0)))
        redo_block(r, call, "an atomic operation writes outside its locals");
    if (!call_through_buffer(name))
        written = call_written(name);
    if (written) {
        if (written == CALL_WRITES_STATE) {
            char *what = format("calls %s, which changes library state", name);
            redo_block(r, call, what);
            free(what);
        }
        unsigned routed =
            r->callees && r->callees->is_user_shim(r->callees->ctx, name) ? 0 : call_routed(name);
        int n = clang_Cursor_getNumArguments(call);
        for (int a = 0; a < n && a < 32; a++) {
            CXCursor arg = clang_Cursor_getArgument(call, (unsigned)a), array, root;
            if (!(written & (1u << a)) || (routed & (1u << a)) ||
                is_local_address(arg) || local_dest(arg, &root))
                continue; /* a local: its bounds are checked (bounds_call) */
            /* An array's size is known: the library writes into the
            ** mirror's view of all of it (snprintf(acct->name, ...)). */
            if (array_argument(arg, &array) || array_within(arg, &array)) {
                wrap_object(r, array, "ptm_redo_st");
                viewed = true;
            } else if (!redo_fill(r, call, name, a)) {
                wrap_own(r, arg);
            }
        }
    }
    if (!call_through_buffer(name))
        viewed |= redo_library_reads(r, call, written);
    /* strchr(acct->name, ';'), strcpy(buf, ...): the result may point into
    ** a view; the mirror's code gets the real address it stands for. */
    size_t s, t;
    if (viewed && !discarded && is_pointer_type(clang_getCursorResultType(callee)) &&
        span(r, call, &s, &t) && once(r, s, t, "real")) {
        /* No rewrite inside the call starts or ends where the call does:
        ** a later number is fine. */
        int call_seq = ++r->seq;
        char *a = addr_name(call_seq);
        redo_add(r, s, 0, call_seq, format("(__extension__({ __auto_type %s = (", a));
        redo_add(r, t, 0, -call_seq, format("); (__typeof__(%s))ptm_redo_real(%s); }))", a, a));
        free(a);
    }
    free(name);
    return true;
}

typedef struct WalkAll {
    Redo *r;
    Use use;
} WalkAll;

static enum CXChildVisitResult walk_child(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    WalkAll *w = data;
    w->r->parent = clang_getCursorKind(parent);
    redo_walk(w->r, c, w->use);
    return CXChildVisit_Continue;
}

static void walk_children(Redo *r, CXCursor c, Use use)
{
    WalkAll w = {r, use};
    clang_visitChildren(c, walk_child, &w);
}

/* redo_walk: makes the edits for c, used as use, and what it contains. */
static void redo_walk(Redo *r, CXCursor c, Use use)
{
    if (r->out->redo_blocker)
        return;
    switch (clang_getCursorKind(c)) {
    case CXCursor_DeclRefExpr:
    case CXCursor_MemberRefExpr:
    case CXCursor_ArraySubscriptExpr:
        redo_lvalue(r, c, use);
        return;
    case CXCursor_ParenExpr:
        if (is_lvalue(c)) {
            redo_lvalue(r, c, use);
            return;
        }
        walk_children(r, c, use);
        return;
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(c);
        if (strcmp(op, "*") == 0)
            redo_lvalue(r, c, use);
        else if (strcmp(op, "&") == 0)
            walk_children(r, c, USE_PLACE);
        else if (strcmp(op, "++") == 0 || strcmp(op, "--") == 0)
            redo_incdec(r, c, op);
        else
            walk_children(r, c, USE_VALUE);
        free(op);
        return;
    }
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(c);
        bool assign = strcmp(op, "=") == 0;
        free(op);
        if (assign)
            redo_store(r, c);
        else
            walk_children(r, c, USE_VALUE);
        return;
    }
    case CXCursor_CompoundAssignOperator:
        redo_store(r, c);
        return;
    case CXCursor_CallExpr:
        if (redo_call(r, c))
            walk_children(r, c, USE_VALUE);
        return;
    case CXCursor_UnaryExpr:       /* sizeof, _Alignof: not evaluated */
    case CXCursor_TypeRef:
    case CXCursor_StringLiteral:
        return;
    case CXCursor_UnexposedExpr: {
        char *word = atomic_writer(r->file, c);
        if (word) {
            char *what = format("%s writes outside its locals", word);
            redo_block(r, c, what);
            free(what);
            free(word);
            return;
        }
        walk_children(r, c, use); /* an implicit conversion */
        return;
    }
    case CXCursor_GCCAsmStmt:
    case CXCursor_MSAsmStmt:
        redo_block(r, c, "uses inline assembly");
        return;
    case CXCursor_VarDecl:
        /* A static's initializer is constant: nothing to load. */
        if (clang_Cursor_getStorageClass(c) == CX_SC_Static)
            return;
        walk_children(r, c, USE_VALUE);
        return;
    default:
        walk_children(r, c, USE_VALUE);
        return;
    }
}

/* ------------------------------------------------------------------------
** Stores into local arrays
**
** A store into a local is in place, on the host's stack when the mirror
** runs inline; but C's a[i] is *(a + i), and an index past the array
** stores into whatever lies beyond it: the executor's frame, the host's
** frames, another thread's stack.  So, in every mirror clone (proved or
** instrumented), a store into an element of a local array whose index is
** not a constant inside the array is checked against the local variable
** X it is part of (a store that stays in X harms nothing of the host's):
**
**   E = V, E op= V, E++   (*({ __auto_type B = &(E); ptm_local_at(B, sizeof *B,
**                             &X, sizeof X, "X at f.c:3:5"); B; })) = V ...
**   a library call        its length, checked against the room from the
**   filling X             destination to X's end: memcpy(buf + k, s,
**                         ({ __auto_type B = (n); ptm_local_fit(B, 1, (buf + k),
**                         &X, sizeof X, ...); B; }))
**   strcpy, stpcpy,       into X become ptm_local_strcpy(&X, sizeof X,
**   strcat, strncat,      "...", buf, s), which checks the length it
**   sprintf, vsprintf     writes before writing
**
** The index (the length) is evaluated once; the destination, copied into
** the check, must name only locals and have no side effects.  What cannot
** be checked -- a store written inside a macro's body, sscanf into a char
** array without a width it holds, a destination with side effects or
** reading memory other than locals, a variable-length array or
** alloca (which move the stack pointer by a size the mirror computes, into
** another thread's stack if it likes) -- keeps the mirror from running
** inline, in either mode: it runs in a fork.
*/

/* Edits of these checks go outside every write-buffer edit at one offset. */
#define BOUNDS_ORDER 1000000

typedef struct Bounds {
    Redo r;
} Bounds;

/* bounds_block: records why the function cannot run inline at all. */
static void bounds_block(Bounds *b, CXCursor at, const char *fmt, ...) PTMCC_PRINTF(3, 4);
static void bounds_block(Bounds *b, CXCursor at, const char *fmt, ...)
{
    InlineFacts *f = b->r.out;
    if (f->blocker && f->redo_blocker)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *why = reason_at(b->r.file, at, fmt, ap);
    va_end(ap);
    if (!f->blocker) {
        f->blocker = xstrdup(why);
        f->blocker_off = where(at);
    }
    if (!f->redo_blocker) {
        f->redo_blocker = xstrdup(why);
        f->redo_blocker_off = where(at);
    }
    free(why);
}

static void bounds_add(Bounds *b, size_t off, int order, char *text)
{
    InlineFacts *f = b->r.out;
    f->bounds = xrealloc(f->bounds, sizeof *f->bounds * (size_t)(f->nbounds + 1));
    f->bounds[f->nbounds++] = (RedoEdit){off, 0, order, text};
}

/* index_inside: whether base[idx] is inside the array base whatever runs:
** a constant index in [0, size) of an array of constant size. */
static bool index_inside(CXCursor base, CXCursor idx)
{
    CXType t = clang_getCanonicalType(clang_getCursorType(strip(base)));
    if (t.kind != CXType_ConstantArray)
        return false;
    long long n = clang_getArraySize(t);
    CXEvalResult r = clang_Cursor_Evaluate(idx);
    if (!r)
        return false;
    bool inside = false;
    if (clang_EvalResult_getKind(r) == CXEval_Int) {
        if (clang_EvalResult_isUnsignedInt(r))
            inside = clang_EvalResult_getAsUnsigned(r) < (unsigned long long)n;
        else
            inside = clang_EvalResult_getAsLongLong(r) >= 0 &&
                     clang_EvalResult_getAsLongLong(r) < n;
    }
    clang_EvalResult_dispose(r);
    return inside;
}

/* local_root: the local variable a local object e (is_local_object) is
** part of, in *root; *computed is set when one of its subscripts is not
** constant inside its array. */
static bool local_root(CXCursor e, CXCursor *root, bool *computed)
{
    for (int depth = 0; depth < 64; depth++) {
        e = strip(e);
        Kids k = kids_of(e);
        switch (clang_getCursorKind(e)) {
        case CXCursor_DeclRefExpr:
            *root = clang_getCursorReferenced(e);
            return is_own_local(*root);
        case CXCursor_MemberRefExpr:
            if (k.n < 1)
                return false;
            e = k.c[0];
            break;
        case CXCursor_ArraySubscriptExpr:
            if (k.n < 2)
                return false;
            if (!index_inside(k.c[0], k.c[1]))
                *computed = true;
            e = k.c[0];
            break;
        default:
            return false;
        }
    }
    return false;
}

/* c_literal: s as a C string literal. */
static char *c_literal(const char *s)
{
    size_t n = strlen(s);
    char *out = xcalloc(4 * n + 3, 1), *o = out;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            o += sprintf(o, "\\%03o", ch);
        } else {
            *o++ = (char)ch;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* bounds_place: "X at f.c:3:5" as a C literal, for the event. */
static char *bounds_place(Bounds *b, const char *x, CXCursor at)
{
    unsigned line, col;
    src_line_col((SrcLoc){b->r.file, where(at)}, &line, &col);
    char *place = format("%s at %s:%u:%u", x, b->r.file->path, line, col);
    char *lit = c_literal(place);
    free(place);
    return lit;
}

/* bounds_span: where the text of c is, when it can be edited in the body. */
static bool bounds_span(Bounds *b, CXCursor c, size_t *s, size_t *t)
{
    return span(&b->r, c, s, t) && *s >= b->r.lo && *t <= b->r.hi;
}

/* checkable_root: X can be named in a check (its address taken). */
static bool checkable_root(Bounds *b, CXCursor root, CXCursor at)
{
    if (clang_Cursor_getStorageClass(root) != CX_SC_Register)
        return true;
    bounds_block(b, at, "stores into a register array at an index it computes");
    return false;
}

/* bounds_store: the store to lhs is checked when lhs is an element of a
** local array at a computed index. */
static void bounds_store(Bounds *b, CXCursor lhs, CXCursor at)
{
    CXCursor e = strip_parens(lhs), root;
    bool computed = false;
    if (!is_local_object(e) || !local_root(e, &root, &computed) || !computed ||
        !checkable_root(b, root, at))
        return;
    /* A bit-field has no address: its struct is checked. */
    CXCursor target = e;
    if (is_bit_field(e)) {
        Kids k = kids_of(e);
        if (k.n < 1)
            return;
        target = k.c[0];
    }
    size_t s, t;
    if (!bounds_span(b, target, &s, &t)) {
        bounds_block(b, at, "stores into a local array inside a macro");
        return;
    }
    if (!once(&b->r, s, t, "bounds"))
        return;
    int n = ++b->r.seq;
    char *x = spelling(root);
    char *place = bounds_place(b, x, at);
    bounds_add(b, s, -BOUNDS_ORDER + n, format("(*__extension__({ __auto_type __ptm_b%d = &(", n));
    bounds_add(b, t, BOUNDS_ORDER - n,
               format("); ptm_local_at(__ptm_b%d, sizeof *__ptm_b%d, &%s, sizeof %s, %s); "
                      "__ptm_b%d; }))",
                      n, n, x, x, place, n));
    free(place);
    free(x);
}

/* local_dest: the local variable a destination a library call writes
** points into: buf, &obj, &buf[i], buf + k, k + buf, buf - k.  False when
** it is not a local's address. */
static bool local_dest(CXCursor arg, CXCursor *root)
{
    bool computed = false;
    CXCursor e = strip(arg);
    Kids k = kids_of(e);
    switch (clang_getCursorKind(e)) {
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(e);
        bool addr = strcmp(op, "&") == 0;
        free(op);
        return addr && k.n == 1 && is_local_object(k.c[0]) && local_root(k.c[0], root, &computed);
    }
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(e);
        bool arith = strcmp(op, "+") == 0 || strcmp(op, "-") == 0;
        free(op);
        if (!arith || k.n != 2)
            return false;
        for (int i = 0; i < 2; i++)
            if (is_array_object(k.c[i]) && is_local_object(k.c[i]))
                return local_root(k.c[i], root, &computed);
        return false;
    }
    default:
        return is_array_object(e) && is_local_object(e) && local_root(e, root, &computed);
    }
}

/* pure_local: e reads only the function's locals and constants, without
** side effects: copied into a check, it gives what it gives in the call. */
static enum CXChildVisitResult pure_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    bool *pure = data;
    switch (clang_getCursorKind(c)) {
    case CXCursor_DeclRefExpr: {
        CXCursor d = clang_getCursorReferenced(c);
        enum CXCursorKind k = clang_getCursorKind(d);
        if (k != CXCursor_EnumConstantDecl && !is_own_local(d))
            *pure = false;
        break;
    }
    case CXCursor_MemberRefExpr:
    case CXCursor_ArraySubscriptExpr:
        if (!is_local_object(c))
            *pure = false;
        break;
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(c);
        if (strcmp(op, "*") == 0 || strcmp(op, "++") == 0 || strcmp(op, "--") == 0)
            *pure = false;
        free(op);
        break;
    }
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(c);
        if (strcmp(op, "=") == 0)
            *pure = false;
        free(op);
        break;
    }
    case CXCursor_UnaryExpr: /* sizeof: not evaluated */
        return CXChildVisit_Continue;
    case CXCursor_IntegerLiteral:
    case CXCursor_CharacterLiteral:
    case CXCursor_ParenExpr:
    case CXCursor_UnexposedExpr:
    case CXCursor_CStyleCastExpr:
    case CXCursor_ConditionalOperator:
    case CXCursor_TypeRef:
        break;
    default:
        *pure = false;
        break;
    }
    return *pure ? CXChildVisit_Recurse : CXChildVisit_Break;
}

static bool pure_local(CXCursor e)
{
    bool pure = true;
    pure_visit(e, clang_getNullCursor(), &pure);
    if (pure)
        clang_visitChildren(e, pure_visit, &pure);
    return pure;
}

/* Library calls that fill a destination with a length they are given:
** the destination, the count, and the argument giving the size of a unit
** (-1: one byte). */
static const struct {
    const char *name;
    int dest, count, unit;
} fillers[] = {
    {"memcpy", 0, 2, -1},   {"memmove", 0, 2, -1},  {"mempcpy", 0, 2, -1},
    {"memset", 0, 2, -1},   {"bzero", 0, 1, -1},    {"explicit_bzero", 0, 1, -1},
    {"strncpy", 0, 2, -1},  {"stpncpy", 0, 2, -1},  {"snprintf", 0, 1, -1},
    {"vsnprintf", 0, 1, -1}, {"fgets", 0, 1, -1},   {"fgets_unlocked", 0, 1, -1},
    {"fread", 0, 2, 1},     {"fread_unlocked", 0, 2, 1}, {"read", 1, 2, -1},
    {"pread", 1, 2, -1},    {"recv", 1, 2, -1},     {"recvfrom", 1, 2, -1},
    {"strftime", 0, 1, -1}, {"strxfrm", 0, 2, -1},  {"strerror_r", 1, 2, -1},
    {"strlcpy", 0, 2, -1},  {"strlcat", 0, 2, -1},  {"qsort", 0, 1, 2},
    {"__builtin_memcpy", 0, 2, -1},         {"__builtin_memmove", 0, 2, -1},
    {"__builtin_memset", 0, 2, -1},         {"__builtin___memcpy_chk", 0, 2, -1},
    {"__builtin___memmove_chk", 0, 2, -1},  {"__builtin___memset_chk", 0, 2, -1},
    {"__builtin___mempcpy_chk", 0, 2, -1},  {"__builtin___strncpy_chk", 0, 2, -1},
    {"__builtin___stpncpy_chk", 0, 2, -1},  {"__builtin___snprintf_chk", 0, 1, -1},
    {"__builtin___vsnprintf_chk", 0, 1, -1}, {"__read_chk", 1, 2, -1},
    {"__pread_chk", 1, 2, -1},              {"__fgets_chk", 0, 2, -1},
    {"__fread_chk", 0, 3, 2},               {"__recv_chk", 1, 2, -1},
    {"__recvfrom_chk", 1, 2, -1},
};

static bool filler_of(const char *name, int *dest, int *count, int *unit)
{
    for (size_t i = 0; i < sizeof fillers / sizeof *fillers; i++) {
        if (strcmp(fillers[i].name, name) == 0) {
            *dest = fillers[i].dest;
            *count = fillers[i].count;
            *unit = fillers[i].unit;
            return true;
        }
    }
    return false;
}

/* Library calls that fill a destination (argument 0) as far as their data
** goes: the ones with a checked version in libptm (ptm_local_<name>), by
** the name the call is written with. */
static const char *const unbounded[] = {"strcpy", "stpcpy", "strcat", "strncat", "sprintf",
                                        "vsprintf"};

static bool is_unbounded_writer(const char *name)
{
    static const char *const also[] = {
        "__builtin_strcpy", "__builtin_stpcpy", "__builtin_strcat", "__builtin_strncat",
        "__builtin_sprintf", "__builtin_vsprintf", "__builtin___strcpy_chk",
        "__builtin___stpcpy_chk", "__builtin___strcat_chk", "__builtin___strncat_chk",
        "__builtin___sprintf_chk", "__builtin___vsprintf_chk"};
    for (size_t i = 0; i < sizeof unbounded / sizeof *unbounded; i++)
        if (strcmp(unbounded[i], name) == 0)
            return true;
    for (size_t i = 0; i < sizeof also / sizeof *also; i++)
        if (strcmp(also[i], name) == 0)
            return true;
    return false;
}

/* constant_of: e's value when it is an integer constant expression. */
static bool constant_of(CXCursor e, long long *v)
{
    CXEvalResult r = clang_Cursor_Evaluate(e);
    if (!r)
        return false;
    bool yes = clang_EvalResult_getKind(r) == CXEval_Int;
    if (yes && clang_EvalResult_isUnsignedInt(r))
        yes = (*v = (long long)clang_EvalResult_getAsUnsigned(r)) >= 0;
    else if (yes)
        *v = clang_EvalResult_getAsLongLong(r);
    clang_EvalResult_dispose(r);
    return yes;
}

/* fill_inside: a call fills, from the start of X (buf, &obj), a constant
** length that X holds (snprintf(buf, sizeof buf, ...)): nothing to check. */
static bool fill_inside(CXCursor dest, CXCursor root, CXCursor count, CXCursor unit)
{
    CXCursor e = strip(dest);
    if (clang_getCursorKind(e) == CXCursor_UnaryOperator) {
        char *op = op_spelling_unary(e);
        bool addr = strcmp(op, "&") == 0;
        free(op);
        Kids k = kids_of(e);
        if (!addr || k.n != 1)
            return false;
        e = strip(k.c[0]);
    }
    long long n, u = 1, size = clang_Type_getSizeOf(clang_getCursorType(root));
    return clang_getCursorKind(e) == CXCursor_DeclRefExpr &&
           clang_equalCursors(clang_getCursorReferenced(e), root) && size > 0 &&
           constant_of(count, &n) && n >= 0 &&
           (clang_Cursor_isNull(unit) || constant_of(unit, &u)) && u >= 0 &&
           (u == 0 || n <= size / u);
}

/* bounds_fill: a filler's count is checked against the room its local
** destination has. */
static void bounds_fill(Bounds *b, CXCursor call, int di, int ci, int ui)
{
    int n = clang_Cursor_getNumArguments(call);
    if (di >= n || ci >= n || ui >= n)
        return;
    CXCursor dest = clang_Cursor_getArgument(call, (unsigned)di), root;
    CXCursor count = clang_Cursor_getArgument(call, (unsigned)ci);
    if (!local_dest(dest, &root) || !checkable_root(b, root, call))
        return;
    CXCursor unit = ui >= 0 ? clang_Cursor_getArgument(call, (unsigned)ui) : clang_getNullCursor();
    if (fill_inside(dest, root, count, unit))
        return;
    size_t ds, dt, cs, ct, us = 0, ut = 0;
    if (!bounds_span(b, dest, &ds, &dt) || (ui >= 0 && !bounds_span(b, unit, &us, &ut)) ||
        !bounds_span(b, count, &cs, &ct)) {
        bounds_block(b, call, "fills a local array inside a macro");
        return;
    }
    if (!pure_local(dest) || (ui >= 0 && !pure_local(unit))) {
        bounds_block(b, call, "fills a local array at a place it computes with side effects or "
                              "from memory other than its locals");
        return;
    }
    if (!once(&b->r, cs, ct, "bounds"))
        return;
    int k = ++b->r.seq;
    char *x = spelling(root);
    char *place = bounds_place(b, x, call);
    char *d = xstrndup(b->r.file->text + ds, dt - ds);
    char *u = ui >= 0 ? xstrndup(b->r.file->text + us, ut - us) : xstrdup("1");
    bounds_add(b, cs, -BOUNDS_ORDER + k, format("__extension__({ __auto_type __ptm_b%d = (", k));
    bounds_add(b, ct, BOUNDS_ORDER - k,
               format("); ptm_local_fit((__SIZE_TYPE__)__ptm_b%d, (%s), (%s), &%s, sizeof %s, %s); "
                      "__ptm_b%d; })",
                      k, u, d, x, x, place, k));
    free(u);
    free(d);
    free(place);
    free(x);
}

/* unbounded_name: where the name of an unbounded writer's call is written
** (*at) and its '(' (*open), in the body's own text: strcpy(, or sprintf(
** expanding to a fortified builtin.  False when it is not written there
** (from a macro's body), or the call was already renamed. */
static bool unbounded_name(Redo *r, CXCursor call, size_t *at, size_t *open)
{
    const char *t = r->file->text;
    unsigned a;
    CXFile cf;
    CXSourceLocation start = clang_getRangeStart(clang_getCursorExtent(call));
    clang_getSpellingLocation(start, &cf, NULL, NULL, &a);
    if (!cf || !clang_File_isEqual(cf, r->cxfile) || a < r->lo || a >= r->hi)
        clang_getExpansionLocation(start, &cf, NULL, NULL, &a);
    if (!cf || !clang_File_isEqual(cf, r->cxfile) || a < r->lo || a >= r->hi)
        return false;
    for (size_t i = 0; i < sizeof unbounded / sizeof *unbounded; i++) {
        size_t len = strlen(unbounded[i]);
        if (a + len > r->hi || strncmp(t + a, unbounded[i], len) != 0)
            continue;
        size_t o = skip_space(r->file, a + len, r->hi);
        if (o >= r->hi || t[o] != '(')
            return false;
        *at = a;
        *open = o;
        return once(r, a, a, "name");
    }
    return false;
}

/* bounds_unbounded: strcpy(buf, s) and its kind, into a local, become
** their checked versions: the name as written gets the prefix ptm_local_,
** and the local object comes first. */
static void bounds_unbounded(Bounds *b, CXCursor call)
{
    CXCursor root;
    if (clang_Cursor_getNumArguments(call) < 1 ||
        !local_dest(clang_Cursor_getArgument(call, 0), &root) || !checkable_root(b, root, call))
        return;
    size_t at, open;
    if (!unbounded_name(&b->r, call, &at, &open)) {
        bounds_block(b, call, "fills a local array with a call written inside a macro");
        return;
    }
    char *x = spelling(root);
    char *place = bounds_place(b, x, call);
    bounds_add(b, at, 2 * BOUNDS_ORDER, xstrdup("ptm_local_"));
    bounds_add(b, open + 1, -2 * BOUNDS_ORDER, format("&%s, sizeof %s, %s, ", x, x, place));
    free(place);
    free(x);
}

/* array_room: the size of the array arg decays from (a local, a member,
** a global), or -1 when it is not an array of constant size. */
static long long array_room(CXCursor arg)
{
    if (!is_array_object(arg))
        return -1;
    CXType t = clang_getCanonicalType(clang_getCursorType(strip(arg)));
    return t.kind == CXType_ConstantArray ? clang_Type_getSizeOf(t) : -1;
}

/* scan_fits: whether each char array a scanf-family call fills (its
** format a literal, its arguments from first on) is given a width the
** array holds: "%63s" into char[64].  Other conversions write an object
** of their argument's type. */
static bool scan_fits(CXCursor call, int first)
{
    int n = clang_Cursor_getNumArguments(call);
    if (first < 1 || first > n)
        return false;
    CXCursor fmt = strip(clang_Cursor_getArgument(call, (unsigned)first - 1));
    if (clang_getCursorKind(fmt) != CXCursor_StringLiteral)
        return false;
    char *lit = spelling(fmt);
    const char *f = lit;
    bool fits = *f == '"' && !strchr(f, '\\');
    int arg = first;
    for (f++; fits && *f && *f != '"'; f++) {
        if (*f != '%')
            continue;
        f++;
        if (*f == '%')
            continue;
        bool assign = *f != '*';
        if (!assign)
            f++;
        long long width = -1;
        if (*f >= '0' && *f <= '9')
            width = strtoll(f, (char **)&f, 10);
        if (*f == '$') {
            fits = false; /* positional arguments: not followed */
            break;
        }
        bool wide = false, alloc = false;
        while (*f && strchr("hljztLqm", *f)) {
            wide |= *f == 'l';
            alloc |= *f == 'm';
            f++;
        }
        char conv = *f;
        if (conv == '[') {
            f++;
            if (*f == '^')
                f++;
            if (*f == ']')
                f++;
            while (*f && *f != ']' && *f != '"')
                f++;
        }
        if (!conv || conv == '"') {
            fits = false;
            break;
        }
        if (!assign)
            continue;
        if (conv == 'n') {
            arg++; /* an int the count goes to */
            continue;
        }
        if (arg >= n) {
            fits = false;
            break;
        }
        CXCursor a = clang_Cursor_getArgument(call, (unsigned)arg++);
        if ((conv == 's' || conv == '[' || conv == 'c') && !wide && !alloc) {
            long long room = array_room(a);
            long long need = conv == 'c' ? (width < 0 ? 1 : width) : width + 1;
            if (room < 0 && need == 1 && is_pointer_type(clang_getCursorType(strip(a))))
                room = 1; /* one char, into the char pointed to: &ch */
            fits = width >= 0 || conv == 'c' ? room >= need && room > 0 : false;
        }
    }
    free(lit);
    return fits;
}

/* bounds_call: what a library call writes into a local array. */
static void bounds_call(Bounds *b, CXCursor call, const Callees *callees)
{
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl ||
        (callees && callees->is_clone(callees->ctx, callee)))
        return;
    char *name = spelling(callee);
    if (strcmp(name, "alloca") == 0 || strncmp(name, "__builtin_alloca", 16) == 0)
        bounds_block(b, call, "calls %s, which takes stack of a size it computes", name);
    for (size_t i = 0; i < sizeof fillers / sizeof *fillers; i++)
        if (strcmp(fillers[i].name, name) == 0)
            bounds_fill(b, call, fillers[i].dest, fillers[i].count, fillers[i].unit);
    if (is_unbounded_writer(name))
        bounds_unbounded(b, call);
    /* sscanf's %s fills a char array as far as its input goes, wherever
    ** the array is: only a width that the array holds bounds it. */
    unsigned written = call_written(name);
    int first = written == CALL_ALL_FROM(2) ? 2 : written == CALL_ALL_FROM(1);
    if (first && !scan_fits(call, first))
        bounds_block(b, call, "%s fills a char array as far as its input goes", name);
    free(name);
}

static enum CXChildVisitResult bounds_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    void **ctx = data;
    Bounds *b = ctx[0];
    const Callees *callees = ctx[1];
    switch (clang_getCursorKind(c)) {
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(c);
        if (strcmp(op, "=") == 0) {
            Kids k = kids_of(c);
            if (k.n >= 1)
                bounds_store(b, k.c[0], c);
        }
        free(op);
        break;
    }
    case CXCursor_CompoundAssignOperator: {
        Kids k = kids_of(c);
        if (k.n >= 1)
            bounds_store(b, k.c[0], c);
        break;
    }
    case CXCursor_UnaryOperator:
        if (is_increment(c)) {
            Kids k = kids_of(c);
            if (k.n >= 1)
                bounds_store(b, k.c[0], c);
        }
        break;
    case CXCursor_CallExpr:
        bounds_call(b, c, callees);
        break;
    case CXCursor_VarDecl: {
        enum CX_StorageClass sc = clang_Cursor_getStorageClass(c);
        if (sc != CX_SC_Static && sc != CX_SC_Extern &&
            clang_getCanonicalType(clang_getCursorType(c)).kind == CXType_VariableArray)
            bounds_block(b, c, "declares a variable-length array");
        break;
    }
    case CXCursor_UnaryExpr: /* sizeof, _Alignof: not evaluated */
        return CXChildVisit_Continue;
    default:
        break;
    }
    return CXChildVisit_Recurse;
}

/* bounds_checks: the checks of fn's stores into local arrays (out->bounds),
** or why it cannot run inline (out->blocker and out->redo_blocker). */
static void bounds_checks(CXCursor body, SrcFile *file, const Callees *callees, InlineFacts *out)
{
    Bounds b = {.r = {out, file, NULL, callees, 0, false, CXCursor_FirstInvalid, NULL, 0, 0, 0}};
    CXSourceRange ext = clang_getCursorExtent(body);
    unsigned lo, hi;
    clang_getExpansionLocation(clang_getRangeStart(ext), &b.r.cxfile, NULL, NULL, &lo);
    clang_getExpansionLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &hi);
    b.r.lo = lo;
    b.r.hi = hi;
    void *ctx[2] = {&b, (void *)callees};
    clang_visitChildren(body, bounds_visit, ctx);
    free(b.r.done);
}

/* ------------------------------------------------------------------------
** The local objects of an instrumented clone
**
** The write buffer writes in place what the mirror owns.  Of the stack, an
** instrumented mirror owns its local objects, not its frames: a store
** through a pointer past a local must not reach a return address, a saved
** register or the executor's frame.  So each instrumented clone tells the
** runtime which objects are its own: at entry
**     unsigned __ptm_frame __attribute__((__cleanup__(ptm_redo_unframe))) = ptm_redo_frame();
** (its parameters whose address it takes, or which are structs, registered
** there too) and, after the declaration of each local array, struct or
** union, or local whose address it takes, ptm_redo_local(&x, sizeof x);.
** A store through a pointer into the stack elsewhere ends the mirror.
*/

typedef struct Reg {
    Redo *r;
    size_t lo, hi;
    CXCursor *taken; /* locals whose address the function takes */
    int ntaken;
    size_t stmt_end; /* register_decl: where its registrations go */
    bool placed;     /* ... and whether they can */
} Reg;

static enum CXChildVisitResult taken_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Reg *g = data;
    /* An unnamed object a pointer reaches cannot be registered. */
    enum CXTypeKind k = clang_getCanonicalType(clang_getCursorType(c)).kind;
    if (clang_getCursorKind(c) == CXCursor_CompoundLiteralExpr &&
        (k == CXType_ConstantArray || k == CXType_IncompleteArray ||
         clang_getCursorKind(parent) == CXCursor_UnaryOperator))
        redo_block(g->r, c, "takes the address of a compound literal");
    if (clang_getCursorKind(c) == CXCursor_UnaryOperator) {
        char *op = op_spelling_unary(c);
        Kids k = kids_of(c);
        CXCursor root;
        bool computed;
        if (strcmp(op, "&") == 0 && k.n == 1 && is_local_object(k.c[0]) &&
            local_root(k.c[0], &root, &computed)) {
            g->taken = xrealloc(g->taken, sizeof *g->taken * (size_t)(g->ntaken + 1));
            g->taken[g->ntaken++] = root;
        }
        free(op);
    }
    return CXChildVisit_Recurse;
}

/* needs_register: decl is a local object a pointer may reach. */
static bool needs_register(Reg *g, CXCursor decl)
{
    enum CX_StorageClass sc = clang_Cursor_getStorageClass(decl);
    if (sc == CX_SC_Register || sc == CX_SC_Static || sc == CX_SC_Extern || !is_own_local(decl))
        return false;
    enum CXTypeKind k = clang_getCanonicalType(clang_getCursorType(decl)).kind;
    if (k == CXType_ConstantArray || k == CXType_Record)
        return clang_getCursorKind(decl) == CXCursor_VarDecl || k == CXType_Record;
    for (int i = 0; i < g->ntaken; i++)
        if (clang_equalCursors(g->taken[i], decl))
            return true;
    return false;
}

/* register_decl: the registration of one object a declaration statement
** declares, after the statement (g->stmt_end). */
static enum CXChildVisitResult register_decl(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Reg *g = data;
    if (clang_getCursorKind(c) != CXCursor_VarDecl || !needs_register(g, c))
        return CXChildVisit_Continue;
    if (!g->placed) {
        redo_block(g->r, c, "declares a local object where ptmcc cannot register it");
        return CXChildVisit_Break;
    }
    char *x = spelling(c);
    redo_add(g->r, g->stmt_end, 0, INT_MIN + 1, format(" ptm_redo_local(&%s, sizeof %s);", x, x));
    free(x);
    return CXChildVisit_Continue;
}

/* register_decls: the registrations of the objects a declaration
** statement (parent: the statement holding it) declares. */
static void register_decls(Reg *g, CXCursor stmt, CXCursor parent)
{
    CXSourceRange ext = clang_getCursorExtent(stmt);
    unsigned s, e, ss, se;
    CXFile fs, fe;
    clang_getExpansionLocation(clang_getRangeStart(ext), &fs, NULL, NULL, &s);
    clang_getExpansionLocation(clang_getRangeEnd(ext), &fe, NULL, NULL, &e);
    clang_getSpellingLocation(clang_getRangeStart(ext), NULL, NULL, NULL, &ss);
    clang_getSpellingLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &se);
    /* After the declaration, as a statement of its block (not in a for's
    ** first clause, not from a macro). */
    bool placed = clang_getCursorKind(parent) == CXCursor_CompoundStmt && fs && fe &&
                  clang_File_isEqual(fs, g->r->cxfile) && clang_File_isEqual(fe, g->r->cxfile) &&
                  s == ss && e == se && s >= g->lo && e <= g->hi;
    Reg one = *g;
    one.stmt_end = statement_end(g->r->file, e);
    one.placed = placed;
    clang_visitChildren(stmt, register_decl, &one);
}

static enum CXChildVisitResult register_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    if (clang_getCursorKind(c) == CXCursor_DeclStmt)
        register_decls(data, c, parent);
    return CXChildVisit_Recurse;
}

/* register_locals: the edits (in out->redo) by which fn's instrumented
** clone registers its objects, or why it cannot (out->redo_blocker). */
static void register_locals(CXCursor fn, CXCursor body, Redo *r)
{
    Reg g = {r, 0, 0, NULL, 0, 0, false};
    CXSourceRange ext = clang_getCursorExtent(body);
    unsigned lo, hi;
    clang_getExpansionLocation(clang_getRangeStart(ext), NULL, NULL, NULL, &lo);
    clang_getExpansionLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &hi);
    g.lo = lo;
    g.hi = hi;
    clang_visitChildren(body, taken_visit, &g);
    Buf entry = {0};
    buf_puts(&entry, " unsigned __ptm_frame __attribute__((__cleanup__(ptm_redo_unframe))) = "
                     "ptm_redo_frame();");
    int nargs = clang_Cursor_getNumArguments(fn);
    for (int i = 0; i < nargs; i++) {
        CXCursor p = clang_Cursor_getArgument(fn, (unsigned)i);
        if (needs_register(&g, p)) {
            char *x = spelling(p);
            buf_printf(&entry, " ptm_redo_local(&%s, sizeof %s);", x, x);
            free(x);
        }
    }
    redo_add(r, lo + 1, 0, INT_MIN + 1, entry.data);
    clang_visitChildren(body, register_visit, &g);
    free(g.taken);
}

void inline_facts(CXCursor fn, CXCursor body, SrcFile *file, const Callees *callees,
                  InlineFacts *out)
{
    Proof p = {out, file, fn};
    out->blocker = NULL;
    out->redo_blocker = NULL;
    out->redo = NULL;
    out->nredo = 0;
    out->bounds = NULL;
    out->nbounds = 0;
    bounds_checks(body, file, callees, out);
    clang_visitChildren(body, prove_visit, &p);
    out->local_stores_only = out->blocker == NULL;

    Redo r = {out, file, NULL, callees, 0, false, CXCursor_FirstInvalid, NULL, 0, 0, 0};
    unsigned lo, hi;
    clang_getExpansionLocation(clang_getRangeStart(clang_getCursorExtent(body)), &r.cxfile, NULL,
                               NULL, &lo);
    clang_getExpansionLocation(clang_getRangeEnd(clang_getCursorExtent(body)), NULL, NULL, NULL,
                               &hi);
    r.lo = lo;
    r.hi = hi;
    redo_walk(&r, body, USE_VALUE);
    if (!out->redo_blocker)
        register_locals(fn, body, &r);
    out->redo_ok = out->redo_blocker == NULL;
    free(r.done);

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
    free(f->redo_blocker);
    for (int i = 0; i < f->nredo; i++)
        free(f->redo[i].text);
    free(f->redo);
    for (int i = 0; i < f->nbounds; i++)
        free(f->bounds[i].text);
    free(f->bounds);
    *f = (InlineFacts){0};
}
