"""End to end: a hostile fork mirror changes nothing outside its process.

programs/hostile.c holds one attack per escape class: writes through the
host's descriptors, shared mappings made writable (mmap, mprotect, mremap,
madvise), files by name, ioctls on files, terminals and interfaces, the
host's terminal, the host's descriptors (/proc/<pid>/fd, pidfd_getfd), its
priorities, process group and session, signals, its memory (ptrace,
process_vm_*, shared futexes), IPC objects and sockets, spawning.  Each runs
with PTM_DRY_RUN=1 (only the mirror makes the calls), through the
transaction with `mirror = fork` and through the one with the default
executor choice, and under PTM_MIRROR=fork.  Each run checks the world
before and after and fails on any change:
  - every file of the victim directory: sha256, size, mode, owner, times,
    links, extended attributes, inode flags; no file appears or goes;
  - the host's state as it prints it before and after the transaction:
    priorities of itself and of its process group, I/O priority, process
    group, session, the offset of its read-write descriptor, its pending
    stdin, signals it received, a global the mirror tries to write, a
    shared futex, its terminal's modes, its descriptor limit;
  - the host still reads all 15 bytes of its stdin;
  - the machine's IPC objects (/proc/sysvipc, /dev/shm, /dev/mqueue) and
    the loopback interface's flags.
The trace must show a fork mirror whose calls were denied (an inconclusive
observation), never a crash.  (The mirror's result, which a dry run
returns, counts the calls that reported success: a shim's simulated write
does, and changes nothing.)  The terminal
attack also runs on a pseudo-terminal that is the host's controlling
terminal, with 15 bytes of input pending.
"""
import array
import fcntl
import os
import pty
import select
import shutil
import stat
import subprocess
import tempfile
import termios
import unittest

import ptmtest
from ptmtest import clean_env, file_state, read_trace

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
ATTACKS = ["write_fd", "mmap_writable", "by_name", "ioctls", "terminal", "host_fds", "groups",
           "signals", "memory", "ipc", "spawn"]
INPUT = b"fifteen bytes!\n"
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_APPEND_FL = 0x20
FS_IMMUTABLE_FL = 0x10


def inode_flags(path):
    """The file's FS_IOC_GETFLAGS, or None where the file system has none."""
    buf = array.array("l", [0])
    try:
        with open(path, "rb") as f:
            fcntl.ioctl(f.fileno(), FS_IOC_GETFLAGS, buf, True)
    except OSError:
        return None
    return buf[0]


def file_world(path):
    st = os.lstat(path)
    xattrs = sorted(os.listxattr(path, follow_symlinks=False))
    return (file_state(path) if stat.S_ISREG(st.st_mode) else None, st.st_mode, st.st_uid,
            st.st_gid, st.st_size, st.st_nlink, st.st_mtime_ns, st.st_ctime_ns, xattrs,
            inode_flags(path) if stat.S_ISREG(st.st_mode) else None)


IPC_KEYS = {str(0x70746d01), str(0x70746d02), str(0x70746d03)}


def listing(path):
    """The attack's names in a directory (other tests may run alongside)."""
    try:
        return sorted(n for n in os.listdir(path) if n.startswith("ptm-hostile"))
    except OSError:
        return None


def machine_world():
    """The attack's IPC objects and the loopback interface."""
    state = {}
    for kind in ("shm", "msg", "sem"):
        try:
            with open("/proc/sysvipc/" + kind) as f:
                state[kind] = [line for line in f.read().splitlines()[1:]
                               if line.split()[0] in IPC_KEYS]
        except OSError:
            state[kind] = None
    state["dev_shm"] = listing("/dev/shm")
    state["mqueue"] = listing("/dev/mqueue")
    try:
        with open("/sys/class/net/lo/flags") as f:
            state["lo"] = f.read()
    except OSError:
        state["lo"] = None
    return state


class Hostile(ptmtest.TempDirTest):
    exe = None
    build_dir = None

    @classmethod
    def setUpClass(cls):
        cls.build_dir = tempfile.mkdtemp(prefix="ptm-hostile-")
        src = os.path.join(cls.build_dir, "hostile.c")
        shutil.copy(os.path.join(PROGRAMS, "hostile.c"), src)
        out = os.path.join(cls.build_dir, "hostile")
        r = subprocess.run([ptmtest.ptmcc(), "-O2", "-g", "-Wall", "-Wextra", "-Werror", src,
                            "-o", out], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("ptmcc failed:\n" + r.stderr)
        cls.exe = out

    def tearDown(self):
        # An attack that got through may have left a file append-only or
        # immutable, which no one could then remove.
        for root, _, files in os.walk(self.dir):
            for name in files:
                flags = inode_flags(os.path.join(root, name))
                if flags and flags & (FS_APPEND_FL | FS_IMMUTABLE_FL):
                    buf = array.array("l", [flags & ~(FS_APPEND_FL | FS_IMMUTABLE_FL)])
                    try:
                        with open(os.path.join(root, name), "rb") as f:
                            fcntl.ioctl(f.fileno(), FS_IOC_SETFLAGS, buf)
                    except OSError:
                        pass
        super().tearDown()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.build_dir, ignore_errors=True)

    def victims(self):
        victims = tempfile.mkdtemp(prefix="victims-", dir=self.dir)
        with open(os.path.join(victims, "victim"), "wb") as f:
            f.write(b"0123456789" * 820)      # two pages and some
        with open(os.path.join(victims, "log"), "wb") as f:
            f.write(b"log\n")
        return victims

    def world(self, victims):
        return {name: file_world(os.path.join(victims, name)) for name in os.listdir(victims)}

    def check_run(self, attack, stdout, trace, victims, before, machine):
        self.assertEqual(self.world(victims), before, attack + ": the victim files changed")
        self.assertEqual(machine_world(), machine, attack + ": the machine's IPC or lo changed")
        lines = stdout.splitlines()
        self.assertEqual(len(lines), 3, stdout)
        self.assertTrue(lines[0].startswith("before ") and lines[1].startswith("after "), stdout)
        self.assertEqual(lines[1].split()[1:], lines[0].split()[1:],
                         attack + ": the host's state changed")
        self.assertRegex(lines[2], r"^signals=0 stdin=15 got=\d+$", attack)
        t = read_trace(trace)
        self.assertEqual(len(t), 1, attack)
        self.assertEqual(t[0]["mirror"], "fork", attack)
        self.assertTrue(t[0]["dry_run"], attack)
        # spawn: glibc blocks every signal around clone, so a denial there
        # can end the mirror instead of failing the call: a crash, but still
        # nothing was spawned.
        allowed = ("denied", "returned", "crashed") if attack == "spawn" else ("denied", "returned")
        self.assertIn(t[0]["mirror_status"], allowed, attack)
        return t[0]

    def attack(self, attack, auto=False, **env):
        victims = self.victims()
        trace = os.path.join(self.dir, "trace.jsonl")
        if os.path.exists(trace):
            os.unlink(trace)
        before, machine = self.world(victims), machine_world()
        argv = [self.exe, attack, victims] + (["auto"] if auto else [])
        # Its stdin: a pipe holding the 15 bytes before it starts.  A
        # session of its own: its process group is itself alone.
        rd, wr = os.pipe()
        os.write(wr, INPUT)
        os.close(wr)
        try:
            r = subprocess.run(argv, stdin=rd, capture_output=True, timeout=60, cwd=self.dir,
                               start_new_session=True,
                               env=clean_env(PTM_DRY_RUN=1, PTM_TRACE=trace, **env))
        finally:
            os.close(rd)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return self.check_run(attack, r.stdout.decode(), trace, victims, before, machine)

    def test_every_attack_is_denied_under_fork(self):
        for attack in ATTACKS:
            with self.subTest(attack=attack):
                t = self.attack(attack)
                if attack not in ("terminal", "spawn"):
                    self.assertEqual(t["mirror_status"], "denied", attack)
                    denied = [e for e in t["events"] if e["kind"] == "denied"]
                    self.assertTrue(denied, attack)
                    self.assertTrue(all(e["errno"] == 1 for e in denied), attack)

    def test_every_attack_is_denied_under_the_default_choice(self):
        for attack in ATTACKS:
            with self.subTest(attack=attack):
                self.attack(attack, auto=True)

    def test_every_attack_is_denied_under_ptm_mirror_fork(self):
        for attack in ATTACKS:
            with self.subTest(attack=attack):
                self.attack(attack, auto=True, PTM_MIRROR="fork")

    def run_on_terminal(self, attack, auto):
        """The attack with a pseudo-terminal as the host's controlling
        terminal and stdin, 15 bytes of input pending on it."""
        victims = self.victims()
        trace = os.path.join(self.dir, "trace.jsonl")
        if os.path.exists(trace):
            os.unlink(trace)
        master, slave = pty.openpty()
        try:
            os.write(master, INPUT)
            modes = termios.tcgetattr(slave)
            size = fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8)
            before, machine = self.world(victims), machine_world()

            def controlling_terminal():
                os.setsid()
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)

            argv = [self.exe, attack, victims] + (["auto"] if auto else [])
            p = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 cwd=self.dir, preexec_fn=controlling_terminal,
                                 env=clean_env(PTM_DRY_RUN=1, PTM_TRACE=trace))
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err.decode())
            self.assertEqual(termios.tcgetattr(slave), modes, attack + ": the terminal's modes")
            self.assertEqual(fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8), size)
            left = array.array("i", [0])
            fcntl.ioctl(slave, termios.FIONREAD, left, True)
            self.assertEqual(left[0], 0, attack + ": input was injected")
            self.assertIn(" tty=1 ", out.decode())
            return self.check_run(attack, out.decode(), trace, victims, before, machine)
        finally:
            while select.select([master], [], [], 0)[0]:
                try:
                    if not os.read(master, 4096):
                        break
                except OSError:
                    break
            os.close(master)
            os.close(slave)

    def test_the_hosts_terminal_is_out_of_reach(self):
        for attack in ("terminal", "host_fds", "groups", "signals"):
            for auto in (False, True):
                with self.subTest(attack=attack, auto=auto):
                    self.run_on_terminal(attack, auto)


if __name__ == "__main__":
    ptmtest.main()
