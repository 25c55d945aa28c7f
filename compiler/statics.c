/*
** statics.c - a mirror's function-local statics: shared with its clone by
** moving them out to file scope (a hoist, renamed in both), when their
** type and initializer can be written there; else each clone keeps a copy
** of its own, and the user is told.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* in_body: whether cursor c is declared inside the body being scanned. */
static bool in_body(BodyScan *b, CXCursor c)
{
    size_t off;
    return expansion_in(clang_getCursorLocation(c), b->file, &off) && off >= b->body_start &&
           off < b->body_end;
}

static Local *find_local(BodyScan *b, CXCursor var)
{
    for (int i = 0; i < b->nlocals; i++)
        if (clang_equalCursors(b->locals[i].var, var))
            return &b->locals[i];
    return NULL;
}

/* type_is_local: whether t (through pointers and arrays) names a type
** declared inside the body, which file scope cannot see. */
static bool type_is_local(BodyScan *b, CXType t)
{
    for (int depth = 0; depth < 32; depth++) {
        CXCursor d = clang_getTypeDeclaration(t);
        if (!clang_Cursor_isNull(d) && in_body(b, d))
            return true;
        CXType c = clang_getCanonicalType(t);
        d = clang_getTypeDeclaration(c);
        if (!clang_Cursor_isNull(d) && in_body(b, d))
            return true;
        if (c.kind == CXType_Pointer)
            t = clang_getPointeeType(c);
        else if (is_array_kind(c.kind))
            t = clang_getArrayElementType(c);
        else
            return false;
    }
    return false;
}

typedef struct InitCheck {
    BodyScan *b;
    CXCursor var;        /* the static itself: it may refer to itself */
    bool local;
} InitCheck;

/* check_init: whether a static's declaration refers to something declared
** in the body (a local type, enum constant or variable, or a label: a
** computed-goto table), apart from the statics moved out before it. */
static enum CXChildVisitResult check_init(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    InitCheck *ic = data;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_AddrLabelExpr) {
        ic->local = true;
        return CXChildVisit_Break;
    }
    if (k == CXCursor_DeclRefExpr || k == CXCursor_TypeRef) {
        CXCursor ref = clang_getCursorReferenced(c);
        Local *l = clang_Cursor_isNull(ref) ? NULL : find_local(ic->b, ref);
        bool moved = (l && !l->why) || clang_equalCursors(ref, ic->var);
        if (!clang_Cursor_isNull(ref) && in_body(ic->b, ref) && !moved) {
            ic->local = true;
            return CXChildVisit_Break;
        }
    }
    return CXChildVisit_Recurse;
}

static enum CXChildVisitResult count_vars(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    if (clang_getCursorKind(c) == CXCursor_VarDecl)
        ++*(int *)data;
    return CXChildVisit_Continue;
}

/* uses_macro_defined_after: whether [s, e) of the main file uses a macro
** that the file defines at or after offset from (inside the function, as
** SQLite's sqlite3_os_init defines UNIXVFS for its table): above the
** function the macro does not exist yet. */
static bool uses_macro_defined_after(BodyScan *b, size_t s, size_t e, size_t from)
{
    for (int i = 0; i < b->fr->nexps; i++) {
        const Expansion *x = &b->fr->exps[i];
        size_t def;
        if (x->start >= s && x->end <= e && !clang_Cursor_isNull(x->def) &&
            spelling_in(clang_getCursorLocation(x->def), b->file, &def) && def >= from)
            return true;
    }
    return false;
}

/* why_not_hoisted: why the static var, declared by decl_stmt, cannot move
** to file scope; NULL when it can.  OUT: l->h's offsets. */
static const char *why_not_hoisted(BodyScan *b, CXCursor var, CXCursor decl_stmt, Local *l)
{
    if (b->f->file != b->fr->main)
        return "it is defined in a header, which ptmcc does not rewrite";
    int nvars = 0;
    if (clang_getCursorKind(decl_stmt) == CXCursor_DeclStmt)
        clang_visitChildren(decl_stmt, count_vars, &nvars);
    if (nvars != 1)
        return "its declaration declares several variables";
    CXSourceRange r = clang_getCursorExtent(decl_stmt);
    size_t s, e, s2, e2, name_exp, name_sp;
    if (!expansion_in(clang_getRangeStart(r), b->file, &s) ||
        !expansion_in(clang_getRangeEnd(r), b->file, &e) ||
        !spelling_in(clang_getRangeStart(r), b->file, &s2) ||
        !spelling_in(clang_getRangeEnd(r), b->file, &e2) || s != s2 || e != e2 ||
        !expansion_in(clang_getCursorLocation(var), b->file, &name_exp) ||
        !spelling_in(clang_getCursorLocation(var), b->file, &name_sp) || name_exp != name_sp ||
        e > b->f->file->len || e == 0 || b->f->file->text[e - 1] != ';')
        return "its declaration comes from a macro";
    if (uses_macro_defined_after(b, s, e, b->f->start))
        return "it uses a macro defined inside the function";
    if (type_is_local(b, clang_getCursorType(var)))
        return "its type is declared inside the function";
    InitCheck ic = {b, var, false};
    clang_visitChildren(var, check_init, &ic);
    if (ic.local)
        return "its declaration refers to names declared inside the function";
    l->h.decl_off = s;
    l->h.decl_end = e;
    l->h.name_off = name_exp;
    return NULL;
}

/* hoisted_name: f__ptm_static_name, numbered when f has two of that name. */
static char *hoisted_name(BodyScan *b, const char *name)
{
    char *n = format("%s__ptm_static_%s", b->f->name, name);
    for (int k = 2;; k++) {
        bool taken = false;
        for (int i = 0; i < b->nlocals && !taken; i++)
            taken = b->locals[i].h.new_name && strcmp(b->locals[i].h.new_name, n) == 0;
        if (!taken)
            return n;
        free(n);
        n = format("%s__ptm_static_%s_%d", b->f->name, name, k);
    }
}

void scan_local_static(BodyScan *b, CXCursor var, CXCursor parent)
{
    b->locals = xrealloc(b->locals, sizeof *b->locals * (size_t)(b->nlocals + 1));
    Local *l = &b->locals[b->nlocals];
    *l = (Local){var, {0}, NULL};
    l->h.name = text_of(clang_getCursorSpelling(var));
    l->why = why_not_hoisted(b, var, parent, l);
    l->h.new_name = hoisted_name(b, l->h.name);
    b->nlocals++;
}

/* scan_local_use: a use of a variable; a static's uses are renamed, which
** needs them spelled in the body. */
void scan_local_use(BodyScan *b, CXCursor use, CXCursor var)
{
    Local *l = find_local(b, var);
    if (!l || l->why)
        return;
    size_t off, len = strlen(l->h.name);
    if (!spelling_in(clang_getCursorLocation(use), b->file, &off) || off < b->body_start ||
        off + len > b->body_end || memcmp(b->f->file->text + off, l->h.name, len) != 0) {
        l->why = "it is used inside a macro's body";
        return;
    }
    l->h.refs = xrealloc(l->h.refs, sizeof *l->h.refs * (size_t)(l->h.nrefs + 1));
    l->h.refs[l->h.nrefs++] = off;
}

/* copy_is_the_same: whether the static var is const (an array of const
** elements included) and not volatile.  The program cannot change such an
** object, so a copy per clone holds what the primary's holds, and when its
** initializer takes a label's address (a computed-goto table), the clone's
** copy must be its own. */
static bool copy_is_the_same(CXCursor var)
{
    /* Clang's canonical array types may carry the elements' qualifiers on
    ** the array itself: look at every level. */
    CXType t = clang_getCanonicalType(clang_getCursorType(var));
    bool is_const = false, is_volatile = false;
    for (;;) {
        is_const |= clang_isConstQualifiedType(t) != 0;
        is_volatile |= clang_isVolatileQualifiedType(t) != 0;
        if (t.kind != CXType_ConstantArray && t.kind != CXType_IncompleteArray)
            return is_const && !is_volatile;
        t = clang_getCanonicalType(clang_getArrayElementType(t));
    }
}

/* finish_locals: the statics that can move out become f's hoists; the
** others keep a copy per clone, which the user is told about unless the
** copy cannot differ. */
void finish_locals(BodyScan *b)
{
    Func *f = b->f;
    for (int i = 0; i < b->nlocals; i++) {
        Local *l = &b->locals[i];
        if (!l->why) {
            f->hoists = xrealloc(f->hoists, sizeof *f->hoists * (size_t)(f->nhoists + 1));
            f->hoists[f->nhoists++] = l->h;
            continue;
        }
        if (!copy_is_the_same(l->var)) {
            warning_at(W_STATIC_COPY, loc_of(b->fr, l->var), strlen(l->h.name),
                       "the mirror clone of '%s' gets its own copy of static variable '%s': "
                       "the mirror sees its initial value, not the primary's",
                       f->name, l->h.name);
            note_at(loc_of(b->fr, l->var), strlen(l->h.name),
                    "ptmcc shares a function's static variables with its mirror by moving them "
                    "to file scope, but cannot move '%s': %s", l->h.name, l->why);
        }
        free(l->h.name);
        free(l->h.new_name);
        free(l->h.refs);
    }
    free(b->locals);
    b->locals = NULL;
    b->nlocals = 0;
}
