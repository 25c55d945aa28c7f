/*
** ptmcc.h - the map of ptmcc, one section per file, in this order:
**
**   driver.c     argv in cc style, the backend compiler, temporary files
**                (main(): nothing in it is called from elsewhere)
**   front_load.c the front end's shared object, opened on first use
**
**   ptmcc links the driver's files (driver.c, front_load.c, util.c,
**   source.c, diag.c, calls.c, scan.c, compile_db.c, response.c, launch.c,
**   link_libs.c) and no libclang;
**   every other file is in libptmcc_front.so (front_api.c: its table),
**   which binds to the driver's copies of those.
**   util.c       allocation that cannot fail quietly, growable strings
**   source.c     source files loaded once; offsets to line:col
**   diag.c       clang-style diagnostics (text or JSON)
**   meta_lex.l   the annotation's tokens (flex, reentrant)
**   meta_parse.y the annotation's grammar (bison, reentrant, locations)
**   meta.c       key checks, defaults, units, types; success_criteria to C
**   calls.c      what a library call does, from runtime/calls.def: the
**                arguments it writes, the built-in shims, the calls a
**                mirror may make as they are
**
**   The inline executor's facts of a function (inline_facts):
**   inline.c     the phase: bounds_rewrite, prove, redo_rewrite, polls
**   cursor.c     libclang cursors: local objects, addresses, operators
**   spans.c      where an expression's text is, through macros
**   prove.c      the proof that its stores stay in its locals
**   polls.c      its cancellation points
**   bounds_rewrite.c  the checks of its stores into local arrays
**   macro_body.c      accesses a macro's body spells: the clone's
**                     redefinition of the macro
**   macro_args.c      the unit's macros; a parameter's arguments at every
**                     level of nesting
**   redo_rewrite.c    the write-buffer rewrite (mirrors runtime/redo.c)
**
**   The front end (front_parse):
**   front.c      libclang: the unit, its top level, its annotated
**                functions and what their mirrors reach
**   positions.c  offsets and diagnostic positions of cursors
**   annotate.c   annotate attributes; declarations and user shims by name
**   types.c      parameter and result types: frame members, Ty trees
**   resolve.c    a mirror's body: what each call resolves to, redirects,
**                escapes, clones wanted
**   statics.c    function-local statics shared with the clone
**   annot_map.c  the annotation's text, mapped back to the source
**   function.c   one transaction or clone; user shims checked
**   reach.c      escapes: what a mirror reaches that leaves it
**   check_exprs.c  success_criteria and snapshot checked with libclang
**
**   rules.c      rules scripts: found, read, syntax-checked with Lua
**   emit.c       the rewritten C
**   dump.c       --dump-annotations JSON
**   compile_db.c compile_commands.json, for -p
**   response.c   @file arguments expanded
**   launch.c     the launcher convention, the backend's environment,
**                stable copies for caching backends
**   link_libs.c  what ptmcc adds to a link; argument lists
**   scan.c       the cheap text scan: can this unit hold an annotation?
**   verify.c     --verify-mirror: mirrors proven free of raw I/O, on bitcode
*/
#ifndef PTMCC_H
#define PTMCC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define PTMCC_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* util.c -------------------------------------------------------------- */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *format(const char *fmt, ...) PTMCC_PRINTF(1, 2);
/* run_on_deep_stack: main_fn(argc, argv) on a thread whose stack holds
** the walks of an expression nested as deep as clang itself compiles
** (PTMCC_STACK_BYTES); on the calling thread when no such thread can be
** made.  Returns main_fn's result. */
#define PTMCC_STACK_BYTES ((size_t)1 << 30)
int run_on_deep_stack(int (*main_fn)(int, char **), int argc, char **argv);

/* A growable string. */
typedef struct Buf {
    char *data;
    size_t len, cap;
} Buf;
void buf_put(Buf *b, const char *s, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) PTMCC_PRINTF(2, 3);
void buf_free(Buf *b);
/* skip_literal: the offset after the string or character literal that
** starts at t[i] (its quote), looking no further than end. */
size_t skip_literal(const char *t, size_t i, size_t end);

/* source.c ------------------------------------------------------------ */
typedef struct SrcFile {
    char *path;   /* as clang names it */
    char *text;   /* the bytes, NUL-terminated */
    size_t len;
    size_t *lines; /* offsets where lines start, built on first use */
    unsigned nlines;
} SrcFile;

/* A position: a byte offset into a loaded file.  file == NULL: unknown. */
typedef struct SrcLoc {
    SrcFile *file;
    size_t off;
} SrcLoc;

/* read_file: the whole file at path as it is now (no cache), NUL-terminated,
** malloc'd.  OUT: *len.  NULL if it cannot be read. */
char *read_file(const char *path, size_t *len);
/* src_load: the file at path, read once and cached; NULL if unreadable. */
SrcFile *src_load(const char *path);
/* src_load_regular: src_load for a file that must be a regular file of
** at most max bytes (a device or a FIFO would read for ever or block).
** NULL on failure, with *err: an errno of open or read, EINVAL (not a
** regular file), EISDIR, or EFBIG (larger than max). */
SrcFile *src_load_regular(const char *path, size_t max, int *err);
/* src_from_text: a file made from text (tests, annotations without a file). */
SrcFile *src_from_text(const char *path, const char *text);
/* src_line_col: 1-based line and byte column of loc. */
void src_line_col(SrcLoc loc, unsigned *line, unsigned *col);

/* diag.c -------------------------------------------------------------- */
typedef enum { DIAG_TEXT, DIAG_JSON } DiagFormat;

/* The groups of ptmcc's own warnings, each with its -W name
** (-Wptm-unknown-external, ...; -Wptm is all of them). */
typedef enum {
    W_UNKNOWN_EXTERNAL, /* a mirror calls a function ptmcc does not know */
    W_FUNCTION_POINTER, /* a mirror calls through a function pointer */
    W_UNCLONEABLE,      /* a mirror calls a function ptmcc cannot clone */
    W_STATIC_COPY,      /* a clone gets its own copy of a static variable */
    W_UNVERIFIABLE,     /* --verify-mirror cannot judge a call or asm */
    W_UNNOTED,          /* a host call of a note row is left as it is */
    DIAG_NGROUPS
} DiagGroup;

/* What diag_option made of a command-line flag. */
typedef enum {
    DIAG_OPT_NONE,   /* not a diagnostics flag */
    DIAG_OPT_SHARED, /* -w, -ferror-limit=, -fmax-errors=: ptmcc's as well
                        as the backend's */
    DIAG_OPT_OWN,    /* -W[no-][error=]ptm-...: ptmcc's alone */
} DiagOption;

/* diag_option: applies flag a to ptmcc's diagnostics, as clang would to
** its own: -w silences every warning, -Wno-<group> silences one group,
** -Werror=<group> (or -Werror=ptm, every group) makes it an error,
** -Wno-error=<group> keeps it a warning, the last flag winning.  A plain
** -Werror is the backend's alone: ptmcc's warnings say how a mirror will
** run, not that the C is wrong, and a -Werror build must not break because
** ptmcc was put in it;
** -ferror-limit=N stops after N errors (default 20, 0: no limit). */
DiagOption diag_option(const char *a);
const char *diag_group_name(DiagGroup g);

void diag_set_format(DiagFormat f);
/* diag_set_stream: where diagnostics go (NULL: stderr, the default). */
void diag_set_stream(FILE *fp);
/* Each prints file:line:col: kind: message, the source line and a caret
** under loc, spanning len bytes (0 or 1: a single caret). */
void error_at(SrcLoc loc, size_t len, const char *fmt, ...) PTMCC_PRINTF(3, 4);
void warning_at(DiagGroup g, SrcLoc loc, size_t len, const char *fmt, ...)
    PTMCC_PRINTF(4, 5);
void note_at(SrcLoc loc, size_t len, const char *fmt, ...) PTMCC_PRINTF(3, 4);
/* fixit: a replacement for the diagnostic printed last, shown as clang
** shows it (the new text under the caret line). */
void fixit(SrcLoc loc, size_t len, const char *replacement);
/* An error without a position ("ptmcc: error: ..."). */
void error_plain(const char *fmt, ...) PTMCC_PRINTF(1, 2);
int diag_error_count(void);
/* diag_flush: ends JSON output (prints the array); a no-op for text. */
void diag_flush(void);

/* Edit distance, for "did you mean". */
unsigned edit_distance(const char *a, const char *b);
/* closest: the candidate nearest to word, or NULL if none is near enough. */
const char *closest(const char *word, const char *const *candidates, size_t n);

/* The annotation -------------------------------------------------------
** The text of an annotate("ptm.transaction:...") attribute, and where each
** of its bytes came from in the user's source.
*/
typedef struct Annot {
    char *text;     /* the key = value list, as the attribute carries it */
    size_t len;
    SrcLoc origin;  /* PTM_TRANSACTION, or the macro that expanded to it */
    size_t *map;    /* map[i]: the source offset of text[i] (len + 1 entries),
                       in origin.file; NULL: every byte maps to origin */
    /* Written through a user macro (#define BANK_TX(id) PTM_TRANSACTION(...)):
    ** map_file[i] is the file of map[i] (the macro's definition may be in a
    ** header), and from_macro[i] is set for bytes spelled in the macro's
    ** body; clang reports those at the macro's use (origin) with a note
    ** "expanded from macro" at the exact spot.  NULL: none of this. */
    SrcFile **map_file;
    unsigned char *from_macro;
    char *macro;    /* the user macro's name, or NULL */
} Annot;

/* annot_loc: the source position of text offset off (exact when mapped). */
SrcLoc annot_loc(const Annot *a, size_t off);
/* annot_error / annot_note: a diagnostic over text span [off, end) of a,
** placed as clang places it (a span from a user macro's body is reported
** at the macro's use, with a note "expanded from macro").  a NULL: none.
** annot_fixit: a replacement for that span, when it is written out at
** the macro's use or in plain PTM_TRANSACTION(...). */
void annot_error(const Annot *a, size_t off, size_t end, const char *fmt, ...)
    PTMCC_PRINTF(4, 5);
void annot_note(const Annot *a, size_t off, size_t end, const char *fmt, ...)
    PTMCC_PRINTF(4, 5);
void annot_fixit(const Annot *a, size_t off, size_t end, const char *replacement);
/* annot_free: frees what a owns and zeroes it. */
void annot_free(Annot *a);
/* annot_map_source: aligns a's tokens with the tokens of the macro
** arguments at args (the text between PTM_TRANSACTION's parentheses, in
** origin.file), filling a->map when they match one for one. */
void annot_map_source(Annot *a, size_t args_off, size_t args_end);

/* meta_lex.l / meta_parse.y ------------------------------------------- */
typedef enum {
    N_TABLE,   /* { .k = v, ... } and the whole annotation: items are N_ENTRY */
    N_ENTRY,   /* .str = lhs */
    N_LIST,    /* { a, b }: items */
    N_NUM,     /* num (is_int: ival), unit ("" or "ms", ...), str: as spelled */
    N_STR,     /* str, unescaped */
    N_BOOL,    /* ival */
    N_IDENT,   /* str */
    N_RETURN,  /* the keyword `return` */
    N_CALL,    /* str(items) */
    N_UNARY,   /* op lhs */
    N_BINARY,  /* lhs op rhs */
    N_MEMBER,  /* lhs.str or lhs->str (op '.' or OP_ARROW) */
    N_INDEX,   /* lhs[rhs] */
    N_SIZEOF,  /* sizeof lhs, or sizeof(str) when lhs is NULL: str is a type */
} NodeKind;

enum { OP_EQ = 256, OP_NE, OP_LE, OP_GE, OP_AND, OP_OR, OP_ARROW };

typedef struct Node Node;
struct Node {
    NodeKind kind;
    size_t off, end;     /* span in the annotation text */
    char *str;
    size_t str_off;      /* N_ENTRY: the key; N_MEMBER: the field;
                            N_BINARY: the operator; N_SIZEOF: the type */
    double num;
    int64_t ival;
    bool is_int;
    char unit[8];
    size_t unit_off;
    int op;              /* '!', '-', '<', '>', OP_EQ, ... */
    Node *lhs, *rhs;
    Node *items;         /* children, linked by next */
    Node *next;
};

/* meta_parse: parses an annotation.  Syntax errors are reported through
** diag at their source position.  Returns the N_TABLE of its entries, or
** NULL after an error. */
Node *meta_parse(const Annot *a);
void node_free(Node *n);

/* meta.c -------------------------------------------------------------- */
typedef enum { MIRROR_AUTO, MIRROR_INLINE, MIRROR_FORK, MIRROR_OFF } MirrorMode;
typedef enum { BACKOFF_NONE, BACKOFF_CONSTANT, BACKOFF_EXPONENTIAL } BackoffKind;
typedef enum { SAMPLING_ALWAYS, SAMPLING_ADAPTIVE } MirrorSampling;

typedef struct NameRef {
    char *name;
    size_t off, len;     /* in the annotation text */
} NameRef;

/* The largest exploration a transaction may ask: a share of calls whose
** predicted failure is let happen (runtime/sampling.c bounds it too). */
#define META_EXPLORATION_MAX 0.05
/* The largest retry_budget ratio (PTM_RETRY_BUDGET's bound). */
#define META_RETRY_BUDGET_MAX 1000.0

typedef struct Meta {
    char *transaction_id;         /* default: the function's name */
    bool failure_prediction_enabled;
    NameRef *alternatives;
    int n_alternatives;
    uint64_t memory_bytes;        /* 0: not given */
    unsigned cpus;                /* 0: not given */
    Node *success;                /* the expression, or NULL */
    unsigned retry_max;
    BackoffKind backoff;
    uint64_t backoff_base_us, backoff_cap_us;
    uint64_t timeout_us;          /* 0: none */
    uint64_t mirror_deadline_us;  /* 0: not given (the timeout's, else 1 s) */
    double threshold;
    MirrorMode mirror;
    size_t mirror_off, mirror_len;  /* of its value, for diagnostics */
    char *rules;                  /* as written, or NULL */
    size_t rules_off;             /* of the string, for diagnostics */
    Node *snapshot;               /* N_LIST of { addr, size } lists, or NULL */
    bool gate;                    /* the commit gate (concurrent mode) */
    MirrorSampling mirror_sampling; /* default: always */
    double exploration;           /* 0: none; at most META_EXPLORATION_MAX */
    double retry_budget;          /* a ratio, with retry_budget_set */
    bool retry_budget_set;
    Node *root;                   /* owns every Node above */
} Meta;

/* A C type as the metadata checks see it: types.c builds these from
** libclang, meta.c only reads them.  TY_UNKNOWN turns the checks off (an
** enum constant, a macro, a type too deep to describe). */
typedef enum { TY_UNKNOWN, TY_VOID, TY_SCALAR, TY_POINTER, TY_RECORD } TyKind;

typedef struct Ty Ty;
typedef struct TyField {
    char *name;
    Ty *type;
    SrcLoc loc;                   /* its declaration, for "declared here" */
} TyField;

struct Ty {
    TyKind kind;
    char *spelling;               /* as clang spells it: "struct result *" */
    Ty *pointee;                  /* TY_POINTER (arrays count as pointers) */
    TyField *fields;              /* TY_RECORD; none when incomplete */
    int nfields;
    Ty *next;                     /* the owner's list of every Ty it made */
};

/* What meta.c needs to know of the annotated function. */
typedef struct FuncSig {
    const char *name;
    bool returns_void;
    bool returns_record;          /* struct or union: return.field allowed */
    const char *const *params;    /* parameter names */
    int nparams;
    const Ty *ret;                /* the result type; NULL: unknown */
    const Ty *const *param_types; /* parallel to params; NULL: unknown */
} FuncSig;

/* meta_check: applies defaults and checks every key of root against the
** language (unknown keys with a did-you-mean, duplicates, types, units,
** ranges), reporting every error.  Returns true when there was none.
** Either way *out is filled and owns root (NULL: defaults only, false);
** release it with meta_free. */
bool meta_check(const Annot *a, Node *root, const FuncSig *fn, Meta *out);
/* criteria_to_c: success_criteria as a C expression over the frame pointer
** `frame` (return -> frame->ret, errno -> frame->err, a parameter p ->
** frame->arg.p; other names are left to C: enum constants and macros). */
char *criteria_to_c(const Node *expr, const FuncSig *fn, const char *frame);
/* expr_to_c: any checked expression (a snapshot's address or size) as C
** over `frame`, translated like criteria_to_c.  Returns a malloc'd string. */
char *expr_to_c(const Node *expr, const FuncSig *fn, const char *frame);
/* criteria_accepted_errnos: the values success_criteria compares errno
** with for equality (not under '!'): errnos it counts as success.  OUT:
** out[0, n), their nodes.  Returns n <= max. */
int criteria_accepted_errnos(const Node *expr, const FuncSig *fn, const Node **out, int max);
/* ExprPlace: at(b, off, ctx) appends to b what puts the text after it at
** offset off of the annotation (a newline, a #line and blanks). */
typedef struct ExprPlace {
    void (*at)(Buf *b, size_t off, void *ctx);
    void *ctx;
} ExprPlace;
/* expr_needs_backend: whether expr names what only C resolves (a name
** other than errno and fn's parameters, a call, a type): meta_check could
** not check it whole. */
bool expr_needs_backend(const Node *expr, const FuncSig *fn);
/* expr_to_c_placed: expr_to_c, with every name, operator, type and member
** placed by place, so that the backend reports an error in it there. */
char *expr_to_c_placed(const Node *expr, const FuncSig *fn, const char *frame,
                       const ExprPlace *place);
void meta_free(Meta *m);

/* calls.c ------------------------------------------------------------- */
/* call_written's answer for a call that changes library state of its own
** (strtok, setenv, rand): no argument list shows what it writes. */
#define CALL_WRITES_STATE (~0u)
/* call_written's answer for a call that writes argument n and every one
** after it (sscanf's outputs). */
#define CALL_ALL_FROM(n) (~0u << (n))

/* call_written: the arguments the library function name writes memory
** through: bit i set = argument i; CALL_WRITES_STATE: it changes library
** state (or writes what its arguments cannot show); 0: none, or unknown. */
unsigned call_written(const char *name);
/* call_routed: the arguments of call_written(name) that name's built-in
** shim fills in the mirror's view itself (it knows the size); 0: none. */
unsigned call_routed(const char *name);
/* call_through_buffer: true when the shims send name's memory accesses
** through the write buffer (memcpy, free ...), so a mirror's call needs
** no rewrite of its arguments. */
bool call_through_buffer(const char *name);
/* call_shim_family: the family of name's built-in shim (a shim row of
** runtime/calls.def: "file", "stdio" ...), or NULL if it has none. */
const char *call_shim_family(const char *name);
/* call_is_pure: true when name has no effect outside the process (a pure
** row of runtime/calls.def, or a compiler builtin calls.c knows: one that
** stands for a pure library function, or one of its builtin families), so
** that a mirror calls it as it is.  A built-in shim is not: it is
** redirected first. */
bool call_is_pure(const char *name);
/* call_is_noted: true when name has a note row in runtime/calls.def: its
** calls in host code go to ptm_note_<name>, which tells the runtime. */
bool call_is_noted(const char *name);
/* call_note_names: the names of the note rows, NULL-terminated. */
const char *const *call_note_names(void);

/* inline.c ------------------------------------------------------------ */
#include <clang-c/Index.h>

/* A cancellation point: the clone polls ptm_mirror_cancel at off; wrap:
** the statement at [off, wrap_end) has no braces and gets some. */
typedef struct Poll {
    size_t off;
    bool wrap;
    size_t wrap_end;
} Poll;

/* An edit of a mirror clone that sends an access through the write
** buffer: [off, off+len) becomes text (len 0: an insertion).  order ranks
** edits at one offset: an outer access's opening before an inner one's,
** an inner access's closing before an outer one's. */
typedef struct RedoEdit {
    size_t off, len;
    int order;
    char *text;
} RedoEdit;

/* A macro whose body an instrumented clone redefines, its accesses sent
** through the write buffer (macro_body.c): def is "NAME(params) body". */
typedef struct MacroRedef {
    char *name;
    char *def;
} MacroRedef;

typedef struct InlineFacts {
    bool local_stores_only; /* every store stays in the function's locals */
    char *blocker;          /* else the first one that does not, with where */
    size_t blocker_off;
    Poll *polls;            /* where its clone polls for cancellation */
    int npolls;
    bool redo_ok;           /* every access to memory other than its locals
                               can be sent through the write buffer */
    char *redo_blocker;     /* else the first one that cannot, with where */
    size_t redo_blocker_off;
    RedoEdit *redo;         /* the edits that do it */
    int nredo;
    RedoEdit *bounds;       /* the checks of its stores into local arrays,
                               made in every mirror clone */
    int nbounds;
    MacroRedef *macros;     /* macros its instrumented clone redefines */
    int nmacros;
} InlineFacts;

/* What a mirror's call goes to, as resolve.c resolves it: is_user_shim(ctx,
** name): a user shim (PTM_MIRROR_OF); is_clone(ctx, callee): the mirror
** clone of a function of this unit (which routes its own accesses), not
** the library (whose inline functions in system headers are not cloned). */
typedef struct Callees {
    bool (*is_user_shim)(const void *ctx, const char *name);
    bool (*is_clone)(const void *ctx, CXCursor callee);
    const void *ctx;
} Callees;

/* inline_facts: proves (or not) that fn, whose body is body in file,
** stores only into its own locals; finds its cancellation points; and
** makes the edits that send its other accesses through the write buffer
** (ptm_redo_ld, ptm_redo_st, ptm_redo_own of ptm_gen.h), or says why it
** cannot; and checks its stores into local arrays whose index or length
** is computed (ptm_local_at, ptm_local_fit).  A built-in shim that fills a
** buffer writes the buffer's view itself; a user shim is the user's code,
** and gets checked pointers.
** OUT: *out (free with inline_facts_free). */
void inline_facts(CXCursor fn, CXCursor body, SrcFile *file, const Callees *callees,
                  InlineFacts *out);
void inline_facts_free(InlineFacts *f);

/* cursor.c ------------------------------------------------------------ */
/* A cursor's children: the first 4 in c, and how many it has in n
** (unexposed wrappers included). */
typedef struct Kids {
    CXCursor c[4];
    int n;
} Kids;

/* spelling: c's spelling, malloc'd. */
char *spelling(CXCursor c);
/* cursor_offset: the expansion offset of a cursor in the function's file. */
size_t cursor_offset(CXCursor c);
/* reason_at: "<what> at file:line:col", what formatted from fmt and ap,
** at cursor at of file.  Owned by the caller. */
char *reason_at(SrcFile *file, CXCursor at, const char *fmt, va_list ap) PTMCC_PRINTF(3, 0);
/* kids_of: the first children of c (unexposed wrappers included). */
Kids kids_of(CXCursor c);
/* strip_parens: c, looked at through parentheses. */
CXCursor strip_parens(CXCursor c);
/* strip: c, looked at through parentheses and implicit casts. */
CXCursor strip(CXCursor c);
/* is_own_local: whether a declaration is an automatic variable of the
** function being looked at (a parameter counts: its value is the frame's). */
bool is_own_local(CXCursor decl);
/* is_pointer_type: whether t is a pointer, canonically. */
bool is_pointer_type(CXType t);
/* is_array_object: whether e is an array object (not a pointer, not a
** parameter declared as an array). */
bool is_array_object(CXCursor e);
/* is_local_object: whether an lvalue names (part of) one of the function's
** own locals without going through a pointer: x, x.f, x[i] with x an
** array, (x), and those nested. */
bool is_local_object(CXCursor e);
/* is_null_constant: a null pointer constant (NULL, 0, (void *)0). */
bool is_null_constant(CXCursor e);
/* is_local_address: an argument a library call may write through: a local
** array (decayed), &local_object, or a null pointer. */
bool is_local_address(CXCursor e);
/* is_errno: errno, that is (*__errno_location()). */
bool is_errno(CXCursor e);
/* is_increment: whether the unary operator c is ++ or --. */
bool is_increment(CXCursor c);
/* statement_end: where a statement that ends at e of file really ends:
** after its ';', which clang's extents leave out. */
size_t statement_end(const SrcFile *file, size_t e);
/* op_spelling_unary, op_spelling_binary: the operator of c, malloc'd. */
char *op_spelling_unary(CXCursor c);
char *op_spelling_binary(CXCursor c);
/* is_bit_field: e is a member access of a bit-field. */
bool is_bit_field(CXCursor e);

/* spans.c ------------------------------------------------------------- */
/* A span already rewritten: a macro argument expanded twice is one text. */
typedef struct Done {
    size_t start, end;
    const char *kind;
} Done;

/* A rewrite of one function's text in progress: the write buffer's
** (redo_rewrite.c) or the bounds checks' (bounds_rewrite.c). */
typedef struct Redo {
    InlineFacts *out;
    SrcFile *file;
    CXFile cxfile;
    const Callees *callees;
    int seq;
    bool from_macro; /* the last span was a macro argument's */
    enum CXCursorKind parent; /* of the cursor walk_child is visiting */
    Done *done;
    int ndone;
    size_t lo, hi; /* the function body's text: where edits can go */
    struct BodyRange *body; /* accesses spelled in macros' bodies */
    int nbody;
    const char *macro_why; /* why the last body range could not be placed, or NULL */
    CXCursor *read_arrays; /* arrays a body spells that decay into a library
                              reader's view (not an escape) */
    int nread_arrays;
} Redo;

/* redo_start: a rewrite of the function whose body is body in file, its
** edits and blockers going to out; its r.done is the caller's to free. */
Redo redo_start(CXCursor body, SrcFile *file, const Callees *callees, InlineFacts *out);
/* written_in_file: whether c's text is written out where it stands (not by
** a macro, in one file: file, unless NULL).  OUT: *start, *end. */
bool written_in_file(CXCursor c, CXFile file, unsigned *start, unsigned *end);
/* skip_space: the offset past blanks and comments from i, before end. */
size_t skip_space(const SrcFile *file, size_t i, size_t end);
/* span: where c's text is in the function's file, [*start, *end), when a
** rewrite can wrap it there (written in the file, in a macro argument, or
** a whole macro invocation); sets r->from_macro.  False: it cannot. */
bool span(Redo *r, CXCursor c, size_t *start, size_t *end);
/* expands_to_use: whether the user macro [t, t+n) expands to exactly one
** use of the macro inner, through bodies that are each one whole use of
** the next (hvalue(o) -> check_exp(c, gco2t(...))). */
bool expands_to_use(CXTranslationUnit tu, const char *t, size_t n, const char *inner);
/* in_macro_argument: whether c's text, spelled at [s, e) of file, is whole
** inside one argument of the macro use its expansion starts at. */
bool in_macro_argument(const SrcFile *file, CXCursor c, size_t s, size_t e);
/* span_postfix: span, or, for a member access on a macro's use (a
** pointer's value: ci_func(ci)->p, whose ->source is then read), the use
** and the member's text after it. */
bool span_postfix(Redo *r, CXCursor c, size_t *start, size_t *end);
/* once: whether [start, end), just spanned, is still to be rewritten as
** kind (a macro argument the macro expands twice is rewritten once). */
bool once(Redo *r, size_t start, size_t end, const char *kind);
/* find_op: where the operator token op is, first thing in [from, to) of
** file.  OUT: *at.  False if it is not there. */
bool find_op(const SrcFile *file, size_t from, size_t to, const char *op, size_t *at);

/* prove.c ------------------------------------------------------------- */
/* prove_stores: proves (or not) that fn, whose body is body in file,
** stores only into its own locals: else out->blocker says the first store
** that does not, and where (out->blocker_off). */
void prove_stores(CXCursor fn, CXCursor body, SrcFile *file, InlineFacts *out);
/* atomic_writer: when c is an atomic operation (C11 or GNU, an unexposed
** expression to libclang) that writes other than to a local object, its
** name, malloc'd; else NULL. */
char *atomic_writer(const SrcFile *file, CXCursor c);

/* polls.c ------------------------------------------------------------- */
/* find_polls: the cancellation points of the clone of a function whose
** body is body in file (out->polls). */
void find_polls(CXCursor body, SrcFile *file, InlineFacts *out);

/* bounds_rewrite.c ---------------------------------------------------- */
/* bounds_checks: the checks of a function's stores into local arrays
** (out->bounds), or why it cannot run inline (out->blocker and
** out->redo_blocker). */
void bounds_checks(CXCursor body, SrcFile *file, const Callees *callees, InlineFacts *out);
/* local_root: the local variable a local object e (is_local_object) is
** part of, in *root; *computed is set when one of its subscripts is not
** constant inside its array.  False when e is not one. */
bool local_root(CXCursor e, CXCursor *root, bool *computed);
/* local_dest: the local variable a destination a library call writes
** points into (*root): buf, &obj, &buf[i], buf + k, k + buf, buf - k.
** False when it is not a local's address. */
bool local_dest(CXCursor arg, CXCursor *root);
/* pure_local: e reads only the function's locals and constants, without
** side effects. */
bool pure_local(CXCursor e);
/* filler_of: whether name fills a destination with a length it is given:
** OUT: its arguments *dest, *count and *unit (the size of a unit; -1: one
** byte). */
bool filler_of(const char *name, int *dest, int *count, int *unit);
/* is_unbounded_writer: whether name fills argument 0 as far as its data
** goes (strcpy, sprintf ..., fortified or not). */
bool is_unbounded_writer(const char *name);
/* unbounded_name: where the name of an unbounded writer's call is written
** (*at) and its '(' (*open), in the body's own text.  False when it is not
** written there (from a macro's body), or the call was already renamed. */
bool unbounded_name(Redo *r, CXCursor call, size_t *at, size_t *open);

/* macro_body.c -------------------------------------------------------- */
/* macro_body_access: records that e, an access spelled in a user macro's
** body, is loaded (or stored, store) by the function: the clone's
** redefinition of the macro wraps its text.  False: e's text is not one
** range of one body. */
bool macro_body_access(Redo *r, CXCursor e, bool store);
/* macro_body_escape: records that e (and the objects enclosing it through
** '.') has its address taken or decays, where a body spells it. */
void macro_body_escape(Redo *r, CXCursor e);
/* macro_body_spells: whether e's text starts in a user macro's body
** (callfrealloc's (*g->frealloc)). */
bool macro_body_spells(CXCursor e);
/* macro_body_callee: records that callee, the callee of a call through a
** pointer, is a range of a user macro's body, the call's '(' following
** it there: the clone's redefinition sends it to ptm_clone_of.  False: it
** is not such a range. */
bool macro_body_callee(Redo *r, CXCursor callee);
/* macro_body_insert: records that text (owned, freed here) follows the
** declaration statement stmt, whose whole text, ';' and declared name
** (decl's) a user macro's body spells: the clone's redefinition inserts
** it there (a local's registration).  False: the body does not spell it
** so. */
bool macro_body_insert(Redo *r, CXCursor stmt, CXCursor decl, char *text);
/* macro_body_finish: checks the recorded ranges (redo_block_at when one
** cannot be wrapped) and makes r->out->macros; frees r->body. */
void macro_body_finish(Redo *r);

/* macro_state.c ------------------------------------------------------- */
/* macro_state_at: for a clone of the function at [lo, hi) of main, put at
** the end of the file: push_macro, #undef and the definition in force at
** lo of each macro that a directive at or after lo defines or undefines
** and that the function or a user macro's body names; OUT: *pops, their
** pop_macro.  Both malloc'd (empty when there is none). */
char *macro_state_at(CXTranslationUnit tu, const SrcFile *main, size_t lo, size_t hi,
                     char **pops);
/* macro_state_forget: drops what macro_state_at read of tu, before tu is
** disposed (a later unit may have the same address). */
void macro_state_forget(CXTranslationUnit tu);
/* macro_directive_in: whether a line of [lo, hi) of file is a #define or
** #undef of name. */
bool macro_directive_in(const SrcFile *file, size_t lo, size_t hi, const char *name);

/* macro_args.c -------------------------------------------------------- */
/* A macro definition of the unit: name, where its text is ([start, end)
** of text, its body from body), whether it takes arguments. */
typedef struct UnitMacro {
    CXCursor cursor;
    char *name;
    CXFile file;
    const char *text;
    unsigned start, body, end;
    bool fnlike;
    bool system; /* in a system header */
} UnitMacro;
/* macro_defs: the macro definitions of tu (kept until another unit's are
** asked for).  OUT: *defs.  Returns how many. */
int macro_defs(CXTranslationUnit tu, const UnitMacro **defs);
/* macro_param_plain: whether the parameter t[0, n) of def receives one
** plain name (an identifier no macro defines) wherever def is used: in
** every macro body of tu, through the parameters of the macros that pass
** it on, and in [lo, hi) of file (the function's text; NULL: not
** checked).  False too when t is no parameter of def. */
bool macro_param_plain(CXTranslationUnit tu, const UnitMacro *def, const char *t, size_t n,
                       const SrcFile *file, size_t lo, size_t hi);

/* redo_rewrite.c ------------------------------------------------------ */
/* redo_block_at: the function's clone cannot be instrumented: what, at
** at, unless an earlier reason was recorded (r->out->redo_blocker). */
void redo_block_at(Redo *r, CXCursor at, const char *what);
/* redo_rewrite: the edits of fn (body in file) that send its accesses to
** memory other than its locals through the write buffer, and register its
** local objects (out->redo), or why it cannot (out->redo_blocker). */
void redo_rewrite(CXCursor fn, CXCursor body, SrcFile *file, const Callees *callees,
                  InlineFacts *out);

/* front.c ------------------------------------------------------------- */
typedef struct Param {
    char *name;
    char *type;          /* spelling for a frame member, qualifiers dropped */
    bool va_list;        /* a va_list: the frame holds a va_copy, each call
                            of a clone or an alternative its own copy */
    bool vla;            /* variably modified: carried as void *, assigned
                            with a cast (const int m[n][n] included) */
} Param;

/* A reference in a mirror's body to redirect, resolved in the order of
** docs/DESIGN.md §3: a user shim (PTM_MIRROR_OF), a built-in shim, the mirror
** clone of a function of this unit, the clone in another file of a
** PTM_MIRRORABLE function. */
typedef struct Redirect {
    char *name;          /* the function referred to: "fprintf", "audit" */
    size_t off, len;     /* the name token in the function's file; len 0: the
                            reference comes from a macro's body, and a
                            scoped function-like macro redirects it */
    char *target;        /* what the mirror refers to instead */
} Redirect;

/* A function-local static of a cloned function, moved to file scope so
** that the original (or primary) and the mirror clone share it. */
typedef struct Hoist {
    char *name;          /* as declared: "calls" */
    char *new_name;      /* "f__ptm_static_calls" */
    size_t decl_off, decl_end; /* the declaration, its ';' included */
    size_t name_off;     /* the name in the declaration */
    size_t *refs;        /* the name's uses in the body */
    int nrefs;
} Hoist;

/* A call in a mirror that leaves the mirror's control: an unknown external
** or a call through a function pointer. */
typedef struct Escape {
    char *callee;        /* the function; NULL: through a function pointer */
    SrcLoc loc;
    size_t len;
    bool macro_defined;  /* callee is defined here, by a macro: no clone */
} Escape;

typedef struct Func {
    char *name;
    SrcFile *file;       /* the main file, or the header of a static inline */
    size_t start, end;   /* the definition, annotation included */
    size_t name_off;     /* the name in the declarator */
    size_t body_off;     /* its '{' */
    bool old_style;      /* K&R: f(a, b) int a; char *b; { ... } */
    size_t params_open, params_close; /* K&R: the identifier list's '(' and ')' */
    size_t decls_off;    /* K&R: where the parameters' declarations start
                            (body_off when there are none: all implicit int) */
    size_t annot_off, annot_end; /* PTM_TRANSACTION(...) (or PTM_MIRRORABLE)
                                    when written in this definition, else
                                    annot_end == 0 */
    char *ret_type;
    bool returns_void, returns_record, returns_pointer;
    /* A record result's pointer members, as paths (".name", ".in.buf"): a
    ** dry run's caller gets them null, not pointing into the mirror's
    ** memory.  ret_wipe: one sits where no path reaches (a union, an
    ** array, an unnamed member): the whole result is zeroed instead. */
    char **ret_pointers;
    int nret_pointers;
    bool ret_wipe;
    Param *params;
    int nparams;
    Ty *ret_ty;          /* for the criteria checks (transactions) */
    Ty **param_tys;
    Ty *types;           /* owns every Ty above */
    Redirect *redirects; /* in the mirror clone */
    int nredirects;
    Redirect *macro_redirects; /* names called from inside macros (len 0) */
    int nmacro_redirects;
    size_t *self_refs;   /* the function's own name in its body (recursion):
                            the primary calls itself, not the wrapper */
    int nself_refs;
    Hoist *hoists;       /* its function-local statics, moved out */
    int nhoists;
    Escape *escapes;     /* calls its mirror cannot keep in the mirror */
    int nescapes;
    char **callees;      /* functions of this unit whose clones it calls */
    int ncallees;
    char **xcallees;     /* functions of other files whose clones it calls
                            (PTM_MIRRORABLE, or any under -fptm-mirror-all) */
    int nxcallees;
    struct Indirect { size_t start, end; } *indirects; /* -fptm-mirror-all:
                            callees of calls through pointers, written in
                            the body: the clone asks ptm_clone_of for the
                            target's clone */
    int nindirects;
    char *macro_push;    /* the macros in force at its start, restored
                            before its clone (macro_state.c), or NULL */
    char *macro_pop;     /* ... and their pop_macro after it */
    int nbody_indirects; /* -fptm-mirror-all: calls through pointers whose
                            callee a user macro's body spells: the clone's
                            redefinition of the macro wraps them */
    bool xtu_reach;      /* transactions: the mirror reaches clones of other
                            files, which the runtime resolves (ABI 7) */
    bool external_clone; /* PTM_MIRRORABLE: its clone is visible to other files */
    bool static_by_macro; /* static through a macro (zlib's `local`): its
                             clone's copied header already says static */
    bool no_pointer;     /* -fptm-mirror-all: static, and the unit names it
                            only to call it: no pointer can hold it, so it
                            has no row in the clone map (front.c) */
    unsigned func_names; /* bit 0: __func__ in its body (from a macro too),
                            1: __FUNCTION__, 2: __PRETTY_FUNCTION__; its
                            renamed copies pin them to name */
    bool has_prior_decl; /* declared before its definition */
    bool needs_fork;     /* transactions: an escape is reachable from the mirror */
    char *mirror_reason; /* why ("calls unknown external 'x' (f.c:3)"), or NULL */
    InlineFacts inl;     /* its stores, and its clone's cancellation points */
    bool inline_ok;      /* transactions: the inline executor may run the mirror */
    bool redo;           /* its clone's accesses go through the write buffer
                            (a mirror that reaches it stores outside its
                            locals somewhere) */
    bool tx_redo;        /* transactions: the mirror needs the write buffer */
    char *inline_blocker; /* else why not, when the mirror needs no fork: the
                             first store outside a function's locals */
    Annot annot;
    Meta meta;
    char *rules_text;    /* the `rules` script, read by rules_load */
    char *rules_path;    /* where it was found */
} Func;

typedef struct Unit {
    SrcFile *main;
    Func *funcs;         /* the transactions, in source order */
    int nfuncs;
    Func *clones;        /* other functions reachable from a mirror, and the
                            PTM_MIRRORABLE ones: each gets a mirror clone */
    int nclones;
    char **xtu;          /* PTM_MIRRORABLE functions of other files that
                            mirrors call: weak references to their clones */
    int nxtu;
    /* The note rows (calls.def) whose functions the main file refers to,
    ** by offset: host code sends them to ptm_note_<name> from the first
    ** top-level declaration of the main file that refers to each. */
    struct Note { char *name; size_t at; } *notes;
    int nnotes;
} Unit;

/* front_parse: parses path with libclang under args (cc flags, no inputs or
** outputs) and collects its transactions, checking their metadata, and the
** functions their mirrors reach.  Errors and warnings (unknown externals)
** are reported through diag.  Returns NULL after any error.  notes_only:
** the scan found only a note row's name; a unit libclang cannot parse is
** then a warning (-Wptm-unnoted) and an empty unit, left to the backend as
** the user wrote it, as it was before ptmcc knew of notes. */
Unit *front_parse(const char *path, const char *const *args, int nargs, bool notes_only);
/* front_set_mirror_all: -fptm-mirror-all: every function the unit defines
** gets a mirror clone (exported when the function is, with its facts for
** the runtime), and a mirror's call of a function of another file goes to
** that file's clone, found by symbol, instead of being an unknown
** external.  Off: only PTM_MIRRORABLE functions do. */
void front_set_mirror_all(bool on);
/* front_mirror_all: whether -fptm-mirror-all was given. */
bool front_mirror_all(void);
void unit_free(Unit *u);
/* unit_needs_rewrite: whether u has anything to emit: a transaction, a
** PTM_MIRRORABLE function whose clone other files call, or a host call of a
** note row of calls.def. */
bool unit_needs_rewrite(const Unit *u);

/* A macro expansion in the main file: [start, end) offsets. */
typedef struct Expansion {
    size_t start, end;
    char *name;
    CXCursor def;        /* its MacroDefinition */
} Expansion;

/* A function declared PTM_MIRROR_OF(target). */
typedef struct UserShim {
    char *target;
    char *shim;
    CXCursor decl;
    CXCursor attr;
} UserShim;

/* A function to clone, found while bodies are scanned. */
typedef struct Pending {
    CXCursor def;
} Pending;

/* The state of one parse, which the files of the front end share. */
typedef struct Front {
    CXTranslationUnit tu;
    SrcFile *main;
    CXFile main_cx;
    Expansion *exps;
    int nexps;
    /* Every function declared in the unit, by name (the first declaration). */
    struct Decl { char *name; CXCursor cursor; } *decls;
    /* Variables at file scope, by name: an alternative named like one is
    ** declared, but not a function. */
    struct Decl *vars;
    int nvars;
    int ndecls;
    UserShim *shims;
    int nshims;
    /* Annotated definitions found, in order. */
    CXCursor *tx;
    int ntx;
    /* Functions a mirror reaches (and PTM_MIRRORABLE definitions): each
    ** gets a mirror clone.  Grows while bodies are scanned. */
    Pending *clones;
    int nclones;
    /* PTM_MIRRORABLE functions of other files that mirrors call (any
    ** function of another file, under -fptm-mirror-all). */
    char **xtu;
    int nxtu;
    bool mirror_all;     /* -fptm-mirror-all */
} Front;

/* positions.c --------------------------------------------------------- */
/* text_of: a malloc'd copy of a CXString, disposing it. */
char *text_of(CXString s);
/* file_text: the text of f, a file of tu (NULL when f is NULL or has no
** buffer), kept for the next asks; it lives as long as tu.  OUT: *len. */
const char *file_text(CXTranslationUnit tu, CXFile f, size_t *len);
/* file_text_forget: drops what file_text keeps of tu, before its dispose. */
void file_text_forget(CXTranslationUnit tu);
/* push_name: appends a copy of name to a list (*v, *n) unless it is there. */
void push_name(char ***v, int *n, const char *name);
/* expansion_in: the expansion offset of loc (OUT: *off), and whether it is
** in file. */
bool expansion_in(CXSourceLocation loc, CXFile file, size_t *off);
/* spelling_in: the spelling offset of loc (OUT: *off), and whether it is
** in file. */
bool spelling_in(CXSourceLocation loc, CXFile file, size_t *off);
/* expansion_off: expansion_in for the unit's main file. */
bool expansion_off(Front *fr, CXSourceLocation loc, size_t *off);
/* file_of: the loaded file of a libclang file. */
SrcFile *file_of(Front *fr, CXFile f);
/* loc_at: a location as a diagnostic position (expansion). */
SrcLoc loc_at(Front *fr, CXSourceLocation loc);
/* loc_of: a cursor's location as a diagnostic position (expansion). */
SrcLoc loc_of(Front *fr, CXCursor c);
/* cursor_file: the file a cursor is written in (expansion), or NULL. */
CXFile cursor_file(CXCursor c);
/* has_clang_errors: whether libclang found an error in the unit. */
bool has_clang_errors(Front *fr);
/* report_clang_errors: prints libclang's errors as diagnostics; true when
** there was at least one (the unit cannot be rewritten). */
bool report_clang_errors(Front *fr);
/* definition_spelled: whether def's name is written out in the file it is
** defined in (not produced by a macro), and its text holds whole
** preprocessor conditionals, so that it can be cloned.  OUT: *file. */
bool definition_spelled(CXCursor def, CXFile *file);

/* annotate.c ---------------------------------------------------------- */
#define ANNOT_PREFIX "ptm.transaction:"
#define MIRRORABLE_ANNOT "ptm.mirrorable"
#define MIRROR_OF_PREFIX "ptm.mirror_of:"

/* A search among a cursor's children (find_child): the first of kind
** whose spelling is text (whole, or as a prefix). */
typedef struct ChildSearch {
    enum CXCursorKind kind;
    const char *text;
    bool prefix;
    char *spelling;               /* the found one's, malloc'd; NULL: none */
    CXCursor found;
} ChildSearch;

/* find_child: a clang_visitChildren visitor; data: a ChildSearch. */
enum CXChildVisitResult find_child(CXCursor c, CXCursor parent, CXClientData data);
/* annotation_of: the text after prefix of fn's first annotate attribute
** starting with prefix (inherited ones included), with the attribute
** cursor (OUT: *attr, may be NULL).  NULL when fn has none; else malloc'd. */
char *annotation_of(CXCursor fn, const char *prefix, CXCursor *attr);
/* has_annotation: whether fn has an annotate attribute starting with prefix. */
bool has_annotation(CXCursor fn, const char *prefix);
/* is_mirrorable: fn, or the first declaration of its function, carries
** PTM_MIRRORABLE. */
bool is_mirrorable(CXCursor fn);
/* find_decl: the first declaration of the function name in the unit, or NULL. */
CXCursor *find_decl(Front *fr, const char *name);
/* find_user_shim: the user shim declared PTM_MIRROR_OF(target), or NULL. */
UserShim *find_user_shim(Front *fr, const char *target);
/* has_user_shim: Callees.is_user_shim, ctx a Front. */
bool has_user_shim(const void *ctx, const char *name);

/* types.c ------------------------------------------------------------- */
/* member_decl: "T name" or "__typeof__(T) name" for a frame member. */
char *member_decl(CXType t);
/* is_array_kind: whether k is an array type's kind (of any size). */
bool is_array_kind(enum CXTypeKind k);
/* contains_vla: whether t mentions a variably modified array, which cannot
** be spelled at file scope. */
bool contains_vla(CXType t);
/* param_type: the type of a parameter after C's adjustments, without
** top-level qualifiers, spelled for a frame member (malloc'd); a variably
** modified type is carried as void *. */
char *param_type(CXType t);
/* is_va_list: t is a va_list parameter. */
bool is_va_list(CXType t);
/* anonymous_type: true for a type clang can only name by its position
** ("struct (unnamed at x.c:3:1)"), which cannot be written back. */
bool anonymous_type(const char *spelling);
/* read_types: f's result and parameter types (fn's) as Ty trees, for the
** criteria checks. */
void read_types(Front *fr, CXCursor fn, Func *f);

/* resolve.c ----------------------------------------------------------- */
/* A function-local static while its uses are collected. */
typedef struct Local {
    CXCursor var;
    Hoist h;
    const char *why;     /* why it cannot be moved out; NULL: it can */
} Local;

/* The scan of one body: of f, defined in file, its body at
** [body_start, body_end); the local statics met so far. */
typedef struct BodyScan {
    Front *fr;
    Func *f;
    CXFile file;         /* where f is defined */
    size_t body_start, body_end;
    Local *locals;
    int nlocals;
    CXCursor *called;    /* the callees of direct calls seen so far: a
                            reference to a function elsewhere takes its
                            address (under -fptm-mirror-all, no call edge:
                            a call through the pointer is checked then) */
    int ncalled;
} BodyScan;

/* want_clone: queues def for a mirror clone unless it is a transaction (it
** has one) or already queued. */
void want_clone(Front *fr, CXCursor def);
/* scan_function: everything the mirror clone of f (fn) needs from body:
** redirects, escapes, callees, local statics. */
void scan_function(Front *fr, Func *f, CXCursor fn, CXCursor body);

/* statics.c ----------------------------------------------------------- */
/* scan_local_static: a static variable var declared in the body (parent:
** its declaration statement), recorded with whether it can move out. */
void scan_local_static(BodyScan *b, CXCursor var, CXCursor parent);
/* scan_local_use: a use of a variable; a static's uses are renamed, which
** needs them spelled in the body. */
void scan_local_use(BodyScan *b, CXCursor use, CXCursor var);
/* finish_locals: the statics that can move out become f's hoists; the
** others keep a copy per clone, which the user is told about. */
void finish_locals(BodyScan *b);

/* annot_map.c --------------------------------------------------------- */
/* find_expansion: the macro expansion that starts at off, or NULL. */
Expansion *find_expansion(Front *fr, size_t off);
/* read_annotation: f's annotation text (text, of the attribute attr) and
** where each of its bytes came from. */
void read_annotation(Front *fr, CXCursor attr, char *text, Func *f);

/* function.c ---------------------------------------------------------- */
/* read_transaction: everything about one annotated definition fn, into f.
** False after an error (reported). */
bool read_transaction(Front *fr, CXCursor fn, Func *f);
/* read_clone: a function fn a mirror reaches, for its mirror clone, into
** f.  False when it cannot be cloned. */
bool read_clone(Front *fr, CXCursor fn, Func *f);
/* check_user_shims: each user shim has a target with its signature;
** false after an error (reported). */
bool check_user_shims(Front *fr);

/* reach.c ------------------------------------------------------------- */
/* analyse_escapes: each transaction learns whether its mirror needs the
** fork executor, and why; escapes reachable from an `auto` transaction or
** from a PTM_MIRRORABLE clone are warned about, and `mirror = inline`
** with escapes is an error.  Returns false after an error. */
bool analyse_escapes(Unit *u);
/* escape_reason: what an escape is, for a trace or a clone's facts:
** "calls unknown external 'x' (f.c:3)".  malloc'd. */
char *escape_reason(const Escape *e);

/* check_exprs.c ------------------------------------------------------- */
/* front_check_exprs: compiles text, the rewritten u, with libclang as the
** backend will see it at path (args: front_parse's), and reports the
** first error inside each success_criteria and snapshot expression that
** names what only the backend resolves, at the user's text: the backend
** would show a generated line and errors that follow from the first.
** Other errors are left to the backend.  Returns false after one. */
bool front_check_exprs(const Unit *u, const char *path, const char *text,
                       const char *const *args, int nargs);

/* rules.c ------------------------------------------------------------- */
/* rules_load: reads the script named by a `rules` key, relative to the
** directory of the source file, and checks its syntax.  OUT: *text.
** Reports problems at the key's position; returns false after one. */
bool rules_load(const Func *f, char **text, char **resolved);

/* emit.c -------------------------------------------------------------- */
/* emit_unit: the rewritten translation unit.  Returns a malloc'd string.
** A unit to rewrite has transactions or mirror clones (unit_needs_rewrite). */
char *emit_unit(const Unit *u, const char *display_path);

/* dump.c -------------------------------------------------------------- */
/* dump_annotations: prints every transaction's metadata as JSON. */
void dump_annotations(const Unit *u, FILE *out);

/* link_libs.c --------------------------------------------------------- */
/* A list of argument strings, NULL-terminated. */
typedef struct Args {
    char **v;
    int n;
} Args;
/* args_push: appends a copy of s to a. */
void args_push(Args *a, const char *s);
/* args_free: frees a's strings and list, and empties it. */
void args_free(Args *a);
/* split_words: appends the blank-separated words of s to a. */
void split_words(Args *a, const char *s);
/* link_option_adds_input: whether the option a can add an input to a
** link: a library (-l, which may hold transactions), the linker's own
** options (-Wl, -Xlinker), a linker script (-T). */
bool link_option_adds_input(const char *a);
/* add_link_libs: libptm and the libraries it needs, appended to cmd, a
** link command; prefix: ptmcc's install prefix (its lib/). */
void add_link_libs(Args *cmd, const char *prefix);

/* response.c ---------------------------------------------------------- */

/* expand_responses: argv with each @file replaced by its words (nested to
** a depth of 16), as clang does; an unreadable @file stays.  OUT: *out, a
** NULL-terminated list of copies, the caller's to free.  Returns its
** length. */
int expand_responses(int argc, char **argv, char ***out);

/* launch.c ------------------------------------------------------------ */

/* launch_words: how many words after argv[0] (past *skip repeated
** ptmcc's) name the backend in the launcher convention: 0 (argv[1] is an
** option or an input), 1 (`ptmcc clang-19 -c x.c`: an executable, by path
** or in $PATH, not of an input's kind) or 2 (`ptmcc ccache clang-19 ...`).
** OUT: *skip, the leading words that name ptmcc itself. */
int launch_words(int argc, char *const *argv, int *skip);

/* backend_caches: whether the backend command cmd (n words) goes through
** a caching or distributing launcher (ccache, sccache, distcc, icecc),
** which cannot hash a VFS overlay's contents. */
bool backend_caches(const char *const *cmd, int n);

/* backend_environ: the environment for backend commands: ptmcc's, without
** an exec interceptor's preloaded library (bear's): its temporary files
** would be gone before any tool read the commands it records. */
char **backend_environ(void);

/* interceptor_preloaded: whether an exec interceptor (bear) is preloaded
** into ptmcc: then backend_environ() is not environ, and the backend is
** run by spawn_direct. */
bool interceptor_preloaded(void);

/* spawn_direct: runs argv (argv[0] searched in $PATH) with envp, its
** stdout and stderr to the files stdout_to and stderr_to when not NULL,
** through the execve system call itself, which no preloaded interceptor
** sees.  OUT: *pid.  Returns 0, or the errno of the fork or the exec (the
** child then reaped). */
int spawn_direct(char *const *argv, char *const *envp, const char *stdout_to,
                 const char *stderr_to, pid_t *pid);

/* stable_copy_dir: a new directory <tmp_base>/ptmcc-<uid>/<hash of source
** and text>, the same for the same rewritten text (a caching backend
** finds its copy at the same path), or NULL when it cannot be made (in
** use by another ptmcc, or the parent is not this user's). */
char *stable_copy_dir(const char *tmp_base, const char *source, const char *text);

/* path_absolute: path made absolute against the current directory (before
** -p moves into an entry's directory).  Returns a copy to free. */
char *path_absolute(const char *path);

/* path_lexical: path made absolute against the current directory and
** without . and .. components, without following symlinks: the spelling
** clang's VFS looks a source up by.  Returns a copy to free. */
char *path_lexical(const char *path);

/* tmp_base_dir: $TMPDIR (else /tmp), absolute.  Returns a copy to free. */
char *tmp_base_dir(void);

/* print_usage: ptmcc --help's text, to out. */
void print_usage(FILE *out);

/* compile_db.c -------------------------------------------------------- */
/* A compilation database (compile_commands.json), loaded once. */
typedef struct CompileDb CompileDb;

/* One entry: the command a build ran for a file. */
typedef struct CompileCommand {
    char *directory;     /* where it ran, absolute */
    char *file;          /* the source, as the entry names it */
    char **argv;         /* the words, the compiler first; NULL-terminated */
    int argc;
} CompileCommand;

/* compile_db_present: whether dir holds a compile_commands.json. */
bool compile_db_present(const char *dir);
/* compile_db_open: loads <dir>/compile_commands.json.  Reports a missing or
** malformed file ("ptmcc: error: ...") and returns NULL. */
CompileDb *compile_db_open(const char *dir);
/* compile_db_close: releases db (NULL: nothing). */
void compile_db_close(CompileDb *db);
/* compile_db_find: the entry for source (a path from the current
** directory), matched by real path; the first when there are several.
** Reports a missing source, a missing entry ("no compile command for 'x.c'
** in build/compile_commands.json") or a malformed one and returns false.
** OUT: *out, owned by the caller (compile_command_free). */
bool compile_db_find(const CompileDb *db, const char *source, CompileCommand *out);
/* compile_command_free: releases what c owns and zeroes it. */
void compile_command_free(CompileCommand *c);
/* shell_split: line split into words as a POSIX shell splits them (quotes,
** backslashes; no expansion).  OUT: *words (NULL-terminated, malloc'd, even
** on failure).  Returns false when a quote is left open. */
bool shell_split(const char *line, char ***words, int *n);

/* scan.c -------------------------------------------------------------- */
/* What the scan found: nothing (the unit goes to the backend untouched,
** and needs none of PTM's libraries), only an #include of ptm.h (the
** unit too goes untouched, but may call libptm's API), only the name of a
** note row of runtime/calls.def (its host calls go to ptm_note_<name>),
** or PTM_TRANSACTION or PTM_MIRRORABLE. */
typedef enum { SCAN_NONE, SCAN_API, SCAN_NOTES, SCAN_PTM } ScanHit;
/* scan_mentions_ptm: what path, or a header it includes from the given
** directories, names.  forced: path is a file of -include, read as a
** header. */
ScanHit scan_mentions_ptm(const char *path, const char *const *incdirs, int n, bool forced);

/* verify.c ------------------------------------------------------------ */
/* What --verify-mirror compiles: the C sources among args, with the flags
** the backend would get. */
typedef struct VerifyJob {
    const char *const *backend; /* the backend's command before the user's
                                   arguments: its program words (skipped:
                                   bitcode needs clang-19), then ptmcc's
                                   flags (-D__PTMCC__, -isystem, -iquote) */
    int nbackend;
    const char *const *args;    /* the user's cc arguments, each rewritten
                                   source in place of its original */
    int nargs;
    bool (*takes_value)(const char *opt); /* options whose value follows */
    bool verbose;               /* print the commands and a summary line */
} VerifyJob;

/* verify_mirror: compiles every C source of job to LLVM bitcode with
** clang-19, links the modules and proves that no function named
** *__ptm_mirror reaches a raw I/O symbol (calls.def) except through
** ptm_shim_*.  A reachable raw call is an error naming the call chain;
** calls through pointers, inline assembly and callbacks handed to external
** code are warnings.  Diagnostics go through diag.  Returns false after
** an error (the sources themselves failing to compile included). */
bool verify_mirror(const VerifyJob *job);
/* verify_bitcode: the same check on bitcode files already made.  names:
** what to call each in messages (NULL: their paths). */
bool verify_bitcode(const char *const *paths, const char *const *names, int n, bool verbose);

/* front_api.c, front_load.c ------------------------------------------- */
/* The front end's entry points, as libptmcc_front.so exports them. */
typedef struct FrontApi {
    size_t size;         /* sizeof(FrontApi) in the shared object's build */
    const char *version; /* PTM_VERSION_STRING of that build */
    Unit *(*parse)(const char *path, const char *const *args, int nargs, bool notes_only);
    bool (*needs_rewrite)(const Unit *u);
    char *(*emit)(const Unit *u, const char *display_path);
    bool (*check_exprs)(const Unit *u, const char *path, const char *text,
                        const char *const *args, int nargs);
    void (*unit_free)(Unit *u);
    void (*dump)(const Unit *u, FILE *out);
    bool (*verify_mirror)(const VerifyJob *job);
    void (*set_mirror_all)(bool on);
} FrontApi;
/* front: the front end, its shared object opened on the first call
** (<directory of ptmcc>/../lib/libptmcc_front.so).  Returns NULL after
** reporting an error (at the first call) when it cannot be loaded. */
const FrontApi *front(void);
/* front_rewrite: fe's parse, rewrite and checks of source, a crash caught
** (front_load.c).  OUT: *text, *unit.  0, or the crash's signal. */
int front_rewrite(const FrontApi *fe, bool mirror_all, const char *source,
                  const char *const *args, int nargs, bool notes_only, char **text, Unit **unit);

#endif /* PTMCC_H */
