#!/usr/bin/env python3
"""bench/real/build_cost: build time and code size of zlib 1.2.13, Lua
5.4.4 and SQLite 3.40.1 (Debian's sources, tests/e2e/realcode.py) built
with CC=ptmcc against CC=clang-19, the same flags (-O2), side by side in
one script:

  zlib  clang-19            ./configure (not timed: see lazy's bench), then
        ptmcc               `make all` (libz.a, libz.so, zlib's test
                            programs), then `make test` (not timed: it must
                            pass)
  lua   clang-19            `make linux` (no readline); then `lua -v`
        ptmcc               the same sources
        ptmcc annotated     g_write and os_rename annotated (as in e2e.lua)
  sqlite clang-19           the amalgamation's sqlite3.c and shell.c
        ptmcc               compiled and linked into the shell (as in
                            e2e.sqlite); then `SELECT sqlite_version()`

Each round unpacks fresh trees and builds every configuration of a
project, in ABBA order; make runs with -j1.  The table gives min / median
/ max over the rounds of the build's CPU seconds (user + system of make
and everything it ran: ptmcc, its backend) and wall seconds, their ratios
to clang-19 (target <= 1.3x), the sizes of what was built (file bytes and
the text + data + bss of llvm-size-19), and the warnings each build
printed (ptmcc's -Wptm ones apart).

    bench/real/build_cost.py [BUILD] [--rounds R] [--only zlib|lua|sqlite] [--cflags FLAGS]

Extra ptmcc flags (say the cross-file clone flag) come from PTMCC_FLAGS,
added to CC for the ptmcc builds alone.  The trees are in
BUILD/realcode/bench-build.  Needs deb.debian.org (or cached tarballs in
BUILD/realcode).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import realcode  # noqa: E402


def env_without_ptm():
    return {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}


def ptmcc_cc(build_dir):
    ptmcc = os.path.join(build_dir, "bin", "ptmcc")
    return f"{ptmcc} {os.environ.get('PTMCC_FLAGS', '')}".strip()


def sizes(paths):
    """{name: (file bytes, text + data + bss)} of the built files."""
    out = {}
    for name, path in paths.items():
        r = subprocess.run(["llvm-size-19", "-t", path], capture_output=True, text=True)
        total = None
        for line in r.stdout.splitlines():
            fields = line.split()
            if fields and fields[-1] == "(TOTALS)":
                total = int(fields[3])
        out[name] = (os.path.getsize(path), total)
    return out


def warnings(output):
    lines = [line for line in output.splitlines() if ": warning: " in line]
    ptm = sum("[-Wptm" in line for line in lines)
    return len(lines) - ptm, ptm


def build_zlib(build_dir, work, cc, cflags):
    src = realcode.unpack("zlib", build_dir, work)
    env = env_without_ptm()
    env.update(CC=cc, CFLAGS=cflags)
    realcode.run_timed(["./configure"], src, env=env)
    wall, cpu, output = realcode.run_timed(["make", "-j1", "all"], src, env=env)
    _, _, test = realcode.run_timed(["make", "test"], src, env=env)
    if "*** zlib test OK ***" not in test or "*** zlib shared test OK ***" not in test:
        sys.exit(f"zlib's make test did not pass with CC={cc}:\n{test}")
    lib = [f for f in os.listdir(src) if f.startswith("libz.so.") and f.count(".") == 4][0]
    return wall, cpu, warnings(output), sizes({"libz.a": os.path.join(src, "libz.a"),
                                               lib: os.path.join(src, lib)})


def build_lua(build_dir, work, cc, cflags, annotate):
    src = realcode.unpack("lua", build_dir, work)
    if annotate:
        realcode.annotate_lua(src)
    wall, cpu, output = realcode.build_lua(src, cc, cflags=cflags, env=env_without_ptm())
    r = subprocess.run([os.path.join(src, "src", "lua"), "-v"], capture_output=True, text=True)
    if r.returncode != 0 or "Lua 5.4.4" not in r.stdout:
        sys.exit(f"lua -v of the build with CC={cc} failed:\n{r.stdout}{r.stderr}")
    return wall, cpu, warnings(output), sizes({
        name: os.path.join(src, "src", name) for name in ("lua", "luac", "liblua.a")})


def build_sqlite(build_dir, work, cc, cflags):
    amal = realcode.sqlite_amalgamation(build_dir)
    os.makedirs(work)
    cc, flags = cc.split(), cflags.split() + ["-DSQLITE_THREADSAFE=1", "-I", amal]
    wall = cpu = 0.0
    output = ""
    for argv in ([*cc, *flags, "-c", os.path.join(amal, "sqlite3.c"), "-o", "sqlite3.o"],
                 [*cc, *flags, "-c", os.path.join(amal, "shell.c"), "-o", "shell.o"],
                 [*cc, *flags, "shell.o", "sqlite3.o", "-o", "sqlite3", "-lpthread", "-ldl",
                  "-lm"]):
        w, c, out = realcode.run_timed(argv, work, env=env_without_ptm())
        wall, cpu, output = wall + w, cpu + c, output + out
    r = subprocess.run([os.path.join(work, "sqlite3"), ":memory:", "SELECT sqlite_version()"],
                       capture_output=True, text=True)
    if r.stdout != "3.40.1\n":
        sys.exit(f"the SQLite shell built with CC={' '.join(cc)} failed:\n{r.stdout}{r.stderr}")
    return wall, cpu, warnings(output), sizes({
        name: os.path.join(work, name) for name in ("sqlite3.o", "sqlite3")})


def configs(build_dir, project):
    ptm = ptmcc_cc(build_dir)
    if project == "zlib":
        return [("clang-19", lambda w, fl: build_zlib(build_dir, w, "clang-19", fl)),
                ("ptmcc", lambda w, fl: build_zlib(build_dir, w, ptm, fl))]
    if project == "sqlite":
        return [("clang-19", lambda w, fl: build_sqlite(build_dir, w, "clang-19", fl)),
                ("ptmcc", lambda w, fl: build_sqlite(build_dir, w, ptm, fl))]
    return [("clang-19", lambda w, fl: build_lua(build_dir, w, "clang-19", fl, False)),
            ("ptmcc", lambda w, fl: build_lua(build_dir, w, ptm, fl, False)),
            ("ptmcc annotated", lambda w, fl: build_lua(build_dir, w, ptm, fl, True))]


def mmm(values, fmt="{:.2f}"):
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def bench(build_dir, project, rounds, cflags):
    cs = configs(build_dir, project)
    cpu = {name: [] for name, _ in cs}
    wall = {name: [] for name, _ in cs}
    last = {}
    for i in range(rounds):
        for name, fn in (cs if i % 2 == 0 else cs[::-1]):
            work = os.path.join(realcode.cache_dir(build_dir), "bench-build", project,
                                name.replace(" ", "-"))
            shutil.rmtree(work, ignore_errors=True)
            w, c, warn, size = fn(work, cflags)
            wall[name].append(w)
            cpu[name].append(c)
            last[name] = (warn, size)
    base = cs[0][0]
    how = "compiler calls one at a time" if project == "sqlite" else "make -j1"
    print(f"\n{project}: {how}, CFLAGS={cflags}, {rounds} rounds (ABBA)")
    print(f"  {'':16} {'CPU s min/med/max':>20} {'x clang':>8} {'wall s min/med/max':>20} "
          f"{'x clang':>8}  warnings (-Wptm)")
    for name, _ in cs:
        rc = statistics.median(cpu[name]) / statistics.median(cpu[base])
        rw = statistics.median(wall[name]) / statistics.median(wall[base])
        warn = last[name][0]
        print(f"  {name:16} {mmm(cpu[name]):>20} {rc:>7.2f}x {mmm(wall[name]):>20} "
              f"{rw:>7.2f}x  {warn[0]} ({warn[1]})")
    print(f"  {'size':16} " + "  ".join(f"{n:>24}" for n, _ in cs))
    for file in last[base][1]:
        cells = []
        for name, _ in cs:
            b, t = last[name][1][file]
            b0, t0 = last[base][1][file]
            cells.append(f"{b:>9} {b / b0:4.2f}x t{t / t0 if t and t0 else 0:4.2f}x")
        print(f"  {file:16} " + "  ".join(f"{c:>24}" for c in cells))
    print("  (file bytes, ratio to clang-19's; t: ratio of text + data + bss)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", nargs="?", default="build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("zlib", "lua", "sqlite"))
    parser.add_argument("--cflags", default="-O2")
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build)
    print(f"ptmcc: {ptmcc_cc(build_dir)}  (PTMCC_FLAGS='{os.environ.get('PTMCC_FLAGS', '')}')")
    try:
        for project in ("zlib", "lua", "sqlite"):
            if args.only in (None, project):
                bench(build_dir, project, args.rounds, args.cflags)
    except realcode.Unavailable as e:
        sys.exit(f"skipped: {e}")


if __name__ == "__main__":
    main()
