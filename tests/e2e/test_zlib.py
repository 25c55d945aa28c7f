#!/usr/bin/env python3
"""zlib 1.2.13 from Debian's sources (tests/e2e/realcode.py), configured and
built with CC=ptmcc, and with CC=clang-19: ptmcc's build passes zlib's own
`make test` (example, minigzip, static and shared), warns of what
clang-19's warns of and nothing more, and its libraries are the same size.
No file of zlib holds a transaction: this is the price and the safety of
putting ptmcc in as CC.  Skipped (exit 77) when the tarball cannot be
downloaded.
"""
import os
import shutil
import sys
import tempfile
import unittest

import ptmtest
import realcode


def build(work, cc):
    """(make all's output, make test's output, {library: bytes})."""
    src = realcode.unpack("zlib", ptmtest.BUILD, work)
    env = ptmtest.clean_env(CC=cc, CFLAGS="-O2")
    realcode.run_timed(["./configure"], src, env=env)
    _, _, out = realcode.run_timed(["make", "-j1", "all"], src, env=env)
    _, _, test = realcode.run_timed(["make", "test"], src, env=env)
    libs = {f: os.path.getsize(os.path.join(src, f)) for f in os.listdir(src)
            if f == "libz.a" or f.startswith("libz.so.")}
    return out, test, libs


def sanitized():
    """Whether this build is the ASan+UBSan one (PTM_SANITIZE)."""
    with open(os.path.join(ptmtest.BUILD, "CMakeCache.txt")) as cache:
        return any(line.startswith("PTM_SANITIZE:") and line.strip().endswith("=ON")
                   for line in cache)


def warning_lines(output, src_dir):
    return sorted(line.replace(src_dir, "") for line in output.splitlines()
                  if ": warning: " in line)


class ZlibTest(unittest.TestCase):

    def test_ptmcc_build_passes_make_test(self):
        work = tempfile.mkdtemp(prefix="e2e-zlib-", dir=realcode.cache_dir(ptmtest.BUILD))
        self.addCleanup(shutil.rmtree, work, True)
        plain_out, _, plain_libs = build(os.path.join(work, "plain"), "clang-19")
        out, test, libs = build(os.path.join(work, "ptm"), ptmtest.ptmcc())
        self.assertIn("*** zlib test OK ***", test)
        self.assertIn("*** zlib shared test OK ***", test)
        self.assertEqual(warning_lines(out, work + "/ptm"),
                         warning_lines(plain_out, work + "/plain"))
        self.assertNotIn("[-Wptm", out)
        if sanitized():
            # ptmcc of a sanitized build links the sanitizer runtimes into
            # everything it links (libptm needs them): only the archive of
            # objects can be the same
            libs = {k: v for k, v in libs.items() if k == "libz.a"}
            plain_libs = {k: v for k, v in plain_libs.items() if k == "libz.a"}
        self.assertEqual(libs, plain_libs)


if __name__ == "__main__":
    realcode.main("zlib", "zlib")
