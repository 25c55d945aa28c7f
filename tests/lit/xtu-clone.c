// Cross-file mirror clones: audit() is PTM_MIRRORABLE in its header and
// defined in Inputs/xtu-audit.c.  Built by ptmcc, that file gets an
// externally visible audit__ptm_mirror (and a static clone of its helper),
// each with its facts; the mirror here calls it through a weak reference,
// the runtime finds every function it reaches proved and runs it inline, so
// the mirror's fopen and fputs go to PTM's shims and the log gets one line,
// the primary's.
// RUN: %ptmcc --emit-source %inputs/xtu-audit.c -o - | grep -v '^// ' | FileCheck %s --check-prefix=CLONE
// RUN: %ptmcc --emit-source -I %inputs %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=CALLER
// RUN: %ptmcc -Wall -Wextra -Werror -c %inputs/xtu-audit.c -o %t.audit.o
// RUN: %ptmcc -Wall -Wextra -Werror -I %inputs %s %t.audit.o -o %t
// RUN: rm -f %t.log %t.trace && env PTM_TRACE=%t.trace %t %t.log
// RUN: FileCheck %s --check-prefix=LOG --input-file=%t.log
// RUN: FileCheck %s --check-prefix=TRACE --input-file=%t.trace

#include <ptm.h>
#include <xtu-audit.h>

PTM_TRANSACTION(.success_criteria = return == 0)
int pay(const char *log, long cents)
{
    return audit(log, "pay", cents);
}

int main(int argc, char **argv)
{
    return argc == 2 && pay(argv[1], 5) == 0 ? 0 : 1;
}

// The defining file: an external clone, its helper a static one.
// CLONE: #include <ptm_gen.h>
// CLONE: {{^}}int audit__ptm_mirror{{$}}
// CLONE-NEXT: #line 11
// CLONE-NEXT: {{^ *}}(const char *path, const char *who, long cents);
// CLONE: {{^}}static int format_line__ptm_mirror{{$}}
// CLONE: /* The mirror clone of audit ({{.*}}xtu-audit.c:11): its I/O goes to PTM's shims. */
// CLONE-NEXT: #line 11 "{{.*}}xtu-audit.c"
// CLONE-NEXT: {{^}}int audit__ptm_mirror{{$}}
// CLONE-NEXT: #line 11
// CLONE-NEXT: {{^ *}}(const char *path, const char *who, long cents){{$}}
// CLONE: format_line__ptm_mirror(line, sizeof line, who, cents);
// Any file's mirror may run it: its accesses go through the write buffer,
// so that it sees the buffered stores of another file's clone.
// CLONE: FILE *f = {{.*}}ptm_shim_fopen({{.*}}ptm_redo_str(
// CLONE: ptm_shim_fputs(line, f);
// Its facts record, exported with it; its helper's, static.
// CLONE: extern const struct ptm_xfacts audit__ptm_xfacts;
// CLONE-NEXT: static const struct ptm_xfacts format_line__ptm_xfacts;
// CLONE-NEXT: static const struct ptm_xcall audit__ptm_xcalls[] = {
// CLONE-NEXT:     { "format_line", &format_line__ptm_xfacts },
// CLONE-NEXT: };
// CLONE-NEXT: const struct ptm_xfacts audit__ptm_xfacts = {
// CLONE-NEXT:     .name = "audit",
// CLONE-NEXT:     .file = "{{.*}}xtu-audit.c",
// CLONE-NEXT:     .stores_out = 0,
// CLONE-NEXT:     .buffered = 1,
// CLONE-NEXT:     .n_calls = 1,
// CLONE-NEXT:     .calls = audit__ptm_xcalls,
// CLONE-NEXT: };

// The caller: a weak reference, and a resolver that reports a missing clone.
// CALLER: extern __typeof__(audit) audit__ptm_mirror __attribute__((weak));
// CALLER-NEXT: static __typeof__(audit) *audit__ptm_xtu(void)
// CALLER-NEXT: {
// CALLER-NEXT:     if (audit__ptm_mirror)
// CALLER-NEXT:         return audit__ptm_mirror;
// CALLER-NEXT:     ptm_note_missing_clone("audit");
// CALLER-NEXT:     return audit;
// CALLER-NEXT: }
// CALLER-NEXT: extern const struct ptm_xfacts audit__ptm_xfacts __attribute__((weak));
// CALLER: {{^}}int pay__ptm_mirror{{$}}
// CALLER: return (*audit__ptm_xtu())(log, "pay", cents);
// The runtime resolves the mirror across files from its facts, once.
// CALLER: static const struct ptm_xcall pay__ptm_xcalls[] = {
// CALLER-NEXT:     { "audit", &audit__ptm_xfacts },
// CALLER: static struct ptm_xstate pay__ptm_xstate;
// CALLER-NOT: .needs_fork
// CALLER-NOT: .inline_ok
// CALLER: .xfacts = &pay__ptm_xfacts,
// CALLER-NEXT: .xstate = &pay__ptm_xstate,

// LOG: pay 5
// LOG-NOT: pay

// TRACE: "mirror":"inline","mirror_reason":"auto: the mirror's 3 functions across files call only shims and clones, and their stores outside their locals go to its write buffer","mirror_status":"returned"
// TRACE-NOT: missing_clone
// TRACE: "call":"fopen","target":"{{[^"]*}}.log","detail":"a"
// TRACE: "call":"fputs"
// TRACE: "decision":"primary"
