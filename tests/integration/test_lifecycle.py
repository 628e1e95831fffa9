"""The process: start-up line, signals and graceful shutdown, access log, command-line errors."""

import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from wshelper import (
    ACCESS_LOG_DEFAULT,
    SLOW,
    WEBSERVER,
    Reader,
    Server,
    ServerTestCase,
    connect,
    file_digest,
    get,
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

HUGE_SIZE = 64 << 20

CLF = re.compile(
    r'^(?P<host>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')


def require_binary(test):
    if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
        test.skipTest("WEBSERVER is not set to the built binary")


class ProcessTestCase(unittest.TestCase):
    """Tests that start (and stop) their own server."""

    def setUp(self):
        require_binary(self)

    def start(self, args=(), huge=False, **kwargs):
        root = make_root()
        self.addCleanup(shutil.rmtree, root, True)
        if huge:
            make_big_file(os.path.join(root, "huge.bin"), HUGE_SIZE)
        server = Server(root, args, **kwargs)
        self.addCleanup(server.kill)
        return server

    def stalled_download(self, server, path="/huge.bin"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10 * SLOW)
        s.connect(("127.0.0.1", server.port))
        s.sendall(raw_request(path))
        self.addCleanup(s.close)
        return s

    def timed_stop(self, server, sig=signal.SIGTERM):
        start = time.monotonic()
        server.stop_checked(self, sig)
        return time.monotonic() - start


class SignalTest(ProcessTestCase):
    def test_sigterm_when_idle_exits_0(self):
        server = self.start()
        self.assertEqual(get(server.port, "/HelloWorld.html").status, 200)
        elapsed = self.timed_stop(server, signal.SIGTERM)
        self.assertLess(elapsed, 2.0 * SLOW)

    def test_sigint_exits_0(self):
        server = self.start()
        self.assertEqual(get(server.port, "/").status, 200)
        elapsed = self.timed_stop(server, signal.SIGINT)
        self.assertLess(elapsed, 2.0 * SLOW)

    def test_sigterm_closes_idle_connections_at_once(self):
        # --defer-accept 0: connections that never spoke are ours too, not the kernel's.
        server = self.start(("--shutdown-grace", "%g" % (5 * SLOW), "--defer-accept", "0"))
        idle = []
        for i in range(10):
            s = connect(server.port)
            if i % 2:
                s.sendall(raw_request("/HelloWorld.html"))
                self.assertEqual(Reader(s).read_response().status, 200)
            idle.append(s)
        try:
            elapsed = self.timed_stop(server)
            # Idle connections do not hold the shutdown for the grace period.
            self.assertLess(elapsed, 2.0 * SLOW)
            for s in idle:
                data, end = recv_all(s, timeout=2)
                self.assertIn(end, ("eof", "reset"))
                self.assertEqual(data, b"")
        finally:
            for s in idle:
                s.close()

    def test_sigterm_right_after_a_connect_exits_promptly(self):
        # A connection accepted just before the signal holds no response in flight,
        # so it must not hold the shutdown for the grace period either. Whether the
        # server sees it before or after starting to drain is a matter of timing,
        # so try a few times.
        for attempt in range(4):
            server = self.start(("--shutdown-grace", "%g" % (3 * SLOW)))
            with connect(server.port) as s:
                elapsed = self.timed_stop(server)
                data, end = recv_all(s, timeout=1)
            self.assertEqual(data, b"")
            self.assertLess(elapsed, 1.0 * SLOW, "an idle new connection held the shutdown (attempt %d)" % attempt)

    def start_active_downloads(self, server, count):
        """Downloads of huge.bin that have received their head and then paused."""
        active = []
        for _ in range(count):
            s = connect(server.port, timeout=10)
            self.addCleanup(s.close)
            s.sendall(raw_request("/huge.bin"))
            head, rest = read_head(s)
            self.assertEqual(head.status, 200)
            active.append((s, rest))
        return active

    def finish_downloads(self, active):
        """Reads every download to its end at once, in threads.

        Returns a list of (bytes, digest, seconds from body end to close, end).
        """
        results = [None] * len(active)

        def reader(i, s, rest):
            n, digest = stream_body(s, rest, HUGE_SIZE)
            t = time.monotonic()
            data, end = recv_all(s, timeout=15)
            results[i] = (n, digest, time.monotonic() - t, end if not data else "extra bytes")

        threads = [threading.Thread(target=reader, args=(i, s, rest)) for i, (s, rest) in enumerate(active)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30 * SLOW)
        return results

    def test_sigterm_during_downloads(self):
        grace = 2.0
        server = self.start(("--shutdown-grace", "%g" % grace, "--threads", "2"), huge=True)
        huge_digest = file_digest(os.path.join(server.root, "huge.bin"))
        stalled = [self.stalled_download(server) for _ in range(3)]
        active = self.start_active_downloads(server, 2)
        time.sleep(0.2)

        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        # New connections are refused once the listener is closed.
        self.assertTrue(wait_until(lambda: port_refused(server.port), 1.0),
                        "still accepting connections after SIGTERM")
        # Responses in flight are finished: the active readers get every byte.
        for n, digest, _, end in self.finish_downloads(active):
            self.assertEqual(n, HUGE_SIZE, "download cut short by SIGTERM")
            self.assertEqual(digest, huge_digest)
            self.assertIn(end, ("eof", "reset"))

        try:
            rc = server.proc.wait(timeout=grace + 3 * SLOW)
        except subprocess.TimeoutExpired:
            self.fail("server still running %.1f s after SIGTERM with --shutdown-grace %g" %
                      (time.monotonic() - start, grace))
        elapsed = time.monotonic() - start
        server.stop_checked(self)  # collects stderr and checks it
        self.assertEqual(rc, 0)
        self.assertGreaterEqual(elapsed, grace - 0.5, "stalled responses were not given the grace period")
        self.assertLess(elapsed, grace + 1.0 * SLOW)
        # The stalled downloads were cut: the client sees the connection end before the body does.
        s = stalled[0]
        head, rest = read_head(s)
        n, _ = stream_body(s, rest, HUGE_SIZE)
        self.assertLess(n, HUGE_SIZE)

    def test_shutdown_ends_when_responses_in_flight_are_done(self):
        # Nothing stalls: once the downloads in flight are done, the connections
        # close (no new request may start) and the server exits, long before the grace.
        grace = 2.0 + 2.0 * SLOW
        server = self.start(("--shutdown-grace", "%g" % grace, "--threads", "2"), huge=True)
        huge_digest = file_digest(os.path.join(server.root, "huge.bin"))
        active = self.start_active_downloads(server, 2)
        time.sleep(0.2)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        for n, digest, close_after, end in self.finish_downloads(active):
            self.assertEqual((n, digest), (HUGE_SIZE, huge_digest))
            self.assertIn(end, ("eof", "reset"))
            self.assertLess(close_after, 1.0 * SLOW, "connection left open after its last response during shutdown")
        try:
            rc = server.proc.wait(timeout=grace + 3 * SLOW)
        except subprocess.TimeoutExpired:
            self.fail("server did not exit")
        elapsed = time.monotonic() - start
        server.stop_checked(self)
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 1.0 * SLOW, "shutdown waited for the grace period with nothing in flight")

    def test_next_request_after_sigterm_does_not_cut_the_response(self):
        # A kept-alive download is in flight at SIGTERM, and the client sends its
        # next request before reading the rest. The download must arrive whole and
        # the next request go unanswered: the close lingers (RFC 9112 §9.6), where a
        # close with that request unread is a reset that destroys the download's end.
        server = self.start(("--shutdown-grace", "20", "--min-rate", "0"), huge=True)
        huge_digest = file_digest(os.path.join(server.root, "huge.bin"))
        s = self.stalled_download(server)
        head, rest = read_head(s)
        self.assertEqual(head.status, 200)
        self.assertIsNone(head.header("connection"))
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        s.sendall(raw_request("/HelloWorld.html"))
        self.assertEqual(stream_body(s, rest, HUGE_SIZE), (HUGE_SIZE, huge_digest),
                         "download cut short")
        data, end = recv_all(s)
        self.assertEqual((data, end), (b"", "eof"), "the next request was answered, or reset")
        try:
            rc = server.proc.wait(timeout=5 * SLOW)
        except subprocess.TimeoutExpired:
            self.fail("server still running after its last connection closed")
        server.stop_checked(self)
        self.assertEqual(rc, 0)

    def test_second_sigterm_cuts_grace_short(self):
        server = self.start(("--shutdown-grace", "30", "--threads", "2"), huge=True)
        for _ in range(3):
            self.stalled_download(server)
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertTrue(server.alive(), "exited at once although downloads were in flight")
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(timeout=5 * SLOW)
        except subprocess.TimeoutExpired:
            self.fail("a second SIGTERM did not end the grace period")
        elapsed = time.monotonic() - start
        server.stop_checked(self)
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 1.0 * SLOW)

    def test_startup_line_names_the_port(self):
        server = self.start()
        line = next(l for l in server.stderr_lines if "listening on" in l)
        self.assertRegex(line, r"^webserver: listening on 127\.0\.0\.1:%d\b" % server.port)
        self.assertEqual(get(server.port, "/").status, 200)
        server.stop_checked(self)


class ClientMisbehaviourTest(ServerTestCase):
    """SIGPIPE never kills the server; resets and half-closes are survived."""

    def test_reset_mid_download(self):
        for _ in range(5):
            s = connect(self.port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(raw_request("/big.bin"))
            s.recv(100)
            s.close()  # RST with the response still coming
        self.assert_still_serving()

    def test_half_close_after_request(self):
        # The client shuts its write side after the request: the answer still comes.
        with connect(self.port) as s:
            s.sendall(raw_request("/HelloWorld.html"))
            s.shutdown(socket.SHUT_WR)
            data, end = recv_all(s)
        rs, rest = parse_responses(data)
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].body, self.file_bytes("HelloWorld.html"))
        self.assertEqual(end, "eof")


class AccessLogTest(ProcessTestCase):
    def make_traffic(self, port):
        with connect(port) as s:
            s.sendall(raw_request("/HelloWorld.html", headers=[("Referer", "http://ref.example/page"),
                                                               ("User-Agent", "test-agent/1.0")]))
            s.sendall(raw_request("/missing.html"))
            s.sendall(raw_request("/big.bin", method="HEAD"))
            s.sendall(raw_request("/index.html", headers=[("User-Agent", 'quote" and \\ back')], close=True))
            data, end = recv_all(s)
        self.assertEqual(end, "eof")
        with connect(port) as s:
            s.sendall(b"BAD\x01 / HTTP/1.1\r\n\r\n")
            recv_all(s)

    def check_lines(self, lines, root):
        self.assertEqual(len(lines), 5, lines)
        m = [CLF.match(l) for l in lines]
        for line, match in zip(lines, m):
            self.assertIsNotNone(match, "not Combined Log Format: %r" % line)
        hello = os.path.getsize(os.path.join(root, "HelloWorld.html"))
        index = os.path.getsize(os.path.join(root, "index.html"))
        self.assertEqual(m[0].group("host"), "127.0.0.1")
        self.assertEqual(m[0].group("request"), "GET /HelloWorld.html HTTP/1.1")
        self.assertEqual((m[0].group("status"), m[0].group("bytes")), ("200", str(hello)))
        self.assertEqual(m[0].group("referer"), "http://ref.example/page")
        self.assertEqual(m[0].group("agent"), "test-agent/1.0")
        self.assertEqual((m[1].group("request"), m[1].group("status")), ("GET /missing.html HTTP/1.1", "404"))
        self.assertEqual(m[1].group("referer"), "-")
        self.assertEqual((m[2].group("request"), m[2].group("status"), m[2].group("bytes")),
                         ("HEAD /big.bin HTTP/1.1", "200", "-"))
        self.assertEqual((m[3].group("status"), m[3].group("bytes")), ("200", str(index)))
        self.assertNotIn('"', m[3].group("agent"))
        self.assertEqual(m[4].group("status"), "400")
        # The time is now, give or take.
        t = datetime.datetime.strptime(m[0].group("time"), "%d/%b/%Y:%H:%M:%S %z")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - t).total_seconds()), 120)

    def test_access_log_on_stdout_by_default(self):
        root = make_root()
        self.addCleanup(shutil.rmtree, root, True)
        # No --access-log flag at all: the default is stdout.
        server = Server(root, (), access_log=ACCESS_LOG_DEFAULT)
        self.assertFalse(any(a.startswith("--access-log") for a in server.cmd), server.cmd)
        self.addCleanup(server.kill)
        self.make_traffic(server.port)
        self.assertTrue(wait_until(lambda: len(server.stdout_lines) >= 5, 5), server.stdout_lines)
        server.stop_checked(self)
        self.check_lines(server.stdout_lines, root)
        self.assertFalse(any(CLF.match(l) for l in server.stderr_lines), "access log lines on stderr")

    def test_access_log_dash_is_stdout(self):
        server = self.start(access_log="-")
        self.make_traffic(server.port)
        self.assertTrue(wait_until(lambda: len(server.stdout_lines) >= 5, 5), server.stdout_lines)
        server.stop_checked(self)
        self.check_lines(server.stdout_lines, server.root)

    def test_access_log_to_file(self):
        logdir = tempfile.mkdtemp(prefix="ws-log-")
        self.addCleanup(shutil.rmtree, logdir, True)
        path = os.path.join(logdir, "access.log")
        server = self.start(access_log=path, capture_stdout=True)
        self.make_traffic(server.port)

        def lines():
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()

        self.assertTrue(wait_until(lambda: os.path.exists(path) and len(lines()) >= 5, 5))
        server.stop_checked(self)
        self.check_lines(lines(), server.root)
        self.assertEqual(server.stdout_lines, [], "access log went to stdout too")

    def test_access_log_off(self):
        server = self.start(capture_stdout=True)  # wshelper passes --access-log off
        self.assertIn("off", server.cmd)
        self.make_traffic(server.port)
        server.stop_checked(self)
        self.assertEqual(server.stdout_lines, [])
        self.assertFalse(any(CLF.match(l) for l in server.stderr_lines))


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        require_binary(self)
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)

    def run_server(self, args, timeout=10):
        return subprocess.run([WEBSERVER] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout * SLOW)

    def test_bad_values_exit_2_with_one_line(self):
        not_dir = os.path.join(self.root, "HelloWorld.html")
        cases = [
            ["--port", "70000"],
            ["--port", "-1"],
            ["--port", "http"],
            ["--threads", "0"],
            ["--threads", "many"],
            ["--queue", "0"],
            ["--root", "/nonexistent/ws-test-dir"],
            ["--root", not_dir],
            ["--header-timeout", "0"],
            ["--max-requests", "-3"],
            ["--bogus-flag"],
            ["--port"],
            ["unexpected-argument"],
        ]
        for args in cases:
            with self.subTest(args=args):
                full = ["--bind", "127.0.0.1", "--access-log", "off"]
                if "--root" not in args:
                    full += ["--root", self.root]
                if "--port" not in args:
                    full += ["--port", "0"]
                p = self.run_server(full + args)
                self.assertEqual(p.returncode, 2, p.stderr)
                lines = p.stderr.decode("utf-8", "replace").splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("webserver: "), lines)
                self.assertEqual(p.stdout, b"")

    def test_port_in_use_exits_1(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            p = self.run_server(["--port", str(port), "--bind", "127.0.0.1", "--root", self.root,
                                 "--access-log", "off"])
        self.assertEqual(p.returncode, 1, p.stderr)
        err = p.stderr.decode("utf-8", "replace")
        self.assertIn(str(port), err)
        self.assertRegex(err, r"(?i)in use")
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_help(self):
        for flag in ("--help", "-h"):
            with self.subTest(flag=flag):
                p = self.run_server([flag])
                self.assertEqual(p.returncode, 0)
                out = p.stdout.decode()
                self.assertIn("Usage", out)
                for option in ("--port", "--threads", "--root", "--queue", "--bind", "--access-log",
                               "--help", "--version"):
                    self.assertIn(option, out)
                self.assertEqual(p.stderr, b"")

    def test_version(self):
        for flag in ("--version", "-V"):
            with self.subTest(flag=flag):
                p = self.run_server([flag])
                self.assertEqual(p.returncode, 0)
                self.assertRegex(p.stdout.decode(), r"^webserver \d+\.\d+\.\d+\n$")
                self.assertEqual(p.stderr, b"")


if __name__ == "__main__":
    unittest.main()
