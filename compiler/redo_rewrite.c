/*
** redo_rewrite.c - the write-buffer rewrite of a mirror clone whose stores
** are not all local (prove.c): each access to memory other than its own
** locals goes through the write buffer of runtime/redo.c (ptm_redo_ld,
** ptm_redo_st, ptm_redo_own of ptm_gen.h), and the clone registers its own
** local objects with the runtime.  Its rules mirror runtime/redo.c's: what
** this file sends through the buffer, redo.c keeps until the decision.
**
** What cannot be rewritten (an access a macro's body names, inline
** assembly, a library call that changes library state) is the function's
** redo_blocker: its mirrors run in a fork.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

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

void redo_block_at(Redo *r, CXCursor at, const char *what)
{
    if (r->out->redo_blocker)
        return;
    unsigned line, col;
    src_line_col((SrcLoc){r->file, cursor_offset(at)}, &line, &col);
    r->out->redo_blocker = format("%s at %s:%u:%u", what, r->file->path, line, col);
    r->out->redo_blocker_off = cursor_offset(at);
}

static void redo_block(Redo *r, CXCursor at, const char *what)
{
    redo_block_at(r, at, what);
}

static void redo_add(Redo *r, size_t off, size_t len, int order, char *text)
{
    InlineFacts *f = r->out;
    f->redo = xrealloc(f->redo, sizeof *f->redo * (size_t)(f->nredo + 1));
    f->redo[f->nredo++] = (RedoEdit){off, len, order, text};
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

static void wrap_object(Redo *r, CXCursor e, const char *fn);

/* whole_use_in_body: e, just spanned at s, is a macro's whole use (G(L),
** TALLY) whose body's own text is its object: that range is recorded
** (stored or loaded) and the clone's redefinition wraps it, so that every
** access to it, whole use or inside another body, is wrapped once. */
static bool whole_use_in_body(Redo *r, CXCursor e, size_t s, bool store)
{
    CXFile sf;
    unsigned so;
    clang_getSpellingLocation(clang_getRangeStart(clang_getCursorExtent(e)), &sf, NULL, NULL, &so);
    return r->from_macro && (!sf || !clang_File_isEqual(sf, r->cxfile) || so != s) &&
           macro_body_access(r, strip_parens(e), store);
}

static void wrap_pointer(Redo *r, CXCursor p, const char *fn);

/* member_of_view: p->m, its member written in the function and its base
** a macro's whole use (G(L)->panic): the base, whose text is this access's
** alone, becomes a view of the object it points to, as a bit-field's
** does.  False: the member is a macro's too. */
static bool member_of_view(Redo *r, CXCursor e, CXCursor p, const char *fn)
{
    CXSourceLocation at = clang_getCursorLocation(e);
    CXFile ef, sf;
    unsigned eo, so;
    clang_getExpansionLocation(at, &ef, NULL, NULL, &eo);
    clang_getSpellingLocation(at, &sf, NULL, NULL, &so);
    size_t ps, pt;
    if (!ef || !sf || !clang_File_isEqual(ef, r->cxfile) || !clang_File_isEqual(sf, r->cxfile) ||
        eo != so || !span_postfix(r, p, &ps, &pt) || pt > eo)
        return false;
    wrap_pointer(r, p, fn);
    return true;
}

/* wrap_in_macro: e, spelled in a macro's body, is reached through the
** view of the smallest object enclosing it ((*view).i for val_(o).i) whose
** text is one body's range (macro_body.c) or can be placed in the
** function's text.  False: neither. */
static bool wrap_in_macro(Redo *r, CXCursor e, const char *fn)
{
    bool store = strcmp(fn, "ptm_redo_st") == 0;
    size_t s, t;
    for (int depth = 0; depth < 16; depth++) {
        Kids k = kids_of(e);
        enum CXCursorKind kind = clang_getCursorKind(e);
        /* One object, one range: a body's parentheses are not wrapped,
        ** what they hold is (a view inside a view would be a copy of it). */
        if (kind == CXCursor_ParenExpr && k.n == 1) {
            e = k.c[0];
        } else {
            if (macro_body_access(r, e, store))
                return true;
            if (kind != CXCursor_MemberRefExpr || k.n < 1)
                return false;
            if (is_pointer_type(clang_getCursorType(strip(k.c[0]))))
                return member_of_view(r, e, k.c[0], fn);
            e = k.c[0];
        }
        if (span(r, e, &s, &t)) {
            if (!is_local_object(e))
                wrap_object(r, e, fn);
            return true;
        }
    }
    return false;
}

/* one_view: [s, t), a macro's argument that the macro expands twice, once
** loaded and once stored (SETARG_B's (i) = ((i) & ...)), is one text: it
** gets one wrap, through ptm_redo_st, whose view reads back as well.  A
** load after the store is that view; a store after the load makes the
** load's wrap a store's.  True: [s, t) is already wrapped so. */
static bool one_view(Redo *r, CXCursor e, size_t s, size_t t, const char *fn)
{
    bool store = strcmp(fn, "ptm_redo_st") == 0;
    const char *other = store ? "ptm_redo_ld" : "ptm_redo_st";
    bool found = false;
    for (int i = 0; i < r->ndone && !found; i++)
        found = r->done[i].start == s && r->done[i].end == t && strcmp(r->done[i].kind, other) == 0;
    if (!found)
        return false;
    if (!store)
        return true;
    /* The load's closing edit at t, whose opening at s has the opposite order. */
    InlineFacts *f = r->out;
    for (int i = 0; i < f->nredo; i++) {
        RedoEdit *c = &f->redo[i];
        if (c->off != t || c->order >= 0 || !strstr(c->text, "ptm_redo_ld("))
            continue;
        for (int j = 0; j < f->nredo; j++)
            if (f->redo[j].off == s && f->redo[j].order == -c->order) {
                char *a = addr_name(-c->order);
                free(c->text);
                c->text = format("); (__typeof__(%s))ptm_redo_st(%s, sizeof *%s); }))", a, a, a);
                free(a);
                for (int k = 0; k < r->ndone; k++)
                    if (r->done[k].start == s && r->done[k].end == t &&
                        strcmp(r->done[k].kind, other) == 0)
                        r->done[k].kind = fn;
                return true;
            }
    }
    redo_block_at(r, e, "stores and loads a macro's argument");
    return true;
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
        r->macro_why = NULL;
        if ((strcmp(fn, "ptm_redo_ld") != 0 || !library_object(e)) && !wrap_in_macro(r, e, fn))
            redo_block(r, e, r->macro_why ? r->macro_why : "accesses memory inside a macro");
        return;
    }
    if (whole_use_in_body(r, e, s, strcmp(fn, "ptm_redo_st") == 0))
        return;
    if (r->from_macro && one_view(r, e, s, t, fn))
        return;
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
    if (!span_postfix(r, p, &s, &t)) {
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
    /* A macro's body may parenthesize the argument: l_sprintf((s), ...). */
    while (!span(r, arg, &s, &t) &&
           (clang_getCursorKind(arg) == CXCursor_ParenExpr ||
            clang_getCursorKind(arg) == CXCursor_UnexposedExpr) &&
           kids_of(arg).n == 1)
        arg = kids_of(arg).c[0];
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
    if (!span_postfix(r, arg, &s, &t) || !once(r, s, t, "string"))
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

/* is_unrouted_target: a store's target that is neither local (nor errno)
** nor an lvalue the rewrites route: _Generic(x, int: g),
** __builtin_choose_expr(1, g, h), __real__ g.  Such a store went to the
** host's object as written; the mirror forks instead. */
static bool is_unrouted_target(CXCursor e)
{
    return !is_lvalue(e) && !is_local_object(e) && !is_errno(e);
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

/* read_array: whether the array e decays into a library reader's view of
** it (redo_library_reads). */
static bool read_array(const Redo *r, CXCursor e)
{
    for (int i = 0; i < r->nread_arrays; i++)
        if (clang_equalCursors(r->read_arrays[i], e))
            return true;
    return false;
}

/* redo_lvalue: e, an lvalue read (or designated) in the function. */
static void redo_lvalue(Redo *r, CXCursor e, Use use)
{
    CXCursor s = strip_parens(e);
    if (is_system_variable(s))
        return;
    if (use != USE_NONE && is_array_object(s) && !read_array(r, s))
        macro_body_escape(r, s); /* it decays: a pointer into its view */
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

/* in_argument_of_use: whether c, spelled at rs, is an argument of a macro
** use that begins before it (GLOBAL(T, v) for v). */
static bool in_argument_of_use(CXCursor c, size_t rs)
{
    unsigned a;
    clang_getExpansionLocation(clang_getRangeStart(clang_getCursorExtent(c)), NULL, NULL, NULL,
                               &a);
    return a != rs;
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
    if (is_unrouted_target(lhs)) {
        redo_block(r, c, "stores to an lvalue the write buffer cannot route");
        free(op);
        return;
    }
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
    if (span(r, lhs, &ls, &le) && (!span(r, rhs, &rs, &re) || in_argument_of_use(rhs, rs))) {
        /* V ends inside a macro's body (acct->max = MAX(a, b)), or is an
        ** argument of a macro use (p->next = GLOBAL(T, list)), where the
        ** wrapper could not close: translate E first.  Only a call in V
        ** that merges E's block into a larger one could make this store
        ** miss the buffer's current copy. */
        wrap_object(r, lhs, "ptm_redo_st");
        redo_walk(r, lhs, USE_PLACE);
        redo_walk(r, rhs, USE_VALUE);
        free(op);
        return;
    }
    if (span(r, lhs, &ls, &le) && whole_use_in_body(r, lhs, ls, true)) {
        free(op);
        redo_walk(r, lhs, USE_PLACE);
        redo_walk(r, rhs, USE_VALUE);
        return;
    }
    if (!span(r, lhs, &ls, &le)) {
        /* Spelled in a macro's body: its redefinition stores in place. */
        free(op);
        if (!wrap_in_macro(r, lhs, "ptm_redo_st")) {
            redo_block(r, c, "stores to memory inside a macro");
            return;
        }
        redo_walk(r, lhs, USE_PLACE);
        redo_walk(r, rhs, USE_VALUE);
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
    if (is_unrouted_target(e)) {
        redo_block(r, c, "stores to an lvalue the write buffer cannot route");
        return;
    }
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
        else if (wrap_in_macro(r, e, "ptm_redo_st"))
            redo_walk(r, e, USE_PLACE);
        else
            redo_block(r, c, "stores to memory inside a macro");
        return;
    }
    if (whole_use_in_body(r, e, es, true)) {
        redo_walk(r, e, USE_PLACE);
        return;
    }
    span(r, e, &es, &ee);
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

/* body_array: the array an argument decays from is spelled in a macro's
** body (getstr(ts), #define getstr(ts) ((ts)->contents)): a view of it
** would be one of the body's ranges, which every expansion then reads
** through, while this one decays to a pointer into that view; and its
** declared size may be a struct hack's (char contents[1]).  Such an
** argument is the pointer it decays to: a writer's is checked as any
** pointer is (ptm_redo_fit, ptm_redo_own), a string reader gets its
** string's view (ptm_redo_str). */
static bool body_array(Redo *r, CXCursor array)
{
    size_t s, t;
    if (!span(r, array, &s, &t))
        return true;
    CXFile sf;
    unsigned so;
    clang_getSpellingLocation(clang_getRangeStart(clang_getCursorExtent(array)), &sf, NULL, NULL,
                              &so);
    return r->from_macro && (!sf || !clang_File_isEqual(sf, r->cxfile) || so != s);
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

static enum CXChildVisitResult last_field(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    if (clang_getCursorKind(c) == CXCursor_FieldDecl)
        *(CXCursor *)data = c;
    return CXChildVisit_Continue;
}

/* last_member: whether the array e is a struct's member that may be a
** struct hack (char contents[1], its last), whose declared size says
** nothing of what a reader reads. */
static bool last_member(CXCursor e)
{
    CXCursor s = strip_parens(e);
    if (clang_getCursorKind(s) != CXCursor_MemberRefExpr)
        return false;
    CXCursor field = clang_getCursorReferenced(s);
    CXCursor last = clang_getNullCursor();
    clang_visitChildren(clang_getCursorSemanticParent(field), last_field, &last);
    return clang_Cursor_isNull(last) || clang_equalCursors(last, field);
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
        if ((array_argument(arg, &array) || array_within(arg, &array)) &&
            !(is_string_pointer(arg) && body_array(r, array))) {
            wrap_object(r, array, "ptm_redo_ld");
            /* It decays into its own view, which the reader only reads
            ** (LUAI_THROW's _longjmp((c)->b, 1)): no escape, when the view
            ** is all there is (not a struct hack's last member). */
            if (!last_member(array)) {
                r->read_arrays = xrealloc(r->read_arrays,
                                          sizeof *r->read_arrays * (size_t)(r->nread_arrays + 1));
                r->read_arrays[r->nread_arrays++] = strip_parens(array);
            }
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

/* body_callee: under -fptm-mirror-all, a call through a pointer whose
** callee a user macro's body spells (callfrealloc's (*g->frealloc),
** resolve.c counts it in Func.nbody_indirects instead of an escape): the
** clone's redefinition of the macro sends it to ptm_clone_of; where it
** cannot, the clone is not instrumented (and the runtime forks a mirror
** that reaches it: it calls through a pointer, unbuffered). */
static void body_callee(Redo *r, CXCursor call)
{
    Kids k = kids_of(call);
    if (!front_mirror_all() || k.n < 1 || !macro_body_spells(k.c[0]))
        return;
    if (!macro_body_callee(r, k.c[0]))
        redo_block(r, call, "calls through a pointer that a macro's body spells where ptmcc "
                            "cannot wrap it");
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
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl) {
        body_callee(r, call);
        return true;
    }
    if (r->callees && r->callees->is_clone(r->callees->ctx, callee))
        return true;
    char *name = spelling(callee);
    if (is_unevaluated_builtin(name)) {
        /* va_start(ap, n), va_copy(ap, src), va_end(ap) store into ap as
        ** written: a va_list that is not a local (a global one) forks. */
        unsigned stored = call_written(name);
        int n = clang_Cursor_getNumArguments(call);
        for (int a = 0; a < n && a < 32; a++)
            if ((stored & (1u << a)) && !is_local_address(clang_Cursor_getArgument(call, (unsigned)a)))
                redo_block(r, call, "a va_list outside its locals is written");
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
            if ((array_argument(arg, &array) || array_within(arg, &array)) &&
                !body_array(r, array)) {
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

/* has_effect_visit: sets *(bool *)data and stops at a store, an increment
** or a call. */
static enum CXChildVisitResult has_effect_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    enum CXCursorKind k = clang_getCursorKind(c);
    bool effect = k == CXCursor_CompoundAssignOperator || k == CXCursor_CallExpr ||
                  (k == CXCursor_UnaryOperator && is_increment(c));
    if (k == CXCursor_BinaryOperator) {
        char *op = op_spelling_binary(c);
        effect = strcmp(op, "=") == 0;
        free(op);
    }
    if (effect) {
        *(bool *)data = true;
        return CXChildVisit_Break;
    }
    return CXChildVisit_Recurse;
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
        else if (strcmp(op, "&") == 0) {
            Kids k = kids_of(c);
            if (k.n == 1)
                macro_body_escape(r, k.c[0]);
            walk_children(r, c, USE_PLACE);
        }
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
    case CXCursor_UnaryExpr: {
        /* sizeof, _Alignof: not evaluated, but for a variable-length
        ** array's size (sizeof(char[++h])), which stored into the host's h
        ** as written: a store or call in one forks. */
        bool effect = false;
        clang_visitChildren(c, has_effect_visit, &effect);
        if (effect)
            redo_block(r, c, "stores or calls inside sizeof");
        return;
    }
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
    CXCursor stmt;   /* the declaration statement */
    bool stmt_macro; /* ... spelled in a macro's body, a statement of a block */
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
    char *x = spelling(c);
    if (!g->placed) {
        /* A macro's body declares it (op_bitwiseK's lua_Integer i1;): the
        ** clone's redefinition registers it there, in every expansion. */
        if (g->stmt_macro && front_mirror_all() &&
            macro_body_insert(g->r, g->stmt, c, format("ptm_redo_local(&%s, sizeof %s);", x, x))) {
            free(x);
            return CXChildVisit_Continue;
        }
        free(x);
        redo_block(g->r, c, "declares a local object where ptmcc cannot register it");
        return CXChildVisit_Break;
    }
    redo_add(g->r, g->stmt_end, 0, INT_MIN + 1, format(" ptm_redo_local(&%s, sizeof %s);", x, x));
    free(x);
    return CXChildVisit_Continue;
}

/* register_decls: the registrations of the objects a declaration
** statement (parent: the statement holding it) declares. */
static void register_decls(Reg *g, CXCursor stmt, CXCursor parent)
{
    unsigned s, e;
    /* After the declaration, as a statement of its block (not in a for's
    ** first clause, not from a macro). */
    bool written = written_in_file(stmt, g->r->cxfile, &s, &e);
    bool placed = clang_getCursorKind(parent) == CXCursor_CompoundStmt && written &&
                  s >= g->lo && e <= g->hi;
    Reg one = *g;
    one.stmt_end = statement_end(g->r->file, e);
    one.placed = placed;
    one.stmt = stmt;
    one.stmt_macro = !written && clang_getCursorKind(parent) == CXCursor_CompoundStmt &&
                     macro_body_spells(stmt);
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
    Reg g = {r, 0, 0, NULL, 0, 0, false, clang_getNullCursor(), false};
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

void redo_rewrite(CXCursor fn, CXCursor body, SrcFile *file, const Callees *callees,
                  InlineFacts *out)
{
    Redo r = redo_start(body, file, callees, out);
    redo_walk(&r, body, USE_VALUE);
    /* before the bodies are redefined: a registration may go into one */
    if (!out->redo_blocker)
        register_locals(fn, body, &r);
    macro_body_finish(&r);
    free(r.done);
    free(r.read_arrays);
}
