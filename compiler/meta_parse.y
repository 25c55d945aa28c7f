/*
** meta_parse.y - the grammar of the annotation language (docs/DESIGN.md §1).
**
** The annotation is the stringified argument list of PTM_TRANSACTION: a
** comma-separated list of `.key = value` entries, where a value is a C-like
** expression or a braced table/list.  The parser only builds the tree;
** meta.c decides what each key may hold.
**
** Locations are byte offsets into the annotation text (MetaLoc), mapped to
** the user's source only when a diagnostic is printed.  Every syntax error
** stops the parse (one clear message beats a cascade); problems the parser
** can see but that leave the structure intact (a bad number, a unit too
** long to be one) are reported and parsing goes on, so the caller still
** gets NULL but the user sees all of them.
*/

%define api.pure full
%define api.prefix {meta_}
%define api.location.type {MetaLoc}
%define parse.error custom
/* Without LAC, default reductions hide expected tokens from messages. */
%define parse.lac full
%locations
%param {yyscan_t scanner}

%code top {
/* Keeps bison's parser function under its own name in this file. */
#define META_PARSER_IMPL 1
}

%code requires {
#include "ptmcc.h"

/* api.prefix would name bison's parser meta_parse, the name ptmcc.h gives
** the annotation parser; bison's is meta_parse_tokens instead. */
#define meta_parse meta_parse_tokens

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A span of the annotation text: [off, end). */
typedef struct MetaLoc {
    size_t off, end;
} MetaLoc;

/* The lexer's state (flex's yyextra), shared with the parser's actions.
** In token mode (annot_map_source) nothing is allocated or reported. */
typedef struct MetaLex {
    const Annot *a;       /* for diagnostics; NULL in token mode */
    bool tokens_only;
    size_t base;          /* added to every offset (token mode: args_off) */
    size_t pos;           /* offset of the next byte, base included */
    MetaLoc recent[4];    /* the last tokens returned, [0] most recent */
    int recent_kind[4];
    int nrecent;
    char open_ch[64];     /* unclosed brackets, for "to match this '{'" */
    size_t open_off[64];
    int nopen;
    int errors;
    int nodes;
    Node *root;           /* the parse's result */
} MetaLex;

/* Shared by meta_lex.l, meta_parse.y and meta.c; not part of ptmcc.h. */

/* node_new: a zeroed node of kind spanning [off, end). */
Node *node_new(NodeKind kind, size_t off, size_t end);
/* annot_error/annot_note: a diagnostic at the source of text span
** [off, end) of a; annot_fixit: a replacement for that span. */
void annot_error(const Annot *a, size_t off, size_t end, const char *fmt, ...)
    PTMCC_PRINTF(4, 5);
void annot_note(const Annot *a, size_t off, size_t end, const char *fmt, ...)
    PTMCC_PRINTF(4, 5);
void annot_fixit(const Annot *a, size_t off, size_t end, const char *replacement);
}

%code provides {
#ifndef META_PARSER_IMPL
#undef meta_parse
#endif

/* flex's bison-bridge names the types YYSTYPE and YYLTYPE. */
#define YYSTYPE META_STYPE
#define YYLTYPE META_LTYPE

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
    do {                                                              \
        if (N) {                                                      \
            (Cur).off = YYRHSLOC(Rhs, 1).off;                         \
            (Cur).end = YYRHSLOC(Rhs, N).end;                         \
        } else {                                                      \
            (Cur).off = (Cur).end = YYRHSLOC(Rhs, 0).end;             \
        }                                                             \
    } while (0)

int meta_lex(META_STYPE *lval, META_LTYPE *lloc, yyscan_t scanner);
}

%code {
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "meta_lex.h"

static void meta_error(META_LTYPE *loc, yyscan_t scanner, const char *msg);

/* The tree of a hostile annotation is capped, so that the recursive walks
** in meta.c stay far from the stack's end. */
#define MAX_NODES 20000

static Node *make(yyscan_t scanner, NodeKind kind, MetaLoc loc)
{
    MetaLex *lx = meta_get_extra(scanner);
    if (++lx->nodes == MAX_NODES + 1) {
        annot_error(lx->a, loc.off, loc.end, "annotation is too complex (more than %d nodes)",
                    MAX_NODES);
        lx->errors++;
    }
    return node_new(kind, loc.off, loc.end);
}

static Node *unary(yyscan_t s, int op, Node *e, MetaLoc loc)
{
    Node *n = make(s, N_UNARY, loc);
    n->op = op;
    n->lhs = e;
    return n;
}

static Node *binary(yyscan_t s, int op, Node *l, Node *r, MetaLoc loc, MetaLoc op_loc)
{
    Node *n = make(s, N_BINARY, loc);
    n->op = op;
    n->str_off = op_loc.off;
    n->lhs = l;
    n->rhs = r;
    return n;
}

/* append: adds item to the end of list's children.  Lists are short; a
** tail pointer is not worth a field. */
static Node *append(Node *list, Node *item)
{
    Node **p = &list->items;
    while (*p)
        p = &(*p)->next;
    *p = item;
    return list;
}

/* take_name: an identifier token's name; the token's node goes away. */
static char *take_name(Node *ident)
{
    char *s = ident->str;
    ident->str = NULL;
    node_free(ident);
    return s;
}

/* with_unit: num glued to (or followed by) unit, as in `250 ms`. */
static Node *with_unit(yyscan_t s, Node *num, Node *unit)
{
    MetaLex *lx = meta_get_extra(s);
    if (strlen(unit->str) >= sizeof num->unit) {
        annot_error(lx->a, unit->off, unit->end, "unknown unit '%s'", unit->str);
        lx->errors++;
    } else {
        strcpy(num->unit, unit->str);
    }
    num->unit_off = unit->off;
    num->end = unit->end;
    node_free(unit);
    return num;
}

/* concat: adjacent string literals are one string, as in C. */
static Node *concat(Node *a, Node *b)
{
    char *s = format("%s%s", a->str, b->str);
    free(a->str);
    a->str = s;
    a->end = b->end;
    node_free(b);
    return a;
}

static Node *sizeof_type(yyscan_t s, char *type, MetaLoc loc, MetaLoc type_loc)
{
    Node *n = make(s, N_SIZEOF, loc);
    n->str = type;
    n->str_off = type_loc.off;
    return n;
}

/* type_word: appends a word of a type name, spaced as C spells it. */
static char *type_word(char *type, const char *word)
{
    char *s = format("%s %s", type, word);
    free(type);
    return s;
}
}

%union {
    Node *node;
    char *str;
}

%token <node> NUMBER "number"
%token <node> STRING "string"
%token <node> IDENT "identifier"
%token <node> TYPEWORD "type name"
%token TRUE "true" FALSE "false" RETURN "return" SIZEOF "sizeof"
%token EQ "==" NE "!=" LE "<=" GE ">=" AND "&&" OR "||" ARROW "->"

%type <node> entries entry value braced values expr unary postfix primary
%type <node> strings args key
%type <str> type_name type_words

%destructor { node_free($$); } <node>
%destructor { free($$); } <str>

%left OR
%left AND
%left EQ NE
%left '<' '>' LE GE
%left '+' '-'
%left '*' '/' '%'

%%

/* (void)yynerrs: clang calls bison's counter set but unused otherwise. */
annotation
    : %empty           { meta_get_extra(scanner)->root = make(scanner, N_TABLE, @$);
                         (void)yynerrs; }
    | entries opt_comma { meta_get_extra(scanner)->root = $1; }
    ;

opt_comma
    : %empty
    | ','
    ;

entries
    : entry            { $$ = append(make(scanner, N_TABLE, @$), $1); }
    | entries ',' entry { $$ = append($1, $3); $$->end = @3.end; }
    ;

entry
    : '.' key '=' value {
          $$ = make(scanner, N_ENTRY, @$);
          $$->str_off = $2->off;
          $$->str = take_name($2);
          $$->lhs = $4;
      }
    ;

/* A key is any word, type words included, so that `.int = 1` is an
** unknown key rather than a syntax error. */
key
    : IDENT
    | TYPEWORD
    ;

value
    : expr
    | braced
    ;

braced
    : '{' '}'                     { $$ = make(scanner, N_LIST, @$); }
    | '{' entries opt_comma '}'   { $$ = $2; $$->off = @$.off; $$->end = @$.end; }
    | '{' values opt_comma '}'    { $$ = $2; $$->off = @$.off; $$->end = @$.end; }
    ;

values
    : value            { $$ = append(make(scanner, N_LIST, @$), $1); }
    | values ',' value { $$ = append($1, $3); }
    ;

expr
    : expr OR expr     { $$ = binary(scanner, OP_OR, $1, $3, @$, @2); }
    | expr AND expr    { $$ = binary(scanner, OP_AND, $1, $3, @$, @2); }
    | expr EQ expr     { $$ = binary(scanner, OP_EQ, $1, $3, @$, @2); }
    | expr NE expr     { $$ = binary(scanner, OP_NE, $1, $3, @$, @2); }
    | expr '<' expr    { $$ = binary(scanner, '<', $1, $3, @$, @2); }
    | expr '>' expr    { $$ = binary(scanner, '>', $1, $3, @$, @2); }
    | expr LE expr     { $$ = binary(scanner, OP_LE, $1, $3, @$, @2); }
    | expr GE expr     { $$ = binary(scanner, OP_GE, $1, $3, @$, @2); }
    | expr '+' expr    { $$ = binary(scanner, '+', $1, $3, @$, @2); }
    | expr '-' expr    { $$ = binary(scanner, '-', $1, $3, @$, @2); }
    | expr '*' expr    { $$ = binary(scanner, '*', $1, $3, @$, @2); }
    | expr '/' expr    { $$ = binary(scanner, '/', $1, $3, @$, @2); }
    | expr '%' expr    { $$ = binary(scanner, '%', $1, $3, @$, @2); }
    | unary
    ;

unary
    : postfix
    | NUMBER IDENT     { $$ = with_unit(scanner, $1, $2); }
    | '!' unary        { $$ = unary(scanner, '!', $2, @$); }
    | '-' unary        { $$ = unary(scanner, '-', $2, @$); }
    | '*' unary        { $$ = unary(scanner, '*', $2, @$); }
    | '&' unary        { $$ = unary(scanner, '&', $2, @$); }
    | '~' unary        { $$ = unary(scanner, '~', $2, @$); }
    | SIZEOF unary     { $$ = make(scanner, N_SIZEOF, @$); $$->lhs = $2; }
    | SIZEOF '(' type_name ')' { $$ = sizeof_type(scanner, $3, @$, @3); }
    ;

/* Type names start with a C type keyword (the lexer's TYPEWORD), which
** keeps `sizeof(char *)` apart from `sizeof(a * b)`; `sizeof(T)` for a
** typedef name T is an expression in parentheses, and C reads it right. */
type_name
    : type_words
    | type_name '*'    { $$ = format("%s *", $1); free($1); }
    ;

type_words
    : TYPEWORD         { $$ = take_name($1); }
    | type_words TYPEWORD { $$ = type_word($1, $2->str); node_free($2); }
    | type_words IDENT { $$ = type_word($1, $2->str); node_free($2); }
    ;

postfix
    : primary
    | IDENT '(' ')'    { $$ = make(scanner, N_CALL, @$); $$->str_off = $1->off;
                         $$->str = take_name($1); }
    | IDENT '(' args ')' {
          $$ = $3;
          $$->off = @$.off;
          $$->end = @$.end;
          $$->str_off = $1->off;
          $$->str = take_name($1);
      }
    | postfix '.' IDENT {
          $$ = make(scanner, N_MEMBER, @$);
          $$->op = '.';
          $$->lhs = $1;
          $$->str_off = $3->off;
          $$->str = take_name($3);
      }
    | postfix ARROW IDENT {
          $$ = make(scanner, N_MEMBER, @$);
          $$->op = OP_ARROW;
          $$->lhs = $1;
          $$->str_off = $3->off;
          $$->str = take_name($3);
      }
    | postfix '[' expr ']' {
          $$ = make(scanner, N_INDEX, @$);
          $$->lhs = $1;
          $$->rhs = $3;
      }
    ;

args
    : expr             { $$ = append(make(scanner, N_CALL, @$), $1); }
    | args ',' expr    { $$ = append($1, $3); }
    ;

primary
    : NUMBER
    | strings
    | IDENT
    | TRUE             { $$ = make(scanner, N_BOOL, @$); $$->ival = 1; }
    | FALSE            { $$ = make(scanner, N_BOOL, @$); $$->ival = 0; }
    | RETURN           { $$ = make(scanner, N_RETURN, @$); }
    | '(' expr ')'     { $$ = $2; $$->off = @$.off; $$->end = @$.end; }
    ;

strings
    : STRING
    | strings STRING   { $$ = concat($1, $2); }
    ;

%%

/* ---------------------------------------------------------------------
** Syntax errors, worded as clang words them ("expected ','").
*/

/* punct: the character of a one-character token, or 0. */
static char punct(yysymbol_kind_t k)
{
    const char *s = yysymbol_name(k);
    return s[0] == '\'' && s[1] && s[2] == '\'' ? s[1] : 0;
}

/* continues_value: a token that could extend the value before it. */
static bool continues_value(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_OR: case YYSYMBOL_AND: case YYSYMBOL_EQ: case YYSYMBOL_NE:
    case YYSYMBOL_LE: case YYSYMBOL_GE: case YYSYMBOL_ARROW:
        return true;
    default:
        return punct(k) && strchr("<>+-*/%.[(", punct(k));
    }
}

/* symbol_name: how a message names a token. */
static const char *symbol_name(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_YYEOF: return "end of annotation";
    case YYSYMBOL_YYUNDEF: return "character";
    case YYSYMBOL_NUMBER: return "number";
    case YYSYMBOL_STRING: return "string";
    case YYSYMBOL_IDENT: return "identifier";
    case YYSYMBOL_TYPEWORD: return "type name";
    default: break;
    }
    /* bison names keywords "\"true\"" and characters "','" */
    static char buf[16];
    const char *s = yysymbol_name(k);
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && n < sizeof buf) {
        snprintf(buf, sizeof buf, "'%.*s'", (int)(n - 2), s + 1);
        return buf;
    }
    return s;
}

/* expected_list: "A", "A or B", "A, B or C". */
static char *expected_list(const yysymbol_kind_t *k, int n)
{
    Buf b = {0};
    for (int i = 0; i < n; i++) {
        if (i > 0)
            buf_puts(&b, i == n - 1 ? " or " : ", ");
        buf_puts(&b, symbol_name(k[i]));
    }
    return b.data ? b.data : xstrdup("");
}

/* recent_is: whether the token i places before the lookahead is c (a
** character) or kind (anything else). */
static bool recent_is(const MetaLex *lx, int i, int kind)
{
    return i < lx->nrecent && lx->recent_kind[i] == kind;
}

/* missing_comma: `.a = x .b = y` reads as x.b until the '=', so a
** missing ',' between entries shows up as an unexpected '=' after
** '.' IDENT (or as an unexpected '.' after a value that takes no member). */
static bool missing_comma(const MetaLex *lx, bool comma_expected)
{
    const MetaLoc *r = lx->recent;
    if (recent_is(lx, 0, '=') && recent_is(lx, 1, IDENT) && recent_is(lx, 2, '.') &&
        lx->nrecent >= 4) {
        annot_error(lx->a, r[2].off, r[2].end, "expected ',' between entries");
        annot_fixit(lx->a, r[3].end, r[3].end, ",");
        return true;
    }
    if (recent_is(lx, 0, '.') && comma_expected && lx->nrecent >= 2) {
        annot_error(lx->a, r[0].off, r[0].end, "expected ',' between entries");
        annot_fixit(lx->a, r[1].end, r[1].end, ",");
        return true;
    }
    return false;
}

/* note_opener: "to match this '{'" when a closing bracket is missing. */
static void note_opener(const MetaLex *lx, const yysymbol_kind_t *k, int n)
{
    if (lx->nopen == 0 || lx->nopen > (int)sizeof lx->open_ch)
        return;
    char open = lx->open_ch[lx->nopen - 1];
    char close = open == '(' ? ')' : open == '[' ? ']' : '}';
    for (int i = 0; i < n; i++)
        if (punct(k[i]) == close) {
            size_t off = lx->open_off[lx->nopen - 1];
            annot_note(lx->a, off, off + 1, "to match this '%c'", open);
            return;
        }
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner)
{
    MetaLex *lx = meta_get_extra(scanner);
    lx->errors++;
    const MetaLoc *at = yypcontext_location(ctx);
    yysymbol_kind_t look = yypcontext_token(ctx);
    yysymbol_kind_t k[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, k, YYNTOKENS);
    if (n < 0)
        n = 0;

    bool starts_expr = false, comma = false;
    int ncont = 0;
    for (int i = 0; i < n; i++) {
        starts_expr |= k[i] == YYSYMBOL_NUMBER;
        comma |= punct(k[i]) == ',';
        ncont += continues_value(k[i]);
    }
    if (missing_comma(lx, comma))
        return 0;
    if (starts_expr) {
        annot_error(lx->a, at->off, at->end, "expected expression");
        note_opener(lx, k, n);
        return 0;
    }
    if (look == YYSYMBOL_IDENT && n == 2 && (punct(k[0]) == '.' || punct(k[1]) == '.')) {
        annot_error(lx->a, at->off, at->end, "expected '.' before key name");
        annot_fixit(lx->a, at->off, at->off, ".");
        return 0;
    }
    /* `{ max = 3 }` reads as a list holding `max` until the '=' */
    if (recent_is(lx, 0, '=') && recent_is(lx, 1, IDENT) &&
        (recent_is(lx, 2, '{') || recent_is(lx, 2, ','))) {
        const MetaLoc *key = &lx->recent[1];
        annot_error(lx->a, key->off, key->end, "expected '.' before key name");
        annot_fixit(lx->a, key->off, key->off, ".");
        return 0;
    }
    /* After a value any operator (or a number's unit) could follow: naming
    ** them all is noise.  A type name is expected only where an identifier
    ** is too.  Punctuation first, the end last, reads best. */
    bool after_value = ncont >= 4;
    yysymbol_kind_t shown[YYNTOKENS];
    int m = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < n; i++) {
            if ((after_value && (continues_value(k[i]) || k[i] == YYSYMBOL_IDENT)) ||
                k[i] == YYSYMBOL_TYPEWORD)
                continue;
            int rank = punct(k[i]) ? 0 : k[i] == YYSYMBOL_YYEOF ? 2 : 1;
            if (rank == pass)
                shown[m++] = k[i];
        }
    if (m == 0) {
        annot_error(lx->a, at->off, at->end, "unexpected %s", symbol_name(look));
        return 0;
    }
    char *list = expected_list(shown, m);
    annot_error(lx->a, at->off, at->end, "expected %s", list);
    free(list);
    note_opener(lx, shown, m);
    return 0;
}

/* meta_error: bison's own failures (its stack, 10000 levels deep). */
static void meta_error(META_LTYPE *loc, yyscan_t scanner, const char *msg)
{
    MetaLex *lx = meta_get_extra(scanner);
    lx->errors++;
    if (strstr(msg, "exhausted"))
        annot_error(lx->a, loc->off, loc->end, "annotation is nested too deeply");
    else
        annot_error(lx->a, loc->off, loc->end, "%s", msg);
}

/* node_new: see %code requires. */
Node *node_new(NodeKind kind, size_t off, size_t end)
{
    Node *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->off = off;
    n->end = end;
    return n;
}

#undef meta_parse

/* meta_parse: see ptmcc.h.  The tree is built only if the whole annotation
** is well-formed; otherwise every node made so far is freed. */
Node *meta_parse(const Annot *a)
{
    MetaLex lx = {.a = a};
    yyscan_t scanner;
    if (a->len > INT_MAX / 2) {
        annot_error(a, 0, 0, "annotation is too long");
        return NULL;
    }
    if (meta_lex_init_extra(&lx, &scanner) != 0) {
        error_plain("cannot start the annotation lexer");
        return NULL;
    }
    YY_BUFFER_STATE buf = meta__scan_bytes(a->text, (int)a->len, scanner);
    int rc = meta_parse_tokens(scanner);
    meta__delete_buffer(buf, scanner);
    meta_lex_destroy(scanner);
    if (rc != 0 || lx.errors > 0) {
        node_free(lx.root);
        return NULL;
    }
    return lx.root;
}
