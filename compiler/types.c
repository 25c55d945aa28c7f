/*
** types.c - the types of a transaction's parameters and result: spelled
** for a member of the frame struct (C's adjustments made, variably
** modified types carried as void *), and as Ty trees for meta.c's checks
** of success_criteria and snapshot.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

#define MAX_TYPES 512 /* Ty nodes per transaction: deeper types are unknown */

/* needs_typeof: true when "T name" cannot be written by putting the name
** after the spelling (function pointers, arrays). */
static bool needs_typeof(const char *spelling)
{
    return strpbrk(spelling, "([") != NULL;
}

/* member_decl: "T name" or "__typeof__(T) name" for a frame member. */
char *member_decl(CXType t)
{
    char *s = text_of(clang_getTypeSpelling(t));
    if (!needs_typeof(s))
        return s;
    char *r = format("__typeof__(%s)", s);
    free(s);
    return r;
}

bool is_array_kind(enum CXTypeKind k)
{
    return k == CXType_ConstantArray || k == CXType_IncompleteArray ||
           k == CXType_VariableArray || k == CXType_DependentSizedArray;
}

/* contains_vla: whether t mentions a variably modified array, which cannot
** be spelled at file scope. */
bool contains_vla(CXType t)
{
    for (int depth = 0; depth < 32; depth++) {
        enum CXTypeKind k = t.kind;
        if (k == CXType_VariableArray || k == CXType_DependentSizedArray)
            return true;
        if (k == CXType_Pointer)
            t = clang_getPointeeType(t);
        else if (is_array_kind(k))
            t = clang_getArrayElementType(t);
        else if (k == CXType_Elaborated || k == CXType_Typedef) {
            CXType c = clang_getCanonicalType(t);
            if (c.kind == t.kind)
                return false;
            t = c;
        } else
            return false;
    }
    return false;
}

/* param_type: the type of a parameter after C's adjustments (arrays and
** functions become pointers), without top-level qualifiers, spelled for a
** frame member.  A variably modified type is carried as void *, which C
** converts back implicitly at the call. */
char *param_type(CXType t)
{
    CXType canon = clang_getCanonicalType(t);
    if (contains_vla(t))
        return xstrdup("void *");
    if (is_array_kind(canon.kind)) {
        CXType elem = clang_getArrayElementType(t.kind == canon.kind ? t : canon);
        char *e = member_decl(elem);
        char *r = needs_typeof(e) || strncmp(e, "__typeof__", 10) == 0
                      ? format("__typeof__(%s) *", e)
                      : format("%s *", e);
        free(e);
        return r;
    }
    if (canon.kind == CXType_FunctionProto || canon.kind == CXType_FunctionNoProto) {
        char *s = text_of(clang_getTypeSpelling(t));
        char *r = format("__typeof__(%s) *", s);
        free(s);
        return r;
    }
    return member_decl(clang_getUnqualifiedType(t));
}

/* is_va_list: t is a va_list parameter: on x86_64 the array struct
** __va_list_tag[1] (adjusted to a pointer, which source cannot spell:
** writing the tag declares another struct), on aarch64 a struct. */
bool is_va_list(CXType t)
{
    char *s = text_of(clang_getTypeSpelling(clang_getCanonicalType(t)));
    bool va = strncmp(s, "struct __va_list_tag", 20) == 0 || strcmp(s, "struct __va_list") == 0 ||
              strcmp(s, "__builtin_va_list") == 0;
    free(s);
    return va;
}

/* anonymous_type: true for a type clang can only name by its position
** ("struct (unnamed at x.c:3:1)"), which cannot be written back. */
bool anonymous_type(const char *spelling)
{
    return strstr(spelling, "(unnamed") || strstr(spelling, "(anonymous");
}

/* ---- Ty: types as meta.c checks them */

typedef struct TyBuild {
    Front *fr;
    Func *f;
    int n;
    struct { char *key; Ty *ty; } *records; /* by canonical spelling */
    int nrecords;
} TyBuild;

static Ty *ty_new(TyBuild *tb, TyKind kind, CXType t)
{
    Ty *ty = xcalloc(1, sizeof *ty);
    ty->kind = kind;
    ty->spelling = text_of(clang_getTypeSpelling(clang_getUnqualifiedType(t)));
    ty->next = tb->f->types;
    tb->f->types = ty;
    tb->n++;
    return ty;
}

static Ty *ty_of(TyBuild *tb, CXType t);

typedef struct FieldWalk {
    TyBuild *tb;
    Ty *record;
} FieldWalk;

static void add_field(FieldWalk *w, char *name, Ty *type, SrcLoc loc)
{
    Ty *r = w->record;
    r->fields = xrealloc(r->fields, sizeof *r->fields * (size_t)(r->nfields + 1));
    r->fields[r->nfields++] = (TyField){name, type, loc};
}

static enum CXVisitorResult visit_field(CXCursor c, CXClientData data)
{
    FieldWalk *w = data;
    char *name = text_of(clang_getCursorSpelling(c));
    CXType t = clang_getCursorType(c);
    Ty *type = ty_of(w->tb, t);
    /* C11 anonymous members: their fields belong to the enclosing record */
    if (!*name && type->kind == TY_RECORD) {
        for (int i = 0; i < type->nfields; i++)
            add_field(w, xstrdup(type->fields[i].name), type->fields[i].type,
                      type->fields[i].loc);
        free(name);
        return CXVisit_Continue;
    }
    add_field(w, name, type, loc_of(w->tb->fr, c));
    return CXVisit_Continue;
}

static Ty *record_ty(TyBuild *tb, CXType t, CXType canon)
{
    char *key = text_of(clang_getTypeSpelling(canon));
    for (int i = 0; i < tb->nrecords; i++)
        if (strcmp(tb->records[i].key, key) == 0) {
            free(key);
            return tb->records[i].ty;
        }
    Ty *ty = ty_new(tb, TY_RECORD, t);
    tb->records = xrealloc(tb->records, sizeof *tb->records * (size_t)(tb->nrecords + 1));
    tb->records[tb->nrecords++].key = key;
    tb->records[tb->nrecords - 1].ty = ty;
    FieldWalk w = {tb, ty};
    clang_Type_visitFields(canon, visit_field, &w);
    return ty;
}

/* ty_of: t as a Ty, never NULL: what it cannot describe is TY_UNKNOWN.
** Records are shared by spelling, so recursive types end. */
static Ty *ty_of(TyBuild *tb, CXType t)
{
    CXType canon = clang_getCanonicalType(t);
    enum CXTypeKind k = canon.kind;
    if (tb->n >= MAX_TYPES)
        return ty_new(tb, TY_UNKNOWN, t);
    if (k == CXType_Void)
        return ty_new(tb, TY_VOID, t);
    if (k == CXType_Pointer || is_array_kind(k)) {
        Ty *ty = ty_new(tb, TY_POINTER, t);
        ty->pointee = ty_of(tb, k == CXType_Pointer ? clang_getPointeeType(canon)
                                                    : clang_getArrayElementType(canon));
        return ty;
    }
    if (k == CXType_Record)
        return record_ty(tb, t, canon);
    if (k == CXType_Enum || (k >= CXType_FirstBuiltin && k <= CXType_LastBuiltin))
        return ty_new(tb, TY_SCALAR, t);
    return ty_new(tb, TY_UNKNOWN, t);
}

static void ty_build_done(TyBuild *tb)
{
    for (int i = 0; i < tb->nrecords; i++)
        free(tb->records[i].key);
    free(tb->records);
}

/* read_types: the result and parameter types, for the criteria checks. */
void read_types(Front *fr, CXCursor fn, Func *f)
{
    TyBuild tb = {fr, f, 0, NULL, 0};
    f->ret_ty = ty_of(&tb, clang_getResultType(clang_getCursorType(fn)));
    f->param_tys = xcalloc((size_t)f->nparams + 1, sizeof *f->param_tys);
    for (int i = 0; i < f->nparams; i++)
        f->param_tys[i] = ty_of(&tb, clang_getCursorType(clang_Cursor_getArgument(fn, i)));
    ty_build_done(&tb);
}
