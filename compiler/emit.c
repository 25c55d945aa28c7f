/*
** emit.c - writes the rewritten translation unit.
**
** For a transaction f the output keeps f's definition where it was, renamed
** f__ptm_primary and made static, preceded by a prototype of f so that code
** below still sees f.  Everything else goes to the end of the file, where
** every type and function of the unit is visible:
**
**   f__ptm_mirror      a clone of the body whose I/O calls go to ptm_shim_*
**   struct f__ptm_frame the arguments, the result and errno of one call
**   f__ptm_run_*       thunks: call a clone with the arguments of a frame
**   f__ptm_success     success_criteria over a frame
**   f__ptm_desc        the descriptor libptm runs
**   f                  the wrapper: fills a frame and calls ptm_tx_run()
**
** Functions a mirror reaches get a clone g__ptm_mirror each, after a
** comment naming the original; a static inline helper of a user header is
** cloned from the header's text.  A function-local static of a cloned
** function moves to file scope (g__ptm_static_x, just above g) so that the
** original and its clone share it.  A PTM_MIRRORABLE function gets a clone
** other files can call; a mirror calls such a function of another file
** through a weak reference to its clone (g__ptm_xtu).
**
** Host code that refers to a note row of runtime/calls.def
** (sqlite3_busy_timeout) calls ptm_note_<name> instead, which tells libptm
** and makes the call: from the first top-level declaration of the main
** file that refers to it, an object-like macro renames the function, so
** that calls, addresses taken, (name)(...) and calls a macro expands all
** reach the note, and the note is declared with the function's own type
** (__typeof__), without ptm_gen.h.  The generated part at the end
** undefines the macro: a mirror calls the function's shim, never its note.
**
** #line directives map the primary and the mirror to the user's lines, and
** the generated glue to the annotation, so compiler errors and debuggers
** point at the user's source.
*/
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ptmcc.h"

/* An edit of a text span: [off, off+len) becomes text.  Edits at one
** offset go by order. */
typedef struct Edit {
    size_t off, len;
    const char *text;
    int order;
} Edit;

/* By offset; at one offset an insertion (len 0) goes before the
** replacement that starts there, and insertions go by order. */
static int cmp_edit(const void *a, const void *b)
{
    const Edit *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    if ((x->len > 0) != (y->len > 0))
        return (x->len > 0) - (y->len > 0);
    return (x->order > y->order) - (x->order < y->order);
}

/* put_edited: appends src[from, to) to out with the edits that fall in it
** applied (edits must not overlap). */
static void put_edited(Buf *out, const char *src, size_t from, size_t to, Edit *edits, int n)
{
    if (n > 0)
        qsort(edits, (size_t)n, sizeof *edits, cmp_edit);
    size_t at = from;
    for (int i = 0; i < n; i++) {
        if (edits[i].off < at || edits[i].off + edits[i].len > to)
            continue;
        buf_put(out, src + at, edits[i].off - at);
        buf_puts(out, edits[i].text);
        at = edits[i].off + edits[i].len;
    }
    buf_put(out, src + at, to - at);
}

/* A list of edits, with the strings it owns. */
typedef struct Edits {
    Edit *v;
    int n;
    char **owned;
    int nowned;
} Edits;

/* edits_add_ordered: [off, off+len) becomes text, ranked by order among
** the edits at off; owned text is freed with e. */
static void edits_add_ordered(Edits *e, size_t off, size_t len, const char *text, char *owned,
                              int order)
{
    e->v = xrealloc(e->v, sizeof *e->v * (size_t)(e->n + 1));
    e->v[e->n++] = (Edit){off, len, owned ? owned : text, order};
    if (owned) {
        e->owned = xrealloc(e->owned, sizeof *e->owned * (size_t)(e->nowned + 1));
        e->owned[e->nowned++] = owned;
    }
}

static void edits_add(Edits *e, size_t off, size_t len, const char *text, char *owned)
{
    edits_add_ordered(e, off, len, text, owned, 0);
}

static void edits_free(Edits *e)
{
    for (int i = 0; i < e->nowned; i++)
        free(e->owned[i]);
    free(e->owned);
    free(e->v);
    *e = (Edits){0};
}

/* newlines_in: as many newlines as text[from, to) holds, so that an edit
** that removes lines keeps the ones after it where #line says they are. */
static char *newlines_in(const char *text, size_t from, size_t to)
{
    Buf b = {0};
    buf_puts(&b, "");
    for (size_t i = from; i < to; i++)
        if (text[i] == '\n')
            buf_puts(&b, "\n");
    return b.data;
}

/* static_edits: in f's body, each moved static's declaration goes and its
** uses take the file-scope name. */
static void static_edits(const Func *f, Edits *e)
{
    for (int i = 0; i < f->nhoists; i++) {
        const Hoist *h = &f->hoists[i];
        char *nl = newlines_in(f->file->text, h->decl_off, h->decl_end);
        edits_add(e, h->decl_off, h->decl_end - h->decl_off, NULL,
                  format("/* static %s: now %s */%s", h->name, h->new_name, nl));
        free(nl);
        for (int k = 0; k < h->nrefs; k++)
            edits_add(e, h->refs[k], strlen(h->name), h->new_name, NULL);
    }
}

static bool is_ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* skip_literal_or_comment: the offset after a comment or literal at i, or
** i itself when none starts there. */
static size_t skip_literal_or_comment(const char *t, size_t i, size_t end)
{
    if (t[i] == '/' && i + 1 < end && t[i + 1] == '*') {
        const char *e = strstr(t + i + 2, "*/");
        return e ? (size_t)(e - t) + 2 : end;
    }
    if (t[i] == '/' && i + 1 < end && t[i + 1] == '/') {
        while (i < end && t[i] != '\n')
            i++;
        return i;
    }
    if (t[i] == '"' || t[i] == '\'')
        return skip_literal(t, i, end);
    return i;
}

/* Header edits: storage-class and inline specifiers blanked (the clones
** are static) and the name replaced. */
typedef struct Header {
    Edit edits[64];
    int n;
    char *owned[64];
} Header;

static void header_add(Header *h, size_t off, size_t len, char *owned)
{
    if (h->n == 64)
        return;
    h->owned[h->n] = owned;
    h->edits[h->n++] = (Edit){off, len, owned, 0};
}

static void header_free(Header *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->owned[i]);
    h->n = 0;
}

static const char *const specifiers[] = {"static", "extern", "inline", "__inline", "__inline__"};

/* Attributes a clone must not take from its original: linkage it cannot
** have (static), code that would run without a call (a constructor), and
** inlining rules that do not fit a copy. */
static const char *const original_only[] = {
    "weak", "weakref", "alias", "ifunc", "constructor", "destructor", "section", "used",
    "visibility", "externally_visible", "always_inline", "gnu_inline", "artificial", "flatten",
};

/* attribute_end: when t[i, ...) starts __attribute__((...)), the offset
** after it (before end), else 0. */
static size_t attribute_end(const char *t, size_t i, size_t e, size_t end)
{
    if (!((e - i == 13 && memcmp(t + i, "__attribute__", 13) == 0) ||
          (e - i == 11 && memcmp(t + i, "__attribute", 11) == 0)))
        return 0;
    size_t j = e;
    while (j < end && (t[j] == ' ' || t[j] == '\t' || t[j] == '\n'))
        j++;
    if (j >= end || t[j] != '(')
        return 0;
    int depth = 0;
    for (; j < end; j++) {
        if (t[j] == '(')
            depth++;
        else if (t[j] == ')' && --depth == 0)
            return j + 1;
    }
    return 0;
}

/* original_attribute: whether t[i, e) names one of original_only, as
** written or as __name__. */
static bool original_attribute(const char *t, size_t i, size_t e)
{
    for (size_t k = 0; k < sizeof original_only / sizeof *original_only; k++) {
        size_t n = strlen(original_only[k]);
        if ((e - i == n && memcmp(t + i, original_only[k], n) == 0) ||
            (e - i == n + 4 && memcmp(t + i, "__", 2) == 0 &&
             memcmp(t + i + 2, original_only[k], n) == 0 && memcmp(t + e - 2, "__", 2) == 0))
            return true;
    }
    return false;
}

/* blank_attribute: an __attribute__((...)) at t[i, end) that names one of
** original_only becomes blanks (its newlines stay).  Returns whether. */
static bool blank_attribute(const char *t, size_t i, size_t end, Header *h)
{
    bool found = false;
    for (size_t a = i; a < end && !found;) {
        if (!is_ident_char(t[a])) {
            a++;
            continue;
        }
        size_t b = a;
        while (b < end && is_ident_char(t[b]))
            b++;
        found = original_attribute(t, a, b);
        a = b;
    }
    if (!found)
        return false;
    char *blanks = format("%*s", (int)(end - i), "");
    for (size_t k = i; k < end; k++)
        if (t[k] == '\n')
            blanks[k - i] = '\n';
    header_add(h, i, end - i, blanks);
    return true;
}

/* header_edits: the edits that turn f's header into one named new_name,
** and a clone's (specifiers and original_only attributes blanked) when
** clone is true. */
static void header_edits(const Func *f, const char *new_name, bool clone, Header *h)
{
    const char *t = f->file->text;
    for (size_t i = f->start; clone && i < f->name_off;) {
        if (i >= f->annot_off && i < f->annot_end) {
            i = f->annot_end;
            continue;
        }
        size_t j = skip_literal_or_comment(t, i, f->name_off);
        if (j != i) {
            i = j;
            continue;
        }
        if (!is_ident_char(t[i]) || (i > 0 && is_ident_char(t[i - 1]))) {
            i++;
            continue;
        }
        size_t e = i;
        while (e < f->name_off && is_ident_char(t[e]))
            e++;
        size_t attr_end = attribute_end(t, i, e, f->name_off);
        if (attr_end) {
            blank_attribute(t, i, attr_end, h);
            i = attr_end;
            continue;
        }
        for (size_t k = 0; k < sizeof specifiers / sizeof *specifiers; k++) {
            if (e - i != strlen(specifiers[k]) || memcmp(t + i, specifiers[k], e - i) != 0)
                continue;
            size_t gap = e; /* the specifier goes with the blanks after it */
            while (gap < f->name_off && (t[gap] == ' ' || t[gap] == '\t'))
                gap++;
            header_add(h, i, gap - i, format("%*s", (int)(gap - i), "")); /* columns stay */
        }
        i = e;
    }
    header_add(h, f->name_off, strlen(f->name), xstrdup(new_name));
}

static void put_line(Buf *out, SrcLoc loc, const char *display);

static bool is_blank(const char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* directives_end: where the last preprocessor line between the start of
** f's definition and its name ends, or 0.  An annotation chosen by #if
** (PTM_TRANSACTION in one branch, another in #else) leaves directives and
** inactive text there: a header copied elsewhere must start after them, and
** the primary, in place, keeps them above itself so the #if stays whole. */
static size_t directives_end(const Func *f)
{
    const char *t = f->file->text;
    size_t end = 0;
    for (size_t i = f->start; i < f->name_off;) {
        size_t bol = i;
        while (i < f->name_off && (t[i] == ' ' || t[i] == '\t'))
            i++;
        bool directive = i < f->name_off && t[i] == '#';
        for (;;) { /* to the end of the line, continuations included */
            while (i < f->name_off && t[i] != '\n')
                i++;
            if (i >= f->name_off || i == bol || t[i - 1] != '\\')
                break;
            i++;
        }
        if (i < f->name_off)
            i++;
        if (directive)
            end = i;
    }
    return end;
}

/* put_storage: line (a #line, then text), with storage written over the
** blanks that start its text when they leave room, else on a line of its
** own before it; line is freed. */
static void put_storage(Buf *out, Buf *line, const char *storage, const Func *f,
                        const char *display)
{
    size_t n = strlen(storage);
    char *text = strchr(line->data, '\n') + 1;
    if (n && strspn(text, " ") >= n) {
        memcpy(text, storage, n);
    } else if (n) {
        put_line(out, (SrcLoc){f->file, f->start}, display);
        buf_printf(out, "%.*s\n", (int)(storage[n - 1] == ' ' ? n - 1 : n), storage);
    }
    buf_put(out, line->data, line->len);
    buf_free(line);
}

/* put_at_loc: a #line for loc's line, then blanks up to loc's column, so
** that the user's text that follows keeps its line and column in
** diagnostics.  A tab stays a tab: gcc counts columns with tabs expanded,
** clang in bytes. */
static void put_at_loc(Buf *out, SrcLoc loc, const char *display)
{
    const char *t = loc.file->text;
    size_t bol = loc.off;
    while (bol > 0 && t[bol - 1] != '\n')
        bol--;
    put_line(out, loc, display);
    for (size_t i = bol; i < loc.off; i++)
        buf_put(out, t[i] == '\t' ? "\t" : " ", 1);
}

static void put_at(Buf *out, const Func *f, size_t off, const char *display)
{
    put_at_loc(out, (SrcLoc){f->file, off}, display);
}

/* put_header: f's header (up to its body) without the annotation, for a
** clone named new_name (with storage, "static " or "", and no other
** storage class), renamed new_name with its own specifiers (storage NULL),
** or, with new_name NULL too, as written.  Every token of the
** user's keeps its line and column: specifiers become blanks, the storage
** class goes into blanks before the return type where they leave room
** (else on a line of its own), and a #line follows the new name. */
static void put_header(Buf *out, const Func *f, const char *new_name, const char *storage,
                       const char *display, bool prototype)
{
    const char *t = f->file->text;
    Header h = {0};
    if (new_name)
        header_edits(f, new_name, storage != NULL, &h);
    if (!storage)
        storage = "";
    size_t from = f->start;
    if (f->annot_end > f->annot_off) {
        if (!is_blank(t, f->start, f->annot_off)) {
            Buf line = {0};
            put_at(&line, f, f->start, display);
            put_edited(&line, t, f->start, f->annot_off, h.edits, h.n);
            buf_puts(&line, "\n");
            put_storage(out, &line, storage, f, display);
            storage = ""; /* it is out */
        }
        from = f->annot_end;
    }
    size_t dir = directives_end(f);
    if (dir > from)
        from = dir;
    while (from < f->name_off && is_blank(t, from, from + 1))
        from++;
    size_t to = prototype && f->old_style ? f->decls_off : f->body_off;
    while (prototype && to > from && is_blank(t, to - 1, to))
        to--;
    Buf line = {0};
    put_at(&line, f, from, display);
    if (new_name && from <= f->name_off) {
        size_t name_end = f->name_off + strlen(f->name);
        put_edited(&line, t, from, name_end, h.edits, h.n);
        buf_puts(&line, "\n");
        put_at(&line, f, name_end, display);
        from = name_end;
    }
    if (prototype && f->old_style && from <= f->params_open) {
        /* f(a, b) int a; ... declared: f() */
        put_edited(&line, t, from, f->params_open + 1, h.edits, h.n);
        from = f->params_close;
    }
    put_edited(&line, t, from, to, h.edits, h.n);
    if (prototype)
        buf_puts(&line, ";\n");
    put_storage(out, &line, storage, f, display);
    header_free(&h);
}

static void put_line_number(Buf *out, unsigned line, const char *display);

static void put_line(Buf *out, SrcLoc loc, const char *display)
{
    unsigned line, col;
    src_line_col(loc, &line, &col);
    put_line_number(out, line, display);
}

/* put_line_number: #line line "display". */
static void put_line_number(Buf *out, unsigned line, const char *display)
{
    buf_printf(out, "#line %u \"", line);
    for (const char *p = display; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_put(out, "\\", 1);
        buf_put(out, p, 1);
    }
    buf_puts(out, "\"\n");
}

/* put_c_string: s as a C string literal, split after each newline. */
static void put_c_string(Buf *out, const char *s)
{
    buf_puts(out, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_puts(out, "\\\""); break;
        case '\\': buf_puts(out, "\\\\"); break;
        case '\t': buf_puts(out, "\\t"); break;
        case '\r': buf_puts(out, "\\r"); break;
        case '\n':
            buf_puts(out, p[1] ? "\\n\"\n    \"" : "\\n");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                buf_printf(out, "\\%03o", *p);
            else if (*p == '?' && p[1] == '?')
                buf_puts(out, "?\\"); /* no trigraphs */
            else
                buf_put(out, (const char *)p, 1);
        }
    }
    buf_puts(out, "\"");
}

static char *clone_name(const Func *f, const char *suffix)
{
    return format("%s__ptm_%s", f->name, suffix);
}

/* display_of: how #line names f's file: the user's path for the main file,
** the header's path as clang found it for a header's inline helper. */
static const char *display_of(const Unit *u, const Func *f, const char *display)
{
    return f->file == u->main ? display : f->file->path;
}

/* clone_storage: a PTM_MIRRORABLE function's clone is visible to other
** files; every other clone is private to this one. */
static const char *clone_storage(const Func *f)
{
    return f->external_clone || f->static_by_macro ? "" : "static ";
}

static const char *const func_names[] = {"__func__", "__FUNCTION__", "__PRETTY_FUNCTION__"};

/* put_func_name: a renamed copy of f (its primary, its mirror clone) says
** f's own name for __func__, as the plain build does: the predefined
** names are pinned by a macro around it, which reaches uses written in
** macros too.  put_func_name_end ends that. */
static void put_func_name(Buf *out, const Func *f)
{
    if (!f->func_names)
        return;
    /* -Weverything: these macros' names are reserved, on purpose */
    buf_puts(out, "#if defined(__clang__)\n#pragma clang diagnostic push\n"
                  "#pragma clang diagnostic ignored \"-Wunknown-warning-option\"\n"
                  "#pragma clang diagnostic ignored \"-Wreserved-macro-identifier\"\n#endif\n");
    for (unsigned i = 0; i < sizeof func_names / sizeof *func_names; i++)
        if (f->func_names & (1u << i))
            buf_printf(out, "#pragma push_macro(\"%s\")\n#undef %s\n#define %s \"%s\"\n",
                       func_names[i], func_names[i], func_names[i], f->name);
    buf_puts(out, "#if defined(__clang__)\n#pragma clang diagnostic pop\n#endif\n");
}

static void put_func_name_end(Buf *out, const Func *f)
{
    for (unsigned i = sizeof func_names / sizeof *func_names; i-- > 0;)
        if (f->func_names & (1u << i))
            buf_printf(out, "#pragma pop_macro(\"%s\")\n", func_names[i]);
}

/* put_hoists: f's function-local statics, at file scope under their new
** names, each under a #line for its declaration. */
static void put_hoists(Buf *out, const Func *f, const char *display)
{
    if (!f->nhoists)
        return;
    if (out->len && out->data[out->len - 1] != '\n')
        buf_puts(out, "\n");
    buf_printf(out, "/* ptmcc: the static variables of %s, moved out of it so that its "
                    "mirror clone shares them. */\n", f->name);
    Edits e = {0};
    for (int i = 0; i < f->nhoists; i++) {
        const Hoist *h = &f->hoists[i];
        edits_add(&e, h->name_off, strlen(h->name), h->new_name, NULL);
        for (int k = 0; k < h->nrefs; k++)
            edits_add(&e, h->refs[k], strlen(h->name), h->new_name, NULL);
    }
    for (int i = 0; i < f->nhoists; i++) {
        const Hoist *h = &f->hoists[i];
        put_line(out, (SrcLoc){f->file, h->decl_off}, display);
        put_edited(out, f->file->text, h->decl_off, h->decl_end, e.v, e.n);
        buf_puts(out, "\n");
    }
    edits_free(&e);
}

/* put_body: f's body with its statics renamed, plus extra edits. */
static void put_body(Buf *out, const Func *f, Edits *extra)
{
    static_edits(f, extra);
    put_edited(out, f->file->text, f->body_off, f->end, extra->v, extra->n);
}

/* put_xtu: the weak reference to the clone of g, a PTM_MIRRORABLE function
** of another file, and what a mirror calls to reach it.  A file not built
** by ptmcc has no clone: the call is recorded and goes to g itself (in the
** fork executor, under seccomp), never silently. */
static void put_xtu(Buf *out, const char *g)
{
    buf_printf(out,
               "\n/* %s is PTM_MIRRORABLE and defined in another file: its mirror clone "
               "is there when ptmcc built that file. */\n"
               "extern __typeof__(%s) %s__ptm_mirror __attribute__((weak));\n"
               "static __typeof__(%s) *%s__ptm_xtu(void)\n{\n"
               "    if (%s__ptm_mirror)\n        return %s__ptm_mirror;\n"
               "    ptm_note_missing_clone(\"%s\");\n    return %s;\n}\n"
               "extern const struct ptm_xfacts %s__ptm_xfacts __attribute__((weak));\n",
               g, g, g, g, g, g, g, g, g, g);
}

/* needs_facts: whether the unit's clones carry facts records: some are
** for other files' mirrors, or some mirror reaches other files. */
static bool needs_facts(const Unit *u)
{
    if (front_mirror_all() && u->nclones + u->nfuncs > 0)
        return true;
    for (int i = 0; i < u->nfuncs + u->nclones; i++) {
        const Func *f = i < u->nfuncs ? &u->funcs[i] : &u->clones[i - u->nfuncs];
        if (f->external_clone || f->xtu_reach)
            return true;
    }
    return false;
}

/* fork_fact: why f's clone alone needs the fork executor, or NULL. */
static char *fork_fact(const Func *f)
{
    if (f->nescapes)
        return escape_reason(&f->escapes[0]);
    if (!f->inl.local_stores_only && !f->inl.redo_ok)
        return format("stores outside its locals where the write buffer cannot follow: %s",
                      f->inl.redo_blocker ? f->inl.redo_blocker : "?");
    /* A call through a pointer needs the buffer (the target's clone may
    ** store): said here, where the reason is known. */
    if ((f->nindirects || f->nbody_indirects) && !f->inl.redo_ok)
        return format("calls through a pointer where the write buffer cannot follow: %s",
                      f->inl.redo_blocker ? f->inl.redo_blocker : "?");
    return NULL;
}

/* put_facts: f's facts record, f__ptm_xfacts, next to its clone and with
** its linkage (ptm_gen.h, ABI 7): what the runtime's walk of a mirror
** across files needs to know of it, and the functions it calls, those of
** other files through weak references (NULL when the file has no clone). */
static void put_facts(Buf *out, const Unit *u, const Func *f, const char *display)
{
    int n = f->ncallees + f->nxcallees;
    if (n) {
        buf_printf(out, "static const struct ptm_xcall %s__ptm_xcalls[] = {\n", f->name);
        for (int i = 0; i < n; i++) {
            const char *c = i < f->ncallees ? f->callees[i] : f->xcallees[i - f->ncallees];
            buf_printf(out, "    { \"%s\", &%s__ptm_xfacts },\n", c, c);
        }
        buf_puts(out, "};\n");
    }
    buf_printf(out, "%sconst struct ptm_xfacts %s__ptm_xfacts = {\n    .name = \"%s\",\n"
                    "    .file = ", f->external_clone ? "" : "static ", f->name, f->name);
    put_c_string(out, display_of(u, f, display));
    buf_printf(out, ",\n    .stores_out = %d,\n    .buffered = %d,\n",
               !f->inl.local_stores_only, f->redo);
    char *why = fork_fact(f);
    if (why) {
        buf_puts(out, "    .fork = ");
        put_c_string(out, why);
        buf_puts(out, ",\n");
        free(why);
    }
    if (n)
        buf_printf(out, "    .n_calls = %d,\n    .calls = %s__ptm_xcalls,\n", n, f->name);
    if (f->nindirects || f->nbody_indirects)
        buf_puts(out, "    .indirect = 1,\n");
    buf_puts(out, "};\n");
}

/* put_clone_map: under -fptm-mirror-all, each function of the main file
** with its clone and facts, in the section ptm_xmap, which the runtime
** reads (ptm_clone_of) when a clone calls through a pointer; not a static
** one whose address the unit never takes (no_pointer). */
static void put_clone_map(Buf *out, const Unit *u)
{
    if (!front_mirror_all())
        return;
    int n = 0;
    for (int i = 0; i < u->nfuncs + u->nclones; i++) {
        const Func *f = i < u->nfuncs ? &u->funcs[i] : &u->clones[i - u->nfuncs];
        if (f->file != u->main || f->no_pointer)
            continue;
        if (!n++)
            buf_puts(out, "static const struct ptm_xmap __ptm_xmap[] __attribute__((__used__, "
                          "__section__(\"ptm_xmap\"), __aligned__(sizeof(void *)))) = {\n");
        /* the clone too: in a mirror, the function's name is its clone */
        buf_printf(out, "    { (void (*)(void))(%s), (void (*)(void))%s__ptm_mirror, "
                        "&%s__ptm_xfacts },\n"
                        "    { (void (*)(void))%s__ptm_mirror, (void (*)(void))%s__ptm_mirror, "
                        "&%s__ptm_xfacts },\n",
                   f->name, f->name, f->name, f->name, f->name, f->name);
    }
    if (n)
        buf_puts(out, "};\n");
}

/* put_all_facts: every clone's facts, declared first (they refer to each
** other in any order). */
static void put_all_facts(Buf *out, const Unit *u, const char *display)
{
    if (!needs_facts(u))
        return;
    buf_puts(out, "\n/* ptmcc: what each mirror clone's proof found, for mirrors that reach "
                  "across files (resolved at run time). */\n");
    for (int i = 0; i < u->nfuncs + u->nclones; i++) {
        const Func *f = i < u->nfuncs ? &u->funcs[i] : &u->clones[i - u->nfuncs];
        /* no_pointer: with no row in the clone map, a record no other
        ** clone's calls name is unused */
        buf_printf(out, "%sconst struct ptm_xfacts %s__ptm_xfacts%s;\n",
                   f->external_clone ? "extern " : "static ", f->name,
                   f->no_pointer ? " __attribute__((__unused__))" : "");
    }
    for (int i = 0; i < u->nfuncs + u->nclones; i++)
        put_facts(out, u, i < u->nfuncs ? &u->funcs[i] : &u->clones[i - u->nfuncs], display);
    put_clone_map(out, u);
}

/* poll_text: a cancellation point, on a line of its own, after which a
** #line directive and padding put the rest of the user's line back at its
** own line and column, so that diagnostics and debug locations stay exact. */
static char *poll_text(const Func *f, const Poll *p, const char *display)
{
    Buf b = {0};
    buf_puts(&b, p->wrap ? "{\n" : "\n");
    buf_puts(&b, "if (ptm_mirror_cancel) ptm_mirror_cancelled();\n");
    put_at(&b, f, p->off, display);
    return b.data;
}

/* The mirror clone is a copy of the user's body: each warning in it is one
** the primary's copy already gives at the same line, and its copy would
** show the rewritten text.  Said once, by the primary.  (gcc takes no
** group in a pragma: the warnings of -Wall -Wextra -pedantic and the
** usual extras, one by one.) */
static const char mirror_quiet[] =
    "#if defined(__clang__)\n"
    "#pragma clang diagnostic push\n"
    "#pragma clang diagnostic ignored \"-Weverything\"\n"
    "#elif defined(__GNUC__)\n"
    "#pragma GCC diagnostic push\n"
    "#pragma GCC diagnostic ignored \"-Wpragmas\"\n";
static const char *const gcc_quiet[] = {
    "-Wunused-variable", "-Wunused-but-set-variable", "-Wunused-value", "-Wunused-label",
    "-Wunused-parameter", "-Wunused-function", "-Wsign-compare", "-Wimplicit-fallthrough",
    "-Wmaybe-uninitialized", "-Wuninitialized", "-Wparentheses", "-Wmisleading-indentation",
    "-Wtype-limits", "-Wshadow", "-Wconversion", "-Wsign-conversion", "-Wfloat-conversion",
    "-Wpedantic", "-Wempty-body", "-Wdangling-else", "-Wstrict-aliasing", "-Wformat",
    "-Wformat-nonliteral", "-Wformat-truncation", "-Wformat-overflow", "-Wstringop-overflow",
    "-Wstringop-truncation", "-Warray-bounds", "-Wfloat-equal", "-Wcast-qual", "-Wcast-align",
    "-Wswitch", "-Wswitch-enum", "-Wswitch-default", "-Wchar-subscripts", "-Waddress",
    "-Wlogical-not-parentheses", "-Wbool-compare", "-Wint-in-bool-context", "-Wrestrict",
    "-Wnonnull", "-Wnonnull-compare", "-Wduplicated-cond", "-Wduplicated-branches",
    "-Wlogical-op", "-Wnull-dereference", "-Wpointer-arith", "-Wdeclaration-after-statement",
    "-Wvla", "-Wdiv-by-zero", "-Woverflow", "-Wshift-negative-value", "-Wunused-result",
    "-Wclobbered",
};

static void put_quiet(Buf *out)
{
    buf_puts(out, mirror_quiet);
    for (size_t i = 0; i < sizeof gcc_quiet / sizeof *gcc_quiet; i++)
        buf_printf(out, "#pragma GCC diagnostic ignored \"%s\"\n", gcc_quiet[i]);
    buf_puts(out, "#endif\n");
}

static void put_quiet_end(Buf *out)
{
    buf_puts(out, "#if defined(__clang__)\n#pragma clang diagnostic pop\n"
                  "#elif defined(__GNUC__)\n#pragma GCC diagnostic pop\n#endif\n");
}

/* The generated part of a unit (names in __ptm_, frames, descriptors
** holding the rules' text, casts of const arguments to void *) compiles
** clean under -Wall -Wextra; these are the pedantic groups past those
** (clang's -Weverything, gcc's extras) that it trips, off for it alone: a
** project built with -Weverything -Werror keeps building under ptmcc. */
static const char *const generated_quiet[] = {
    "-Wreserved-identifier", "-Wreserved-macro-identifier", "-Wpadded", "-Wcast-qual", "-Wvla",
    "-Woverlength-strings", "-Wmissing-variable-declarations", "-Wdeclaration-after-statement",
    "-Wunsafe-buffer-usage", "-Wpre-c11-compat", "-Wc++-compat",
    /* a K&R definition's clone repeats the original's warning */
    "-Wdeprecated-non-prototype", "-Wold-style-definition", "-Wstrict-prototypes",
};

static void put_generated_quiet(Buf *out)
{
    buf_puts(out, "#if defined(__clang__)\n#pragma clang diagnostic push\n"
                  "#pragma clang diagnostic ignored \"-Wunknown-warning-option\"\n");
    for (size_t i = 0; i < sizeof generated_quiet / sizeof *generated_quiet; i++)
        buf_printf(out, "#pragma clang diagnostic ignored \"%s\"\n", generated_quiet[i]);
    buf_puts(out, "#elif defined(__GNUC__)\n#pragma GCC diagnostic push\n"
                  "#pragma GCC diagnostic ignored \"-Wpragmas\"\n");
    for (size_t i = 0; i < sizeof generated_quiet / sizeof *generated_quiet; i++)
        if (strstr(generated_quiet[i], "reserved") == NULL)
            buf_printf(out, "#pragma GCC diagnostic ignored \"%s\"\n", generated_quiet[i]);
    buf_puts(out, "#endif\n");
}

/* put_annotation_macro_use: when f's annotation was written through a
** macro of the file (#define TX PTM_TRANSACTION(...)), an #ifdef of it:
** the primary's header no longer expands it, and clang's -Wunused-macros
** would call it unused. */
static void put_annotation_macro_use(Buf *out, const Func *f)
{
    if (!f->annot_end)
        return;
    const char *t = f->file->text + f->annot_off;
    size_t n = 0;
    while (f->annot_off + n < f->annot_end && is_ident_char(t[n]))
        n++;
    if (n && !(n == 15 && memcmp(t, "PTM_TRANSACTION", 15) == 0) &&
        !(n == 14 && memcmp(t, "PTM_MIRRORABLE", 14) == 0))
        buf_printf(out, "#ifdef %.*s\n#endif\n", (int)n, t);
}

/* put_mirror: the mirror clone of f, its calls redirected. */
static void put_mirror(Buf *out, const Unit *u, const Func *f, const char *display)
{
    const char *shown = display_of(u, f, display);
    unsigned line, col;
    src_line_col((SrcLoc){f->file, f->start}, &line, &col);
    buf_puts(out, "\n");
    put_quiet(out);
    buf_printf(out, "/* The mirror clone of %s (%s:%u): its I/O goes to PTM's shims. */\n",
               f->name, shown, line);
    /* The macros as they were at the function (first: the rewrites below
    ** redefine some of them again). */
    if (f->macro_push)
        buf_puts(out, f->macro_push);
    for (int i = 0; i < f->nmacro_redirects; i++) {
        const Redirect *r = &f->macro_redirects[i];
        buf_printf(out, "#pragma push_macro(\"%s\")\n#undef %s\n#define %s(...) %s(__VA_ARGS__)\n",
                   r->name, r->name, r->name, r->target);
    }
    /* Macros whose bodies access memory, their accesses through the buffer. */
    for (int i = 0; f->redo && i < f->inl.nmacros; i++)
        buf_printf(out, "#pragma push_macro(\"%s\")\n#undef %s\n#define %s\n",
                   f->inl.macros[i].name, f->inl.macros[i].name, f->inl.macros[i].def);
    put_func_name(out, f);
    char *mirror = clone_name(f, "mirror");
    put_header(out, f, mirror, clone_storage(f), shown, false);
    Edits e = {0};
    for (int i = 0; i < f->nredirects; i++)
        edits_add(&e, f->redirects[i].off, f->redirects[i].len, f->redirects[i].target, NULL);
    /* Cancellation points: the inline executor's watchdog stops an endless
    ** loop here, where the mirror holds no lock. */
    for (int i = 0; i < f->inl.npolls; i++) {
        const Poll *p = &f->inl.polls[i];
        edits_add_ordered(&e, p->off, 0, NULL, poll_text(f, p, shown), INT_MIN);
        if (p->wrap)
            edits_add_ordered(&e, p->wrap_end, 0, " }", NULL, INT_MAX);
    }
    /* Stores into local arrays stay inside them, whatever their index. */
    for (int i = 0; i < f->inl.nbounds; i++) {
        const RedoEdit *r = &f->inl.bounds[i];
        edits_add_ordered(&e, r->off, r->len, r->text, NULL, r->order);
    }
    /* A call through a pointer goes to the target's clone (ptm_clone_of),
    ** outermost around the callee's own rewrites. */
    for (int i = 0; i < f->nindirects; i++) {
        edits_add_ordered(&e, f->indirects[i].start, 0, NULL,
                          format("(__extension__({ __auto_type __ptm_fp%d = (", i), INT_MIN + 1);
        edits_add_ordered(&e, f->indirects[i].end, 0, NULL,
                          format("); (__typeof__(__ptm_fp%d))ptm_clone_of((void (*)(void))"
                                 "__ptm_fp%d); }))", i, i), INT_MAX - 1);
    }
    /* Accesses outside its locals go through the write buffer. */
    for (int i = 0; f->redo && i < f->inl.nredo; i++) {
        const RedoEdit *r = &f->inl.redo[i];
        edits_add_ordered(&e, r->off, r->len, r->text, NULL, r->order);
    }
    put_body(out, f, &e);
    buf_puts(out, "\n");
    edits_free(&e);
    free(mirror);

    put_func_name_end(out, f);
    for (int i = f->redo ? f->inl.nmacros - 1 : -1; i >= 0; i--)
        buf_printf(out, "#pragma pop_macro(\"%s\")\n", f->inl.macros[i].name);
    for (int i = f->nmacro_redirects - 1; i >= 0; i--)
        buf_printf(out, "#pragma pop_macro(\"%s\")\n", f->macro_redirects[i].name);
    if (f->macro_pop)
        buf_puts(out, f->macro_pop);
    put_quiet_end(out);
}

/* put_member: "T name;" with the name placed after a trailing '*'. */
static void put_member(Buf *out, const char *type, const char *name)
{
    size_t n = strlen(type);
    buf_printf(out, "        %s%s%s;\n", type, n && type[n - 1] == '*' ? "" : " ", name);
}

static void put_frame(Buf *out, const Func *f)
{
    buf_printf(out, "struct %s__ptm_frame {\n", f->name);
    if (f->nparams) {
        buf_puts(out, "    struct {\n");
        for (int i = 0; i < f->nparams; i++)
            put_member(out, f->params[i].type, f->params[i].name);
        buf_puts(out, "    } arg;\n");
    }
    if (!f->returns_void)
        buf_printf(out, "    %s ret;\n", f->ret_type);
    buf_puts(out, "    int err;\n};\n");
}

/* put_thunk: a ptm_thunk calling fn with the frame's arguments.  A
** va_list argument is passed as a copy of the frame's: the mirror, each
** attempt of the primary and an alternative each read the arguments from
** the start. */
static void put_thunk(Buf *out, const Func *f, const char *thunk, const char *fn)
{
    buf_printf(out, "static void %s(void *p)\n{\n    struct %s__ptm_frame *fr = p;\n", thunk,
               f->name);
    for (int i = 0; i < f->nparams; i++)
        if (f->params[i].va_list)
            buf_printf(out, "    __builtin_va_list __ptm_va_%s;\n"
                            "    __builtin_va_copy(__ptm_va_%s, fr->arg.%s);\n",
                       f->params[i].name, f->params[i].name, f->params[i].name);
    buf_puts(out, "    errno = 0;\n    ");
    if (!f->returns_void)
        buf_puts(out, "fr->ret = ");
    buf_printf(out, "%s(", fn);
    for (int i = 0; i < f->nparams; i++)
        buf_printf(out, f->params[i].va_list ? "%s__ptm_va_%s" : "%sfr->arg.%s", i ? ", " : "",
                   f->params[i].name);
    buf_puts(out, ");\n    fr->err = errno;\n");
    for (int i = 0; i < f->nparams; i++)
        if (f->params[i].va_list)
            buf_printf(out, "    __builtin_va_end(__ptm_va_%s);\n", f->params[i].name);
    buf_puts(out, "}\n");
}

/* The annotation's place of a token in an expression of it. */
typedef struct AnnotPlace {
    const Func *f;
    const char *display;
} AnnotPlace;

static void put_annot_place(Buf *b, size_t off, void *ctx)
{
    const AnnotPlace *ap = ctx;
    SrcLoc loc = annot_loc(&ap->f->annot, off);
    buf_puts(b, "\n");
    /* a user macro's body may be in a header: its #line names the header */
    put_at_loc(b, loc, loc.file == ap->f->file ? ap->display : loc.file->path);
}

static void put_success(Buf *out, const Func *f, const char *display)
{
    if (!f->meta.success)
        return;
    const char **names = xcalloc((size_t)f->nparams + 1, sizeof *names);
    for (int i = 0; i < f->nparams; i++)
        names[i] = f->params[i].name;
    FuncSig sig = {f->name, f->returns_void, f->returns_record, names, f->nparams, NULL, NULL};
    AnnotPlace ap = {f, display};
    ExprPlace place = {put_annot_place, &ap};
    /* what meta_check checked whole cannot fail: it stays on one line */
    bool placed = expr_needs_backend(f->meta.success, &sig);
    char *expr = expr_to_c_placed(f->meta.success, &sig, "frame", placed ? &place : NULL);
    put_line(out, annot_loc(&f->annot, f->meta.success->off), display);
    buf_printf(out, "static int %s__ptm_success(const void *p)\n{\n"
                    "    const struct %s__ptm_frame *frame = p;\n"
                    "    (void)frame; /* a criterion may name globals only */\n"
                    "    return (%s) != 0;\n}\n",
               f->name, f->name, expr);
    free(expr);
    free(names);
}

static const char *mirror_mode_name(MirrorMode m)
{
    switch (m) {
    case MIRROR_INLINE: return "PTM_MIRROR_INLINE";
    case MIRROR_FORK: return "PTM_MIRROR_FORK";
    case MIRROR_OFF: return "PTM_MIRROR_OFF";
    default: return "PTM_MIRROR_AUTO";
    }
}

static const char *backoff_name(BackoffKind b)
{
    switch (b) {
    case BACKOFF_CONSTANT: return "PTM_BACKOFF_CONSTANT";
    case BACKOFF_EXPONENTIAL: return "PTM_BACKOFF_EXPONENTIAL";
    default: return "PTM_BACKOFF_NONE";
    }
}

/* drops_result: f's result holds pointers, which a dry run's caller must
** not get: they point into the mirror's memory (its arena, its child). */
static bool drops_result(const Func *f)
{
    return f->returns_pointer || f->ret_wipe || f->nret_pointers > 0;
}

/* needs_slot: the runtime keeps state for m's transaction id (adaptive
** sampling, a retry budget of its own): the descriptor gets a slot where
** it finds it again without a lookup. */
static bool needs_slot(const Meta *m)
{
    return m->mirror_sampling == SAMPLING_ADAPTIVE || m->retry_budget_set;
}

static void put_descriptor(Buf *out, const Func *f, const char *display)
{
    const Meta *m = &f->meta;
    unsigned line, col;
    src_line_col((SrcLoc){f->file, f->name_off}, &line, &col);

    if (m->n_alternatives) {
        buf_printf(out, "static const struct ptm_alt %s__ptm_alternatives[] = {\n", f->name);
        for (int i = 0; i < m->n_alternatives; i++)
            buf_printf(out, "    { \"%s\", %s__ptm_run_alt_%s },\n", m->alternatives[i].name,
                       f->name, m->alternatives[i].name);
        buf_puts(out, "};\n");
    }
    const char **names = xcalloc((size_t)f->nparams + 1, sizeof *names);
    for (int i = 0; i < f->nparams; i++)
        names[i] = f->params[i].name;
    FuncSig sig = {f->name, f->returns_void, f->returns_record, names, f->nparams, NULL, NULL};
    const Node *accepted[16];
    int naccepted = m->success ? criteria_accepted_errnos(m->success, &sig, accepted, 16) : 0;
    free(names);
    if (naccepted) {
        buf_printf(out, "static const int %s__ptm_accepted_errnos[] = {", f->name);
        for (int i = 0; i < naccepted; i++)
            buf_printf(out, "%s%s", i ? ", " : " ", accepted[i]->str);
        buf_puts(out, " };\n");
    }
    if (f->xtu_reach && !f->needs_fork && !f->inline_blocker)
        buf_printf(out, "static struct ptm_xstate %s__ptm_xstate;\n", f->name);
    if (needs_slot(m))
        buf_printf(out, "static struct ptm_tx_slot %s__ptm_slot;\n", f->name);
    buf_printf(out, "static const struct ptm_tx_desc %s__ptm_desc = {\n", f->name);
    buf_puts(out, "    .abi = PTM_ABI_VERSION,\n    .transaction_id = ");
    put_c_string(out, m->transaction_id);
    buf_printf(out, ",\n    .function = \"%s\",\n    .file = ", f->name);
    put_c_string(out, display);
    buf_printf(out, ",\n    .line = %u,\n", line);
    buf_printf(out, "    .frame_size = sizeof(struct %s__ptm_frame),\n", f->name);
    buf_printf(out, "    .primary = %s__ptm_run_primary,\n", f->name);
    buf_printf(out, "    .mirror = %s__ptm_run_mirror,\n", f->name);
    if (m->success)
        buf_printf(out, "    .success = %s__ptm_success,\n", f->name);
    if (m->n_alternatives)
        buf_printf(out, "    .alternatives = %s__ptm_alternatives,\n    .n_alternatives = %d,\n",
                   f->name, m->n_alternatives);
    buf_printf(out, "    .failure_prediction_enabled = %d,\n", m->failure_prediction_enabled);
    buf_printf(out, "    .mirror_mode = %s,\n", mirror_mode_name(m->mirror));
    buf_printf(out, "    .threshold = %.17g,\n", m->threshold);
    buf_printf(out, "    .retry_max = %u,\n", m->retry_max);
    buf_printf(out, "    .backoff = %s,\n", backoff_name(m->backoff));
    buf_printf(out, "    .backoff_base_us = %llu,\n    .backoff_cap_us = %llu,\n",
               (unsigned long long)m->backoff_base_us, (unsigned long long)m->backoff_cap_us);
    buf_printf(out, "    .timeout_us = %llu,\n", (unsigned long long)m->timeout_us);
    if (m->mirror_deadline_us)
        buf_printf(out, "    .mirror_deadline_us = %llu,\n",
                   (unsigned long long)m->mirror_deadline_us);
    buf_printf(out, "    .memory_bytes = %llu,\n    .cpus = %u,\n",
               (unsigned long long)m->memory_bytes, m->cpus);
    if (f->needs_fork) {
        buf_puts(out, "    .needs_fork = 1,\n    .mirror_reason = ");
        put_c_string(out, f->mirror_reason ? f->mirror_reason : "");
        buf_puts(out, ",\n");
    } else if (f->inline_ok) {
        buf_puts(out, f->tx_redo ? "    .inline_ok = 1,\n    .redo = 1,\n" : "    .inline_ok = 1,\n");
    } else if (f->xtu_reach && !f->inline_blocker) {
        buf_printf(out, "    .xfacts = &%s__ptm_xfacts,\n    .xstate = &%s__ptm_xstate,\n",
                   f->name, f->name);
    } else if (f->inline_blocker) {
        buf_puts(out, "    .mirror_reason = ");
        put_c_string(out, f->inline_blocker);
        buf_puts(out, ",\n");
    }
    if (m->snapshot)
        buf_printf(out, "    .snapshot = %s__ptm_snapshot,\n", f->name);
    if (m->mirror_sampling == SAMPLING_ADAPTIVE)
        buf_puts(out, "    .mirror_sampling = PTM_SAMPLING_ADAPTIVE,\n");
    if (m->exploration > 0)
        buf_printf(out, "    .exploration = %.17g,\n", m->exploration);
    if (m->retry_budget_set)
        buf_printf(out, "    .retry_budget = %.17g,\n    .retry_budget_set = 1,\n",
                   m->retry_budget);
    if (needs_slot(m))
        buf_printf(out, "    .slot = &%s__ptm_slot,\n", f->name);
    if (naccepted)
        buf_printf(out, "    .accepted_errnos = %s__ptm_accepted_errnos,\n"
                        "    .n_accepted_errnos = %d,\n", f->name, naccepted);
    if (drops_result(f))
        buf_printf(out, "    .drop_result = %s__ptm_drop_result,\n", f->name);
    if (m->rules) {
        buf_puts(out, "    .rules_name = ");
        put_c_string(out, m->rules);
        buf_puts(out, ",\n");
        /* The script's text, under a line marker naming its file: a cache
        ** that learns a unit's inputs from its preprocessed line markers
        ** (ccache's direct mode, CC="ccache ptmcc") hashes the script too. */
        if (f->rules_path)
            put_line_number(out, 1, f->rules_path);
        buf_puts(out, "    .rules_source =\n    ");
        put_c_string(out, f->rules_text ? f->rules_text : "");
        buf_puts(out, ",\n");
        if (f->rules_path)
            put_line(out, f->annot.origin, display);
    }
    buf_puts(out, "};\n");
}

static void put_wrapper(Buf *out, const Func *f, const char *display)
{
    /* (f): a function-like macro named f, defined after f, is not expanded. */
    char *name = format("(%s)", f->name);
    put_header(out, f, name, NULL, display, false);
    free(name);
    buf_printf(out, "{\n    struct %s__ptm_frame __ptm_frame;\n"
                    "    memset(&__ptm_frame, 0, sizeof __ptm_frame);\n", f->name);
    for (int i = 0; i < f->nparams; i++)
        buf_printf(out,
                   f->params[i].va_list ? "    __builtin_va_copy(__ptm_frame.arg.%s, %s);\n"
                   : f->params[i].vla   ? "    __ptm_frame.arg.%s = (void *)%s;\n"
                                        : "    __ptm_frame.arg.%s = %s;\n",
                   f->params[i].name, f->params[i].name);
    buf_printf(out, "    ptm_tx_run(&%s__ptm_desc, &__ptm_frame);\n", f->name);
    for (int i = 0; i < f->nparams; i++)
        if (f->params[i].va_list)
            buf_printf(out, "    __builtin_va_end(__ptm_frame.arg.%s);\n", f->params[i].name);
    if (!f->returns_void)
        buf_puts(out, "    return __ptm_frame.ret;\n");
    buf_puts(out, "}\n");
}

/* put_snapshot: the memory regions of `snapshot`, computed from a frame's
** arguments: the runtime saves them before the first attempt and restores
** them before each retry and before an alternative runs. */
static void put_snapshot(Buf *out, const Func *f, const char *display)
{
    const Node *regions = f->meta.snapshot;
    if (!regions)
        return;
    const char **names = xcalloc((size_t)f->nparams + 1, sizeof *names);
    for (int i = 0; i < f->nparams; i++)
        names[i] = f->params[i].name;
    FuncSig sig = {f->name, f->returns_void, f->returns_record, names, f->nparams, NULL, NULL};
    unsigned n = 0;
    for (const Node *r = regions->items; r; r = r->next)
        n++;
    put_line(out, annot_loc(&f->annot, regions->off), display);
    buf_printf(out, "static unsigned %s__ptm_snapshot(void *p, struct ptm_region *out, "
                    "unsigned max)\n{\n    struct %s__ptm_frame *frame = p;\n"
                    "    (void)frame;\n    const struct ptm_region r[%u] = {\n",
               f->name, f->name, n);
    AnnotPlace ap = {f, display};
    ExprPlace place = {put_annot_place, &ap};
    for (const Node *r = regions->items; r; r = r->next) {
        const Node *ea = r->items, *es = r->items->next;
        char *addr = expr_to_c_placed(ea, &sig, "frame",
                                      expr_needs_backend(ea, &sig) ? &place : NULL);
        char *size = expr_to_c_placed(es, &sig, "frame",
                                      expr_needs_backend(es, &sig) ? &place : NULL);
        buf_printf(out, "        { (void *)(%s), (size_t)(%s) },\n", addr, size);
        free(addr);
        free(size);
    }
    buf_printf(out, "    };\n    for (unsigned i = 0; i < %uu && i < max; i++)\n"
                    "        out[i] = r[i];\n    return %uu;\n}\n", n, n);
    free(names);
}

/* put_glue: frame, thunks, predicate, descriptor and wrapper of f. */
static void put_glue(Buf *out, const Func *f, const char *display)
{
    unsigned line, col;
    src_line_col(f->annot.origin, &line, &col);
    buf_printf(out, "\n/* Transaction '%s': %s (%s:%u). */\n", f->meta.transaction_id, f->name,
               display, line);
    put_line(out, f->annot.origin, display);
    put_frame(out, f);

    char *thunk = clone_name(f, "run_primary"), *fn = clone_name(f, "primary");
    put_thunk(out, f, thunk, fn);
    free(thunk);
    free(fn);
    thunk = clone_name(f, "run_mirror");
    fn = clone_name(f, "mirror");
    put_thunk(out, f, thunk, fn);
    free(thunk);
    free(fn);
    for (int i = 0; i < f->meta.n_alternatives; i++) {
        const NameRef *alt = &f->meta.alternatives[i];
        thunk = format("%s__ptm_run_alt_%s", f->name, alt->name);
        put_line(out, annot_loc(&f->annot, alt->off), display);
        put_thunk(out, f, thunk, alt->name);
        free(thunk);
    }
    if (drops_result(f)) {
        buf_printf(out, "static void %s__ptm_drop_result(void *p)\n{\n"
                        "    struct %s__ptm_frame *fr = p;\n", f->name, f->name);
        if (f->returns_pointer)
            buf_puts(out, "    fr->ret = 0;\n");
        else if (f->ret_wipe)
            buf_puts(out, "    memset(&fr->ret, 0, sizeof fr->ret);\n");
        for (int i = 0; !f->ret_wipe && i < f->nret_pointers; i++)
            buf_printf(out, "    fr->ret%s = 0;\n", f->ret_pointers[i]);
        buf_puts(out, "}\n");
    }
    put_success(out, f, display);
    put_snapshot(out, f, display);
    put_line(out, f->annot.origin, display);
    put_descriptor(out, f, display);
    put_wrapper(out, f, display);
}

/* recorded_receives: the recv and recvfrom calls of f (a primary, or the
** original of a function a mirror reaches), and its waits for them (poll,
** ppoll, select), become libptm's, which record what they receive, or
** that the wait ran out, for later mirrors to replay.  Declared here, with the
** type of the calls they replace: ptm_gen.h comes at the end.  Returns
** whether f has any. */
static bool recorded_receives(Buf *out, const Func *f, Edits *e)
{
    bool any = false;
    static const char *const names[] = {"recv", "recvfrom", "poll", "ppoll", "select"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        bool declared = false;
        for (int i = 0; i < f->nredirects; i++) {
            const Redirect *r = &f->redirects[i];
            if (!r->len || strcmp(r->name, names[k]) != 0)
                continue;
            char *hook = format("ptm_primary_%s", names[k]);
            if (!declared && out)
                buf_printf(out, "extern __typeof__(%s) %s;\n", names[k], hook);
            declared = any = true;
            if (e)
                edits_add(e, r->off, r->len, NULL, hook);
            else
                free(hook);
        }
    }
    return any;
}

/* put_primary: f's definition, renamed and made static, after a prototype
** of the wrapper for the code that follows. */
static void put_primary(Buf *out, const Func *f, const char *display)
{
    put_hoists(out, f, display);
    if (out->len && out->data[out->len - 1] != '\n')
        buf_puts(out, "\n");
    size_t dir = directives_end(f);
    if (dir) {
        size_t from = f->annot_end > f->annot_off ? f->annot_end : f->start;
        if (from < dir)
            buf_put(out, f->file->text + from, dir - from);
    }
    buf_printf(out, "/* ptmcc: %s below is the primary of transaction '%s'; "
                    "the wrapper %s() is at the end of this file. */\n",
               f->name, f->meta.transaction_id, f->name);
    if (!f->has_prior_decl)
        put_header(out, f, NULL, NULL, display, true);
    Edits e = {0};
    recorded_receives(out, f, &e);
    put_func_name(out, f);
    char *primary = clone_name(f, "primary");
    put_header(out, f, primary, "static ", display, false);
    /* A recursive call is part of the transaction, not a new one. */
    for (int i = 0; i < f->nself_refs; i++)
        edits_add(&e, f->self_refs[i], strlen(f->name), primary, NULL);
    put_body(out, f, &e);
    edits_free(&e);
    free(primary);
}

/* put_original: a cloned function of the main file whose statics moved
** out or that receives: the statics, then the function as written but for
** their names and its recorded receives. */
static void put_original(Buf *out, const Func *f, const char *display)
{
    put_hoists(out, f, display);
    Edits e = {0};
    recorded_receives(out, f, &e);
    put_line(out, (SrcLoc){f->file, f->start}, display);
    static_edits(f, &e);
    put_edited(out, f->file->text, f->start, f->end, e.v, e.n);
    edits_free(&e);
}

/* put_notes: the blocks (see the header comment) of the notes not yet
** out (*done marks them) whose renaming starts before limit, where the
** main file is at, then a #line back to the user's text there. */
static void put_notes(Buf *out, const Unit *u, size_t limit, size_t at, bool *done,
                      const char *display)
{
    bool any = false;
    for (int i = 0; i < u->nnotes; i++) {
        if (done[i] || u->notes[i].at >= limit)
            continue;
        if (!any && out->len && out->data[out->len - 1] != '\n')
            buf_puts(out, "\n");
        const char *n = u->notes[i].name;
        buf_printf(out, "/* ptmcc: from here on, %s is ptm_note_%s, which tells libptm and "
                        "calls it. */\n__typeof__(%s) ptm_note_%s;\n#ifndef %s\n"
                        "#define %s ptm_note_%s\n#endif\n",
                   n, n, n, n, n, n, n);
        done[i] = any = true;
    }
    if (any)
        put_at_loc(out, (SrcLoc){u->main, at}, display);
}

/* put_main_text: the main file's text [from, to), with the notes' blocks
** where their renaming starts in it. */
static void put_main_text(Buf *out, const Unit *u, size_t from, size_t to, bool *done,
                          const char *display)
{
    for (;;) {
        size_t next = to;
        for (int i = 0; i < u->nnotes; i++)
            if (!done[i] && u->notes[i].at >= from && u->notes[i].at < next)
                next = u->notes[i].at;
        if (next == to)
            break;
        buf_put(out, u->main->text + from, next - from);
        put_notes(out, u, next + 1, next, done, display);
        from = next;
    }
    buf_put(out, u->main->text + from, to - from);
}

/* A function of the main file whose text the output changes. */
typedef struct Region {
    const Func *f;
    bool primary;        /* a transaction; else a clone's original */
} Region;

static int cmp_region(const void *a, const void *b)
{
    const Region *x = a, *y = b;
    return x->f->start < y->f->start ? -1 : x->f->start > y->f->start;
}

/* put_main: the main file with its transactions turned into primaries, the
** statics of cloned functions moved out and their receives recorded. */
static void put_main(Buf *out, const Unit *u, const char *display)
{
    Region *rs = xcalloc((size_t)(u->nfuncs + u->nclones + 1), sizeof *rs);
    int n = 0;
    for (int i = 0; i < u->nfuncs; i++)
        rs[n++] = (Region){&u->funcs[i], true};
    for (int i = 0; i < u->nclones; i++)
        if (u->clones[i].file == u->main &&
            (u->clones[i].nhoists || recorded_receives(NULL, &u->clones[i], NULL)))
            rs[n++] = (Region){&u->clones[i], false};
    qsort(rs, (size_t)n, sizeof *rs, cmp_region);

    const char *t = u->main->text;
    size_t at = 0;
    bool *done = xcalloc((size_t)u->nnotes + 1, sizeof *done);
    for (int i = 0; i < n; i++) {
        const Func *f = rs[i].f;
        put_main_text(out, u, at, f->start, done, display);
        put_notes(out, u, f->end, f->start, done, display); /* starting in f: before f */
        if (rs[i].primary)
            put_primary(out, f, display);
        else
            put_original(out, f, display);
        at = f->end;
        /* Resynchronize: the function's text kept its lines, but the
        ** prototype and directives above it added some. */
        size_t eol = at;
        while (eol < u->main->len && t[eol] != '\n')
            eol++;
        buf_put(out, t + at, eol - at);
        at = eol;
        if (at < u->main->len)
            at++;
        buf_puts(out, "\n");
        if (rs[i].primary)
            put_func_name_end(out, f);
        if (at < u->main->len)
            put_line(out, (SrcLoc){u->main, at}, display);
    }
    put_main_text(out, u, at, u->main->len, done, display);
    free(done);
    free(rs);
}

/* put_prototypes: every mirror clone is declared before any is defined:
** clones call each other in any order. */
static void put_prototypes(Buf *out, const Unit *u, const char *display)
{
    for (int i = 0; i < u->nfuncs + u->nclones; i++) {
        const Func *f = i < u->nfuncs ? &u->funcs[i] : &u->clones[i - u->nfuncs];
        char *mirror = clone_name(f, "mirror");
        if (f->old_style) /* its calls convert as f's do: to f's prototype, if any */
            buf_printf(out, "%s__typeof__(%s) %s;\n",
                       f->static_by_macro ? "static " : clone_storage(f), f->name, mirror);
        else
            put_header(out, f, mirror, clone_storage(f), display_of(u, f, display), true);
        free(mirror);
    }
}

char *emit_unit(const Unit *u, const char *display)
{
    Buf out = {0};
    put_main(&out, u, display);
    if (!u->nfuncs && !u->nclones)
        return out.data ? out.data : xstrdup("");

    if (out.len && out.data[out.len - 1] != '\n')
        buf_puts(&out, "\n");
    buf_printf(&out, "\n/* ==== Generated by ptmcc from %s: mirrors, descriptors and "
                     "wrappers. ==== */\n", display);
    for (int i = 0; i < u->nnotes; i++)
        buf_printf(&out, "#undef %s\n", u->notes[i].name); /* a mirror's is its shim */
    put_generated_quiet(&out);
    buf_puts(&out, "#include <ptm_gen.h>\n#include <errno.h>\n#include <string.h>\n");
    for (int i = 0; i < u->nxtu; i++)
        put_xtu(&out, u->xtu[i]);
    put_prototypes(&out, u, display);
    for (int i = 0; i < u->nfuncs; i++)
        put_mirror(&out, u, &u->funcs[i], display);
    for (int i = 0; i < u->nclones; i++)
        put_mirror(&out, u, &u->clones[i], display);
    put_all_facts(&out, u, display);
    for (int i = 0; i < u->nfuncs; i++) {
        put_glue(&out, &u->funcs[i], display);
        put_annotation_macro_use(&out, &u->funcs[i]);
    }
    put_quiet_end(&out);
    return out.data;
}
