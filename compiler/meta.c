/*
** meta.c - what the annotation means: keys, types, units, defaults; and
** success_criteria turned into C.
**
** The parser accepts any `.key = value` list; this file decides what each
** key may hold (docs/DESIGN.md §1).  It reports every problem it finds, not the
** first: a user fixing an annotation wants the whole list at once.
** Positions are offsets into the annotation text; annot_loc turns them into
** source positions, exactly when front.c could align the annotation with
** the source (annot_map_source), at PTM_TRANSACTION otherwise.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "meta_parse.h"
#include "meta_lex.h"

/* ---------------------------------------------------------------------
** Positions
*/

/* annot_loc: where text offset off (clamped to the text) is in the source:
** exact with a map, the origin without. */
SrcLoc annot_loc(const Annot *a, size_t off)
{
    if (off > a->len)
        off = a->len;
    if (!a->map)
        return a->origin;
    SrcFile *f = a->map_file && a->map_file[off] ? a->map_file[off] : a->origin.file;
    return (SrcLoc){f, a->map[off]};
}

/* in_macro_body: whether text offset off is spelled in the body of the
** user macro the annotation was written through. */
static bool in_macro_body(const Annot *a, size_t off)
{
    if (!a->from_macro || !a->map)
        return false;
    return a->from_macro[off < a->len ? off : a->len];
}

/* source_len: how many source bytes the text span [off, end) covers.
** Without a map every byte is at the origin: one caret.  A span that
** crosses files (a macro's body into an argument) gets one caret too. */
static size_t source_len(const Annot *a, size_t off, size_t end)
{
    if (!a->map || end <= off)
        return 0;
    if (end > a->len)
        end = a->len;
    if (off >= end)
        return 0;
    SrcLoc first = annot_loc(a, off), last = annot_loc(a, end - 1);
    if (first.file != last.file || last.off < first.off)
        return 0;
    return last.off + 1 - first.off;
}

/* report: a diagnostic where clang would put it.  Text from a user
** macro's body is reported at the macro's use, and the exact spot in the
** definition follows as "note: expanded from macro". */
static void report(const Annot *a, bool is_note, size_t off, size_t end, const char *fmt,
                   va_list ap)
{
    if (!a)
        return;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    bool via_macro = in_macro_body(a, off);
    SrcLoc at = via_macro ? a->origin : annot_loc(a, off);
    size_t len = via_macro ? 0 : source_len(a, off, end);
    if (is_note)
        note_at(at, len, "%s", msg);
    else
        error_at(at, len, "%s", msg);
    if (via_macro)
        note_at(annot_loc(a, off), source_len(a, off, end), "expanded from macro '%s'",
                a->macro ? a->macro : "?");
    free(msg);
}

/* annot_error: an error over text span [off, end) of a (a NULL: none). */
void annot_error(const Annot *a, size_t off, size_t end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(a, false, off, end, fmt, ap);
    va_end(ap);
}

/* annot_note: a note over text span [off, end) of a (a NULL: none). */
void annot_note(const Annot *a, size_t off, size_t end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(a, true, off, end, fmt, ap);
    va_end(ap);
}

/* annot_fixit: replacement for text span [off, end) of a.  A fix-it needs
** exact source positions: without a map it would rewrite the macro name,
** and clang offers none inside a macro's body. */
void annot_fixit(const Annot *a, size_t off, size_t end, const char *replacement)
{
    if (!a || !a->map || in_macro_body(a, off))
        return;
    fixit(annot_loc(a, off), source_len(a, off, end), replacement);
}

/* annot_free: see ptmcc.h. */
void annot_free(Annot *a)
{
    free(a->text);
    free(a->map);
    free(a->map_file);
    free(a->from_macro);
    free(a->macro);
    *a = (Annot){0};
}

typedef struct Tok {
    size_t off, end;
} Tok;

/* tokens_of: the token spans of text[0..len), offsets plus base. */
static Tok *tokens_of(const char *text, size_t len, size_t base, size_t *n)
{
    MetaLex lx = {.tokens_only = true, .base = base, .pos = base};
    yyscan_t scanner;
    *n = 0;
    if (len > INT_MAX / 2 || meta_lex_init_extra(&lx, &scanner) != 0)
        return NULL;
    YY_BUFFER_STATE buf = meta__scan_bytes(text, (int)len, scanner);
    Tok *toks = NULL;
    size_t cap = 0;
    for (;;) {
        META_STYPE val;
        MetaLoc loc;
        if (meta_lex(&val, &loc, scanner) == META_EOF)
            break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            toks = xrealloc(toks, cap * sizeof *toks);
        }
        toks[(*n)++] = (Tok){loc.off, loc.end};
    }
    meta__delete_buffer(buf, scanner);
    meta_lex_destroy(scanner);
    return toks;
}

/* same_tokens: whether two token lists spell the same tokens. */
static bool same_tokens(const char *ta, const Tok *a, const char *tb, const Tok *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t la = a[i].end - a[i].off, lb = b[i].end - b[i].off;
        if (la != lb || memcmp(ta + a[i].off, tb + b[i].off, la) != 0)
            return false;
    }
    return true;
}

/* annot_map_source: fills a->map when the tokens of a->text and of the
** source bytes [args_off, args_end) of a->origin.file are the same, one
** for one (comments and line breaks aside); leaves it alone otherwise. */
void annot_map_source(Annot *a, size_t args_off, size_t args_end)
{
    SrcFile *f = a->origin.file;
    if (!f || args_off > args_end || args_end > f->len)
        return;
    size_t na, ns;
    Tok *ta = tokens_of(a->text, a->len, 0, &na);
    Tok *ts = tokens_of(f->text + args_off, args_end - args_off, args_off, &ns);
    if (na == ns && same_tokens(a->text, ta, f->text, ts, na)) {
        size_t *map = xcalloc(a->len + 1, sizeof *map);
        size_t k = 0;
        /* before the first token (there is nothing, normally): its start */
        size_t gap = ns ? ts[0].off : args_off;
        for (size_t i = 0; i <= a->len; i++) {
            while (k < na && i >= ta[k].end)
                gap = ts[k++].end;
            map[i] = k < na && i >= ta[k].off ? ts[k].off + (i - ta[k].off) : gap;
        }
        free(a->map);
        a->map = map;
    }
    free(ta);
    free(ts);
}

/* ---------------------------------------------------------------------
** Nodes
*/

/* node_free: frees n, its children and its siblings (n->next on).  It
** walks with a heap stack, not recursion: a hostile annotation may chain
** thousands of nodes through `next` or `lhs`. */
void node_free(Node *n)
{
    Node **stack = NULL;
    size_t sp = 0, cap = 0;
    while (n) {
        Node *kids[4] = {n->lhs, n->rhs, n->items, n->next};
        for (int i = 0; i < 4; i++) {
            if (!kids[i])
                continue;
            if (sp == cap) {
                cap = cap ? cap * 2 : 16;
                stack = xrealloc(stack, cap * sizeof *stack);
            }
            stack[sp++] = kids[i];
        }
        free(n->str);
        free(n);
        n = sp ? stack[--sp] : NULL;
    }
    free(stack);
}

/* ---------------------------------------------------------------------
** Checking
*/

typedef struct Check {
    const Annot *a;
    const FuncSig *fn;
    Meta *m;
    int errors;
} Check;

static void err(Check *c, size_t off, size_t end, const char *fmt, ...) PTMCC_PRINTF(4, 5);

static void err(Check *c, size_t off, size_t end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(c->a, false, off, end, fmt, ap);
    va_end(ap);
    c->errors++;
}

static size_t key_end(const Node *entry)
{
    return entry->str_off + strlen(entry->str);
}

/* suggest: "unknown <what> 'word'<where>; did you mean 'x'?" with a
** fix-it, or "unknown <what> 'word'<where><otherwise>" when nothing is
** near. */
static void suggest(Check *c, size_t off, size_t end, const char *what, const char *word,
                    const char *where, const char *near, const char *otherwise)
{
    if (near) {
        err(c, off, end, "unknown %s '%s'%s; did you mean '%s'?", what, word, where, near);
        annot_fixit(c->a, off, end, near);
    } else {
        err(c, off, end, "unknown %s '%s'%s%s", what, word, where, otherwise);
    }
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

/* alias_of: the canonical spelling a common alternative stands for. */
static const char *alias_of(const char *word, const char *const (*aliases)[2])
{
    for (size_t i = 0; aliases[i][0]; i++)
        if (strcmp(word, aliases[i][0]) == 0)
            return aliases[i][1];
    return NULL;
}

/* is_empty_list: `{}`, which reads as an empty list but may mean an empty
** table. */
static bool is_empty_list(const Node *v)
{
    return v->kind == N_LIST && !v->items;
}

/* note_misplaced: a key of a nested table written at the top. */
static void note_misplaced(Check *c, const Node *e)
{
    static const char *const nested[][2] = {
        {"memory", "resource_requirements"}, {"cpu", "resource_requirements"},
        {"max", "retry"}, {"backoff", "retry"}, {NULL, NULL},
    };
    const char *parent = alias_of(e->str, nested);
    if (parent)
        annot_note(c->a, e->str_off, key_end(e), "'%s' is a key of '%s'", e->str, parent);
}

/* A subkey table: each entry's handler, did-you-mean for the rest,
** duplicates rejected. */
typedef void Handler(Check *c, Node *entry);
typedef struct Key {
    const char *name;
    Handler *check;
} Key;

static void check_entries(Check *c, Node *table, const Key *keys, size_t nkeys,
                          const char *where)
{
    const char **names = xcalloc(nkeys + 1, sizeof *names);
    Node **seen = xcalloc(nkeys + 1, sizeof *seen);
    for (size_t i = 0; i < nkeys; i++)
        names[i] = keys[i].name;
    for (Node *e = is_empty_list(table) ? NULL : table->items; e; e = e->next) {
        size_t k = 0;
        while (k < nkeys && strcmp(keys[k].name, e->str) != 0)
            k++;
        if (k == nkeys) {
            char *in = where ? format(" in '%s'", where) : xstrdup("");
            const char *near = closest(e->str, names, nkeys);
            suggest(c, e->str_off, key_end(e), "key", e->str, in, near, "");
            if (!where && !near)
                note_misplaced(c, e);
            free(in);
            continue;
        }
        if (seen[k]) {
            err(c, e->str_off, key_end(e), "duplicate key '%s'", e->str);
            annot_note(c->a, seen[k]->lhs->off, seen[k]->lhs->end, "previous value is here");
            continue;
        }
        seen[k] = e;
        keys[k].check(c, e);
    }
    free(names);
    free(seen);
}

/* expects: the value has the wrong type for key. */
static void expects(Check *c, const Node *v, const char *key, const char *what)
{
    err(c, v->off, v->end, "'%s' expects %s", key, what);
}

/* number_of: the number v denotes, a literal or a negated one.
** OUT: *neg. */
static const Node *number_of(const Node *v, bool *neg)
{
    *neg = false;
    while (v->kind == N_UNARY && v->op == '-') {
        *neg = !*neg;
        v = v->lhs;
    }
    return v->kind == N_NUM ? v : NULL;
}

/* unit_end: where the number's unit ends. */
static size_t unit_end(const Node *n)
{
    return n->unit_off + strlen(n->unit);
}

/* ---- Units */

static const char *const duration_units[] = {"us", "ms", "s", NULL};
static const double duration_scale[] = {1, 1e3, 1e6};
static const char *const duration_aliases[][2] = {
    {"sec", "s"}, {"secs", "s"}, {"second", "s"}, {"seconds", "s"}, {"S", "s"},
    {"msec", "ms"}, {"msecs", "ms"}, {"millis", "ms"}, {"milliseconds", "ms"}, {"MS", "ms"},
    {"usec", "us"}, {"usecs", "us"}, {"micros", "us"}, {"microseconds", "us"}, {"US", "us"},
    {"\xc2\xb5s", "us"}, {NULL, NULL},
};

static const char *const size_units[] = {"B", "KiB", "MiB", "GiB", NULL};
static const char *const size_aliases[][2] = {
    {"KB", "KiB"}, {"kB", "KiB"}, {"K", "KiB"}, {"k", "KiB"}, {"kb", "KiB"}, {"KIB", "KiB"},
    {"MB", "MiB"}, {"M", "MiB"}, {"mb", "MiB"}, {"MIB", "MiB"},
    {"GB", "GiB"}, {"G", "GiB"}, {"gb", "GiB"}, {"GIB", "GiB"},
    {"b", "B"}, {"bytes", "B"}, {"byte", "B"}, {NULL, NULL},
};

/* unit_index: where unit is in units, or -1. */
static int unit_index(const char *unit, const char *const *units)
{
    for (int i = 0; units[i]; i++)
        if (strcmp(unit, units[i]) == 0)
            return i;
    return -1;
}

/* read_duration: v as microseconds.  key names it in messages. */
static bool read_duration(Check *c, const Node *v, const char *key, uint64_t *us)
{
    bool neg;
    const Node *n = number_of(v, &neg);
    if (!n) {
        expects(c, v, key, "a duration such as 250 ms");
        return false;
    }
    if (!n->unit[0]) {
        char *fix = format("%s ms", n->str);
        err(c, n->off, n->end, "'%s' needs a unit (us, ms or s); did you mean '%s'?", key, fix);
        annot_fixit(c->a, n->off, n->end, fix);
        free(fix);
        return false;
    }
    int u = unit_index(n->unit, duration_units);
    if (u < 0) {
        const char *near = alias_of(n->unit, duration_aliases);
        if (!near)
            near = closest(n->unit, duration_units, count(duration_units));
        suggest(c, n->unit_off, unit_end(n), "duration unit", n->unit, "", near,
                "; durations use us, ms or s");
        return false;
    }
    if (neg || n->num <= 0) {
        err(c, v->off, v->end, "duration must be positive");
        return false;
    }
    /* no libm: the value is positive, and its size checked before the cast */
    double x = n->num * duration_scale[u] + 0.5;
    if (x < 1) {
        err(c, v->off, v->end, "duration is shorter than 1 us");
        return false;
    }
    if (x > 1e15) {
        err(c, v->off, v->end, "duration is too long");
        return false;
    }
    *us = (uint64_t)x;
    return true;
}

/* read_size: v as bytes.  key names it in messages. */
static bool read_size(Check *c, const Node *v, const char *key, uint64_t *bytes)
{
    bool neg;
    const Node *n = number_of(v, &neg);
    if (!n) {
        expects(c, v, key, "a size such as 64 MiB");
        return false;
    }
    if (!n->unit[0]) {
        err(c, n->off, n->end, "'%s' needs a unit (B, KiB, MiB or GiB)", key);
        return false;
    }
    int u = unit_index(n->unit, size_units);
    if (u < 0) {
        const char *near = alias_of(n->unit, size_aliases);
        if (!near)
            near = closest(n->unit, size_units, count(size_units));
        suggest(c, n->unit_off, unit_end(n), "size unit", n->unit, "", near,
                "; sizes use B, KiB, MiB or GiB");
        return false;
    }
    if (neg || n->num <= 0) {
        err(c, v->off, v->end, "size must be positive");
        return false;
    }
    double x = n->num * (double)(1ull << (10 * u));
    if (x >= 0x1p63) {
        err(c, v->off, v->end, "size is too large");
        return false;
    }
    if (x != (double)(uint64_t)x) {
        err(c, v->off, v->end, "size must be a whole number of bytes");
        return false;
    }
    *bytes = (uint64_t)x;
    return true;
}

/* read_count: v as a plain integer (no unit) in [min, max]. */
static bool read_count(Check *c, const Node *v, const char *key, const char *what,
                       int64_t min, int64_t max, int64_t *out)
{
    bool neg;
    const Node *n = number_of(v, &neg);
    if (!n || !n->is_int || n->unit[0]) {
        expects(c, v, key, what);
        return false;
    }
    int64_t x = neg ? -n->ival : n->ival;
    if (x < min) {
        err(c, v->off, v->end, "'%s' must be %s", key, min == 0 ? "non-negative" : "positive");
        return false;
    }
    if (x > max) {
        err(c, v->off, v->end, "'%s' is too large", key);
        return false;
    }
    *out = x;
    return true;
}

/* ---- Expressions (success_criteria, snapshot) */

static bool is_param(const FuncSig *fn, const char *name)
{
    for (int i = 0; fn && i < fn->nparams; i++)
        if (fn->params[i] && strcmp(fn->params[i], name) == 0)
            return true;
    return false;
}

/* check_return: `return` (and its member) in success_criteria. */
static void check_return(Check *c, const Node *ret, const Node *member)
{
    const char *name = c->fn && c->fn->name ? c->fn->name : "the transaction";
    if (c->fn && c->fn->returns_void) {
        err(c, ret->off, ret->end, "'return' has no value: '%s' returns void", name);
        return;
    }
    if (member && member->op == '.' && !(c->fn && c->fn->returns_record) &&
        !(c->fn && c->fn->ret))
        err(c, member->off, member->end,
            "'return.%s' needs a struct or union result, and '%s' does not return one",
            member->str, name);
}

/* check_expr: the leaves an expression of key may use.  Snapshot
** expressions are evaluated before the call: no `return`, no `errno`. */
static void check_expr(Check *c, const Node *e, const char *key)
{
    bool criteria = strcmp(key, "success_criteria") == 0;
    switch (e->kind) {
    case N_NUM:
        if (e->unit[0])
            err(c, e->off, e->end, "a number with a unit cannot appear in '%s'", key);
        return;
    case N_STR:
        err(c, e->off, e->end, "a string cannot appear in '%s'", key);
        return;
    case N_TABLE:
    case N_LIST:
    case N_ENTRY:
        err(c, e->off, e->end, "a braced list cannot appear in '%s'", key);
        return;
    case N_BOOL:
        return;
    case N_IDENT:
        if (!criteria && strcmp(e->str, "errno") == 0 && !is_param(c->fn, e->str))
            err(c, e->off, e->end, "'errno' cannot appear in '%s': it is taken before the call",
                key);
        return;
    case N_RETURN:
        if (!criteria)
            err(c, e->off, e->end, "'return' cannot appear in '%s': it is taken before the call",
                key);
        else
            check_return(c, e, NULL);
        return;
    case N_MEMBER:
        if (e->lhs->kind == N_RETURN && criteria)
            check_return(c, e->lhs, e);
        else
            check_expr(c, e->lhs, key);
        return;
    case N_CALL:
        for (const Node *a = e->items; a; a = a->next)
            check_expr(c, a, key);
        return;
    case N_UNARY:
    case N_SIZEOF:
        if (e->lhs)
            check_expr(c, e->lhs, key);
        return;
    case N_BINARY:
    case N_INDEX:
        check_expr(c, e->lhs, key);
        check_expr(c, e->rhs, key);
        return;
    }
}

/* ---- Types: success_criteria and snapshot checked against the function,
** with clang's wording.  A NULL type is unknown (an enum constant, a
** macro, a call): nothing is checked against it. */

static const Ty ty_int = {TY_SCALAR, "int", NULL, NULL, 0, NULL};
static const Ty ty_double = {TY_SCALAR, "double", NULL, NULL, 0, NULL};

static bool is_record(const Ty *t)
{
    return t && t->kind == TY_RECORD;
}

/* op_span: where the operator of a binary or member node is: the first
** non-blank byte after from that is not a closing parenthesis. */
static size_t op_at(const Check *c, size_t from, size_t limit)
{
    const char *t = c->a ? c->a->text : NULL;
    if (!t)
        return from;
    while (from < limit && from < c->a->len &&
           (t[from] == ' ' || t[from] == '\t' || t[from] == '\n' || t[from] == ')'))
        from++;
    return from;
}

static const Ty *type_of(Check *c, const Node *e);

/* field_of: the field named like member in record r, or an error. */
static const Ty *field_of(Check *c, const Node *e, const Ty *r)
{
    if (r->nfields == 0) {
        err(c, e->str_off, e->str_off + strlen(e->str), "incomplete definition of type '%s'",
            r->spelling);
        return NULL;
    }
    const char **names = xcalloc((size_t)r->nfields + 1, sizeof *names);
    for (int i = 0; i < r->nfields; i++) {
        if (strcmp(r->fields[i].name, e->str) == 0) {
            free(names);
            return r->fields[i].type;
        }
        names[i] = r->fields[i].name;
    }
    size_t end = e->str_off + strlen(e->str);
    const char *near = closest(e->str, names, (size_t)r->nfields);
    if (near) {
        err(c, e->str_off, end, "no member named '%s' in '%s'; did you mean '%s'?", e->str,
            r->spelling, near);
        annot_fixit(c->a, e->str_off, end, near);
        for (int i = 0; i < r->nfields; i++)
            if (r->fields[i].name == near && r->fields[i].loc.file)
                note_at(r->fields[i].loc, strlen(near), "'%s' declared here", near);
    } else {
        err(c, e->str_off, end, "no member named '%s' in '%s'", e->str, r->spelling);
    }
    free(names);
    return NULL;
}

/* member_type: lhs.field and lhs->field. */
static const Ty *member_type(Check *c, const Node *e)
{
    const Ty *t = type_of(c, e->lhs);
    if (!t || t->kind == TY_UNKNOWN)
        return NULL;
    size_t op = op_at(c, e->lhs->end, e->str_off);
    bool arrow = e->op == OP_ARROW;
    const Ty *pointee = t->kind == TY_POINTER ? t->pointee : NULL;
    if (!arrow && pointee && is_record(pointee)) {
        err(c, op, op + 1, "member reference type '%s' is a pointer; did you mean to use '->'?",
            t->spelling);
        annot_fixit(c->a, op, op + 1, "->");
        return NULL;
    }
    if (arrow && is_record(t)) {
        err(c, op, op + 2, "member reference type '%s' is not a pointer; did you mean to use '.'?",
            t->spelling);
        annot_fixit(c->a, op, op + 2, ".");
        return NULL;
    }
    if (arrow && t->kind != TY_POINTER) {
        err(c, op, op + 2, "member reference type '%s' is not a pointer", t->spelling);
        return NULL;
    }
    const Ty *r = arrow ? pointee : t;
    if (arrow && pointee && pointee->kind == TY_UNKNOWN)
        return NULL;
    if (!is_record(r)) {
        err(c, op, op + (arrow ? 2 : 1), "member reference base type '%s' is not a structure "
            "or union", arrow && pointee ? pointee->spelling : t->spelling);
        return NULL;
    }
    return field_of(c, e, r);
}

static const Ty *unary_type(Check *c, const Node *e)
{
    const Ty *t = type_of(c, e->lhs);
    if (e->op == '*') {
        if (t && (t->kind == TY_RECORD || t->kind == TY_SCALAR)) {
            err(c, e->off, e->end, "indirection requires pointer operand ('%s' invalid)",
                t->spelling);
            return NULL;
        }
        return t && t->kind == TY_POINTER ? t->pointee : NULL;
    }
    if (e->op == '&')
        return NULL;
    if (is_record(t)) {
        err(c, e->off, e->end, "invalid argument type '%s' to unary expression", t->spelling);
        return NULL;
    }
    return e->op == '!' ? &ty_int : t;
}

static const Ty *binary_type(Check *c, const Node *e)
{
    const Ty *l = type_of(c, e->lhs), *r = type_of(c, e->rhs);
    if (is_record(l) || is_record(r)) {
        size_t op = op_at(c, e->lhs->end, e->rhs->off);
        size_t len = e->op >= 256 ? 2 : 1;
        if (l && r && l->kind != TY_UNKNOWN && r->kind != TY_UNKNOWN)
            err(c, op, op + len, "invalid operands to binary expression ('%s' and '%s')",
                l->spelling, r->spelling);
        else
            err(c, op, op + len, "invalid operands to binary expression: '%s' is not a "
                "scalar type", is_record(l) ? l->spelling : r->spelling);
        return NULL;
    }
    switch (e->op) {
    case OP_EQ: case OP_NE: case OP_LE: case OP_GE: case '<': case '>':
    case OP_AND: case OP_OR:
        return &ty_int;
    default:
        return l && l->kind == TY_SCALAR && r && r->kind == TY_SCALAR ? l : NULL;
    }
}

static const Ty *param_type_of(const FuncSig *fn, const char *name)
{
    for (int i = 0; fn && fn->param_types && i < fn->nparams; i++)
        if (fn->params[i] && strcmp(fn->params[i], name) == 0)
            return fn->param_types[i];
    return NULL;
}

/* type_of: the type of a checked expression, reporting C's type errors. */
static const Ty *type_of(Check *c, const Node *e)
{
    switch (e->kind) {
    case N_NUM:
        return e->is_int ? &ty_int : &ty_double;
    case N_BOOL:
    case N_SIZEOF:
        return &ty_int;
    case N_IDENT:
        if (is_param(c->fn, e->str))
            return param_type_of(c->fn, e->str);
        return strcmp(e->str, "errno") == 0 ? &ty_int : NULL;
    case N_RETURN:
        return c->fn && !c->fn->returns_void ? c->fn->ret : NULL;
    case N_MEMBER:
        return member_type(c, e);
    case N_INDEX: {
        const Ty *t = type_of(c, e->lhs);
        type_of(c, e->rhs);
        if (is_record(t)) {
            err(c, e->off, e->end, "subscripted value is not an array, pointer, or vector");
            return NULL;
        }
        return t && t->kind == TY_POINTER ? t->pointee : NULL;
    }
    case N_UNARY:
        return unary_type(c, e);
    case N_BINARY:
        return binary_type(c, e);
    case N_CALL:
        for (const Node *a = e->items; a; a = a->next)
            type_of(c, a);
        return NULL;
    default:
        return NULL;
    }
}

/* typecheck_criteria: success_criteria must be a scalar (C's condition). */
static void typecheck_criteria(Check *c, const Node *e)
{
    const Ty *t = type_of(c, e);
    if (is_record(t))
        err(c, e->off, e->end, "statement requires expression of scalar type ('%s' invalid)",
            t->spelling);
}

/* typecheck_region: { address, size } of a snapshot. */
static void typecheck_region(Check *c, const Node *addr, const Node *size)
{
    const Ty *a = type_of(c, addr), *n = type_of(c, size);
    if (a && a->kind != TY_POINTER && a->kind != TY_UNKNOWN)
        err(c, addr->off, addr->end, "a snapshot region's address must be a pointer, not '%s'",
            a->spelling);
    if (n && n->kind != TY_SCALAR && n->kind != TY_UNKNOWN)
        err(c, size->off, size->end, "a snapshot region's size must be a number, not '%s'",
            n->spelling);
}

/* ---- Keys */

static void check_transaction_id(Check *c, Node *e)
{
    Node *v = e->lhs;
    if (v->kind != N_STR) {
        expects(c, v, e->str, "a string such as \"bank.transfer\"");
        if (v->kind == N_IDENT) {
            char *fix = format("\"%s\"", v->str);
            annot_fixit(c->a, v->off, v->end, fix);
            free(fix);
        }
        return;
    }
    if (!v->str[0]) {
        err(c, v->off, v->end, "'transaction_id' must not be empty");
        return;
    }
    free(c->m->transaction_id);
    c->m->transaction_id = xstrdup(v->str);
}

/* read_bool: a `true` or `false` value. */
static bool read_bool(Check *c, const Node *e, bool *out)
{
    const Node *v = e->lhs;
    if (v->kind != N_BOOL) {
        expects(c, v, e->str, "true or false");
        if (v->kind == N_NUM && v->is_int && !v->unit[0] && (v->ival == 0 || v->ival == 1))
            annot_fixit(c->a, v->off, v->end, v->ival ? "true" : "false");
        return false;
    }
    *out = e->lhs->ival != 0;
    return true;
}

static void check_failure_prediction(Check *c, Node *e)
{
    read_bool(c, e, &c->m->failure_prediction_enabled);
}

static void check_gate(Check *c, Node *e)
{
    read_bool(c, e, &c->m->gate);
}

static void check_alternatives(Check *c, Node *e)
{
    Node *v = e->lhs;
    static const char what[] = "a list of functions such as { transfer_queued }";
    if (v->kind != N_LIST) {
        expects(c, v, e->str, what);
        if (v->kind == N_IDENT) {
            char *fix = format("{ %s }", v->str);
            annot_fixit(c->a, v->off, v->end, fix);
            free(fix);
        }
        return;
    }
    Meta *m = c->m;
    int n = 0;
    for (Node *it = v->items; it; it = it->next)
        n++;
    m->alternatives = xcalloc((size_t)n + 1, sizeof *m->alternatives);
    for (Node *it = v->items; it; it = it->next) {
        if (it->kind != N_IDENT) {
            err(c, it->off, it->end, "an alternative path must be a function name");
            continue;
        }
        NameRef *dup = NULL;
        for (int i = 0; i < m->n_alternatives; i++)
            if (strcmp(m->alternatives[i].name, it->str) == 0)
                dup = &m->alternatives[i];
        if (dup) {
            err(c, it->off, it->end, "duplicate alternative path '%s'", it->str);
            annot_note(c->a, dup->off, dup->off + dup->len, "first listed here");
            continue;
        }
        m->alternatives[m->n_alternatives++] =
            (NameRef){xstrdup(it->str), it->off, it->end - it->off};
    }
}

static void check_memory(Check *c, Node *e)
{
    read_size(c, e->lhs, e->str, &c->m->memory_bytes);
}

static void check_cpu(Check *c, Node *e)
{
    int64_t n;
    if (read_count(c, e->lhs, e->str, "a positive integer such as 2", 1, 4096, &n))
        c->m->cpus = (unsigned)n;
}

static void check_resources(Check *c, Node *e)
{
    static const Key keys[] = {{"memory", check_memory}, {"cpu", check_cpu}};
    Node *v = e->lhs;
    if (v->kind != N_TABLE && !is_empty_list(v)) {
        expects(c, v, e->str, "a table such as { .memory = 64 MiB, .cpu = 2 }");
        return;
    }
    check_entries(c, v, keys, 2, e->str);
}

static void check_success(Check *c, Node *e)
{
    Node *v = e->lhs;
    if (v->kind == N_TABLE || v->kind == N_LIST) {
        expects(c, v, e->str, "an expression such as return == 0");
        return;
    }
    int before = c->errors;
    check_expr(c, v, "success_criteria");
    if (c->errors == before)
        typecheck_criteria(c, v);
    c->m->success = v;
}

static void check_max(Check *c, Node *e)
{
    int64_t n;
    if (read_count(c, e->lhs, e->str, "a non-negative integer such as 3", 0, 1000000, &n))
        c->m->retry_max = (unsigned)n;
}

static const char *const backoffs[] = {"exponential", "constant", "none", NULL};

/* read_backoff_call: exponential(base, cap) or constant(delay). */
static void read_backoff_call(Check *c, const Node *v, int kind)
{
    int want = kind == 0 ? 2 : 1;
    int n = 0;
    for (const Node *a = v->items; a; a = a->next)
        n++;
    if (n != want) {
        err(c, v->off, v->end, "'%s' takes %s", v->str,
            kind == 0 ? "2 durations: exponential(base, cap)" : "1 duration: constant(delay)");
        return;
    }
    uint64_t d[2] = {0, 0};
    bool ok = true;
    int i = 0;
    for (const Node *a = v->items; a; a = a->next)
        ok &= read_duration(c, a, "backoff", &d[i++]);
    if (!ok)
        return;
    if (kind == 0 && d[0] > d[1]) {
        err(c, v->off, v->end, "backoff base must not exceed its cap");
        return;
    }
    Meta *m = c->m;
    m->backoff = kind == 0 ? BACKOFF_EXPONENTIAL : BACKOFF_CONSTANT;
    m->backoff_base_us = d[0];
    m->backoff_cap_us = kind == 0 ? d[1] : d[0];
}

static void check_backoff(Check *c, Node *e)
{
    Node *v = e->lhs;
    static const char what[] = "exponential(base, cap), constant(delay) or none";
    if (v->kind != N_IDENT && v->kind != N_CALL) {
        expects(c, v, e->str, what);
        return;
    }
    size_t name_end = v->kind == N_CALL ? v->str_off + strlen(v->str) : v->end;
    size_t name_off = v->kind == N_CALL ? v->str_off : v->off;
    int k = unit_index(v->str, backoffs);
    if (k < 0) {
        suggest(c, name_off, name_end, "backoff", v->str, "",
                closest(v->str, backoffs, count(backoffs)),
                "; use exponential(base, cap), constant(delay) or none");
        return;
    }
    if (k == 2) {
        if (v->kind == N_CALL) {
            err(c, v->off, v->end, "'none' takes no arguments");
            return;
        }
        c->m->backoff = BACKOFF_NONE;
        c->m->backoff_base_us = c->m->backoff_cap_us = 0;
        return;
    }
    if (v->kind == N_IDENT) {
        err(c, v->off, v->end, "'%s' needs its %s", v->str,
            k == 0 ? "base and cap: exponential(base, cap)" : "delay: constant(delay)");
        return;
    }
    read_backoff_call(c, v, k);
}

static void check_retry(Check *c, Node *e)
{
    static const Key keys[] = {{"max", check_max}, {"backoff", check_backoff}};
    Node *v = e->lhs;
    Meta *m = c->m;
    /* a retry policy without a backoff gets the standard one */
    m->backoff = BACKOFF_EXPONENTIAL;
    m->backoff_base_us = 10 * 1000;
    m->backoff_cap_us = 1000 * 1000;
    if (v->kind == N_NUM || v->kind == N_UNARY) {
        check_max(c, e); /* the shorthand .retry = 3 */
        return;
    }
    if (v->kind != N_TABLE && !is_empty_list(v)) {
        expects(c, v, e->str,
                "a count or a table such as { .max = 3, .backoff = exponential(5 ms, 200 ms) }");
        return;
    }
    check_entries(c, v, keys, 2, e->str);
}

static void check_timeout(Check *c, Node *e)
{
    read_duration(c, e->lhs, e->str, &c->m->timeout_us);
}

/* check_mirror_deadline: how long the mirror may run, apart from the
** timeout: a primary allowed seconds need not wait that long for its
** prediction. */
static void check_mirror_deadline(Check *c, Node *e)
{
    read_duration(c, e->lhs, e->str, &c->m->mirror_deadline_us);
}

static void check_threshold(Check *c, Node *e)
{
    bool neg;
    const Node *n = number_of(e->lhs, &neg);
    if (!n || n->unit[0]) {
        expects(c, e->lhs, e->str, "a probability between 0 and 1 such as 0.4");
        return;
    }
    double x = neg ? -n->num : n->num;
    if (x < 0 || x > 1) {
        err(c, e->lhs->off, e->lhs->end, "'threshold' must be between 0 and 1");
        return;
    }
    c->m->threshold = x;
}

static const char *const mirror_modes[] = {"auto", "inline", "fork", "off", NULL};

static void check_mirror(Check *c, Node *e)
{
    Node *v = e->lhs;
    static const char what[] = "auto, inline, fork or off";
    int k = v->kind == N_IDENT || v->kind == N_STR ? unit_index(v->str, mirror_modes) : -1;
    if (v->kind == N_IDENT && k < 0) {
        suggest(c, v->off, v->end, "mirror mode", v->str, "",
                closest(v->str, mirror_modes, count(mirror_modes)),
                "; modes are auto, inline, fork and off");
        return;
    }
    if (k < 0 || v->kind == N_STR) {
        expects(c, v, e->str, what);
        if (k >= 0 || (v->kind == N_BOOL && !v->ival))
            annot_fixit(c->a, v->off, v->end, k >= 0 ? mirror_modes[k] : "off");
        return;
    }
    c->m->mirror = (MirrorMode)k;
    c->m->mirror_off = v->off;
    c->m->mirror_len = v->end - v->off;
}

static void check_rules(Check *c, Node *e)
{
    Node *v = e->lhs;
    if (v->kind != N_STR) {
        expects(c, v, e->str, "a file name such as \"bank.lua\"");
        return;
    }
    if (!v->str[0]) {
        err(c, v->off, v->end, "'rules' must not be empty");
        return;
    }
    c->m->rules = xstrdup(v->str);
    c->m->rules_off = v->off;
}

/* check_snapshot: a list of { address, size } regions; a single region
** may be written without the outer braces, as docs/DESIGN.md §1's example does. */
static void check_snapshot(Check *c, Node *e)
{
    Node *v = e->lhs;
    static const char what[] = "a list of regions such as { { acct, sizeof *acct } }";
    if (v->kind != N_LIST) {
        expects(c, v, e->str, what);
        return;
    }
    Node *a = v->items;
    if (a && a->next && !a->next->next && a->kind != N_LIST && a->next->kind != N_LIST &&
        a->kind != N_TABLE && a->next->kind != N_TABLE) {
        Node *outer = node_new(N_LIST, v->off, v->end);
        outer->items = v;
        e->lhs = v = outer;
    }
    bool ok = true;
    for (Node *r = v->items; r; r = r->next) {
        int n = 0;
        for (Node *x = r->items; x; x = x->next)
            n++;
        if (r->kind != N_LIST || n != 2) {
            err(c, r->off, r->end, "a snapshot region is written { address, size }");
            ok = false;
            continue;
        }
        int before = c->errors;
        for (Node *x = r->items; x; x = x->next)
            check_expr(c, x, "snapshot");
        if (c->errors == before)
            typecheck_region(c, r->items, r->items->next);
        else
            ok = false;
    }
    if (ok)
        c->m->snapshot = v;
}

static const char *const samplings[] = {"always", "adaptive", NULL};

/* check_mirror_sampling: always (every call mirrored) or adaptive (a
** quiet transaction mirrors a share of its calls, runtime/sampling.c). */
static void check_mirror_sampling(Check *c, Node *e)
{
    Node *v = e->lhs;
    int k = v->kind == N_IDENT || v->kind == N_STR ? unit_index(v->str, samplings) : -1;
    if (v->kind == N_IDENT && k < 0) {
        suggest(c, v->off, v->end, "mirror sampling", v->str, "",
                closest(v->str, samplings, count(samplings)),
                "; use always or adaptive");
        return;
    }
    if (k < 0 || v->kind == N_STR) {
        expects(c, v, e->str, "always or adaptive");
        if (k >= 0)
            annot_fixit(c->a, v->off, v->end, samplings[k]);
        return;
    }
    c->m->mirror_sampling = (MirrorSampling)k;
}

/* read_ratio: v as a plain number (no unit) in [0, max].  why: what a
** value over max would do, for the message. */
static bool read_ratio(Check *c, const Node *v, const char *key, const char *what,
                       double max, const char *why, double *out)
{
    bool neg;
    const Node *n = number_of(v, &neg);
    if (!n || n->unit[0]) {
        expects(c, v, key, what);
        return false;
    }
    double x = neg ? -n->num : n->num;
    if (!(x >= 0)) {
        err(c, v->off, v->end, "'%s' must be non-negative", key);
        return false;
    }
    if (x > max) {
        err(c, v->off, v->end, "'%s' must be at most %g%s", key, max, why);
        return false;
    }
    *out = x;
    return true;
}

/* check_exploration: the share of would-divert calls that run the primary
** anyway, for the model's labels: each such call lets a predicted
** failure happen, so the share is small and bounded. */
static void check_exploration(Check *c, Node *e)
{
    read_ratio(c, e->lhs, e->str, "a fraction such as 0.01", META_EXPLORATION_MAX,
               ": each explored call lets a predicted failure happen", &c->m->exploration);
}

/* check_retry_budget: this transaction's retries in the retry budget's
** window stay under min + ratio x its calls (runtime/adjust.c). */
static void check_retry_budget(Check *c, Node *e)
{
    if (read_ratio(c, e->lhs, e->str, "a ratio of retries to calls such as 0.2",
                   META_RETRY_BUDGET_MAX, "", &c->m->retry_budget))
        c->m->retry_budget_set = true;
}

static const Key top_keys[] = {
    {"transaction_id", check_transaction_id},
    {"failure_prediction_enabled", check_failure_prediction},
    {"alternative_paths", check_alternatives},
    {"resource_requirements", check_resources},
    {"success_criteria", check_success},
    {"retry", check_retry},
    {"timeout", check_timeout},
    {"mirror_deadline", check_mirror_deadline},
    {"threshold", check_threshold},
    {"mirror", check_mirror},
    {"rules", check_rules},
    {"snapshot", check_snapshot},
    {"gate", check_gate},
    {"mirror_sampling", check_mirror_sampling},
    {"exploration", check_exploration},
    {"retry_budget", check_retry_budget},
};

/* meta_check: see ptmcc.h.  *out owns root whatever the outcome. */
bool meta_check(const Annot *a, Node *root, const FuncSig *fn, Meta *out)
{
    *out = (Meta){
        .transaction_id = xstrdup(fn && fn->name ? fn->name : ""),
        .failure_prediction_enabled = true,
        .backoff = BACKOFF_NONE,
        .threshold = 0.4,
        .mirror = MIRROR_AUTO,
        .root = root,
    };
    if (!root)
        return false;
    Check c = {a, fn, out, 0};
    size_t nkeys = sizeof top_keys / sizeof *top_keys;
    check_entries(&c, root, top_keys, nkeys, NULL);
    return c.errors == 0;
}

/* meta_free: frees what m owns (its tree included) and zeroes it. */
void meta_free(Meta *m)
{
    free(m->transaction_id);
    for (int i = 0; i < m->n_alternatives; i++)
        free(m->alternatives[i].name);
    free(m->alternatives);
    free(m->rules);
    node_free(m->root);
    *m = (Meta){0};
}

/* ---------------------------------------------------------------------
** Expressions as C
*/

static const char *op_text(int op)
{
    switch (op) {
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LE: return "<=";
    case OP_GE: return ">=";
    case OP_AND: return "&&";
    case OP_OR: return "||";
    case OP_ARROW: return "->";
    case '<': return "<";
    case '>': return ">";
    case '+': return "+";
    case '-': return "-";
    case '*': return "*";
    case '/': return "/";
    case '%': return "%";
    case '!': return "!";
    case '&': return "&";
    case '~': return "~";
    default: return "?";
    }
}

/* put_string: a C string literal that reads back as s. */
static void put_string(Buf *b, const char *s)
{
    buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            buf_puts(b, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            buf_printf(b, "\\%03o", ch);
        else
            buf_put(b, (const char *)&ch, 1);
    }
    buf_puts(b, "\"");
}

/* What put_expr writes into, and how it names what lives in the frame. */
typedef struct CExpr {
    Buf b;
    const FuncSig *fn;
    const char *frame;
    const ExprPlace *place; /* NULL: one line, no #line */
} CExpr;

static void put_expr(CExpr *x, const Node *e);

/* put_operand: e as the operand of a unary or postfix operator.  Binary
** expressions bring their own parentheses; unary ones get them here, so
** `- -x` never becomes `--x`, nor `& &x` a GNU label address. */
static void put_operand(CExpr *x, const Node *e)
{
    bool wrap = e->kind == N_UNARY || e->kind == N_SIZEOF;
    if (wrap)
        buf_puts(&x->b, "(");
    put_expr(x, e);
    if (wrap)
        buf_puts(&x->b, ")");
}

/* place: puts the text that follows at offset off of the annotation. */
static void place(CExpr *x, size_t off)
{
    if (x->place)
        x->place->at(&x->b, off, x->place->ctx);
}

/* put_name: a name, rewritten when it lives in the frame.  Any other name
** is the backend's to resolve: placed at its own line and column of the
** annotation, so that an undeclared one is reported there. */
static void put_name(CExpr *x, const char *name, size_t off)
{
    if (strcmp(name, "errno") == 0) {
        buf_printf(&x->b, "%s->err", x->frame);
    } else if (is_param(x->fn, name)) {
        buf_printf(&x->b, "%s->arg.%s", x->frame, name);
    } else {
        place(x, off);
        buf_puts(&x->b, name);
    }
}

static void put_expr(CExpr *x, const Node *e)
{
    Buf *b = &x->b;
    switch (e->kind) {
    case N_NUM:
        buf_puts(b, e->str ? e->str : "0");
        return;
    case N_STR:
        put_string(b, e->str);
        return;
    case N_BOOL:
        buf_puts(b, e->ival ? "1" : "0");
        return;
    case N_IDENT:
        put_name(x, e->str, e->off);
        return;
    case N_RETURN:
        buf_printf(b, "%s->ret", x->frame);
        return;
    case N_MEMBER:
        put_operand(x, e->lhs);
        buf_puts(b, e->op == OP_ARROW ? "->" : ".");
        place(x, e->str_off);
        buf_puts(b, e->str);
        return;
    case N_INDEX:
        put_operand(x, e->lhs);
        buf_puts(b, "[");
        put_expr(x, e->rhs);
        buf_puts(b, "]");
        return;
    case N_CALL:
        put_name(x, e->str, e->off);
        buf_puts(b, "(");
        for (const Node *a = e->items; a; a = a->next) {
            put_expr(x, a);
            if (a->next)
                buf_puts(b, ", ");
        }
        buf_puts(b, ")");
        return;
    case N_UNARY:
        place(x, e->off);
        buf_puts(b, op_text(e->op));
        put_operand(x, e->lhs);
        return;
    case N_SIZEOF:
        place(x, e->off);
        buf_puts(b, "sizeof(");
        if (e->lhs) {
            put_expr(x, e->lhs);
        } else {
            place(x, e->str_off);
            buf_puts(b, e->str);
        }
        buf_puts(b, ")");
        return;
    case N_BINARY:
        buf_puts(b, "(");
        put_expr(x, e->lhs);
        place(x, e->str_off);
        buf_printf(b, " %s ", op_text(e->op));
        put_expr(x, e->rhs);
        buf_puts(b, ")");
        return;
    case N_TABLE:
    case N_LIST:
    case N_ENTRY:
        /* meta_check rejects these in expressions; C reads this as an
        ** initializer at worst, never as something else */
        buf_puts(b, "{ ");
        for (const Node *a = e->items; a; a = a->next) {
            if (a->kind == N_ENTRY)
                buf_printf(b, ".%s = ", a->str);
            put_expr(x, a->kind == N_ENTRY ? a->lhs : a);
            if (a->next)
                buf_puts(b, ", ");
        }
        buf_puts(b, " }");
        return;
    }
}

/* expr_to_c_placed: a checked expression as C over frame; every binary
** operation parenthesized, so C reads the user's grouping and -Wparentheses
** stays quiet.  With place, each name the backend resolves goes on a line
** of its own at the annotation's position.  NULL expr: "1".  Returns a
** malloc'd string. */
char *expr_to_c_placed(const Node *expr, const FuncSig *fn, const char *frame,
                       const ExprPlace *place)
{
    CExpr x = {{0}, fn, frame, place};
    if (expr)
        put_expr(&x, expr);
    else
        buf_puts(&x.b, "1");
    return x.b.data;
}

/* expr_needs_backend: see ptmcc.h.  A member of `return` or of a
** parameter is meta_check's to check (the types it knows). */
bool expr_needs_backend(const Node *e, const FuncSig *fn)
{
    if (!e)
        return false;
    if ((e->kind == N_IDENT || e->kind == N_CALL) && strcmp(e->str, "errno") != 0 &&
        !is_param(fn, e->str))
        return true;
    if (e->kind == N_SIZEOF && !e->lhs)
        return true;
    if (expr_needs_backend(e->lhs, fn) || expr_needs_backend(e->rhs, fn))
        return true;
    for (const Node *c = e->items; c; c = c->next)
        if (expr_needs_backend(c, fn))
            return true;
    return false;
}

char *expr_to_c(const Node *expr, const FuncSig *fn, const char *frame)
{
    return expr_to_c_placed(expr, fn, frame, NULL);
}

/* accepted_walk: errno == X under no '!' in e, into out. */
static void accepted_walk(const Node *e, const FuncSig *fn, bool negated, const Node **out,
                          int max, int *n)
{
    if (!e)
        return;
    if (e->kind == N_UNARY) {
        accepted_walk(e->lhs, fn, negated != (e->op == '!'), out, max, n);
        return;
    }
    if (e->kind != N_BINARY)
        return;
    if (e->op == OP_EQ && !negated) {
        const Node *a = e->lhs, *b = e->rhs;
        bool a_errno = a->kind == N_IDENT && strcmp(a->str, "errno") == 0 && !is_param(fn, "errno");
        bool b_errno = b->kind == N_IDENT && strcmp(b->str, "errno") == 0 && !is_param(fn, "errno");
        const Node *v = a_errno ? b : b_errno ? a : NULL;
        if (v && (v->kind == N_IDENT || v->kind == N_NUM) && *n < max)
            out[(*n)++] = v;
        return;
    }
    accepted_walk(e->lhs, fn, negated, out, max, n);
    accepted_walk(e->rhs, fn, negated, out, max, n);
}

/* criteria_accepted_errnos: the errno values success_criteria names as
** success (return == 0 || errno == EEXIST): an EEXIST the mirror meets is
** then no sign of failure.  OUT: out[0, n), the value nodes (a name or a
** number), n <= max.  Returns n. */
int criteria_accepted_errnos(const Node *expr, const FuncSig *fn, const Node **out, int max)
{
    int n = 0;
    accepted_walk(expr, fn, false, out, max, &n);
    return n;
}

/* criteria_to_c: success_criteria as C over frame (see expr_to_c). */
char *criteria_to_c(const Node *expr, const FuncSig *fn, const char *frame)
{
    return expr_to_c_placed(expr, fn, frame, NULL);
}
