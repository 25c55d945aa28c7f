"""End to end: ptmcc with the other tools of a build (ccache, bear).

- CC="ccache ptmcc": a rules script is an input of ccache's direct mode (it
  is under a line marker in the preprocessed output), so an edited script
  gives a new object, and the program follows the new rules;
- PTM_CC="ccache clang-19", `ptmcc ccache clang-19` and `ccache ptmcc
  clang-19`: an annotated unit is cached (a copy at a path that is the same
  for the same text, not a VFS overlay ccache refuses);
- the stable copy's directory is this user's: a symlink or another user's
  directory in its place is not used (the compile falls back to a fresh
  one), and two compiles of one text at once both succeed;
- bear records no command naming ptmcc's temporary files; with ptmcc named
  in bear's configuration it records ptmcc's own commands, which ptmcc -p
  can replay.
Each tool's tests are skipped where it is not installed.
"""
import json
import os
import shutil
import subprocess
import threading
import unittest

import ptmtest
from ptmtest import clean_env, ptmcc

SOURCE = """#include <ptm.h>
#include <stdio.h>
int refuse(int n);
int refuse(int n) { printf("refused %d\\n", n); return 1; }
PTM_TRANSACTION(.alternative_paths = {refuse}, .rules = "t.lua",
                .success_criteria = return >= 0)
int put(int n);
int put(int n) { printf("put %d\\n", n); return 0; }
int main(void) { return put(7) < 0; }
"""
RULES = """local r = {}
function r.analyze(m) return %s end
return r
"""


class Tools(ptmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        with open(os.path.join(self.dir, "t.c"), "w") as f:
            f.write(SOURCE)
        self.rules(0.0)
        self.cache = os.path.join(self.dir, "ccache")
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)

    def rules(self, probability):
        path = os.path.join(self.dir, "t.lua")
        with open(path, "w") as f:
            f.write(RULES % probability)
        # ccache does not trust a file changed within the last second.
        old = os.stat(path).st_mtime - 5
        os.utime(path, (old, old))

    def env(self, **extra):
        return clean_env(CCACHE_DIR=self.cache, TMPDIR=self.tmp, PTM_MIRROR_DEADLINE_MS=30000,
                         **extra)

    def ok(self, argv, **env):
        r = self.run_cmd(argv, env=self.env(**env), timeout=300)
        self.assertEqual(r.returncode, 0, f"{argv}:\n{r.stdout}\n{r.stderr}")
        return r

    def need(self, tool):
        if not shutil.which(tool):
            self.skipTest(f"{tool} is not installed")

    def stats(self):
        """ccache's counters (--print-stats), by name."""
        r = self.ok(["ccache", "--print-stats"])
        return {k: int(v) for k, v in (line.split("\t") for line in r.stdout.splitlines())
                if v.isdigit()}

    def hits(self):
        s = self.stats()
        return s.get("direct_cache_hit", 0) + s.get("preprocessed_cache_hit", 0)

    def run_program(self, obj):
        exe = os.path.join(self.dir, "t")
        self.ok([ptmcc(), obj, "-o", exe])
        return self.ok([exe]).stdout

    def test_ccache_ptmcc_sees_an_edited_rules_script(self):
        self.need("ccache")
        self.ok(["ccache", ptmcc(), "-c", "t.c", "-o", "t.o"])
        self.assertEqual(self.run_program("t.o"), "put 7\n")
        self.ok(["ccache", ptmcc(), "-c", "t.c", "-o", "t.o"])
        self.assertEqual(self.hits(), 1)  # unchanged: from the cache
        self.rules(1.0)
        self.ok(["ccache", ptmcc(), "-c", "t.c", "-o", "t.o"])
        self.assertEqual(self.hits(), 1)  # the edited script: compiled again
        self.assertEqual(self.run_program("t.o"), "refused 7\n")
        self.rules(0.0)
        self.ok(["ccache", ptmcc(), "-c", "t.c", "-o", "t.o"])
        self.assertEqual(self.run_program("t.o"), "put 7\n")

    def assert_cached(self, argv, **env):
        """argv compiles t.c to t.o twice: the second from the cache, with
        the same object, which links and runs."""
        self.ok(argv + ["-c", "t.c", "-o", "t1.o"], **env)
        before = self.hits()
        r = self.ok(argv + ["--ptm-verbose", "-c", "t.c", "-o", "t2.o"], **env)
        self.assertNotIn("-ivfsoverlay", r.stderr)
        self.assertEqual(self.hits(), before + 1, r.stderr)
        with open(os.path.join(self.dir, "t1.o"), "rb") as a, \
                open(os.path.join(self.dir, "t2.o"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertEqual(self.run_program("t2.o"), "put 7\n")
        # The stable copies are gone with ptmcc.
        left = [os.path.join(r, n) for r, _, ns in os.walk(self.tmp) for n in ns]
        self.assertEqual(left, [])

    def test_ptm_cc_ccache_caches_annotated_units(self):
        self.need("ccache")
        self.assert_cached([ptmcc()], PTM_CC="ccache clang-19")

    def test_launcher_then_ccache(self):
        self.need("ccache")
        self.assert_cached([ptmcc(), "ccache", "clang-19"])

    def test_ccache_then_launcher(self):
        self.need("ccache")
        self.ok(["ccache", ptmcc(), "clang-19", "-c", "t.c", "-o", "t1.o"])
        self.ok(["ccache", ptmcc(), "clang-19", "-c", "t.c", "-o", "t2.o"])
        self.assertEqual(self.hits(), 1)
        self.assertEqual(self.run_program("t2.o"), "put 7\n")

    def test_stable_copy_dir_must_be_this_users(self):
        # A symlink where ptmcc's directory would be: not followed.
        elsewhere = os.path.join(self.dir, "elsewhere")
        os.mkdir(elsewhere)
        os.symlink(elsewhere, os.path.join(self.tmp, f"ptmcc-{os.geteuid()}"))
        self.ok([ptmcc(), "-c", "t.c", "-o", "t.o"], PTM_CC="ccache clang-19",
                CCACHE_DISABLE="1")
        self.assertEqual(os.listdir(elsewhere), [])
        self.assertEqual(self.run_program("t.o"), "put 7\n")

    def test_same_text_compiled_at_once(self):
        results = []

        def compile_to(out):
            results.append(self.run_cmd([ptmcc(), "-c", "t.c", "-o", out], timeout=300,
                                        env=self.env(PTM_CC="ccache clang-19",
                                                     CCACHE_DISABLE="1")))
        threads = [threading.Thread(target=compile_to, args=(f"p{i}.o",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r.returncode for r in results], [0] * 4,
                         [r.stderr for r in results])
        for i in range(4):
            self.assertEqual(self.run_program(f"p{i}.o"), "put 7\n")

    def test_bear_records_no_temporary_file(self):
        self.need("bear")
        db = os.path.join(self.dir, "compile_commands.json")
        self.ok(["bear", "--output", db, "--", ptmcc(), "-c", "t.c", "-o", "t.o"])
        with open(db) as f:
            entries = json.load(f)
        for e in entries:
            words = e.get("arguments") or e["command"].split()
            self.assertNotIn("-ivfsoverlay", words, e)
            self.assertFalse(any(self.tmp in w or "/ptmcc." in w for w in words), e)
        self.assertEqual(self.run_program("t.o"), "put 7\n")
        # Named in bear's configuration, ptmcc's own command is recorded,
        # and ptmcc -p can compile from it.
        config = os.path.join(self.dir, "bear.json")
        with open(config, "w") as f:
            json.dump({"compilation": {"compilers_to_recognize": [{"executable": ptmcc()}]}}, f)
        os.unlink(db)
        self.ok(["bear", "--config", config, "--output", db, "--",
                 ptmcc(), "-c", "t.c", "-o", "t.o"])
        with open(db) as f:
            entries = json.load(f)
        self.assertEqual([e["arguments"][0] for e in entries], [ptmcc()])
        self.ok([ptmcc(), "-p", self.dir, "t.c", "-o", "again.o"])
        self.assertEqual(self.run_program("again.o"), "put 7\n")


if __name__ == "__main__":
    ptmtest.main()
