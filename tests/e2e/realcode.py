"""Real code from Debian's sources, for issue 12's acceptance test
(tests/e2e/test_lua.py), zlib's and SQLite's (test_zlib.py,
test_sqlite.py) and their measurements (bench/real/).

Lua 5.4.4, zlib 1.2.13 and SQLite 3.40.1 are fetched from deb.debian.org at
run time, never kept in the repository: the tarballs are cached in the
build directory (BUILD/realcode/) and checked against the SHA-256 that
Debian's bookworm Sources index (SQLite: its bookworm .dsc,
3.40.1-2+deb12u2) gives for them (recorded below).  SQLite's amalgamation
(sqlite3.c, shell.c) is made from its source tree by its own `./configure
&& make sqlite3.c shell.c` (which needs tclsh), once, into the cache.  Lua is annotated at run time
by annotate_lua(): it inserts `#include <ptm.h>`, an alternative path and a
PTM_TRANSACTION(...) line above g_write (what io.write and f:write run) and
os_rename; Lua's own text is not in the repository, nor a patch of it.

Python standard library only.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

DEBIAN = "http://deb.debian.org/debian/pool/main"

# name: (URL, SHA-256 and size from bookworm's main/source/Sources.xz, the
# tarball's top directory).
SOURCES = {
    "lua": (DEBIAN + "/l/lua5.4/lua5.4_5.4.4.orig.tar.gz",
            "164c7849653b80ae67bec4b7473b884bf5cc8d2dca05653475ec2ed27b9ebf61", 360876,
            "lua-5.4.4"),
    "zlib": (DEBIAN + "/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2",
             "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1", 1239825,
             "zlib-1.2.13.dfsg"),
    "sqlite": (DEBIAN + "/s/sqlite3/sqlite3_3.40.1.orig.tar.xz",
               "aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655", 8019048,
               "sqlite3-3.40.1"),
}

# What SQLite's amalgamation is made of, kept in the cache.
SQLITE_AMALGAMATION = ("sqlite3.c", "sqlite3.h", "sqlite3ext.h", "shell.c")

# The exit code that makes ctest report SKIP (SKIP_RETURN_CODE).
SKIP = 77


class Unavailable(Exception):
    """The network (or Debian's mirror) cannot be reached: skip, not pass."""


def cache_dir(build):
    path = os.path.join(build, "realcode")
    os.makedirs(path, exist_ok=True)
    return path


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name, build, timeout=60):
    """The path of the verified tarball of `name`, downloaded into the cache
    unless a verified copy is there.  Raises Unavailable when it cannot be
    downloaded, RuntimeError when what was downloaded is not Debian's file."""
    url, digest, size, _ = SOURCES[name]
    path = os.path.join(cache_dir(build), os.path.basename(url))
    if os.path.exists(path) and sha256_of(path) == digest:
        return path
    # A name of its own, replaced into place: runs at once do not mix.
    fd, part = tempfile.mkstemp(prefix=os.path.basename(url) + ".", dir=cache_dir(build))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError) as e:
        if os.path.exists(part):
            os.unlink(part)
        raise Unavailable(f"cannot download {url}: {e}") from e
    got = sha256_of(part)
    if got != digest or os.path.getsize(part) != size:
        os.unlink(part)
        raise RuntimeError(f"{url}: sha256 {got}; Debian's Sources index says {digest}"
                           f" ({size} bytes)")
    os.replace(part, path)
    return path


def unpack(name, build, dest):
    """Unpacks `name`'s tarball into dest; returns its source directory."""
    tarball = fetch(name, build)
    with tarfile.open(tarball) as t:
        t.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(dest)
    return os.path.abspath(os.path.join(dest, SOURCES[name][3]))


def sqlite_amalgamation(build):
    """The directory of SQLite's amalgamation (SQLITE_AMALGAMATION), made
    from the verified tarball by its own configure and make with clang-19
    unless the cache has it.  Raises Unavailable when the tarball cannot be
    downloaded or tclsh (which makes the amalgamation) is missing."""
    dest = os.path.join(cache_dir(build), SOURCES["sqlite"][3] + "-amalgamation")
    if all(os.path.exists(os.path.join(dest, f)) for f in SQLITE_AMALGAMATION):
        return dest
    if not shutil.which("tclsh"):
        raise Unavailable("tclsh is not installed: SQLite's amalgamation cannot be made")
    work = tempfile.mkdtemp(prefix="sqlite-make-", dir=cache_dir(build))
    try:
        src = unpack("sqlite", build, work)
        obj = os.path.join(work, "obj")
        os.makedirs(obj)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}
        env.update(CC="clang-19", CFLAGS="-O1")
        run_timed([os.path.join(src, "configure")], obj, env=env)
        run_timed(["make", "sqlite3.c", "shell.c"], obj, env=env)
        made = os.path.join(work, "amalgamation")
        os.makedirs(made)
        for f in SQLITE_AMALGAMATION:
            shutil.copy(os.path.join(obj, f), made)
        # Whole or not at all: a run at the same time made it too.
        try:
            os.rename(made, dest)
        except OSError:
            if not os.path.exists(os.path.join(dest, "shell.c")):
                raise
    finally:
        shutil.rmtree(work, True)
    return dest


# What annotate_sqlite inserts above sqlite3_exec's definition in the
# amalgamation: its mirror is the clone of sqlite3_exec, which reaches
# SQLite's parser, VDBE, pager and VFS clones; SQLite's API calls it makes
# on the way are the runtime's SQLite shims (the overlay).
SQLITE_EXEC_TX = """\
#include <ptm.h>
PTM_TRANSACTION(.transaction_id = "sqlite3.exec", .success_criteria = return == SQLITE_OK)
"""
SQLITE_EXEC_LINE = ("SQLITE_API int sqlite3_exec(\n"
                    "  sqlite3 *db,                /* The database on which the SQL executes */")


def annotate_sqlite(amal, dest):
    """Writes amal's sqlite3.c with SQLITE_EXEC_TX above sqlite3_exec into
    dest (a directory); returns its path.  Raises RuntimeError when the
    definition is not found once (another SQLite release)."""
    with open(os.path.join(amal, "sqlite3.c")) as f:
        src = f.read()
    if src.count(SQLITE_EXEC_LINE) != 1:
        raise RuntimeError(f"sqlite3.c: sqlite3_exec's definition found"
                           f" {src.count(SQLITE_EXEC_LINE)} times, not once")
    path = os.path.join(dest, "sqlite3.c")
    with open(path, "w") as f:
        f.write(src.replace(SQLITE_EXEC_LINE, SQLITE_EXEC_TX + SQLITE_EXEC_LINE))
    return path


# What annotate_lua inserts above g_write.  g_write returns the number of
# results it pushed: 1 (the file) when every write succeeded, 3 (nil,
# message, errno) from luaL_fileresult when one failed.  No retry (the
# default): a retried g_write would write again what went out.
G_WRITE_TX = """\
#include <ptm.h>
PTM_TRANSACTION(.transaction_id = "lua.io.write", .success_criteria = return == 1,
                .mirror_deadline = 500 ms)
"""

# What annotate_lua inserts above os_rename: its alternative is mv's answer
# to EXDEV, a copy to the new name and an unlink of the old one, reporting
# as os.rename does (true, or nil, strerror, errno), so that a diverted
# call (its mirror saw ENOENT, a validation signal) answers as the primary
# would have.
OS_RENAME_TX = """\
#include <ptm.h>
static int os_rename_by_copy (lua_State *L) {
  const char *fromname = luaL_checkstring(L, 1);
  const char *toname = luaL_checkstring(L, 2);
  char buf[8192];
  size_t n;
  int ok = 0;
  FILE *in = fopen(fromname, "rb");
  FILE *out = in ? fopen(toname, "wb") : NULL;
  if (out) {
    ok = 1;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
      ok = fwrite(buf, 1, n, out) == n;
    ok = !ferror(in) && ok;
  }
  if (out && fclose(out) != 0)
    ok = 0;
  if (in)
    fclose(in);
  ok = ok && remove(fromname) == 0;
  return luaL_fileresult(L, ok, NULL);
}
PTM_TRANSACTION(.transaction_id = "lua.os.rename", .success_criteria = return == 1,
                .alternative_paths = { os_rename_by_copy })
"""

ANNOTATIONS = [
    ("src/liolib.c", "static int g_write (lua_State *L, FILE *f, int arg) {", G_WRITE_TX),
    ("src/loslib.c", "static int os_rename (lua_State *L) {", OS_RENAME_TX),
]


def annotate_lua(srcdir):
    """Inserts the transactions above g_write and os_rename of Lua's source
    tree at srcdir.  Raises RuntimeError when a function is not found once
    (another Lua release)."""
    for rel, line, text in ANNOTATIONS:
        path = os.path.join(srcdir, rel)
        with open(path) as f:
            src = f.read()
        if src.count(line) != 1:
            raise RuntimeError(f"{rel}: '{line}' found {src.count(line)} times, not once")
        with open(path, "w") as f:
            f.write(src.replace(line, text + line))


def run_timed(argv, cwd, env=None, log=None):
    """Runs argv; returns (wall seconds, CPU seconds of the children, output).
    Raises RuntimeError with the output when it fails."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if log:
        with open(log, "w") as f:
            f.write(r.stdout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {cwd} failed ({r.returncode}):\n{r.stdout[-4000:]}")
    return wall, cpu, r.stdout


def build_lua(srcdir, cc, cflags="-O2", env=None, jobs=1):
    """Builds Lua with its own makefile (`make linux`: no readline) and
    CC=cc.  cflags replace Lua's -O2 (its -Wall -Wextra stay).  Returns
    (wall s, CPU s, output); the binaries are src/lua, src/luac and
    src/liblua.a."""
    argv = ["make", f"-j{jobs}", "-C", os.path.join(srcdir, "src"), "linux",
            f"CC={cc} -std=gnu99",
            f"CFLAGS={cflags} -Wall -Wextra -DLUA_COMPAT_5_3 $(SYSCFLAGS) $(MYCFLAGS)"]
    return run_timed(argv, srcdir, env=env)


def build_zlib(srcdir, cc, cflags="-O2", env=None, jobs=1):
    """Configures (zlib's ./configure, not timed) and builds zlib with
    CC=cc and CFLAGS=cflags.  Returns (wall s, CPU s, output) of the make
    alone; the libraries are libz.a and libz.so.*."""
    e = dict(env or os.environ)
    e.update(CC=cc, CFLAGS=cflags)
    run_timed(["./configure"], srcdir, env=e)
    return run_timed(["make", f"-j{jobs}", "libz.a", "shared"], srcdir, env=e)


def main(name, label):
    """A test script's main: its sources fetched (or the script skipped,
    exit SKIP, saying why), then ptmtest's runner."""
    import ptmtest
    build = sys.argv[sys.argv.index("--build") + 1]
    try:
        fetch(name, os.path.abspath(build))
        if name == "sqlite":
            sqlite_amalgamation(os.path.abspath(build))
    except Unavailable as e:
        print(f"skipped: {label}'s sources are not at hand: {e}")
        sys.exit(SKIP)
    ptmtest.main()
