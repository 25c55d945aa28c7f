/*
** test_meta.c - the annotation language: parsing, checks, defaults,
** positions, success_criteria as C, and hostile input.
**
** Each test writes a small C source holding PTM_TRANSACTION(...), makes the
** annotation text from it the way the preprocessor's # does, and aligns the
** two with annot_map_source, as front.c does; so the line:col in every
** expected diagnostic is a position in that source.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ptmcc.h"

static char *out_buf;
static size_t out_len;
static FILE *out_fp;
static Annot A;
static Meta M;

/* reset: forgets the last run_as, for tests that run several. */
static void reset(void)
{
    meta_free(&M);
    free(A.text);
    free(A.map);
    A = (Annot){0};
}

static void setup(void)
{
    out_fp = open_memstream(&out_buf, &out_len);
    diag_set_stream(out_fp);
    /* the hostile tests count every error of thousands of inputs */
    diag_option("-ferror-limit=0");
}

static void teardown(void)
{
    reset();
    diag_set_stream(NULL);
    fclose(out_fp);
    free(out_buf);
}

TestSuite(meta, .init = setup, .fini = teardown);

static const char *output(void)
{
    fflush(out_fp);
    return out_buf ? out_buf : "";
}

/* ---------------------------------------------------------------------
** Helpers
*/

/* stringify: what `#__VA_ARGS__` makes of src[0..n): comments and
** backslash-newlines gone, each run of whitespace one space, none at the
** ends; string literals untouched. */
static char *stringify(const char *s, size_t n)
{
    Buf b = {0};
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            i = (size_t)(strstr(s + i + 2, "*/") - s) + 1;
            space = true;
            continue;
        }
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\n') {
            i++;
            continue;
        }
        if (strchr(" \t\n", s[i])) {
            space = true;
            continue;
        }
        if (space && b.len)
            buf_put(&b, " ", 1);
        space = false;
        if (s[i] == '"') {
            size_t j = i + 1;
            while (s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            buf_put(&b, s + i, j + 1 - i);
            i = j;
            continue;
        }
        buf_put(&b, s + i, 1);
    }
    if (!b.data)
        buf_puts(&b, "");
    return b.data;
}

/* closing_paren: the ')' matching the '(' before s[open]. */
static size_t closing_paren(const char *s, size_t open)
{
    int depth = 1;
    size_t i = open;
    for (; s[i]; i++) {
        if (s[i] == '"') {
            for (i++; s[i] != '"'; i++)
                i += s[i] == '\\';
        } else if (s[i] == '/' && s[i + 1] == '*') {
            i = (size_t)(strstr(s + i + 2, "*/") - s) + 1;
        } else if (s[i] == '(') {
            depth++;
        } else if (s[i] == ')' && --depth == 0) {
            break;
        }
    }
    return i;
}

/* annot_of: the annotation of the PTM_TRANSACTION in src (a file t.c),
** mapped to its source. */
static Annot annot_of(const char *src)
{
    SrcFile *f = src_from_text("t.c", src);
    const char *p = strstr(f->text, "PTM_TRANSACTION(");
    cr_assert(p, "no PTM_TRANSACTION in the test source");
    size_t open = (size_t)(p - f->text) + strlen("PTM_TRANSACTION(");
    size_t close = closing_paren(f->text, open);
    Annot a = {0};
    a.text = stringify(f->text + open, close - open);
    a.len = strlen(a.text);
    a.origin = (SrcLoc){f, (size_t)(p - f->text)};
    annot_map_source(&a, open, close);
    return a;
}

static const char *const params[] = {"db", "from", "to", "cents", "acct"};
static const FuncSig sig_int = {"transfer", false, false, params, 5, NULL, NULL};
static const FuncSig sig_void = {"notify", true, false, params, 5, NULL, NULL};
static const FuncSig sig_record = {"lookup", false, true, params, 5, NULL, NULL};

/* run_as: checks the annotation in src for the function sig; A and M
** keep the result (freed by teardown). */
static bool run_as(const char *src, const FuncSig *sig)
{
    A = annot_of(src);
    cr_assert(A.map, "the test's annotation did not align with its source");
    return meta_check(&A, meta_parse(&A), sig, &M);
}

static bool run(const char *src)
{
    return run_as(src, &sig_int);
}

/* shows: asserts the diagnostics include text. */
#define shows(text)                                                                     \
    cr_assert(strstr(output(), text), "expected in the diagnostics:\n%s\ngot:\n%s", text, \
              output())

/* fails: src is rejected with n errors, the first of them `first`. */
#define fails(src, n, first)                                                             \
    do {                                                                                 \
        cr_assert_not(run(src), "accepted: %s", src);                                    \
        cr_assert_eq(diag_error_count(), n, "%d errors, wanted %d:\n%s",                 \
                     diag_error_count(), n, output());                                   \
        cr_assert(strncmp(output(), first, strlen(first)) == 0,                          \
                  "wanted first:\n%s\ngot:\n%s", first, output());                       \
    } while (0)

static const char full[] =
    "#include <ptm.h>\n"
    "\n"
    "PTM_TRANSACTION(\n"
    "    .transaction_id             = \"bank.transfer\",\n"
    "    .failure_prediction_enabled = true,\n"
    "    .alternative_paths          = { transfer_queued, transfer_reject },\n"
    "    .resource_requirements      = { .memory = 64 MiB, .cpu = 2 },\n"
    "    .success_criteria           = return == 0 && errno != EAGAIN,\n"
    "    .retry                      = { .max = 3, .backoff = exponential(5 ms, 200 ms) },\n"
    "    .timeout                    = 250 ms,\n"
    "    .mirror                     = auto,             /* auto | inline | fork | off */\n"
    "    .rules                      = \"bank.lua\",\n"
    "    .threshold                  = 0.5,\n"
    "    .snapshot                   = { { acct, sizeof *acct } },\n"
    "    .gate                       = false)\n"
    "int transfer(sqlite3 *db, int from, int to, long cents, struct account *acct);\n";

/* ---------------------------------------------------------------------
** Valid annotations
*/

Test(meta, full_annotation)
{
    cr_assert(run(full), "%s", output());
    cr_assert_str_eq(output(), "");
    cr_assert_str_eq(M.transaction_id, "bank.transfer");
    cr_assert(M.failure_prediction_enabled);
    cr_assert_eq(M.n_alternatives, 2);
    cr_assert_str_eq(M.alternatives[0].name, "transfer_queued");
    cr_assert_str_eq(M.alternatives[1].name, "transfer_reject");
    cr_assert_eq(M.alternatives[1].len, strlen("transfer_reject"));
    cr_assert_eq(strncmp(A.text + M.alternatives[1].off, "transfer_reject", 15), 0);
    cr_assert_eq(M.memory_bytes, 64ull << 20);
    cr_assert_eq(M.cpus, 2);
    cr_assert_not_null(M.success);
    cr_assert_eq(M.retry_max, 3);
    cr_assert_eq(M.backoff, BACKOFF_EXPONENTIAL);
    cr_assert_eq(M.backoff_base_us, 5000);
    cr_assert_eq(M.backoff_cap_us, 200000);
    cr_assert_eq(M.timeout_us, 250000);
    cr_assert_eq(M.mirror, MIRROR_AUTO);
    cr_assert_str_eq(M.rules, "bank.lua");
    cr_assert_eq(strncmp(A.text + M.rules_off, "\"bank.lua\"", 10), 0);
    cr_assert_float_eq(M.threshold, 0.5, 1e-12);
    cr_assert_not_null(M.snapshot);
    cr_assert_eq(M.snapshot->kind, N_LIST);
    cr_assert_not(M.gate);
    cr_assert_eq(M.root->kind, N_TABLE);
}

Test(meta, defaults)
{
    cr_assert(run("PTM_TRANSACTION()"));
    cr_assert_str_eq(M.transaction_id, "transfer");
    cr_assert(M.failure_prediction_enabled);
    cr_assert_eq(M.n_alternatives, 0);
    cr_assert_eq(M.memory_bytes, 0);
    cr_assert_eq(M.cpus, 0);
    cr_assert_null(M.success);
    cr_assert_eq(M.retry_max, 0);
    cr_assert_eq(M.backoff, BACKOFF_NONE);
    cr_assert_eq(M.timeout_us, 0);
    cr_assert_eq(M.mirror_deadline_us, 0);
    cr_assert_float_eq(M.threshold, 0.4, 1e-12);
    cr_assert_eq(M.mirror, MIRROR_AUTO);
    cr_assert_null(M.rules);
    cr_assert_null(M.snapshot);
    cr_assert_not(M.gate);
    cr_assert_eq(M.mirror_sampling, SAMPLING_ALWAYS);
    cr_assert_eq(M.exploration, 0.0);
    cr_assert_not(M.retry_budget_set);
    cr_assert_eq(diag_error_count(), 0);
}

Test(meta, sampling_exploration_and_retry_budget)
{
    cr_assert(run("PTM_TRANSACTION(.mirror_sampling = adaptive, .exploration = 0.05, "
                  ".retry_budget = 0)"),
              "%s", output());
    cr_assert_eq(M.mirror_sampling, SAMPLING_ADAPTIVE);
    cr_assert_eq(M.exploration, 0.05);
    cr_assert(M.retry_budget_set, "0 is a budget (the min's retries only), not 'not given'");
    cr_assert_eq(M.retry_budget, 0.0);
    reset();
    cr_assert(run("PTM_TRANSACTION(.mirror_sampling = always, .retry_budget = 1000)"), "%s",
              output());
    cr_assert_eq(M.mirror_sampling, SAMPLING_ALWAYS);
    cr_assert_eq(M.retry_budget, 1000.0);
    reset();
    fails("PTM_TRANSACTION(.exploration = 0.050001)", 1,
          "t.c:1:32: error: 'exploration' must be at most 0.05: each explored call lets a "
          "predicted failure happen\n");
    reset();
    cr_assert(run("PTM_TRANSACTION(.retry_budget = -0)"), "%s", output());
    cr_assert_eq(M.retry_budget, 0.0);
}

Test(meta, exploration_below_zero_is_refused)
{
    fails("PTM_TRANSACTION(.mirror_sampling = adaptive, .exploration = -1e-9)", 1,
          "t.c:1:61: error: 'exploration' must be non-negative\n");
}

Test(meta, glued_pp_numbers_split_into_number_and_unit)
{
    cr_assert(run("PTM_TRANSACTION(.timeout = 2.5s, .retry = { .backoff = exponential(1e3us, "
                  "5ms) }, .resource_requirements = { .memory = 64MiB })"),
              "%s", output());
    cr_assert_eq(M.timeout_us, 2500000);
    cr_assert_eq(M.backoff_base_us, 1000, "1e3 is an exponent, not a unit");
    cr_assert_eq(M.backoff_cap_us, 5000);
    cr_assert_eq(M.memory_bytes, 64ull << 20);
}

Test(meta, sizes_in_every_unit)
{
    static const struct { const char *src; uint64_t bytes; } cases[] = {
        {"PTM_TRANSACTION(.resource_requirements = { .memory = 512 B })", 512},
        {"PTM_TRANSACTION(.resource_requirements = { .memory = 4 KiB })", 4096},
        {"PTM_TRANSACTION(.resource_requirements = { .memory = 1.5 GiB })", 3ull << 29},
        {"PTM_TRANSACTION(.resource_requirements = { .memory = 0x10 B })", 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert(run(cases[i].src), "%s: %s", cases[i].src, output());
        cr_assert_eq(M.memory_bytes, cases[i].bytes, "%s", cases[i].src);
        reset();
    }
}

Test(meta, durations_in_every_unit)
{
    static const struct { const char *src; uint64_t us; } cases[] = {
        {"PTM_TRANSACTION(.timeout = 750 us)", 750},
        {"PTM_TRANSACTION(.timeout = 20ms)", 20000},
        {"PTM_TRANSACTION(.timeout = 3 s)", 3000000},
        {"PTM_TRANSACTION(.timeout = 0.5ms)", 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert(run(cases[i].src), "%s: %s", cases[i].src, output());
        cr_assert_eq(M.timeout_us, cases[i].us, "%s", cases[i].src);
        reset();
    }
}

Test(meta, mirror_deadline_is_a_duration_apart_from_the_timeout)
{
    cr_assert(run("PTM_TRANSACTION(.timeout = 5 s, .mirror_deadline = 20ms)"), "%s", output());
    cr_assert_eq(M.timeout_us, 5000000);
    cr_assert_eq(M.mirror_deadline_us, 20000);
    reset();
    fails("PTM_TRANSACTION(.mirror_deadline = 0 ms)", 1,
          "t.c:1:36: error: duration must be positive\n");
}

Test(meta, retry_shorthand_gets_the_default_backoff)
{
    cr_assert(run("PTM_TRANSACTION(.retry = 3)"));
    cr_assert_eq(M.retry_max, 3);
    cr_assert_eq(M.backoff, BACKOFF_EXPONENTIAL);
    cr_assert_eq(M.backoff_base_us, 10000);
    cr_assert_eq(M.backoff_cap_us, 1000000);
}

Test(meta, retry_table_without_backoff_gets_the_default)
{
    cr_assert(run("PTM_TRANSACTION(.retry = { .max = 5 })"));
    cr_assert_eq(M.retry_max, 5);
    cr_assert_eq(M.backoff, BACKOFF_EXPONENTIAL);
    cr_assert_eq(M.backoff_base_us, 10000);
    cr_assert_eq(M.backoff_cap_us, 1000000);
}

Test(meta, retry_constant_and_none)
{
    cr_assert(run("PTM_TRANSACTION(.retry = { .max = 2, .backoff = constant(20 ms) })"));
    cr_assert_eq(M.backoff, BACKOFF_CONSTANT);
    cr_assert_eq(M.backoff_base_us, 20000);
    cr_assert_eq(M.backoff_cap_us, 20000);
    reset();
    cr_assert(run("PTM_TRANSACTION(.retry = { .max = 2, .backoff = none },)"));
    cr_assert_eq(M.retry_max, 2);
    cr_assert_eq(M.backoff, BACKOFF_NONE);
}

Test(meta, mirror_modes)
{
    static const char *const src[] = {
        "PTM_TRANSACTION(.mirror = auto)", "PTM_TRANSACTION(.mirror = inline)",
        "PTM_TRANSACTION(.mirror = fork)", "PTM_TRANSACTION(.mirror = off)",
    };
    static const MirrorMode want[] = {MIRROR_AUTO, MIRROR_INLINE, MIRROR_FORK, MIRROR_OFF};
    for (int i = 0; i < 4; i++) {
        cr_assert(run(src[i]), "%s", src[i]);
        cr_assert_eq(M.mirror, want[i], "%s", src[i]);
        reset();
    }
}

Test(meta, empty_braces_trailing_comma_and_gate)
{
    cr_assert(run("PTM_TRANSACTION(.alternative_paths = {}, .resource_requirements = {},\n"
                  "                .snapshot = {}, .gate = true, .failure_prediction_enabled "
                  "= false,)"),
              "%s", output());
    cr_assert_eq(M.n_alternatives, 0);
    cr_assert(M.gate);
    cr_assert_not(M.failure_prediction_enabled);
}

Test(meta, strings_unescape_and_concatenate)
{
    cr_assert(run("PTM_TRANSACTION(.transaction_id = \"bank\\t\" \"x\\x41\\101\\\"\")"),
              "%s", output());
    cr_assert_str_eq(M.transaction_id, "bank\txAA\"");
}

/* \u and \U are C escapes: UTF-8 in the string, as clang writes them
** into a narrow literal; exactly 4 or 8 digits are taken (\u00e9a is é
** then a). */
Test(meta, universal_character_names_are_utf8)
{
    cr_assert(run("PTM_TRANSACTION(.transaction_id = \"caf\\u00e9a \\U0001F600\\u0041\\u20AC\")"),
              "%s", output());
    cr_assert_str_eq(M.transaction_id, "caf\xC3\xA9" "a \xF0\x9F\x98\x80" "A\xE2\x82\xAC");
}

Test(meta, bad_universal_character_names_as_clang_reports_them)
{
    A = annot_of("PTM_TRANSACTION(.a = \"\\u12\", .b = \"\\u\", .c = \"\\uD800\", "
                 ".d = \"\\U00110000\", .e = \"\\Ug\")");
    cr_assert_null(meta_parse(&A));
    cr_assert_eq(diag_error_count(), 5, "%s", output());
    shows("t.c:1:23: error: incomplete universal character name\n"
          "    1 | PTM_TRANSACTION(.a = \"\\u12\", ");
    shows("      |                       ^~~~\n");
    shows("t.c:1:36: error: \\u used with no following hex digits\n");
    shows("t.c:1:47: error: invalid universal character\n");
    shows("t.c:1:62: error: invalid universal character\n");
    shows("t.c:1:81: error: \\U used with no following hex digits\n");
}

Test(meta, snapshot_single_region_shorthand)
{
    cr_assert(run("PTM_TRANSACTION(.snapshot = { acct, sizeof *acct })"), "%s", output());
    cr_assert_eq(M.snapshot->kind, N_LIST);
    Node *region = M.snapshot->items;
    cr_assert_eq(region->kind, N_LIST);
    cr_assert_null(region->next);
    char *addr = expr_to_c(region->items, &sig_int, "f");
    char *size = expr_to_c(region->items->next, &sig_int, "f");
    cr_assert_str_eq(addr, "f->arg.acct");
    cr_assert_str_eq(size, "sizeof(*f->arg.acct)");
    free(addr);
    free(size);
}

Test(meta, snapshot_regions_as_c)
{
    cr_assert(run("PTM_TRANSACTION(.snapshot = { { acct, sizeof *acct }, "
                  "{ &cents, sizeof(long) }, { db->pages[to], sizeof(struct page *) * 2 } })"),
              "%s", output());
    static const char *const want[][2] = {
        {"f->arg.acct", "sizeof(*f->arg.acct)"},
        {"&f->arg.cents", "sizeof(long)"},
        {"f->arg.db->pages[f->arg.to]", "(sizeof(struct page *) * 2)"},
    };
    int i = 0;
    for (Node *r = M.snapshot->items; r; r = r->next, i++) {
        char *addr = expr_to_c(r->items, &sig_int, "f");
        char *size = expr_to_c(r->items->next, &sig_int, "f");
        cr_assert_str_eq(addr, want[i][0]);
        cr_assert_str_eq(size, want[i][1]);
        free(addr);
        free(size);
    }
    cr_assert_eq(i, 3);
}

/* ---------------------------------------------------------------------
** The tree
*/

Test(meta, tree_has_spans_and_c_precedence)
{
    A = annot_of("PTM_TRANSACTION(.success_criteria = a || b && c == 1 + 2 * 3)");
    Node *root = meta_parse(&A);
    cr_assert_not_null(root);
    Node *e = root->items;
    cr_assert_eq(e->kind, N_ENTRY);
    cr_assert_str_eq(e->str, "success_criteria");
    cr_assert_eq(e->str_off, 1);
    cr_assert_eq(e->off, 0);
    cr_assert_eq(e->end, A.len);
    Node *v = e->lhs;
    cr_assert_eq(v->kind, N_BINARY);
    cr_assert_eq(v->op, OP_OR);
    cr_assert_eq(v->rhs->op, OP_AND);
    Node *eq = v->rhs->rhs;
    cr_assert_eq(eq->op, OP_EQ);
    cr_assert_eq(eq->rhs->op, '+');
    cr_assert_eq(eq->rhs->rhs->op, '*');
    cr_assert_eq(strncmp(A.text + eq->off, "c == 1 + 2 * 3", eq->end - eq->off), 0);
    cr_assert_eq(eq->end - eq->off, strlen("c == 1 + 2 * 3"));
    node_free(root);
}

Test(meta, numbers_keep_their_spelling_and_unit_position)
{
    A = annot_of("PTM_TRANSACTION(.a = 0x1Fu, .b = 250ms, .c = 'x', .d = 1.5e-3)");
    Node *root = meta_parse(&A);
    cr_assert_not_null(root, "%s", output());
    Node *a = root->items->lhs, *b = root->items->next->lhs;
    Node *c = root->items->next->next->lhs, *d = root->items->next->next->next->lhs;
    cr_assert_str_eq(a->str, "0x1Fu");
    cr_assert(a->is_int);
    cr_assert_eq(a->ival, 31);
    cr_assert_str_eq(a->unit, "");
    cr_assert_str_eq(b->str, "250");
    cr_assert_str_eq(b->unit, "ms");
    cr_assert_eq(b->unit_off, b->off + 3);
    cr_assert_eq(b->end, b->off + 5);
    cr_assert_eq(c->ival, 'x');
    cr_assert_str_eq(c->str, "'x'");
    cr_assert_not(d->is_int);
    cr_assert_float_eq(d->num, 1.5e-3, 1e-15);
    node_free(root);
}

/* ---------------------------------------------------------------------
** Errors: each class, at its exact position
*/

Test(meta, unknown_key_with_fixit)
{
    fails("PTM_TRANSACTION(\n"
          "    .retires = 3,\n"
          "    .timeout = 5 ms)\n",
          1,
          "t.c:2:6: error: unknown key 'retires'; did you mean 'retry'?\n"
          "    2 |     .retires = 3,\n"
          "      |      ^~~~~~~\n"
          "      |      retry\n");
}

Test(meta, unknown_key_far_from_all)
{
    fails("PTM_TRANSACTION(.colour = 3)", 1, "t.c:1:18: error: unknown key 'colour'\n");
}

Test(meta, nested_key_at_top_gets_a_note)
{
    fails("PTM_TRANSACTION(.memory = 5 MiB)", 1, "t.c:1:18: error: unknown key 'memory'\n");
    shows("t.c:1:18: note: 'memory' is a key of 'resource_requirements'\n");
}

Test(meta, duplicate_key_error_and_note)
{
    fails("PTM_TRANSACTION(\n"
          "    .timeout = 5 ms,\n"
          "    .timeout = 6 ms)\n",
          1,
          "t.c:3:6: error: duplicate key 'timeout'\n"
          "    3 |     .timeout = 6 ms)\n"
          "      |      ^~~~~~~\n"
          "t.c:2:16: note: previous value is here\n"
          "    2 |     .timeout = 5 ms,\n"
          "      |                ^~~~\n");
    cr_assert_eq(M.timeout_us, 5000, "the first value holds");
}

Test(meta, wrong_type_names_the_expected_type)
{
    fails("PTM_TRANSACTION(.timeout = \"soon\")", 1,
          "t.c:1:28: error: 'timeout' expects a duration such as 250 ms\n");
}

Test(meta, duration_without_unit_suggests_ms)
{
    fails("PTM_TRANSACTION(.timeout = 250)", 1,
          "t.c:1:28: error: 'timeout' needs a unit (us, ms or s); did you mean '250 ms'?\n"
          "    1 | PTM_TRANSACTION(.timeout = 250)\n"
          "      |                            ^~~\n"
          "      |                            250 ms\n");
}

Test(meta, negative_and_zero_durations)
{
    fails("PTM_TRANSACTION(.timeout = -5 ms)", 1,
          "t.c:1:28: error: duration must be positive\n"
          "    1 | PTM_TRANSACTION(.timeout = -5 ms)\n"
          "      |                            ^~~~~\n");
    reset();
    cr_assert_not(run("PTM_TRANSACTION(.timeout = 0 s)"));
    shows("t.c:1:28: error: duration must be positive\n");
}

Test(meta, unknown_duration_unit)
{
    fails("PTM_TRANSACTION(.timeout = 5 sec)", 1,
          "t.c:1:30: error: unknown duration unit 'sec'; did you mean 's'?\n");
    reset();
    cr_assert_not(run("PTM_TRANSACTION(.timeout = 5 ns)"));
    shows("unknown duration unit 'ns'; did you mean 'us'?");
}

Test(meta, decimal_size_units_are_refused_with_a_suggestion)
{
    fails("PTM_TRANSACTION(.resource_requirements = { .memory = 64MB })", 1,
          "t.c:1:56: error: unknown size unit 'MB'; did you mean 'MiB'?\n"
          "    1 | PTM_TRANSACTION(.resource_requirements = { .memory = 64MB })\n"
          "      |                                                        ^~\n"
          "      |                                                        MiB\n");
}

Test(meta, size_needs_a_unit_and_a_positive_value)
{
    fails("PTM_TRANSACTION(.resource_requirements = { .memory = 64, .cpu = 0 })", 2,
          "t.c:1:54: error: 'memory' needs a unit (B, KiB, MiB or GiB)\n");
    shows("t.c:1:65: error: 'cpu' must be positive\n");
}

Test(meta, unknown_subkey_with_fixit)
{
    fails("PTM_TRANSACTION(.resource_requirements = { .memroy = 1 MiB, .cpus = 2 })", 2,
          "t.c:1:45: error: unknown key 'memroy' in 'resource_requirements'; did you mean "
          "'memory'?\n");
    shows("t.c:1:62: error: unknown key 'cpus' in 'resource_requirements'; did you mean "
          "'cpu'?\n");
}

Test(meta, cpu_must_be_an_integer)
{
    fails("PTM_TRANSACTION(.resource_requirements = { .cpu = 1.5 })", 1,
          "t.c:1:51: error: 'cpu' expects a positive integer such as 2\n");
}

Test(meta, alternative_paths_bare_identifier_gets_braces)
{
    fails("PTM_TRANSACTION(.alternative_paths = transfer_queued)", 1,
          "t.c:1:38: error: 'alternative_paths' expects a list of functions such as "
          "{ transfer_queued }\n"
          "    1 | PTM_TRANSACTION(.alternative_paths = transfer_queued)\n"
          "      |                                      ^~~~~~~~~~~~~~~\n"
          "      |                                      { transfer_queued }\n");
}

Test(meta, alternative_paths_duplicates_and_non_names)
{
    fails("PTM_TRANSACTION(.alternative_paths = { a, b, a, \"c\" })", 2,
          "t.c:1:46: error: duplicate alternative path 'a'\n");
    shows("t.c:1:40: note: first listed here\n");
    shows("t.c:1:49: error: an alternative path must be a function name\n");
    cr_assert_eq(M.n_alternatives, 2);
}

Test(meta, return_in_a_void_function)
{
    cr_assert_not(run_as("PTM_TRANSACTION(.success_criteria = return == 0)", &sig_void));
    cr_assert_eq(diag_error_count(), 1);
    shows("t.c:1:37: error: 'return' has no value: 'notify' returns void\n");
}

Test(meta, return_member_needs_a_record)
{
    cr_assert_not(run("PTM_TRANSACTION(.success_criteria = return.ok)"));
    shows("t.c:1:37: error: 'return.ok' needs a struct or union result, and 'transfer' does "
          "not return one\n");
    reset();
    cr_assert(run_as("PTM_TRANSACTION(.success_criteria = return.ok && return.n > 0)",
                     &sig_record),
              "%s", output());
    reset();
    cr_assert(run("PTM_TRANSACTION(.success_criteria = return->ok)"), "-> needs only a value");
}

Test(meta, criteria_leaves_that_are_not_allowed)
{
    fails("PTM_TRANSACTION(.success_criteria = return == \"ok\" || errno == 5 ms)", 2,
          "t.c:1:47: error: a string cannot appear in 'success_criteria'\n");
    shows("t.c:1:64: error: a number with a unit cannot appear in 'success_criteria'\n");
}

Test(meta, criteria_must_be_an_expression)
{
    fails("PTM_TRANSACTION(.success_criteria = { return == 0 })", 1,
          "t.c:1:37: error: 'success_criteria' expects an expression such as return == 0\n");
}

Test(meta, snapshot_errors)
{
    fails("PTM_TRANSACTION(.snapshot = { { acct }, { return, sizeof errno } })", 3,
          "t.c:1:31: error: a snapshot region is written { address, size }\n");
    shows("t.c:1:43: error: 'return' cannot appear in 'snapshot': it is taken before the call\n");
    shows("t.c:1:58: error: 'errno' cannot appear in 'snapshot': it is taken before the call\n");
    cr_assert_null(M.snapshot);
}

Test(meta, retry_errors)
{
    fails("PTM_TRANSACTION(.retry = { .max = -1, .backoff = exponental(5 ms, 1 s) })", 2,
          "t.c:1:35: error: 'max' must be non-negative\n");
    shows("t.c:1:50: error: unknown backoff 'exponental'; did you mean 'exponential'?\n");
}

Test(meta, backoff_base_above_cap_and_arity)
{
    fails("PTM_TRANSACTION(.retry = { .backoff = exponential(2 s, 1 s) })", 1,
          "t.c:1:39: error: backoff base must not exceed its cap\n"
          "    1 | PTM_TRANSACTION(.retry = { .backoff = exponential(2 s, 1 s) })\n"
          "      |                                       ^~~~~~~~~~~~~~~~~~~~~\n");
    reset();
    cr_assert_not(run("PTM_TRANSACTION(.retry = { .backoff = constant(1 s, 2 s) })"));
    shows("error: 'constant' takes 1 duration: constant(delay)\n");
}

Test(meta, retry_wrong_type)
{
    fails("PTM_TRANSACTION(.retry = \"often\")", 1,
          "t.c:1:26: error: 'retry' expects a count or a table such as { .max = 3, .backoff = "
          "exponential(5 ms, 200 ms) }\n");
}

Test(meta, threshold_range)
{
    fails("PTM_TRANSACTION(.threshold = 1.5)", 1,
          "t.c:1:30: error: 'threshold' must be between 0 and 1\n");
    reset();
    cr_assert_not(run("PTM_TRANSACTION(.threshold = 50 ms)"));
    shows("error: 'threshold' expects a probability between 0 and 1 such as 0.4\n");
}

Test(meta, mirror_unknown_mode)
{
    fails("PTM_TRANSACTION(.mirror = forks)", 1,
          "t.c:1:27: error: unknown mirror mode 'forks'; did you mean 'fork'?\n"
          "    1 | PTM_TRANSACTION(.mirror = forks)\n"
          "      |                           ^~~~~\n"
          "      |                           fork\n");
}

Test(meta, mirror_as_string_gets_unquoted)
{
    fails("PTM_TRANSACTION(.mirror = \"fork\")", 1,
          "t.c:1:27: error: 'mirror' expects auto, inline, fork or off\n"
          "    1 | PTM_TRANSACTION(.mirror = \"fork\")\n"
          "      |                           ^~~~~~\n"
          "      |                           fork\n");
}

Test(meta, rules_and_id_must_be_non_empty_strings)
{
    fails("PTM_TRANSACTION(.rules = \"\", .transaction_id = \"\", .rules = bank)", 3,
          "t.c:1:26: error: 'rules' must not be empty\n");
    shows("t.c:1:48: error: 'transaction_id' must not be empty\n");
    shows("t.c:1:53: error: duplicate key 'rules'\n");
}

Test(meta, booleans_are_true_or_false)
{
    fails("PTM_TRANSACTION(.failure_prediction_enabled = 1, .gate = \"yes\")", 2,
          "t.c:1:47: error: 'failure_prediction_enabled' expects true or false\n"
          "    1 | PTM_TRANSACTION(.failure_prediction_enabled = 1, .gate = \"yes\")\n"
          "      |                                               ^\n"
          "      |                                               true\n");
    shows("t.c:1:58: error: 'gate' expects true or false\n");
}

Test(meta, every_error_is_reported)
{
    cr_assert_not(run("PTM_TRANSACTION(\n"
                      "    .transaction_id = bank,\n"
                      "    .retires = 3,\n"
                      "    .timeout = 250,\n"
                      "    .threshold = 2,\n"
                      "    .mirror = always,\n"
                      "    .resource_requirements = { .memory = 1 MB, .cpu = 0 },\n"
                      "    .success_criteria = \"ok\")\n"));
    cr_assert_eq(diag_error_count(), 8, "%s", output());
    shows("t.c:2:23: error: 'transaction_id' expects a string");
    shows("t.c:3:6: error: unknown key 'retires'");
    shows("t.c:4:16: error: 'timeout' needs a unit");
    shows("t.c:5:18: error: 'threshold' must be between 0 and 1");
    shows("t.c:6:15: error: unknown mirror mode 'always'");
    shows("t.c:7:44: error: unknown size unit 'MB'");
    shows("t.c:7:55: error: 'cpu' must be positive");
    shows("t.c:8:25: error: a string cannot appear in 'success_criteria'");
}

/* ---------------------------------------------------------------------
** Syntax errors
*/

Test(meta, missing_comma_between_entries)
{
    fails("PTM_TRANSACTION(\n"
          "    .mirror = auto\n"
          "    .retry = 3)\n",
          1,
          "t.c:3:5: error: expected ',' between entries\n"
          "    3 |     .retry = 3)\n"
          "      |     ^\n");
    cr_assert_null(M.root);
}

Test(meta, missing_comma_after_a_unit_has_a_fixit)
{
    fails("PTM_TRANSACTION(.timeout = 250 ms .retry = 3)", 1,
          "t.c:1:35: error: expected ',' between entries\n"
          "    1 | PTM_TRANSACTION(.timeout = 250 ms .retry = 3)\n"
          "      |                                   ^\n"
          "      |                                  ,\n");
}

Test(meta, missing_dot_before_key)
{
    fails("PTM_TRANSACTION(timeout = 5 ms)", 1,
          "t.c:1:17: error: expected '.' before key name\n");
    reset();
    cr_assert_not(run("PTM_TRANSACTION(.retry = { max = 3 })"));
    shows("t.c:1:28: error: expected '.' before key name\n");
}

Test(meta, expected_expression)
{
    fails("PTM_TRANSACTION(.timeout = , .retry = 3)", 1,
          "t.c:1:28: error: expected expression\n");
}

Test(meta, unclosed_brace_notes_its_opener)
{
    fails("PTM_TRANSACTION(\n"
          "    .retry = {\n"
          "        .max = 3\n"
          ")\n",
          1,
          "t.c:3:17: error: expected ',' or '}'\n"
          "    3 |         .max = 3\n"
          "      |                 ^\n"
          "t.c:2:14: note: to match this '{'\n");
}

Test(meta, unterminated_string)
{
    /* only a truncated annotation can hold one; the map still aligns */
    A = annot_of("PTM_TRANSACTION(.rules = \"abc\")");
    A.text[strlen(A.text) - 1] = '\0';
    A.len--;
    cr_assert_null(meta_parse(&A));
    cr_assert_eq(diag_error_count(), 1);
    shows("t.c:1:26: error: missing terminating '\"' character\n");
}

Test(meta, bad_literals_are_all_reported)
{
    A = annot_of("PTM_TRANSACTION(.a = 09, .b = 99999999999999999999, .c = \"\\q\")");
    cr_assert_null(meta_parse(&A));
    cr_assert_eq(diag_error_count(), 3, "%s", output());
    shows("t.c:1:23: error: invalid digit '9' in octal constant\n");
    shows("t.c:1:31: error: integer literal is too large\n");
    shows("t.c:1:59: error: unknown escape sequence '\\q'\n");
}

Test(meta, stray_characters)
{
    fails("PTM_TRANSACTION(.success_criteria = return == 0;)", 1,
          "t.c:1:48: error: expected ',' or end of annotation\n");
}

/* ---------------------------------------------------------------------
** Positions
*/

Test(meta, positions_across_lines_comments_and_continuations)
{
    static const char src[] =
        "/* header */\n"
        "  PTM_TRANSACTION(.transaction_id = \"x\", /* a comment */\n"
        "\t.timeout = /* inside */ 5 \\\n"
        "            ms,\n"
        "    .mirror =\n"
        "        fork_it)\n";
    fails(src, 1,
          "t.c:6:9: error: unknown mirror mode 'fork_it'; did you mean 'fork'?\n"
          "    6 |         fork_it)\n"
          "      |         ^~~~~~~\n"
          "      |         fork\n");
    /* the duration spans a comment and a backslash-newline */
    size_t off = (size_t)(strstr(A.text, "5 ms") - A.text);
    SrcLoc five = annot_loc(&A, off), ms = annot_loc(&A, off + 2);
    unsigned line, col;
    src_line_col(five, &line, &col);
    cr_assert_eq(line, 3);
    cr_assert_eq(col, 26, "columns count bytes: the tab is one");
    src_line_col(ms, &line, &col);
    cr_assert_eq(line, 4);
    cr_assert_eq(col, 13);
    /* a space between tokens maps to the end of the token before it */
    SrcLoc gap = annot_loc(&A, off + 1);
    cr_assert_eq(gap.off, five.off + 1);
    /* the end maps past the last token */
    SrcLoc end = annot_loc(&A, A.len);
    cr_assert_eq(A.origin.file->text[end.off], ')');
}

Test(meta, map_is_left_null_when_tokens_differ)
{
    SrcFile *f = src_from_text("t.c", "x PTM_TRANSACTION(.timeout = 5 ms)\n");
    size_t open = (size_t)(strchr(f->text, '(') - f->text) + 1;
    size_t close = (size_t)(strrchr(f->text, ')') - f->text);
    Annot a = {xstrdup(".timeout = 6"), 12, {f, 2}, NULL, NULL, NULL, NULL};
    annot_map_source(&a, open, close);
    cr_assert_null(a.map);
    SrcLoc loc = annot_loc(&a, 5);
    cr_assert_eq(loc.file, f);
    cr_assert_eq(loc.off, 2, "unmapped text points at the origin");
    /* diagnostics still come, at the origin, and without a fix-it that
    ** would rewrite the wrong bytes */
    Meta m;
    cr_assert_not(meta_check(&a, meta_parse(&a), &sig_int, &m));
    cr_assert_str_eq(output(),
                     "t.c:1:3: error: 'timeout' needs a unit (us, ms or s); did you mean '6 ms'?\n"
                     "    1 | x PTM_TRANSACTION(.timeout = 5 ms)\n"
                     "      |   ^\n");
    meta_free(&m);
    free(a.text);
}

Test(meta, unmapped_diagnostics_point_at_the_origin_without_fixits)
{
    SrcFile *f = src_from_text("t.c", "#define TX PTM_TRANSACTION(.retires = 3)\nTX\n");
    Annot a = {xstrdup(".retires = 3"), 12, {f, (size_t)(strstr(f->text, "\nTX") - f->text) + 1},
               NULL, NULL, NULL, NULL};
    Meta m;
    cr_assert_not(meta_check(&a, meta_parse(&a), &sig_int, &m));
    cr_assert_str_eq(output(), "t.c:2:1: error: unknown key 'retires'; did you mean 'retry'?\n"
                               "    2 | TX\n"
                               "      | ^\n");
    meta_free(&m);
    free(a.text);
}

/* ---------------------------------------------------------------------
** success_criteria as C
*/

static char *criteria_of(const char *src, const FuncSig *sig)
{
    cr_assert(run_as(src, sig), "%s\n%s", src, output());
    return criteria_to_c(M.success, sig, "frame");
}

Test(meta, criteria_to_c_translates_names)
{
    static const struct { const char *src; const char *c; } cases[] = {
        {"PTM_TRANSACTION(.success_criteria = return == 0)", "(frame->ret == 0)"},
        {"PTM_TRANSACTION(.success_criteria = return == 0 && errno != EAGAIN)",
         "((frame->ret == 0) && (frame->err != EAGAIN))"},
        {"PTM_TRANSACTION(.success_criteria = return >= cents || !from)",
         "((frame->ret >= frame->arg.cents) || !frame->arg.from)"},
        {"PTM_TRANSACTION(.success_criteria = return)", "frame->ret"},
        {"PTM_TRANSACTION(.success_criteria = (a + b) * c - -d % 2 <= ~e)",
         "((((a + b) * c) - (-d % 2)) <= ~e)"},
        {"PTM_TRANSACTION(.success_criteria = - -cents > 0 && !!true)",
         "((-(-frame->arg.cents) > 0) && !(!1))"},
        {"PTM_TRANSACTION(.success_criteria = strcmp(db->name, acct[0].name) == 0)",
         "(strcmp(frame->arg.db->name, frame->arg.acct[0].name) == 0)"},
        {"PTM_TRANSACTION(.success_criteria = return->ok != false)", "(frame->ret->ok != 0)"},
        {"PTM_TRANSACTION(.success_criteria = sizeof(unsigned long) == sizeof to)",
         "(sizeof(unsigned long) == sizeof(frame->arg.to))"},
        {"PTM_TRANSACTION(.success_criteria = (*acct).balance >= 0x10UL)",
         "((*frame->arg.acct).balance >= 0x10UL)"},
        {"PTM_TRANSACTION(.success_criteria = return != 'x' && 1.5e3 > 1)",
         "((frame->ret != 'x') && (1.5e3 > 1))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *c = criteria_of(cases[i].src, &sig_int);
        cr_assert_str_eq(c, cases[i].c, "%s", cases[i].src);
        free(c);
        reset();
    }
}

Test(meta, criteria_to_c_record_members)
{
    char *c = criteria_of("PTM_TRANSACTION(.success_criteria = return.code == 0)", &sig_record);
    cr_assert_str_eq(c, "(frame->ret.code == 0)");
    free(c);
}

/* ---------------------------------------------------------------------
** Hostile input
*/

/* every_prefix: parses and checks every prefix of text: none may crash or
** leak (run under ASan or valgrind), and a rejected one says why. */
static void every_prefix(const char *text, const FuncSig *sig)
{
    size_t n = strlen(text);
    SrcFile *f = src_from_text("t.c", text);
    for (size_t i = 0; i <= n; i++) {
        Annot a = {xstrndup(text, i), i, {f, 0}, NULL, NULL, NULL, NULL};
        int before = diag_error_count();
        Node *root = meta_parse(&a);
        Meta m;
        bool ok = meta_check(&a, root, sig, &m);
        if (!ok)
            cr_assert_gt(diag_error_count(), before, "prefix %zu rejected silently: %s", i,
                         a.text);
        if (ok && m.success) {
            char *c = criteria_to_c(m.success, sig, "frame");
            free(c);
        }
        meta_free(&m);
        free(a.text);
    }
}

Test(meta, every_prefix_of_the_full_annotation)
{
    A = annot_of(full);
    every_prefix(A.text, &sig_int);
    every_prefix(A.text, &sig_void);
}

Test(meta, every_prefix_of_odd_literals)
{
    every_prefix(".a = \"x\\x41\\101\\\"\" \"y\", .b = 'c', .c = 0x1Fu + 1.5e-3 + 2.5s, "
                 ".d = { { a, sizeof(struct s *) }, { b->c[1], sizeof *d } }, .e = f(1, 2)",
                 &sig_int);
}

Test(meta, every_suffix_of_the_full_annotation)
{
    A = annot_of(full);
    SrcFile *f = src_from_text("t.c", A.text);
    for (size_t i = 0; i <= A.len; i++) {
        Annot a = {xstrdup(A.text + i), A.len - i, {f, 0}, NULL, NULL, NULL, NULL};
        Meta m;
        meta_check(&a, meta_parse(&a), &sig_int, &m);
        meta_free(&m);
        free(a.text);
    }
}

Test(meta, garbage_bytes_are_rejected)
{
    static const char garbage[] = ".a = \x01\xff\"\n, .b = @#$, \\";
    Annot a = {xstrdup(garbage), sizeof garbage - 1, {src_from_text("t.c", garbage), 0}, NULL, NULL, NULL, NULL};
    cr_assert_null(meta_parse(&a));
    cr_assert_gt(diag_error_count(), 0);
    free(a.text);
}

Test(meta, deep_nesting_is_an_error_not_a_crash)
{
    Buf b = {0};
    buf_puts(&b, ".success_criteria = ");
    for (int i = 0; i < 20000; i++)
        buf_puts(&b, "(");
    buf_puts(&b, "1");
    for (int i = 0; i < 20000; i++)
        buf_puts(&b, ")");
    Annot a = {b.data, b.len, {src_from_text("t.c", b.data), 0}, NULL, NULL, NULL, NULL};
    cr_assert_null(meta_parse(&a));
    shows("error: annotation is nested too deeply");
    buf_free(&b);
}

Test(meta, long_chains_are_capped)
{
    Buf b = {0};
    buf_puts(&b, ".success_criteria = 1");
    for (int i = 0; i < 30000; i++)
        buf_puts(&b, " + 1");
    Annot a = {b.data, b.len, {src_from_text("t.c", b.data), 0}, NULL, NULL, NULL, NULL};
    cr_assert_null(meta_parse(&a));
    shows("error: annotation is too complex");
    cr_assert_eq(diag_error_count(), 1);
    buf_free(&b);
}

/* mutate: text with one byte replaced, inserted or deleted, chosen by the
** state of a fixed pseudo-random sequence (reproducible failures). */
static char *mutate(const char *text, unsigned *state)
{
    static const char alphabet[] = "{}()[].,=\"'\\-+*&!<>0123456789eExXmsuMiB_az \t\n";
    *state = *state * 1103515245u + 12345u;
    size_t n = strlen(text);
    size_t at = (*state >> 8) % (n + 1);
    char c = alphabet[(*state >> 4) % (sizeof alphabet - 1)];
    Buf b = {0};
    buf_put(&b, text, at);
    switch ((*state >> 28) % 3) {
    case 0: /* replace */
        buf_put(&b, &c, 1);
        if (at < n)
            buf_puts(&b, text + at + 1);
        break;
    case 1: /* insert */
        buf_put(&b, &c, 1);
        buf_puts(&b, text + at);
        break;
    default: /* delete */
        if (at < n)
            buf_puts(&b, text + at + 1);
        break;
    }
    return b.data ? b.data : xstrdup("");
}

Test(meta, random_mutations_of_the_full_annotation)
{
    A = annot_of(full);
    SrcFile *f = src_from_text("t.c", A.text);
    unsigned state = 42;
    char *text = xstrdup(A.text);
    for (int i = 0; i < 4000; i++) {
        char *next = mutate(i % 50 == 0 ? A.text : text, &state);
        free(text);
        text = next;
        Annot a = {xstrdup(text), strlen(text), {f, 0}, NULL, NULL, NULL, NULL};
        int before = diag_error_count();
        Meta m;
        if (!meta_check(&a, meta_parse(&a), &sig_int, &m))
            cr_assert_gt(diag_error_count(), before, "rejected silently: %s", text);
        else if (m.success)
            free(criteria_to_c(m.success, &sig_int, "frame"));
        meta_free(&m);
        free(a.text);
    }
    free(text);
}
