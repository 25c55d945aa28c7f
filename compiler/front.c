/*
** front.c - libclang: finds the annotated functions of a translation unit and
** reads what the emitter needs from each: where its parts are in the text,
** its parameter and return types, and the references in its body that the
** mirror clone must redirect.
**
** A reference to a function in a mirror's body resolves, in the order of
** DESIGN.md §3, to
**
**   1. a user shim: a function declared PTM_MIRROR_OF(fn), called instead;
**   2. a built-in shim (a shim row of runtime/calls.def): ptm_shim_fn;
**   3. a mirror clone: fn__ptm_mirror, for a function defined in this file
**      or in a user header (a static inline helper), cloned transitively;
**   4. a clone in another file: a PTM_MIRRORABLE function declared here is
**      called through a weak reference to its clone, and when that file was
**      not built by ptmcc the runtime records the missing clone and calls
**      the function itself;
**   5. a library function with no effect outside the process
**      (a pure row of runtime/calls.def): called as it is;
**   6. an unknown external: called as it is, with a warning, and the
**      transactions whose mirrors reach it need the fork executor, whose
**      seccomp filter stops its writes.  Calls through function pointers
**      are treated alike.
**
** Positions are expansion locations (where the text is in the file),
** except for redirects, which use spelling locations: a call written in a
** macro argument is spelled in the file and can be renamed there, a call
** written in a macro's body cannot and is redirected by the emitter with a
** scoped function-like macro instead.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

#define ANNOT_PREFIX "ptm.transaction:"
#define MIRRORABLE_ANNOT "ptm.mirrorable"
#define MIRROR_OF_PREFIX "ptm.mirror_of:"
#define MAX_TYPES 512 /* Ty nodes per transaction: deeper types are unknown */

/* A macro expansion in the main file: [start, end) offsets. */
typedef struct Expansion {
    size_t start, end;
    char *name;
    CXCursor def;        /* its MacroDefinition */
} Expansion;

/* A function declared PTM_MIRROR_OF(target). */
typedef struct UserShim {
    char *target;
    char *shim;
    CXCursor decl;
    CXCursor attr;
} UserShim;

/* A function to clone, found while bodies are scanned. */
typedef struct Pending {
    CXCursor def;
} Pending;

/* The state of one parse. */
typedef struct Front {
    CXTranslationUnit tu;
    SrcFile *main;
    CXFile main_cx;
    Expansion *exps;
    int nexps;
    /* Every function declared in the unit, by name (the first declaration). */
    struct Decl { char *name; CXCursor cursor; } *decls;
    /* Variables at file scope, by name: an alternative named like one is
    ** declared, but not a function. */
    struct Decl *vars;
    int nvars;
    int ndecls;
    UserShim *shims;
    int nshims;
    /* Annotated definitions found, in order. */
    CXCursor *tx;
    int ntx;
    /* Functions a mirror reaches (and PTM_MIRRORABLE definitions): each
    ** gets a mirror clone.  Grows while bodies are scanned. */
    Pending *clones;
    int nclones;
    /* PTM_MIRRORABLE functions of other files that mirrors call. */
    char **xtu;
    int nxtu;
} Front;

/* text_of: a malloc'd copy of a CXString, disposing it. */
static char *text_of(CXString s)
{
    const char *c = clang_getCString(s);
    char *r = xstrdup(c ? c : "");
    clang_disposeString(s);
    return r;
}

static bool name_in(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* push_name: appends a copy of name to a list unless it is there. */
static void push_name(char ***v, int *n, const char *name)
{
    if (name_in(name, (const char *const *)*v, (size_t)*n))
        return;
    *v = xrealloc(*v, sizeof **v * (size_t)(*n + 1));
    (*v)[(*n)++] = xstrdup(name);
}

/* ---------------------------------------------------------------------
** Positions
*/

/* expansion_in: the expansion offset of loc, and whether it is in file. */
static bool expansion_in(CXSourceLocation loc, CXFile file, size_t *off)
{
    CXFile f;
    unsigned o;
    clang_getExpansionLocation(loc, &f, NULL, NULL, &o);
    *off = o;
    return f && file && clang_File_isEqual(f, file);
}

/* spelling_in: the spelling offset of loc, and whether it is in file. */
static bool spelling_in(CXSourceLocation loc, CXFile file, size_t *off)
{
    CXFile f;
    unsigned o;
    clang_getSpellingLocation(loc, &f, NULL, NULL, &o);
    *off = o;
    return f && file && clang_File_isEqual(f, file);
}

static bool expansion_off(Front *fr, CXSourceLocation loc, size_t *off)
{
    return expansion_in(loc, fr->main_cx, off);
}

/* file_of: the loaded file of a libclang file. */
static SrcFile *file_of(Front *fr, CXFile f)
{
    if (!f)
        return NULL;
    if (clang_File_isEqual(f, fr->main_cx))
        return fr->main;
    char *name = text_of(clang_getFileName(f));
    SrcFile *sf = src_load(name);
    free(name);
    return sf;
}

/* loc_at: a location as a diagnostic position (expansion). */
static SrcLoc loc_at(Front *fr, CXSourceLocation loc)
{
    CXFile f;
    unsigned o;
    clang_getExpansionLocation(loc, &f, NULL, NULL, &o);
    SrcFile *sf = file_of(fr, f);
    return sf ? (SrcLoc){sf, o} : (SrcLoc){0};
}

/* loc_of: a cursor's location as a diagnostic position (expansion). */
static SrcLoc loc_of(Front *fr, CXCursor c)
{
    return loc_at(fr, clang_getCursorLocation(c));
}

/* cursor_file: the file a cursor is written in (expansion), or NULL. */
static CXFile cursor_file(CXCursor c)
{
    CXFile f;
    clang_getExpansionLocation(clang_getCursorLocation(c), &f, NULL, NULL, NULL);
    return f;
}

/* report_clang_errors: prints libclang's errors as diagnostics; true when
** there was at least one (the unit cannot be rewritten). */
static bool report_clang_errors(Front *fr)
{
    bool any = false;
    unsigned n = clang_getNumDiagnostics(fr->tu);
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic d = clang_getDiagnostic(fr->tu, i);
        enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
        if (sev >= CXDiagnostic_Error) {
            any = true;
            SrcLoc loc = loc_at(fr, clang_getDiagnosticLocation(d));
            char *msg = text_of(clang_getDiagnosticSpelling(d));
            if (loc.file)
                error_at(loc, 1, "%s", msg);
            else
                error_plain("%s", msg);
            free(msg);
        }
        clang_disposeDiagnostic(d);
    }
    return any;
}

/* ---------------------------------------------------------------------
** Annotations: annotate("ptm.transaction:..."), annotate("ptm.mirrorable"),
** annotate("ptm.mirror_of:fn")
*/
/* A search among a cursor's children: the first of kind whose spelling
** is text (whole, or as a prefix). */
typedef struct ChildSearch {
    enum CXCursorKind kind;
    const char *text;
    bool prefix;
    char *spelling;               /* the found one's, malloc'd; NULL: none */
    CXCursor found;
} ChildSearch;

static enum CXChildVisitResult find_child(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    ChildSearch *s = data;
    if (clang_getCursorKind(c) != s->kind)
        return CXChildVisit_Continue;
    char *text = text_of(clang_getCursorSpelling(c));
    if (s->prefix ? strncmp(text, s->text, strlen(s->text)) == 0 : strcmp(text, s->text) == 0) {
        s->spelling = text;
        s->found = c;
        return CXChildVisit_Break;
    }
    free(text);
    return CXChildVisit_Continue;
}

/* annotation_of: the text after prefix of fn's first annotate attribute
** starting with prefix (inherited ones included), with the attribute
** cursor.  NULL when fn has none. */
static char *annotation_of(CXCursor fn, const char *prefix, CXCursor *attr)
{
    ChildSearch s = {CXCursor_AnnotateAttr, prefix, true, NULL, clang_getNullCursor()};
    clang_visitChildren(fn, find_child, &s);
    if (!s.spelling)
        return NULL;
    if (attr)
        *attr = s.found;
    char *body = xstrdup(s.spelling + strlen(prefix));
    free(s.spelling);
    return body;
}

static bool has_annotation(CXCursor fn, const char *prefix)
{
    char *t = annotation_of(fn, prefix, NULL);
    free(t);
    return t != NULL;
}

/* is_mirrorable: fn, or the first declaration of its function, carries
** PTM_MIRRORABLE. */
static bool is_mirrorable(CXCursor fn)
{
    return has_annotation(fn, MIRRORABLE_ANNOT) ||
           has_annotation(clang_getCanonicalCursor(fn), MIRRORABLE_ANNOT);
}

static CXCursor *find_decl(Front *fr, const char *name)
{
    for (int i = 0; i < fr->ndecls; i++)
        if (strcmp(fr->decls[i].name, name) == 0)
            return &fr->decls[i].cursor;
    return NULL;
}

static UserShim *find_user_shim(Front *fr, const char *target)
{
    for (int i = 0; i < fr->nshims; i++)
        if (strcmp(fr->shims[i].target, target) == 0)
            return &fr->shims[i];
    return NULL;
}

static bool has_user_shim(const void *ctx, const char *name)
{
    return find_user_shim((Front *)(uintptr_t)ctx, name) != NULL;
}

/* ---------------------------------------------------------------------
** The file's top level
*/

static void want_clone(Front *fr, CXCursor def);
static Expansion *find_expansion(Front *fr, size_t off);

/* definition_spelled: whether def's name is written out in the file it is
** defined in (not produced by a macro), so that it can be cloned.
** OUT: *file. */
static bool definition_spelled(CXCursor def, CXFile *file)
{
    CXSourceLocation loc = clang_getCursorLocation(def);
    CXFile ef, sf;
    unsigned eo, so;
    clang_getExpansionLocation(loc, &ef, NULL, NULL, &eo);
    clang_getSpellingLocation(loc, &sf, NULL, NULL, &so);
    *file = ef;
    return ef && sf && clang_File_isEqual(ef, sf) && eo == so;
}

static void add_expansion(Front *fr, CXCursor c)
{
    CXSourceRange r = clang_getCursorExtent(c);
    size_t s, e;
    if (!expansion_off(fr, clang_getRangeStart(r), &s) ||
        !expansion_off(fr, clang_getRangeEnd(r), &e))
        return;
    fr->exps = xrealloc(fr->exps, sizeof *fr->exps * (size_t)(fr->nexps + 1));
    fr->exps[fr->nexps++] =
        (Expansion){s, e, text_of(clang_getCursorSpelling(c)), clang_getCursorReferenced(c)};
}

static void add_user_shim(Front *fr, CXCursor fn, CXCursor attr, char *target)
{
    char *name = text_of(clang_getCursorSpelling(fn));
    UserShim *prev = find_user_shim(fr, target);
    if (prev && strcmp(prev->shim, name) != 0) {
        error_at(loc_of(fr, attr), 1, "'%s' already has a user shim, '%s'", target, prev->shim);
        note_at(loc_of(fr, prev->decl), strlen(prev->shim), "'%s' declared here", prev->shim);
        free(name);
        free(target);
        return;
    }
    if (prev) {
        free(name);
        free(target);
        return;
    }
    fr->shims = xrealloc(fr->shims, sizeof *fr->shims * (size_t)(fr->nshims + 1));
    fr->shims[fr->nshims++] = (UserShim){target, name, fn, attr};
}

/* note_function: a function declaration at file scope. */
static void note_function(Front *fr, CXCursor c)
{
    char *name = text_of(clang_getCursorSpelling(c));
    if (!find_decl(fr, name)) {
        fr->decls = xrealloc(fr->decls, sizeof *fr->decls * (size_t)(fr->ndecls + 1));
        fr->decls[fr->ndecls++] = (struct Decl){xstrdup(name), c};
    }
    free(name);

    CXCursor attr;
    char *target = annotation_of(c, MIRROR_OF_PREFIX, &attr);
    if (target)
        add_user_shim(fr, c, attr, target);
    if (!clang_isCursorDefinition(c))
        return;
    char *text = annotation_of(c, ANNOT_PREFIX, NULL);
    CXFile file;
    if (text) {
        fr->tx = xrealloc(fr->tx, sizeof *fr->tx * (size_t)(fr->ntx + 1));
        fr->tx[fr->ntx++] = c;
        free(text);
    } else if (is_mirrorable(c) && definition_spelled(c, &file) &&
               clang_File_isEqual(file, fr->main_cx) &&
               clang_Cursor_getStorageClass(c) != CX_SC_Static) {
        want_clone(fr, c); /* for the mirrors of other files (a static one
                              has none: its clone would be unused) */
    }
}

/* collect_top: records macro expansions, declared functions, user shims,
** annotated and PTM_MIRRORABLE definitions at file scope. */
static enum CXChildVisitResult collect_top(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Front *fr = data;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_MacroExpansion)
        add_expansion(fr, c);
    else if (k == CXCursor_FunctionDecl)
        note_function(fr, c);
    else if (k == CXCursor_VarDecl) {
        fr->vars = xrealloc(fr->vars, sizeof *fr->vars * (size_t)(fr->nvars + 1));
        fr->vars[fr->nvars++] = (struct Decl){text_of(clang_getCursorSpelling(c)), c};
    }
    return CXChildVisit_Continue;
}

/* ---------------------------------------------------------------------
** Types
*/

/* needs_typeof: true when "T name" cannot be written by putting the name
** after the spelling (function pointers, arrays). */
static bool needs_typeof(const char *spelling)
{
    return strpbrk(spelling, "([") != NULL;
}

/* member_decl: "T name" or "__typeof__(T) name" for a frame member. */
static char *member_type(CXType t)
{
    char *s = text_of(clang_getTypeSpelling(t));
    if (!needs_typeof(s))
        return s;
    char *r = format("__typeof__(%s)", s);
    free(s);
    return r;
}

static bool is_array_kind(enum CXTypeKind k)
{
    return k == CXType_ConstantArray || k == CXType_IncompleteArray ||
           k == CXType_VariableArray || k == CXType_DependentSizedArray;
}

/* contains_vla: whether t mentions a variably modified array, which cannot
** be spelled at file scope. */
static bool contains_vla(CXType t)
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
static char *param_type(CXType t)
{
    CXType canon = clang_getCanonicalType(t);
    if (contains_vla(t))
        return xstrdup("void *");
    if (is_array_kind(canon.kind)) {
        CXType elem = clang_getArrayElementType(t.kind == canon.kind ? t : canon);
        char *e = member_type(elem);
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
    return member_type(clang_getUnqualifiedType(t));
}

/* is_va_list: t is a va_list parameter: on x86_64 the array struct
** __va_list_tag[1] (adjusted to a pointer, which source cannot spell:
** writing the tag declares another struct), on aarch64 a struct. */
static bool is_va_list(CXType t)
{
    char *s = text_of(clang_getTypeSpelling(clang_getCanonicalType(t)));
    bool va = strncmp(s, "struct __va_list_tag", 20) == 0 || strcmp(s, "struct __va_list") == 0 ||
              strcmp(s, "__builtin_va_list") == 0;
    free(s);
    return va;
}

/* anonymous_type: true for a type clang can only name by its position
** ("struct (unnamed at x.c:3:1)"), which cannot be written back. */
static bool anonymous_type(const char *spelling)
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

/* ---------------------------------------------------------------------
** The body: references to redirect in the mirror clone, calls that escape
** it, and function-local statics to share with it
*/

/* A function-local static while its uses are collected. */
typedef struct Local {
    CXCursor var;
    Hoist h;
    const char *why;     /* why it cannot be moved out; NULL: it can */
} Local;

typedef struct BodyScan {
    Front *fr;
    Func *f;
    CXFile file;         /* where f is defined */
    size_t body_start, body_end;
    Local *locals;
    int nlocals;
} BodyScan;

/* clonable_definition: the definition of the function ref refers to, when
** it can be cloned: its name is written out, in this file or in a user
** header (not a system header: the C library's inline functions are
** library calls like the others). */
/* is_old_style: a K&R definition, f(x) int x; { ... }: its header cannot
** be copied into a prototype, so it is not cloned (a mirror that calls it
** is one of an unknown external: the fork executor). */
static bool is_old_style(CXCursor def)
{
    if (clang_Cursor_getNumArguments(def) < 1)
        return false;
    CXFile f1, f2;
    unsigned name_off, param_off;
    clang_getSpellingLocation(clang_getCursorLocation(def), &f1, NULL, NULL, &name_off);
    clang_getSpellingLocation(clang_getCursorLocation(clang_Cursor_getArgument(def, 0)), &f2,
                              NULL, NULL, &param_off);
    size_t size;
    const char *t = f1 ? clang_getFileContents(clang_Cursor_getTranslationUnit(def), f1, &size)
                       : NULL;
    if (!t || !f2 || !clang_File_isEqual(f1, f2) || name_off >= size)
        return false;
    /* The parameter list's ')': a K&R parameter is declared after it. */
    size_t i = name_off;
    while (i < size && t[i] != '(')
        i++;
    for (int depth = 0; i < size; i++) {
        if (t[i] == '(')
            depth++;
        else if (t[i] == ')' && --depth == 0)
            break;
    }
    return i < size && param_off > i;
}

static bool clonable_definition(CXCursor ref, CXCursor *def)
{
    *def = clang_getCursorDefinition(ref);
    CXFile file;
    if (clang_Cursor_isNull(*def) || !definition_spelled(*def, &file) ||
        clang_Location_isInSystemHeader(clang_getCursorLocation(*def)) || is_old_style(*def))
        return false;
    /* the whole definition, up to the body's '}', written in that file */
    CXSourceRange r = clang_getCursorExtent(*def);
    size_t start, end;
    if (!expansion_in(clang_getRangeStart(r), file, &start) ||
        !expansion_in(clang_getRangeEnd(r), file, &end) || end <= start)
        return false;
    size_t size;
    const char *text = clang_getFileContents(clang_Cursor_getTranslationUnit(*def), file, &size);
    return text && end <= size && text[end - 1] == '}';
}

static bool is_clone(const void *ctx, CXCursor callee)
{
    (void)ctx;
    CXCursor def;
    return clonable_definition(callee, &def);
}

/* defined_by_macro: a function of this unit that a macro defines (#define
** GETTER(n) int get_##n(void) { ... }): ptmcc cannot clone it. */
static bool defined_by_macro(CXCursor ref)
{
    CXCursor def;
    if (clonable_definition(ref, &def) || clang_Cursor_isNull(def) || is_old_style(def))
        return false;
    return !clang_Location_isInSystemHeader(clang_getCursorLocation(def));
}

/* defined_old_style: a function of this unit defined K&R-style. */
static bool defined_old_style(CXCursor ref)
{
    CXCursor def = clang_getCursorDefinition(ref);
    return !clang_Cursor_isNull(def) && is_old_style(def);
}

/* want_clone: queues def for a mirror clone unless it is a transaction (it
** has one) or already queued. */
static void want_clone(Front *fr, CXCursor def)
{
    for (int i = 0; i < fr->ntx; i++)
        if (clang_equalCursors(fr->tx[i], def))
            return;
    for (int i = 0; i < fr->nclones; i++)
        if (clang_equalCursors(fr->clones[i].def, def))
            return;
    fr->clones = xrealloc(fr->clones, sizeof *fr->clones * (size_t)(fr->nclones + 1));
    fr->clones[fr->nclones++] = (Pending){def};
}

static void add_redirect(Func *f, const char *name, size_t off, size_t len, const char *target)
{
    for (int i = 0; i < f->nredirects; i++)
        if (f->redirects[i].off == off)
            return;
    f->redirects = xrealloc(f->redirects, sizeof *f->redirects * (size_t)(f->nredirects + 1));
    f->redirects[f->nredirects++] = (Redirect){xstrdup(name), off, len, xstrdup(target)};
}

static void add_macro_redirect(Func *f, const char *name, const char *target)
{
    for (int i = 0; i < f->nmacro_redirects; i++)
        if (strcmp(f->macro_redirects[i].name, name) == 0)
            return;
    f->macro_redirects = xrealloc(f->macro_redirects, sizeof *f->macro_redirects *
                                                          (size_t)(f->nmacro_redirects + 1));
    f->macro_redirects[f->nmacro_redirects++] = (Redirect){xstrdup(name), 0, 0, xstrdup(target)};
}

/* add_escape: a call the mirror cannot keep inside the mirror. */
static Escape *add_escape(BodyScan *b, const char *callee, CXCursor at)
{
    Func *f = b->f;
    SrcLoc loc = loc_of(b->fr, at);
    for (int i = 0; i < f->nescapes; i++)
        if (f->escapes[i].loc.file == loc.file && f->escapes[i].loc.off == loc.off)
            return &f->escapes[i];
    size_t len = callee ? strlen(callee) : 0;
    if (callee && (!loc.file || loc.off + len > loc.file->len ||
                   memcmp(loc.file->text + loc.off, callee, len) != 0))
        len = 0; /* from a macro: a single caret at its use */
    f->escapes = xrealloc(f->escapes, sizeof *f->escapes * (size_t)(f->nescapes + 1));
    f->escapes[f->nescapes++] = (Escape){callee ? xstrdup(callee) : NULL, loc, len, false, false};
    return &f->escapes[f->nescapes - 1];
}

/* resolve: what a mirror calls instead of the function ref named name;
** NULL when the call stays as it is (a pure library function, or an
** unknown external, which is recorded). */
static char *resolve(BodyScan *b, CXCursor use, CXCursor ref, const char *name)
{
    Front *fr = b->fr;
    UserShim *us = find_user_shim(fr, name);
    if (us)
        return xstrdup(us->shim);
    if (call_shim_family(name))
        return strcmp(name, "ptm_validate") == 0 ? xstrdup("ptm_shim_validate")
                                                 : format("ptm_shim_%s", name);
    CXCursor def;
    if (clonable_definition(ref, &def)) {
        want_clone(fr, def);
        push_name(&b->f->callees, &b->f->ncallees, name);
        return format("%s__ptm_mirror", name);
    }
    if (is_mirrorable(ref)) {
        push_name(&fr->xtu, &fr->nxtu, name);
        return format("(*%s__ptm_xtu())", name);
    }
    if (!call_is_pure(name)) {
        Escape *e = add_escape(b, name, use);
        e->macro_defined = defined_by_macro(ref);
        e->old_style = defined_old_style(ref);
    }
    return NULL;
}

/* scan_ref: a reference to a function from a mirror's body, renamed where
** it is spelled in the body (a macro argument counts), and through a
** scoped macro where it comes from a macro's definition. */
static void scan_ref_at(BodyScan *b, CXCursor c, CXCursor ref, const char *name,
                        CXSourceLocation at)
{
    char *target = resolve(b, c, ref, name);
    if (!target)
        return;
    size_t off;
    bool here = spelling_in(at, b->file, &off);
    size_t len = strlen(name);
    Func *f = b->f;
    if (here && off >= b->body_start && off + len <= b->body_end &&
        memcmp(f->file->text + off, name, len) == 0) {
        add_redirect(f, name, off, len, target);
        if (strcmp(name, f->name) == 0) {
            f->self_refs = xrealloc(f->self_refs, sizeof *f->self_refs * (size_t)(f->nself_refs + 1));
            f->self_refs[f->nself_refs++] = off;
        }
    } else {
        add_macro_redirect(f, name, target);
    }
    free(target);
}

static void scan_ref(BodyScan *b, CXCursor c, CXCursor ref, const char *name)
{
    scan_ref_at(b, c, ref, name, clang_getCursorLocation(c));
}

/* scan_cleanup: __attribute__((cleanup(fn))) on a local: fn is called when
** the variable goes out of scope, a call the AST does not show (libclang
** exposes the attribute without its argument).  It is redirected like a
** call: the mirror's cleanup must not free the mirror's memory with the
** real free(). */
static void scan_cleanup(BodyScan *b, CXCursor attr)
{
    CXToken *tk;
    unsigned n;
    clang_tokenize(b->fr->tu, clang_getCursorExtent(attr), &tk, &n);
    for (unsigned i = 0; i + 2 < n; i++) {
        char *word = text_of(clang_getTokenSpelling(b->fr->tu, tk[i]));
        char *paren = text_of(clang_getTokenSpelling(b->fr->tu, tk[i + 1]));
        bool cleanup = (strcmp(word, "cleanup") == 0 || strcmp(word, "__cleanup__") == 0) &&
                       strcmp(paren, "(") == 0 &&
                       clang_getTokenKind(tk[i + 2]) == CXToken_Identifier;
        free(word);
        free(paren);
        if (!cleanup)
            continue;
        char *fn = text_of(clang_getTokenSpelling(b->fr->tu, tk[i + 2]));
        ChildSearch s = {CXCursor_FunctionDecl, fn, false, NULL, clang_getNullCursor()};
        clang_visitChildren(clang_getTranslationUnitCursor(b->fr->tu), find_child, &s);
        if (s.spelling)
            scan_ref_at(b, attr, s.found, fn, clang_getTokenLocation(b->fr->tu, tk[i + 2]));
        free(s.spelling);
        free(fn);
        break;
    }
    clang_disposeTokens(b->fr->tu, tk, n);
}

/* scan_call: a call whose callee is not a function: through a pointer. */
static void scan_call(BodyScan *b, CXCursor call)
{
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl)
        add_escape(b, NULL, call);
}

/* ---- Function-local statics */

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
** in the body (a local type, enum constant or variable), apart from the
** statics moved out before it. */
static enum CXChildVisitResult check_init(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    InitCheck *ic = data;
    enum CXCursorKind k = clang_getCursorKind(c);
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

static void scan_local_static(BodyScan *b, CXCursor var, CXCursor parent)
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
static void scan_local_use(BodyScan *b, CXCursor use, CXCursor var)
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

/* finish_locals: the statics that can move out become f's hoists; the
** others keep a copy per clone, which the user is told about. */
static void finish_locals(BodyScan *b)
{
    Func *f = b->f;
    for (int i = 0; i < b->nlocals; i++) {
        Local *l = &b->locals[i];
        if (!l->why) {
            f->hoists = xrealloc(f->hoists, sizeof *f->hoists * (size_t)(f->nhoists + 1));
            f->hoists[f->nhoists++] = l->h;
            continue;
        }
        warning_at(W_STATIC_COPY, loc_of(b->fr, l->var), strlen(l->h.name),
                   "the mirror clone of '%s' gets its own copy of static variable '%s': "
                   "the mirror sees its initial value, not the primary's",
                   f->name, l->h.name);
        note_at(loc_of(b->fr, l->var), strlen(l->h.name),
                "ptmcc shares a function's static variables with its mirror by moving them "
                "to file scope, but cannot move '%s': %s", l->h.name, l->why);
        free(l->h.name);
        free(l->h.new_name);
        free(l->h.refs);
    }
    free(b->locals);
    b->locals = NULL;
    b->nlocals = 0;
}

/* func_name_bit: for a string literal that is __func__, __FUNCTION__ or
** __PRETTY_FUNCTION__, the bit of Func.func_names; else 0.  clang shows
** the predefined name as the string it stands for: the text where it is
** spelled tells them apart. */
static unsigned func_name_bit(BodyScan *b, CXCursor lit)
{
    CXFile f;
    unsigned off;
    clang_getSpellingLocation(clang_getCursorLocation(lit), &f, NULL, NULL, &off);
    size_t size;
    const char *text = f ? clang_getFileContents(b->fr->tu, f, &size) : NULL;
    if (!text || off >= size || text[off] == '"')
        return 0;
    static const char *const names[] = {"__func__", "__FUNCTION__", "__PRETTY_FUNCTION__"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
        size_t n = strlen(names[i]);
        if (size - off >= n && memcmp(text + off, names[i], n) == 0)
            return 1u << i;
    }
    return 0;
}

static enum CXChildVisitResult scan_body(CXCursor c, CXCursor parent, CXClientData data)
{
    BodyScan *b = data;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_StringLiteral) {
        b->f->func_names |= func_name_bit(b, c);
    } else if (k == CXCursor_CallExpr) {
        scan_call(b, c);
    } else if (k == CXCursor_DeclRefExpr) {
        CXCursor ref = clang_getCursorReferenced(c);
        enum CXCursorKind rk = clang_getCursorKind(ref);
        if (rk == CXCursor_FunctionDecl) {
            char *name = text_of(clang_getCursorSpelling(ref));
            scan_ref(b, c, ref, name);
            free(name);
        } else if (rk == CXCursor_VarDecl) {
            scan_local_use(b, c, ref);
        }
    } else if (k == CXCursor_VarDecl && clang_Cursor_getStorageClass(c) == CX_SC_Static) {
        scan_local_static(b, c, parent);
    } else if (k == CXCursor_UnexposedAttr && clang_getCursorKind(parent) == CXCursor_VarDecl) {
        scan_cleanup(b, c);
    }
    return CXChildVisit_Recurse;
}

/* scan_function: everything the mirror clone of f needs from body. */
static void scan_function(Front *fr, Func *f, CXCursor fn, CXCursor body)
{
    BodyScan scan = {fr, f, cursor_file(fn), f->body_off, f->end, NULL, 0};
    clang_visitChildren(body, scan_body, &scan);
    finish_locals(&scan);
    Callees callees = {has_user_shim, is_clone, fr};
    inline_facts(fn, body, f->file, &callees, &f->inl);
}

/* ---------------------------------------------------------------------
** The annotation's text and where each byte of it is in the source
*/

/* find_expansion: the macro expansion that starts at off, or NULL. */
static Expansion *find_expansion(Front *fr, size_t off)
{
    for (int i = 0; i < fr->nexps; i++)
        if (fr->exps[i].start == off)
            return &fr->exps[i];
    return NULL;
}

/* A token with where it is spelled, for the user macro's alignment. */
typedef struct Tok {
    char *text;
    SrcFile *file;
    size_t off;
    bool from_macro;     /* spelled in the macro's body */
} Tok;

typedef struct Toks {
    Tok *v;
    int n;
} Toks;

static void toks_push(Toks *t, Tok tok)
{
    t->v = xrealloc(t->v, sizeof *t->v * (size_t)(t->n + 1));
    t->v[t->n++] = tok;
}

static void toks_free(Toks *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->v[i].text);
    free(t->v);
    *t = (Toks){0};
}

/* tokens_in: the tokens of range, with their spelling positions. */
static Toks tokens_in(Front *fr, CXSourceRange range)
{
    CXToken *tk;
    unsigned n;
    Toks t = {0};
    clang_tokenize(fr->tu, range, &tk, &n);
    for (unsigned i = 0; i < n; i++) {
        if (clang_getTokenKind(tk[i]) == CXToken_Comment)
            continue;
        CXFile f;
        unsigned off;
        clang_getSpellingLocation(clang_getTokenLocation(fr->tu, tk[i]), &f, NULL, NULL, &off);
        toks_push(&t, (Tok){text_of(clang_getTokenSpelling(fr->tu, tk[i])), file_of(fr, f), off,
                            false});
    }
    clang_disposeTokens(fr->tu, tk, n);
    return t;
}

static bool tok_is(const Tok *t, const char *s)
{
    return strcmp(t->text, s) == 0;
}

/* split_args: the arguments of a function-like macro's use, whose tokens
** are use (name, '(', ..., ')'): starts[i] and ends[i] index use. */
static int split_args(const Toks *use, int *starts, int *ends, int max)
{
    if (use->n < 3 || !tok_is(&use->v[1], "("))
        return -1;
    int n = 0, depth = 0, from = 2;
    for (int i = 2; i < use->n; i++) {
        const Tok *t = &use->v[i];
        if (tok_is(t, "(") || tok_is(t, "[") || tok_is(t, "{"))
            depth++;
        else if (depth > 0 && (tok_is(t, ")") || tok_is(t, "]") || tok_is(t, "}")))
            depth--;
        else if (depth == 0 && (tok_is(t, ",") || tok_is(t, ")"))) {
            if (n == max)
                return -1;
            starts[n] = from;
            ends[n++] = i;
            from = i + 1;
            if (tok_is(t, ")"))
                return i == use->n - 1 ? n : -1;
        }
    }
    return -1;
}

/* A user macro's definition: its parameters and its body's tokens. */
typedef struct MacroDef {
    Toks toks;
    int nparams;         /* tokens 2 .. 2 + 2 * nparams are the parameter list */
    bool variadic;
    int body;            /* index of the first body token */
} MacroDef;

static bool read_macro_def(Front *fr, CXCursor def, MacroDef *md)
{
    md->toks = tokens_in(fr, clang_getCursorExtent(def));
    Toks *t = &md->toks;
    md->body = 1;
    if (!clang_Cursor_isMacroFunctionLike(def))
        return t->n > 0;
    if (t->n < 3 || !tok_is(&t->v[1], "("))
        return false;
    int i = 2;
    for (; i < t->n && !tok_is(&t->v[i], ")"); i++) {
        if (tok_is(&t->v[i], ","))
            continue;
        if (tok_is(&t->v[i], "..."))
            md->variadic = true;
        else
            md->nparams++;
    }
    md->body = i + 1;
    return i < t->n;
}

/* param_index: which parameter a body token names, -1 for none, nparams
** for __VA_ARGS__. */
static int param_index(const MacroDef *md, const Tok *t)
{
    if (md->variadic && tok_is(t, "__VA_ARGS__"))
        return md->nparams;
    int k = 0;
    for (int i = 2; i < md->body - 1; i++) {
        if (tok_is(&md->toks.v[i], ",") || tok_is(&md->toks.v[i], "..."))
            continue;
        if (strcmp(md->toks.v[i].text, t->text) == 0)
            return k;
        k++;
    }
    return -1;
}

/* expand_use: the tokens PTM_TRANSACTION(...) receives in the body of md,
** with each parameter replaced by the argument's tokens at the use.
** False when the body does something this cannot follow (# and ##, a
** nested user macro, a count of arguments that does not fit). */
static bool expand_use(const MacroDef *md, const Toks *use, Toks *out)
{
    enum { MAX_ARGS = 64 };
    int starts[MAX_ARGS], ends[MAX_ARGS];
    int nargs = md->toks.n && md->body > 1 ? split_args(use, starts, ends, MAX_ARGS) : 0;
    if (md->nparams == 0 && !md->variadic && nargs == 1 && starts[0] == ends[0])
        nargs = 0; /* TX(): no argument */
    if (nargs < 0 || nargs < md->nparams || (nargs > md->nparams && !md->variadic))
        return false;
    const Tok *t = md->toks.v;
    int i = md->body;
    while (i + 1 < md->toks.n && !(tok_is(&t[i], "PTM_TRANSACTION") && tok_is(&t[i + 1], "(")))
        i++;
    if (i + 1 >= md->toks.n)
        return false;
    int depth = 0;
    for (i += 2; i < md->toks.n; i++) {
        if (tok_is(&t[i], "#") || tok_is(&t[i], "##") || tok_is(&t[i], "__VA_OPT__"))
            return false;
        if (tok_is(&t[i], "("))
            depth++;
        if (tok_is(&t[i], ")") && depth-- == 0)
            return true;
        int p = param_index(md, &t[i]);
        if (p < 0) {
            toks_push(out, (Tok){xstrdup(t[i].text), t[i].file, t[i].off, true});
            continue;
        }
        int from = p < nargs ? starts[p] : 0, to = p < nargs ? ends[p] : 0;
        if (p == md->nparams && nargs > p)
            to = ends[nargs - 1]; /* __VA_ARGS__: the rest, commas included */
        for (int k = from; k < to; k++)
            toks_push(out, (Tok){xstrdup(use->v[k].text), use->v[k].file, use->v[k].off, false});
    }
    return false;
}

/* align: fills a's maps when the annotation's text spells exactly the
** tokens of exp (whitespace aside), each byte mapped to where it is spelled. */
static void align(Annot *a, const Toks *exp)
{
    size_t *start = xcalloc((size_t)exp->n + 1, sizeof *start);
    size_t pos = 0;
    for (int i = 0; i < exp->n; i++) {
        while (pos < a->len && (a->text[pos] == ' ' || a->text[pos] == '\t' || a->text[pos] == '\n'))
            pos++;
        size_t n = strlen(exp->v[i].text);
        if (pos + n > a->len || memcmp(a->text + pos, exp->v[i].text, n) != 0) {
            free(start);
            return;
        }
        start[i] = pos;
        pos += n;
    }
    while (pos < a->len && (a->text[pos] == ' ' || a->text[pos] == '\t'))
        pos++;
    if (pos != a->len || exp->n == 0) {
        free(start);
        return;
    }
    a->map = xcalloc(a->len + 1, sizeof *a->map);
    a->map_file = xcalloc(a->len + 1, sizeof *a->map_file);
    a->from_macro = xcalloc(a->len + 1, 1);
    int k = 0;
    for (size_t i = 0; i <= a->len; i++) {
        while (k + 1 < exp->n && i >= start[k + 1])
            k++;
        const Tok *t = &exp->v[k];
        size_t n = strlen(t->text);
        size_t into = i >= start[k] ? i - start[k] : 0;
        if (into > n)
            into = n; /* a gap: the end of the token before it */
        a->map[i] = t->off + into;
        a->map_file[i] = t->file;
        a->from_macro[i] = t->from_macro;
    }
    free(start);
}

/* map_user_macro: the annotation came from PTM_TRANSACTION in the body of
** the user macro expanded at e: maps each byte to the macro's body, or to
** the argument at the use where a parameter was substituted. */
static void map_user_macro(Front *fr, Annot *a, Expansion *e)
{
    a->macro = xstrdup(e->name);
    if (clang_Cursor_isNull(e->def) || clang_getCursorKind(e->def) != CXCursor_MacroDefinition)
        return;
    MacroDef md = {0};
    Toks use = {0}, exp = {0};
    if (read_macro_def(fr, e->def, &md)) {
        CXSourceRange r = clang_getRange(clang_getLocationForOffset(fr->tu, fr->main_cx, (unsigned)e->start),
                                         clang_getLocationForOffset(fr->tu, fr->main_cx, (unsigned)e->end));
        use = tokens_in(fr, r);
        if (expand_use(&md, &use, &exp))
            align(a, &exp);
    }
    toks_free(&md.toks);
    toks_free(&use);
    toks_free(&exp);
}

/* map_ptm_transaction: the annotation written as PTM_TRANSACTION(...) at e. */
static void map_ptm_transaction(Front *fr, Annot *a, Expansion *e)
{
    const char *t = fr->main->text;
    size_t open = e->start + strlen("PTM_TRANSACTION");
    while (open < e->end && t[open] != '(')
        open++;
    size_t close = e->end;
    while (close > open && t[close - 1] != ')')
        close--;
    if (open < e->end && close > open + 1)
        annot_map_source(a, open + 1, close - 1);
}

/* read_annotation: the annotation text and where it came from. */
static void read_annotation(Front *fr, CXCursor attr, char *text, Func *f)
{
    f->annot.text = text;
    f->annot.len = strlen(text);
    size_t off;
    bool in_main = expansion_off(fr, clang_getCursorLocation(attr), &off);
    f->annot.origin = in_main ? (SrcLoc){fr->main, off} : loc_of(fr, attr);
    if (!in_main)
        return;

    Expansion *e = find_expansion(fr, off);
    if (!e)
        return;
    if (e->start >= f->start && e->end <= f->name_off) {
        f->annot_off = e->start;
        f->annot_end = e->end;
    }
    if (strcmp(e->name, "PTM_TRANSACTION") == 0)
        map_ptm_transaction(fr, &f->annot, e);
    else
        map_user_macro(fr, &f->annot, e);
}

/* ---------------------------------------------------------------------
** One function
*/

static bool read_params(Front *fr, CXCursor fn, Func *f)
{
    bool ok = true;
    int n = clang_Cursor_getNumArguments(fn);
    if (is_old_style(fn)) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' is defined K&R-style; "
                 "declare its parameters inside the parentheses: ptmcc writes its wrapper "
                 "and clones from that list", f->name);
        return false;
    }
    f->params = xcalloc((size_t)(n > 0 ? n : 1), sizeof *f->params);
    for (int i = 0; i < n; i++) {
        CXCursor p = clang_Cursor_getArgument(fn, i);
        char *name = text_of(clang_getCursorSpelling(p));
        CXType t = clang_getCursorType(p);
        char *spelled = text_of(clang_getTypeSpelling(t));
        if (!*name) {
            error_at(loc_of(fr, p), 1, "parameter %d of transaction '%s' has no name; "
                     "the wrapper must pass it on", i + 1, f->name);
            ok = false;
        } else if (anonymous_type(spelled)) {
            error_at(loc_of(fr, p), strlen(name), "parameter '%s' of transaction '%s' has "
                     "an unnamed type; give the type a name (a tag or a typedef)",
                     name, f->name);
            ok = false;
        }
        f->params[i] = is_va_list(t) ? (Param){name, xstrdup("__builtin_va_list"), true, false}
                                     : (Param){name, param_type(t), false, contains_vla(t)};
        free(spelled);
    }
    f->nparams = n;
    return ok;
}

/* contains_pointer: whether a value of type t holds a pointer anywhere. */
static bool contains_pointer(CXType t, int depth);

typedef struct PointerPaths {
    Func *f;
    const char *prefix;
    int depth;
    bool any;            /* for contains_pointer: one was found */
} PointerPaths;

static enum CXVisitorResult find_pointer_field(CXCursor field, CXClientData data)
{
    PointerPaths *pp = data;
    pp->any = pp->any || contains_pointer(clang_getCursorType(field), pp->depth + 1);
    return pp->any ? CXVisit_Break : CXVisit_Continue;
}

static bool contains_pointer(CXType t, int depth)
{
    CXType c = clang_getCanonicalType(t);
    if (depth > 16)
        return true; /* too deep to say: as if it did */
    switch (c.kind) {
    case CXType_Pointer:
    case CXType_BlockPointer:
        return true;
    case CXType_ConstantArray:
    case CXType_IncompleteArray:
        return contains_pointer(clang_getArrayElementType(c), depth + 1);
    case CXType_Record: {
        PointerPaths pp = {NULL, NULL, depth, false};
        clang_Type_visitFields(c, find_pointer_field, &pp);
        return pp.any;
    }
    default:
        return false;
    }
}

static void pointer_paths(Func *f, CXType t, const char *prefix, int depth);

static enum CXVisitorResult path_of_field(CXCursor field, CXClientData data)
{
    PointerPaths *pp = data;
    Func *f = pp->f;
    CXType t = clang_getCanonicalType(clang_getCursorType(field));
    if (!contains_pointer(t, pp->depth + 1))
        return CXVisit_Continue;
    char *name = text_of(clang_getCursorSpelling(field));
    bool is_union = t.kind == CXType_Record &&
                    clang_getCursorKind(clang_getTypeDeclaration(t)) == CXCursor_UnionDecl;
    if (!*name || anonymous_type(name) || is_union ||
        (t.kind != CXType_Pointer && t.kind != CXType_BlockPointer && t.kind != CXType_Record)) {
        f->ret_wipe = true;
    } else {
        char *path = format("%s.%s", pp->prefix, name);
        if (t.kind == CXType_Record) {
            pointer_paths(f, t, path, pp->depth + 1);
            free(path);
        } else {
            f->ret_pointers =
                xrealloc(f->ret_pointers, sizeof *f->ret_pointers * (size_t)(f->nret_pointers + 1));
            f->ret_pointers[f->nret_pointers++] = path;
        }
    }
    free(name);
    return f->ret_wipe ? CXVisit_Break : CXVisit_Continue;
}

/* pointer_paths: the pointer members of a record of type t reached by
** prefix, into f->ret_pointers (or f->ret_wipe). */
static void pointer_paths(Func *f, CXType t, const char *prefix, int depth)
{
    PointerPaths pp = {f, prefix, depth, false};
    if (depth > 16)
        f->ret_wipe = true;
    else
        clang_Type_visitFields(t, path_of_field, &pp);
}

static bool read_result(Front *fr, CXCursor fn, Func *f)
{
    CXType rt = clang_getResultType(clang_getCursorType(fn));
    CXType canon = clang_getCanonicalType(rt);
    f->returns_void = canon.kind == CXType_Void;
    f->returns_record = canon.kind == CXType_Record;
    f->returns_pointer = canon.kind == CXType_Pointer || canon.kind == CXType_BlockPointer;
    if (f->returns_record)
        pointer_paths(f, canon, "", 0);
    f->ret_type = member_type(clang_getUnqualifiedType(rt));
    if (anonymous_type(f->ret_type)) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' returns an unnamed "
                 "type; give the type a name (a tag or a typedef)", f->name);
        return false;
    }
    return true;
}

/* read_types: the result and parameter types, for the criteria checks. */
static void read_types(Front *fr, CXCursor fn, Func *f)
{
    TyBuild tb = {fr, f, 0, NULL, 0};
    f->ret_ty = ty_of(&tb, clang_getResultType(clang_getCursorType(fn)));
    f->param_tys = xcalloc((size_t)f->nparams + 1, sizeof *f->param_tys);
    for (int i = 0; i < f->nparams; i++)
        f->param_tys[i] = ty_of(&tb, clang_getCursorType(clang_Cursor_getArgument(fn, i)));
    ty_build_done(&tb);
}

/* read_extent: where fn is in its file.  what names it in errors. */
static bool read_extent(Front *fr, CXCursor fn, Func *f, const char *what)
{
    CXFile file = cursor_file(fn);
    f->file = file_of(fr, file);
    CXSourceRange r = clang_getCursorExtent(fn);
    bool ok = f->file && expansion_in(clang_getRangeStart(r), file, &f->start) &&
              expansion_in(clang_getRangeEnd(r), file, &f->end);
    size_t name_exp, name_spell;
    ok = ok && expansion_in(clang_getCursorLocation(fn), file, &name_exp);
    bool spelled_here = spelling_in(clang_getCursorLocation(fn), file, &name_spell);
    if (!ok) {
        error_at(loc_of(fr, fn), strlen(f->name), "cannot read the text of %s '%s'", what,
                 f->name);
        return false;
    }
    if (!spelled_here || name_spell != name_exp || f->end > f->file->len ||
        strncmp(f->file->text + name_exp, f->name, strlen(f->name)) != 0) {
        error_at(loc_of(fr, fn), 1, "the name of %s '%s' comes from a macro; "
                 "ptmcc needs it written out", what, f->name);
        return false;
    }
    f->name_off = name_exp;
    return true;
}

static enum CXChildVisitResult find_body(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    if (clang_getCursorKind(c) == CXCursor_CompoundStmt) {
        *(CXCursor *)data = c;
        return CXChildVisit_Break;
    }
    return CXChildVisit_Continue;
}

/* read_body: the body of fn and where its '{' is (f->body_off).
** OUT: *body. */
static bool read_body(Front *fr, CXCursor fn, Func *f, CXCursor *body)
{
    *body = clang_getNullCursor();
    clang_visitChildren(fn, find_body, body);
    if (clang_Cursor_isNull(*body) ||
        !expansion_in(clang_getRangeStart(clang_getCursorExtent(*body)), cursor_file(fn),
                      &f->body_off)) {
        error_at(loc_of(fr, fn), strlen(f->name), "cannot find the body of '%s'", f->name);
        return false;
    }
    return true;
}

/* same_signature: whether two functions have compatible types.  Canonical
** types of variably modified parameters are not unique in clang, so equal
** canonical spellings count as equal too. */
static bool same_signature(CXType a, CXType b)
{
    CXType ca = clang_getCanonicalType(a), cb = clang_getCanonicalType(b);
    if (clang_equalTypes(ca, cb))
        return true;
    char *sa = text_of(clang_getTypeSpelling(ca));
    char *sb = text_of(clang_getTypeSpelling(cb));
    bool eq = strcmp(sa, sb) == 0;
    free(sa);
    free(sb);
    return eq;
}

/* decl_names: every function name in the unit, for "did you mean". */
static const char **decl_names(Front *fr)
{
    const char **names = xcalloc((size_t)fr->ndecls + 1, sizeof *names);
    for (int i = 0; i < fr->ndecls; i++)
        names[i] = fr->decls[i].name;
    return names;
}

static bool check_alternatives(Front *fr, CXCursor fn, Func *f)
{
    bool ok = true;
    CXType ft = clang_getCursorType(fn);
    const Annot *a = &f->annot;
    for (int i = 0; i < f->meta.n_alternatives; i++) {
        NameRef *alt = &f->meta.alternatives[i];
        size_t end = alt->off + alt->len;
        CXCursor *d = find_decl(fr, alt->name);
        const struct Decl *var = NULL;
        for (int v = 0; !d && v < fr->nvars && !var; v++)
            if (strcmp(fr->vars[v].name, alt->name) == 0)
                var = &fr->vars[v];
        if (var) {
            char *type = text_of(clang_getTypeSpelling(clang_getCursorType(var->cursor)));
            annot_error(a, alt->off, end, "alternative path '%s' is not a function", alt->name);
            note_at(loc_of(fr, var->cursor), strlen(alt->name), "'%s' is declared here as a "
                    "variable of type '%s'", alt->name, type);
            free(type);
            ok = false;
            continue;
        }
        if (!d) {
            const char **names = decl_names(fr);
            const char *near = closest(alt->name, names, (size_t)fr->ndecls);
            if (near) {
                annot_error(a, alt->off, end, "'%s' is not declared; did you mean '%s'?",
                            alt->name, near);
                annot_fixit(a, alt->off, end, near);
            } else {
                annot_error(a, alt->off, end, "alternative path '%s' is not declared; declare "
                            "it before the transaction", alt->name);
            }
            free(names);
            ok = false;
            continue;
        }
        if (strcmp(alt->name, f->name) == 0) {
            annot_error(a, alt->off, end, "transaction '%s' cannot be its own alternative",
                        f->name);
            ok = false;
            continue;
        }
        CXType at_type = clang_getCursorType(*d);
        if (!same_signature(ft, at_type)) {
            char *want = text_of(clang_getTypeSpelling(ft));
            char *got = text_of(clang_getTypeSpelling(at_type));
            annot_error(a, alt->off, end, "alternative path '%s' has type '%s', but "
                        "transaction '%s' has type '%s'", alt->name, got, f->name, want);
            note_at(loc_of(fr, *d), alt->len, "'%s' declared here", alt->name);
            note_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' defined here", f->name);
            free(want);
            free(got);
            ok = false;
        }
    }
    return ok;
}

/* check_meta: parses and checks the annotation of transaction f. */
static bool check_meta(Front *fr, CXCursor fn, Func *f)
{
    read_types(fr, fn, f);
    const char **pnames = xcalloc((size_t)f->nparams + 1, sizeof *pnames);
    for (int i = 0; i < f->nparams; i++)
        pnames[i] = f->params[i].name;
    FuncSig sig = {f->name,   f->returns_void, f->returns_record, pnames, f->nparams,
                   f->ret_ty, (const Ty *const *)f->param_tys};
    Node *root = meta_parse(&f->annot);
    bool ok = root && meta_check(&f->annot, root, &sig, &f->meta);
    free(pnames);
    return ok;
}

/* read_transaction: everything about one annotated definition. */
static bool read_transaction(Front *fr, CXCursor fn, Func *f)
{
    f->name = text_of(clang_getCursorSpelling(fn));
    if (!clang_File_isEqual(cursor_file(fn), fr->main_cx)) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' must be defined in "
                 "the file being compiled, not in a header", f->name);
        return false;
    }
    if (!read_extent(fr, fn, f, "transaction"))
        return false;

    CXCursor attr;
    char *text = annotation_of(fn, ANNOT_PREFIX, &attr);
    read_annotation(fr, attr, text, f);

    bool ok = true;
    CXType ft = clang_getCursorType(fn);
    if (ft.kind == CXType_FunctionProto && clang_isFunctionTypeVariadic(ft)) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' is variadic; a mirror "
                 "cannot replay '...' arguments", f->name);
        note_at(f->annot.origin, 1, "'%s' is marked as a transaction here", f->name);
        ok = false;
    }
    if (strcmp(f->name, "main") == 0) {
        error_at(loc_of(fr, fn), 4, "'main' cannot be a transaction");
        ok = false;
    }
    ok = read_params(fr, fn, f) && ok;
    ok = read_result(fr, fn, f) && ok;

    CXCursor body;
    if (!read_body(fr, fn, f, &body))
        return false;
    ok = check_meta(fr, fn, f) && ok;
    if (!ok || !check_alternatives(fr, fn, f))
        return false;
    scan_function(fr, f, fn, body);
    return true;
}

/* skip_mirrorable: a PTM_MIRRORABLE written in the definition's header is
** left out of the clone's header, like PTM_TRANSACTION. */
static void skip_mirrorable(Front *fr, Func *f)
{
    if (f->file != fr->main)
        return;
    for (int i = 0; i < fr->nexps; i++) {
        Expansion *e = &fr->exps[i];
        if (e->start >= f->start && e->end <= f->name_off &&
            strcmp(e->name, "PTM_MIRRORABLE") == 0) {
            f->annot_off = e->start;
            f->annot_end = e->end;
        }
    }
}

/* read_clone: a function a mirror reaches, for its mirror clone. */
static bool read_clone(Front *fr, CXCursor fn, Func *f)
{
    f->name = text_of(clang_getCursorSpelling(fn));
    if (!read_extent(fr, fn, f, "function"))
        return false;
    CXCursor body;
    if (!read_body(fr, fn, f, &body))
        return false;
    skip_mirrorable(fr, f);
    f->external_clone = f->file == fr->main && is_mirrorable(fn) &&
                        clang_Cursor_getStorageClass(fn) != CX_SC_Static;
    scan_function(fr, f, fn, body);
    return true;
}

/* ---------------------------------------------------------------------
** User shims: PTM_MIRROR_OF(fn) on a function with fn's type
*/
/* shim_target_at: where the name in PTM_MIRROR_OF(name) is written, or
** the macro's position (len 0) when it cannot be found. */
static SrcLoc shim_target_at(Front *fr, const UserShim *s, size_t *len)
{
    SrcLoc at = loc_of(fr, s->attr);
    *len = 0;
    if (at.file != fr->main)
        return at;
    Expansion *e = find_expansion(fr, at.off);
    const char *t = fr->main->text;
    size_t i = at.off + strlen("PTM_MIRROR_OF");
    if (!e || strcmp(e->name, "PTM_MIRROR_OF") != 0)
        return at;
    while (i < e->end && (t[i] == ' ' || t[i] == '\t' || t[i] == '('))
        i++;
    size_t n = strlen(s->target);
    if (i + n > e->end || memcmp(t + i, s->target, n) != 0)
        return at;
    *len = n;
    return (SrcLoc){fr->main, i};
}

static bool check_user_shims(Front *fr)
{
    bool ok = true;
    for (int i = 0; i < fr->nshims; i++) {
        UserShim *s = &fr->shims[i];
        size_t len;
        SrcLoc at = shim_target_at(fr, s, &len);
        CXCursor *target = find_decl(fr, s->target);
        if (!target) {
            const char **names = decl_names(fr);
            const char *near = closest(s->target, names, (size_t)fr->ndecls);
            if (near) {
                error_at(at, len, "'%s' is not declared; did you mean '%s'?", s->target, near);
                if (len)
                    fixit(at, len, near);
            } else {
                error_at(at, len, "'%s' is not declared; a user shim must name a declared "
                         "function (include its header first)", s->target);
            }
            free(names);
            ok = false;
            continue;
        }
        CXType want = clang_getCursorType(*target), got = clang_getCursorType(s->decl);
        if (!same_signature(want, got)) {
            char *w = text_of(clang_getTypeSpelling(want));
            char *g = text_of(clang_getTypeSpelling(got));
            error_at(loc_of(fr, s->decl), strlen(s->shim), "user shim '%s' has type '%s', but "
                     "'%s' has type '%s': a mirror calls it with the same arguments",
                     s->shim, g, s->target, w);
            note_at(loc_of(fr, *target), strlen(s->target), "'%s' declared here", s->target);
            free(w);
            free(g);
            ok = false;
        }
    }
    return ok;
}

/* ---------------------------------------------------------------------
** Escapes: what each transaction's mirror reaches that leaves the mirror
*/

/* A function with a mirror clone, while the call graph is walked. */
typedef struct GraphNode {
    Func *f;
    bool seen;
} GraphNode;

typedef struct Graph {
    GraphNode *v;
    int n;
} Graph;

static int graph_find(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->v[i].f->name, name) == 0)
            return i;
    return -1;
}

/* reach: the functions whose clones the mirror of g->v[root] runs, in
** breadth-first order.  OUT: order (indices), returns how many. */
static int reach(Graph *g, int root, int *order)
{
    for (int i = 0; i < g->n; i++)
        g->v[i].seen = false;
    int n = 0;
    order[n++] = root;
    g->v[root].seen = true;
    for (int k = 0; k < n; k++) {
        Func *f = g->v[order[k]].f;
        for (int i = 0; i < f->ncallees; i++) {
            int j = graph_find(g, f->callees[i]);
            if (j >= 0 && !g->v[j].seen) {
                g->v[j].seen = true;
                order[n++] = j;
            }
        }
    }
    return n;
}

static char *escape_reason(const Escape *e)
{
    unsigned line, col;
    src_line_col(e->loc, &line, &col);
    const char *path = e->loc.file ? e->loc.file->path : "?";
    if (e->macro_defined)
        return format("calls '%s', defined by a macro (%s:%u)", e->callee, path, line);
    if (e->old_style)
        return format("calls '%s', defined K&R-style (%s:%u)", e->callee, path, line);
    if (e->callee)
        return format("calls unknown external '%s' (%s:%u)", e->callee, path, line);
    return format("calls through a function pointer (%s:%u)", path, line);
}

static void warn_escape(const Func *f, const Escape *e)
{
    if (e->macro_defined)
        warning_at(W_UNCLONEABLE, e->loc, e->len, "call to '%s' in the mirror of '%s': a macro writes its "
                   "definition, so ptmcc cannot clone it; transactions that reach it need the "
                   "fork executor", e->callee, f->name);
    else if (e->old_style)
        warning_at(W_UNCLONEABLE, e->loc, e->len, "call to '%s' in the mirror of '%s': its definition is "
                   "K&R-style (parameters declared after the list), so ptmcc cannot clone it; "
                   "transactions that reach it need the fork executor", e->callee, f->name);
    else if (e->callee)
        warning_at(W_UNKNOWN_EXTERNAL, e->loc, e->len, "call to unknown external '%s' in the mirror of '%s': "
                   "transactions that reach it need the fork executor", e->callee, f->name);
    else
        warning_at(W_FUNCTION_POINTER, e->loc, e->len, "call through a function pointer in the mirror of '%s': "
                   "transactions that reach it need the fork executor", f->name);
}

static void note_escape(const Func *f, const Escape *e)
{
    if (e->macro_defined)
        note_at(e->loc, e->len, "'%s' calls '%s' here, which a macro defines", f->name,
                e->callee);
    else if (e->old_style)
        note_at(e->loc, e->len, "'%s' calls '%s' here, which is defined K&R-style", f->name,
                e->callee);
    else if (e->callee)
        note_at(e->loc, e->len, "'%s' calls unknown external '%s' here", f->name, e->callee);
    else
        note_at(e->loc, e->len, "'%s' calls through a function pointer here", f->name);
}

/* calls_other_file: whether f's clone calls a clone in another file, whose
** stores cannot be proved here (nor its existence: it may be missing). */
static const char *calls_other_file(const Func *f)
{
    for (int i = 0; i < f->nredirects; i++)
        if (strstr(f->redirects[i].target, "__ptm_xtu"))
            return f->redirects[i].name;
    for (int i = 0; i < f->nmacro_redirects; i++)
        if (strstr(f->macro_redirects[i].target, "__ptm_xtu"))
            return f->macro_redirects[i].name;
    return NULL;
}

/* prove_inline: a transaction's mirror may run inline when it needs no fork,
** every function it reaches is in this file, and each stores only into its
** own locals (inline.c) -- or, when one does not, when every one of them
** can be instrumented to access memory through the write buffer: then
** every function of the mirror is (a function that only reads must still
** read what another wrote to the buffer).
** OUT: t->inline_ok, t->tx_redo, t->inline_blocker, and ->redo of each
** function of an instrumented mirror. */
static void prove_inline(Graph *g, Func *t, int *order, int n)
{
    t->inline_ok = !t->needs_fork;
    t->tx_redo = false;
    for (int k = 0; k < n && t->inline_ok; k++) {
        Func *f = g->v[order[k]].f;
        const char *other = calls_other_file(f);
        if (other) {
            t->inline_ok = false;
            t->inline_blocker = format("%s: calls '%s', whose clone is in another file",
                                       f->name, other);
        } else if (!f->inl.local_stores_only) {
            t->tx_redo = true;
        }
    }
    for (int k = 0; k < n && t->inline_ok && t->tx_redo; k++) {
        Func *f = g->v[order[k]].f;
        if (!f->inl.redo_ok) {
            t->inline_ok = false;
            t->inline_blocker = format("%s: %s", f->name, f->inl.redo_blocker);
        }
    }
    for (int k = 0; k < n && t->inline_ok && t->tx_redo; k++)
        g->v[order[k]].f->redo = true;
}

/* inline_error: `mirror = inline` needs every call of the mirror inside it
** and every store in the mirror's locals; the error says what is not. */
static void inline_error(Graph *g, int root, int *order)
{
    Func *t = g->v[root].f;
    if (!t->needs_fork) {
        annot_error(&t->annot, t->meta.mirror_off, t->meta.mirror_off + t->meta.mirror_len,
                    "'mirror = inline' needs the mirror of '%s' to keep its stores from the "
                    "host's memory: %s", t->name, t->inline_blocker);
        int n = reach(g, root, order);
        for (int k = 0; k < n; k++) {
            Func *f = g->v[order[k]].f;
            if (!f->inl.redo_ok)
                note_at((SrcLoc){f->file, f->inl.redo_blocker_off}, 1,
                        "'%s' cannot go through the write buffer here; use 'auto' or 'fork'",
                        f->name);
        }
        return;
    }
    annot_error(&t->annot, t->meta.mirror_off, t->meta.mirror_off + t->meta.mirror_len,
                "'mirror = inline' needs every call in the mirror of '%s' to reach a shim or "
                "a mirror clone", t->name);
    int n = reach(g, root, order);
    for (int k = 0; k < n; k++) {
        Func *f = g->v[order[k]].f;
        for (int i = 0; i < f->nescapes; i++)
            note_escape(f, &f->escapes[i]);
    }
}

/* analyse_escapes: each transaction learns whether its mirror needs the
** fork executor, and why; escapes reachable from an `auto` transaction or
** from a PTM_MIRRORABLE clone are warned about, and `mirror = inline`
** with escapes is an error.  Returns false after an error. */
static bool analyse_escapes(Unit *u)
{
    Graph g = {xcalloc((size_t)(u->nfuncs + u->nclones + 1), sizeof *g.v), 0};
    for (int i = 0; i < u->nfuncs; i++)
        g.v[g.n++] = (GraphNode){&u->funcs[i], false};
    for (int i = 0; i < u->nclones; i++)
        g.v[g.n++] = (GraphNode){&u->clones[i], false};
    int *order = xcalloc((size_t)g.n + 1, sizeof *order);
    bool *warn = xcalloc((size_t)g.n + 1, sizeof *warn);
    bool ok = true;
    for (int r = 0; r < g.n; r++) {
        Func *root = g.v[r].f;
        bool is_tx = r < u->nfuncs;
        if (!is_tx && !root->external_clone)
            continue;
        int n = reach(&g, r, order);
        for (int k = 0; k < n && is_tx && !root->mirror_reason; k++) {
            Func *f = g.v[order[k]].f;
            if (f->nescapes) {
                root->needs_fork = true;
                root->mirror_reason = escape_reason(&f->escapes[0]);
            }
        }
        if (is_tx)
            prove_inline(&g, root, order, n);
        MirrorMode m = is_tx ? root->meta.mirror : MIRROR_AUTO;
        if (m == MIRROR_AUTO)
            for (int k = 0; k < n; k++)
                warn[order[k]] = true;
        if (m == MIRROR_INLINE && !root->inline_ok) {
            inline_error(&g, r, order);
            ok = false;
        }
    }
    for (int i = 0; i < g.n; i++)
        for (int k = 0; warn[i] && k < g.v[i].f->nescapes; k++)
            warn_escape(g.v[i].f, &g.v[i].f->escapes[k]);
    free(warn);
    free(order);
    free(g.v);
    return ok;
}

/* ---------------------------------------------------------------------
** The unit
*/

static void front_free(Front *fr)
{
    for (int i = 0; i < fr->nexps; i++)
        free(fr->exps[i].name);
    free(fr->exps);
    for (int i = 0; i < fr->ndecls; i++)
        free(fr->decls[i].name);
    free(fr->decls);
    for (int i = 0; i < fr->nvars; i++)
        free(fr->vars[i].name);
    free(fr->vars);
    for (int i = 0; i < fr->nshims; i++) {
        free(fr->shims[i].target);
        free(fr->shims[i].shim);
    }
    free(fr->shims);
    free(fr->tx);
    free(fr->clones);
    for (int i = 0; i < fr->nxtu; i++)
        free(fr->xtu[i]);
    free(fr->xtu);
}

/* read_unit: the transactions, then every function their mirrors reach
** (fr->nclones grows as clones' bodies reach further). */
static bool read_unit(Front *fr, Unit *u)
{
    bool ok = check_user_shims(fr);
    u->funcs = xcalloc((size_t)(fr->ntx ? fr->ntx : 1), sizeof *u->funcs);
    for (int i = 0; i < fr->ntx; i++) {
        Func *f = &u->funcs[u->nfuncs++];
        if (!read_transaction(fr, fr->tx[i], f)) {
            ok = false;
            continue;
        }
        if (f->meta.rules && !rules_load(f, &f->rules_text, &f->rules_path))
            ok = false;
        CXCursor first = clang_getCanonicalCursor(fr->tx[i]);
        f->has_prior_decl = !clang_equalCursors(first, fr->tx[i]);
    }
    for (int i = 0; ok && i < fr->nclones; i++) {
        Func clone = {0};
        if (!read_clone(fr, fr->clones[i].def, &clone)) {
            ok = false;
            continue;
        }
        u->clones = xrealloc(u->clones, sizeof *u->clones * (size_t)(u->nclones + 1));
        u->clones[u->nclones++] = clone;
    }
    if (ok)
        ok = analyse_escapes(u);
    u->xtu = fr->xtu;
    u->nxtu = fr->nxtu;
    fr->xtu = NULL;
    fr->nxtu = 0;
    return ok;
}

Unit *front_parse(const char *path, const char *const *args, int nargs)
{
    Front fr = {0};
    fr.main = src_load(path);
    if (!fr.main) {
        error_plain("cannot read '%s'", path);
        return NULL;
    }

    CXIndex index = clang_createIndex(0, 0);
    enum CXErrorCode rc = clang_parseTranslationUnit2(
        index, path, args, nargs, NULL, 0,
        CXTranslationUnit_DetailedPreprocessingRecord | CXTranslationUnit_KeepGoing, &fr.tu);
    if (rc != CXError_Success) {
        error_plain("libclang could not parse '%s' (error %d)", path, (int)rc);
        clang_disposeIndex(index);
        return NULL;
    }
    Unit *u = NULL;
    fr.main_cx = clang_getFile(fr.tu, path);
    if (!report_clang_errors(&fr)) {
        clang_visitChildren(clang_getTranslationUnitCursor(fr.tu), collect_top, &fr);
        u = xcalloc(1, sizeof *u);
        u->main = fr.main;
        if (!read_unit(&fr, u) || diag_error_count() > 0) {
            unit_free(u);
            u = NULL;
        }
    }
    front_free(&fr);
    clang_disposeTranslationUnit(fr.tu);
    clang_disposeIndex(index);
    return u;
}

static void redirects_free(Redirect *r, int n)
{
    for (int j = 0; j < n; j++) {
        free(r[j].name);
        free(r[j].target);
    }
    free(r);
}

static void func_free(Func *f)
{
    free(f->name);
    free(f->ret_type);
    for (int i = 0; i < f->nret_pointers; i++)
        free(f->ret_pointers[i]);
    free(f->ret_pointers);
    for (int j = 0; j < f->nparams; j++) {
        free(f->params[j].name);
        free(f->params[j].type);
    }
    free(f->params);
    while (f->types) {
        Ty *t = f->types;
        f->types = t->next;
        for (int j = 0; j < t->nfields; j++)
            free(t->fields[j].name);
        free(t->fields);
        free(t->spelling);
        free(t);
    }
    free(f->param_tys);
    redirects_free(f->redirects, f->nredirects);
    redirects_free(f->macro_redirects, f->nmacro_redirects);
    free(f->self_refs);
    for (int j = 0; j < f->nhoists; j++) {
        free(f->hoists[j].name);
        free(f->hoists[j].new_name);
        free(f->hoists[j].refs);
    }
    free(f->hoists);
    for (int j = 0; j < f->nescapes; j++)
        free(f->escapes[j].callee);
    free(f->escapes);
    inline_facts_free(&f->inl);
    free(f->inline_blocker);
    for (int j = 0; j < f->ncallees; j++)
        free(f->callees[j]);
    free(f->callees);
    free(f->mirror_reason);
    annot_free(&f->annot);
    free(f->rules_text);
    free(f->rules_path);
    if (f->meta.root)
        meta_free(&f->meta);
}

void unit_free(Unit *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->nfuncs; i++)
        func_free(&u->funcs[i]);
    for (int i = 0; i < u->nclones; i++)
        func_free(&u->clones[i]);
    for (int i = 0; i < u->nxtu; i++)
        free(u->xtu[i]);
    free(u->xtu);
    free(u->funcs);
    free(u->clones);
    free(u);
}

/* unit_needs_rewrite: see ptmcc.h. */
bool unit_needs_rewrite(const Unit *u)
{
    return u && (u->nfuncs > 0 || u->nclones > 0);
}

/* ---------------------------------------------------------------------
** The rewritten unit's expressions: success_criteria and snapshot are
** C the backend resolves (globals, enum constants, macros, types).  An
** error there, left to the backend, shows a line of the generated code
** (`retrun == 0)) != 0;`) and its follow-on errors.  So ptmcc compiles the
** rewritten unit with libclang first, and reports the first error inside
** each expression itself, at the user's text.
*/

/* ExprSpan: where an expression of the annotation is in the source. */
typedef struct ExprSpan {
    SrcFile *file;
    size_t off, end;     /* [off, end): its source bytes */
    bool reported;       /* its first error is out: the rest follow from it */
} ExprSpan;

/* span_of: the source bytes of text span [off, end) of f's annotation.
** An annotation without a map puts everything at its origin. */
static ExprSpan span_of(const Func *f, size_t off, size_t end)
{
    SrcLoc a = annot_loc(&f->annot, off);
    SrcLoc b = annot_loc(&f->annot, end > off ? end - 1 : off);
    if (!f->annot.map || a.file != b.file || b.off < a.off)
        return (ExprSpan){a.file, a.off, a.off + 1, false};
    return (ExprSpan){a.file, a.off, b.off + 1, false};
}

/* expr_spans: the spans of the expressions of u that need the backend.
** OUT: *n.  Returns a malloc'd array (NULL when none). */
static ExprSpan *expr_spans(const Unit *u, int *n)
{
    ExprSpan *v = NULL;
    *n = 0;
    for (int i = 0; i < u->nfuncs; i++) {
        const Func *f = &u->funcs[i];
        const char **names = xcalloc((size_t)f->nparams + 1, sizeof *names);
        for (int k = 0; k < f->nparams; k++)
            names[k] = f->params[k].name;
        FuncSig sig = {f->name, f->returns_void, f->returns_record, names, f->nparams, NULL,
                       NULL};
        const Node *e[2] = {f->meta.success, f->meta.snapshot};
        bool need[2] = {expr_needs_backend(e[0], &sig), expr_needs_backend(e[1], &sig)};
        free(names);
        for (int k = 0; k < 2; k++) {
            if (!need[k])
                continue;
            v = xrealloc(v, sizeof *v * (size_t)(*n + 1));
            v[(*n)++] = span_of(f, e[k]->off, e[k]->end);
        }
    }
    return v;
}

/* presumed_loc: where a location of the rewritten unit is by its #line
** directives: the user's file and offset.  OUT: *len, the bytes of the
** diagnostic's range on that line (at least 1).  {0} when unknown. */
static SrcLoc presumed_loc(CXDiagnostic d, size_t *len)
{
    CXString name;
    unsigned line, col;
    clang_getPresumedLocation(clang_getDiagnosticLocation(d), &name, &line, &col);
    char *path = text_of(name);
    SrcFile *f = *path && line ? src_load(path) : NULL;
    free(path);
    *len = 1;
    if (!f)
        return (SrcLoc){0};
    unsigned l0, c0;
    src_line_col((SrcLoc){f, 0}, &l0, &c0); /* builds the line index */
    if (line > f->nlines)
        return (SrcLoc){0};
    size_t off = f->lines[line - 1] + (col ? col - 1 : 0);
    if (clang_getDiagnosticNumRanges(d) > 0) {
        CXSourceRange r = clang_getDiagnosticRange(d, 0);
        CXString n2;
        unsigned l1, c1, l2, c2;
        clang_getPresumedLocation(clang_getRangeStart(r), &n2, &l1, &c1);
        clang_disposeString(n2);
        clang_getPresumedLocation(clang_getRangeEnd(r), &n2, &l2, &c2);
        clang_disposeString(n2);
        if (l1 == line && l2 == line && c1 == col && c2 > c1)
            *len = c2 - c1;
    }
    return (SrcLoc){f, off < f->len ? off : f->len};
}

/* fixit_len: the source bytes fix-it i of d replaces, when it starts at
** at (d's place) and stays on its line; -1 otherwise.  OUT: *text. */
static long fixit_len(CXDiagnostic d, unsigned i, SrcLoc at, char **text)
{
    CXSourceRange r;
    *text = text_of(clang_getDiagnosticFixIt(d, i, &r));
    CXString n1, n2;
    unsigned l1, c1, l2, c2, la, ca;
    clang_getPresumedLocation(clang_getRangeStart(r), &n1, &l1, &c1);
    clang_getPresumedLocation(clang_getRangeEnd(r), &n2, &l2, &c2);
    clang_disposeString(n1);
    clang_disposeString(n2);
    src_line_col(at, &la, &ca);
    return l1 == la && c1 == ca && l2 == l1 && c2 >= c1 ? (long)(c2 - c1) : -1;
}

/* report_with_fixits: d at `at`, with clang's replacements ('retrun' ->
** 'return') shown as clang shows them; the caret spans what the first
** one replaces when d has no range of its own. */
static void report_with_fixits(CXDiagnostic d, SrcLoc at, size_t len)
{
    unsigned n = clang_getDiagnosticNumFixIts(d);
    char *text;
    long first = n ? fixit_len(d, 0, at, &text) : -1;
    if (n)
        free(text);
    char *msg = text_of(clang_getDiagnosticSpelling(d));
    error_at(at, len == 1 && first > 1 ? (size_t)first : len, "%s", msg);
    free(msg);
    for (unsigned i = 0; i < n; i++) {
        long k = fixit_len(d, i, at, &text);
        if (k >= 0)
            fixit(at, (size_t)k, text);
        free(text);
    }
}

/* report_in_spans: reports d if it is an error inside one of the spans
** whose first error is not out yet.  Returns whether it was reported. */
static bool report_in_spans(CXDiagnostic d, ExprSpan *spans, int n)
{
    if (clang_getDiagnosticSeverity(d) < CXDiagnostic_Error)
        return false;
    size_t len;
    SrcLoc at = presumed_loc(d, &len);
    for (int i = 0; at.file && i < n; i++) {
        ExprSpan *s = &spans[i];
        if (s->file != at.file || at.off < s->off || at.off >= s->end)
            continue;
        if (s->reported)
            return false;
        s->reported = true;
        report_with_fixits(d, at, len);
        return true;
    }
    return false;
}

/* front_check_exprs: see ptmcc.h. */
bool front_check_exprs(const Unit *u, const char *path, const char *text,
                       const char *const *args, int nargs)
{
    int n;
    ExprSpan *spans = expr_spans(u, &n);
    if (!n)
        return true;
    /* libclang turns typo correction off unless asked: "did you mean" */
    const char **argv = xcalloc((size_t)nargs + 1, sizeof *argv);
    memcpy(argv, args, sizeof *argv * (size_t)nargs);
    argv[nargs] = "-fspell-checking";
    CXIndex index = clang_createIndex(0, 0);
    struct CXUnsavedFile unsaved = {path, text, (unsigned long)strlen(text)};
    CXTranslationUnit tu = NULL;
    enum CXErrorCode rc = clang_parseTranslationUnit2(index, path, argv, nargs + 1, &unsaved, 1,
                                                      CXTranslationUnit_KeepGoing, &tu);
    free(argv);
    int errors = 0;
    for (unsigned i = 0; rc == CXError_Success && i < clang_getNumDiagnostics(tu); i++) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        errors += report_in_spans(d, spans, n);
        clang_disposeDiagnostic(d);
    }
    /* A parse that failed, or an error elsewhere, is the backend's to report. */
    if (tu)
        clang_disposeTranslationUnit(tu);
    clang_disposeIndex(index);
    free(spans);
    return errors == 0;
}
