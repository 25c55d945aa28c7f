/*
** front.c - libclang: finds the annotated functions of a translation unit and
** reads what the emitter needs from each: where its parts are in the text,
** its parameter and return types, and the references in its body that the
** mirror clone must redirect.
**
** This file parses the unit, walks its top level and reads each function:
**
**   function.c   one transaction or clone, and the user shims;
**   types.c      its parameter and result types;
**   annot_map.c  its annotation's text, mapped back to the source;
**   resolve.c    its body's references (statics.c: its local statics);
**   reach.c      what each mirror reaches that leaves it;
**   check_exprs.c the annotation's expressions, checked with libclang;
**
** and finds the main file's references to the note rows of calls.def
** (find_notes), annotated or not.
**   annotate.c, positions.c  what these share.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* ---------------------------------------------------------------------
** The file's top level
*/

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
    } else if (fr->mirror_all && definition_spelled(c, &file) &&
               clang_File_isEqual(file, fr->main_cx)) {
        want_clone(fr, c); /* -fptm-mirror-all: for other files' mirrors, and
                              a static one for calls through pointers */
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
** Notes: host calls of calls.def's note rows (sqlite3_busy_timeout)
*/

#define MAX_NOTES 8

/* A search of the main file for references to the noted functions. */
typedef struct NoteSearch {
    Front *fr;
    CXCursor canon[MAX_NOTES]; /* the noted functions this unit declares */
    const char *names[MAX_NOTES];
    bool used[MAX_NOTES];      /* referred to from the main file, first */
    size_t first[MAX_NOTES];   /* in the top-level declaration there */
    bool hit[MAX_NOTES];       /* in the top-level declaration visited */
    int n;
} NoteSearch;

static enum CXChildVisitResult find_note_ref(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    NoteSearch *s = data;
    if (clang_getCursorKind(c) != CXCursor_DeclRefExpr)
        return CXChildVisit_Recurse;
    CXCursor ref = clang_getCanonicalCursor(clang_getCursorReferenced(c));
    for (int i = 0; i < s->n; i++)
        if (clang_equalCursors(ref, s->canon[i]))
            s->hit[i] = true;
    return CXChildVisit_Continue;
}

/* find_note_top: a top-level declaration of the main file that refers to
** noted functions; for each, the first one's start is where its renaming
** starts. */
static enum CXChildVisitResult find_note_top(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    NoteSearch *s = data;
    size_t off;
    if (!expansion_off(s->fr, clang_getRangeStart(clang_getCursorExtent(c)), &off))
        return CXChildVisit_Continue;
    memset(s->hit, 0, sizeof s->hit);
    clang_visitChildren(c, find_note_ref, s);
    for (int i = 0; i < s->n; i++)
        if (s->hit[i] && !s->used[i]) {
            s->used[i] = true;
            s->first[i] = off;
        }
    return CXChildVisit_Continue;
}

/* find_notes: which noted functions (the note rows of calls.def) the main
** file refers to, and where the first top-level declaration that refers
** to each starts: from there on, emit.c sends it to its note.
** A function this unit defines is no note: the unit is the library itself,
** built by ptmcc, and its own calls are its business. */
static void find_notes(Front *fr, Unit *u)
{
    NoteSearch s = {.fr = fr};
    for (const char *const *n = call_note_names(); *n && s.n < MAX_NOTES; n++) {
        CXCursor *d = find_decl(fr, *n);
        if (!d || !clang_Cursor_isNull(clang_getCursorDefinition(*d)))
            continue;
        s.canon[s.n] = clang_getCanonicalCursor(*d);
        s.names[s.n++] = *n;
    }
    if (!s.n)
        return;
    clang_visitChildren(clang_getTranslationUnitCursor(fr->tu), find_note_top, &s);
    for (int i = 0; i < s.n; i++) {
        if (!s.used[i])
            continue;
        u->notes = xrealloc(u->notes, sizeof *u->notes * (size_t)(u->nnotes + 1));
        u->notes[u->nnotes++] = (struct Note){xstrdup(s.names[i]), s.first[i]};
    }
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
/* The static functions of the main file that get clones, by name, with
** how often the unit names them and how often in a direct call. */
typedef struct NameUse {
    char *name;
    unsigned refs, calls;
} NameUse;

typedef struct NameUses {
    NameUse *v;
    int n;
} NameUses;

static int cmp_name_use(const void *a, const void *b)
{
    return strcmp(((const NameUse *)a)->name, ((const NameUse *)b)->name);
}

/* count_use: when c refers to (DeclRefExpr) or calls (CallExpr) a
** function of uses, counts it there. */
static void count_use(NameUses *uses, CXCursor c, enum CXCursorKind k)
{
    CXCursor ref = clang_getCursorReferenced(c);
    if (clang_getCursorKind(ref) != CXCursor_FunctionDecl)
        return;
    NameUse key = {text_of(clang_getCursorSpelling(ref)), 0, 0};
    NameUse *u = bsearch(&key, uses->v, (size_t)uses->n, sizeof *uses->v, cmp_name_use);
    free(key.name);
    if (u && k == CXCursor_DeclRefExpr)
        u->refs++;
    else if (u)
        u->calls++;
}

static enum CXChildVisitResult count_uses(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_DeclRefExpr || k == CXCursor_CallExpr)
        count_use(data, c, k);
    return CXChildVisit_Recurse;
}

static enum CXChildVisitResult count_uses_top(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    /* a system header does not name the user's static functions */
    if (!clang_Location_isInSystemHeader(clang_getCursorLocation(c)))
        clang_visitChildren(c, count_uses, data);
    return CXChildVisit_Continue;
}

/*
** mark_no_pointer: under -fptm-mirror-all, the clones of static functions
** whose every mention in the unit is the callee of a direct call: their
** address is never taken, so no call through a pointer reaches them, and
** the clone map needs no row for them.  Such a row kept the function and
** its clone out of line even where every call was inlined: on Lua, a
** third of the clones' text.  Should the count miss a mention that takes
** the address (one a system header's top level makes), a call through
** that pointer finds no row, and the mirror forks there: a cost, no harm.
*/
static void mark_no_pointer(Front *fr, Unit *u)
{
    NameUses uses = {0};
    for (int i = 0; i < u->nclones; i++)
        if (clang_Cursor_getStorageClass(fr->clones[i].def) == CX_SC_Static) {
            uses.v = xrealloc(uses.v, sizeof *uses.v * (size_t)(uses.n + 1));
            uses.v[uses.n++] = (NameUse){u->clones[i].name, 0, 0};
        }
    if (!uses.n)
        return;
    qsort(uses.v, (size_t)uses.n, sizeof *uses.v, cmp_name_use);
    clang_visitChildren(clang_getTranslationUnitCursor(fr->tu), count_uses_top, &uses);
    for (int i = 0; i < u->nclones; i++) {
        NameUse key = {u->clones[i].name, 0, 0};
        NameUse *use = bsearch(&key, uses.v, (size_t)uses.n, sizeof *uses.v, cmp_name_use);
        u->clones[i].no_pointer = use && use->refs <= use->calls;
    }
    free(uses.v);
}

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
        /* under -fptm-mirror-all another file's mirror may call it too */
        f->external_clone = fr->mirror_all &&
                            clang_Cursor_getStorageClass(fr->tx[i]) != CX_SC_Static;
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
    if (ok && fr->mirror_all)
        mark_no_pointer(fr, u);
    if (ok)
        ok = analyse_escapes(u);
    u->xtu = fr->xtu;
    u->nxtu = fr->nxtu;
    fr->xtu = NULL;
    fr->nxtu = 0;
    return ok;
}

/* unparsed_notes: a unit with no annotation, only a note row's name, that
** libclang cannot parse: the backend gets it untouched, as before notes,
** and reports its errors itself; the user hears that its calls were not
** sent to their notes. */
static Unit *unparsed_notes(Front *fr)
{
    warning_at(W_UNNOTED, (SrcLoc){fr->main, 0}, 0,
               "libclang cannot parse this file: its calls of functions the runtime must "
               "hear about (runtime/calls.def, note rows) are left as they are");
    Unit *u = xcalloc(1, sizeof *u);
    u->main = fr->main;
    return u;
}

static bool mirror_all;

void front_set_mirror_all(bool on)
{
    mirror_all = on;
}

bool front_mirror_all(void)
{
    return mirror_all;
}

Unit *front_parse(const char *path, const char *const *args, int nargs, bool notes_only)
{
    Front fr = {0};
    fr.mirror_all = mirror_all;
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
    if (notes_only && has_clang_errors(&fr)) {
        u = unparsed_notes(&fr);
    } else if (!report_clang_errors(&fr)) {
        clang_visitChildren(clang_getTranslationUnitCursor(fr.tu), collect_top, &fr);
        u = xcalloc(1, sizeof *u);
        u->main = fr.main;
        find_notes(&fr, u);
        if (!read_unit(&fr, u) || diag_error_count() > 0) {
            unit_free(u);
            u = NULL;
        }
    }
    front_free(&fr);
    file_text_forget(fr.tu);
    macro_state_forget(fr.tu);
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
    for (int j = 0; j < f->nxcallees; j++)
        free(f->xcallees[j]);
    free(f->xcallees);
    free(f->indirects);
    free(f->macro_push);
    free(f->macro_pop);
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
    for (int i = 0; i < u->nnotes; i++)
        free(u->notes[i].name);
    free(u->notes);
    free(u->funcs);
    free(u->clones);
    free(u);
}

/* unit_needs_rewrite: see ptmcc.h. */
bool unit_needs_rewrite(const Unit *u)
{
    return u && (u->nfuncs > 0 || u->nclones > 0 || u->nnotes > 0);
}
