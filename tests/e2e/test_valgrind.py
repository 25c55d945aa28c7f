"""End to end: libptm is valgrind-clean in a real program.

The ledger example (built with DWARF 4 for valgrind 3.19) runs a primary
and a diversion under memcheck: no invalid access, no uninitialised use, no
definite or possible leak.  The fork mirror runs under valgrind too.
"""
import json
import os

import ptmtest
from ptmtest import clean_env


class Valgrind(ptmtest.TempDirTest):
    def memcheck(self, *args):
        exe = ptmtest.build_path("examples", "ledger", "ledger-dwarf4")
        argv = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible", "--vgdb=no", exe, self.dir, *args]
        # Under memcheck a fork mirror can outlast the default 1 s deadline
        # on a loaded machine; the primary would then run instead of the
        # diversion this test expects, so the deadline is not what it tests.
        env = clean_env(PTM_TRACE=os.path.join(self.dir, "t.jsonl"), PTM_MIRROR_DEADLINE_MS=60000)
        return self.run_cmd(argv, env=env, timeout=240)

    def trace_text(self):
        path = os.path.join(self.dir, "t.jsonl")
        if not os.path.exists(path):
            return "(none)"
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def last_rules_error(self):
        path = os.path.join(self.dir, "t.jsonl")
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        return json.loads(lines[-1]).get("rules_error") if lines else None

    def assertClean(self, r):
        reports = [line for line in r.stderr.splitlines() if line.startswith("==")]
        self.assertEqual(reports, [], "valgrind reported:\n" + "\n".join(reports))

    def test_primary_and_diversion_are_clean(self):
        r = self.memcheck("add", "alice", "100")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "ok: alice +100\n")
        self.assertClean(r)
        # Under memcheck the rules run some 30 times slower, and analyze's
        # budget is 50 ms of wall-clock time: on a loaded machine it ran out
        # (exit 1, the primary's overdraft, instead of 3; reproduced 4 times
        # in 6 runs beside four CPU hogs, the trace's rules_error "analyze:
        # time budget of 50 ms exceeded").  Then the call runs as a plain
        # build's, as designed: the diversion is tried again, a few times,
        # and only a budget stop may excuse a try.  Every run must be clean.
        for attempt in range(5):
            r = self.memcheck("add", "alice", "-1000")
            self.assertClean(r)
            err = self.last_rules_error()
            if r.returncode == 1 and err and "time budget" in err:
                continue
            break
        self.assertEqual(r.returncode, 3, r.stderr + "\ntrace:\n" + self.trace_text())
        self.assertEqual(r.stdout, "rejected: alice -1000\n")


if __name__ == "__main__":
    ptmtest.main()
