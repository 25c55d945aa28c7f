// The basic rewrite: the definition stays in place as a static primary, a
// prototype keeps the name visible, and the end of the file gets the mirror
// (I/O redirected), the frame, thunks, predicate, descriptor and wrapper.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>
#include <stdio.h>

int save_later(const char *path, int value);

PTM_TRANSACTION(.transaction_id = "demo.save",
                .alternative_paths = { save_later },
                .success_criteria = return == 0,
                .retry = { .max = 3, .backoff = exponential(5 ms, 200 ms) },
                .timeout = 250 ms)
int save(const char *path, int value)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", value);
    return fclose(f);
}

int use(void) { return save("x", 1); }

// CHECK: /* ptmcc: save below is the primary of transaction 'demo.save'; the wrapper save() is at the end of this file. */
// CHECK-NEXT: #line 17 "{{.*}}emit-basic.c"
// CHECK: int save(const char *path, int value);
// CHECK-NEXT: #line 12
// CHECK-NEXT: {{^}}static{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^}}int save__ptm_primary{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(const char *path, int value)
// CHECK-NEXT: {
// CHECK-NEXT:     FILE *f = fopen(path, "w");
// CHECK: #line 25 "{{.*}}emit-basic.c"{{$}}
// CHECK-EMPTY:
// CHECK-NEXT: int use(void) { return save("x", 1); }

// CHECK: #include <ptm_gen.h>
// CHECK: {{^}}int save__ptm_mirror{{$}}
// CHECK-NEXT: #line 17
// CHECK-NEXT: {{^ *}}(const char *path, int value);
// CHECK: /* The mirror clone of save ({{.*}}emit-basic.c:12): its I/O goes to PTM's shims. */
// CHECK: {{^}}int save__ptm_mirror{{$}}
// CHECK-NEXT: #line 17
// CHECK-NEXT: {{^ *}}(const char *path, int value){{$}}
// CHECK: FILE *f = ptm_shim_fopen(path, "w");
// CHECK: ptm_shim_fprintf(f, "%d\n", value);
// CHECK: return ptm_shim_fclose(f);

// CHECK: struct save__ptm_frame {
// CHECK-NEXT:     struct {
// CHECK-NEXT:         const char *path;
// CHECK-NEXT:         int value;
// CHECK-NEXT:     } arg;
// CHECK-NEXT:     int ret;
// CHECK-NEXT:     int err;
// CHECK-NEXT: };
// CHECK: static void save__ptm_run_primary(void *p)
// CHECK: fr->ret = save__ptm_primary(fr->arg.path, fr->arg.value);
// CHECK: static void save__ptm_run_mirror(void *p)
// CHECK: static void save__ptm_run_alt_save_later(void *p)
// CHECK: fr->ret = save_later(fr->arg.path, fr->arg.value);
// CHECK: static int save__ptm_success(const void *p)
// CHECK: return ((frame->ret == 0)) != 0;
// CHECK: static const struct ptm_tx_desc save__ptm_desc = {
// CHECK: .transaction_id = "demo.save",
// CHECK: .function = "save",
// CHECK: .success = save__ptm_success,
// CHECK: .alternatives = save__ptm_alternatives,
// CHECK-NEXT: .n_alternatives = 1,
// CHECK: .failure_prediction_enabled = 1,
// CHECK: .mirror_mode = PTM_MIRROR_AUTO,
// CHECK: .threshold = 0.40000000000000002,
// CHECK: .retry_max = 3,
// CHECK: .backoff = PTM_BACKOFF_EXPONENTIAL,
// CHECK: .backoff_base_us = 5000,
// CHECK: .backoff_cap_us = 200000,
// CHECK: .timeout_us = 250000,
// The wrapper's name in parentheses: a function-like macro named save,
// defined after it, would not expand there.
// CHECK: {{^}}int (save){{$}}
// CHECK-NEXT: #line 17
// CHECK-NEXT: {{^ *}}(const char *path, int value){{$}}
// CHECK-NEXT: {
// CHECK: __ptm_frame.arg.path = path;
// CHECK: ptm_tx_run(&save__ptm_desc, &__ptm_frame);
// CHECK: return __ptm_frame.ret;
