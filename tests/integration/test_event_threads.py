"""--event-threads: several event threads, each with its own epoll set and SO_REUSEPORT
listeners, pushing into the one ring. Everything the single event thread does must still
hold with four: many connections at once, keep-alive, the deadlines of parked connections,
the stats, the drain on SIGTERM (listeners closed in every thread, idle connections closed,
responses in flight finished, HTTP/2 GOAWAY, TLS close_notify), the Unix socket (thread 0's
alone), and the refusal of a bad value."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import test_freshness
import tlscerts
from wshelper import (
    SLOW,
    WEBSERVER,
    H2Client,
    Reader,
    Server,
    connect,
    file_digest,
    make_big_file,
    make_root,
    parse_responses,
    raw_request,
    read_head,
    recv_all,
    stream_body,
    port_refused,
    wait_until,
)

EVENT_THREADS = 4
HUGE_SIZE = 64 << 20

STATS = re.compile(r"webserver: stats: open=(?P<open>\d+) parked=(?P<parked>\d+) .*"
                   r"served=(?P<served>\d+) .*"
                   r"parked_per_event_thread=(?P<per_thread>\d+(?:/\d+)+)$")


class EventThreadsTestCase(unittest.TestCase):
    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")

    def start(self, *args, huge=False, **kwargs):
        root = make_root()
        self.addCleanup(shutil.rmtree, root, True)
        if huge:
            make_big_file(os.path.join(root, "huge.bin"), HUGE_SIZE)
        server = Server(root, ("--event-threads", str(EVENT_THREADS)) + args, tls=False, **kwargs)
        self.addCleanup(server.kill)
        return server

    def stats(self, server):
        """Sends SIGUSR1 and returns the match of the stats line it writes."""
        before = len(server.stderr_lines)
        server.proc.send_signal(signal.SIGUSR1)
        found = []

        def seen():
            for line in server.stderr_lines[before:]:
                m = STATS.match(line)
                if m:
                    found.append(m)
                    return True
            return False

        self.assertTrue(wait_until(seen, 5 * SLOW), server.stderr_lines[before:])
        return found[0]


class StartTest(EventThreadsTestCase):
    def test_threads_and_listeners(self):
        server = self.start()
        self.assertRegex(server.stderr_lines[0], r"\b%d event threads\b" % EVENT_THREADS)
        names = []
        for tid in os.listdir("/proc/%d/task" % server.pid):
            with open("/proc/%d/task/%s/comm" % (server.pid, tid)) as f:
                names.append(f.read().strip())
        self.assertEqual(sorted(n for n in names if n.startswith("ws-event-")),
                         ["ws-event-%d" % i for i in range(1, EVENT_THREADS)])
        # One listening socket per event thread, all on the same port (SO_REUSEPORT).
        listeners = 0
        port_hex = ":%04X" % server.port
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        fields = line.split()
                        if fields[1].endswith(port_hex) and fields[3] == "0A":  # LISTEN
                            listeners += 1
            except FileNotFoundError:
                pass
        self.assertEqual(listeners, EVENT_THREADS)
        server.stop_checked(self)

    def test_bad_values_are_refused(self):
        for value in ("0", "65", "-1", "x"):
            res = subprocess.run([WEBSERVER, "--event-threads", value], capture_output=True,
                                 text=True, timeout=10 * SLOW)
            self.assertEqual(res.returncode, 2, value)
            self.assertIn("invalid value '%s' for --event-threads: give 1 to 64" % value,
                          res.stderr)


class ManyConnectionsTest(EventThreadsTestCase):
    CONNECTIONS = 200
    ROUNDS = 3

    def test_many_keepalive_connections_spread_over_the_threads(self):
        server = self.start("--threads", "4", "--keepalive-timeout", "60")
        with open(os.path.join(server.root, "HelloWorld.html"), "rb") as f:
            hello = f.read()
        socks = [connect(server.port, timeout=10) for _ in range(self.CONNECTIONS)]
        self.addCleanup(lambda: [s.close() for s in socks])
        readers = [Reader(s) for s in socks]
        for _ in range(self.ROUNDS):
            for s in socks:
                s.sendall(raw_request("/HelloWorld.html"))
            for i, r in enumerate(readers):
                resp = r.read_response()
                self.assertEqual((resp.status, resp.body), (200, hello), "connection %d" % i)
        # Every connection is now parked, idle, in the loop that accepted it; the kernel
        # spread them over the four listeners.
        m = None

        def all_parked():
            nonlocal m
            m = self.stats(server)
            return int(m.group("parked")) == self.CONNECTIONS

        self.assertTrue(wait_until(all_parked, 5 * SLOW), m.group(0) if m else None)
        per_thread = [int(n) for n in m.group("per_thread").split("/")]
        self.assertEqual(len(per_thread), EVENT_THREADS)
        self.assertEqual(sum(per_thread), self.CONNECTIONS)
        self.assertTrue(all(n > 0 for n in per_thread), per_thread)
        self.assertEqual(int(m.group("served")), self.CONNECTIONS * self.ROUNDS)
        server.stop_checked(self)

    def test_concurrent_clients(self):
        # 16 client threads, 30 connections each, 5 requests per connection.
        server = self.start("--threads", "4")
        errors = []

        def client():
            try:
                for _ in range(30):
                    with connect(server.port, timeout=10 * SLOW) as s:
                        r = Reader(s)
                        for i in range(5):
                            s.sendall(raw_request("/HelloWorld.html", close=(i == 4)))
                            if r.read_response().status != 200:
                                errors.append("status")
            except Exception as e:  # recorded, asserted by the test's thread
                errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * SLOW)
        self.assertEqual(errors, [])
        self.assertEqual(int(self.stats(server).group("served")), 16 * 30 * 5)
        server.stop_checked(self)


class DeadlineTest(EventThreadsTestCase):
    def test_keepalive_timeout_closes_idle_connections_in_every_thread(self):
        server = self.start("--keepalive-timeout", "1")
        socks = []
        for _ in range(40):
            s = connect(server.port, timeout=10)
            s.sendall(raw_request("/HelloWorld.html"))
            self.assertEqual(Reader(s).read_response().status, 200)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        start = time.monotonic()
        for s in socks:
            data, end = recv_all(s, timeout=5 * SLOW)
            self.assertEqual((data, end), (b"", "eof"))
        self.assertLess(time.monotonic() - start, 3.0 * SLOW)
        self.assertEqual(int(self.stats(server).group("open")), 0)
        server.stop_checked(self)

    def test_header_timeout_answers_408(self):
        server = self.start("--header-timeout", "1", "--defer-accept", "0")
        socks = []
        for _ in range(12):
            s = connect(server.port, timeout=10)
            s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\n")  # never finished
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        for s in socks:
            data, end = recv_all(s, timeout=5 * SLOW)
            self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:60])
        server.stop_checked(self)


class DrainTest(EventThreadsTestCase):
    def test_sigterm_drains_every_thread(self):
        grace = 3.0 + 2.0 * SLOW
        server = self.start("--shutdown-grace", "%g" % grace, "--threads", "2", "--defer-accept",
                            "0", huge=True)
        huge_digest = file_digest(os.path.join(server.root, "huge.bin"))
        idle = []
        for i in range(24):
            s = connect(server.port, timeout=10)
            if i % 2:
                s.sendall(raw_request("/HelloWorld.html"))
                self.assertEqual(Reader(s).read_response().status, 200)
            idle.append(s)
        active = []
        for _ in range(6):
            s = connect(server.port, timeout=10)
            s.sendall(raw_request("/huge.bin"))
            head, rest = read_head(s)
            self.assertEqual(head.status, 200)
            active.append((s, rest))
        self.addCleanup(lambda: [s.close() for s in idle + [a[0] for a in active]])
        time.sleep(0.2)

        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        # Every event thread closed its listener: no connection gets through any of them.
        self.assertTrue(wait_until(lambda: all(port_refused(server.port) for _ in range(40)),
                                   2.0 * SLOW), "a listener still accepts after SIGTERM")
        # Idle connections, in whichever thread they were parked, are closed at once.
        for s in idle:
            data, end = recv_all(s, timeout=2 * SLOW)
            self.assertEqual(data, b"")
            self.assertIn(end, ("eof", "reset"))
        # Responses in flight finish.
        results = [None] * len(active)

        def reader(i, s, rest):
            results[i] = stream_body(s, rest, HUGE_SIZE)

        threads = [threading.Thread(target=reader, args=(i, s, rest))
                   for i, (s, rest) in enumerate(active)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * SLOW)
        for n, digest in results:
            self.assertEqual((n, digest), (HUGE_SIZE, huge_digest))
        rc = server.proc.wait(timeout=grace + 5 * SLOW)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - start, grace, "the drain waited for the grace period")
        server.stop_checked(self)

    def test_sigterm_sends_goaway_to_idle_http2_connections(self):
        server = self.start("--shutdown-grace", "20")
        clients = []
        for _ in range(12):
            c = H2Client(server.port, tls=False)
            self.addCleanup(c.close)
            self.assertEqual(c.request("/HelloWorld.html").status, 200)
            clients.append(c)
        server.proc.send_signal(signal.SIGTERM)
        for c in clients:
            self.assertTrue(c.wait_closed(5 * SLOW), "idle connection still open after SIGTERM")
            self.assertIsNotNone(c.goaway, "closed without GOAWAY")
            self.assertEqual((c.goaway.error_code, c.goaway.last_stream_id), (0, 1))
        self.assertEqual(server.proc.wait(timeout=20 * SLOW), 0)
        server.stop_checked(self)

    def test_sigterm_sends_close_notify_over_tls(self):
        root = make_root()
        self.addCleanup(shutil.rmtree, root, True)
        server = Server(root, ("--event-threads", str(EVENT_THREADS)), tls=True)
        self.addCleanup(server.kill)
        # A plain SSLSocket that does not suppress ragged EOFs: recv gives b"" only after a
        # close_notify, and raises SSLEOFError on a bare FIN.
        ctx = tlscerts.default_pki().client_context()
        ctx.set_alpn_protocols(["http/1.1"])
        socks = []
        for _ in range(12):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10 * SLOW)
            s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
            s.sendall(raw_request("/HelloWorld.html"))
            self.assertEqual(Reader(s).read_response().status, 200)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        server.proc.send_signal(signal.SIGTERM)
        for s in socks:
            self.assertEqual(s.recv(1024), b"")
        self.assertEqual(server.stop(), 0)
        self.assertEqual(server.foreign_stderr(), [])


class OverloadTest(EventThreadsTestCase):
    def test_full_ring_answers_503_from_every_thread(self):
        server = self.start("--threads", "1", "--queue", "1")
        socks = []
        # Stopped, so that every connection waits at once when it resumes, in all four
        # listeners' accept queues.
        os.kill(server.pid, signal.SIGSTOP)
        try:
            for _ in range(200):
                s = connect(server.port, timeout=10)
                s.sendall(raw_request("/HelloWorld.html", close=True))
                socks.append(s)
        finally:
            os.kill(server.pid, signal.SIGCONT)
        self.addCleanup(lambda: [s.close() for s in socks])
        counts = {200: 0, 503: 0}
        for i, s in enumerate(socks):
            data, end = recv_all(s, timeout=10 * SLOW)
            self.assertEqual(end, "eof", "connection %d" % i)
            rs, rest = parse_responses(data)
            self.assertEqual((len(rs), rest), (1, b""), "connection %d: %r" % (i, data[:200]))
            self.assertIn(rs[0].status, (200, 503), "connection %d" % i)
            counts[rs[0].status] += 1
            if rs[0].status == 503:
                self.assertRegex(rs[0].header("retry-after") or "", r"^\d+$")
        self.assertGreaterEqual(counts[200], 1, counts)
        self.assertGreaterEqual(counts[503], 1, counts)
        self.assertEqual(int(self.stats(server).group("open")), 0)
        server.stop_checked(self)


class FreshnessOverEventThreadsTest(test_freshness.FreshnessTest):
    """The freshness suite with four event threads: each one syncs the watch (its inotify
    descriptor is in every epoll set) before it pushes the connections it saw readable, so a
    change made before a request was sent is never served stale, whichever thread parked
    the connection. More kept-alive connections than the suite's own 4, so every thread has
    some."""

    server_args = test_freshness.FreshnessTest.server_args + (
        "--event-threads", str(EVENT_THREADS))

    def clients(self, n=4 * EVENT_THREADS):
        return super().clients(n)


class UnixSocketTest(EventThreadsTestCase):
    def test_unix_socket_is_served_by_thread_0(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix="ws-evt-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "ws.sock")
        server = self.start("--listen", "unix:%s" % path)
        for _ in range(20):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10 * SLOW)
                s.connect(path)
                s.sendall(raw_request("/HelloWorld.html", close=True))
                data, end = recv_all(s)
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:40])
        server.stop_checked(self)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
