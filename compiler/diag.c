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
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ptmcc.h"

static DiagFormat diag_format = DIAG_TEXT;
static FILE *diag_stream;
static int nerrors;

/* What the command line made of the warnings (see diag_option). */
typedef enum { ERR_DEFAULT, ERR_ON, ERR_OFF } ErrState;
static const char *const group_names[DIAG_NGROUPS] = {
    [W_UNKNOWN_EXTERNAL] = "ptm-unknown-external",
    [W_FUNCTION_POINTER] = "ptm-function-pointer",
    [W_UNCLONEABLE] = "ptm-uncloneable",
    [W_STATIC_COPY] = "ptm-static-copy",
    [W_UNVERIFIABLE] = "ptm-unverifiable",
    [W_UNNOTED] = "ptm-unnoted",
};
static bool group_off[DIAG_NGROUPS];
static ErrState group_err[DIAG_NGROUPS];
static bool all_warnings_off; /* -w */

/* clang's default -ferror-limit; 0: no limit.  Past it, one fatal error
** and silence: the cost of a thousand errors is then the cost of twenty. */
static int error_limit = 20;
static bool stopped;

/* Whether the notes and fix-its that follow belong to a diagnostic that
** was not shown (a silenced warning, anything after the limit). */
static bool hidden;

/* clang prints no source line longer than this: a line of megabytes
** repeated under each of its errors is what made the output quadratic. */
enum { MAX_LINE_TO_PRINT = 4096 };

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

/* line_start: the offset of the first byte of off's line, found in the
** file's line index: a diagnostic costs the same on a line of megabytes. */
static size_t line_start(const SrcFile *f, size_t off)
{
    unsigned line, col;
    src_line_col((SrcLoc){(SrcFile *)f, off}, &line, &col);
    return off - (col - 1);
}

/* line_end: the offset of off's line's end (its '\n', or a '\r' before
** it, or the end of the file). */
static size_t line_end(const SrcFile *f, size_t off)
{
    unsigned line, col;
    src_line_col((SrcLoc){(SrcFile *)f, off}, &line, &col);
    size_t end = line < f->nlines ? f->lines[line] - 1 : f->len;
    if (end > 0 && f->text[end - 1] == '\r')
        end--;
    return end;
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

static void print_source_line(Buf *b, const SrcFile *f, size_t bol, size_t eol,
                              unsigned line)
{
    buf_printf(b, " %*u | ", gutter_width(line), line);
    size_t col = 0;
    for (size_t i = bol; i < eol; i++) {
        if (f->text[i] == '\t') {
            size_t next = (col / 8 + 1) * 8;
            for (; col < next; col++)
                buf_put(b, " ", 1);
            continue;
        }
        buf_put(b, &f->text[i], 1);
        if (((unsigned char)f->text[i] & 0xC0) != 0x80)
            col++;
    }
    buf_put(b, "\n", 1);
}

/* print_margin: the empty gutter of the lines under the source line. */
static void print_margin(Buf *b, unsigned line, size_t indent)
{
    buf_printf(b, " %*s | ", gutter_width(line), "");
    for (size_t i = 0; i < indent; i++)
        buf_put(b, " ", 1);
}

/* print_snippet: the source line of loc and a caret under it; a range
** longer than the line is cut at the line's end, as clang does.  Returns
** false, printing nothing, for a line too long to print. */
static bool print_snippet(Buf *b, SrcLoc loc, size_t len)
{
    const SrcFile *f = loc.file;
    size_t off = loc.off < f->len ? loc.off : f->len;
    size_t bol = line_start(f, off);
    size_t eol = line_end(f, off);
    if (eol - bol > MAX_LINE_TO_PRINT)
        return false;
    if (off > eol)
        off = eol;
    size_t end = len > 1 ? off + len : off + 1;
    if (end > eol)
        end = eol > off ? eol : off + 1;
    unsigned line, col;
    src_line_col((SrcLoc){loc.file, off}, &line, &col);

    print_source_line(b, f, bol, eol, line);
    size_t from = display_col(f, bol, off);
    size_t to = end <= eol ? display_col(f, bol, end) : from + 1;
    print_margin(b, line, from);
    buf_put(b, "^", 1);
    for (size_t c = from + 1; c < to; c++)
        buf_put(b, "~", 1);
    buf_put(b, "\n", 1);
    return true;
}

/* emit: writes b out in one piece (stderr is unbuffered: a byte at a
** time it was a system call per byte) and frees it. */
static void emit(Buf *b)
{
    if (b->len) {
        FILE *fp = out();
        fwrite(b->data, 1, b->len, fp);
        fflush(fp);
    }
    buf_free(b);
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

/* collect: files a JSON entry; notes nest under the diagnostic before.
** option: the -W flag that controls it ("-Wptm-static-copy"), or NULL. */
static void collect(const char *kind, SrcLoc loc, size_t len, const char *msg,
                    const char *option)
{
    if (!json_all)
        json_all = json_array();
    json_t *o = json_entry(kind, loc, len, msg);
    if (option)
        json_object_set_new(o, "option", json_string(option));
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

/* report: prints one diagnostic.  flag: what clang shows in brackets after
** the message ("-Wptm-static-copy", "-Werror,-Wptm-static-copy"), or NULL. */
static void report(const char *kind, SrcLoc loc, size_t len, const char *flag, const char *fmt,
                   va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    const char *text = msg ? msg : fmt;

    if (diag_format == DIAG_JSON) {
        const char *comma = flag ? strrchr(flag, ',') : NULL;
        collect(kind, loc, len, text, comma ? comma + 1 : flag);
    } else {
        Buf b = {0};
        if (loc.file) {
            unsigned line, col;
            src_line_col(loc, &line, &col);
            buf_printf(&b, "%s:%u:%u: %s: %s", loc.file->path, line, col, kind, text);
        } else {
            buf_printf(&b, "ptmcc: %s: %s", kind, text);
        }
        if (flag)
            buf_printf(&b, " [%s]", flag);
        buf_put(&b, "\n", 1);
        have_last = loc.file && print_snippet(&b, loc, len);
        last_loc = loc;
        emit(&b);
    }
    free(msg);
}

/* too_many_errors: whether the error about to be reported passes the
** limit.  The first time, clang's fatal error says so, and everything
** after it is silent. */
static bool too_many_errors(void)
{
    if (stopped)
        return true;
    if (error_limit == 0 || nerrors < error_limit)
        return false;
    stopped = true;
    nerrors++;
    if (diag_format == DIAG_JSON) {
        collect("fatal error", (SrcLoc){0}, 0, "too many errors emitted, stopping now",
                "-ferror-limit=");
    } else {
        Buf b = {0};
        buf_puts(&b, "fatal error: too many errors emitted, stopping now [-ferror-limit=]\n");
        emit(&b);
    }
    have_last = false;
    return true;
}

/* error_at: an error at loc spanning len bytes; counted. */
void error_at(SrcLoc loc, size_t len, const char *fmt, ...)
{
    hidden = too_many_errors();
    if (hidden)
        return;
    va_list ap;
    va_start(ap, fmt);
    report("error", loc, len, NULL, fmt, ap);
    va_end(ap);
    nerrors++;
}

/* warning_at: a warning of group g at loc spanning len bytes, as the
** command line wants it: silent, a warning (not counted), or an error
** (counted, and under the error limit). */
void warning_at(DiagGroup g, SrcLoc loc, size_t len, const char *fmt, ...)
{
    bool as_error = !all_warnings_off && !group_off[g] && group_err[g] == ERR_ON;
    hidden = all_warnings_off || group_off[g] || stopped || (as_error && too_many_errors());
    if (hidden)
        return;
    char flag[64];
    snprintf(flag, sizeof flag, "%s-W%s", as_error ? "-Werror," : "", group_names[g]);
    va_list ap;
    va_start(ap, fmt);
    report(as_error ? "error" : "warning", loc, len, flag, fmt, ap);
    va_end(ap);
    nerrors += as_error;
}

/* note_at: a note on the diagnostic before it (silent when that was). */
void note_at(SrcLoc loc, size_t len, const char *fmt, ...)
{
    if (hidden)
        return;
    va_list ap;
    va_start(ap, fmt);
    report("note", loc, len, NULL, fmt, ap);
    va_end(ap);
}

/* error_plain: "ptmcc: error: ...", without a position; counted. */
void error_plain(const char *fmt, ...)
{
    hidden = too_many_errors();
    if (hidden)
        return;
    va_list ap;
    va_start(ap, fmt);
    report("error", (SrcLoc){0}, 0, NULL, fmt, ap);
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
    if (hidden)
        return;
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
    Buf b = {0};
    print_margin(&b, line, display_col(f, bol, off));
    buf_printf(&b, "%s\n", replacement);
    emit(&b);
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
** Command-line flags
*/

/* group_of: the groups a -W name selects.  "ptm" is every group.
** OUT: *from, *to (a range of DiagGroup).  Returns false for no group. */
static bool group_of(const char *name, int *from, int *to)
{
    if (strcmp(name, "ptm") == 0) {
        *from = 0;
        *to = DIAG_NGROUPS;
        return true;
    }
    for (int g = 0; g < DIAG_NGROUPS; g++) {
        if (strcmp(name, group_names[g]) == 0) {
            *from = g;
            *to = g + 1;
            return true;
        }
    }
    return false;
}

/* unknown_group: clang's warning for a -W name it does not know, with
** the nearest ptm group.  flag: the whole flag, name: the group in it. */
static void unknown_group(const char *flag, const char *name)
{
    const char *near = closest(name, group_names, DIAG_NGROUPS);
    char *msg = near ? format("unknown warning option '%s'; did you mean '%.*s%s'?", flag,
                              (int)(name - flag), flag, near)
                     : format("unknown warning option '%s'", flag);
    hidden = all_warnings_off;
    if (!hidden) {
        Buf b = {0};
        buf_printf(&b, "ptmcc: warning: %s [-Wunknown-warning-option]\n", msg);
        emit(&b);
    }
    free(msg);
}

/* set_limit: -ferror-limit=N and gcc's -fmax-errors=N; a value that is no
** count is left to the backend to reject. */
static void set_limit(const char *value)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (end != value && !*end && errno == 0 && n >= 0 && n <= INT_MAX)
        error_limit = (int)n;
}

/* diag_option: see ptmcc.h. */
DiagOption diag_option(const char *a)
{
    int from, to;
    if (strcmp(a, "-w") == 0) {
        all_warnings_off = true;
        return DIAG_OPT_SHARED;
    }
    if (strncmp(a, "-ferror-limit=", 14) == 0 || strncmp(a, "-fmax-errors=", 13) == 0) {
        set_limit(strchr(a, '=') + 1);
        return DIAG_OPT_SHARED;
    }
    bool error = strncmp(a, "-Werror=", 8) == 0;
    bool no_error = strncmp(a, "-Wno-error=", 11) == 0;
    bool no = !no_error && strncmp(a, "-Wno-", 5) == 0;
    const char *name = error ? a + 8 : no_error ? a + 11 : no ? a + 5 : a + 2;
    if (strncmp(a, "-W", 2) != 0 || strncmp(name, "ptm", 3) != 0 ||
        (name[3] && name[3] != '-'))
        return DIAG_OPT_NONE;
    if (!group_of(name, &from, &to)) {
        unknown_group(a, name);
        return DIAG_OPT_OWN;
    }
    for (int g = from; g < to; g++) {
        if (error)
            group_err[g] = ERR_ON;
        else if (no_error)
            group_err[g] = ERR_OFF;
        /* -Werror=x turns x on, as -Wx does; -Wno-error=x leaves it be */
        if (!no_error)
            group_off[g] = no;
    }
    return DIAG_OPT_OWN;
}

/* diag_group_name: the -W name of group g, without "-W". */
const char *diag_group_name(DiagGroup g)
{
    return group_names[g];
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
