"""End to end: examples/bank, transfers in SQLite, built by ptmcc and by
clang-19 alone (bank-plain), run for real, in WAL and rollback-journal mode.

- money is conserved in every run (both builds, both journal modes, three
  concurrent writers);
- an overdraft is seen in the mirror as SQLITE_CONSTRAINT_CHECK and
  diverted to transfer_reject before the primary touches the database; a
  transfer over the limit goes to transfer_queued;
- a transfer that meets a writer holding the lock (another process in
  BEGIN IMMEDIATE) is contention, and gets the rules' retries and backoff;
- 1,000 mirrors (PTM_DRY_RUN=1) leave the database, -wal and -shm as they
  were, and no -journal file is ever created (inotify on the directory);
- a mirror during a concurrent checkpoint is inconclusive, not wrong;
- a fork mirror decides as an inline one, and the plain build ends with
  the same database.
"""
import ctypes
import hashlib
import json
import os
import select
import struct
import subprocess
import sys
import time

import ptmtest
from ptmtest import clean_env, read_trace

JOURNALS = ("wal", "delete")
BALANCE = 1000000  # each account's starting balance (bank's default)
LIMIT = 100000     # bank.c's per-transfer limit


def sha256(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def db_content(path):
    """What the database holds, read with Python's own sqlite3 (read-only)."""
    import sqlite3
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            "accounts": con.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall(),
            "transfers": con.execute(
                "SELECT id, from_id, to_id, cents FROM transfers ORDER BY id").fetchall(),
            "pending": con.execute(
                "SELECT from_id, to_id, cents, reason FROM pending ORDER BY id").fetchall(),
            "total": con.execute("SELECT value FROM meta WHERE key = 'total'").fetchone()[0],
        }
    finally:
        con.close()


def is_check(event):
    """An event of a statement that failed a CHECK constraint (its detail
    is the extended code's name, then the rows it changed)."""
    return (event.get("detail") or "").startswith("SQLITE_CONSTRAINT_CHECK")


def conserved(content):
    balances = sum(b for _, b in content["accounts"])
    pending = sum(p[2] for p in content["pending"])
    return balances + pending == content["total"] and all(b >= 0 for _, b in content["accounts"])


class Inotify:
    """Every create, delete, move and write in one directory, through the
    kernel's inotify (ctypes: the standard library has no binding)."""
    IN_MODIFY, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x2, 0x80, 0x100, 0x200

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        # Not IN_CLOSE_WRITE: the host's own connection opens the database
        # read-write and closes it at exit, writing nothing.
        mask = self.IN_MODIFY | self.IN_MOVED_TO | self.IN_CREATE | self.IN_DELETE
        if self.libc.inotify_add_watch(self.fd, path.encode(), mask) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")
        self.events = []

    def drain(self):
        while select.select([self.fd], [], [], 0)[0]:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            off = 0
            while off < len(buf):
                _, mask, _, length = struct.unpack_from("iIII", buf, off)
                name = buf[off + 16:off + 16 + length].rstrip(b"\0").decode()
                self.events.append((mask, name))
                off += 16 + length
        return self.events

    def close(self):
        os.close(self.fd)


class Bank(ptmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.bank = ptmtest.build_path("examples", "bank", "bank")
        self.plain = ptmtest.build_path("examples", "bank", "bank-plain")
        self.trace = os.path.join(self.dir, "trace.jsonl")

    def db(self, name="bank.db"):
        return os.path.join(self.dir, name)

    def bank_cmd(self, args, binary=None, timeout=120, **env):
        r = self.run_cmd([binary or self.bank, *args], env=clean_env(**env), timeout=timeout)
        return r

    def init(self, db, journal):
        r = self.bank_cmd(["init", "--db", db, "--journal", journal], binary=self.plain)
        self.assertEqual(r.returncode, 0, r.stderr)

    def transfer(self, db, *triples, binary=None, extra=(), **env):
        """`bank transfer`: one JSON line per call."""
        env.setdefault("PTM_TRACE", self.trace)
        args = ["transfer", "--db", db, *extra]
        for t in triples:
            args += [str(x) for x in t]
        r = self.bank_cmd(args, binary=binary, **env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def records(self):
        return read_trace(self.trace)

    def assert_inline(self, t):
        """The mirror of transfer() ran inline and came back: every call it
        makes is a shim (the SQLite family) or a clone."""
        self.assertEqual(t["mirror"], "inline", t["mirror_reason"])
        self.assertEqual(t["mirror_status"], "returned", t.get("mirror_error"))

    # -- money is conserved ----------------------------------------------------

    def test_money_is_conserved_in_every_run(self):
        for build in ("ptm", "plain"):
            for journal in JOURNALS:
                with self.subTest(build=build, journal=journal):
                    db = self.db(f"{build}-{journal}.db")
                    binary = self.bank if build == "ptm" else self.plain
                    trace = os.path.join(self.dir, f"{build}-{journal}.jsonl")
                    r = self.bank_cmd(["run", "--db", db, "--journal", journal, "--procs", "3",
                                       "--transfers", "150", "--overdraft-share", "0.10",
                                       "--large-share", "0.02", "--seed", "7"],
                                      binary=binary, timeout=240, PTM_TRACE=trace)
                    self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                    lines = [json.loads(line) for line in r.stdout.splitlines()]
                    procs = [x for x in lines if "proc" in x]
                    total = [x for x in lines if "procs" in x][0]
                    check = lines[-1]
                    self.assertEqual(len(procs), 3)
                    self.assertTrue(check["check"], check)
                    self.assertEqual(check["negative_balances"], 0)
                    self.assertEqual(total["transfers"], 450)
                    # (A transfer may give up, busy after all its retries on a
                    # loaded machine: what it did not do, it did not half do.)
                    # Independently of the program's own check:
                    content = db_content(db)
                    self.assertTrue(conserved(content), check)
                    self.assertEqual(len(content["transfers"]), total["ok"])
                    self.assertEqual(len(content["pending"]), total["queued"])
                    self.assertGreater(total["overdrafts"], 0)
                    if build == "plain":
                        self.assertEqual(total["diverted"], 0)
                        continue
                    # With PTM, overdrafts never reach the primary (a few may,
                    # when a mirror was inconclusive) and good transfers are
                    # not diverted.
                    self.assertGreaterEqual(total["overdrafts_without_primary"],
                                            0.9 * total["overdrafts"], total)
                    self.assertLessEqual(total["good_diverted"], 0.01 * total["good"], total)
                    records = read_trace(trace)
                    self.assertEqual(len(records), 450)
                    for t in records:
                        self.assert_inline(t)

    # -- an overdraft is diverted before the primary touches the database ------

    def test_overdraft_is_diverted_before_the_primary(self):
        for journal in JOURNALS:
            with self.subTest(journal=journal):
                db = self.db(f"overdraft-{journal}.db")
                self.init(db, journal)
                self.assertEqual(self.transfer(db, (1, 2, 500))[0]["result"], "ok")
                before, sums = db_content(db), sha256(db)
                open(self.trace, "w").close()
                out = self.transfer(db, (3, 4, BALANCE + 1))[0]
                self.assertEqual(out["result"], "rejected", out)
                self.assertEqual(out["attempts"], 0)     # the primary never ran
                self.assertFalse(out["fallback"])        # PTM diverted, not the program
                self.assertEqual(db_content(db), before)  # transfers log, rowids, balances
                self.assertEqual(sha256(db), sums)
                t = self.records()[-1]
                self.assert_inline(t)
                self.assertEqual(t["decision"], "divert")
                self.assertEqual(t["path"], "transfer_reject")
                self.assertEqual(t["outcome"], "success")
                self.assertTrue(t["signals"]["validation"])
                check = [e for e in t["events"] if is_check(e)]
                self.assertTrue(check, t["events"])
                self.assertEqual(check[0]["errname"], "EINVAL")
                self.assertEqual(check[0]["class"], "validation")
                self.assertIn("sqlite3_step", [e["call"] for e in check])
                self.assertIn("UPDATE accounts", " ".join(e["target"] or "" for e in check))
                self.assertTrue(any("sqlite3_step would fail" in r for r in t["reasons"]),
                                t["reasons"])

    def test_over_the_limit_is_queued(self):
        for journal in JOURNALS:
            with self.subTest(journal=journal):
                db = self.db(f"limit-{journal}.db")
                self.init(db, journal)
                before = db_content(db)
                out = self.transfer(db, (5, 6, LIMIT + 1))[0]
                self.assertEqual(out["result"], "queued", out)
                self.assertEqual(out["attempts"], 0)
                t = self.records()[-1]
                self.assert_inline(t)
                self.assertEqual((t["decision"], t["path"]), ("divert", "transfer_queued"))
                self.assertIn("INSERT INTO transfers",
                              " ".join(e["target"] or "" for e in t["events"] if is_check(e)))
                after = db_content(db)
                self.assertEqual(after["transfers"], before["transfers"])
                self.assertEqual(after["pending"],
                                 [(5, 6, LIMIT + 1, "over the per-transfer limit")])
                self.assertEqual(dict(after["accounts"])[5], BALANCE - LIMIT - 1)
                self.assertTrue(conserved(after))

    def test_good_transfer_runs_the_primary(self):
        for journal in JOURNALS:
            with self.subTest(journal=journal):
                db = self.db(f"good-{journal}.db")
                self.init(db, journal)
                open(self.trace, "w").close()
                out = self.transfer(db, (1, 2, 250))[0]
                self.assertEqual((out["result"], out["attempts"]), ("ok", 1))
                t = self.records()[-1]
                self.assert_inline(t)
                self.assertEqual((t["decision"], t["path"], t["attempts"]),
                                 ("primary", "transfer", 1))
                self.assertEqual(t["probability"], 0)
                self.assertFalse(t["signals"]["validation"] or t["signals"]["contention"])
                # One event per statement, its SQL with the literals as "?",
                # every one predicted to succeed.
                statements = [(e["call"], e["target"].split(" ")[0], e["errno"])
                              for e in t["events"] if e["kind"] == "call"]
                self.assertEqual(statements, [("sqlite3_exec", "BEGIN", 0),
                                              ("sqlite3_step", "UPDATE", 0),
                                              ("sqlite3_step", "UPDATE", 0),
                                              ("sqlite3_step", "INSERT", 0),
                                              ("sqlite3_exec", "COMMIT", 0)], t["events"])
                self.assertIn("changes=1", t["events"][1]["detail"])
                content = db_content(db)
                self.assertEqual(content["transfers"][-1][1:], (1, 2, 250))
                self.assertEqual(dict(content["accounts"])[2], BALANCE + 250)

    # -- contention: another writer holds the lock -------------------------------

    def hold(self, db, ms):
        """A plain bank process in BEGIN IMMEDIATE for ms milliseconds."""
        p = subprocess.Popen([self.plain, "hold", "--db", db, "--ms", str(ms)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=clean_env())
        line = p.stdout.readline()
        self.assertIn("holding", line, p.stderr.read() if not line else line)
        return p

    def test_lock_held_by_another_writer_is_contention(self):
        # busy_ms 10: the host waits for locks, so the mirror goes on past
        # the held one (pretended); 0: the host would not wait, and the
        # mirror sees SQLITE_BUSY.  Either way the primary gets up to 10
        # retries; the holder lets go in time for the first case's budget
        # (11 attempts of 10 ms and the backoff, ~270 ms) and usually for
        # the second's (~160 ms of backoff alone).
        # The holder must still hold the lock when the transfer's mirror runs
        # (after the process has started: slow under ASan or valgrind) and
        # let go within the first case's budget: the holds are counted from
        # how long a warm-up transfer's process took to reach the end of
        # its call (mirror and primary) on this build (its start_us is CLOCK_MONOTONIC, as time.monotonic;
        # its whole wall time would count the exit too, which under ASan,
        # LeakSanitizer's check, is long enough to eat the budget).
        warm = self.db("warm.db")
        self.init(warm, "wal")
        t0 = time.monotonic()
        out = self.transfer(warm, (1, 2, 1), PTM_TRACE=os.devnull)[0]
        startup_ms = max(0, int((out["start_us"] + out["us"]) / 1000 - t0 * 1000))
        for journal in JOURNALS:
            for busy_ms, hold_ms in ((10, startup_ms + 100), (0, startup_ms + 60)):
                with self.subTest(journal=journal, busy_ms=busy_ms):
                    db = self.db(f"lock-{journal}-{busy_ms}.db")
                    self.init(db, journal)
                    open(self.trace, "w").close()
                    holder = self.hold(db, hold_ms)
                    try:
                        out = self.transfer(db, (1, 2, 300), extra=["--busy-ms", str(busy_ms)])[0]
                    finally:
                        holder.communicate(timeout=30)
                    t = self.records()[-1]
                    self.assert_inline(t)
                    self.assertTrue(t["signals"]["contention"], t["signals"])
                    self.assertFalse(t["signals"]["validation"], t["events"])
                    busy = [e for e in t["events"] if e.get("errname") == "EBUSY"]
                    self.assertTrue(busy, t["events"])
                    self.assertEqual(busy[0]["class"], "contention")
                    self.assertIn(f"lock held by pid {holder.pid}", busy[0]["target"])
                    # Never diverted for contention: the primary runs, with the
                    # rules' 10 retries and the metadata's backoff between them.
                    self.assertEqual(t["decision"], "primary")
                    self.assertEqual(t["adjusted"].get("retries"), 10, t["adjusted"])
                    self.assertGreaterEqual(t["attempts"], 2)
                    self.assertEqual(out["attempts"], t["attempts"])
                    if busy_ms or t["outcome"] == "success":
                        self.assertEqual((t["outcome"], out["result"]), ("success", "ok"), t)
                    else:
                        self.assertEqual((t["attempts"], out["result"]), (11, "busy"), t)
                    self.assertTrue(conserved(db_content(db)))

    # -- mirrors write nothing -----------------------------------------------------

    def test_a_thousand_mirrors_change_no_file(self):
        import sqlite3
        for journal in JOURNALS:
            with self.subTest(journal=journal):
                sub = os.path.join(self.dir, journal)
                os.mkdir(sub)
                db = os.path.join(sub, "bank.db")
                self.init(db, journal)
                # Another connection keeps -wal and -shm in place, with
                # frames in the WAL that the mirrors must read through.
                con = sqlite3.connect(db, isolation_level=None)
                try:
                    con.execute("UPDATE accounts SET balance = balance - 7 WHERE id = 1")
                    con.execute("UPDATE accounts SET balance = balance + 7 WHERE id = 2")
                    con.execute("SELECT count(*) FROM accounts").fetchone()
                    files = ["bank.db"] + (["bank.db-wal", "bank.db-shm"] if journal == "wal" else [])
                    before = {f: sha256(os.path.join(sub, f)) for f in files}
                    self.assertTrue(all(before.values()), before)
                    names = sorted(os.listdir(sub))
                    watch = Inotify(sub)
                    open(self.trace, "w").close()
                    try:
                        # Good, overdraft, no such account, invalid: the
                        # program's own answers to each write nothing either.
                        p = subprocess.Popen(
                            [self.bank, "transfer", "--db", db, "--repeat", "1000", "--quiet",
                             "1", "2", "100", "3", "4", str(BALANCE * 5), "1", "99", "5",
                             "2", "2", "5"],
                            env=clean_env(PTM_DRY_RUN=1, PTM_TRACE=self.trace),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                        seen = set()
                        while p.poll() is None:  # and poll the directory as well
                            seen.update(os.listdir(sub))
                            time.sleep(0.002)
                        out, err = p.communicate()
                        events = watch.drain()
                    finally:
                        watch.close()
                    self.assertEqual(p.returncode, 0, err)
                    self.assertEqual(json.loads(out)["calls"], 1000)
                    self.assertEqual({f: sha256(os.path.join(sub, f)) for f in files}, before)
                    self.assertEqual(sorted(os.listdir(sub)), names)
                    self.assertFalse([n for n in seen if n.endswith("-journal")], seen)
                    self.assertEqual(events, [], "files created or written during the mirrors")
                    records = self.records()
                    self.assertEqual(len(records), 1000)
                    for t in records:
                        self.assertTrue(t["dry_run"])
                        self.assert_inline(t)
                    decisions = [t["decision"] for t in records[:4]]
                    self.assertEqual(decisions, ["primary", "divert", "divert", "divert"])
                finally:
                    con.close()

    # -- a checkpoint during the mirror ---------------------------------------------

    CHURN = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
end = time.time() + float(sys.argv[2])
n = 0
while time.time() < end:
    con.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 19")
    con.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 20")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    n += 1
print(n)
"""

    def test_mirror_during_a_checkpoint_is_inconclusive_not_wrong(self):
        db = self.db("churn.db")
        self.init(db, "wal")
        inconclusive, good = [], []
        deadline = time.time() + 60
        while not inconclusive and time.time() < deadline:
            open(self.trace, "w").close()
            churn = subprocess.Popen([sys.executable, "-c", self.CHURN, db, "4"],
                                     stdout=subprocess.PIPE, text=True, env=clean_env())
            try:
                out = self.transfer(db, (1, 2, 100), (3, 4, BALANCE * 5),
                                    extra=["--repeat", "4000", "--quiet"], PTM_DRY_RUN=1)
            finally:
                churn.communicate(timeout=30)
            self.assertEqual(out[0]["calls"], 4000)
            records = self.records()
            self.assertEqual(len(records), 4000)
            for i, t in enumerate(records):
                changed = [e for e in t["events"]
                           if (e.get("target") or "").endswith("changed during the mirror")]
                if changed:
                    self.assertEqual(changed[0]["detail"], "inconclusive")
                    self.assertTrue(t["signals"]["pretended"], t)
                    inconclusive.append(t)
                if i % 2 == 0:
                    good.append(t)
        self.assertTrue(inconclusive, "no mirror overlapped a checkpoint in 60 s")
        # Not wrong: a good transfer whose mirror met the checkpoint is not
        # taken for a failure.
        for t in good:
            self.assertEqual(t["decision"], "primary", t)
            self.assertFalse(t["signals"]["validation"], t)
        self.assertTrue(conserved(db_content(db)))

    # -- fork and inline, PTM and plain ---------------------------------------------

    WORKLOAD = [(1, 2, 500), (3, 4, BALANCE * 3), (5, 6, LIMIT + 10), (7, 99, 5), (8, 8, 1),
                (2, 1, 250), (1, 2, BALANCE + 1), (9, 10, 42), (10, 9, LIMIT + 1), (4, 3, 7)]

    def test_fork_mirror_decides_as_inline(self):
        for journal in JOURNALS:
            with self.subTest(journal=journal):
                runs = {}
                for executor in ("inline", "fork"):
                    db = self.db(f"{executor}-{journal}.db")
                    self.init(db, journal)
                    open(self.trace, "w").close()
                    out = self.transfer(db, *self.WORKLOAD, PTM_MIRROR=executor)
                    records = self.records()
                    for t in records:
                        self.assertEqual(t["mirror"], executor)
                        self.assertEqual(t["mirror_status"], "returned", t)
                    runs[executor] = ([(o["result"], o["attempts"]) for o in out],
                                      [(t["decision"], t["path"], t["attempts"]) for t in records],
                                      [sorted(e["detail"] for e in t["events"]
                                              if e.get("errname")) for t in records],
                                      db_content(db))
                self.assertEqual(runs["fork"][0], runs["inline"][0])
                self.assertEqual(runs["fork"][1], runs["inline"][1])
                self.assertEqual(runs["fork"][2], runs["inline"][2])
                strip = lambda c: {**c, "transfers": [x[1:] for x in c["transfers"]]}
                self.assertEqual(strip(runs["fork"][3]), strip(runs["inline"][3]))
                decisions = [d for d, _, _ in runs["inline"][1]]
                self.assertEqual(decisions.count("divert"), 6, runs["inline"][1])

    def test_plain_build_ends_with_the_same_database(self):
        results = {}
        for build, binary in (("ptm", self.bank), ("plain", self.plain)):
            db = self.db(f"{build}.db")
            self.init(db, "wal")
            out = self.transfer(db, *self.WORKLOAD, binary=binary)
            results[build] = ([o["result"] for o in out],
                              {**db_content(db), "transfers": [x[1:] for x in
                                                               db_content(db)["transfers"]]})
        self.assertEqual(results["ptm"], results["plain"])
        self.assertEqual(results["plain"][0],
                         ["ok", "rejected", "queued", "rejected", "rejected",
                          "ok", "rejected", "ok", "queued", "ok"])

    # -- the bench's timeline: --calls and --think-us ------------------------------

    def test_calls_file_has_each_call_and_think_spaces_them(self):
        """`run --calls F` writes F.<pid> per writer, one line per call
        (start us, latency us, kind, attempts, result), in the order made;
        `--think-us N` puts at least N us of the writer's own work between
        one call's end and the next call's start (bench/bank/holds.py)."""
        results = {"ok", "overdraft", "over_limit", "busy", "queued", "rejected", "error"}
        for build, binary in (("ptm", self.bank), ("plain", self.plain)):
            with self.subTest(build=build):
                d = os.path.join(self.dir, build)
                os.mkdir(d)
                r = self.bank_cmd(["run", "--db", os.path.join(d, "bank.db"), "--procs", "2",
                                   "--transfers", "30", "--seed", "3", "--think-us", "300",
                                   "--calls", os.path.join(d, "calls")], binary=binary)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                files = sorted(f for f in os.listdir(d) if f.startswith("calls."))
                self.assertEqual(len(files), 2, files)
                for f in files:
                    with open(os.path.join(d, f)) as fh:
                        rows = [line.split() for line in fh]
                    self.assertEqual(len(rows), 30)
                    for start, lat, kind, attempts, result in rows:
                        self.assertGreater(float(lat), 0)
                        self.assertIn(kind, ("g", "o", "l"))
                        self.assertGreaterEqual(int(attempts), 0)
                        self.assertIn(result, results)
                    for a, b in zip(rows, rows[1:]):
                        self.assertGreaterEqual(float(b[0]) - float(a[0]) - float(a[1]), 299,
                                                (a, b))
                r = self.bank_cmd(["run", "--db", os.path.join(d, "bank.db"), "--think-us", "-1"],
                                  binary=binary)
                self.assertEqual(r.returncode, 2, "a negative think time is refused")


if __name__ == "__main__":
    ptmtest.main()
