#!/usr/bin/env python3
"""driver_bench: what ptmcc costs a build whose files hold no annotation.

ptmcc loads its front end (libptmcc_front.so, with libclang and libLLVM)
only for a unit that needs a parse (compiler/front_load.c).  Side by side
in one run, commands taking turns in every round:
  - per call: `-c` of a configure-sized file without annotations, by
    clang-19 and by ptmcc (and by --before, a ptmcc built from an older
    commit, which loaded libclang at every start): least CPU time (user +
    system, the command and its children) and the median, in ms, and
    ptmcc's extra CPU per call;
  - annotated units, by ptmcc and --before: one transaction, and 50;
  - zlib 1.2.13's ./configure (Debian bookworm's orig tarball, downloaded
    at run time into the work directory, never into the repository) with
    CC=clang-19, CC=ptmcc and CC=<before>: CPU and wall time, ratios
    (target: ptmcc <= 1.05x clang-19).  Without the network (or with
    --no-zlib) this part is skipped with a message; --zlib-tarball uses a
    copy already downloaded.
Usage: driver_bench.py BUILD_DIR [--before PTMCC] [--runs N]
                       [--configure-runs N] [--work DIR] [--zlib-tarball F]
                       [--no-zlib]
"""
import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

ZLIB_URL = ("http://deb.debian.org/debian/pool/main/z/zlib/"
            "zlib_1.2.13.dfsg.orig.tar.bz2")
ZLIB_MD5 = "ef268c6fda8701834db2d8322b0ccf4e"  # bookworm's Sources
ZLIB_DIR = "zlib-1.2.13.dfsg"

PLAIN = """#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%d", (int)strlen("conftest"));
    return atoi(buf) == 8 ? 0 : 1;
}
"""


def annotated(n):
    """A unit with n transactions (each a small stdio function)."""
    out = ["#include <ptm.h>", "#include <stdio.h>", "#include <string.h>", ""]
    for i in range(n):
        out += [f'PTM_TRANSACTION(.transaction_id = "bench.f{i}", '
                f'.success_criteria = return >= 0)',
                f"int f{i}(FILE *out, const char *name)",
                "{",
                f'    return fprintf(out, "%s %d\\n", name, (int)strlen(name) + {i});',
                "}", ""]
    return "\n".join(out)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(commands, runs):
    """commands: (argv, cwd, env) each.  Returns, for each, the CPU seconds
    and wall seconds of every run (the commands take turns in every round,
    so that what load there is falls on all of them alike)."""
    cpu = [[] for _ in commands]
    wall = [[] for _ in commands]
    for _ in range(runs):
        for i, (argv, cwd, env) in enumerate(commands):
            t0, w0 = cpu_seconds(), time.monotonic()
            r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                sys.exit(f"driver_bench: {' '.join(argv)} failed:\n{r.stderr}")
            cpu[i].append(cpu_seconds() - t0)
            wall[i].append(time.monotonic() - w0)
    return cpu, wall


def ms(samples):
    return f"{min(samples) * 1000:8.1f} ms (median {statistics.median(samples) * 1000:7.1f})"


def per_call(ptmcc, before, d, runs):
    src = os.path.join(d, "conftest.c")
    with open(src, "w") as f:
        f.write(PLAIN)
    obj = os.path.join(d, "conftest.o")
    names = ["clang-19", "ptmcc"] + (["ptmcc before"] if before else [])
    cmds = [(["clang-19", "-c", src, "-o", obj], d, None), ([ptmcc, "-c", src, "-o", obj], d, None)]
    if before:
        cmds.append(([before, "-c", src, "-o", obj], d, None))
    cpu, _ = timed(cmds, runs)
    print(f"per call, `-c conftest.c` without annotations; least CPU of {runs} runs:")
    base, base_median = min(cpu[0]), statistics.median(cpu[0])
    print(f"  {names[0]:<14} {ms(cpu[0])}")
    for name, s in zip(names[1:], cpu[1:]):
        print(f"  {name:<14} {ms(s)}   {min(s) / base:.3f}x clang-19 "
              f"(median {statistics.median(s) / base_median:.3f}x), "
              f"+{(min(s) - base) * 1000:.1f} ms a call")

    for n in (1, 50):
        src = os.path.join(d, f"annotated{n}.c")
        with open(src, "w") as f:
            f.write(annotated(n))
        cmds = [([ptmcc, "-c", "-O2", src, "-o", obj], d, None)]
        if before:
            cmds.append(([before, "-c", "-O2", src, "-o", obj], d, None))
        cpu, _ = timed(cmds, runs)
        print(f"annotated unit, {n} transaction{'s' if n > 1 else ''}, `-c -O2`:")
        print(f"  {'ptmcc':<14} {ms(cpu[0])}")
        if before:
            print(f"  {'ptmcc before':<14} {ms(cpu[1])}   after/before "
                  f"{min(cpu[0]) / min(cpu[1]):.3f}x (median "
                  f"{statistics.median(cpu[0]) / statistics.median(cpu[1]):.3f}x)")


def zlib_tarball(args, work):
    """The orig tarball's path, downloaded into work unless given; None
    (after saying why) when it cannot be had."""
    if args.zlib_tarball:
        return args.zlib_tarball
    path = os.path.join(work, os.path.basename(ZLIB_URL))
    try:
        with urllib.request.urlopen(ZLIB_URL, timeout=60) as r, open(path, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        print(f"zlib ./configure: skipped, cannot download {ZLIB_URL}: {e}")
        return None
    with open(path, "rb") as f:
        md5 = hashlib.md5(f.read()).hexdigest()
    if md5 != ZLIB_MD5:
        print(f"zlib ./configure: skipped, {path} has md5 {md5}, not {ZLIB_MD5}")
        return None
    return path


def zlib_configure(args, ptmcc, before, work):
    tarball = zlib_tarball(args, work)
    if not tarball:
        return
    compilers = [("clang-19", "clang-19"), ("ptmcc", ptmcc)]
    if before:
        compilers.append(("ptmcc before", before))
    cmds = []
    for i, (_, cc) in enumerate(compilers):
        tree = os.path.join(work, f"zlib{i}")
        os.mkdir(tree)
        with tarfile.open(tarball) as t:
            t.extractall(tree, filter="data")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PTM_") and k not in ("CFLAGS", "LDFLAGS", "CPPFLAGS")}
        env["CC"] = cc
        cmds.append((["./configure"], os.path.join(tree, ZLIB_DIR), env))
    n = args.configure_runs
    cpu, wall = timed(cmds, n)
    print(f"zlib 1.2.13 ./configure, CC=...; least CPU and wall time of {n} runs:")
    for k, (name, _) in enumerate(compilers):
        note = ""
        if k:
            note = (f"   CPU {min(cpu[k]) / min(cpu[0]):.3f}x, wall "
                    f"{min(wall[k]) / min(wall[0]):.3f}x clang-19")
            if name == "ptmcc":
                note += "  (target <= 1.05x)"
        print(f"  {name:<14} CPU {ms(cpu[k])}  wall {ms(wall[k])}{note}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--before", help="a ptmcc built from an older commit")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--configure-runs", type=int, default=5)
    ap.add_argument("--work", help="scratch directory (default: a new temporary one)")
    ap.add_argument("--zlib-tarball", help=os.path.basename(ZLIB_URL) + ", already downloaded")
    ap.add_argument("--no-zlib", action="store_true")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    ptmcc = os.path.join(build, "bin", "ptmcc")
    before = os.path.abspath(args.before) if args.before else None
    if args.work:
        os.makedirs(args.work, exist_ok=True)
    work = tempfile.mkdtemp(prefix="driver-bench-", dir=args.work)
    try:
        per_call(ptmcc, before, work, args.runs)
        if args.no_zlib:
            print("zlib ./configure: skipped (--no-zlib)")
        else:
            zlib_configure(args, ptmcc, before, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
