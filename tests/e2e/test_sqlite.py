#!/usr/bin/env python3
"""SQLite 3.40.1 from Debian's sources (tests/e2e/realcode.py: its
amalgamation, made once by its own configure and make) built into its
shell with CC=ptmcc -fptm-mirror-all and with clang-19, the same flags:
ptmcc's build prints no error and rejects no clone, nearly every function
of sqlite3.c gets a mirror clone, and the two shells print the same bytes
for sqlite/script.sql (20,000 rows, indexes, JSON, VACUUM, integrity
checks).  Then transactions on sqlite3_exec, in a program (sqlite/exec_tx.c,
linked with ptmcc's sqlite3.o) and in sqlite3.c itself
(realcode.annotate_sqlite): a dry run's mirror returns and leaves the
database's directory as it was, a real run inserts the row.

The flags are -O0 (ptmcc's compile of sqlite3.c then takes about 11 s of
CPU, -O2 about 45 s); PTM_E2E_SQLITE_CFLAGS replaces them (e.g. -O2).
Skipped (exit 77) when the tarball cannot be downloaded or tclsh, which
makes the amalgamation, is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import ptmtest
import realcode

HERE = os.path.dirname(os.path.abspath(__file__))
CFLAGS = os.environ.get("PTM_E2E_SQLITE_CFLAGS", "-O0").split()
DEFINES = ["-DSQLITE_THREADSAFE=1"]
LIBS = ["-lpthread", "-ldl", "-lm"]


def build_shell(cc, amal, out_dir, extra=()):
    """Compiles sqlite3.c and shell.c with cc and links the shell.
    Returns (the shell's path, cc's output for sqlite3.c, sqlite3.o)."""
    os.makedirs(out_dir)
    obj = os.path.join(out_dir, "sqlite3.o")
    shell_obj = os.path.join(out_dir, "shell.o")
    env = ptmtest.clean_env()
    _, _, out = realcode.run_timed([cc, *CFLAGS, *extra, *DEFINES, "-I", amal, "-c",
                                    os.path.join(amal, "sqlite3.c"), "-o", obj], out_dir, env=env)
    _, _, shell_out = realcode.run_timed([cc, *CFLAGS, *extra, *DEFINES, "-I", amal, "-c",
                                          os.path.join(amal, "shell.c"), "-o", shell_obj],
                                         out_dir, env=env)
    shell = os.path.join(out_dir, "sqlite3")
    realcode.run_timed([cc, *CFLAGS, *extra, shell_obj, obj, "-o", shell, *LIBS], out_dir, env=env)
    return shell, out + shell_out, obj


def symbols(obj):
    """The names of obj's defined functions (nm)."""
    out = subprocess.run(["nm", "--defined-only", obj], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[2] for line in out.splitlines()
            if len(line.split()) == 3 and line.split()[1] in "Tt"]


class SqliteTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        build = ptmtest.BUILD
        cls.amal = realcode.sqlite_amalgamation(build)
        cls.work = tempfile.mkdtemp(prefix="e2e-sqlite-", dir=realcode.cache_dir(build))
        cls.plain, _, cls.plain_obj = build_shell("clang-19", cls.amal,
                                                  os.path.join(cls.work, "plain"))
        cls.ptm, cls.ptm_out, cls.ptm_obj = build_shell(
            ptmtest.ptmcc(), cls.amal, os.path.join(cls.work, "ptm"), ["-fptm-mirror-all"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, True)

    def run_shell(self, shell, db):
        with open(os.path.join(HERE, "sqlite", "script.sql")) as script:
            r = subprocess.run([shell, db], stdin=script, capture_output=True,
                               env=ptmtest.clean_env(), timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"")
        return r.stdout

    def test_ptmcc_build_clones_and_prints_no_error(self):
        self.assertNotIn("error", self.ptm_out)
        self.assertNotIn("[-Wptm-uncloneable]", self.ptm_out)
        functions = [f for f in symbols(self.plain_obj)]
        clones = [f for f in symbols(self.ptm_obj) if f.endswith("__ptm_mirror")]
        print(f"sqlite3.c: {len(clones)} mirror clones; clang-19's object defines"
              f" {len(functions)} functions")
        self.assertGreaterEqual(len(clones), 0.9 * len(functions))

    def test_shells_print_the_same_bytes(self):
        plain = self.run_shell(self.plain, os.path.join(self.work, "plain.db"))
        ptm = self.run_shell(self.ptm, os.path.join(self.work, "ptm.db"))
        self.assertEqual(plain.splitlines()[:2], [b"wal", b"ok"])
        self.assertEqual(plain.count(b"\nok\n"), 2)
        self.assertEqual(ptm, plain)

    def test_transaction_on_exec_dry_run_leaves_the_database(self):
        d = tempfile.mkdtemp(dir=self.work)
        exe = os.path.join(d, "exec_tx")
        realcode.run_timed([ptmtest.ptmcc(), "-fptm-mirror-all", *CFLAGS, "-Wall", "-Wextra",
                            "-Werror", "-I", self.amal, os.path.join(HERE, "sqlite", "exec_tx.c"),
                            self.ptm_obj, "-o", exe, *LIBS], d, env=ptmtest.clean_env())
        record = self.dry_then_real(exe, d, "dry.trace", "sqlite.exec")
        self.assertFalse(record["signals"]["criteria_failed"])

    def dry_then_real(self, exe, d, trace_name, tx_id):
        """exe (db, sql) inserts a row through transaction tx_id: a dry run
        returns the mirror's result and leaves d as it was; a real run
        inserts it.  Returns the dry run's trace record."""
        db = os.path.join(d, "kv.db")
        subprocess.run([self.plain, db], input=b"CREATE TABLE kv(k TEXT PRIMARY KEY, v);"
                       b"INSERT INTO kv VALUES('a', 1);", capture_output=True, check=True)
        before = ptmtest.dir_state(d)
        trace = os.path.join(self.work, trace_name)
        insert = "INSERT INTO kv VALUES('b', 2)"
        r = subprocess.run([exe, db, insert], capture_output=True, text=True, timeout=120,
                           env=ptmtest.clean_env(PTM_DRY_RUN=1, PTM_TRACE=trace))
        self.assertEqual(r.returncode, 0, r.stderr)
        # The call returns the mirror's result; the host's connection
        # changed nothing.
        self.assertEqual(r.stdout, "rc 0 changes 0\n")
        self.assertEqual(ptmtest.dir_state(d), before)
        records = [t for t in ptmtest.read_trace(trace) if t["transaction_id"] == tx_id]
        self.assertEqual(len(records), 1, records)
        self.assertEqual(records[0]["mirror_status"], "returned", records[0])
        self.assertEqual(records[0]["dry_run_result"], "mirror")
        r = subprocess.run([exe, db, insert], capture_output=True, text=True, timeout=120,
                           env=ptmtest.clean_env())
        self.assertEqual(r.stdout, "rc 0 changes 1\n")
        r = subprocess.run([self.plain, db, "SELECT group_concat(k || v) FROM kv"],
                           capture_output=True, text=True, check=True)
        self.assertEqual(r.stdout, "a1,b2\n")
        return records[0]

    def test_transaction_inside_sqlite_dry_run_leaves_the_database(self):
        """sqlite3_exec annotated in sqlite3.c itself; exec_tx.c built by
        clang-19 (its own PTM_TRANSACTION vanishes).  The mirror's calls of
        SQLite's API go to the runtime's shims, which call SQLite on the
        overlay's connection: there sqlite3_exec is the library's, and runs
        its primary (a nested mirror opened the overlay again and again,
        until the fork mirror's stack ran out: SIGSEGV)."""
        d = tempfile.mkdtemp(dir=self.work)
        src = realcode.annotate_sqlite(self.amal, d)
        obj = os.path.join(d, "sqlite3.o")
        _, _, out = realcode.run_timed([ptmtest.ptmcc(), "-fptm-mirror-all", *CFLAGS, *DEFINES,
                                        "-I", self.amal, "-c", src, "-o", obj], d,
                                       env=ptmtest.clean_env())
        self.assertNotIn("[-Wptm-uncloneable]", out)
        main_obj = os.path.join(d, "exec_tx.o")
        realcode.run_timed(["clang-19", *CFLAGS, "-Wall", "-Wextra", "-Werror", "-I", self.amal,
                            "-isystem", ptmtest.build_path("include"), "-c",
                            os.path.join(HERE, "sqlite", "exec_tx.c"), "-o", main_obj], d,
                           env=ptmtest.clean_env())
        exe = os.path.join(d, "exec_tx")
        realcode.run_timed([ptmtest.ptmcc(), main_obj, obj, "-o", exe, *LIBS], d,
                           env=ptmtest.clean_env())
        record = self.dry_then_real(exe, d, "inside.trace", "sqlite3.exec")
        self.assertIn(("sqlite3_step", "SQLITE_DONE changes=1"),
                      [(e["call"], e["detail"]) for e in record["events"]])


if __name__ == "__main__":
    realcode.main("sqlite", "SQLite")
