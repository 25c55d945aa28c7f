"""End to end: ptmcc in real builds.

projects/shop is a small multi-file project: a header every source
includes, two units with transactions (inventory.c, payment.c), two without
(money.c, main.c), a header only inventory.c includes, and, under CMake,
a static library.  It is built with `make CC=ptmcc` and with CMake (Ninja
and Makefiles) using ptmcc as the C compiler; the program must behave (a
good call runs the primary, a failed ptm_validate diverts) and touching a
header must rebuild exactly its dependents.  Then `ptmcc -p <build-dir>`
against the compile_commands.json of those builds and of hand-written ones.
"""
import json
import os
import shutil
import time
import unittest

import ptmtest
from ptmtest import clean_env, ptmcc, read_trace

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "projects", "shop")
SHOP_SOURCES = ["inventory.c", "main.c", "money.c", "payment.c"]


class ShopTest(ptmtest.TempDirTest):
    """The shop project copied into a fresh directory."""

    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "shop")
        shutil.copytree(SHOP, self.src)
        # Sources an hour old: a header touched later is newer than any
        # object, whatever the clock's grain.
        old = time.time() - 3600
        for root, _, files in os.walk(self.src):
            for name in files:
                os.utime(os.path.join(root, name), (old, old))

    def ok(self, argv, **kw):
        r = self.run_cmd(argv, **kw)
        self.assertEqual(r.returncode, 0, f"{argv} failed:\n{r.stdout}\n{r.stderr}")
        return r

    def check_shop(self, exe):
        """The program's behaviour, and what its trace says."""
        trace = os.path.join(self.dir, "trace.jsonl")
        # What is checked is the build's product, not the mirror's speed: on
        # a loaded machine (make -j2 beside lit, a sanitizer build) a fork
        # mirror can outlast the default 1 s deadline, and then the primary
        # runs, as it must, with no prediction to divert on.
        env = clean_env(PTM_TRACE=trace, PTM_MIRROR_DEADLINE_MS=30000)
        cases = [
            (["reserve", "apple", "3"], "reserved 3 apple (stock 7)\nrc 0 left 7\n",
             "shop.reserve", "primary", "reserve"),
            (["reserve", "apple", "30"], "backordered 30 apple\nrc 1 left 10\n",
             "shop.reserve", "divert", "reserve_backorder"),
            (["charge", "250"], "charged $3.00\nrc 300\n", "shop.charge", "primary", "charge"),
            (["charge", "-5"], "declined -$0.05\nrc -1\n", "shop.charge", "divert",
             "charge_declined"),
        ]
        for args, out, tx, decision, path in cases:
            if os.path.exists(trace):
                os.unlink(trace)
            r = self.run_cmd([exe] + args, env=env)
            self.assertEqual((r.returncode, r.stdout), (0, out), f"{args}: {r.stderr}")
            t = read_trace(trace)
            self.assertEqual(len(t), 1, args)
            self.assertEqual((t[0]["transaction_id"], t[0]["decision"], t[0]["path"]),
                             (tx, decision, path), args)
            if decision == "divert":
                self.assertTrue(t[0]["signals"]["validation"], args)

    @staticmethod
    def mtimes(paths):
        return {p: os.stat(p).st_mtime_ns for p in paths}

    def touch_after(self, header, outputs):
        """Touches header once the clock has passed every output's mtime."""
        newest = max(os.stat(p).st_mtime_ns for p in outputs)
        while time.time_ns() < newest + 20_000_000:
            time.sleep(0.01)
        os.utime(header)

    def rebuilt(self, build, objects, header):
        """The sources whose objects a build rebuilt after header changed."""
        before = self.mtimes(objects.values())
        self.touch_after(header, objects.values())
        build()
        after = self.mtimes(objects.values())
        return sorted(s for s, o in objects.items() if after[o] != before[o])

    def check_dep_file(self, path, source):
        """A dependency file names the user's source, never a copy."""
        with open(path) as f:
            deps = f.read()
        self.assertIn(source, deps)
        self.assertIn("shop.h", deps)
        self.assertNotIn("ptmcc.", deps)


class MakeBuild(ShopTest):
    def make(self, *targets):
        return self.ok(["make", "-j2", "CC=" + ptmcc(), *targets], cwd=self.src)

    def test_make_builds_links_and_runs(self):
        r = self.make()
        self.assertIn("-MMD -MP -c src/inventory.c -o obj/inventory.o", r.stdout)
        self.check_shop(os.path.join(self.src, "shop"))
        for name in SHOP_SOURCES:
            self.check_dep_file(os.path.join(self.src, "obj", name[:-2] + ".d"),
                                "src/" + name)
        with open(os.path.join(self.src, "obj", "inventory.d")) as f:
            self.assertIn("src/stock.h", f.read())
        # Nothing to do on a second run.
        self.assertIn("'shop' is up to date", self.make().stdout)

    def test_touching_a_header_rebuilds_its_dependents(self):
        self.make()
        objects = {n: os.path.join(self.src, "obj", n[:-2] + ".o") for n in SHOP_SOURCES}
        self.assertEqual(self.rebuilt(self.make, objects,
                                      os.path.join(self.src, "include", "shop.h")),
                         SHOP_SOURCES)
        self.assertEqual(self.rebuilt(self.make, objects,
                                      os.path.join(self.src, "src", "stock.h")),
                         ["inventory.c"])
        self.check_shop(os.path.join(self.src, "shop"))

    def test_unannotated_program_needs_no_ptm_libraries(self):
        # --as-needed: a program without transactions links none of libptm's
        # shared libraries, though ptmcc adds them to every link.
        exe = os.path.join(self.dir, "plain")
        self.ok([ptmcc(), "-O2", "-Iinclude", "src/money.c", "-x", "c", "-",
                 "-o", exe], cwd=self.src,
                input="int main(void) { return 0; }\n")
        r = self.ok(["readelf", "-d", exe])
        for lib in ("lua", "seccomp", "jansson"):
            self.assertNotIn(lib, r.stdout)

    def test_link_of_plain_sources_searches_no_ptm_library(self):
        # A configure probe's link (sources only, none annotated): no PTM
        # library is searched, and the program is the one clang-19 links.
        # Any input that could refer to libptm keeps them: a unit that
        # includes ptm.h (its API), a -l library, an object file.
        plain = os.path.join(self.dir, "plain.c")
        api = os.path.join(self.dir, "api.c")
        with open(plain, "w") as f:
            f.write("#include <stdio.h>\nint main(void) { puts(\"plain\"); return 0; }\n")
        with open(api, "w") as f:
            f.write("#include <ptm.h>\n#include <stdio.h>\n"
                    "int main(void) { printf(\"%ld\\n\", ptm_timeout_ms()); return 0; }\n")

        def link(*args):
            exe = os.path.join(self.dir, "exe%d" % len(os.listdir(self.dir)))
            r = self.ok([ptmcc(), "--ptm-verbose", "-O2", *args, "-o", exe], cwd=self.dir)
            return exe, "-lptm" in r.stderr

        exe, searched = link("plain.c")
        self.assertFalse(searched)
        self.assertEqual(self.ok([exe]).stdout, "plain\n")
        self.ok(["clang-19", "-D__PTMCC__=1", "-O2", "plain.c", "-o", "by_clang"], cwd=self.dir)
        with open(exe, "rb") as a, open(os.path.join(self.dir, "by_clang"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertTrue(link("plain.c", "-lm")[1])
        self.ok([ptmcc(), "-c", "plain.c", "-o", "plain.o"], cwd=self.dir)
        self.assertTrue(link("plain.o")[1])
        exe, searched = link("api.c")
        self.assertTrue(searched)
        self.assertEqual(self.ok([exe]).stdout, "-1\n")


class CMakeBuild(ShopTest):
    def configure(self, generator):
        self.build = os.path.join(self.dir, "build")
        r = self.ok(["cmake", "-S", self.src, "-B", self.build, "-G", generator,
                     "-DCMAKE_C_COMPILER=" + ptmcc(), "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                    timeout=180)
        # Compiler detection compiles and links through ptmcc.
        self.assertIn("The C compiler identification is Clang 19.", r.stdout)
        return r

    def cmake_build(self):
        return self.ok(["cmake", "--build", self.build, "-j2"], timeout=180)

    def objects(self):
        dirs = {"inventory.c": "shopcore", "money.c": "shopcore", "main.c": "shop",
                "payment.c": "shop"}
        return {n: os.path.join(self.build, "CMakeFiles", d + ".dir", "src", n + ".o")
                for n, d in dirs.items()}

    def check_generator(self, generator):
        self.configure(generator)
        self.cmake_build()
        self.assertTrue(os.path.exists(os.path.join(self.build, "libshopcore.a")))
        self.check_shop(os.path.join(self.build, "shop"))
        # The depfile flow: the compiler's -MD -MT -MF files name the
        # sources (Ninja moves them into its own log).
        inventory = self.objects()["inventory.c"]
        if generator == "Ninja":
            r = self.ok(["ninja", "-C", self.build, "-t", "deps",
                         os.path.relpath(inventory, self.build)])
            deps = r.stdout
        else:
            with open(inventory + ".d") as f:
                deps = f.read()
        self.assertIn(os.path.join(self.src, "src", "inventory.c"), deps)
        self.assertIn(os.path.join(self.src, "src", "stock.h"), deps)
        self.assertNotIn("ptmcc.", deps)
        objects = self.objects()
        self.assertEqual(self.rebuilt(self.cmake_build, objects,
                                      os.path.join(self.src, "include", "shop.h")),
                         SHOP_SOURCES)
        self.assertEqual(self.rebuilt(self.cmake_build, objects,
                                      os.path.join(self.src, "src", "stock.h")),
                         ["inventory.c"])
        self.check_shop(os.path.join(self.build, "shop"))

    @unittest.skipUnless(shutil.which("ninja"), "ninja is not installed")
    def test_cmake_ninja(self):
        self.check_generator("Ninja")

    def test_cmake_makefiles(self):
        self.check_generator("Unix Makefiles")


class CompileDatabase(ShopTest):
    """ptmcc -p <build-dir>: the flags and directory of compile_commands.json."""

    def cmake_db(self):
        build = os.path.join(self.dir, "build")
        self.ok(["cmake", "-S", self.src, "-B", build, "-G", "Unix Makefiles",
                 "-DCMAKE_C_COMPILER=" + ptmcc()], timeout=180)
        return build

    def write_db(self, build, entries):
        os.makedirs(build, exist_ok=True)
        with open(os.path.join(build, "compile_commands.json"), "w") as f:
            json.dump(entries, f)

    def test_p_compiles_as_the_entry_says(self):
        build = self.cmake_db()
        obj = os.path.join(build, "CMakeFiles", "shopcore.dir", "src", "inventory.c.o")
        self.assertFalse(os.path.exists(obj))
        # From another directory, naming the source by a relative path.
        r = self.ok([ptmcc(), "--ptm-verbose", "-p", "build", "shop/src/inventory.c"])
        self.assertIn("-I" + os.path.join(self.src, "include"), r.stderr)
        self.assertTrue(os.path.exists(obj), r.stderr)
        nm = self.ok(["nm", obj]).stdout
        self.assertIn("reserve__ptm_mirror", nm)
        # The rest of the build uses it as it is.
        self.ok(["cmake", "--build", build])
        self.check_shop(os.path.join(build, "shop"))

    def test_p_with_emit_source_and_dump_annotations(self):
        build = self.cmake_db()
        src = os.path.join("shop", "src", "payment.c")
        r = self.ok([ptmcc(), "-p", build, src, "--emit-source"])
        self.assertIn("charge__ptm_mirror", r.stdout)
        self.ok([ptmcc(), "-p", build, "--emit-source", src, "-o", "out.c"])
        with open(os.path.join(self.dir, "out.c")) as f:
            self.assertEqual(f.read(), r.stdout)
        r = self.ok([ptmcc(), "-p=" + build, "--dump-annotations", src,
                     os.path.join("shop", "src", "inventory.c")])
        dumped = json.loads(r.stdout)
        self.assertEqual([d["transaction_id"] for d in dumped], ["shop.charge", "shop.reserve"])
        self.assertEqual(dumped[1]["params"], [{"name": "o", "type": "struct order"}])
        self.assertFalse(os.path.exists(os.path.join(build, "CMakeFiles", "shop.dir", "src",
                                                     "payment.c.o")))

    def test_p_reads_arguments_and_shell_quoted_commands(self):
        # "arguments" and "command", a relative "file", a define whose value
        # holds quotes and a blank, and a directory unlike the current one.
        src = os.path.join(self.src, "src")
        greet = os.path.join(src, "greet.c")
        with open(greet, "w") as f:
            f.write('#include <ptm.h>\n#include <stdio.h>\n#include "shop.h"\n'
                    "PTM_TRANSACTION(.transaction_id = \"greet.tx\")\n"
                    "int greet(void) { return puts(GREETING EXCLAIM) < 0; }\n"
                    "int main(void) { return greet() + SHOP_STOCK - 10; }\n")
        build = os.path.join(self.dir, "db")
        self.write_db(build, [
            {"directory": src, "file": "money.c",
             "arguments": ["cc", "-I../include", "-c", "money.c", "-o", "money.o"]},
            {"directory": src, "file": "greet.c",
             "command": "/usr/bin/cc -I../include '-DGREETING=\"hello, world\"' "
                        "-DEXCLAIM=\\\"!\\\" greet.c -o \"greet app\""},
        ])
        self.ok([ptmcc(), "-p", build, "shop/src/greet.c", "shop/src/money.c"])
        self.assertTrue(os.path.exists(os.path.join(src, "money.o")))
        trace = os.path.join(self.dir, "t.jsonl")
        r = self.run_cmd([os.path.join(src, "greet app")], env=clean_env(PTM_TRACE=trace))
        self.assertEqual((r.returncode, r.stdout), (0, "hello, world!\n"), r.stderr)
        self.assertEqual(read_trace(trace)[0]["transaction_id"], "greet.tx")
        # -o from the command line replaces the entry's output.
        self.ok([ptmcc(), "-p", build, "shop/src/greet.c", "-o", "elsewhere"])
        self.assertEqual(self.run_cmd([os.path.join(self.dir, "elsewhere")]).stdout,
                         "hello, world!\n")
        r = self.ok([ptmcc(), "-p", build, "--dump-annotations", "shop/src/greet.c"])
        self.assertEqual(json.loads(r.stdout)[0]["transaction_id"], "greet.tx")

    def test_p_errors_are_clear(self):
        build = os.path.join(self.dir, "db")
        os.makedirs(build)
        r = self.run_cmd([ptmcc(), "-p", "db", "shop/src/money.c"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr,
                         "ptmcc: error: no compilation database: 'db' holds no "
                         "compile_commands.json\n")
        self.write_db(build, [{"directory": self.src, "file": "src/money.c",
                               "arguments": ["cc", "-c", "src/money.c"]}])
        r = self.run_cmd([ptmcc(), "-p", "db", "shop/src/payment.c"])
        self.assertEqual((r.returncode, r.stderr), (1,
                         "ptmcc: error: no compile command for 'shop/src/payment.c' in "
                         "db/compile_commands.json\n"))
        r = self.run_cmd([ptmcc(), "-p", "db", "shop/src/absent.c"])
        self.assertEqual((r.returncode, r.stderr),
                         (1, "ptmcc: error: no such file or directory: 'shop/src/absent.c'\n"))
        r = self.run_cmd([ptmcc(), "-p", "db"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("which source?", r.stderr)
        for text, words in [("[{", "db/compile_commands.json:1:"),
                            ('{"a": 1}', "top level is not an array"),
                            ('[{"file": "x.c"}]', 'entry 1 has no "directory" string'),
                            ('[{"directory": "/", "file": "%s"}]' % os.path.join(
                                self.src, "src", "money.c"),
                             'neither "arguments" nor a "command"'),
                            ('[{"directory": "/", "file": "%s", "command": "cc \'x"}]' %
                             os.path.join(self.src, "src", "money.c"), "unterminated quote")]:
            with open(os.path.join(build, "compile_commands.json"), "w") as f:
                f.write(text)
            r = self.run_cmd([ptmcc(), "-p", "db", "shop/src/money.c"])
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(words, r.stderr, text)
            self.assertTrue(r.stderr.startswith("ptmcc: error: "), r.stderr)

    def test_p_without_a_directory_is_cc_p(self):
        # gcc's -p (profiling) takes no value: followed by anything but a
        # directory, it is the backend's (clang-19 rejects it on x86-64).
        argv = [ptmcc(), "--ptm-verbose", "-p", "-c", "shop/src/money.c", "-Ishop/include",
                "-o", "money.o"]
        r = self.run_cmd(argv)
        self.assertIn(" -p -c shop/src/money.c", r.stderr)
        if shutil.which("gcc"):
            r = self.run_cmd(argv, env=clean_env(PTM_CC="gcc"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("gcc -D__PTMCC__=1 -isystem ", r.stderr)


class SameBaseName(ptmtest.TempDirTest):
    """Two x.c in different directories, each with its own local.h, in one
    command: each must see its own header."""

    def write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def setUp(self):
        super().setUp()
        for d, n in (("one", 1), ("two", 2)):
            self.write(f"{d}/local.h", f"#define LOCAL {n}\n")
            self.write(f"{d}/x.c", '#include <ptm.h>\n#include <stdio.h>\n#include "local.h"\n'
                       f"PTM_TRANSACTION()\nint {d}(void) {{ return printf(\"{d} %d\\n\", LOCAL); }}\n")
        self.write("main.c", "int one(void); int two(void);\n"
                   "int main(void) { return one() + two() != 12; }\n")

    def test_link_in_one_command(self):
        r = self.run_cmd([ptmcc(), "-Wall", "-Werror", "one/x.c", "two/x.c", "main.c", "-o", "app"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd([os.path.join(self.dir, "app")])
        self.assertEqual((r.returncode, r.stdout), (0, "one 1\ntwo 2\n"))

    def test_compile_several_then_link(self):
        # -c with several sources: each object named after its source, in
        # the current directory, as the backend names them.
        r = self.run_cmd([ptmcc(), "-c", "one/x.c", "main.c"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd([ptmcc(), "-c", "two/x.c", "-o", "two.o"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd([ptmcc(), "x.o", "main.o", "two.o", "-o", "app"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd([os.path.join(self.dir, "app")])
        self.assertEqual((r.returncode, r.stdout), (0, "one 1\ntwo 2\n"))

    def test_dependencies_in_one_command(self):
        r = self.run_cmd([ptmcc(), "-MM", "one/x.c", "two/x.c"])
        self.assertEqual((r.returncode, r.stdout),
                         (0, "x.o: one/x.c one/local.h\nx.o: two/x.c two/local.h\n"), r.stderr)


if __name__ == "__main__":
    ptmtest.main()
