#!/usr/bin/env python3
"""bench/bank: examples/bank built by ptmcc against the same source built by
clang-19 alone, whose transfer() runs in a plain retry loop (what users
write today).  The two builds run side by side in one script, in ABBA
order, each round on a fresh database; the table gives min / median / max
over the rounds and the ratios.

    bench/bank/run.py [BUILD] [--rounds R] [--transfers N] [--dir DIR] [--before BANK]
                      [--adaptive] [--fine] [--gap US] [--only-b]

(a) no faults, WAL, one process: throughput of the PTM build over the
    plain one (target >= 0.85), the wall time PTM adds per transfer, and
    the mirror's own duration from a traced run (its median once the
    overlay connection is open: the first mirror opens it; target <= 50 us).
    Under SQLite's default synchronous=FULL every commit syncs the WAL, and
    again with synchronous=NORMAL, where it does not: the harder case for
    the ratio.
(b) 10% overdrafts, 3 competing writers, both builds: failed primary
    attempts, rolled-back transactions, p50 and p99 latency of a call
    (retries and fallbacks included), the share of overdrafts that never
    reached the primary (target >= 95%), the share of good transfers
    diverted (target <= 1%), and the p99 ratio (target <= 0.8).

--fine: (b) runs the PTM build a second time with PTM_SQLITE_BUSY=fine
(PTM's lock-watching busy handler in the primary instead of SQLite's own,
the default), in turn with the others.  holds.py (with holds.c) shows why
the tail differs.

--gap US: (b) also runs the plain build with `--think-us US` (US of CPU
between a writer's calls, about what PTM's mirror puts there), in turn
with the others: the plain build's tail given PTM's gap (docs/DESIGN.md
has why it is the cause of PTM's).

--adaptive: the example built again by this build's ptmcc with
`.mirror_sampling = adaptive` added to transfer()'s annotation runs in the
same rounds, in place of --before's build (the figures are labelled
"adaptive"): what mirroring a share of the quiet calls buys in (a), and
what it costs in (b), the overdrafts that reach the primary.

--before BANK: a PTM build of the example from another checkout (its
`bank` binary) runs in the same rounds, in turn with the two others, so
that a change's effect is measured side by side: its ratios to the plain
build, the new build's throughput over it, its mirror's duration.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile


def env_without_ptm(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}
    env.update(extra)
    return env


def run_bank(binary, db, args, **env):
    r = subprocess.run([binary, "run", "--db", db, *args], capture_output=True, text=True,
                       env=env_without_ptm(**env), timeout=600)
    if r.returncode != 0:
        sys.exit(f"{binary} run failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    total = [x for x in lines if "procs" in x][0]
    if not lines[-1].get("check"):
        sys.exit(f"money not conserved: {lines[-1]}")
    return total


def fresh(workdir, name):
    path = os.path.join(workdir, name)
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    return path


def abba(rounds, builds=("ptm", "plain")):
    """The builds' order in each round: ABBA (with three, each round starts
    one further on), so that drift falls on all of them."""
    if len(builds) == 2:
        return [builds if i % 2 == 0 else builds[::-1] for i in range(rounds)]
    return [builds[i % len(builds):] + builds[:i % len(builds)] for i in range(rounds)]


def mmm(values, fmt="{:.1f}"):
    if not values:
        return "-"
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def mirror_durations(binary, workdir, args):
    """The mirrors' durations of a traced run (tracing slows the run, so it
    is not one of the timed rounds)."""
    trace = os.path.join(workdir, "a-trace.jsonl")
    if os.path.exists(trace):
        os.unlink(trace)
    run_bank(binary, fresh(workdir, "a-traced.db"), args + ["--seed", "99"], PTM_TRACE=trace)
    with open(trace) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return records


def bench_a(bins, workdir, rounds, n, synchronous):
    args = ["--procs", "1", "--transfers", str(n), "--overdraft-share", "0",
            "--large-share", "0", "--synchronous", synchronous]
    tput = {b: [] for b in bins}
    secs = {b: [] for b in bins}
    for i, order in enumerate(abba(rounds, tuple(bins))):
        for build in order:
            t = run_bank(bins[build], fresh(workdir, f"a-{build}.db"), args + ["--seed", str(i)])
            tput[build].append(t["transfers"] / t["elapsed_s"])
            secs[build].append(t["elapsed_s"])
    ratios = [p / q for p, q in zip(tput["ptm"], tput["plain"])]
    added = [(p - q) / n * 1e6 for p, q in zip(secs["ptm"], secs["plain"])]
    records = mirror_durations(bins["ptm"], workdir, args)
    mirrors = [r["mirror_duration_us"] for r in records]
    executors = sorted({r["mirror"] for r in records})
    out = {
        "tput_ptm": tput["ptm"], "tput_plain": tput["plain"], "ratio": ratios, "added": added,
        "mirror_first": mirrors[0] if mirrors else None,
        "mirror_rest": mirrors[1:], "executors": executors,
    }
    if "before" in bins:
        out["ratio_before"] = [p / q for p, q in zip(tput["before"], tput["plain"])]
        out["new_over_before"] = [p / q for p, q in zip(tput["ptm"], tput["before"])]
        # A call without a mirror (adaptive sampling) has no duration.
        out["mirror_before"] = [r["mirror_duration_us"]
                                for r in mirror_durations(bins["before"], workdir, args)
                                if r.get("mirror_duration_us") is not None][1:]
    return out


def bench_b(bins, workdir, rounds, n, gap_us=0):
    args = ["--procs", "3", "--transfers", str(n), "--overdraft-share", "0.10",
            "--large-share", "0"]
    out = {b: [] for b in bins}
    for i, order in enumerate(abba(rounds, tuple(bins))):
        for build in order:
            env = {"PTM_SQLITE_BUSY": "fine"} if build == "fine" else {}
            gap = ["--think-us", str(gap_us)] if build == "gap" else []
            out[build].append(run_bank(bins[build], fresh(workdir, f"b-{build}.db"),
                                       args + gap + ["--seed", str(i)], **env))
    return out


def build_adaptive(build, here, workdir):
    """examples/bank with .mirror_sampling = adaptive, built by BUILD's
    ptmcc in workdir.  Returns the binary's path."""
    src = os.path.join(here, "..", "..", "examples", "bank")
    for name in ("bank.c", "bank.lua"):
        shutil.copy(os.path.join(src, name), workdir)
    path = os.path.join(workdir, "bank.c")
    with open(path) as f:
        text = f.read()
    key = '.transaction_id    = "bank.transfer",'
    if key not in text:
        sys.exit("examples/bank/bank.c: transfer()'s annotation is not where --adaptive looks")
    with open(path, "w") as f:
        f.write(text.replace(key, key + " .mirror_sampling = adaptive,"))
    ptmcc = os.path.abspath(os.path.join(build, "bin", "ptmcc"))
    out = os.path.join(workdir, "bank-adaptive")
    for cmd in ([ptmcc, "-O2", "-g", "-c", path, "-o", out + ".o"],
                [ptmcc, out + ".o", "-o", out, "-lsqlite3"]):
        subprocess.run(cmd, check=True, cwd=workdir)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(here, "..", "..", "build"))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--transfers", type=int, default=2000, help="per writer")
    ap.add_argument("--dir", default=None, help="where the databases go (default: /var/tmp)")
    ap.add_argument("--before", default=None,
                    help="another PTM build's bank binary, run in the same rounds")
    ap.add_argument("--fine", action="store_true",
                    help="(b) also runs the PTM build with PTM_SQLITE_BUSY=fine (PTM's "
                         "lock-watching busy handler in the primary), in the same rounds")
    ap.add_argument("--gap", type=int, default=0, metavar="US",
                    help="(b) also runs the plain build with --think-us US, in the same rounds")
    ap.add_argument("--adaptive", action="store_true",
                    help="also the example with .mirror_sampling = adaptive (instead of --before)")
    ap.add_argument("--only-b", action="store_true", help="skip (a)")
    o = ap.parse_args()
    if o.adaptive and o.before:
        sys.exit("--adaptive and --before take the same place: give one")
    bins = {"ptm": os.path.join(o.build, "examples", "bank", "bank"),
            "plain": os.path.join(o.build, "examples", "bank", "bank-plain")}
    if o.before:
        bins["before"] = os.path.abspath(o.before)
    for b in bins.values():
        if not os.access(b, os.X_OK):
            sys.exit(f"{b}: not built (cmake --build {o.build} --target example_bank bank-plain)")
    workdir = tempfile.mkdtemp(prefix="ptm-bench-bank.", dir=o.dir or "/var/tmp")
    label = "adaptive" if o.adaptive else "before"
    try:
        if o.adaptive:
            bins["before"] = build_adaptive(o.build, here, workdir)
        print(f"bench/bank: {o.rounds} rounds (ABBA), {o.transfers} transfers per writer, "
              f"databases in {workdir}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        print("figures: min/median/max over the rounds\n")
        if not o.only_b:
            print("(a) no faults, WAL, 1 process: PTM transfer vs plain transfer in a retry loop")
            print(f"  {'synchronous':<12} {'ptm tx/s':>22} {'plain tx/s':>22} "
                  f"{'ratio (>=0.85)':>20} {'added us/tx':>20} {'mirror us (<=50)':>20}")
        for sync in () if o.only_b else ("full", "normal"):
            a = bench_a(bins, workdir, o.rounds, o.transfers, sync)
            mirror = (f"{statistics.median(a['mirror_rest']):.1f} ({','.join(a['executors'])})"
                      if a["mirror_rest"] else "-")
            print(f"  {sync:<12} {mmm(a['tput_ptm'], '{:.0f}'):>22} "
                  f"{mmm(a['tput_plain'], '{:.0f}'):>22} {mmm(a['ratio'], '{:.3f}'):>20} "
                  f"{mmm(a['added']):>20} {mirror:>20}")
            if "ratio_before" in a:
                print(f"  {'':<12} {label}: ratio {mmm(a['ratio_before'], '{:.3f}')}, "
                      f"mirror us {statistics.median(a['mirror_before']) if a['mirror_before'] else float('nan'):.1f}; "
                      f"this build's throughput over {label}'s: "
                      f"{mmm(a['new_over_before'], '{:.3f}')}")
            if a["mirror_first"] is not None:
                print(f"  {'':<12} first mirror (opens the overlay): {a['mirror_first']} us; "
                      f"p99 of the others: "
                      f"{sorted(a['mirror_rest'])[int(0.99 * (len(a['mirror_rest']) - 1))]} us")
        bins_b = dict(bins)
        if o.fine:
            bins_b["fine"] = bins["ptm"]
        if o.gap > 0:
            bins_b["gap"] = bins["plain"]
        b = bench_b(bins_b, workdir, o.rounds, o.transfers, o.gap)
        print("\n(b) 10% overdrafts, 3 competing writers, WAL (synchronous=FULL)")
        rows = [
            ("failed primary attempts", lambda t: t["primary_failures"], "{:.0f}"),
            ("rolled-back transactions", lambda t: t["rollbacks"], "{:.0f}"),
            ("p50 latency us", lambda t: t["p50_us"], "{:.0f}"),
            ("p99 latency us", lambda t: t["p99_us"], "{:.0f}"),
            ("overdrafts never at the primary %", lambda t: 100.0 * t["overdrafts_without_primary"]
             / max(1, t["overdrafts"]), "{:.1f}"),
            ("good transfers diverted %", lambda t: 100.0 * t["good_diverted"] / max(1, t["good"]),
             "{:.2f}"),
            ("transfers/s", lambda t: t["transfers"] / t["elapsed_s"], "{:.0f}"),
        ]
        print(f"  {'':<36} {'ptm':>24} {'plain':>24}")
        for name, get, fmt in rows:
            print(f"  {name:<36} {mmm([get(t) for t in b['ptm']], fmt):>24} "
                  f"{mmm([get(t) for t in b['plain']], fmt):>24}")
        if "before" in b:
            for name, get, fmt in rows[:6]:
                print(f"  {label + ': ' + name:<36} {mmm([get(t) for t in b['before']], fmt):>24}")
            p99b = [p["p99_us"] / q["p99_us"] for p, q in zip(b["before"], b["plain"])]
            print(f"  {label + ': p99 ratio /plain':<36} {mmm(p99b, '{:.3f}'):>24}")
        if "fine" in b:
            for name, get, fmt in rows[:4]:
                print(f"  {'fine busy: ' + name:<36} "
                      f"{mmm([get(t) for t in b['fine']], fmt):>24}")
            p99n = [p["p99_us"] / q["p99_us"] for p, q in zip(b["fine"], b["plain"])]
            print(f"  {'fine busy: p99 ratio /plain':<36} {mmm(p99n, '{:.3f}'):>24}")
        if "gap" in b:
            for name, get, fmt in rows[:4]:
                print(f"  {f'plain, {o.gap} us gap: ' + name:<36} "
                      f"{mmm([get(t) for t in b['gap']], fmt):>24}")
            p99g = [p["p99_us"] / q["p99_us"] for p, q in zip(b["gap"], b["plain"])]
            print(f"  {f'plain, {o.gap} us gap: p99 /plain':<36} {mmm(p99g, '{:.3f}'):>24}")
        p99 = [p["p99_us"] / q["p99_us"] for p, q in zip(b["ptm"], b["plain"])]
        p50 = [p["p50_us"] / q["p50_us"] for p, q in zip(b["ptm"], b["plain"])]
        print(f"  {'p99 ratio ptm/plain (<=0.8)':<36} {mmm(p99, '{:.3f}'):>24}")
        print(f"  {'p50 ratio ptm/plain':<36} {mmm(p50, '{:.3f}'):>24}")
        overdrafts = sum(t["overdrafts"] for t in b["ptm"])
        never = sum(t["overdrafts_without_primary"] for t in b["ptm"])
        good = sum(t["good"] for t in b["ptm"])
        good_div = sum(t["good_diverted"] for t in b["ptm"])
        print(f"  all rounds: {never}/{overdrafts} overdrafts never reached the primary "
              f"({100.0 * never / max(1, overdrafts):.1f}%), {good_div}/{good} good transfers "
              f"diverted ({100.0 * good_div / max(1, good):.2f}%)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
