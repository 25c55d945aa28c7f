"""End to end: the Debian package (cpack -G DEB) builds and works.

cpack runs in the build tree (after the build: its install step has nothing
left to build) into a temporary directory.  The package must hold ptmcc,
its front end, libptm, the headers, the CMake package, ptm.pc and the
manual pages, and depend on the backend, the front end's libraries and the
-dev packages of what libptm.a links; apt must be able to resolve it
(simulated).  Then its files, extracted without installing (dpkg -x: a
prefix elsewhere), build and run examples/ledger: an overdraft is diverted.

Installing it for real needs root and changes /usr: scripts/deb-install-test.sh
does that (README, "Installing").  Skipped (77) without dpkg-deb or cpack.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import ptmtest
from ptmtest import clean_env

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))


class Deb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ptm-deb-")
        r = subprocess.run(["cpack", "-G", "DEB", "-B", cls.dir], cwd=ptmtest.BUILD,
                           capture_output=True, text=True, timeout=1200)
        if r.returncode != 0:
            raise RuntimeError(f"cpack failed:\n{r.stdout}\n{r.stderr}")
        debs = [f for f in os.listdir(cls.dir) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.dir, debs[0])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def field(self, name):
        r = subprocess.run(["dpkg-deb", "-f", self.deb, name], capture_output=True, text=True,
                           check=True)
        return r.stdout.strip()

    def test_control(self):
        self.assertEqual(self.field("Package"), "ptm")
        self.assertEqual(self.field("Version"), "0.3")
        depends = [d.strip().split()[0] for d in self.field("Depends").split(",")]
        for pkg in ["clang-19", "libclang1-19", "libllvm19", "liblua5.4-0", "libjansson4",
                    "libc6", "libseccomp-dev", "libjansson-dev", "libc6-dev"]:
            self.assertIn(pkg, depends)

    def test_files(self):
        r = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True,
                           check=True)
        files = {line.split()[-1].lstrip(".") for line in r.stdout.splitlines()}
        for f in ["/usr/bin/ptmcc", "/usr/bin/ptm-trace", "/usr/bin/ptm-rules",
                  "/usr/lib/libptmcc_front.so",
                  "/usr/lib/libptm.a", "/usr/lib/libptm_sqlite.a", "/usr/lib/libptm_jump.a",
                  "/usr/include/ptm.h", "/usr/include/ptm_gen.h", "/usr/include/ptm_calls.def",
                  "/usr/lib/cmake/PTM/PTMConfig.cmake", "/usr/lib/pkgconfig/ptm.pc",
                  "/usr/share/ptm/rules/default.lua"]:
            self.assertIn(f, files)
        if shutil.which("scdoc"):
            self.assertIn("/usr/share/man/man1/ptmcc.1", files)
            self.assertIn("/usr/share/man/man7/ptm.7", files)

    def test_apt_resolves_it(self):
        if not shutil.which("apt-get"):
            self.skipTest("apt-get is not installed")
        r = subprocess.run(["apt-get", "install", "-s", "-qq", self.deb], capture_output=True,
                           text=True, timeout=300)
        if "Permission denied" in r.stderr or "lock" in r.stderr:
            self.skipTest("apt-get cannot read its state here: " + r.stderr.strip())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Inst ptm ", r.stdout)

    def test_extracted_package_builds_the_ledger(self):
        root = os.path.join(self.dir, "root")
        subprocess.run(["dpkg-deb", "-x", self.deb, root], check=True)
        ptmcc = os.path.join(root, "usr", "bin", "ptmcc")
        work = tempfile.mkdtemp(prefix="ledger-", dir=self.dir)
        src = os.path.join(work, "ledger.c")
        shutil.copy(os.path.join(SOURCE, "examples", "ledger", "ledger.c"), src)
        exe = os.path.join(work, "ledger")
        env = clean_env(PTM_MIRROR_DEADLINE_MS=30000)
        r = subprocess.run([ptmcc, "-O2", "-Wall", "-Wextra", "-Werror", src, "-o", exe],
                           cwd=work, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = os.path.join(work, "data")
        os.mkdir(data)
        r = subprocess.run([exe, data, "add", "alice", "1000"], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "ok: alice +1000\n"), r.stderr)
        r = subprocess.run([exe, data, "add", "alice", "-5000"], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (3, "rejected: alice -5000\n"), r.stderr)


if __name__ == "__main__":
    if not (shutil.which("dpkg-deb") and shutil.which("cpack")):
        print("dpkg-deb or cpack is not installed")
        sys.exit(77)
    ptmtest.main()
