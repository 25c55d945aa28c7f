#!/usr/bin/env python3
"""The mixed workload of issue 13: 400 jobs, a quarter of them doomed, run by
bench/mixed/jobs.c built by ptmcc against the same file built by clang-19
alone (its careful retry loop), side by side, ABBA rounds, each run on a
fresh directory.

  python3 bench/mixed/run.py [build] [--rounds R] [--seed S] [--dir D]
                             [--history] [--trace] [--sync] [--burst N]

The plan (the same for both builds in a round; a new shuffle per round):
300 good jobs, 25 bad inputs, 20 unwritable paths, 20 jobs whose lock
another process holds for the whole run, 15 whose lock another process
takes just before the job and holds 30 ms, and 4 slow bursts of 5 jobs
each (the service answers in 80 ms against the job's 50 ms).  --burst N:
bursts of N jobs instead (the plan then has N - 5 fewer good jobs per
burst, so that it stays 400 jobs): how the half-open cadence (the replays
of a peer's recorded timeout before a probe, learnt from the peer's past
spells, 4 before any; runtime/shims/net_peers.c) fares when a burst is not
5 jobs long.

Per build and round: doomed jobs averted (deferred with no primary attempt:
the loop never averts), good jobs diverted (and of those, in the 20 jobs
after a burst ended), good jobs failed (deferred after failed attempts),
mean, p50, p99 and max latency per job in ms.  Then the ranges over the
rounds, and the ratios PTM / loop (targets: averted >= 95%, good diverted
<= 2%, good failed 0, mean and p99 <= 0.8x the loop's).

--sync: a third build in the same rounds, "sync": the PTM binary under
PTM_FLOCK_PROBE=sync (every flock probe reads /proc/locks itself, as before
runtime/shims/sim_locks.c), to show what the probe's read costs the jobs.

--history: PTM learns across the rounds (PTM_HISTORY in the run directory's
parent, kept between rounds: a warm start from the second round on);
without it, PTM_HISTORY=off (every run starts cold).  --trace: keep a
PTM_TRACE of each PTM run in the run directory (off by default: writing it
costs time).
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "jobs.c")
CLANG = "clang-19"


def build(build_dir, out):
    ptmcc = os.path.join(build_dir, "bin", "ptmcc")
    inc = os.path.join(os.path.dirname(HERE), "..", "runtime", "include")
    ptm_bin = os.path.join(out, "jobs-ptm")
    plain_bin = os.path.join(out, "jobs-plain")
    subprocess.run([ptmcc, "-O2", "-Wall", "-Wextra", "-Werror", SRC, "-o", ptm_bin], check=True)
    subprocess.run([CLANG, "-O2", "-Wall", "-Wextra", "-Werror", "-I", inc, SRC, "-o", plain_bin],
                   check=True)
    return ptm_bin, plain_bin


def make_plan(rng, burst=5):
    """A list of kinds: bursts of 's' kept together, the rest shuffled."""
    singles = ["g"] * (300 - 4 * (burst - 5)) + ["b"] * 25 + ["w"] * 20 + ["L"] * 20 + ["B"] * 15
    rng.shuffle(singles)
    # Bursts start at four places spread over the run, never adjacent.
    cuts = sorted(rng.sample(range(20, len(singles) - 20, 25), 4))
    plan = []
    last = 0
    for c in cuts:
        plan += singles[last:c] + ["s"] * burst
        last = c
    plan += singles[last:]
    return plan


def make_dir(root):
    d = tempfile.mkdtemp(prefix="mixed-", dir=root)
    os.makedirs(os.path.join(d, "in"))
    os.makedirs(os.path.join(d, "out"))
    with open(os.path.join(d, "in", "good"), "w") as f:
        f.write("OK 41\n")
    with open(os.path.join(d, "in", "bad"), "w") as f:
        f.write("garbage\n")
    for name in ("blocked", "lock.free", "lock.held", "lock.brief"):
        open(os.path.join(d, name), "w").close()  # blocked: a file, not a directory
    return d


def run_once(binary, plan, root, env, trace):
    d = make_dir(root)
    with open(os.path.join(d, "plan"), "w") as f:
        for i, k in enumerate(plan):
            f.write("%s %d\n" % (k, i))
    e = dict(os.environ, **env)
    if trace:
        e["PTM_TRACE"] = os.path.join(d, "trace.jsonl")
    r = subprocess.run([binary, d, os.path.join(d, "plan")], capture_output=True, text=True,
                       env=e, timeout=600)
    lines = r.stdout.split("\n")
    if r.returncode != 0 or "done" not in lines:
        sys.exit("%s failed (%d): %s" % (binary, r.returncode, r.stderr[-2000:]))
    rows = []
    for ln in lines:
        p = ln.split()
        if len(p) == 7:
            rows.append(dict(id=int(p[0]), kind=p[1], ms=float(p[2]) / 1000.0,
                             attempts=int(p[3]), primaries=int(p[4]), diverted=int(p[5]),
                             deferred=int(p[6])))
    if not trace:
        shutil.rmtree(d)
    return rows, d


def probe_times(trace):
    """The flock probes' durations in a PTM trace (ms), and how many answers
    came from an older read or were unknown."""
    d, stale, unknown = [], 0, 0
    with open(trace) as f:
        for ln in f:
            for e in json.loads(ln)["events"]:
                det = e.get("detail") or ""
                if e["call"] != "flock" or "LOCK_UN" in det:
                    continue
                d.append(e["dur_ms"])
                stale += "as of" in det
                unknown += "unknown" in det
    return sorted(d), stale, unknown


def p99(v):
    s = sorted(v)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def figures(rows):
    doomed = [r for r in rows if r["kind"] != "g"]
    good = [r for r in rows if r["kind"] == "g"]
    after_burst = set()
    for i, r in enumerate(rows):
        if r["kind"] == "s" and (i + 1 >= len(rows) or rows[i + 1]["kind"] != "s"):
            after_burst.update(range(i + 1, i + 21))
    averted = [r for r in doomed if r["diverted"] and r["primaries"] == 0]
    gdiv = [r for r in good if r["diverted"]]
    gdiv_after = [r for r in gdiv if r["id"] in after_burst]
    gfail = [r for r in good if r["deferred"] == 2]
    lat = [r["ms"] for r in rows]
    glat = [r["ms"] for r in good]
    per_kind = {}
    for k in "bwLBs":
        ks = [r for r in doomed if r["kind"] == k]
        per_kind[k] = (sum(1 for r in ks if r["diverted"] and r["primaries"] == 0), len(ks),
                       sum(r["attempts"] for r in ks))
    return dict(averted=len(averted), doomed=len(doomed), good=len(good), gdiv=len(gdiv),
                gdiv_after=len(gdiv_after), gfail=len(gfail), mean=statistics.mean(lat),
                p50=statistics.median(lat), p99=p99(lat), max=max(lat), per_kind=per_kind,
                gmean=statistics.mean(glat), gp99=p99(glat),
                attempts=sum(r["attempts"] for r in rows))


def show(name, f):
    kinds = " ".join("%s %d/%d" % (k, a, n) for k, (a, n, _) in f["per_kind"].items())
    print("  %-5s averted %3d/%d (%5.1f%%) [%s]  good diverted %d/%d (%.1f%%, %d after a burst)"
          "  good failed %d  attempts %d  mean %.2f  p50 %.2f  p99 %.2f  max %.1f ms"
          "  (good jobs: mean %.2f  p99 %.2f ms)"
          % (name, f["averted"], f["doomed"], 100.0 * f["averted"] / f["doomed"], kinds,
             f["gdiv"], f["good"], 100.0 * f["gdiv"] / f["good"], f["gdiv_after"], f["gfail"],
             f["attempts"], f["mean"], f["p50"], f["p99"], f["max"], f["gmean"], f["gp99"]))


def span(vals, fmt="%.2f"):
    return (fmt + "-" + fmt) % (min(vals), max(vals))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--history", action="store_true")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--sync", action="store_true")
    ap.add_argument("--burst", type=int, default=5)
    a = ap.parse_args()
    root = a.dir or tempfile.mkdtemp(prefix="ptm-mixed-", dir="/var/tmp")
    os.makedirs(root, exist_ok=True)
    ptm_bin, plain_bin = build(a.build, root)
    env = {"PTM_HISTORY": os.path.join(root, "history.db") if a.history else "off"}
    rng = random.Random(a.seed)
    res = {"ptm": [], "loop": [], "sync": []}
    print("load: %s" % open("/proc/loadavg").read().strip())
    for rnd in range(a.rounds):
        plan = make_plan(rng, a.burst)
        order = [("ptm", ptm_bin), ("loop", plain_bin)] + ([("sync", ptm_bin)] if a.sync else [])
        if rnd % 2:
            order.reverse()
        print("round %d" % (rnd + 1))
        for name, b in order:
            e = {} if name == "loop" else dict(env)
            if name == "sync":
                e["PTM_FLOCK_PROBE"] = "sync"
            rows, d = run_once(b, plan, root, e, a.trace)
            f = figures(rows)
            res[name].append(f)
            show(name, f)
            if a.trace and name != "loop":
                t = os.path.join(d, "trace.jsonl")
                pt, stale, unknown = probe_times(t)
                print("        flock probes: %d, median %.3f p99 %.3f max %.3f ms, %d over 4 ms;"
                      " %d answers from an older read, %d unknown; trace: %s"
                      % (len(pt), pt[len(pt) // 2], p99(pt), pt[-1], sum(x > 4 for x in pt),
                         stale, unknown, t))
    print("load: %s" % open("/proc/loadavg").read().strip())
    print("over %d rounds (min-max):" % a.rounds)
    for name in ("ptm", "loop", "sync"):
        fs = res[name]
        if not fs:
            continue
        print("  %-5s averted %s%%  good diverted %s%%  good failed %s  mean %s  p99 %s ms"
              "  good jobs: mean %s  p99 %s ms"
              % (name, span([100.0 * f["averted"] / f["doomed"] for f in fs], "%.1f"),
                 span([100.0 * f["gdiv"] / f["good"] for f in fs], "%.1f"),
                 span([f["gfail"] for f in fs], "%d"), span([f["mean"] for f in fs]),
                 span([f["p99"] for f in fs]), span([f["gmean"] for f in fs]),
                 span([f["gp99"] for f in fs])))
    rm = [p["mean"] / l["mean"] for p, l in zip(res["ptm"], res["loop"])]
    r99 = [p["p99"] / l["p99"] for p, l in zip(res["ptm"], res["loop"])]
    print("  ptm/loop per round: mean %s  p99 %s  (target <= 0.8)" % (span(rm), span(r99)))
    if not a.dir and not a.trace:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
