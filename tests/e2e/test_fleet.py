"""End to end: a fleet learns together (PTM_HISTORY=redis://, runtime/store_redis.c).

The program of test_history.py (a service that overruns its timeout; a
predicted timeout alone stays under the threshold, so each call runs the
primary, a labelled failure) runs as separate processes sharing one
redis-server started here on 127.0.0.1 (a free port, no persistence, a
temporary directory).  The second process starts from the first's
outcomes and the third diverts at its first call; the counts are in the
server under the URL's prefix.  A server that is down, or stopped, or a
bad URL: the program runs as with PTM_HISTORY=off, says the problem once
on stderr, the trace's history_store says it, and a run's time stays
bounded.  Without redis-server the test is skipped (CI installs it).
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

import ptmtest
from ptmtest import clean_env, read_trace

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
HAVE_REDIS = shutil.which("redis-server") is not None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pings(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@unittest.skipUnless(HAVE_REDIS, "redis-server is not installed (scripts/install-deps.sh)")
class Fleet(ptmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        src = os.path.join(self.dir, "slow_service.c")
        shutil.copy(os.path.join(PROGRAMS, "slow_service.c"), src)
        self.exe = self.compile(src, os.path.join(self.dir, "slow_service"))
        self.server = None
        self.port = free_port()
        self.start_server()

    def tearDown(self):
        self.stop_server()
        super().tearDown()

    def start_server(self):
        self.server = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if pings(self.port):
                return
            time.sleep(0.025)
        self.fail("redis-server did not start on port %d" % self.port)

    def stop_server(self):
        if self.server:
            self.server.send_signal(signal.SIGCONT)
            self.server.kill()
            self.server.wait()
            self.server = None

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                           text=True, timeout=30)
        return r.stdout.strip()

    def url(self, prefix="fleet"):
        return "redis://127.0.0.1:%d/%s" % (self.port, prefix)

    def run_traced(self, n, name, history, **env):
        trace = os.path.join(self.dir, name + ".jsonl")
        t0 = time.monotonic()
        r = self.run_cmd([self.exe, str(n)],
                         env=clean_env(PTM_TRACE=trace, PTM_HISTORY=history, **env))
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        return r, read_trace(trace), took

    def test_processes_learn_together(self):
        # A first use waits up to 1 s here, not 50 ms: a loaded machine (or a
        # sanitizer's build) must not make a process start cold.
        wait = {"PTM_HISTORY_WAIT_MS": 1000}
        r, t1, _ = self.run_traced(5, "p1", self.url(), **wait)
        self.assertEqual(r.stderr, "", "nothing said: the server works")
        self.assertEqual([x["decision"] for x in t1], ["primary"] * 5)
        self.assertTrue(all(x["history_store"] is None for x in t1), t1[0])
        self.assertEqual(self.cli("HGET", "fleet:history.slow", "calls"), "5")

        # Another process starts from the first one's outcomes.
        r, t2, _ = self.run_traced(5, "p2", self.url(), **wait)
        self.assertEqual(r.stderr, "")
        self.assertGreaterEqual(max(x["model"]["n"] for x in t2), 5,
                                [(x["model"], x["signals"]) for x in t2])
        self.assertEqual(self.cli("HGET", "fleet:history.slow", "calls"), "10")

        # A third has enough of them: it diverts at once, and says why.
        r, t3, _ = self.run_traced(3, "p3", self.url(), **wait)
        first = t3[0]
        self.assertEqual(first["decision"], "divert", first)
        self.assertGreaterEqual(first["model"]["n"], 10)
        self.assertTrue(any(s.startswith("model: ") for s in first["reasons"]), first["reasons"])
        self.assertIn("cached 0", r.stdout)

        # Another prefix is another fleet: cold.
        r, t4, _ = self.run_traced(1, "p4", self.url("other"))
        self.assertEqual(t4[0]["model"]["n"], 0)
        self.assertEqual(t4[0]["decision"], "primary")

    def test_a_server_down_is_said_once_and_the_program_runs(self):
        self.stop_server()
        r, t, took = self.run_traced(5, "down", self.url())
        self.assertEqual([x["decision"] for x in t], ["primary"] * 5)
        self.assertEqual(r.stderr.count("ptm: "), 1, r.stderr)
        self.assertIn("redis://127.0.0.1:%d/fleet" % self.port, r.stderr)
        self.assertIn("tried again later", r.stderr)
        self.assertIsNotNone(t[0]["history_store"])
        self.assertIn("redis://", t[0]["history_store"])
        # 5 calls of 20 ms and their mirrors; generous for a loaded machine.
        self.assertLess(took, 10.0)

        # The server is back: the next process is heard again.
        self.start_server()
        r, t, _ = self.run_traced(2, "back", self.url(), PTM_HISTORY_WAIT_MS=1000)
        self.assertEqual(r.stderr, "")
        self.assertTrue(all(x["history_store"] is None for x in t), t[0]["history_store"])
        self.assertEqual(self.cli("HGET", "fleet:history.slow", "calls"), "2")

    def test_a_stopped_server_delays_a_run_a_bounded_time(self):
        self.server.send_signal(signal.SIGSTOP)
        r, t, took = self.run_traced(3, "stopped", self.url())
        self.assertEqual([x["decision"] for x in t], ["primary"] * 3)
        self.assertIn("redis://", r.stderr)
        # A first use waits at most 50 ms, the exit's push 250 ms.
        self.assertLess(took, 10.0)

    def test_a_bad_url_keeps_memory(self):
        r, t, _ = self.run_traced(2, "bad", "redis://user:secret@127.0.0.1:%d/x" % self.port)
        self.assertEqual([x["decision"] for x in t], ["primary"] * 2)
        self.assertEqual(r.stderr.count("ptm: "), 1, r.stderr)
        self.assertIn("a bad Redis URL", r.stderr)
        self.assertIn("a bad Redis URL", t[0]["history_store"])
        self.assertEqual(self.cli("DBSIZE"), "0")


if __name__ == "__main__":
    ptmtest.main()
