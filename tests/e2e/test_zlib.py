#!/usr/bin/env python3
"""zlib 1.2.13 from Debian's sources (tests/e2e/realcode.py), configured and
built with CC=ptmcc, and with CC=clang-19: ptmcc's build passes zlib's own
`make test` (example, minigzip, static and shared), warns of what
clang-19's warns of and nothing more, and its libraries are the same size.
No file of zlib holds a transaction: this is the price and the safety of
putting ptmcc in as CC.  Built with `ptmcc -fptm-mirror-all`, every one of
zlib's functions, all defined K&R-style, gets a mirror clone, `make test`
still passes, and a transaction of a test program that calls adler32() and
crc32() runs its mirror inline across zlib's files, with the primary's
result in a dry run; one that calls compress() forks, and the trace names
the function of zlib that forced it.  Skipped (exit 77) when the tarball
cannot be downloaded.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import ptmtest
import realcode


# A test program: its transactions call into zlib.
PROGRAM = r"""
#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include "zlib.h"

static unsigned char packed[256];

PTM_TRANSACTION(.transaction_id = "sum", .success_criteria = return != 0)
unsigned long sum(const char *t)
{
    uInt n = (uInt)strlen(t);
    return crc32(adler32(0L, (const Bytef *)t, n), (const Bytef *)t, n);
}

PTM_TRANSACTION(.transaction_id = "pack", .success_criteria = return == 0)
int pack(const char *t, unsigned long *n)
{
    uLongf m = sizeof packed;
    int rc = compress(packed, &m, (const Bytef *)t, strlen(t));
    *n = m;
    return rc;
}

int main(void)
{
    const char *t = "hello hello hello hello hello hello";
    unsigned long n = 0;
    int rc = pack(t, &n);
    printf("sum %lu pack %d %lu\n", sum(t), rc, n);
    return 0;
}
"""


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

    def test_mirror_all_clones_every_function(self):
        work = tempfile.mkdtemp(prefix="e2e-zlib-all-", dir=realcode.cache_dir(ptmtest.BUILD))
        self.addCleanup(shutil.rmtree, work, True)
        cc = ptmtest.ptmcc() + " -fptm-mirror-all"
        out, test, _ = build(os.path.join(work, "ptm"), cc)
        self.assertIn("*** zlib test OK ***", test)
        self.assertIn("*** zlib shared test OK ***", test)
        self.assertNotIn("[-Wptm", out)
        src = os.path.join(work, "ptm", "zlib-1.2.13.dfsg")
        nm = subprocess.run(["nm", os.path.join(src, "libz.a")], capture_output=True,
                            text=True, check=True).stdout
        clones = {line.split()[-1] for line in nm.splitlines()
                  if line.endswith("__ptm_mirror") and line.split()[-2] in "tT"}
        for name in ("deflate__ptm_mirror", "inflate__ptm_mirror", "crc32__ptm_mirror",
                     "adler32__ptm_mirror", "compress__ptm_mirror"):
            self.assertIn(name, clones)
        self.assertGreater(len(clones), 100)

        prog = os.path.join(work, "prog.c")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        exe = os.path.join(work, "prog")
        subprocess.run(cc.split() + ["-O2", "-I", src, prog, os.path.join(src, "libz.a"),
                                     "-o", exe], check=True)
        plain = subprocess.run([exe], env=ptmtest.clean_env(PTM_DISABLE=1), capture_output=True,
                               text=True, check=True).stdout
        trace = os.path.join(work, "trace")
        got = subprocess.run([exe], env=ptmtest.clean_env(PTM_TRACE=trace),
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(got, plain)
        records = {r["transaction_id"]: r for r in ptmtest.read_trace(trace)}
        self.assertEqual(records["sum"]["mirror"], "inline")
        self.assertEqual(records["sum"]["mirror_status"], "returned")
        self.assertEqual(records["pack"]["mirror"], "fork")
        self.assertIn("reaches 'deflate' via pack -> compress", records["pack"]["mirror_reason"])
        if sanitized():
            return  # a dry run's forked mirror: see run-dry-run-result.c
        # the mirrors' results are the primaries'
        dry = subprocess.run([exe], env=ptmtest.clean_env(PTM_DRY_RUN=1), capture_output=True,
                             text=True, check=True).stdout
        self.assertEqual(dry.split()[:2], plain.split()[:2])
        self.assertEqual(dry.split()[2:4], plain.split()[2:4])


if __name__ == "__main__":
    realcode.main("zlib", "zlib")
