/*
** cursor.c - the libclang cursors the inline phases look at: their
** spelling and offset, their first children, and what an expression
** designates: a local object of the function, its address, errno, a
** bit-field; where a statement ends.
**
** The proof (prove.c), the cancellation points (polls.c), the write-buffer
** rewrite (redo_rewrite.c) and the bounds checks (bounds_rewrite.c) ask
** the same questions of the same trees: they are answered once, here.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

char *spelling(CXCursor c)
{
    CXString s = clang_getCursorSpelling(c);
    char *r = xstrdup(clang_getCString(s) ? clang_getCString(s) : "");
    clang_disposeString(s);
    return r;
}

/* cursor_offset: the expansion offset of a cursor in the function's file. */
size_t cursor_offset(CXCursor c)
{
    unsigned off;
    clang_getExpansionLocation(clang_getCursorLocation(c), NULL, NULL, NULL, &off);
    return off;
}

/* reason_at: "<what> at file:line:col", what formatted from fmt and ap,
** at cursor at of file.  Owned by the caller. */
char *reason_at(SrcFile *file, CXCursor at, const char *fmt, va_list ap)
{
    char *what = NULL;
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    unsigned line, col;
    src_line_col((SrcLoc){file, cursor_offset(at)}, &line, &col);
    char *why = format("%s at %s:%u:%u", what ? what : "?", file->path, line, col);
    free(what);
    return why;
}

static enum CXChildVisitResult collect(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Kids *k = data;
    if (k->n < 4)
        k->c[k->n] = c;
    k->n++;
    return CXChildVisit_Continue;
}

Kids kids_of(CXCursor c)
{
    Kids k = {.n = 0};
    clang_visitChildren(c, collect, &k);
    return k;
}

/* strip_parens: looks through parentheses. */
CXCursor strip_parens(CXCursor c)
{
    for (int i = 0; i < 64 && clang_getCursorKind(c) == CXCursor_ParenExpr; i++) {
        Kids ks = kids_of(c);
        if (ks.n != 1)
            return c;
        c = ks.c[0];
    }
    return c;
}

/* strip: looks through parentheses and implicit casts.  An unexposed
** expression of several operands is not a cast: __builtin_choose_expr(1,
** g, l) is g, not its last operand l (taking it so proved a store to the
** host's g local), and an atomic operation is not its last operand. */
CXCursor strip(CXCursor c)
{
    for (int i = 0; i < 64; i++) {
        enum CXCursorKind k = clang_getCursorKind(c);
        if (k != CXCursor_ParenExpr && k != CXCursor_UnexposedExpr && k != CXCursor_CStyleCastExpr)
            return c;
        Kids ks = kids_of(c);
        if (ks.n < 1 || (k == CXCursor_UnexposedExpr && ks.n > 1))
            return c;
        c = ks.c[ks.n > 4 ? 3 : ks.n - 1];
    }
    return c;
}

/* is_own_local: whether a declaration is an automatic variable of the
** function being proved (a parameter counts: its value is the frame's). */
bool is_own_local(CXCursor decl)
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

bool is_pointer_type(CXType t)
{
    CXType c = clang_getCanonicalType(t);
    return c.kind == CXType_Pointer || c.kind == CXType_BlockPointer;
}

/* is_array_object: whether e is an array object (not a pointer).  A
** parameter declared as an array is a pointer (C adjusts it), though
** libclang reports the type as written. */
bool is_array_object(CXCursor e)
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
/* is_address_of_local: e is &x, x a local object. */
static bool is_address_of_local(CXCursor e)
{
    e = strip(e);
    if (clang_getCursorKind(e) != CXCursor_UnaryOperator)
        return false;
    CXString op = clang_getUnaryOperatorKindSpelling(clang_getCursorUnaryOperatorKind(e));
    bool addr = strcmp(clang_getCString(op), "&") == 0;
    clang_disposeString(op);
    Kids k = kids_of(e);
    return addr && k.n == 1 && is_local_object(k.c[0]);
}

bool is_local_object(CXCursor e)
{
    e = strip(e);
    switch (clang_getCursorKind(e)) {
    case CXCursor_DeclRefExpr:
        return is_own_local(clang_getCursorReferenced(e));
    case CXCursor_MemberRefExpr: {
        Kids k = kids_of(e);
        if (k.n < 1)
            return false;
        /* base->f goes through a pointer; base.f does not, nor (&x)->f,
        ** which is x.f (a macro's (c)->b given &lj) */
        CXCursor base = strip(k.c[0]);
        if (is_pointer_type(clang_getCursorType(base)))
            return is_address_of_local(base);
        return is_local_object(base);
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
bool is_null_constant(CXCursor e)
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
bool is_local_address(CXCursor e)
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
bool is_errno(CXCursor e)
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

bool is_increment(CXCursor c)
{
    CXString op = clang_getUnaryOperatorKindSpelling(clang_getCursorUnaryOperatorKind(c));
    const char *s = clang_getCString(op);
    bool inc = strcmp(s, "++") == 0 || strcmp(s, "--") == 0;
    clang_disposeString(op);
    return inc;
}

/* statement_end: where a statement that ends at e really ends: clang's
** extents leave out the ';' of an expression, return, break ... */
size_t statement_end(const SrcFile *file, size_t e)
{
    size_t i = e;
    while (i < file->len && (file->text[i] == ' ' || file->text[i] == '\t' ||
                             file->text[i] == '\n' || file->text[i] == '\r'))
        i++;
    return i < file->len && file->text[i] == ';' ? i + 1 : e;
}

char *op_spelling_unary(CXCursor c)
{
    CXString s = clang_getUnaryOperatorKindSpelling(clang_getCursorUnaryOperatorKind(c));
    char *r = xstrdup(clang_getCString(s));
    clang_disposeString(s);
    return r;
}

char *op_spelling_binary(CXCursor c)
{
    CXString s = clang_getBinaryOperatorKindSpelling(clang_getCursorBinaryOperatorKind(c));
    char *r = xstrdup(clang_getCString(s));
    clang_disposeString(s);
    return r;
}

/* is_bit_field: e is a member access of a bit-field. */
bool is_bit_field(CXCursor e)
{
    e = strip_parens(e);
    return clang_getCursorKind(e) == CXCursor_MemberRefExpr &&
           clang_Cursor_isBitField(clang_getCursorReferenced(e));
}
