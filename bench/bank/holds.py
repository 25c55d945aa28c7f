#!/usr/bin/env python3
"""bench/bank/holds.py: why a bank call waits long for the write lock.

    holds.py DIR...

Each DIR holds the holds.<pid> files of one `bank run` under holds.so (see
holds.c), and the calls.<pid> files of its `--calls calls` if given.  For
each run: the BEGIN IMMEDIATE waits and the lock holds (p50/p90/p99, us),
the waits that failed (SQLITE_BUSY after the busy timeout) or lasted more
than 5 ms ("bad"), and for those the share of the wait that other writers
held the lock, how many writers held it, and the free gaps between their
holds: the time a waiter has to try again in.  Then the handovers (a
BEGIN that got the lock after another writer last held it) and each
writer's own gap (from its COMMIT to its next BEGIN: where a waiter that
wakes from SQLite's blind sleep finds the lock free), and with calls
files the calls that took over 1 ms.
"""
import collections
import glob
import os
import sys


def load(d):
    waits, holds = [], []
    for f in glob.glob(os.path.join(d, "holds.*")):
        pid, begun = f.rsplit(".", 1)[1], None
        for line in open(f):
            kind, rc, t0, t1 = line.split()
            rc, t0, t1 = int(rc), float(t0), float(t1)
            if kind == "B":
                waits.append((pid, rc, t0, t1))
                begun = t1 if rc == 0 else None
            elif begun is not None:
                holds.append((pid, begun, t1))
                begun = None
    return waits, holds


def q(v, x):
    return v[min(len(v) - 1, int(x * len(v)))] if v else 0


def handovers(d):
    """The lock's changes of hands, and each writer's own gaps (us, sorted)."""
    ev = []
    for f in glob.glob(os.path.join(d, "holds.*")):
        pid = f.rsplit(".", 1)[1]
        for line in open(f):
            kind, rc, t0, t1 = line.split()
            if kind == "C" or int(rc) == 0:
                ev.append((float(t1), float(t0), kind, pid))
    ev.sort()
    owners, last_commit, gaps = [], {}, []
    for t1, t0, kind, pid in ev:
        if kind == "B":
            owners.append(pid)
            if pid in last_commit:
                gaps.append(t0 - last_commit.pop(pid))
        else:
            last_commit[pid] = t1
    return sum(a != b for a, b in zip(owners, owners[1:])), sorted(gaps)


def slow_calls(d, over_us=1000):
    """(calls over over_us, calls) from the calls.<pid> files, or None."""
    lat = [float(line.split()[1]) for f in glob.glob(os.path.join(d, "calls.*"))
           for line in open(f)]
    return (sum(x > over_us for x in lat), len(lat)) if lat else None


def report(d):
    waits, holds = load(d)
    w = sorted(t1 - t0 for _, rc, t0, t1 in waits if rc == 0)
    h = sorted(t1 - t0 for _, t0, t1 in holds)
    bad = [x for x in waits if x[1] != 0 or x[3] - x[2] > 5000]
    cover, holders, gaps = [], collections.Counter(), collections.Counter()
    for pid, rc, a, b in bad:
        iv = sorted((max(a, t0), min(b, t1), p) for p, t0, t1 in holds
                    if p != pid and t1 > a and t0 < b)
        cover.append(sum(y - x for x, y, _ in iv) / (b - a))
        holders[len({p for *_, p in iv})] += 1
        for (_, y1, _), (x2, _, _) in zip(iv, iv[1:]):
            g = x2 - y1
            gaps["<50us" if g < 50 else "<300us" if g < 300 else "<1ms" if g < 1000 else ">=1ms"] += 1
    cover.sort()
    print(f"{d}: {len(waits)} BEGIN IMMEDIATE, {sum(x[1] != 0 for x in waits)} failed, "
          f"{len(bad)} failed or waited > 5 ms")
    print(f"  wait p50/p90/p99 {q(w, .5):.0f}/{q(w, .9):.0f}/{q(w, .99):.0f} us; "
          f"hold p50/p90/p99 {q(h, .5):.0f}/{q(h, .9):.0f}/{q(h, .99):.0f} us")
    if bad:
        print(f"  those waits: held by others {q(cover, .1):.2f}/{q(cover, .5):.2f}/"
              f"{q(cover, .9):.2f} of the time (p10/p50/p90); writers holding: "
              f"{dict(sorted(holders.items()))}; free gaps between holds: {dict(gaps)}")
    n, own = handovers(d)
    print(f"  handovers {n}; a writer's own gap COMMIT->BEGIN p10/p50/p90 "
          f"{q(own, .1):.0f}/{q(own, .5):.0f}/{q(own, .9):.0f} us")
    slow = slow_calls(d)
    if slow:
        print(f"  calls over 1 ms: {slow[0]} of {slow[1]} ({100.0 * slow[0] / slow[1]:.2f}%)")


if __name__ == "__main__":
    for d in sys.argv[1:]:
        report(d)
