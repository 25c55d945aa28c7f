"""End to end: the semantic oracle.

Each program in oracle/ has transactions and no predicted failure, so a
ptmcc build must behave exactly like a plain clang-19 build of the same
source (ptm.h alone, no ptmcc, no libptm): the same exit status, the same
stdout and stderr, and the same files written.  Each build runs in a fresh
directory of its own; the files it leaves there are compared by content.
"""
import os
import shutil
import unittest

import ptmtest
from ptmtest import clean_env, dir_state, ptmcc

ORACLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oracle")
FLAGS = ["-O2", "-g", "-Wall", "-Wextra", "-Werror"]

# Programs that expose a known ptmcc bug, run but expected to differ.
KNOWN_BUGS = {
    # (funcname, __func__ in a transaction, was one: emit.c now pins the
    # predefined names of renamed copies to the user's function's name.)
}


def programs():
    return sorted(f[:-2] for f in os.listdir(ORACLE) if f.endswith(".c"))


class Oracle(ptmtest.TempDirTest):
    def build_and_run(self, name, compiler, flags):
        """Builds oracle/<name>.c with compiler and runs it in a fresh
        directory.  Returns (exit status, stdout, stderr, files written)."""
        tag = os.path.basename(compiler)
        exe = os.path.join(self.dir, f"{name}.{tag}")
        r = self.run_cmd([compiler, *FLAGS, *flags, os.path.join(ORACLE, name + ".c"),
                          "-o", exe, "-lm"], timeout=120)
        self.assertEqual(r.returncode, 0, f"{tag} failed:\n{r.stderr}")
        cwd = os.path.join(self.dir, "run." + tag)
        os.mkdir(cwd)
        r = self.run_cmd([exe], cwd=cwd, env=clean_env(), timeout=60)
        files = {path: state[0] for path, state in dir_state(cwd).items()}
        return r.returncode, r.stdout, r.stderr, files

    def check(self, name):
        clang = shutil.which("clang-19")
        self.assertIsNotNone(clang, "clang-19 is not on PATH")
        plain = self.build_and_run(name, clang, ["-I" + ptmtest.build_path("include")])
        mirrored = self.build_and_run(name, ptmcc(), [])
        self.assertTrue(plain[1], "the program printed nothing")
        for what, a, b in zip(("exit status", "stdout", "stderr", "files"), plain, mirrored):
            self.assertEqual(b, a, f"{name}: {what} of the ptmcc build differs")


def add_tests():
    for name in programs():
        def test(self, name=name):
            self.check(name)
        if name in KNOWN_BUGS:
            test = unittest.expectedFailure(test)
        setattr(Oracle, "test_" + name, test)


add_tests()

if __name__ == "__main__":
    ptmtest.main()
