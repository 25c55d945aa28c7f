"""End to end: an strace -f of a fork mirror shows no write-class system call
outside the event channel.

A program built by ptmcc runs a fork mirror that makes write-class calls
ptmcc cannot see (through pointers) next to one it can (a stdio shim).  Under
`strace -ff` each process gets its own log; the helper that forks the mirror
makes no write-class call at all.  In the mirror's log:
  - before the seccomp filter is attached (the sandbox setup), the only
    write-class calls are opens that give inherited descriptors private
    descriptions (/dev/null in the same access mode, /proc/self/fd/N
    read-only; never O_CREAT or O_TRUNC) and the read-only opens of
    /proc/self/{fd,maps};
  - after it, every write-class call is trapped: strace prints the call
    (its "result" is the untouched syscall number, because the call never
    ran) and then "--- SIGSYS {... si_code=SYS_SECCOMP ...}" for it; the
    mirror saw EPERM (the program prints how many calls succeeded: 0).
The files are unchanged and the trace records each denial as an event.
Skipped (exit 77) when strace is not installed.
"""
import os
import re
import shutil
import sys

import ptmtest
from ptmtest import clean_env, dir_state, read_trace

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")

# What strace is asked to show: the write-class calls of the deny table that
# a mirror can plausibly make, and execve to tell the host's log apart.
WRITE_CLASS = ["write", "pwrite64", "writev", "pwritev", "pwritev2", "sendfile", "splice",
               "copy_file_range", "fallocate", "truncate", "ftruncate", "fsync", "fdatasync",
               "open", "openat", "openat2", "creat", "unlink", "unlinkat", "rename",
               "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
               "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown",
               "fchownat", "utimensat", "setxattr", "fsetxattr", "removexattr",
               "sendto", "sendmsg", "connect", "msync"]
OPENS = {"open", "openat", "openat2", "creat"}
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
# The calls the program makes through pointers, each to be trapped once.
EXPECTED_DENIALS = {"write", "truncate", "rename", "mkdir", "openat", "unlink"}

CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(.*)$")
SIGSYS = re.compile(r"^--- SIGSYS \{.*si_code=SYS_SECCOMP.*si_syscall=(?:__NR_)?(\w+)")


def opens_for_writing(name, args):
    if name == "creat":
        return True
    return any(flag in args for flag in WRITE_FLAGS)


class Strace(ptmtest.TempDirTest):
    def test_no_write_class_call_leaves_a_fork_mirror(self):
        src = os.path.join(self.dir, "strace_target.c")
        shutil.copy(os.path.join(PROGRAMS, "strace_target.c"), src)
        exe = self.compile(src, os.path.join(self.dir, "strace_target"))
        data = os.path.join(self.dir, "data")
        os.mkdir(data)
        with open(os.path.join(data, "data.txt"), "w") as f:
            f.write("data\n")
        with open(os.path.join(data, "log.txt"), "w") as f:
            f.write("log\n")
        before = dir_state(data)
        logs = os.path.join(self.dir, "strace")
        os.mkdir(logs)
        trace = os.path.join(self.dir, "trace.jsonl")
        r = self.run_cmd(["strace", "-ff", "-qq", "-o", os.path.join(logs, "t"),
                          "-e", "trace=" + ",".join(WRITE_CLASS + ["execve", "seccomp"]),
                          "-e", "signal=SIGSYS", exe, data],
                         env=clean_env(PTM_DRY_RUN=1, PTM_TRACE=trace,
                                       PTM_MIRROR_DEADLINE_MS=30000,
                                       # a sanitizer build: LeakSanitizer cannot run
                                       # under ptrace
                                       ASAN_OPTIONS="detect_leaks=0"), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "rc 0\n", "a write-class call succeeded in the mirror")
        self.assertEqual(dir_state(data), before)

        per_pid = {}
        for name in os.listdir(logs):
            with open(os.path.join(logs, name)) as f:
                per_pid[name] = f.read().splitlines()
        hosts = [n for n, lines in per_pid.items() if lines and lines[0].startswith("execve(")]
        self.assertEqual(len(hosts), 1, sorted(per_pid))
        # The mirror is forked by a helper that shares the host's memory
        # (runtime/exec_fork.c): the helper makes none of these calls.
        others = [n for n in per_pid if n not in hosts]
        mirrors = [n for n in others if any(l.startswith("seccomp(") for l in per_pid[n])]
        self.assertEqual(len(mirrors), 1, "one fork mirror: %s" % sorted(per_pid))
        for n in others:
            if n not in mirrors:
                self.assertEqual(per_pid[n], [], "the fork helper made a write-class call")
        lines = per_pid[mirrors[0]]

        denied = set()
        filtered = False
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            m = CALL.match(line)
            if not m:
                continue
            name, args, result = m.groups()
            if name == "seccomp":
                self.assertFalse(filtered)
                self.assertTrue(result.startswith("0"), line)
                filtered = True
                continue
            if name in OPENS and not opens_for_writing(name, args):
                continue                        # reading is allowed
            if not filtered:
                # Sandbox setup: private descriptions for inherited descriptors.
                self.assertIn(name, OPENS, "setup made a write-class call: " + line)
                # a file is reopened read-only: only /dev/null may be writable
                self.assertRegex(args, r'"/dev/null"', line)
                self.assertNotRegex(args, r"O_CREAT|O_TRUNC", line)
                continue
            # After the filter: trapped, never run.
            nxt = lines[i] if i < len(lines) else ""
            s = SIGSYS.match(nxt)
            self.assertIsNotNone(s, "not trapped: %s\n  next: %s" % (line, nxt))
            self.assertEqual(s.group(1), name, line)
            denied.add(name)
            i += 1
        self.assertTrue(filtered, "the mirror never attached its filter")
        self.assertEqual(denied, EXPECTED_DENIALS)

        t = read_trace(trace)
        self.assertEqual(t[0]["mirror_status"], "denied")
        self.assertEqual({e["call"] for e in t[0]["events"] if e.get("kind") == "denied"},
                         EXPECTED_DENIALS)


if __name__ == "__main__":
    if not shutil.which("strace"):
        print("strace is not installed: skipped")
        sys.exit(77)
    ptmtest.main()
