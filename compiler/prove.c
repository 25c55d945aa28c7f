/*
** prove.c - the proof, per function of a mirror's tree, that its stores
** stay in its own locals: then the mirror can run on the host's thread, in
** the host's memory, without a write reaching anything the host can see.
**
** A store is local when its target is an automatic variable of the
** function (not static, not extern) or a member or element of one, reached
** without going through a pointer.  Library calls that write memory through
** their arguments (calls.c knows which: memcpy, snprintf, fgets, sscanf
** ...) must be handed such local objects (a local array, &local).  The
** first store that is not local is the blocker, named in the trace and in
** the error for `mirror = inline`.  Calls are judged elsewhere (resolve.c): a
** call that may write is either a clone (proved on its own), a shim, or an
** unknown external (which needs the fork executor anyway).  An index or a
** length that would leave the local is checked at run time
** (bounds_rewrite.c).
**
** The proof is conservative: a mirror that passes a pointer to its local
** into a clone, which stores through it, is refused (the clone's store goes
** through a pointer).  Such mirrors run in the fork executor, or, when
** every other access can be, through the write buffer (redo_rewrite.c).
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
    p->out->blocker_off = cursor_offset(at);
}

static void prove_assignment(Proof *p, CXCursor c)
{
    Kids k = kids_of(c);
    if (k.n >= 1 && !is_local_object(k.c[0]) && !is_errno(k.c[0]))
        block(p, c, "stores outside its locals");
}

/* prove_call: a library call that writes through its arguments must be
** given local objects. */
static void prove_call(Proof *p, CXCursor call)
{
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl)
        return; /* through a pointer: resolve.c refuses those */
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
char *atomic_writer(const SrcFile *file, CXCursor c)
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
                  strncmp(word, "__c11_atomic_", 13) == 0 ||
                  strncmp(word, "__scoped_atomic_", 16) == 0;
    /* Only a value load (atomic_load, __atomic_load_n) stores nothing: the
    ** generic __atomic_load(p, ret, order) stores through ret.  Whichever
    ** pointers a writing operation is given (the object, __atomic_exchange's
    ** ret, a compare-exchange's expected) must all be local: clang keeps
    ** them in an order of its own, not the call's. */
    bool value_load = strstr(word, "load") && strcmp(word, "__atomic_load") != 0 &&
                      strcmp(word, "__scoped_atomic_load") != 0;
    if (atomic && !value_load && !strstr(word, "lock_free") && !strstr(word, "fence")) {
        Kids k = kids_of(c);
        if (k.n < 1)
            return word;
        for (int i = 0; i < k.n; i++) {
            CXType ty = clang_getCanonicalType(clang_getCursorType(k.c[i]));
            if (ty.kind == CXType_Pointer && !is_local_address(k.c[i]))
                return word;
        }
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

void prove_stores(CXCursor fn, CXCursor body, SrcFile *file, InlineFacts *out)
{
    Proof p = {out, file, fn};
    clang_visitChildren(body, prove_visit, &p);
}
