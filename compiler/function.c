/*
** function.c - one annotated function (a transaction) or one function a
** mirror reaches (a clone): its parameters and result, where its parts are
** in the text, its alternatives checked, its annotation read; and the user
** shims (PTM_MIRROR_OF(fn)) checked against their targets.
*/
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

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
    f->ret_type = member_decl(clang_getUnqualifiedType(rt));
    if (anonymous_type(f->ret_type)) {
        error_at(loc_of(fr, fn), strlen(f->name), "transaction '%s' returns an unnamed "
                 "type; give the type a name (a tag or a typedef)", f->name);
        return false;
    }
    return true;
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

/* read_old_style: whether fn is defined K&R-style, f(a, b) int b; { ... }
** (f->old_style), and then where its identifier list and its parameters'
** declarations are.  Its clones and wrapper copy that header as written
** (the parameters arrive promoted, as the original's do), but a
** declaration of it cannot: it is written without the list.  A parameter
** is K&R when it is declared after the list, or written there as a bare
** name (implicit int); a prototype's named parameter starts at its type
** (or comes from a macro). */
static void read_old_style(CXCursor fn, Func *f)
{
    int n = clang_Cursor_getNumArguments(fn);
    const char *t = f->file->text;
    size_t i = f->name_off + strlen(f->name);
    while (i < f->body_off && t[i] != '(')
        i++;
    size_t open = i;
    for (int depth = 0; i < f->body_off; i++) {
        if (t[i] == '/' && t[i + 1] == '*') { /* f(a, b) with a ')' in a comment */
            const char *close = strstr(t + i + 2, "*/");
            i = close ? (size_t)(close - t) + 1 : f->body_off;
        } else if (t[i] == '/' && t[i + 1] == '/') {
            while (i < f->body_off && t[i] != '\n')
                i++;
        } else if (t[i] == '(') {
            depth++;
        } else if (t[i] == ')' && --depth == 0) {
            break;
        }
    }
    if (n < 1 || i >= f->body_off)
        return;
    bool old = clang_getCursorType(fn).kind == CXType_FunctionNoProto;
    size_t decls = f->body_off;
    CXFile file = cursor_file(fn);
    for (int k = 0; k < n; k++) {
        CXCursor p = clang_Cursor_getArgument(fn, k);
        size_t at, start, spell;
        if (!expansion_in(clang_getCursorLocation(p), file, &at) ||
            !expansion_in(clang_getRangeStart(clang_getCursorExtent(p)), file, &start))
            continue;
        if (at > i) {
            old = true;
            if (start > i && start < decls)
                decls = start;
        } else if (start == at && spelling_in(clang_getCursorLocation(p), file, &spell) &&
                   spell == at) { /* not a macro's: int f(ARGS) */
            char *name = text_of(clang_getCursorSpelling(p));
            old |= *name != '\0';
            free(name);
        }
    }
    f->old_style = old;
    f->params_open = open;
    f->params_close = i;
    f->decls_off = decls;
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
bool read_transaction(Front *fr, CXCursor fn, Func *f)
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
    read_old_style(fn, f);
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

/* has_word: whether the identifier word is written in text[from, to). */
static bool has_word(const char *text, size_t from, size_t to, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = from; i + n <= to; i++)
        if (memcmp(text + i, word, n) == 0 && (i == 0 || !(isalnum((unsigned char)text[i - 1]) ||
                                                           text[i - 1] == '_')) &&
            (i + n == to || !(isalnum((unsigned char)text[i + n]) || text[i + n] == '_')))
            return true;
    return false;
}

/* read_clone: a function a mirror reaches, for its mirror clone. */
bool read_clone(Front *fr, CXCursor fn, Func *f)
{
    f->name = text_of(clang_getCursorSpelling(fn));
    if (!read_extent(fr, fn, f, "function"))
        return false;
    CXCursor body;
    if (!read_body(fr, fn, f, &body))
        return false;
    read_old_style(fn, f);
    skip_mirrorable(fr, f);
    f->static_by_macro = clang_Cursor_getStorageClass(fn) == CX_SC_Static &&
                         !has_word(f->file->text, f->start, f->name_off, "static");
    f->external_clone = f->file == fr->main && (is_mirrorable(fn) || fr->mirror_all) &&
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

bool check_user_shims(Front *fr)
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
