"""Shared helpers for PTM's end-to-end tests (Python standard library only)."""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = None


def main():
    """Runs the unittest module that imported us, with --build DIR."""
    global BUILD
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    args, rest = parser.parse_known_args()
    BUILD = os.path.abspath(args.build)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


def build_path(*parts):
    return os.path.join(BUILD, *parts)


def ptmcc():
    return build_path("bin", "ptmcc")


def clean_env(**extra):
    """The environment without PTM_* settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}
    # No test program reads or writes the user's history file
    # (runtime/store.c) unless the test names one.
    env["PTM_HISTORY"] = "off"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def file_state(path):
    """(sha256, mtime_ns, size) of a file, or None when it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    st = os.stat(path)
    return (digest, st.st_mtime_ns, st.st_size)


def dir_state(path):
    """file_state of every file under path, by relative name."""
    state = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            state[os.path.relpath(full, path)] = file_state(full)
    return state


def read_trace(path):
    """The JSON objects of a PTM_TRACE file, one per line."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class TempDirTest(unittest.TestCase):
    """A test with a fresh directory in self.dir."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ptm-e2e-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_cmd(self, argv, env=None, timeout=60, cwd=None, input=None):
        return subprocess.run(argv, env=env or clean_env(), cwd=cwd or self.dir, input=input,
                              capture_output=True, text=True, timeout=timeout)

    def compile(self, source, out, *flags):
        """Builds source into out with ptmcc, -Wall -Wextra -Werror."""
        r = self.run_cmd([ptmcc(), "-O2", "-g", "-Wall", "-Wextra", "-Werror", *flags,
                          source, "-o", out])
        self.assertEqual(r.returncode, 0, "ptmcc failed:\n" + r.stderr)
        return out
