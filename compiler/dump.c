/*
** dump.c - --dump-annotations: every transaction's metadata, as parsed and
** with defaults applied, as a JSON array (one object per transaction).
*/
#include <jansson.h>
#include <stdlib.h>

#include "ptmcc.h"

static const char *mirror_name(MirrorMode m)
{
    static const char *const names[] = {"auto", "inline", "fork", "off"};
    return names[m];
}

static const char *backoff_kind(BackoffKind b)
{
    static const char *const names[] = {"none", "constant", "exponential"};
    return names[b];
}

/* node_text: the source text of an expression node. */
static json_t *node_text(const Func *f, const Node *n)
{
    if (!n)
        return json_null();
    return json_stringn(f->annot.text + n->off, n->end - n->off);
}

static json_t *dump_func(const Func *f)
{
    const Meta *m = &f->meta;
    unsigned line, col;
    src_line_col((SrcLoc){f->file, f->name_off}, &line, &col);

    json_t *alts = json_array();
    for (int i = 0; i < m->n_alternatives; i++)
        json_array_append_new(alts, json_string(m->alternatives[i].name));

    json_t *success = json_null();
    if (m->success) {
        const char **names = xcalloc((size_t)f->nparams + 1, sizeof *names);
        for (int i = 0; i < f->nparams; i++)
            names[i] = f->params[i].name;
        FuncSig sig = {f->name, f->returns_void, f->returns_record, names, f->nparams, NULL, NULL};
        char *c = criteria_to_c(m->success, &sig, "frame");
        success = json_pack("{s:o, s:s}", "source", node_text(f, m->success), "c", c);
        free(c);
        free(names);
    }

    json_t *params = json_array();
    for (int i = 0; i < f->nparams; i++)
        json_array_append_new(params, json_pack("{s:s, s:s}", "name", f->params[i].name,
                                                "type", f->params[i].type));

    return json_pack(
        "{s:s, s:s, s:i, s:s, s:b, s:o, s:{s:I, s:i}, s:o, s:{s:i, s:{s:s, s:I, s:I}},"
        " s:I, s:I, s:f, s:s, s:o, s:o, s:b, s:s, s:f, s:o, s:o, s:s}",
        "function", f->name, "file", f->file->path, "line", (int)line,
        "transaction_id", m->transaction_id,
        "failure_prediction_enabled", m->failure_prediction_enabled,
        "alternative_paths", alts,
        "resource_requirements", "memory_bytes", (json_int_t)m->memory_bytes, "cpu", (int)m->cpus,
        "success_criteria", success,
        "retry", "max", (int)m->retry_max, "backoff", "kind", backoff_kind(m->backoff),
        "base_us", (json_int_t)m->backoff_base_us, "cap_us", (json_int_t)m->backoff_cap_us,
        "timeout_us", (json_int_t)m->timeout_us,
        "mirror_deadline_us", (json_int_t)m->mirror_deadline_us,
        "threshold", m->threshold,
        "mirror", mirror_name(m->mirror),
        "rules", m->rules ? json_string(m->rules) : json_null(),
        "snapshot", node_text(f, m->snapshot),
        "gate", m->gate,
        "mirror_sampling", m->mirror_sampling == SAMPLING_ADAPTIVE ? "adaptive" : "always",
        "exploration", m->exploration,
        "retry_budget", m->retry_budget_set ? json_real(m->retry_budget) : json_null(),
        "params", params,
        "returns", f->ret_type);
}

void dump_annotations(const Unit *u, FILE *out)
{
    json_t *all = json_array();
    for (int i = 0; i < u->nfuncs; i++)
        json_array_append_new(all, dump_func(&u->funcs[i]));
    json_dumpf(all, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(all);
}
