"""End to end: mirrors across files (-fptm-mirror-all).

projects/relay is a Makefile project whose transaction, post (src/post.c),
reaches four other files: format.c, route.c, store.c and lib/sum.c, which
goes into the static library libsum.a.  Its calls cross files both ways
(route.c and format.c call each other: a cycle), one callee stores through
a global pointer, and store_posted reads back that store.  Built with
`make CC=ptmcc` (PTM_FLAGS=-fptm-mirror-all), the mirror runs inline; the
same program with one callee built by plain clang-19 forks, and its trace
names that callee.  A transaction whose callee of another file calls
exit() forks, and the trace names the function and the path.
"""
import os
import shutil
import unittest

import ptmtest
from ptmtest import clean_env, ptmcc, read_trace

HERE = os.path.dirname(os.path.abspath(__file__))
RELAY = os.path.join(HERE, "projects", "relay")
CLANG = shutil.which("clang-19") or "/usr/lib/llvm-19/bin/clang"


class RelayTest(ptmtest.TempDirTest):
    """The relay project copied into a fresh directory."""

    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "relay")
        shutil.copytree(RELAY, self.src)

    def build(self, plain=""):
        r = self.run_cmd(["make", "-s", f"CC={ptmcc()}", f"PLAIN_CC={CLANG}", f"PLAIN={plain}"],
                         cwd=self.src, timeout=300)
        self.assertEqual(r.returncode, 0, f"make failed:\n{r.stdout}\n{r.stderr}")
        self.assertNotIn("warning", r.stderr)
        return os.path.join(self.src, "relay")

    def relay(self, exe, *args, **env):
        trace = os.path.join(self.dir, "trace.jsonl")
        if os.path.exists(trace):
            os.unlink(trace)
        r = self.run_cmd([exe] + list(args),
                         env=clean_env(PTM_TRACE=trace, PTM_MIRROR_DEADLINE_MS=30000, **env))
        return r, read_trace(trace)

    def test_inline_across_files(self):
        exe = self.build()
        log = os.path.join(self.dir, "log")
        r, t = self.relay(exe, log, "hello", "world")
        self.assertEqual((r.returncode, r.stdout), (0, "hello -> 1\nworld -> 2\nposted 2\n"),
                         r.stderr)
        with open(log) as f:  # the primaries' lines only
            self.assertEqual(f.read(), "south 1 hello #322\nsouth 2 world #802\n")
        self.assertEqual(len(t), 2)
        for rec in t:
            self.assertEqual((rec["transaction_id"], rec["mirror"], rec["mirror_status"],
                              rec["decision"]), ("relay.post", "inline", "returned", "primary"))
            self.assertIn("functions across files", rec["mirror_reason"])
            self.assertIn("write buffer", rec["mirror_reason"])
            calls = [e["call"] for e in rec["events"]]
            self.assertEqual(calls, ["fopen", "fputs", "fclose"])

    def test_dry_run_reads_its_own_store(self):
        """The mirror's store through store.c's global pointer is buffered:
        store_posted (another function of store.c, called from post.c) sees
        it, and the host's counter does not change."""
        exe = self.build()
        log = os.path.join(self.dir, "log")
        r, t = self.relay(exe, log, "a", "b", PTM_DRY_RUN=1)
        self.assertEqual((r.returncode, r.stdout), (0, "a -> 1\nb -> 1\nposted 0\n"), r.stderr)
        self.assertFalse(os.path.exists(log))
        self.assertEqual([rec["mirror"] for rec in t], ["inline", "inline"])

    def test_callee_built_by_clang_forks(self):
        for plain, callee in [("route.c", "route_depth"), ("sum.c", "sum_of"),
                              ("store.c", "store_count")]:
            with self.subTest(plain=plain):
                self.run_cmd(["make", "-s", "clean"], cwd=self.src)
                exe = self.build(plain)
                log = os.path.join(self.dir, "log")
                if os.path.exists(log):
                    os.unlink(log)
                r, t = self.relay(exe, log, "hello")
                self.assertEqual((r.returncode, r.stdout), (0, "hello -> 1\nposted 1\n"),
                                 r.stderr)
                with open(log) as f:
                    self.assertEqual(f.read(), "south 1 hello #322\n")
                self.assertEqual(len(t), 1)
                self.assertEqual(t[0]["mirror"], "fork")
                self.assertIn(f"reaches '{callee}' via post", t[0]["mirror_reason"])
                self.assertIn("no mirror clone", t[0]["mirror_reason"])

    def test_callee_that_exits_forks(self):
        exe = self.build()
        log = os.path.join(self.dir, "log")
        r, t = self.relay(exe, "--strict", log, "hi")
        self.assertEqual((r.returncode, r.stdout), (0, "hi -> 1\nposted 1\n"), r.stderr)
        strict = [rec for rec in t if rec["transaction_id"] == "relay.strict"]
        self.assertEqual(len(strict), 1)
        self.assertEqual(strict[0]["mirror"], "fork")
        self.assertEqual(strict[0]["mirror_status"], "returned")
        self.assertRegex(strict[0]["mirror_reason"],
                         r"^reaches 'store_refuse' via post_strict -> store_refuse: "
                         r"calls unknown external 'exit' \(src/store.c:\d+\)$")
        # the primary's exit is the program's
        r, t = self.relay(exe, "--strict", log, "halt")
        self.assertEqual(r.returncode, 3)


if __name__ == "__main__":
    ptmtest.main()
