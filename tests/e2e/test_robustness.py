"""End to end: what goes wrong inside PTM never takes the host down.

A mirror that crashes, hangs, or does I/O the compiler could not redirect
is an observation; a rules script that fails falls back to the primary;
retries follow the metadata; many threads can run transactions at once.
"""
import os
import shutil
import time

import ptmtest
from ptmtest import clean_env, file_state, read_trace

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


class Robustness(ptmtest.TempDirTest):
    def build(self, name, *flags):
        src = os.path.join(self.dir, name + ".c")
        shutil.copy(os.path.join(PROGRAMS, name + ".c"), src)
        return self.compile(src, os.path.join(self.dir, name), "-pthread", *flags)

    def traced(self, argv, **env):
        trace = os.path.join(self.dir, "trace.jsonl")
        if os.path.exists(trace):
            os.unlink(trace)
        r = self.run_cmd(argv, env=clean_env(PTM_TRACE=trace, **env))
        return r, read_trace(trace)

    def test_crashing_mirror_is_an_observation(self):
        exe = self.build("crash")
        r, t = self.traced([exe, "key:a,b"])
        self.assertEqual((r.returncode, r.stdout), (0, "2\n"), r.stderr)
        self.assertEqual(t[0]["decision"], "primary")
        # The primary would dereference NULL: the mirror does, and dies alone.
        r, t = self.traced([exe, "no colon"])
        self.assertEqual((r.returncode, r.stdout), (0, "0\n"), r.stderr)
        self.assertEqual(t[0]["mirror"], "inline")  # a crash on the host's own thread
        self.assertEqual(t[0]["mirror_status"], "crashed")
        self.assertEqual(t[0]["mirror_signal"], 11)
        self.assertTrue(t[0]["signals"]["validation"])
        self.assertEqual(t[0]["decision"], "divert")
        self.assertEqual(t[0]["path"], "count_fields_safe")
        self.assertEqual([f for f in os.listdir(self.dir) if f.startswith("core")], [])

    def test_hanging_mirror_is_killed_at_its_deadline(self):
        exe = self.build("hang")
        start = time.monotonic()
        r, t = self.traced([exe])
        elapsed = time.monotonic() - start
        self.assertEqual((r.returncode, r.stdout), (0, "done 0\n"), r.stderr)
        self.assertLess(elapsed, 3.0)
        self.assertEqual(t[0]["mirror_status"], "timeout")
        self.assertGreaterEqual(t[0]["mirror_duration_us"], 100000)
        self.assertIsNone(t[0]["signals"]["predicted_timeout_ms"])  # infinite
        self.assertAlmostEqual(t[0]["probability"], 0.3)  # the seed's timeout weight
        self.assertEqual(t[0]["decision"], "primary")

    def test_hanging_inline_mirror_is_cancelled(self):
        exe = self.build("inline_hang")
        start = time.monotonic()
        r, t = self.traced([exe, os.path.join(self.dir, "ready")])
        self.assertEqual((r.returncode, r.stdout), (0, "done 0\n"), r.stderr)
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertEqual(t[0]["mirror"], "inline")
        self.assertEqual(t[0]["mirror_status"], "timeout")
        self.assertGreaterEqual(t[0]["mirror_duration_us"], 100000)
        self.assertLess(t[0]["mirror_duration_us"], 1000000)
        self.assertEqual(t[0]["decision"], "primary")

    def test_io_the_compiler_cannot_see_is_denied_in_the_mirror(self):
        exe = self.build("hidden_io")
        log = os.path.join(self.dir, "out.log")
        with open(log, "w") as f:
            f.write("before\n")
        before = file_state(log)
        r, t = self.traced([exe, log], PTM_DRY_RUN=1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(file_state(log), before)
        self.assertEqual(t[0]["mirror_status"], "denied")
        denied = [e for e in t[0]["events"] if e.get("kind") == "denied"]
        self.assertGreaterEqual(len(denied), 2)  # the pointer's write and dprintf's
        self.assertEqual({e["call"] for e in denied}, {"write"})
        # For real: the primary writes both lines.
        r, t = self.traced([exe, log])
        self.assertEqual(r.stdout, "rc 0\n", r.stderr)
        with open(log) as f:
            self.assertEqual(f.read(), "before\npointer 7\ndprintf 7\n")
        self.assertEqual(t[0]["decision"], "primary")

    def test_io_in_an_unannotated_library_is_denied_in_the_mirror(self):
        clang = shutil.which("clang-19")
        if not clang:
            self.skipTest("clang-19 is not installed")
        lib = os.path.join(self.dir, "libaudit.so")
        r = self.run_cmd([clang, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror",
                          os.path.join(PROGRAMS, "unannotated_lib.c"), "-o", lib])
        self.assertEqual(r.returncode, 0, r.stderr)
        exe = self.build("uses_lib", "-L" + self.dir, "-laudit", "-Wl,-rpath," + self.dir)
        created = os.path.join(self.dir, "created.log")
        log = os.path.join(self.dir, "out.log")
        with open(log, "w") as f:
            f.write("before\n")
        before = file_state(log)
        r, t = self.traced([exe, created, log], PTM_DRY_RUN=1)
        self.assertEqual(r.stdout, "rc -1\n", r.stderr)  # the mirror's result: EPERM
        self.assertFalse(os.path.exists(created))
        self.assertEqual(file_state(log), before)
        self.assertEqual((t[0]["mirror"], t[0]["mirror_status"]), ("fork", "denied"))
        denied = [(e["call"], e["target"]) for e in t[0]["events"] if e.get("kind") == "denied"]
        self.assertIn(("openat", created), denied)
        self.assertIn("write", [call for call, _ in denied])
        # For real: the library writes both.
        r, t = self.traced([exe, created, log])
        self.assertEqual(r.stdout, "rc 0\n", r.stderr)
        with open(created) as f:
            self.assertEqual(f.read(), "entry 7\n")
        with open(log) as f:
            self.assertEqual(f.read(), "before\nentry 7\n")

    def test_mirror_takes_no_input_from_the_host(self):
        exe = self.build("inherited_fds")
        data = os.path.join(self.dir, "data.txt")
        with open(data, "w") as f:
            f.write("0123456789")
        expected = "12 4 rld\n 4\n"  # 8 + 4 bytes read; 4 left on stdin; offset 4
        for env in ({}, {"PTM_DISABLE": "1"}):
            r = self.run_cmd([exe, data], env=clean_env(**env), input="hello world\n")
            self.assertEqual(r.stdout, expected, f"{env}: {r.stderr}")

    def test_retries_follow_the_metadata(self):
        exe = self.build("retry")
        r, t = self.traced([exe, "2"])
        self.assertEqual(r.stdout, "rc 0 calls 3\n", r.stderr)
        self.assertEqual((t[0]["attempts"], t[0]["outcome"]), (3, "success"))
        self.assertEqual(t[0]["mirror"], "off")
        r, t = self.traced([exe, "9"])
        self.assertEqual(r.stdout, "rc -1 calls 4\n", r.stderr)
        self.assertEqual((t[0]["attempts"], t[0]["outcome"]), (4, "failure"))

    def test_rules_are_embedded_and_failures_fall_back(self):
        shutil.copy(os.path.join(PROGRAMS, "always_divert.lua"), self.dir)
        exe = self.build("rules")
        os.unlink(os.path.join(self.dir, "always_divert.lua"))  # embedded at build time
        r, t = self.traced([exe])
        self.assertEqual((r.returncode, r.stdout), (0, "plan b 42\n"), r.stderr)
        self.assertEqual(t[0]["decision"], "divert")
        self.assertEqual(t[0]["reasons"], ["always_divert.lua says so"])
        for script, words in [("runtime_error.lua", "no_such_table"), ("endless.lua", "budget")]:
            start = time.monotonic()
            r, t = self.traced([exe], PTM_RULES=os.path.join(PROGRAMS, script))
            self.assertEqual((r.returncode, r.stdout), (0, "plan a 42\n"), r.stderr)
            self.assertLess(time.monotonic() - start, 10)
            self.assertEqual(t[0]["decision"], "primary")
            self.assertIn(words, t[0]["rules_error"])

    def test_many_threads_at_once(self):
        """8 threads x 25 transactions, under each executor: no deadlock,
        every append lands once, every call was mirrored."""
        exe = self.build("threads")
        for executor in ("inline", "fork"):
            out = os.path.join(self.dir, f"lines-{executor}.txt")
            r, t = self.traced([exe, out], PTM_MIRROR=executor)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "failed 0 transactions 200 mirrors 200\n")
            self.assertEqual({x["mirror"] for x in t}, {executor})
            with open(out) as f:
                lines = f.read().splitlines()
            self.assertEqual(sorted(lines),
                             sorted(f"{a} {c}" for a in range(8) for c in range(25)))

    def test_write_heavy_mirrors_change_no_memory(self):
        """Transfers through pointers, a heap list, a formatted note, 8
        threads: the inline mirror runs with its stores in the write
        buffer.  With primaries, every balance and counter is exactly
        theirs; mirrors only (PTM_DRY_RUN) change no byte of memory -- a
        thread watching without the lock never sees a value move -- and
        no byte of the journal.  The fork executor agrees."""
        exe = self.build("bank")
        journal = os.path.join(self.dir, "journal.txt")
        r, t = self.traced([exe, journal])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "failed 0 transfers 200 sum 8000000 exact 1 ops 400 "
                                   "entries 400 notes 8 moved 0\n")
        self.assertEqual({(x["mirror"], x["mirror_status"]) for x in t}, {("inline", "returned")})
        self.assertTrue(all("write buffer" in x["mirror_reason"] for x in t))
        self.assertFalse(any(x["signals"]["criteria_failed"] for x in t))
        before = file_state(journal)
        r, t = self.traced([exe, journal], PTM_DRY_RUN=1)
        self.assertEqual(r.stdout, "failed 0 transfers 0 sum 8000000 exact 1 ops 0 "
                                   "entries 0 notes 0 moved 0\n", r.stderr)
        self.assertEqual(len(t), 200)
        self.assertEqual(file_state(journal), before)
        r, t = self.traced([exe, os.path.join(self.dir, "forked.txt")], PTM_MIRROR="fork")
        self.assertEqual(r.stdout, "failed 0 transfers 200 sum 8000000 exact 1 ops 400 "
                                   "entries 400 notes 8 moved 0\n", r.stderr)
        self.assertEqual({x["mirror"] for x in t}, {"fork"})

if __name__ == "__main__":
    ptmtest.main()
