#!/usr/bin/env python3
"""compile_bench: ptmcc against plain clang-19, side by side in one run.

Generates a C file of about 5,000 lines with 500 functions, once annotated
(each function a PTM_TRANSACTION) and once without annotations, then times,
median of several runs each:
  - clang-19 -c -O2 on the unannotated file       (the baseline)
  - ptmcc   -c -O2 on the unannotated file        (target: <= 1.03x)
  - ptmcc   -c -O2 on the annotated file
  - ptmcc --emit-source on the annotated file     (parse + emit alone)
  - clang-19 -c -O2 on ptmcc's output             (compiling what ptmcc wrote)
Usage: compile_bench.py BUILD_DIR [--runs N]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

FUNCS = 500


def generate(annotated):
    out = ['#include <ptm.h>', '#include <stdio.h>', '#include <string.h>', '']
    for i in range(FUNCS):
        if annotated:
            out.append(f'PTM_TRANSACTION(.transaction_id = "bench.f{i}", '
                       f'.success_criteria = return >= 0, .retry = {{ .max = 2 }})')
        out += [
            f'int f{i}(FILE *out, const char *name, int n)',
            '{',
            '    int sum = 0;',
            '    for (int k = 0; k < n; k++)',
            f'        sum += (int)strlen(name) * k + {i};',
            '    if (sum < 0)',
            '        return -1;',
            f'    fprintf(out, "%s %d\\n", name, sum);',
            '    return sum;',
            '}',
        ]
    return "\n".join(out) + "\n"


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(commands, runs):
    """The least CPU seconds (user + system, the command and its children)
    each command took over the runs -- the cost with the least interference,
    as timeit reports -- and the median.  The commands take turns in every
    round, so that what load there is falls on all of them alike."""
    samples = [[] for _ in commands]
    for _ in range(runs):
        for i, argv in enumerate(commands):
            t0 = cpu_seconds()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            samples[i].append(cpu_seconds() - t0)
    return [(min(s), statistics.median(s)) for s in samples]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    ptmcc = os.path.join(build, "bin", "ptmcc")
    inc = os.path.join(build, "include")
    with tempfile.TemporaryDirectory() as d:
        plain, annotated = os.path.join(d, "plain.c"), os.path.join(d, "annotated.c")
        with open(plain, "w") as f:
            f.write(generate(False))
        with open(annotated, "w") as f:
            f.write(generate(True))
        emitted = os.path.join(d, "emitted.c")
        subprocess.run([ptmcc, "--emit-source", annotated, "-o", emitted], check=True)
        lines = sum(1 for _ in open(plain))
        obj = os.path.join(d, "x.o")
        r = args.runs
        clang_plain, ptmcc_plain, ptmcc_annot, emit_only, clang_emitted = timed([
            ["clang-19", "-I", inc, "-c", "-O2", plain, "-o", obj],
            [ptmcc, "-c", "-O2", plain, "-o", obj],
            [ptmcc, "-c", "-O2", annotated, "-o", obj],
            [ptmcc, "--emit-source", annotated, "-o", os.path.join(d, "e.c")],
            ["clang-19", "-I", inc, "-D__PTMCC__=1", "-c", "-O2", emitted, "-o", obj],
        ], r)
    def row(what, t, note=""):
        print(f"  {what:<40} {t[0] * 1000:8.1f} ms  (median {t[1] * 1000:7.1f}){note}")

    print(f"compile_bench: {lines} lines, {FUNCS} functions; least CPU time of {r} runs")
    row("clang-19 -c -O2, no annotations", clang_plain)
    row("ptmcc    -c -O2, no annotations", ptmcc_plain,
        f"   {ptmcc_plain[0] / clang_plain[0]:.3f}x clang  (target <= 1.03x)")
    row("ptmcc    -c -O2, 500 transactions", ptmcc_annot,
        f"   {ptmcc_annot[0] / clang_plain[0]:.2f}x clang on the unannotated file")
    row("ptmcc --emit-source (parse + emit)", emit_only)
    row("clang-19 -c -O2 on ptmcc's output", clang_emitted,
        f"   parse + emit = {100 * emit_only[0] / clang_emitted[0]:.1f}% of it  (target <= 10%)")

if __name__ == "__main__":
    sys.exit(main())
