"""End to end: the persisted history (runtime/store.c) and the model.

A program whose service overruns its timeout runs five calls: a predicted
timeout alone is 0.3 in the seed's rules, under the default threshold, so
each call runs the primary and overruns, a labelled failure (a sixth would
meet the circuit breaker, whose streak is not persisted).  A second run of
the same program starts from the file's five outcomes, and adds five; the
third's first call is diverted, and the reason names the model.  With PTM_HISTORY=off every run
starts cold.  PTM_MODE=observe predicts and records, but runs the primary.
"""
import os
import shutil
import sqlite3

import ptmtest
from ptmtest import clean_env, read_trace

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


class History(ptmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        src = os.path.join(self.dir, "slow_service.c")
        shutil.copy(os.path.join(PROGRAMS, "slow_service.c"), src)
        self.exe = self.compile(src, os.path.join(self.dir, "slow_service"))
        self.db = os.path.join(self.dir, "state", "slow_service.db")

    def run_traced(self, n, name, **env):
        trace = os.path.join(self.dir, name + ".jsonl")
        # The mirror's own deadline is the transaction's 5 ms timeout by
        # default: on a loaded machine a descheduled mirror ran out of it
        # now and then (mirror_status "timeout", deviation 1.0), which put
        # that call in another cell of the model (cell 204, not 68), with
        # no outcomes: the second run's first call saw n 0, the rest 5..8
        # (reproduced once in 40 runs beside three CPU hogs).  The cells are
        # what is tested here, not the deadline: the mirror has 2 s.
        env.setdefault("PTM_MIRROR_DEADLINE_MS", 2000)
        r = self.run_cmd([self.exe, str(n)], env=clean_env(PTM_TRACE=trace, **env))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "nothing said: the file works")
        return r, read_trace(trace)

    def test_second_run_starts_warm(self):
        r, t1 = self.run_traced(5, "run1", PTM_HISTORY=self.db)
        self.assertEqual([x["decision"] for x in t1], ["primary"] * 5)
        self.assertEqual([x["model"]["n"] for x in t1], list(range(5)))
        self.assertTrue(all(x["probability"] == 0.3 for x in t1), [x["probability"] for x in t1])
        self.assertTrue(all(x["history_store"] is None for x in t1))
        with sqlite3.connect(self.db) as db:
            n, f = db.execute("SELECT sum(n), sum(failures) FROM ptm_model "
                              "WHERE id = 'history.slow'").fetchone()
            calls, = db.execute("SELECT calls FROM ptm_tx WHERE id = 'history.slow'").fetchone()
        self.assertEqual((n, f, calls), (5, 5, 5))

        # The second run starts from the first's outcomes.
        r, t2 = self.run_traced(5, "run2", PTM_HISTORY=self.db)
        self.assertEqual([x["model"]["n"] for x in t2], list(range(5, 10)),
                         [(x["model"], x["signals"]) for x in t2[:2]])
        self.assertEqual([x["decision"] for x in t2], ["primary"] * 5)

        # The third has enough of them: its first call is diverted.
        r, t3 = self.run_traced(3, "run3", PTM_HISTORY=self.db)
        first = t3[0]
        self.assertEqual(first["decision"], "divert", first)
        self.assertEqual(first["path"], "cached_answer")
        self.assertEqual(first["model"]["n"], 10)
        self.assertGreater(first["probability"], 0.8)
        self.assertTrue(any(s.startswith("model: ") and "10 outcomes" in s
                            for s in first["reasons"]), first["reasons"])
        self.assertIn("cached 0", r.stdout)

    def test_breaker_opens_after_five_failures_in_a_row(self):
        r, t = self.run_traced(7, "breaker", PTM_HISTORY="off")
        self.assertEqual([x["decision"] for x in t[:5]], ["primary"] * 5)
        sixth = t[5]
        self.assertEqual(sixth["decision"], "divert", sixth)
        self.assertEqual(sixth["model"]["streak"], 5)
        self.assertEqual(sixth["probability"], 0.75)
        self.assertTrue(any(s.startswith("circuit breaker: 5 failures") for s in sixth["reasons"]),
                        sixth["reasons"])

    def test_off_starts_cold_every_time(self):
        for name in ("off1", "off2"):
            r, t = self.run_traced(3, name, PTM_HISTORY="off")
            self.assertEqual(t[0]["decision"], "primary")
            self.assertEqual(t[0]["model"]["n"], 0)
            self.assertEqual(t[0]["history_store"], "off")
        self.assertFalse(os.path.exists(self.db))

    def test_observe_mode_runs_the_primary_and_labels(self):
        self.run_traced(5, "warm1", PTM_HISTORY=self.db)
        self.run_traced(5, "warm2", PTM_HISTORY=self.db)
        r, t = self.run_traced(4, "observe", PTM_HISTORY=self.db, PTM_MODE="observe")
        self.assertEqual([x["decision"] for x in t], ["primary"] * 4)
        self.assertEqual([x["predicted"] for x in t], ["divert"] * 4)
        self.assertTrue(all(x["observe"] for x in t))
        self.assertEqual(r.stdout.count("served"), 4)
        # Every observed call is a label.
        self.assertEqual([x["model"]["n"] for x in t], [10, 11, 12, 13])

    def test_unusable_file_is_said_once(self):
        with open(os.path.join(self.dir, "junk.db"), "w") as f:
            f.write("not a database " * 300)
        trace = os.path.join(self.dir, "junk.jsonl")
        r = self.run_cmd([self.exe, "3"], env=clean_env(
            PTM_TRACE=trace, PTM_HISTORY=os.path.join(self.dir, "junk.db")))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("served"), 3)
        self.assertEqual(r.stderr.count("kept in memory only"), 1, r.stderr)
        t = read_trace(trace)
        self.assertIn("corrupt", t[0]["history_store"])


    def test_default_file_that_fails_keeps_stderr_plain(self):
        """The default file (not named by PTM_HISTORY) cannot be created
        under a HOME that is a regular file: the trace says why, stderr
        stays as a plain build's, the calls are served."""
        home = os.path.join(self.dir, "home-is-a-file")
        with open(home, "w") as f:
            f.write("x")
        trace = os.path.join(self.dir, "default.jsonl")
        r = self.run_cmd([self.exe, "3"], env=clean_env(
            PTM_TRACE=trace, PTM_HISTORY="", XDG_STATE_HOME="", HOME=home))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("served"), 3)
        self.assertEqual(r.stderr, "")
        t = read_trace(trace)
        self.assertIn("kept in memory only", t[0]["history_store"])
        self.assertIn("home-is-a-file", t[0]["history_store"])


if __name__ == "__main__":
    ptmtest.main()
