/*
** annot_map.c - the annotation's text and where each byte of it is in the
** source: through PTM_TRANSACTION and through the user's own macros that
** expand to it, so that a diagnostic about the annotation points at what
** the user wrote.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* find_expansion: the macro expansion that starts at off, or NULL. */
Expansion *find_expansion(Front *fr, size_t off)
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
void read_annotation(Front *fr, CXCursor attr, char *text, Func *f)
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
