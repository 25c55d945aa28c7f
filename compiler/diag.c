/*
** diag.c - diagnostics that look like clang's, and "did you mean".
**
** Users read ptmcc's errors next to clang's, so the text format copies
** clang 19 byte for byte (without colour):
**
**   file.c:12:5: error: unknown key 'retires'; did you mean 'retry'?
**      12 |     .retires = 3,
**         |     ^~~~~~~~
**         |     retry
**
** Text diagnostics are printed at once (a driver that never calls
** diag_flush still shows them).  JSON diagnostics are collected and printed
** by diag_flush as one array.  In JSON a note is not an entry of its own: it
** goes into the "notes" array of the error or warning before it, the way
** SARIF and clang's serialized diagnostics nest them; a note with nothing
** before it is an entry.  A fix-it goes into the "fixits" array of the
** diagnostic printed last (note or not).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ptmcc.h"

static DiagFormat diag_format = DIAG_TEXT;
static FILE *diag_stream;
static int nerrors;

/* The line of the last text diagnostic, so a fix-it knows whether clang
** would show it (only under the caret's own line). */
static SrcLoc last_loc;
static bool have_last;

static json_t *json_all;    /* the array diag_flush prints */
static json_t *json_last;   /* the entry fix-its attach to (borrowed) */
static json_t *json_parent; /* the error or warning notes attach to */

static FILE *out(void)
{
    return diag_stream ? diag_stream : stderr;
}

/* diag_set_format: text (the default) or JSON from now on. */
void diag_set_format(DiagFormat f)
{
    diag_format = f;
}

/* diag_set_stream: where diagnostics go; NULL is stderr.  Not owned. */
void diag_set_stream(FILE *fp)
{
    diag_stream = fp;
}

/* diag_error_count: errors reported so far (warnings and notes not). */
int diag_error_count(void)
{
    return nerrors;
}

/* ---------------------------------------------------------------------
** Source lines
*/

static size_t line_start(const SrcFile *f, size_t off)
{
    while (off > 0 && f->text[off - 1] != '\n')
        off--;
    return off;
}

static size_t line_end(const SrcFile *f, size_t off)
{
    while (off < f->len && f->text[off] != '\n')
        off++;
    if (off > 0 && off <= f->len && f->text[off - 1] == '\r')
        off--;
    return off;
}

/* display_col: the screen column (0-based) of byte off in the line that
** starts at bol.  clang expands tabs to 8 columns and counts a UTF-8
** sequence as one column. */
static size_t display_col(const SrcFile *f, size_t bol, size_t off)
{
    size_t col = 0;
    for (size_t i = bol; i < off; i++) {
        unsigned char c = (unsigned char)f->text[i];
        if (c == '\t')
            col = (col / 8 + 1) * 8;
        else if ((c & 0xC0) != 0x80)
            col++;
    }
    return col;
}

static unsigned digits(unsigned n)
{
    unsigned d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* gutter_width: clang keeps line numbers right-aligned in at least four
** columns. */
static int gutter_width(unsigned line)
{
    unsigned d = digits(line);
    return (int)(d < 4 ? 4 : d);
}

static void print_source_line(const SrcFile *f, size_t bol, size_t eol, unsigned line)
{
    FILE *fp = out();
    fprintf(fp, " %*u | ", gutter_width(line), line);
    size_t col = 0;
    for (size_t i = bol; i < eol; i++) {
        if (f->text[i] == '\t') {
            size_t next = (col / 8 + 1) * 8;
            for (; col < next; col++)
                fputc(' ', fp);
            continue;
        }
        fputc(f->text[i], fp);
        if (((unsigned char)f->text[i] & 0xC0) != 0x80)
            col++;
    }
    fputc('\n', fp);
}

/* print_margin: the empty gutter of the lines under the source line. */
static void print_margin(unsigned line, size_t indent)
{
    FILE *fp = out();
    fprintf(fp, " %*s | ", gutter_width(line), "");
    for (size_t i = 0; i < indent; i++)
        fputc(' ', fp);
}

/* print_snippet: the source line of loc and a caret under it; a range
** longer than the line is cut at the line's end, as clang does. */
static void print_snippet(SrcLoc loc, size_t len)
{
    const SrcFile *f = loc.file;
    size_t off = loc.off < f->len ? loc.off : f->len;
    size_t bol = line_start(f, off);
    size_t eol = line_end(f, off);
    if (off > eol)
        off = eol;
    size_t end = len > 1 ? off + len : off + 1;
    if (end > eol)
        end = eol > off ? eol : off + 1;
    unsigned line, col;
    src_line_col((SrcLoc){loc.file, off}, &line, &col);

    print_source_line(f, bol, eol, line);
    size_t from = display_col(f, bol, off);
    size_t to = end <= eol ? display_col(f, bol, end) : from + 1;
    print_margin(line, from);
    FILE *fp = out();
    fputc('^', fp);
    for (size_t c = from + 1; c < to; c++)
        fputc('~', fp);
    fputc('\n', fp);
}

/* ---------------------------------------------------------------------
** Reporting
*/

static json_t *json_entry(const char *kind, SrcLoc loc, size_t len, const char *msg)
{
    unsigned line = 0, col = 0;
    if (loc.file)
        src_line_col(loc, &line, &col);
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "file", loc.file ? json_string(loc.file->path) : json_null());
    json_object_set_new(o, "line", json_integer(line));
    json_object_set_new(o, "column", json_integer(col));
    json_object_set_new(o, "length", json_integer((json_int_t)len));
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(o, "fixits", json_array());
    return o;
}

/* collect: files a JSON entry; notes nest under the diagnostic before. */
static void collect(const char *kind, SrcLoc loc, size_t len, const char *msg)
{
    if (!json_all)
        json_all = json_array();
    json_t *o = json_entry(kind, loc, len, msg);
    bool is_note = strcmp(kind, "note") == 0;
    if (is_note && json_parent) {
        json_t *notes = json_object_get(json_parent, "notes");
        if (!notes) {
            notes = json_array();
            json_object_set_new(json_parent, "notes", notes);
        }
        json_array_append_new(notes, o);
    } else {
        json_array_append_new(json_all, o);
        if (!is_note)
            json_parent = o;
    }
    json_last = o;
}

static void report(const char *kind, SrcLoc loc, size_t len, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    const char *text = msg ? msg : fmt;

    if (diag_format == DIAG_JSON) {
        collect(kind, loc, len, text);
    } else if (loc.file) {
        unsigned line, col;
        src_line_col(loc, &line, &col);
        fprintf(out(), "%s:%u:%u: %s: %s\n", loc.file->path, line, col, kind, text);
        print_snippet(loc, len);
        last_loc = loc;
        have_last = true;
    } else {
        fprintf(out(), "ptmcc: %s: %s\n", kind, text);
        have_last = false;
    }
    free(msg);
}

/* error_at: an error at loc spanning len bytes; counted. */
void error_at(SrcLoc loc, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("error", loc, len, fmt, ap);
    va_end(ap);
    nerrors++;
}

/* warning_at: a warning at loc spanning len bytes; not counted. */
void warning_at(SrcLoc loc, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("warning", loc, len, fmt, ap);
    va_end(ap);
}

/* note_at: a note on the diagnostic before it. */
void note_at(SrcLoc loc, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("note", loc, len, fmt, ap);
    va_end(ap);
}

/* error_plain: "ptmcc: error: ...", without a position; counted. */
void error_plain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("error", (SrcLoc){0}, 0, fmt, ap);
    va_end(ap);
    nerrors++;
}

/* same_line: whether two positions of one file are on one line. */
static bool same_line(SrcLoc a, SrcLoc b)
{
    if (a.file != b.file || !a.file)
        return false;
    size_t lo = a.off < b.off ? a.off : b.off;
    size_t hi = a.off < b.off ? b.off : a.off;
    if (hi > a.file->len)
        return false;
    return memchr(a.file->text + lo, '\n', hi - lo) == NULL;
}

/* fixit: replacement for [loc, loc + len) (len 0: an insertion), attached
** to the diagnostic printed last. */
void fixit(SrcLoc loc, size_t len, const char *replacement)
{
    if (diag_format == DIAG_JSON) {
        if (!json_last)
            return;
        unsigned line = 0, col = 0;
        if (loc.file)
            src_line_col(loc, &line, &col);
        json_t *f = json_object();
        json_object_set_new(f, "line", json_integer(line));
        json_object_set_new(f, "column", json_integer(col));
        json_object_set_new(f, "length", json_integer((json_int_t)len));
        json_object_set_new(f, "replacement", json_string(replacement));
        json_array_append_new(json_object_get(json_last, "fixits"), f);
        return;
    }
    /* clang shows a fix-it only under its own diagnostic's line, and shows
    ** nothing for a pure removal. */
    if (!have_last || !*replacement || !same_line(loc, last_loc))
        return;
    const SrcFile *f = loc.file;
    size_t off = loc.off < f->len ? loc.off : f->len;
    size_t bol = line_start(f, off);
    unsigned line, col;
    src_line_col((SrcLoc){loc.file, off}, &line, &col);
    print_margin(line, display_col(f, bol, off));
    fprintf(out(), "%s\n", replacement);
}

/* diag_flush: prints the JSON array collected so far and starts a new
** one; a no-op for text, which is printed at once. */
void diag_flush(void)
{
    if (diag_format != DIAG_JSON)
        return;
    if (!json_all)
        json_all = json_array();
    FILE *fp = out();
    json_dumpf(json_all, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', fp);
    fflush(fp);
    json_decref(json_all);
    json_all = json_last = json_parent = NULL;
}

/* ---------------------------------------------------------------------
** Did you mean
*/

/* edit_distance: Levenshtein distance (insert, delete, substitute) in
** bytes. */
unsigned edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    unsigned *row = xcalloc(m + 1, sizeof *row);
    for (size_t j = 0; j <= m; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= n; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= m; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    unsigned d = row[m];
    free(row);
    return d;
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

/* closest: the candidate nearest to word, or NULL.  It accepts a distance
** up to a third of the word, rounded up (and at least 1): rounding down
** would miss 'retires' -> 'retry' (distance 3 in 7 letters), the typo the
** design promises to catch.  A tie goes to the candidate sharing the longer
** prefix ('MB' is 'MiB', not 'B'), then to the one listed first. */
const char *closest(const char *word, const char *const *candidates, size_t n)
{
    size_t len = strlen(word);
    unsigned limit = (unsigned)((len + 2) / 3);
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    unsigned best_d = limit + 1;
    size_t best_prefix = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = edit_distance(word, candidates[i]);
        size_t prefix = common_prefix(word, candidates[i]);
        if (d < best_d || (d == best_d && best && prefix > best_prefix)) {
            best = candidates[i];
            best_d = d;
            best_prefix = prefix;
        }
    }
    return best;
}
