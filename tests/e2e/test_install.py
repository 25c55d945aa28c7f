"""End to end: PTM installed, moved, and used with only the installed files.

`cmake --install <build> --prefix P` into a temporary directory, then P is
renamed: whatever the installed files say of their place must be relative
to themselves.  projects/installed (one transaction that diverts on a
failed ptm_validate) is then built from a copy, and each build runs under
`strace -f`, which must show no file opened, executed or looked at under
the build tree or the source tree: only the installed files are used.

- with ptmcc itself, through the installed bin/ptmcc;
- through CMake's find_package(PTM 0.3), with CMAKE_C_COMPILER_LAUNCHER=ptmcc
  (the package's PTM::ptm links) and with CMAKE_C_COMPILER=ptmcc;
- through pkg-config (ptmcc compiles, clang-19 links with ptm.pc's flags);
- through the launcher convention: make CC="ptmcc clang-19";
- through Meson (CC=ptmcc, dependency('ptm')), when meson is installed;
- ptm.pc and the CMake package name the same flags and libraries;
- find_package(PTM 0.2) and (PTM 0.4) refuse this 0.3.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import ptmtest
from ptmtest import clean_env

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
PROJECT = os.path.join(HERE, "projects", "installed")


class Installed(unittest.TestCase):
    """One installed, moved prefix for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="ptm-install-")
        stage = os.path.join(cls.root, "stage")
        r = subprocess.run(["cmake", "--install", ptmtest.BUILD, "--prefix", stage],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"cmake --install failed:\n{r.stdout}\n{r.stderr}")
        cls.prefix = os.path.join(cls.root, "moved", "ptm")
        os.makedirs(os.path.dirname(cls.prefix))
        os.rename(stage, cls.prefix)
        cls.strace = shutil.which("strace")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="t-", dir=self.root)
        self.src = os.path.join(self.dir, "src")
        shutil.copytree(PROJECT, self.src)
        self.forbidden = [os.path.realpath(ptmtest.BUILD), os.path.realpath(SOURCE)]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def env(self, **extra):
        # The build tree's bin/ is not on PATH; pkg-config finds only the
        # moved prefix's ptm.pc.
        return clean_env(PKG_CONFIG_PATH=self.path("lib", "pkgconfig"),
                         PTM_MIRROR_DEADLINE_MS=30000, **extra)

    def run_ok(self, argv, cwd=None, env=None, timeout=300):
        """Runs argv under strace -f (when installed): it must succeed and
        touch nothing of the build or source tree."""
        log = os.path.join(self.dir, "strace.log")
        full = argv
        if self.strace:
            full = [self.strace, "-f", "-qq", "-e", "trace=%file,%process", "-s", "4096",
                    "-o", log] + argv
        env = dict(env or self.env())
        # LLVM checks $PWD against its working directory: the test's own.
        env["PWD"] = cwd or self.src
        env.pop("OLDPWD", None)
        if self.strace:
            # LeakSanitizer cannot run under ptrace (a sanitized build's
            # ptmcc and programs); the other tests check leaks.
            opts = env.get("ASAN_OPTIONS")
            env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "detect_leaks=0"
        r = subprocess.run(full, cwd=cwd or self.src, env=env,
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(r.returncode, 0, f"{argv} failed:\n{r.stdout}\n{r.stderr}")
        if self.strace:
            with open(log, errors="replace") as f:
                text = f.read()
            for tree in self.forbidden:
                hits = [line for line in text.splitlines() if f'"{tree}/' in line or
                        f'"{tree}"' in line]
                self.assertEqual(hits[:5], [], f"{argv} reached {tree}")
        return r

    def check_app(self, exe):
        """The program diverts a negative amount and writes a positive one."""
        data = os.path.join(self.dir, "data.txt")
        r = self.run_ok([exe, data, "5"])
        self.assertEqual(r.stdout, "written 5\n")
        r = self.run_ok([exe, data, "-5"])
        self.assertEqual(r.stdout, "refused -5\n")
        with open(data) as f:
            self.assertEqual(f.read(), "5\n")

    def test_installed_files(self):
        for rel in ["bin/ptmcc", "bin/ptm-trace", "bin/ptm-rules", "lib/libptmcc_front.so",
                    "lib/libptm.a", "lib/libptm_sqlite.a", "lib/libptm_jump.a", "include/ptm.h",
                    "include/ptm_gen.h", "include/ptm_calls.def",
                    "share/ptm/rules/default.lua", "share/ptm/rules/strict.lua",
                    "lib/cmake/PTM/PTMConfig.cmake", "lib/cmake/PTM/PTMConfigVersion.cmake",
                    "lib/pkgconfig/ptm.pc"]:
            self.assertTrue(os.path.exists(self.path(rel)), rel)
        if shutil.which("scdoc"):
            for rel in ["man1/ptmcc.1", "man1/ptm-trace.1", "man1/ptm-rules.1", "man5/ptm-rules.5", "man7/ptm.7"]:
                self.assertTrue(os.path.exists(self.path("share", "man", rel)), rel)
        # No installed text file (the package files, ptm.pc) and no RPATH
        # names the build or the source tree.  (Debug information names the
        # sources it was built from, as any -g build's does.)
        for root, _, files in os.walk(self.prefix):
            for name in files:
                full = os.path.join(root, name)
                with open(full, "rb") as f:
                    data = f.read()
                if data.startswith(b"\x7fELF"):
                    data = subprocess.run(["readelf", "-d", full], capture_output=True,
                                          check=True).stdout
                elif data.startswith(b"!<arch>"):
                    continue
                for tree in self.forbidden:
                    self.assertFalse(tree.encode() + b"/" in data, f"{full} names {tree}")

    def test_version(self):
        r = self.run_ok([self.path("bin", "ptmcc"), "--version"])
        lines = r.stdout.splitlines()
        with open(self.path("include", "ptm_gen.h")) as f:
            abi = re.search(r"#define PTM_ABI_VERSION (\d+)", f.read()).group(1)
        # The backend's first (build systems read the first line), then PTM's.
        self.assertIn("clang version 19", lines[0])
        self.assertEqual(lines[-1], f"ptmcc (PTM) 0.3, ABI {abi}, backend: clang-19")

    def test_ptmcc_builds_from_the_moved_prefix(self):
        exe = os.path.join(self.dir, "app")
        self.run_ok([self.path("bin", "ptmcc"), "-O1", "app.c", "-o", exe])
        self.check_app(exe)

    def cmake_build(self, *defs):
        build = os.path.join(self.dir, "build")
        r = self.run_ok(["cmake", "-S", self.src, "-B", build, "-G", "Ninja",
                         "-DCMAKE_PREFIX_PATH=" + self.prefix, *defs], timeout=300)
        self.run_ok(["cmake", "--build", build], timeout=300)
        return r, os.path.join(build, "app")

    def test_find_package_with_the_launcher(self):
        r, exe = self.cmake_build("-DCMAKE_C_COMPILER=clang-19",
                                  "-DCMAKE_C_COMPILER_LAUNCHER=" + self.path("bin", "ptmcc"))
        self.assertIn("PTM_PTMCC_EXECUTABLE=" + self.path("bin", "ptmcc"), r.stdout)
        self.check_app(exe)

    def test_find_package_with_ptmcc_as_the_compiler(self):
        _, exe = self.cmake_build("-DCMAKE_C_COMPILER=" + self.path("bin", "ptmcc"))
        self.check_app(exe)

    def test_find_package_checks_the_version(self):
        for wrong in ("0.2", "0.4", "1.0"):
            with open(os.path.join(self.src, "CMakeLists.txt")) as f:
                text = f.read().replace("find_package(PTM 0.3", f"find_package(PTM {wrong}")
            src = os.path.join(self.dir, "v" + wrong)
            shutil.copytree(self.src, src)
            with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
                f.write(text)
            r = subprocess.run(["cmake", "-S", src, "-B", os.path.join(src, "build"),
                                "-DCMAKE_PREFIX_PATH=" + self.prefix], env=self.env(),
                               capture_output=True, text=True, timeout=300)
            self.assertNotEqual(r.returncode, 0, wrong)
            self.assertIn("0.3", r.stderr, wrong)

    def pkg_config(self, *args):
        r = self.run_ok(["pkg-config", *args, "ptm"])
        return r.stdout.split()

    def test_pkg_config(self):
        obj = os.path.join(self.dir, "app.o")
        exe = os.path.join(self.dir, "app")
        ptmcc = self.pkg_config("--variable=ptmcc")[0]
        self.assertEqual(os.path.realpath(ptmcc), self.path("bin", "ptmcc"))
        self.run_ok([ptmcc, "clang-19", *self.pkg_config("--cflags"), "-c", "app.c", "-o", obj])
        self.run_ok(["clang-19", obj, "-o", exe, *self.pkg_config("--libs")])
        self.check_app(exe)
        # --static names the same: libptm is a static library only.
        self.assertEqual(self.pkg_config("--static", "--libs"), self.pkg_config("--libs"))

    def test_launcher_in_make(self):
        self.run_ok(["make", "CC=" + self.path("bin", "ptmcc") + " clang-19"])
        self.check_app(os.path.join(self.src, "app"))

    def test_launcher_with_gcc(self):
        if not shutil.which("gcc"):
            self.skipTest("gcc is not installed")
        with open(os.path.join(ptmtest.BUILD, "CMakeCache.txt")) as cache:
            if any(line.startswith("PTM_SANITIZE:") and line.strip().endswith("=ON")
                   for line in cache):
                self.skipTest("a sanitized libptm needs clang's sanitizer runtimes")
        exe = os.path.join(self.dir, "app")
        r = self.run_ok([self.path("bin", "ptmcc"), "gcc", "--ptm-verbose", "app.c", "-o", exe])
        self.assertRegex(r.stderr, r"(?m)^gcc ")
        self.check_app(exe)

    def test_meson(self):
        if not shutil.which("meson"):
            self.skipTest("meson is not installed")
        build = os.path.join(self.dir, "mbuild")
        self.run_ok(["meson", "setup", build], env=self.env(CC=self.path("bin", "ptmcc")))
        self.run_ok(["meson", "compile", "-C", build])
        self.check_app(os.path.join(build, "app"))

    def test_pc_and_cmake_package_agree(self):
        r, _ = self.cmake_build("-DCMAKE_C_COMPILER=clang-19")
        props = dict(re.findall(r"-- PTM::ptm (\w+)=(.*)", r.stdout))
        # Include directories
        cflags = self.pkg_config("--cflags")
        pc_inc = [os.path.realpath(f[2:]) for f in cflags if f.startswith("-I")]
        self.assertEqual(pc_inc, [os.path.realpath(p) for p in
                                  props["INTERFACE_INCLUDE_DIRECTORIES"].split(";")])
        # Definitions
        self.assertEqual([f[2:] for f in cflags if f.startswith("-D")],
                         props["INTERFACE_COMPILE_DEFINITIONS"].split(";"))
        # Libraries, in order: the package names archives by path, ptm.pc
        # by -l under its -L.
        libs = self.pkg_config("--libs")
        libdir = [os.path.realpath(f[2:]) for f in libs if f.startswith("-L")]
        pc_libs = [f[2:] for f in libs if f.startswith("-l")]
        cm_libs = []
        for item in props["INTERFACE_LINK_LIBRARIES"].split(";"):
            if item.endswith(".a"):
                self.assertEqual([os.path.realpath(os.path.dirname(item))], libdir)
                item = os.path.basename(item)[3:-2]
            cm_libs.append(item)
        self.assertEqual(pc_libs, cm_libs)
        # Link options: the rest of Libs
        self.assertEqual([f for f in libs if not f.startswith(("-L", "-l"))],
                         props["INTERFACE_LINK_OPTIONS"].split(";"))


if __name__ == "__main__":
    ptmtest.main()
