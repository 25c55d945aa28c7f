#!/usr/bin/env python3
"""bench/real/lua_write: Lua 5.4.4 from Debian's sources, its g_write and
os_rename annotated (tests/e2e/realcode.py) and built with CC=ptmcc, doing
20,000 f:write calls (write_loop.lua), side by side in one script:

  ptm       the annotated Lua as it is (a transaction per call)
  disabled  the same binary under PTM_DISABLE=1 (the primary alone)
  plain     the same sources, not annotated, built by clang-19

Each run's wall time ("run"), and the same less that of a run with 0
calls (startup), the loop's ("loop"), and the loop's CPU time, all of the
process's threads ("CPU": steadier than wall time on a shared machine,
and it counts the history's writer thread); a run under a second is
repeated 5 times and the least taken.  The configurations take turns
(ABBA) in each round; the table gives min / median / max over the rounds,
per call, and the ratio ptm / disabled (target <= 3x).
A separate PTM_TRACE run gives the share of mirrors that ran inline
(field `mirror`: inline / fork; target >= 90%), each executor's median
`mirror_duration_us`, and the `mirror_reason`s.

    bench/real/lua_write.py [BUILD] [--rounds R] [--calls N] [--trace-calls N] [--reuse]

Extra ptmcc flags (say the cross-file clone flag) come from PTMCC_FLAGS.
The builds are in BUILD/realcode/bench-lua (--reuse: do not rebuild them
unless PTMCC_FLAGS changed).
Needs deb.debian.org (or a cached tarball in BUILD/realcode).
"""
import argparse
import collections
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import realcode  # noqa: E402

LOOP = os.path.join(HERE, "write_loop.lua")


def env_without_ptm(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def build(build_dir, reuse):
    """The two Lua binaries: {'ptm': annotated by ptmcc, 'plain': clang-19}.
    With reuse, the last ones, if they were built with the same ptmcc
    flags."""
    work = os.path.join(realcode.cache_dir(build_dir), "bench-lua")
    bins = {"ptm": os.path.join(work, "ptm", "lua-5.4.4", "src", "lua"),
            "plain": os.path.join(work, "plain", "lua-5.4.4", "src", "lua")}
    ptmcc = os.path.join(build_dir, "bin", "ptmcc")
    cc = f"{ptmcc} {os.environ.get('PTMCC_FLAGS', '')}".strip()
    stamp = os.path.join(work, "ptmcc")
    if reuse and all(os.path.exists(b) for b in bins.values()) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == cc:
                return bins
    shutil.rmtree(work, ignore_errors=True)
    plain = realcode.unpack("lua", build_dir, os.path.join(work, "plain"))
    annotated = realcode.unpack("lua", build_dir, os.path.join(work, "ptm"))
    realcode.annotate_lua(annotated)
    realcode.build_lua(plain, "clang-19", env=env_without_ptm())
    realcode.build_lua(annotated, cc, env=env_without_ptm())
    with open(stamp, "w") as f:
        f.write(cc)
    return bins


def wall(binary, out, calls, **env):
    """(wall seconds, CPU seconds of all its threads) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run([binary, LOOP, out, str(calls)], env=env_without_ptm(**env),
                       capture_output=True, text=True, timeout=3600)
    t = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{binary} {LOOP} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return t, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


CONFIGS = {
    "ptm": ("ptm", {}),
    "disabled": ("ptm", {"PTM_DISABLE": 1}),
    "plain": ("plain", {}),
}


def run_cost(bins, workdir, name, calls):
    """(seconds of a run of `calls` f:write calls, the same less a run of
    none: the loop's, and the loop's CPU seconds, every thread's).  A run
    under a second is repeated 5 times and the least of each taken, as the
    loop of the cheap builds is a few milliseconds, near the noise of
    starting a process."""
    binary, env = CONFIGS[name]
    out = os.path.join(workdir, f"{name}.txt")
    first = wall(bins[binary], out, calls, **env)
    reps = 5 if first[0] < 1.0 else 1
    fulls = [first] + [wall(bins[binary], out, calls, **env) for _ in range(reps - 1)]
    empties = [wall(bins[binary], out, 0, **env) for _ in range(reps)]
    full = min(t for t, _ in fulls)
    cpu = min(c for _, c in fulls) - min(c for _, c in empties)
    return full, max(full - min(t for t, _ in empties), 0.0), max(cpu, 0.0)


def mmm(values, fmt="{:.2f}"):
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def traced(bins, workdir, calls):
    trace = os.path.join(workdir, "trace.jsonl")
    wall(bins["ptm"], os.path.join(workdir, "traced.txt"), calls, PTM_TRACE=trace)
    with open(trace) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", nargs="?", default="build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--trace-calls", type=int, default=0,
                        help="calls of the traced run (default: --calls)")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build)
    try:
        bins = build(build_dir, args.reuse)
    except realcode.Unavailable as e:
        sys.exit(f"skipped: {e}")

    workdir = tempfile.mkdtemp(prefix="ptm-lua-write-")
    try:
        order = list(CONFIGS)
        runs = {name: [] for name in CONFIGS}
        secs = {name: [] for name in CONFIGS}
        cpus = {name: [] for name in CONFIGS}
        for i in range(args.rounds):
            for name in (order if i % 2 == 0 else order[::-1]):
                full, loop, cpu = run_cost(bins, workdir, name, args.calls)
                runs[name].append(full)
                secs[name].append(loop)
                cpus[name].append(cpu)
        with open(os.path.join(workdir, "ptm.txt"), "rb") as a, \
                open(os.path.join(workdir, "plain.txt"), "rb") as b:
            if a.read() != b.read():
                sys.exit("the annotated Lua wrote another file than the plain one")
        records = traced(bins, workdir, args.trace_calls or args.calls)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    n = args.calls
    print(f"Lua 5.4.4, {n} f:write calls, {args.rounds} rounds (ABBA); "
          f"PTMCC_FLAGS='{os.environ.get('PTMCC_FLAGS', '')}'")
    print(f"{'':10} {'run s min/med/max':>24} {'loop s min/med/max':>24} "
          f"{'us per call min/med/max':>26} {'CPU us per call':>20}")
    for name in CONFIGS:
        per = [s / n * 1e6 for s in secs[name]]
        cpu = [s / n * 1e6 for s in cpus[name]]
        print(f"{name:10} {mmm(runs[name], '{:.4f}'):>24} {mmm(secs[name], '{:.4f}'):>24} "
              f"{mmm(per):>26} {mmm(cpu):>20}")
    for a, b, target in (("ptm", "disabled", " (target <= 3x)"), ("disabled", "plain", "")):
        for what, v in (("run", runs), ("loop", secs), ("CPU", cpus)):
            ratios = [x / y for x, y in zip(v[a], v[b]) if y > 0]
            med = statistics.median(v[a]) / max(statistics.median(v[b]), 1e-9)
            print(f"{a} / {b}, {what:4}: ratio of medians {med:.2f}x, per round "
                  f"{mmm(ratios) if ratios else '-'}x{target}")

    writes = [r for r in records if r["transaction_id"] == "lua.io.write"]
    inline = [r for r in writes if r["mirror"] == "inline"]
    print(f"traced run: {len(writes)} records of lua.io.write (calls {n}); "
          f"mirrors inline {len(inline)} = {100.0 * len(inline) / max(len(writes), 1):.1f}% "
          f"(target >= 90%)")
    by = collections.defaultdict(list)
    for r in writes:
        by[r["mirror"]].append(r["mirror_duration_us"] or 0)
    for executor, durations in sorted(by.items()):
        print(f"  {executor}: {len(durations)} mirrors, mirror_duration_us median "
              f"{statistics.median(durations):.1f}, max {max(durations):.0f}")
    for (executor, reason), k in collections.Counter(
            (r["mirror"], r["mirror_reason"]) for r in writes).most_common():
        print(f"  {k} x {executor}: {reason}")


if __name__ == "__main__":
    main()
