"""End to end: examples/ledger built by ptmcc (by CMake), run for real.

A good call runs the primary; a call whose mirror fails ptm_validate() is
diverted to ledger_reject() before anything reaches ledger.txt; the mirror
itself never changes a file; and the program built without ptmcc behaves
like the primary alone.
"""
import os
import shutil
import subprocess

import ptmtest
from ptmtest import clean_env, dir_state, file_state, read_trace


class Ledger(ptmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.ledger = ptmtest.build_path("examples", "ledger", "ledger")
        self.plain = ptmtest.build_path("examples", "ledger", "ledger-plain")
        self.trace = os.path.join(self.dir, "trace.jsonl")
        self.data = os.path.join(self.dir, "data")
        os.mkdir(self.data)

    def add(self, account, cents, binary=None, **env):
        env.setdefault("PTM_TRACE", self.trace)
        return self.run_cmd([binary or self.ledger, self.data, "add", account, str(cents)],
                            env=clean_env(**env))

    def text(self, name):
        path = os.path.join(self.data, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def last_trace(self):
        records = read_trace(self.trace)
        self.assertTrue(records, "no trace written")
        return records[-1]

    def test_good_call_runs_the_primary(self):
        r = self.add("alice", 1000)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "ok: alice +1000\n")
        self.assertEqual(self.text("ledger.txt"), "alice 1000\n")
        self.assertIn(" append alice 1000\n", self.text("audit.log"))
        t = self.last_trace()
        self.assertEqual(t["transaction_id"], "ledger.append")
        # ptmcc proved the mirror's stores stay in its locals: it runs inline.
        self.assertEqual(t["mirror"], "inline")
        self.assertIn("stores only into its locals", t["mirror_reason"])
        self.assertEqual(t["mirror_status"], "returned")
        self.assertEqual(t["decision"], "primary")
        self.assertEqual(t["path"], "ledger_append")
        self.assertEqual(t["outcome"], "success")
        self.assertEqual(t["attempts"], 1)
        self.assertEqual(t["probability"], 0)
        self.assertFalse(t["signals"]["validation"])
        # The mirror walked the primary's path: its writes were seen, not made.
        calls = [e.get("call") for e in t["events"]]
        for call in ["fopen", "fprintf", "fclose", "open", "write", "close", "printf"]:
            self.assertIn(call, calls)
        fprintf = [e for e in t["events"] if e.get("call") == "fprintf"]
        self.assertIn(11, [e["bytes"] for e in fprintf])  # "alice 1000\n"

    def test_overdraft_is_diverted_before_the_ledger_is_touched(self):
        self.assertEqual(self.add("alice", 1000).returncode, 0)
        before = file_state(os.path.join(self.data, "ledger.txt"))
        r = self.add("alice", -5000)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, "rejected: alice -5000\n")
        self.assertEqual(file_state(os.path.join(self.data, "ledger.txt")), before)
        self.assertEqual(self.text("rejected.txt"), "alice -5000\n")
        t = self.last_trace()
        self.assertEqual(t["decision"], "divert")
        self.assertEqual(t["path"], "ledger_reject")
        self.assertEqual(t["outcome"], "success")
        self.assertTrue(t["signals"]["validation"])
        self.assertAlmostEqual(t["probability"], 0.4)
        messages = [e.get("target") for e in t["events"] if e.get("kind") == "validate"]
        self.assertEqual(messages, ["alice would be overdrawn"])

    def test_bad_account_and_zero_amount_are_diverted(self):
        for account, cents, message in [("Bob", 10, "bad account name 'Bob'"),
                                         ("alice", 0, "amount 0 is zero or over the limit")]:
            r = self.add(account, cents)
            self.assertEqual(r.returncode, 3, r.stderr)
            t = self.last_trace()
            self.assertEqual(t["decision"], "divert")
            self.assertIn(message, [e.get("target") for e in t["events"]])
        self.assertIsNone(self.text("ledger.txt"))

    def test_unwritable_ledger_is_predicted(self):
        # A directory where the ledger file should be: fopen(..., "a") would
        # fail with EISDIR, and the mirror's shim says so before it happens.
        os.mkdir(os.path.join(self.data, "ledger.txt"))
        r = self.add("alice", 1000)
        self.assertEqual(r.returncode, 3, r.stderr)
        t = self.last_trace()
        self.assertEqual(t["decision"], "divert")
        errors = [e.get("errname") for e in t["events"] if e.get("call") == "fopen"]
        self.assertIn("EISDIR", errors)

    def test_the_mirror_writes_nothing(self):
        """PTM_DRY_RUN runs mirrors and analysis only: every file's sha256
        and mtime must be exactly as before, and no file may appear -- under
        each executor (inline, which ptmcc proved safe here, and fork)."""
        self.assertEqual(self.add("alice", 1000).returncode, 0)
        self.assertEqual(self.add("bob", 5).returncode, 0)
        for executor in ("inline", "fork"):
            for account, cents in [("alice", 250), ("alice", -99999), ("Bad", 1), ("carol", 7)]:
                before = dir_state(self.data)
                r = self.add(account, cents, PTM_DRY_RUN=1, PTM_MIRROR=executor)
                self.assertIn(r.returncode, (0, 1, 3), r.stderr)
                self.assertEqual(dir_state(self.data), before,
                                 f"{executor} mirror of {account} {cents}")
                t = self.last_trace()
                self.assertTrue(t["dry_run"])
                self.assertEqual(t["mirror"], executor)
                self.assertEqual(t["mirror_status"], "returned")
        # The mirror of a good call predicted the primary's writes.
        good = [t for t in read_trace(self.trace) if t["dry_run"]][0]
        self.assertEqual(good["decision"], "primary")
        self.assertIn("write", [e.get("call") for e in good["events"]])

    def test_plain_build_behaves_like_the_primary(self):
        plain_dir = os.path.join(self.dir, "plain")
        os.mkdir(plain_dir)
        for account, cents in [("alice", 1000), ("alice", -5000), ("Bob", 3), ("alice", -1)]:
            ptm = self.run_cmd([self.ledger, self.data, "add", account, str(cents)],
                               env=clean_env(PTM_DISABLE=1, PTM_TRACE=self.trace))
            plain = self.run_cmd([self.plain, plain_dir, "add", account, str(cents)])
            self.assertEqual(ptm.returncode, plain.returncode, account)
            self.assertEqual(ptm.stdout, plain.stdout)
        with open(os.path.join(plain_dir, "ledger.txt")) as f:
            self.assertEqual(f.read(), self.text("ledger.txt"))
        self.assertFalse(os.path.exists(os.path.join(plain_dir, "rejected.txt")))
        self.assertEqual({t["decision"] for t in read_trace(self.trace)}, {"disabled"})

    def test_plain_gcc_build_needs_no_library(self):
        gcc = shutil.which("gcc")
        if not gcc:
            self.skipTest("no gcc")
        src = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ledger", "ledger.c")
        exe = os.path.join(self.dir, "ledger-gcc")
        r = self.run_cmd([gcc, "-std=c17", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                          "-I", ptmtest.build_path("include"), src, "-o", exe])
        self.assertEqual(r.returncode, 0, r.stderr)
        nm = subprocess.run(["nm", "-u", exe], capture_output=True, text=True).stdout
        self.assertNotIn("ptm_", nm)
        r = self.run_cmd([exe, self.data, "add", "alice", "5"])
        self.assertEqual((r.returncode, r.stdout), (0, "ok: alice +5\n"))


if __name__ == "__main__":
    ptmtest.main()
