/*
** resolve.c - a mirror's body: the references the mirror clone redirects,
** the calls that escape it, and the functions it reaches, queued for
** clones of their own.
**
** A reference to a function in a mirror's body resolves, in the order of
** docs/DESIGN.md §3, to
**
**   1. a user shim: a function declared PTM_MIRROR_OF(fn), called instead;
**   2. a built-in shim (a shim row of runtime/calls.def, asked of calls.c):
**      ptm_shim_fn;
**   3. a mirror clone: fn__ptm_mirror, for a function defined in this file
**      or in a user header (a static inline helper), cloned transitively;
**   4. a clone in another file: a PTM_MIRRORABLE function declared here
**      (under -fptm-mirror-all, any function declared outside the system
**      headers and defined elsewhere) is called through a weak reference
**      to its clone; the runtime walks the clones' facts before the first
**      mirror runs (ABI 7), and when that file was not built by ptmcc the
**      mirror forks, and should the clone still be called, the runtime
**      records the missing clone and calls the function itself;
**   5. a library function with no effect outside the process
**      (a pure row of runtime/calls.def, asked of calls.c): called as it is;
**   6. an unknown external: called as it is, with a warning, and the
**      transactions whose mirrors reach it need the fork executor, whose
**      seccomp filter stops its writes.  Calls through function pointers
**      are treated alike.
**
** The body's function-local statics are statics.c's.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* clonable_definition: the definition of the function ref refers to, when
** it can be cloned: its name is written out, in this file or in a user
** header (not a system header: the C library's inline functions are
** library calls like the others). */
static bool clonable_definition(CXCursor ref, CXCursor *def)
{
    *def = clang_getCursorDefinition(ref);
    CXFile file;
    if (clang_Cursor_isNull(*def) || !definition_spelled(*def, &file) ||
        clang_Location_isInSystemHeader(clang_getCursorLocation(*def)))
        return false;
    /* the whole definition, up to the body's '}', written in that file */
    CXSourceRange r = clang_getCursorExtent(*def);
    size_t start, end;
    if (!expansion_in(clang_getRangeStart(r), file, &start) ||
        !expansion_in(clang_getRangeEnd(r), file, &end) || end <= start)
        return false;
    size_t size;
    const char *text = file_text(clang_Cursor_getTranslationUnit(*def), file, &size);
    return text && end <= size && text[end - 1] == '}';
}

/* of_another_file: a function with external linkage that this unit
** declares outside the system headers and does not define: under
** -fptm-mirror-all its clone is in the file that defines it (or missing,
** which the runtime finds out).  Not a compiler builtin
** (__sync_synchronize): clang declares it where it is first called, no
** file has its clone, and no pointer to it can be taken. */
static bool of_another_file(CXCursor ref)
{
    static const char *const builtin_prefixes[] = {"__builtin_", "__sync_", "__atomic_",
                                                   "__c11_atomic_", "__scoped_atomic_"};
    char *name = text_of(clang_getCursorSpelling(ref));
    bool builtin = false;
    for (size_t i = 0; i < sizeof builtin_prefixes / sizeof *builtin_prefixes; i++)
        builtin |= strncmp(name, builtin_prefixes[i], strlen(builtin_prefixes[i])) == 0;
    free(name);
    if (builtin || !clang_Cursor_isNull(clang_getCursorDefinition(ref)) ||
        clang_Cursor_getStorageClass(ref) == CX_SC_Static ||
        clang_getCursorLinkage(ref) != CXLinkage_External)
        return false;
    CXCursor first = clang_getCanonicalCursor(ref);
    return !clang_Location_isInSystemHeader(clang_getCursorLocation(first)) &&
           !clang_Location_isInSystemHeader(clang_getCursorLocation(ref));
}

/* is_clone: Callees.is_clone, ctx a Front: a clone of this unit, or of
** another file (resolution step 4), which routes its own accesses: its
** clone is buffered, or the runtime's walk finds that it need not be. */
static bool is_clone(const void *ctx, CXCursor callee)
{
    const Front *fr = ctx;
    CXCursor def;
    if (clonable_definition(callee, &def))
        return true;
    if (is_mirrorable(callee))
        return true;
    if (!fr->mirror_all || !of_another_file(callee))
        return false;
    char *name = text_of(clang_getCursorSpelling(callee));
    bool xtu = !call_shim_family(name) && !call_is_pure(name) && !find_user_shim((Front *)fr, name);
    free(name);
    return xtu;
}

/* defined_by_macro: a function of this unit that a macro defines (#define
** GETTER(n) int get_##n(void) { ... }): ptmcc cannot clone it. */
static bool defined_by_macro(CXCursor ref)
{
    CXCursor def;
    if (clonable_definition(ref, &def) || clang_Cursor_isNull(def))
        return false;
    return !clang_Location_isInSystemHeader(clang_getCursorLocation(def));
}

/* want_clone: queues def for a mirror clone unless it is a transaction (it
** has one) or already queued. */
void want_clone(Front *fr, CXCursor def)
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
    f->escapes[f->nescapes++] = (Escape){callee ? xstrdup(callee) : NULL, loc, len, false};
    return &f->escapes[f->nescapes - 1];
}

/* is_called: whether the reference use is the callee of a direct call. */
static bool is_called(const BodyScan *b, CXCursor use)
{
    for (int i = 0; i < b->ncalled; i++)
        if (clang_equalLocations(clang_getCursorLocation(b->called[i]),
                                 clang_getCursorLocation(use)))
            return true;
    return false;
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
    bool edge = !fr->mirror_all || is_called(b, use);
    if (clonable_definition(ref, &def)) {
        want_clone(fr, def);
        if (edge)
            push_name(&b->f->callees, &b->f->ncallees, name);
        return format("%s__ptm_mirror", name);
    }
    if (is_mirrorable(ref) || (fr->mirror_all && of_another_file(ref) && !call_is_pure(name))) {
        push_name(&fr->xtu, &fr->nxtu, name);
        if (edge)
            push_name(&b->f->xcallees, &b->f->nxcallees, name);
        return format("(*%s__ptm_xtu())", name);
    }
    if (!call_is_pure(name)) {
        Escape *e = add_escape(b, name, use);
        e->macro_defined = defined_by_macro(ref);
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

/* indirect_callee: under -fptm-mirror-all, where the callee expression of
** a call through a pointer is written in the body, so that the clone can
** send it to ptm_clone_of: as it stands, or whole inside a macro's
** argument (LUAI_TRY(L, &lj, (*f)(L, ud);), which the expansion copies:
** the wrapped text serves each expansion of it).  Not in a macro's body
** (callfrealloc's (*g->frealloc)): the clone's text does not hold it, the
** macro's redefinition does (scan_call).  False: it cannot. */
static bool indirect_callee(BodyScan *b, CXCursor call, size_t *start, size_t *end)
{
    Kids k = kids_of(call);
    unsigned s, e;
    if (!b->fr->mirror_all || k.n < 1)
        return false;
    if (!written_in_file(k.c[0], b->file, &s, &e)) {
        CXSourceRange ext = clang_getCursorExtent(k.c[0]);
        CXFile fs, fe;
        clang_getSpellingLocation(clang_getRangeStart(ext), &fs, NULL, NULL, &s);
        clang_getSpellingLocation(clang_getRangeEnd(ext), &fe, NULL, NULL, &e);
        if (!fs || !fe || !clang_File_isEqual(fs, b->file) || !clang_File_isEqual(fe, b->file))
            return false;
        CXString name = clang_getFileName(b->file);
        SrcFile *text = src_load(clang_getCString(name));
        clang_disposeString(name);
        if (!text || !in_macro_argument(text, k.c[0], s, e))
            return false;
    }
    *start = s;
    *end = e;
    return s >= b->body_start && e <= b->body_end && s < e;
}

/* scan_call: a call whose callee is not a function: through a pointer.
** Under -fptm-mirror-all the run time maps the target to its clone (and
** an inline mirror bails out to fork when it has none); else it escapes. */
static void scan_call(BodyScan *b, CXCursor call)
{
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) == CXCursor_FunctionDecl) {
        Kids k = kids_of(call);
        if (k.n >= 1) {
            b->called = xrealloc(b->called, sizeof *b->called * (size_t)(b->ncalled + 1));
            b->called[b->ncalled++] = strip(k.c[0]);
        }
        return;
    }
    size_t s, e;
    if (!indirect_callee(b, call, &s, &e)) {
        /* A user macro's body spells it: the clone's redefinition of the
        ** macro wraps it (redo_rewrite.c's body_callee). */
        Kids k = kids_of(call);
        if (b->fr->mirror_all && k.n >= 1 && macro_body_spells(k.c[0]))
            b->f->nbody_indirects++;
        else
            add_escape(b, NULL, call);
        return;
    }
    Func *f = b->f;
    f->indirects = xrealloc(f->indirects, sizeof *f->indirects * (size_t)(f->nindirects + 1));
    f->indirects[f->nindirects++] = (struct Indirect){s, e};
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
    const char *text = file_text(b->fr->tu, f, &size);
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
void scan_function(Front *fr, Func *f, CXCursor fn, CXCursor body)
{
    BodyScan scan = {fr, f, cursor_file(fn), f->body_off, f->end, NULL, 0, NULL, 0};
    clang_visitChildren(body, scan_body, &scan);
    free(scan.called);
    finish_locals(&scan);
    Callees callees = {has_user_shim, is_clone, fr};
    inline_facts(fn, body, f->file, &callees, &f->inl);
    if (f->file == fr->main)
        f->macro_push = macro_state_at(fr->tu, fr->main, f->start, f->end, &f->macro_pop);
}
