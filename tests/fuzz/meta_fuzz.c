/*
** meta_fuzz.c - libFuzzer target for the annotation language: whatever
** bytes an annotation holds, meta_parse and meta_check report errors and
** never crash, hang or leak; and what they accept turns into C.
**
** The input is the annotation's text, used as its own source so that the
** position maps are exercised.  Its first byte picks the variations: JSON
** diagnostics, and parts of the text marked as coming from a user macro's
** body (the "expanded from macro" path).  The function it is checked
** against has a struct result, parameters of pointer, scalar and record
** types, and a recursive struct, so the type checks run too.
**
** Built by tests/fuzz/CMakeLists.txt with clang-19 -fsanitize=fuzzer,address
** and run by ctest for a few seconds over the seed corpus.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptmcc.h"

static Ty t_int = {TY_SCALAR, "int", NULL, NULL, 0, NULL};
static Ty t_long = {TY_SCALAR, "long", NULL, NULL, 0, NULL};
static Ty t_node, t_node_ptr = {TY_POINTER, "struct node *", &t_node, NULL, 0, NULL};
static TyField node_fields[] = {
    {"value", &t_int, {0}},
    {"next", &t_node_ptr, {0}},
};
static Ty t_node = {TY_RECORD, "struct node", NULL, node_fields, 2, NULL};
static TyField result_fields[] = {
    {"status", &t_int, {0}},
    {"cents", &t_long, {0}},
    {"head", &t_node_ptr, {0}},
};
static Ty t_result = {TY_RECORD, "struct result", NULL, result_fields, 3, NULL};
static Ty t_result_ptr = {TY_POINTER, "struct result *", &t_result, NULL, 0, NULL};
static Ty t_opaque = {TY_RECORD, "struct opaque", NULL, NULL, 0, NULL};
static Ty t_opaque_ptr = {TY_POINTER, "struct opaque *", &t_opaque, NULL, 0, NULL};

static const char *const params[] = {"acct", "cents", "db", "out", "node"};
static const Ty *const param_types[] = {&t_result_ptr, &t_long, &t_opaque_ptr, &t_result,
                                        &t_node};
static const FuncSig sig = {"transfer", false, true, params, 5, &t_result, param_types};

/* to_c: what emit.c would turn the accepted metadata into. */
static void to_c(const Meta *m)
{
    free(criteria_to_c(m->success, &sig, "frame"));
    for (const Node *r = m->snapshot ? m->snapshot->items : NULL; r; r = r->next)
        for (const Node *x = r->items; x; x = x->next)
            free(expr_to_c(x, &sig, "frame"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    diag_set_stream(sink);
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    data++, size--;
    /* an attribute's text is a C string: it ends at the first NUL */
    size = strnlen((const char *)data, size);

    char *text = xstrndup((const char *)data, size);
    SrcFile src = {"fuzz.c", text, size, NULL, 0};
    Annot a = {xstrdup(text), size, {&src, 0}, NULL, NULL, NULL, NULL};
    diag_set_format(flags & 1 ? DIAG_JSON : DIAG_TEXT);
    annot_map_source(&a, 0, size);
    if ((flags & 2) && a.map) {
        a.map_file = xcalloc(size + 1, sizeof *a.map_file);
        a.from_macro = xcalloc(size + 1, 1);
        for (size_t i = 0; i <= size; i++) {
            a.map_file[i] = &src;
            a.from_macro[i] = (i / (1 + (flags >> 4))) % 2;
        }
        a.macro = xstrdup("USER_TX");
    }

    Node *root = meta_parse(&a);
    Meta m;
    if (meta_check(&a, root, &sig, &m))
        to_c(&m);
    meta_free(&m);
    diag_flush();
    annot_free(&a);
    free(src.lines);
    free(text);
    return 0;
}
