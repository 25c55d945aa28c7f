/*
** front.c - libclang: finds the annotated functions of a translation unit and
** reads what the emitter needs from each: where its parts are in the text,
** its parameter and return types, and the references in its body that the
** mirror clone must redirect.
**
** Positions are expansion locations (where the text is in the main file),
** except for redirects, which use spelling locations: a call written in a
** macro argument is spelled in the main file and can be renamed there, a
** call written in a macro's body cannot and is redirected by the emitter
** with a scoped function-like macro instead.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

#define ANNOT_PREFIX "ptm.transaction:"

static const char *const shim_names[] = {
#define PTM_SHIM(name, family) #name,
#include "shims/shims.def"
#undef PTM_SHIM
};

/* The state of one parse. */
typedef struct Front {
    CXTranslationUnit tu;
    SrcFile *main;
    CXFile main_cx;
    /* Macro expansions in the main file: [start, end) offsets. */
    struct Expansion { size_t start, end; char *name; } *exps;
    int nexps;
    /* Every function declared in the unit, by name (the first declaration). */
    struct Decl { char *name; CXCursor cursor; } *decls;
    int ndecls;
    /* Annotated definitions found, in order. */
    CXCursor *tx;
    int ntx;
    /* Functions defined in the main file that a mirror reaches: each gets a
    ** mirror clone.  Grows while bodies are scanned. */
    CXCursor *clones;
    int nclones;
} Front;

/* text_of: a malloc'd copy of a CXString, disposing it. */
static char *text_of(CXString s)
{
    const char *c = clang_getCString(s);
    char *r = xstrdup(c ? c : "");
    clang_disposeString(s);
    return r;
}

/* expansion_off: the expansion offset of loc, and whether it is in the main
** file. */
static bool expansion_off(Front *fr, CXSourceLocation loc, size_t *off)
{
    CXFile f;
    unsigned o;
    clang_getExpansionLocation(loc, &f, NULL, NULL, &o);
    *off = o;
    return f && clang_File_isEqual(f, fr->main_cx);
}

static bool spelling_off(Front *fr, CXSourceLocation loc, size_t *off)
{
    CXFile f;
    unsigned o;
    clang_getSpellingLocation(loc, &f, NULL, NULL, &o);
    *off = o;
    return f && clang_File_isEqual(f, fr->main_cx);
}

/* loc_of: a cursor's location as a diagnostic position (expansion). */
static SrcLoc loc_of(Front *fr, CXCursor c)
{
    CXFile f;
    unsigned o;
    clang_getExpansionLocation(clang_getCursorLocation(c), &f, NULL, NULL, &o);
    if (!f)
        return (SrcLoc){0};
    if (clang_File_isEqual(f, fr->main_cx))
        return (SrcLoc){fr->main, o};
    char *name = text_of(clang_getFileName(f));
    SrcFile *sf = src_load(name);
    free(name);
    return (SrcLoc){sf, o};
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
            CXFile f;
            unsigned off;
            clang_getExpansionLocation(clang_getDiagnosticLocation(d), &f, NULL, NULL, &off);
            char *msg = text_of(clang_getDiagnosticSpelling(d));
            SrcLoc loc = {0};
            if (f) {
                char *name = text_of(clang_getFileName(f));
                loc = (SrcLoc){src_load(name), off};
                free(name);
            }
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

/* annotation_of: the text after "ptm.transaction:" of fn's annotate
** attribute, with the attribute cursor.  NULL when fn has none. */
static char *annotation_of(CXCursor fn, CXCursor *attr);

typedef struct AttrSearch {
    char *text;
    CXCursor attr;
} AttrSearch;

static enum CXChildVisitResult find_attr(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    AttrSearch *s = data;
    if (clang_getCursorKind(c) != CXCursor_AnnotateAttr)
        return CXChildVisit_Continue;
    char *text = text_of(clang_getCursorSpelling(c));
    if (strncmp(text, ANNOT_PREFIX, strlen(ANNOT_PREFIX)) == 0 && !s->text) {
        s->text = text;
        s->attr = c;
        return CXChildVisit_Break;
    }
    free(text);
    return CXChildVisit_Continue;
}

static char *annotation_of(CXCursor fn, CXCursor *attr)
{
    AttrSearch s = {0};
    clang_visitChildren(fn, find_attr, &s);
    if (!s.text)
        return NULL;
    *attr = s.attr;
    char *body = xstrdup(s.text + strlen(ANNOT_PREFIX));
    free(s.text);
    return body;
}

/* collect_top: records macro expansions, declared functions and annotated
** definitions at file scope. */
static enum CXChildVisitResult collect_top(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Front *fr = data;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_MacroExpansion) {
        CXSourceRange r = clang_getCursorExtent(c);
        size_t s, e;
        if (expansion_off(fr, clang_getRangeStart(r), &s) &&
            expansion_off(fr, clang_getRangeEnd(r), &e)) {
            fr->exps = xrealloc(fr->exps, sizeof *fr->exps * (size_t)(fr->nexps + 1));
            fr->exps[fr->nexps++] =
                (struct Expansion){s, e, text_of(clang_getCursorSpelling(c))};
        }
        return CXChildVisit_Continue;
    }
    if (k != CXCursor_FunctionDecl)
        return CXChildVisit_Continue;

    char *name = text_of(clang_getCursorSpelling(c));
    bool known = false;
    for (int i = 0; i < fr->ndecls && !known; i++)
        known = strcmp(fr->decls[i].name, name) == 0;
    if (!known) {
        fr->decls = xrealloc(fr->decls, sizeof *fr->decls * (size_t)(fr->ndecls + 1));
        fr->decls[fr->ndecls++] = (struct Decl){xstrdup(name), c};
    }
    free(name);

    CXCursor attr;
    char *text = clang_isCursorDefinition(c) ? annotation_of(c, &attr) : NULL;
    if (text) {
        fr->tx = xrealloc(fr->tx, sizeof *fr->tx * (size_t)(fr->ntx + 1));
        fr->tx[fr->ntx++] = c;
        free(text);
    }
    return CXChildVisit_Continue;
}

static CXCursor *find_decl(Front *fr, const char *name)
{
    for (int i = 0; i < fr->ndecls; i++)
        if (strcmp(fr->decls[i].name, name) == 0)
            return &fr->decls[i].cursor;
    return NULL;
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

/* anonymous_type: true for a type clang can only name by its position
** ("struct (unnamed at x.c:3:1)"), which cannot be written back. */
static bool anonymous_type(const char *spelling)
{
    return strstr(spelling, "(unnamed") || strstr(spelling, "(anonymous");
}

/* ---------------------------------------------------------------------
** The body: references to redirect in the mirror clone
*/
typedef struct BodyScan {
    Front *fr;
    Func *f;
    size_t body_start, body_end;
} BodyScan;

static bool is_shim(const char *name)
{
    for (size_t i = 0; i < sizeof shim_names / sizeof *shim_names; i++)
        if (strcmp(shim_names[i], name) == 0)
            return true;
    return false;
}

/* definition_in_main: the definition of the function ref refers to, when
** it is in the main file with its name written out (so it can be cloned). */
static bool definition_in_main(Front *fr, CXCursor ref, CXCursor *def)
{
    *def = clang_getCursorDefinition(ref);
    if (clang_Cursor_isNull(*def))
        return false;
    size_t exp, spell;
    CXSourceLocation loc = clang_getCursorLocation(*def);
    return expansion_off(fr, loc, &exp) && spelling_off(fr, loc, &spell) && exp == spell;
}

/* want_clone: queues def for a mirror clone unless it is a transaction (it
** has one) or already queued. */
static void want_clone(Front *fr, CXCursor def)
{
    for (int i = 0; i < fr->ntx; i++)
        if (clang_equalCursors(fr->tx[i], def))
            return;
    for (int i = 0; i < fr->nclones; i++)
        if (clang_equalCursors(fr->clones[i], def))
            return;
    fr->clones = xrealloc(fr->clones, sizeof *fr->clones * (size_t)(fr->nclones + 1));
    fr->clones[fr->nclones++] = def;
}

static void add_redirect(Func *f, const char *name, size_t off, size_t len, bool to_clone)
{
    for (int i = 0; i < f->nredirects; i++)
        if (f->redirects[i].off == off)
            return;
    f->redirects = xrealloc(f->redirects, sizeof *f->redirects * (size_t)(f->nredirects + 1));
    f->redirects[f->nredirects++] = (Redirect){xstrdup(name), off, len, to_clone};
}

static void add_macro_redirect(Func *f, const char *name)
{
    for (int i = 0; i < f->nmacro_shims; i++)
        if (strcmp(f->macro_shims[i], name) == 0)
            return;
    f->macro_shims = xrealloc(f->macro_shims, sizeof *f->macro_shims * (size_t)(f->nmacro_shims + 1));
    f->macro_shims[f->nmacro_shims++] = xstrdup(name);
}

/* scan_ref: a reference to a function from a mirror's body.  Functions of
** this file go to their mirror clones, I/O calls to shims; the reference
** is renamed where it is spelled in the body (a macro argument counts), and
** through a scoped macro where it comes from a macro's definition. */
static void scan_ref(BodyScan *b, CXCursor c, CXCursor ref, const char *name)
{
    CXCursor def;
    bool to_clone = definition_in_main(b->fr, ref, &def);
    if (!to_clone && !is_shim(name))
        return; /* an external: runs as is, under the fork executor's seccomp */
    if (to_clone)
        want_clone(b->fr, def);

    size_t off;
    bool in_main = spelling_off(b->fr, clang_getCursorLocation(c), &off);
    size_t len = strlen(name);
    if (in_main && off >= b->body_start && off + len <= b->body_end &&
        memcmp(b->fr->main->text + off, name, len) == 0) {
        add_redirect(b->f, name, off, len, to_clone);
        if (to_clone && strcmp(name, b->f->name) == 0) {
            Func *f = b->f;
            f->self_refs = xrealloc(f->self_refs, sizeof *f->self_refs * (size_t)(f->nself_refs + 1));
            f->self_refs[f->nself_refs++] = off;
        }
    } else {
        add_macro_redirect(b->f, name);
    }
}

static enum CXChildVisitResult scan_body(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    BodyScan *b = data;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_DeclRefExpr) {
        CXCursor ref = clang_getCursorReferenced(c);
        if (clang_getCursorKind(ref) == CXCursor_FunctionDecl) {
            char *name = text_of(clang_getCursorSpelling(ref));
            scan_ref(b, c, ref, name);
            free(name);
        }
    } else if (k == CXCursor_VarDecl &&
               clang_Cursor_getStorageClass(c) == CX_SC_Static) {
        char *name = text_of(clang_getCursorSpelling(c));
        warning_at(loc_of(b->fr, c), strlen(name),
                   "the mirror clone of '%s' gets its own copy of static variable '%s': "
                   "the mirror sees its initial value, not the primary's",
                   b->f->name, name);
        free(name);
    }
    return CXChildVisit_Recurse;
}

/* ---------------------------------------------------------------------
** One transaction
*/

/* find_expansion: the macro expansion that starts at off, or NULL. */
static struct Expansion *find_expansion(Front *fr, size_t off)
{
    for (int i = 0; i < fr->nexps; i++)
        if (fr->exps[i].start == off)
            return &fr->exps[i];
    return NULL;
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

    struct Expansion *e = find_expansion(fr, off);
    if (!e)
        return;
    if (e->start >= f->start && e->end <= f->name_off) {
        f->annot_off = e->start;
        f->annot_end = e->end;
    }
    if (strcmp(e->name, "PTM_TRANSACTION") != 0)
        return; /* written through a user macro: errors point at its use */

    const char *t = fr->main->text;
    size_t open = e->start + strlen("PTM_TRANSACTION");
    while (open < e->end && t[open] != '(')
        open++;
    size_t close = e->end;
    while (close > open && t[close - 1] != ')')
        close--;
    if (open < e->end && close > open + 1)
        annot_map_source(&f->annot, open + 1, close - 1);
}

static bool read_params(Front *fr, CXCursor fn, Func *f)
{
    bool ok = true;
    int n = clang_Cursor_getNumArguments(fn);
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
        f->params[i] = (Param){name, param_type(t)};
        free(spelled);
    }
    f->nparams = n;
    return ok;
}

static bool read_result(Front *fr, CXCursor fn, Func *f)
{
    CXType rt = clang_getResultType(clang_getCursorType(fn));
    CXType canon = clang_getCanonicalType(rt);
    f->returns_void = canon.kind == CXType_Void;
    f->returns_record = canon.kind == CXType_Record;
    f->ret_type = member_type(clang_getUnqualifiedType(rt));
    if (anonymous_type(f->ret_type)) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' returns an unnamed "
                 "type; give the type a name (a tag or a typedef)", f->name);
        return false;
    }
    return true;
}

static bool read_extent(Front *fr, CXCursor fn, Func *f)
{
    CXSourceRange r = clang_getCursorExtent(fn);
    bool ok = expansion_off(fr, clang_getRangeStart(r), &f->start) &&
              expansion_off(fr, clang_getRangeEnd(r), &f->end);
    size_t name_exp, name_spell;
    ok = ok && expansion_off(fr, clang_getCursorLocation(fn), &name_exp);
    bool spelled_here = spelling_off(fr, clang_getCursorLocation(fn), &name_spell);
    if (!ok) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' must be defined in "
                 "the file being compiled, not in a header", f->name);
        return false;
    }
    if (!spelled_here || name_spell != name_exp ||
        strncmp(fr->main->text + name_exp, f->name, strlen(f->name)) != 0) {
        error_at(loc_of(fr, fn), 1, "the name of transaction '%s' comes from a macro; "
                 "ptmcc needs it written out", f->name);
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
        !expansion_off(fr, clang_getRangeStart(clang_getCursorExtent(*body)), &f->body_off)) {
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
    for (int i = 0; i < f->meta.n_alternatives; i++) {
        NameRef *alt = &f->meta.alternatives[i];
        SrcLoc at = annot_loc(&f->annot, alt->off);
        CXCursor *d = find_decl(fr, alt->name);
        if (!d) {
            const char **names = decl_names(fr);
            const char *near = closest(alt->name, names, (size_t)fr->ndecls);
            if (near) {
                error_at(at, alt->len, "'%s' is not declared; did you mean '%s'?", alt->name, near);
                fixit(at, alt->len, near);
            } else {
                error_at(at, alt->len, "alternative path '%s' is not declared; declare it "
                         "before the transaction", alt->name);
            }
            free(names);
            ok = false;
            continue;
        }
        if (strcmp(alt->name, f->name) == 0) {
            error_at(at, alt->len, "transaction '%s' cannot be its own alternative", f->name);
            ok = false;
            continue;
        }
        CXType at_type = clang_getCursorType(*d);
        if (!same_signature(ft, at_type)) {
            char *want = text_of(clang_getTypeSpelling(ft));
            char *got = text_of(clang_getTypeSpelling(at_type));
            error_at(at, alt->len, "alternative path '%s' has type '%s', but transaction "
                     "'%s' has type '%s'", alt->name, got, f->name, want);
            note_at(loc_of(fr, *d), alt->len, "'%s' declared here", alt->name);
            note_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' defined here", f->name);
            free(want);
            free(got);
            ok = false;
        }
    }
    return ok;
}

/* read_transaction: everything about one annotated definition. */
static bool read_transaction(Front *fr, CXCursor fn, Func *f)
{
    f->name = text_of(clang_getCursorSpelling(fn));
    f->file = fr->main;
    if (!read_extent(fr, fn, f))
        return false;

    CXCursor attr;
    char *text = annotation_of(fn, &attr);
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

    const char **pnames = xcalloc((size_t)f->nparams + 1, sizeof *pnames);
    for (int i = 0; i < f->nparams; i++)
        pnames[i] = f->params[i].name;
    FuncSig sig = {f->name, f->returns_void, f->returns_record, pnames, f->nparams};
    Node *root = meta_parse(&f->annot);
    ok = root && meta_check(&f->annot, root, &sig, &f->meta) && ok;
    free(pnames);
    if (!ok)
        return false;
    if (!check_alternatives(fr, fn, f))
        return false;
    if (f->meta.mirror == MIRROR_INLINE) {
        error_at(annot_loc(&f->annot, f->meta.mirror_off), f->meta.mirror_len,
                 "'mirror = inline' is not available yet: the inline executor needs "
                 "ptmcc's redo-log instrumentation; use 'auto' or 'fork'");
        return false;
    }

    BodyScan scan = {fr, f, f->body_off, f->end};
    clang_visitChildren(body, scan_body, &scan);
    return true;
}

/* read_clone: a function a mirror reaches, for its mirror clone. */
static bool read_clone(Front *fr, CXCursor fn, Func *f)
{
    f->name = text_of(clang_getCursorSpelling(fn));
    f->file = fr->main;
    if (!read_extent(fr, fn, f))
        return false;
    CXCursor body;
    if (!read_body(fr, fn, f, &body))
        return false;
    CXCursor attr;
    char *text = annotation_of(fn, &attr);
    if (text) /* PTM_MIRRORABLE and friends: drop the attribute in the clone */
        read_annotation(fr, attr, text, f);
    BodyScan scan = {fr, f, f->body_off, f->end};
    clang_visitChildren(body, scan_body, &scan);
    return true;
}

/* ---------------------------------------------------------------------
** The unit
*/

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
    if (report_clang_errors(&fr))
        goto done;

    fr.main_cx = clang_getFile(fr.tu, path);
    clang_visitChildren(clang_getTranslationUnitCursor(fr.tu), collect_top, &fr);

    u = xcalloc(1, sizeof *u);
    u->main = fr.main;
    u->funcs = xcalloc((size_t)(fr.ntx ? fr.ntx : 1), sizeof *u->funcs);
    bool ok = true;
    for (int i = 0; i < fr.ntx; i++) {
        Func *f = &u->funcs[u->nfuncs++];
        if (!read_transaction(&fr, fr.tx[i], f)) {
            ok = false;
            continue;
        }
        if (f->meta.rules && !rules_load(f, &f->rules_text, &f->rules_path))
            ok = false;
        CXCursor first = clang_getCanonicalCursor(fr.tx[i]);
        f->has_prior_decl = !clang_equalCursors(first, fr.tx[i]);
    }
    /* fr.nclones grows as clones' bodies reach further functions. */
    for (int i = 0; ok && i < fr.nclones; i++) {
        Func clone = {0};
        if (!read_clone(&fr, fr.clones[i], &clone)) {
            ok = false;
            continue;
        }
        u->clones = xrealloc(u->clones, sizeof *u->clones * (size_t)(u->nclones + 1));
        u->clones[u->nclones++] = clone;
    }
    if (!ok || diag_error_count() > 0) {
        unit_free(u);
        u = NULL;
    }

done:
    for (int i = 0; i < fr.nexps; i++)
        free(fr.exps[i].name);
    free(fr.exps);
    for (int i = 0; i < fr.ndecls; i++)
        free(fr.decls[i].name);
    free(fr.decls);
    free(fr.tx);
    free(fr.clones);
    clang_disposeTranslationUnit(fr.tu);
    clang_disposeIndex(index);
    return u;
}

static void func_free(Func *f)
{
    free(f->name);
    free(f->ret_type);
    for (int j = 0; j < f->nparams; j++) {
        free(f->params[j].name);
        free(f->params[j].type);
    }
    free(f->params);
    for (int j = 0; j < f->nredirects; j++)
        free(f->redirects[j].name);
    free(f->redirects);
    free(f->self_refs);
    for (int j = 0; j < f->nmacro_shims; j++)
        free(f->macro_shims[j]);
    free(f->macro_shims);
    free(f->annot.text);
    free(f->annot.map);
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
    free(u->funcs);
    free(u->clones);
    free(u);
}
