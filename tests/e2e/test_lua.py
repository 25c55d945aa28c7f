#!/usr/bin/env python3
"""Lua 5.4.4 from Debian's sources, built with CC=ptmcc (issue 12's
acceptance test).

The orig tarball is fetched from deb.debian.org (cached in
BUILD/realcode/, checked against Debian's SHA-256; skipped, exit 77, when it
cannot be downloaded), unpacked twice into a fresh BUILD/realcode/e2e-lua-*/
(removed at the end), and built with Lua's own makefile (`make linux`: no
readline): once by clang-19 as it is, once by ptmcc -fptm-mirror-all with
a transaction on g_write (liolib.c: io.write, f:write) and on os_rename
(loslib.c), inserted at run time by realcode.annotate_lua().  Then:
  - the ptmcc build warns of nothing but its own -Wptm groups;
  - `make test` (Lua's only check in its sources: `lua -v`) and luac;
  - lua/writes.lua writes files through io.write and f:write and renames
    them: its output and files are the plain build's, byte for byte, with
    and without PTM_TRACE, and under PTM_DISABLE=1;
  - PTM_TRACE has one record per call, each with its executor, mirror
    status and mirror_reason; at least EXPECTED_INLINE_SHARE of the
    mirrors ran inline (the share and the reasons are printed);
  - PTM_DRY_RUN=1 (lua/dry.lua) leaves every file as it was;
  - the transactions in a shared liblua.so, as Debian ships Lua, and lua
    linked against it: the same output and one record per call.
Lua's own test suite (lua-5.4.4-tests.tar.gz) is not in Debian's source
package (no -tests component, nothing under debian/), so it is not run here.
"""
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import ptmtest
import realcode

HERE = os.path.dirname(os.path.abspath(__file__))
WRITES_LUA = os.path.join(HERE, "lua", "writes.lua")
DRY_LUA = os.path.join(HERE, "lua", "dry.lua")

# The share of mirrors (over the records of writes.lua) that must run under
# the inline executor: with every file built by ptmcc -fptm-mirror-all,
# g_write's and os_rename's mirrors reach only clones and shims (issue 12).
EXPECTED_INLINE_SHARE = 0.9

# The number of -Wptm warnings ptmcc's build of the annotated Lua prints:
# one summary per transaction whose mirror forks (issue 12), and under
# -fptm-mirror-all both run inline.
EXPECTED_PTM_WARNINGS = 0

# Flags added to ptmcc for the annotated build: the environment's
# PTMCC_FLAGS (as bench/real/ takes them), then these: the cross-file
# clones, off by default (README, "Mirrors across files").
PTMCC_FLAGS = os.environ.get("PTMCC_FLAGS", "").split() + ["-fptm-mirror-all"]

MIRROR_STATUSES = {"returned", "crashed", "timeout", "denied", "failed", "longjmp"}

WORK = None     # BUILD/realcode/e2e-lua
PLAIN = None    # the plain build's source tree
ANNOTATED = None  # the ptmcc build's source tree
PLAIN_OUTPUT = None  # clang-19's build output
PTM_OUTPUT = None    # ptmcc's build output


def setUpModule():
    global WORK, PLAIN, ANNOTATED, PLAIN_OUTPUT, PTM_OUTPUT
    # A directory of its own: two runs at once must not share the trees.
    WORK = tempfile.mkdtemp(prefix="e2e-lua-", dir=realcode.cache_dir(ptmtest.BUILD))
    PLAIN = realcode.unpack("lua", ptmtest.BUILD, os.path.join(WORK, "plain"))
    ANNOTATED = realcode.unpack("lua", ptmtest.BUILD, os.path.join(WORK, "ptm"))
    realcode.annotate_lua(ANNOTATED)
    env = ptmtest.clean_env()
    _, _, PLAIN_OUTPUT = realcode.build_lua(PLAIN, "clang-19", env=env)
    _, _, PTM_OUTPUT = realcode.build_lua(ANNOTATED, " ".join([ptmtest.ptmcc()] + PTMCC_FLAGS),
                                          env=env)


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


def lua(tree):
    return os.path.join(tree, "src", "lua")


def warning_lines(output):
    return [line for line in output.splitlines() if ": warning: " in line]


class LuaTest(ptmtest.TempDirTest):

    def run_lua(self, tree, *args, **env):
        r = self.run_cmd([lua(tree), *args], env=ptmtest.clean_env(**env))
        self.assertEqual(r.returncode, 0, f"{lua(tree)} {args} failed:\n{r.stdout}{r.stderr}")
        return r

    def writes(self, tree, name, binary=None, **env):
        """Runs writes.lua by the tree's lua (or binary) into a fresh
        directory; (stdout, its files)."""
        out = os.path.join(self.dir, name)
        os.mkdir(out)
        r = self.run_cmd([binary or lua(tree), WRITES_LUA, out], env=ptmtest.clean_env(**env))
        self.assertEqual(r.returncode, 0, f"writes.lua failed:\n{r.stdout}{r.stderr}")
        files = {}
        for rel in sorted(os.listdir(out)):
            with open(os.path.join(out, rel), "rb") as f:
                files[rel] = f.read()
        return r.stdout, files

    def test_build_warns_only_of_its_own_groups(self):
        other = [w for w in warning_lines(PTM_OUTPUT) if "[-Wptm" not in w]
        self.assertEqual(other, warning_lines(PLAIN_OUTPUT),
                         "ptmcc's build warns of more than clang-19's")
        ptm = [w for w in warning_lines(PTM_OUTPUT) if "[-Wptm" in w]
        print(f"\nptmcc's -Wptm warnings building Lua: {len(ptm)}", file=sys.stderr)
        for line in ptm:
            print("  " + line, file=sys.stderr)
        self.assertEqual(len(ptm), EXPECTED_PTM_WARNINGS, "\n".join(ptm))

    def test_make_test_and_luac(self):
        r = self.run_cmd(["make", "test"], cwd=ANNOTATED)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio", r.stdout)
        plain = self.run_cmd(["make", "test"], cwd=PLAIN)
        self.assertEqual(r.stdout.replace(ANNOTATED, ""), plain.stdout.replace(PLAIN, ""))
        # luac of the same sources compiles our script; the annotated lua runs it.
        chunk = os.path.join(self.dir, "writes.luac")
        r = self.run_cmd([os.path.join(ANNOTATED, "src", "luac"), "-o", chunk, WRITES_LUA])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.dir, "luac-out")
        os.mkdir(out)
        r = self.run_lua(ANNOTATED, chunk, out, "3")
        self.assertIn("writes=15 renames=4", r.stdout)

    def test_writes_match_plain_build(self):
        want_out, want_files = self.writes(PLAIN, "plain")
        self.assertIn("writes=112 renames=4", want_out)
        self.assertEqual(sorted(want_files), ["c.txt"])
        got_out, got_files = self.writes(ANNOTATED, "ptm")
        self.assertEqual(got_out, want_out)
        self.assertEqual(got_files, want_files)
        traced_out, traced_files = self.writes(ANNOTATED, "traced",
                                               PTM_TRACE=os.path.join(self.dir, "t.jsonl"))
        self.assertEqual(traced_out, want_out)
        self.assertEqual(traced_files, want_files)
        disabled_out, disabled_files = self.writes(ANNOTATED, "disabled", PTM_DISABLE=1)
        self.assertEqual(disabled_out, want_out)
        self.assertEqual(disabled_files, want_files)

    def test_trace_has_a_record_per_call(self):
        trace = os.path.join(self.dir, "t.jsonl")
        out, _ = self.writes(ANNOTATED, "traced", PTM_TRACE=trace)
        records = ptmtest.read_trace(trace)
        count = collections.Counter(r["transaction_id"] for r in records)
        self.assertEqual(count, {"lua.io.write": 112, "lua.os.rename": 4}, out)
        for r in records:
            self.assertIn(r["mirror"], ("inline", "fork"), r)
            self.assertIn(r["mirror_status"], MIRROR_STATUSES, r)
            self.assertTrue(r["mirror_reason"], r)
            self.assertEqual(r["function"], {"lua.io.write": "g_write",
                                             "lua.os.rename": "os_rename"}[r["transaction_id"]])
        # The g_write that raises a Lua error leaves by longjmp, mirror and
        # primary; every other call returns from its mirror.
        left = [r for r in records if r["left_by_longjmp"]]
        self.assertEqual(len(left), 1, left)
        self.assertEqual(left[0]["mirror_status"], "longjmp")
        self.assertEqual(sum(r["mirror_status"] == "returned" for r in records), len(records) - 1)
        # A rename of a file that does not exist: the mirror's ENOENT is a
        # validation signal, and os_rename_by_copy answers as os_rename would.
        diverted = [r for r in records if r["decision"] == "divert"]
        for r in diverted:
            self.assertEqual(r["path"], "os_rename_by_copy", r)
        report_executors(records)
        inline = sum(r["mirror"] == "inline" for r in records) / len(records)
        self.assertGreaterEqual(inline, EXPECTED_INLINE_SHARE,
                                collections.Counter((r["mirror"], r["mirror_reason"])
                                                    for r in records if r["mirror"] != "inline"))

    def test_shared_liblua(self):
        """Lua as Debian ships it: the transactions in liblua.so (-fPIC
        -shared), lua linked against it."""
        src = os.path.join(ANNOTATED, "src")
        objs = []
        for name in sorted(os.listdir(src)):
            if not name.endswith(".c") or name in ("lua.c", "luac.c"):
                continue
            obj = os.path.join(self.dir, name[:-2] + ".o")
            r = self.run_cmd([ptmtest.ptmcc(), *PTMCC_FLAGS, "-std=gnu99", "-O2", "-fPIC", "-w",
                              "-DLUA_COMPAT_5_3", "-DLUA_USE_LINUX", "-c",
                              os.path.join(src, name), "-o", obj])
            self.assertEqual(r.returncode, 0, r.stderr)
            objs.append(obj)
        so = os.path.join(self.dir, "liblua.so")
        r = self.run_cmd([ptmtest.ptmcc(), "-shared", "-o", so, *objs, "-lm", "-ldl"])
        self.assertEqual(r.returncode, 0, r.stderr)
        exe = os.path.join(self.dir, "lua-shared")
        r = self.run_cmd([ptmtest.ptmcc(), "-std=gnu99", "-O2", "-DLUA_USE_LINUX",
                          os.path.join(src, "lua.c"), "-o", exe, so,
                          f"-Wl,-rpath,{self.dir}", "-lm", "-ldl"])
        self.assertEqual(r.returncode, 0, r.stderr)
        want = self.writes(PLAIN, "plain")
        trace = os.path.join(self.dir, "shared.jsonl")
        self.assertEqual(self.writes(None, "shared", binary=exe, PTM_TRACE=trace), want)
        self.assertEqual(len(ptmtest.read_trace(trace)), 116)

    def test_dry_run_changes_no_file(self):
        out = os.path.join(self.dir, "dry")
        os.mkdir(out)
        for name, text in (("keep.txt", b"kept\n"), ("other.txt", b"other\n\0\1")):
            with open(os.path.join(out, name), "wb") as f:
                f.write(text)
        before = ptmtest.dir_state(out)
        trace = os.path.join(self.dir, "dry.jsonl")
        r = self.run_lua(ANNOTATED, DRY_LUA, out, PTM_DRY_RUN=1, PTM_TRACE=trace)
        self.assertIn("writes=51 renames=2", r.stdout)
        self.assertEqual(ptmtest.dir_state(out), before)
        records = ptmtest.read_trace(trace)
        self.assertEqual(len(records), 53)
        for rec in records:
            self.assertTrue(rec["dry_run"], rec)
            self.assertIsNone(rec["path"], rec)
            self.assertIn(rec["would_run"], ("g_write", "os_rename", "os_rename_by_copy"), rec)
        # The same script without the dry run does change them.
        self.run_lua(ANNOTATED, DRY_LUA, out)
        self.assertNotEqual(ptmtest.dir_state(out), before)


def report_executors(records):
    """Prints which executor the mirrors used, and why."""
    by = collections.Counter((r["transaction_id"], r["mirror"], r["mirror_reason"])
                             for r in records)
    inline = sum(r["mirror"] == "inline" for r in records)
    print(f"\nmirrors inline: {inline}/{len(records)} ({100.0 * inline / len(records):.1f}%)",
          file=sys.stderr)
    for (tx, executor, reason), n in sorted(by.items()):
        print(f"  {tx}: {n} x {executor}: {reason}", file=sys.stderr)


if __name__ == "__main__":
    realcode.main("lua", "Lua")
