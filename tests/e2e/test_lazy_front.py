"""End to end: a unit without annotations costs ptmcc no libclang.

ptmcc links no libclang and no libLLVM; its front end is
<prefix>/lib/libptmcc_front.so, opened only when the text scan says a unit
needs a parse (compiler/front_load.c).  Each command here runs under
LD_DEBUG=files with LD_DEBUG_OUTPUT, so that every process writes what the
dynamic loader loaded into its own file, ld.<pid>: ptmcc's file (by its
pid, or, under CMake, the files that name ptmcc as a library's loader) must
name no libclang for what holds no annotation, and must name it for what
does (which shows that the check sees a load).  Then the front end's
location: a tree moved elsewhere, a symlink to ptmcc, a tree without
the shared object, and one whose shared object is of another build.
"""
import glob
import os
import shutil
import subprocess
import unittest

import ptmtest
from ptmtest import build_path, clean_env, ptmcc

PLAIN = """#include <stdio.h>
#include "plain.h"
int twice(int x) { return 2 * x; }
"""
PLAIN_H = "int twice(int x);\n"
MAIN = """#include <stdio.h>
#include "plain.h"
int main(void) { printf("%d\\n", twice(21)); return 0; }
"""
ANNOTATED = """#include <ptm.h>
#include <stdio.h>
PTM_TRANSACTION(.success_criteria = return == 0)
int greet(FILE *f) { return fputs("hello\\n", f) < 0; }
int main(void) { return greet(stdout); }
"""


class LazyFrontTest(ptmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        for name, text in [("plain.c", PLAIN), ("plain.h", PLAIN_H), ("main.c", MAIN),
                           ("annotated.c", ANNOTATED)]:
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        self.ld = os.path.join(self.dir, "ld")
        os.mkdir(self.ld)

    def traced(self, argv, **env):
        """Runs argv under LD_DEBUG=files.  Returns (result, the loader's
        log of argv's own process)."""
        for f in glob.glob(os.path.join(self.ld, "*")):
            os.unlink(f)
        e = clean_env(LD_DEBUG="files", LD_DEBUG_OUTPUT=os.path.join(self.ld, "ld"), **env)
        p = subprocess.Popen(argv, env=e, cwd=self.dir, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=120)
        log = os.path.join(self.ld, f"ld.{p.pid}")
        self.assertTrue(os.path.exists(log), f"{argv}: no loader log")
        with open(log) as f:
            text = f.read()
        return subprocess.CompletedProcess(argv, p.returncode, out, err), text

    def assert_lazy(self, args, rc=0):
        r, log = self.traced([ptmcc()] + args)
        self.assertEqual(r.returncode, rc, f"{args}: {r.stderr}")
        for lib in ("libclang", "libLLVM", "libptmcc_front"):
            self.assertFalse(lib in log, f"ptmcc {' '.join(args)} loaded {lib}")
        return r

    def test_unannotated_commands_load_no_libclang(self):
        self.assert_lazy(["--version"])
        r = self.assert_lazy(["--help"])
        self.assertIn("usage: ptmcc", r.stdout)
        self.assert_lazy(["-c", "plain.c", "-o", "plain.o"])
        self.assert_lazy(["-c", "-O2", "-Wall", "-Werror", "-MD", "-MP", "main.c"])
        self.assertTrue(os.path.exists(os.path.join(self.dir, "main.d")))
        r = self.assert_lazy(["-E", "plain.c"])
        self.assertIn("twice", r.stdout)
        r = self.assert_lazy(["-M", "plain.c"])
        self.assertIn("plain.h", r.stdout)
        self.assert_lazy(["-MM", "plain.c", "-MF", "plain.d"])
        self.assert_lazy(["-S", "plain.c"])
        self.assert_lazy(["plain.o", "main.o", "-o", "app"])  # link only
        self.assert_lazy(["plain.c", "main.c", "-o", "app2"])  # compile and link
        self.assert_lazy(["-shared", "-fPIC", "plain.c", "-o", "libplain.so"])
        self.assertEqual(self.run_cmd([os.path.join(self.dir, "app2")]).stdout, "42\n")
        # a backend error keeps its exit code, still without a front end
        with open(os.path.join(self.dir, "bad.c"), "w") as f:
            f.write("int f(void) { return nope; }\n")
        r = self.assert_lazy(["-c", "bad.c"], rc=1)
        self.assertIn("nope", r.stderr)
        # --emit-source of a unit without annotations is its own text
        r = self.assert_lazy(["--emit-source", "plain.c"])
        self.assertEqual(r.stdout, PLAIN)

    def test_annotated_unit_loads_the_front_end(self):
        # LD_BIND_NOW: every symbol the front end takes from ptmcc is there
        # (ptmcc opens it lazily; a missing one would fail only when called)
        r, log = self.traced([ptmcc(), "annotated.c", "-o", "annotated"], LD_BIND_NOW=1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue("libptmcc_front.so" in log and "libclang" in log)
        self.assertEqual(self.run_cmd([os.path.join(self.dir, "annotated")]).stdout, "hello\n")
        r, log = self.traced([ptmcc(), "--dump-annotations", "annotated.c"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"function": "greet"', r.stdout)
        self.assertTrue("libclang" in log)

    def test_cmake_probes_load_no_libclang(self):
        if not shutil.which("cmake"):
            self.skipTest("no cmake")
        src = os.path.join(self.dir, "proj")
        os.mkdir(src)
        shutil.copy(os.path.join(self.dir, "plain.c"), src)
        shutil.copy(os.path.join(self.dir, "plain.h"), src)
        shutil.copy(os.path.join(self.dir, "main.c"), src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.20)\nproject(p C)\n"
                    "include(CheckIncludeFile)\ncheck_include_file(stdint.h HAVE_STDINT_H)\n"
                    "add_executable(app main.c plain.c)\n")
        for f in glob.glob(os.path.join(self.ld, "*")):
            os.unlink(f)
        env = clean_env(LD_DEBUG="files", LD_DEBUG_OUTPUT=os.path.join(self.ld, "ld"))
        build = os.path.join(self.dir, "b")
        for argv in (["cmake", "-S", src, "-B", build, "-DCMAKE_C_COMPILER=" + ptmcc()],
                     ["cmake", "--build", build]):
            r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the processes of ptmcc: their libraries were needed by it
        needed_by = "needed by " + os.path.realpath(ptmcc())
        runs = 0
        for path in glob.glob(os.path.join(self.ld, "ld.*")):
            with open(path, errors="replace") as f:
                text = f.read()
            if needed_by not in text:
                continue
            runs += 1
            self.assertFalse("libclang" in text, f"a ptmcc run under CMake loaded libclang ({path})")
        # the compiler identification, the ABI probe, check_include_file,
        # two objects and a link
        self.assertGreaterEqual(runs, 5)


class FrontLocationTest(ptmtest.TempDirTest):
    """ptmcc finds libptmcc_front.so at <prefix>/lib next to <prefix>/bin."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(self.dir, "annotated.c"), "w") as f:
            f.write(ANNOTATED)
        with open(os.path.join(self.dir, "plain.c"), "w") as f:
            f.write(PLAIN.replace('#include "plain.h"\n', ""))
        self.tree = os.path.join(self.dir, "moved")
        os.makedirs(os.path.join(self.tree, "bin"))
        shutil.copy2(ptmcc(), os.path.join(self.tree, "bin"))
        shutil.copytree(build_path("lib"), os.path.join(self.tree, "lib"))
        shutil.copytree(build_path("include"), os.path.join(self.tree, "include"))

    def build_and_run(self, compiler):
        r = self.run_cmd([compiler, "annotated.c", "-o", "annotated"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd([os.path.join(self.dir, "annotated")])
        self.assertEqual((r.returncode, r.stdout), (0, "hello\n"))

    def test_moved_tree(self):
        self.build_and_run(os.path.join(self.tree, "bin", "ptmcc"))

    def test_symlink_to_ptmcc(self):
        link = os.path.join(self.dir, "cc")
        os.symlink(os.path.join(self.tree, "bin", "ptmcc"), link)
        self.build_and_run(link)

    def test_missing_front_end(self):
        so = os.path.join(self.tree, "lib", "libptmcc_front.so")
        os.unlink(so)
        exe = os.path.join(self.tree, "bin", "ptmcc")
        # a unit without annotations does not need it
        r = self.run_cmd([exe, "-c", "plain.c", "-o", "plain.o"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd([exe, "-c", "annotated.c", "-o", "annotated.o"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"ptmcc: error: cannot load ptmcc's front end '{so}': "
                         "cannot open shared object file: No such file or directory\n"
                         "1 error generated.\n")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "annotated.o")))
        r = self.run_cmd([exe, "--dump-annotations", "annotated.c"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot load ptmcc's front end", r.stderr)
        self.assertEqual(r.stdout, "")

    def replace_front_end(self, text):
        """lib/libptmcc_front.so of the moved tree built from text."""
        src = os.path.join(self.dir, "fake_front.c")
        with open(src, "w") as f:
            f.write(text)
        r = self.run_cmd(["clang-19", "-shared", "-fPIC", src, "-o",
                          os.path.join(self.tree, "lib", "libptmcc_front.so")])
        self.assertEqual(r.returncode, 0, r.stderr)

    def annotated_fails(self, why):
        r = self.run_cmd([os.path.join(self.tree, "bin", "ptmcc"), "-c", "annotated.c"])
        self.assertEqual(r.returncode, 1)
        so = os.path.join(self.tree, "lib", "libptmcc_front.so")
        self.assertIn(f"ptmcc: error: cannot load ptmcc's front end '{so}': {why}", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "annotated.o")))

    def test_front_end_of_another_build(self):
        # the table's size and version are checked before any call
        self.replace_front_end("#include <stddef.h>\n"
                               "const struct { size_t size; const char *version; }"
                               " ptmcc_front_api = {16, \"0.0\"};\n")
        self.annotated_fails("it belongs to another build of ptmcc")

    def test_front_end_without_its_table(self):
        self.replace_front_end("int not_a_front_end;\n")
        self.annotated_fails("undefined symbol: ptmcc_front_api")


if __name__ == "__main__":
    ptmtest.main()
