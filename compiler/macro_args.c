/*
** macro_args.c - the unit's macro definitions, and whether a parameter of
** one stands for one plain name wherever the unit uses the macro.
**
** The clone's redefinition of a macro (macro_body.c) wraps a range of its
** body, p->f, as an access to the member the AST has there.  That holds
** only when every expansion puts one name in p: an argument *q expands to
** *q->f, which is *(q->f), so the wrap would be around *(q->f) and q->f
** would be read in place, past the write buffer.  The argument is checked
** where the access's base was written (macro_body.c), and here at every
** level of nesting: each use of the macro, in the function's text or in
** any macro's body, passes one identifier there that is no macro's name;
** when that identifier is a parameter of the body it is in, the same holds
** of that macro's uses, and so on.  A macro's name that is not followed by
** its arguments (handed to another macro: APPLY(INNER, x)), or that a
** paste (##) could form, makes the answer no: where it expands is not
** known.
*/
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

static struct {
    CXTranslationUnit tu;
    UnitMacro *defs;
    int n, cap;
    const UnitMacro **by_name; /* sorted by name, for macro_named */
    struct Memo {
        struct Pass {
            const struct UnitMacro *def;
            int param;
            int kind; /* enum Kind */
            const char *target;
        } p;
        bool ok;            /* in the bodies */
        struct Pass *chain; /* the checks it needs, itself first */
        int nchain;
    } *memo;
    int nmemo;
} Macros;

static bool is_ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* close_paren: past the ')' closing the '(' at open, before end, or 0. */
static size_t close_paren(const char *t, size_t end, size_t open)
{
    int depth = 0;
    for (size_t i = open; i < end; i++) {
        if (t[i] == '(')
            depth++;
        else if (t[i] == ')' && --depth == 0)
            return i + 1;
    }
    return 0;
}

static enum CXChildVisitResult collect_def(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    CXTranslationUnit tu = data;
    if (clang_getCursorKind(c) != CXCursor_MacroDefinition)
        return CXChildVisit_Continue;
    CXSourceRange ext = clang_getCursorExtent(c);
    CXFile f;
    unsigned s, e;
    clang_getSpellingLocation(clang_getRangeStart(ext), &f, NULL, NULL, &s);
    clang_getSpellingLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &e);
    size_t len = 0;
    const char *text = file_text(tu, f, &len);
    char *name = spelling(c);
    size_t body = s + strlen(name);
    bool fnlike = clang_Cursor_isMacroFunctionLike(c);
    if (fnlike)
        body = text && body < len && text[body] == '(' ? close_paren(text, len, body) : 0;
    if (!text || e > len || s >= e || !body || body > e) {
        free(name);
        return CXChildVisit_Continue;
    }
    if (Macros.n == Macros.cap) {
        Macros.cap = Macros.cap ? 2 * Macros.cap : 256;
        Macros.defs = xrealloc(Macros.defs, sizeof *Macros.defs * (size_t)Macros.cap);
    }
    Macros.defs[Macros.n++] = (UnitMacro){c,     name, f, text, s, (unsigned)body, e, fnlike,
                                     clang_Location_isInSystemHeader(clang_getCursorLocation(c))};
    return CXChildVisit_Continue;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const UnitMacro *const *)a)->name, (*(const UnitMacro *const *)b)->name);
}

static void load_unit(CXTranslationUnit tu)
{
    if (Macros.tu == tu)
        return;
    for (int i = 0; i < Macros.n; i++)
        free(Macros.defs[i].name);
    for (int i = 0; i < Macros.nmemo; i++)
        free(Macros.memo[i].chain);
    Macros.tu = tu;
    Macros.n = 0;
    Macros.nmemo = 0;
    clang_visitChildren(clang_getTranslationUnitCursor(tu), collect_def, tu);
    free(Macros.by_name);
    Macros.by_name = xcalloc((size_t)Macros.n + 1, sizeof *Macros.by_name);
    for (int i = 0; i < Macros.n; i++)
        Macros.by_name[i] = &Macros.defs[i];
    qsort(Macros.by_name, (size_t)Macros.n, sizeof *Macros.by_name, by_name);
}

int macro_defs(CXTranslationUnit tu, const UnitMacro **defs)
{
    load_unit(tu);
    *defs = Macros.defs;
    return Macros.n;
}

/* macro_named: whether some definition of the unit has the name t[0, n). */
static bool macro_named(const char *t, size_t n)
{
    int lo = 0, hi = Macros.n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const char *name = Macros.by_name[mid]->name;
        int c = strncmp(name, t, n);
        if (c == 0 && name[n] != '\0')
            c = 1;
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* next_token: the next token at or past *i, before end: [*start, *i).
** Blanks, continued lines, comments and literals are skipped (a literal is
** no name).  False at end. */
static bool next_token(const char *t, size_t end, size_t *i, size_t *start)
{
    size_t k = *i;
    while (k < end) {
        char c = t[k];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\' || c == '\f' ||
            c == '\v') {
            k++;
        } else if (c == '/' && k + 1 < end && t[k + 1] == '*') {
            const char *close = strstr(t + k + 2, "*/");
            k = close && (size_t)(close - t) + 2 <= end ? (size_t)(close - t) + 2 : end;
        } else if (c == '/' && k + 1 < end && t[k + 1] == '/') {
            while (k < end && t[k] != '\n')
                k++;
        } else if (c == '"' || c == '\'') {
            for (k++; k < end && t[k] != c; k++)
                if (t[k] == '\\')
                    k++;
            k++;
        } else {
            break;
        }
    }
    if (k >= end)
        return false;
    *start = k;
    if (is_ident_char(t[k])) {
        while (k < end && is_ident_char(t[k]))
            k++;
    } else if (t[k] == '#' && k + 1 < end && t[k + 1] == '#') {
        k += 2;
    } else {
        k++;
    }
    *i = k;
    return true;
}

/* param_index: the index of the parameter t[0, n) of def, or -1. */
static int param_index(const UnitMacro *def, const char *t, size_t n)
{
    if (!def->fnlike)
        return -1;
    size_t i = def->start + strlen(def->name) + 1, s;
    int index = 0;
    while (next_token(def->text, def->body - 1, &i, &s)) {
        if (def->text[s] == ',')
            index++;
        else if (i - s == n && memcmp(def->text + s, t, n) == 0)
            return index;
    }
    return -1;
}

/* A check of a macro's uses: each passes, as argument param, one plain
** name (PLAIN), or tokens none of which could be pasted into target
** (FREE: a macro that pastes that parameter could form target's name). */
enum Kind { PLAIN, FREE };

static const struct Memo *check_uses(const struct Pass *p, int depth);

static void chain_add(struct Pass **chain, int *n, const struct Pass *more, int nmore)
{
    *chain = xrealloc(*chain, sizeof **chain * (size_t)(*n + nmore + 1));
    memcpy(*chain + *n, more, sizeof *more * (size_t)nmore);
    *n += nmore;
}

/* pass_on: the parameter of in at t[0, n) is handed on: its own uses are
** checked as p asks (kind, target), and added to *chain.  False: they
** fail. */
static bool pass_on(const UnitMacro *in, int param, int kind, const char *target, int depth,
                    struct Pass **chain, int *nchain)
{
    const struct Memo *m = check_uses(&(struct Pass){in, param, kind, target}, depth + 1);
    if (!m || !m->ok)
        return false;
    if (chain)
        chain_add(chain, nchain, m->chain, m->nchain);
    return true;
}

/* fragment: whether the token t[0, n) could be part of a name pasted
** into target: its start (at 0), its end (at 1), or anywhere in a chain
** of pastes (at 2). */
static bool fragment(const char *t, size_t n, const char *target, int at)
{
    size_t m = strlen(target);
    if (n == 0 || n > m || !is_ident_char(t[0]))
        return false;
    if (at == 0)
        return memcmp(target, t, n) == 0;
    if (at == 1)
        return memcmp(target + m - n, t, n) == 0;
    for (const char *in = target; (in = strchr(in, t[0])) != NULL; in++)
        if (strncmp(in, t, n) == 0)
            return true;
    return false;
}

/* pasted_at: whether a paste (##) is next to [s, e) of in's body, before
** (before) or after it. */
static bool pasted_at(const UnitMacro *in, size_t s, size_t e, bool before)
{
    const char *t = in->text;
    if (before) {
        while (s > in->body && (t[s - 1] == ' ' || t[s - 1] == '\t'))
            s--;
        return s >= in->body + 2 && t[s - 1] == '#' && t[s - 2] == '#';
    }
    size_t i = e, at;
    return next_token(t, in->end, &i, &at) && t[at] == '#' && i - at == 2;
}

/* paste_ok: a paste (##) at [s, s+2) of in's body cannot form target: a
** side is a literal no part of it, or the sides are parameters whose
** uses pass nothing that could be (FREE). */
static bool paste_ok(const UnitMacro *in, size_t s, const char *target, int depth,
                     struct Pass **chain, int *nchain)
{
    const char *t = in->text;
    size_t l = s;
    while (l > in->body && (t[l - 1] == ' ' || t[l - 1] == '\t'))
        l--;
    size_t ls = l;
    while (ls > in->body && is_ident_char(t[ls - 1]))
        ls--;
    size_t r = s + 2, rs;
    if (!next_token(t, in->end, &r, &rs) || !is_ident_char(t[rs]))
        rs = r = s + 2;
    size_t side[2][2] = {{ls, l - ls}, {rs, r - rs}};
    /* Where a literal side must be in target: its start (left), its end
    ** (right), or anywhere when another paste continues it. */
    int at[2] = {pasted_at(in, ls, l, true) ? 2 : 0, pasted_at(in, rs, r, false) ? 2 : 1};
    for (int k = 0; k < 2; k++) {
        int param = param_index(in, t + side[k][0], side[k][1]);
        if (side[k][1] > 0 && param < 0 && !fragment(t + side[k][0], side[k][1], target, at[k]))
            return true;
    }
    for (int k = 0; k < 2; k++) {
        int param = param_index(in, t + side[k][0], side[k][1]);
        if (param >= 0 && !pass_on(in, param, FREE, target, depth, chain, nchain))
            return false;
        if (side[k][1] > 0 && param < 0)
            return false; /* a literal part of target */
    }
    return true;
}

/* skip_group: past the group (or [ ]) that opens at s, before end, or 0. */
static size_t skip_group(const char *t, size_t end, size_t i)
{
    int level = 1;
    size_t s;
    while (level > 0) {
        if (!next_token(t, end, &i, &s))
            return 0;
        if (t[s] == '(' || t[s] == '[')
            level++;
        else if (t[s] == ')' || t[s] == ']')
            level--;
    }
    return i;
}

/* postfix_ok: whether the argument [as, ae) of t is one postfix
** expression, so that p->f with p standing for it still parses as its
** member f: a name (no macro's; a parameter of in whose own uses are so)
** or a parenthesized group, then only ->m, .m, [E] and (args).  Any other
** operator (*q, a + b) would bind around the body's ->f instead. */
static bool postfix_ok(const char *t, size_t as, size_t ae, const UnitMacro *in, int depth,
                       struct Pass **chain, int *nchain)
{
    size_t i = as, s;
    if (!next_token(t, ae, &i, &s))
        return false;
    if (t[s] == '(') {
        if (!(i = skip_group(t, ae, i)))
            return false;
    } else if (is_ident_char(t[s]) && !(t[s] >= '0' && t[s] <= '9')) {
        int outer = in ? param_index(in, t + s, i - s) : -1;
        if (outer >= 0 ? !pass_on(in, outer, PLAIN, NULL, depth, chain, nchain)
                       : macro_named(t + s, i - s))
            return false;
    } else {
        return false;
    }
    while (next_token(t, ae, &i, &s)) {
        if (t[s] == '(' || t[s] == '[') {
            if (!(i = skip_group(t, ae, i)))
                return false;
            continue;
        }
        if (t[s] == '-' && i < ae && t[i] == '>')
            i++;
        else if (t[s] != '.')
            return false;
        size_t m;
        if (!next_token(t, ae, &i, &m) || !is_ident_char(t[m]) ||
            macro_named(t + m, i - m) || (in && param_index(in, t + m, i - m) >= 0))
            return false;
    }
    return true;
}

/* argument_ok: the argument [as, ae) of t, used in in's body (or the
** function's text, in NULL), passes p's check. */
static bool argument_ok(const char *t, size_t as, size_t ae, const UnitMacro *in,
                        const struct Pass *p, int depth, struct Pass **chain, int *nchain)
{
    size_t i = as, s;
    if (p->kind == PLAIN)
        return postfix_ok(t, as, ae, in, depth, chain, nchain);
    while (next_token(t, ae, &i, &s)) {
        int outer = in ? param_index(in, t + s, i - s) : -1;
        if (outer >= 0 ? !pass_on(in, outer, FREE, p->target, depth, chain, nchain)
                       : fragment(t + s, i - s, p->target, 2))
            return false;
    }
    return true;
}

/* uses_ok: whether every use of p->def in [from, end) of t (in the body
** of in, or the function's text when in is NULL) passes p's check at
** argument p->param, and no paste there could form p->def's name.  The
** checks that parameters of in so passed need, and the chains they pass
** through, are added to *chain (when chain is not NULL). */
static bool uses_ok(const char *t, size_t from, size_t end, const UnitMacro *in,
                    const struct Pass *p, int depth, struct Pass **chain, int *nchain)
{
    const char *name = p->def->name;
    size_t n = strlen(name), i = from, s;
    while (next_token(t, end, &i, &s)) {
        /* A system header's paste forms the names its own arguments
        ** make, never a user macro's from its own text (see DESIGN §3). */
        if (in && !in->system && t[s] == '#' && i - s == 2 &&
            !paste_ok(in, s, name, depth, chain, nchain))
            return false;
        if (i - s != n || memcmp(t + s, name, n) != 0)
            continue;
        if (in && param_index(in, name, n) >= 0)
            continue; /* a parameter of in that has the name */
        size_t a, after = i;
        if (!next_token(t, end, &i, &a) || t[a] != '(') {
            /* An alias (#define setobjt2t setobj): its uses are the
            ** macro's.  Else handed on, its arguments from elsewhere. */
            return in && !in->fnlike && !next_token(t, end, &after, &a) &&
                   pass_on(in, p->param, p->kind, p->target, depth, chain, nchain);
        }
        int index = 0, level = 1;
        size_t as = i, arg = i;
        while (level > 0) {
            if (!next_token(t, end, &i, &as))
                return false;
            char c = t[as];
            if (c == '(') {
                level++;
            } else if ((c == ')' && --level == 0) || (c == ',' && level == 1)) {
                if (index == p->param &&
                    !argument_ok(t, arg, as, in, p, depth, chain, nchain))
                    return false;
                index++;
                arg = i;
            }
        }
        if (index <= p->param)
            return false;
    }
    return true;
}

/* check_uses: whether every use of p->def in the unit's macro bodies
** passes p's check, with the checks it needs of the macros that pass the
** argument on (chain), to be made of the function's text too.  NULL:
** nested too deep (or a cycle). */
static const struct Memo *check_uses(const struct Pass *p, int depth)
{
    if (depth > 8)
        return NULL;
    for (int i = 0; i < Macros.nmemo; i++) {
        const struct Memo *m = &Macros.memo[i];
        if (m->p.def == p->def && m->p.param == p->param && m->p.kind == p->kind &&
            m->p.target == p->target)
            return m;
    }
    struct Pass *chain = NULL;
    int nchain = 0;
    chain_add(&chain, &nchain, p, 1);
    bool ok = true;
    for (int i = 0; i < Macros.n && ok; i++) {
        const UnitMacro *d = &Macros.defs[i];
        if (d != p->def)
            ok = uses_ok(d->text, d->body, d->end, d, p, depth, &chain, &nchain);
    }
    Macros.memo = xrealloc(Macros.memo, sizeof *Macros.memo * (size_t)(Macros.nmemo + 1));
    Macros.memo[Macros.nmemo] = (struct Memo){*p, ok, chain, nchain};
    return &Macros.memo[Macros.nmemo++];
}

bool macro_param_plain(CXTranslationUnit tu, const UnitMacro *def, const char *t, size_t n,
                       const SrcFile *file, size_t lo, size_t hi)
{
    load_unit(tu);
    int param = param_index(def, t, n);
    const struct Memo *m = param >= 0 ? check_uses(&(struct Pass){def, param, PLAIN, NULL}, 0)
                                      : NULL;
    if (!m || !m->ok)
        return false;
    /* The function's own uses of every macro on the way (in is NULL: no
    ** check_uses, so m stays where it is). */
    for (int i = 0; file && i < m->nchain; i++)
        if (!uses_ok(file->text, lo, hi < file->len ? hi : file->len, NULL, &m->chain[i], 0, NULL,
                     NULL))
            return false;
    return true;
}
