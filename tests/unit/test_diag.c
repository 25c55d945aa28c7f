/*
** test_diag.c - clang-style rendering, JSON output, did-you-mean.
**
** The expected texts are what clang-19 -fsyntax-only prints for a
** diagnostic at the same place (checked by hand against clang-19).
** Criterion runs each test in its own process, so the error count and the
** JSON array start empty in every test.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "ptmcc.h"

static char *out_buf;
static size_t out_len;
static FILE *out_fp;

static void capture(void)
{
    out_fp = open_memstream(&out_buf, &out_len);
    diag_set_stream(out_fp);
}

static void release(void)
{
    diag_set_stream(NULL);
    fclose(out_fp);
    free(out_buf);
}

/* output: what diag printed so far. */
static const char *output(void)
{
    fflush(out_fp);
    return out_buf ? out_buf : "";
}

TestSuite(diag, .init = capture, .fini = release);

static SrcFile *file(const char *text)
{
    return src_from_text("file.c", text);
}

/* at: the position of the first occurrence of s in f. */
static SrcLoc at(SrcFile *f, const char *s)
{
    const char *p = strstr(f->text, s);
    cr_assert(p, "'%s' not in the test file", s);
    return (SrcLoc){f, (size_t)(p - f->text)};
}

Test(diag, caret_under_a_single_byte)
{
    SrcFile *f = file("int f(void) {\n    int x = y;\n}\n");
    error_at(at(f, "y;"), 1, "use of undeclared identifier '%s'", "y");
    cr_assert_str_eq(output(),
                     "file.c:2:13: error: use of undeclared identifier 'y'\n"
                     "    2 |     int x = y;\n"
                     "      |             ^\n");
    cr_assert_eq(diag_error_count(), 1);
}

Test(diag, zero_length_is_a_caret)
{
    SrcFile *f = file("a b\n");
    error_at(at(f, "b"), 0, "here");
    cr_assert_str_eq(output(), "file.c:1:3: error: here\n"
                               "    1 | a b\n"
                               "      |   ^\n");
}

Test(diag, tildes_span_the_range_and_fixit_goes_below)
{
    SrcFile *f = file("PTM_TRANSACTION(\n    .retires = 3,\n)\n");
    error_at(at(f, "retires"), 7, "unknown key 'retires'; did you mean 'retry'?");
    fixit(at(f, "retires"), 7, "retry");
    cr_assert_str_eq(output(),
                     "file.c:2:6: error: unknown key 'retires'; did you mean 'retry'?\n"
                     "    2 |     .retires = 3,\n"
                     "      |      ^~~~~~~\n"
                     "      |      retry\n");
}

Test(diag, insertion_fixit_at_the_caret)
{
    SrcFile *f = file("int main(void){ return 0 }");
    SrcLoc loc = at(f, " }");
    error_at(loc, 0, "expected ';' after return statement");
    fixit(loc, 0, ";");
    cr_assert_str_eq(output(), "file.c:1:25: error: expected ';' after return statement\n"
                               "    1 | int main(void){ return 0 }\n"
                               "      |                         ^\n"
                               "      |                         ;\n");
}

Test(diag, fixit_on_another_line_is_not_drawn)
{
    SrcFile *f = file("a\nb\n");
    error_at(at(f, "a"), 1, "first");
    fixit(at(f, "b"), 1, "c");
    cr_assert_str_eq(output(), "file.c:1:1: error: first\n"
                               "    1 | a\n"
                               "      | ^\n");
}

Test(diag, tabs_expand_to_eight_columns_but_column_counts_bytes)
{
    SrcFile *f = file("struct S s;\n\tint z = retyr;\n");
    error_at(at(f, "retyr"), 5, "use of undeclared identifier 'retyr'; did you mean 'return'?");
    fixit(at(f, "retyr"), 5, "return");
    cr_assert_str_eq(output(),
                     "file.c:2:10: error: use of undeclared identifier 'retyr'; did you mean "
                     "'return'?\n"
                     "    2 |         int z = retyr;\n"
                     "      |                 ^~~~~\n"
                     "      |                 return\n");
}

Test(diag, range_is_cut_at_the_end_of_the_line)
{
    SrcFile *f = file("x = (a +\n     b);\n");
    error_at(at(f, "(a"), 12, "spans lines");
    cr_assert_str_eq(output(), "file.c:1:5: error: spans lines\n"
                               "    1 | x = (a +\n"
                               "      |     ^~~~\n");
}

Test(diag, gutter_grows_past_four_digits)
{
    Buf b = {0};
    for (int i = 0; i < 12000; i++)
        buf_puts(&b, "\n");
    buf_puts(&b, "int x = y;\n");
    SrcFile *f = file(b.data);
    buf_free(&b);
    error_at(at(f, "y;"), 1, "use of undeclared identifier 'y'");
    cr_assert_str_eq(output(), "file.c:12001:9: error: use of undeclared identifier 'y'\n"
                               " 12001 | int x = y;\n"
                               "       |         ^\n");
}

Test(diag, notes_and_warnings_do_not_count_as_errors)
{
    SrcFile *f = file("int x;\nint x;\n");
    SrcLoc second = {f, 11};
    SrcLoc first = {f, 4};
    warning_at(W_STATIC_COPY, second, 1, "redefinition of 'x'");
    note_at(first, 1, "previous definition is here");
    cr_assert_str_eq(output(), "file.c:2:5: warning: redefinition of 'x' [-Wptm-static-copy]\n"
                               "    2 | int x;\n"
                               "      |     ^\n"
                               "file.c:1:5: note: previous definition is here\n"
                               "    1 | int x;\n"
                               "      |     ^\n");
    cr_assert_eq(diag_error_count(), 0);
}

Test(diag, error_plain_has_no_position)
{
    error_plain("no such file or directory: '%s'", "nonexist.c");
    cr_assert_str_eq(output(), "ptmcc: error: no such file or directory: 'nonexist.c'\n");
    cr_assert_eq(diag_error_count(), 1);
}

Test(diag, position_at_end_of_file_without_newline)
{
    SrcFile *f = file("abc");
    error_at((SrcLoc){f, 3}, 0, "expected '}'");
    cr_assert_str_eq(output(), "file.c:1:4: error: expected '}'\n"
                               "    1 | abc\n"
                               "      |    ^\n");
}

/* ---------------------------------------------------------------------
** The error limit and long lines
*/

/* count_of: how many times needle occurs in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static json_t *flushed_json(void);

static const char fatal[] = "fatal error: too many errors emitted, stopping now [-ferror-limit=]\n";

Test(diag, twenty_errors_then_clangs_fatal_error_then_silence)
{
    SrcFile *f = file("int x = y;\n");
    for (int i = 0; i < 25; i++) {
        error_at(at(f, "y"), 1, "error %d", i);
        note_at(at(f, "x"), 1, "note %d", i);
        fixit(at(f, "y"), 1, "z");
    }
    warning_at(W_STATIC_COPY, at(f, "x"), 1, "a warning after the limit");
    error_plain("a plain error after the limit");
    const char *o = output();
    cr_assert_eq(count_of(o, ": error: "), 20, "%s", o);
    cr_assert_eq(count_of(o, ": note: "), 20, "the notes of shown errors only:\n%s", o);
    cr_assert(strstr(o, "file.c:1:9: error: error 19\n"));
    cr_assert_null(strstr(o, "error 20"));
    cr_assert_null(strstr(o, "after the limit"));
    size_t n = strlen(o);
    cr_assert(n > sizeof fatal && strcmp(o + n - (sizeof fatal - 1), fatal) == 0,
              "the fatal error comes last, once:\n%s", o);
    cr_assert_eq(diag_error_count(), 21, "clang counts the fatal error too");
}

Test(diag, ferror_limit_sets_the_limit_and_zero_lifts_it)
{
    SrcFile *f = file("int x = y;\n");
    cr_assert_eq(diag_option("-ferror-limit=3"), DIAG_OPT_SHARED);
    for (int i = 0; i < 5; i++)
        error_at(at(f, "y"), 1, "error %d", i);
    cr_assert_eq(count_of(output(), ": error: "), 3, "%s", output());
    cr_assert_eq(count_of(output(), fatal), 1);
    cr_assert_eq(diag_error_count(), 4);
}

Test(diag, ferror_limit_zero_is_no_limit)
{
    SrcFile *f = file("int x = y;\n");
    diag_option("-ferror-limit=0");
    for (int i = 0; i < 500; i++)
        error_at(at(f, "y"), 1, "error %d", i);
    cr_assert_eq(count_of(output(), ": error: "), 500);
    cr_assert_eq(count_of(output(), "fatal error"), 0);
}

Test(diag, gccs_fmax_errors_is_the_limit_too)
{
    SrcFile *f = file("int x = y;\n");
    diag_option("-fmax-errors=2");
    diag_option("-ferror-limit=zero"); /* no count: the backend's to reject */
    for (int i = 0; i < 5; i++)
        error_at(at(f, "y"), 1, "error %d", i);
    cr_assert_eq(count_of(output(), ": error: "), 2, "%s", output());
}

Test(diag, warnings_made_errors_count_toward_the_limit)
{
    SrcFile *f = file("int x = y;\n");
    diag_option("-ferror-limit=2");
    diag_option("-Werror=ptm");
    for (int i = 0; i < 4; i++)
        warning_at(W_UNKNOWN_EXTERNAL, at(f, "y"), 1, "w %d", i);
    cr_assert_eq(count_of(output(), ": error: "), 2, "%s", output());
    cr_assert_eq(count_of(output(), fatal), 1);
}

/* A line of 40,000 bytes with 20,000 errors in it, without a limit: clang
** prints no line longer than 4096 bytes, so each error is one short line
** and the output grows with the errors, not with errors times the line. */
Test(diag, a_line_too_long_is_not_printed_and_the_cost_stays_linear, .timeout = 20)
{
    size_t n = 40000;
    char *text = malloc(n + 2);
    memset(text, 'q', n);
    strcpy(text + n, "\n");
    SrcFile *f = file(text);
    free(text);
    diag_option("-ferror-limit=0");
    for (size_t i = 0; i < 20000; i++)
        error_at((SrcLoc){f, i * 2}, 2, "unknown escape sequence");
    const char *o = output();
    cr_assert_eq(count_of(o, ": error: "), 20000);
    cr_assert_lt(strlen(o), (size_t)20000 * 64, "no source line under the errors");
    const char *start = "file.c:1:1: error: unknown escape sequence\nfile.c:1:3: ";
    cr_assert(strncmp(o, start, strlen(start)) == 0, "%.200s", o);
}

Test(diag, a_line_of_4096_bytes_is_still_printed)
{
    char text[4100];
    memset(text, 'a', 4096);
    strcpy(text + 4096, "\n");
    SrcFile *f = file(text);
    error_at((SrcLoc){f, 4095}, 1, "here");
    cr_assert_eq(count_of(output(), "\n"), 3, "message, line, caret");
}

/* ---------------------------------------------------------------------
** Warning groups and the command line
*/

Test(diag, a_warning_names_its_group_as_clang_does)
{
    SrcFile *f = file("f();\n");
    warning_at(W_UNKNOWN_EXTERNAL, (SrcLoc){f, 0}, 1, "call to unknown external 'f'");
    cr_assert_str_eq(output(), "file.c:1:1: warning: call to unknown external 'f' "
                               "[-Wptm-unknown-external]\n"
                               "    1 | f();\n"
                               "      | ^\n");
    cr_assert_eq(diag_error_count(), 0);
}

/* A -Werror build keeps building when ptmcc is put in: plain -Werror is
** the backend's. */
Test(diag, plain_werror_leaves_ptm_warnings_warnings)
{
    SrcFile *f = file("f();\n");
    cr_assert_eq(diag_option("-Werror"), DIAG_OPT_NONE);
    warning_at(W_UNKNOWN_EXTERNAL, (SrcLoc){f, 0}, 1, "still a warning");
    cr_assert(strstr(output(), "warning: still a warning [-Wptm-unknown-external]\n"), "%s",
              output());
    cr_assert_eq(diag_error_count(), 0);
}

Test(diag, werror_ptm_makes_every_group_an_error)
{
    SrcFile *f = file("f();\n");
    cr_assert_eq(diag_option("-Werror=ptm"), DIAG_OPT_OWN);
    warning_at(W_FUNCTION_POINTER, (SrcLoc){f, 0}, 1, "call through a function pointer");
    cr_assert_str_eq(output(), "file.c:1:1: error: call through a function pointer "
                               "[-Werror,-Wptm-function-pointer]\n"
                               "    1 | f();\n"
                               "      | ^\n");
    cr_assert_eq(diag_error_count(), 1);
}

Test(diag, wno_error_of_a_group_keeps_it_a_warning_under_werror_ptm)
{
    SrcFile *f = file("f();\n");
    diag_option("-Werror=ptm");
    cr_assert_eq(diag_option("-Wno-error=ptm-unknown-external"), DIAG_OPT_OWN);
    warning_at(W_UNKNOWN_EXTERNAL, (SrcLoc){f, 0}, 1, "kept");
    warning_at(W_STATIC_COPY, (SrcLoc){f, 0}, 1, "promoted");
    cr_assert(strstr(output(), "warning: kept [-Wptm-unknown-external]\n"), "%s", output());
    cr_assert(strstr(output(), "error: promoted [-Werror,-Wptm-static-copy]\n"), "%s", output());
    cr_assert_eq(diag_error_count(), 1);
}

Test(diag, wno_group_silences_the_warning_its_notes_and_fixits)
{
    SrcFile *f = file("f();\n");
    cr_assert_eq(diag_option("-Wno-ptm-static-copy"), DIAG_OPT_OWN);
    warning_at(W_STATIC_COPY, (SrcLoc){f, 0}, 1, "silenced");
    note_at((SrcLoc){f, 0}, 1, "its note");
    fixit((SrcLoc){f, 0}, 1, "g");
    cr_assert_str_eq(output(), "");
    warning_at(W_UNVERIFIABLE, (SrcLoc){f, 0}, 1, "another group");
    note_at((SrcLoc){f, 0}, 1, "its note");
    cr_assert(strstr(output(), "warning: another group [-Wptm-unverifiable]\n"));
    cr_assert(strstr(output(), "note: its note\n"));
}

Test(diag, w_silences_everything_even_werror_of_a_group)
{
    SrcFile *f = file("f();\n");
    diag_option("-Werror=ptm-uncloneable");
    cr_assert_eq(diag_option("-w"), DIAG_OPT_SHARED);
    for (int g = 0; g < DIAG_NGROUPS; g++)
        warning_at((DiagGroup)g, (SrcLoc){f, 0}, 1, "silenced");
    diag_option("-Wptm-unknown-extern");
    cr_assert_str_eq(output(), "");
    cr_assert_eq(diag_error_count(), 0);
}

Test(diag, werror_of_a_group_alone_and_the_last_flag_wins)
{
    SrcFile *f = file("f();\n");
    diag_option("-Werror=ptm-uncloneable");
    warning_at(W_UNCLONEABLE, (SrcLoc){f, 0}, 1, "one");
    warning_at(W_STATIC_COPY, (SrcLoc){f, 0}, 1, "two");
    diag_option("-Wno-ptm-uncloneable");
    warning_at(W_UNCLONEABLE, (SrcLoc){f, 0}, 1, "three");
    diag_option("-Wptm-uncloneable");
    diag_option("-Wno-error=ptm-uncloneable");
    warning_at(W_UNCLONEABLE, (SrcLoc){f, 0}, 1, "four");
    const char *o = output();
    cr_assert(strstr(o, "error: one [-Werror,-Wptm-uncloneable]"), "%s", o);
    cr_assert(strstr(o, "warning: two [-Wptm-static-copy]"), "%s", o);
    cr_assert_null(strstr(o, "three"), "%s", o);
    cr_assert(strstr(o, "warning: four [-Wptm-uncloneable]"), "%s", o);
    cr_assert_eq(diag_error_count(), 1);
}

Test(diag, wno_ptm_is_every_group_and_wno_error_lifts_werror)
{
    SrcFile *f = file("f();\n");
    diag_option("-Werror=ptm");
    diag_option("-Wno-error=ptm");
    warning_at(W_STATIC_COPY, (SrcLoc){f, 0}, 1, "a warning again");
    cr_assert(strstr(output(), "warning: a warning again"), "%s", output());
    cr_assert_eq(diag_option("-Wno-ptm"), DIAG_OPT_OWN);
    size_t before = strlen(output());
    for (int g = 0; g < DIAG_NGROUPS; g++)
        warning_at((DiagGroup)g, (SrcLoc){f, 0}, 1, "silenced");
    cr_assert_eq(strlen(output()), before);
}

Test(diag, flags_that_are_not_ptms_are_left_alone)
{
    cr_assert_eq(diag_option("-Wall"), DIAG_OPT_NONE);
    cr_assert_eq(diag_option("-Wno-unused"), DIAG_OPT_NONE);
    cr_assert_eq(diag_option("-Werror=unused-variable"), DIAG_OPT_NONE);
    cr_assert_eq(diag_option("-Wptmfoo"), DIAG_OPT_NONE);
    cr_assert_eq(diag_option("-Wl,-z,now"), DIAG_OPT_NONE);
    cr_assert_str_eq(output(), "");
}

Test(diag, an_unknown_ptm_group_is_warned_about_with_the_nearest)
{
    cr_assert_eq(diag_option("-Wno-ptm-unknown-extern"), DIAG_OPT_OWN);
    cr_assert_str_eq(output(), "ptmcc: warning: unknown warning option '-Wno-ptm-unknown-extern'; "
                               "did you mean '-Wno-ptm-unknown-external'? "
                               "[-Wunknown-warning-option]\n");
}

Test(diag, json_names_the_option_and_the_fatal_error)
{
    SrcFile *f = file("f();\n");
    diag_set_format(DIAG_JSON);
    diag_option("-ferror-limit=1");
    diag_option("-Werror=ptm-static-copy");
    warning_at(W_UNKNOWN_EXTERNAL, (SrcLoc){f, 0}, 1, "w");
    warning_at(W_STATIC_COPY, (SrcLoc){f, 0}, 1, "e");
    error_at((SrcLoc){f, 0}, 1, "past the limit");
    json_t *j = flushed_json();
    cr_assert_eq(json_array_size(j), 3, "%s", output());
    json_t *w = json_array_get(j, 0), *e = json_array_get(j, 1), *x = json_array_get(j, 2);
    cr_assert_str_eq(json_string_value(json_object_get(w, "kind")), "warning");
    cr_assert_str_eq(json_string_value(json_object_get(w, "option")), "-Wptm-unknown-external");
    cr_assert_str_eq(json_string_value(json_object_get(e, "kind")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "option")), "-Wptm-static-copy");
    cr_assert_str_eq(json_string_value(json_object_get(x, "kind")), "fatal error");
    cr_assert_str_eq(json_string_value(json_object_get(x, "option")), "-ferror-limit=");
    json_decref(j);
}

/* ---------------------------------------------------------------------
** JSON
*/

static json_t *flushed_json(void)
{
    diag_flush();
    json_error_t e;
    json_t *j = json_loads(output(), 0, &e);
    cr_assert(j, "diag_flush printed invalid JSON: %s\n%s", e.text, output());
    return j;
}

Test(diag, json_collects_errors_with_fixits_and_nested_notes)
{
    SrcFile *f = file("PTM_TRANSACTION(\n    .retires = 3,\n    .retires = 4)\n");
    diag_set_format(DIAG_JSON);
    error_at(at(f, "retires"), 7, "unknown key 'retires'; did you mean 'retry'?");
    fixit(at(f, "retires"), 7, "retry");
    SrcLoc second = {f, (size_t)(strstr(f->text, "4)") - f->text)};
    error_at(second, 1, "duplicate key");
    note_at(at(f, "3,"), 1, "previous value is here");
    cr_assert_str_eq(output(), "", "JSON waits for diag_flush");
    cr_assert_eq(diag_error_count(), 2);

    json_t *j = flushed_json();
    cr_assert(json_is_array(j));
    cr_assert_eq(json_array_size(j), 2, "the note nests under its error");

    json_t *e = json_array_get(j, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "kind")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "file")), "file.c");
    cr_assert_eq(json_integer_value(json_object_get(e, "line")), 2);
    cr_assert_eq(json_integer_value(json_object_get(e, "column")), 6);
    cr_assert_eq(json_integer_value(json_object_get(e, "length")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")),
                     "unknown key 'retires'; did you mean 'retry'?");
    json_t *fx = json_object_get(e, "fixits");
    cr_assert_eq(json_array_size(fx), 1);
    json_t *fix = json_array_get(fx, 0);
    cr_assert_eq(json_integer_value(json_object_get(fix, "line")), 2);
    cr_assert_eq(json_integer_value(json_object_get(fix, "column")), 6);
    cr_assert_eq(json_integer_value(json_object_get(fix, "length")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(fix, "replacement")), "retry");
    cr_assert_null(json_object_get(e, "notes"));

    json_t *d = json_array_get(j, 1);
    cr_assert_eq(json_integer_value(json_object_get(d, "line")), 3);
    cr_assert_eq(json_integer_value(json_object_get(d, "column")), 16);
    json_t *notes = json_object_get(d, "notes");
    cr_assert_eq(json_array_size(notes), 1);
    json_t *n = json_array_get(notes, 0);
    cr_assert_str_eq(json_string_value(json_object_get(n, "kind")), "note");
    cr_assert_eq(json_integer_value(json_object_get(n, "line")), 2);
    cr_assert_eq(json_integer_value(json_object_get(n, "column")), 16);
    cr_assert_str_eq(json_string_value(json_object_get(n, "message")), "previous value is here");
    json_decref(j);
}

Test(diag, json_plain_error_and_lone_note)
{
    diag_set_format(DIAG_JSON);
    SrcFile *f = file("x\n");
    note_at((SrcLoc){f, 0}, 1, "a note with nothing before it");
    error_plain("cannot read '%s'", "a.c");
    json_t *j = flushed_json();
    cr_assert_eq(json_array_size(j), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "kind")), "note");
    json_t *e = json_array_get(j, 1);
    cr_assert(json_is_null(json_object_get(e, "file")));
    cr_assert_eq(json_integer_value(json_object_get(e, "line")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")), "cannot read 'a.c'");
    json_decref(j);
}

Test(diag, json_flush_with_nothing_prints_an_empty_array)
{
    diag_set_format(DIAG_JSON);
    diag_flush();
    cr_assert_str_eq(output(), "[]\n");
}

Test(diag, text_flush_prints_nothing)
{
    diag_flush();
    cr_assert_str_eq(output(), "");
}

/* ---------------------------------------------------------------------
** Did you mean
*/

Test(diag, edit_distance_is_levenshtein)
{
    cr_assert_eq(edit_distance("", ""), 0);
    cr_assert_eq(edit_distance("", "abc"), 3);
    cr_assert_eq(edit_distance("abc", ""), 3);
    cr_assert_eq(edit_distance("retry", "retry"), 0);
    cr_assert_eq(edit_distance("kitten", "sitting"), 3);
    cr_assert_eq(edit_distance("retires", "retry"), 3);
    cr_assert_eq(edit_distance("MB", "MiB"), 1);
    cr_assert_eq(edit_distance("forks", "fork"), 1);
    cr_assert_eq(edit_distance("ab", "ba"), 2, "a swap is two edits");
    cr_assert_eq(edit_distance("flaw", "lawn"), 2);
}

static const char *const keys[] = {
    "transaction_id", "failure_prediction_enabled", "alternative_paths",
    "resource_requirements", "success_criteria", "retry", "timeout", "threshold",
    "mirror", "rules", "snapshot", "gate",
};

Test(diag, closest_finds_near_keys)
{
    size_t n = sizeof keys / sizeof *keys;
    cr_assert_str_eq(closest("retires", keys, n), "retry");
    cr_assert_str_eq(closest("timout", keys, n), "timeout");
    cr_assert_str_eq(closest("treshold", keys, n), "threshold");
    cr_assert_str_eq(closest("alternate_paths", keys, n), "alternative_paths");
    cr_assert_str_eq(closest("rule", keys, n), "rules");
    cr_assert_str_eq(closest("mirror", keys, n), "mirror");
}

Test(diag, closest_refuses_far_words)
{
    size_t n = sizeof keys / sizeof *keys;
    cr_assert_null(closest("memory", keys, n));
    cr_assert_null(closest("x", keys, n));
    cr_assert_null(closest("banana", keys, n));
    cr_assert_null(closest("anything", keys, 0));
}

Test(diag, closest_allows_one_edit_in_short_words_and_breaks_ties_by_prefix)
{
    static const char *const units[] = {"us", "ms", "s"};
    cr_assert_str_eq(closest("ns", units, 3), "us", "us and ms tie with no shared prefix: the first wins");
    cr_assert_str_eq(closest("S", units, 3), "s");
    cr_assert_null(closest("sec", units, 3), "two edits in three letters is too many");
    static const char *const sizes[] = {"B", "KiB", "MiB", "GiB"};
    cr_assert_str_eq(closest("MB", sizes, 4), "MiB", "ties with 'B'; shares the 'M'");
    cr_assert_str_eq(closest("GB", sizes, 4), "GiB");
}
