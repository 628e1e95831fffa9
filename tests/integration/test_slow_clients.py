"""Slow clients (issue 18): a request body never buys time, and --min-rate closes
heads, bodies and responses that move slower than the rate, while a slow client
well above it is served whole.

Every loop here is bounded in count and time, and talks to loopback only.
The rate is judged over 5 s windows (the first is the grace period), so the
cases below take about 6 to 15 s each; they run in parallel threads where they
do not measure each other.
"""

import os
import re
import resource
import signal
import socket
import threading
import time
import unittest

from wshelper import (
    tls_wrap,
    SLOW,
    Reader,
    Server,
    ServerTestCase,
    connect,
    get,
    make_big_file,
    make_root,
    raw_request,
    read_head,
)

WINDOW = 5.0  # RATE_WINDOW_MS in src/server/server.c


def closed_within(sock, seconds):
    """Reads and drops what the server sends until it closes; returns the
    seconds it took and the bytes it sent, or (None, data) if still open."""
    start = time.monotonic()
    data = b""
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start, data
        if not chunk:
            return time.monotonic() - start, data
        data += chunk
    return None, data


TCP_CLOSE = 7  # the state a reset leaves a socket in


def peer_reset(sock):
    """Whether the peer has reset the connection, whatever is still unread here:
    a slow reader's own receive buffer may hold bytes for a long time after
    the server has aborted its side."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_CLOSE


def read_slowly(sock, rate, seconds):
    """Reads at about `rate` bytes/s for at most `seconds`. Returns (seconds
    until the peer reset or closed the connection, or None if it did not; the
    bytes read up to then)."""
    sock.settimeout(0.2)
    start = time.monotonic()
    data = b""
    while time.monotonic() - start < seconds:
        if peer_reset(sock):
            return time.monotonic() - start, data
        try:
            chunk = sock.recv(min(8192, max(1, rate // 10)))
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start, data
        if not chunk:
            return time.monotonic() - start, data
        data += chunk
        # Hold the average at `rate`: sleep until the bytes so far are due.
        ahead = len(data) / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.5))
    return None, data


def trickle(sock, data, interval, until):
    """Sends data one byte every `interval` s until it is all sent, the peer
    closes, or `until` (monotonic) passes. Returns the bytes sent."""
    sent = 0
    while sent < len(data) and time.monotonic() < until:
        try:
            sock.send(data[sent:sent + 1])
        except (BrokenPipeError, ConnectionResetError, OSError):
            break
        sent += 1
        time.sleep(interval)
    return sent


def trickle_until_closed(sock, data, interval, seconds):
    """Trickles data (as trickle does) while reading what the server sends, for at
    most `seconds`; returns closed_within's (seconds until closed or None, bytes)."""
    t = threading.Thread(target=trickle, args=(sock, data, interval, time.monotonic() + seconds))
    t.start()
    try:
        return closed_within(sock, seconds)
    finally:
        t.join()


def post_answered_at_once(testcase, sock):
    """Sends the head of a POST with a 64 KiB body and checks that the 405 comes before any of it."""
    sock.sendall(raw_request("/HelloWorld.html", method="POST",
                             headers=[("Content-Length", "65536")]))
    sock.settimeout(2 * SLOW)
    head, _ = read_head(sock)
    testcase.assertEqual(head.status, 405)


class SlowClientsTest(ServerTestCase):
    """Defaults: --min-rate 240, --header-timeout 15, --send-timeout 30."""

    server_args = ("--threads", "2")

    @classmethod
    def prepare_root(cls, root):
        make_big_file(os.path.join(root, "huge.bin"), 64 << 20)

    def test_body_does_not_delay_the_answer(self):
        """A POST is answered (405) as soon as its head is parsed, before any body byte."""
        with connect(self.port) as s:
            post_answered_at_once(self, s)

    def test_small_prompt_body_keeps_the_connection(self):
        """A small body that arrives at once is dropped and the connection serves the next request."""
        with connect(self.port) as s:
            reader = Reader(s)
            s.sendall(raw_request("/HelloWorld.html", method="POST",
                                  headers=[("Content-Length", "5")]) + b"hello")
            self.assertEqual(reader.read_response().status, 405)
            s.sendall(raw_request("/HelloWorld.html", headers=[("Content-Length", "3")]) + b"abc")
            r = reader.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))
            s.sendall(raw_request("/index.html", close=True))
            self.assertEqual(reader.read_response().status, 200)

    def test_trickled_body_is_closed(self):
        """A body trickled at a few bytes a second is closed after the first window."""
        with connect(self.port) as s:
            post_answered_at_once(self, s)
            took, _ = trickle_until_closed(s, b"x" * 65536, 0.25, 20 * SLOW)
        self.assertIsNotNone(took, "a trickled body was still open after 20 s")
        self.assertLess(took, 2 * WINDOW + 3, "closed, but only after %.1f s" % took)

    def test_trickled_head_is_closed_with_408(self):
        """A request head trickled a byte at a time is answered 408 and closed after the first window."""
        head = raw_request("/HelloWorld.html", headers=[("X-Pad", "p" * 200)])
        with connect(self.port) as s:
            s.sendall(head[:16])
            took, data = trickle_until_closed(s, head[16:], 0.5, 14 * SLOW)
        self.assertIsNotNone(took, "a trickled head was still open after 14 s")
        self.assertLess(took, 2 * WINDOW + 2, "closed, but only after %.1f s" % took)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:40])

    def test_quiet_new_connection_waits_for_the_header_timeout(self):
        """A connection that has sent nothing yet is not slow: it is served if it asks in time."""
        with connect(self.port) as s:
            time.sleep(WINDOW + 1.5)
            s.sendall(raw_request("/HelloWorld.html", close=True))
            reader = Reader(s)
            self.assertEqual(reader.read_response().status, 200)

    def _slow_reader(self, rate, seconds, rcvbuf=4096):
        """Reads huge.bin at about `rate` bytes/s for at most `seconds`; returns
        (seconds until the server closed the connection, or None; bytes read)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect(("127.0.0.1", self.port))
        try:
            s.sendall(raw_request("/huge.bin", close=True))
            return read_slowly(s, rate, seconds)
        finally:
            s.close()

    def test_slow_reader_is_closed(self):
        """A client that reads a large response at 100 bytes/s is closed, well before --send-timeout."""
        took, got = self._slow_reader(100, 25 * SLOW)
        self.assertIsNotNone(took, "a slow reader was still served after 25 s (%d bytes)" % len(got))
        self.assertLess(took, 20 * SLOW)


class RateBoundaryTest(ServerTestCase):
    """A slow but legitimate reader above --min-rate gets every byte.

    The issue's case is a phone at 4 KB/s reading 1 MiB against the default 240
    bytes/s; at that speed the test would take four minutes, so it is scaled:
    --min-rate 16384 and a reader at 64 KiB/s (four times the rate, as 4 KB/s
    is far above 240) through a 4 KiB receive buffer, for 1 MiB (16 s).
    """

    server_args = ("--threads", "2", "--min-rate", "16384")

    @classmethod
    def prepare_root(cls, root):
        make_big_file(os.path.join(root, "one.bin"), 1 << 20)
        # Larger than the kernel's socket buffers, so that the server is still sending.
        make_big_file(os.path.join(root, "big.bin"), 16 << 20)

    def _read(self, path, rate, seconds):
        """Reads path at `rate` bytes/s through a 4 KiB receive buffer: (closed after, bytes)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.port))
        try:
            s.sendall(raw_request(path, close=True))
            return read_slowly(s, rate, seconds)
        finally:
            s.close()

    def test_reader_above_the_rate_gets_everything(self):
        _, data = self._read("/one.bin", 65536, 40 * SLOW)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:40])
        self.assertEqual(len(body), 1 << 20)
        self.assertEqual(body, self.file_bytes("one.bin"))

    def test_reader_below_the_rate_is_cut(self):
        took, data = self._read("/big.bin", 4096, 40 * SLOW)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:40])
        self.assertLess(len(body), 16 << 20)
        self.assertIsNotNone(took, "a reader below the rate was served for 40 s")
        self.assertLess(took, 2 * WINDOW + 5 * SLOW)


class BodyBudgetWithoutRateTest(ServerTestCase):
    """With --min-rate 0, a body still has a fixed budget: the header timeout from its start."""

    server_args = ("--threads", "2", "--min-rate", "0", "--header-timeout", "2")

    def test_body_budget_is_fixed(self):
        with connect(self.port) as s:
            post_answered_at_once(self, s)
            # Fast enough that no window would fail, were the rate on: 40 bytes/s... for ever.
            took, _ = trickle_until_closed(s, b"x" * 65536, 0.025, 10 * SLOW)
        self.assertIsNotNone(took, "a body kept buying time past its budget")
        self.assertLess(took, 2 + 2.5 * SLOW)


    def test_trickled_head_gets_408_at_the_header_timeout(self):
        """Without the rate, a head trickled a byte at a time still ends at its fixed deadline, with 408."""
        head = raw_request("/HelloWorld.html", headers=[("X-Pad", "p" * 200)])
        with connect(self.port) as s:
            took, data = trickle_until_closed(s, head, 0.2, 8 * SLOW)
        self.assertIsNotNone(took, "a trickled head outlived its header timeout")
        self.assertLess(took, 2 + 2 * SLOW)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:40])


class SlowClientsOverTlsTest(ServerTestCase):
    """The same rules over HTTPS: a handshake that trickles is a slow head, and a
    slow reader of a TLS response is measured by what it takes, and reset."""

    server_args = ("--threads", "2")

    @classmethod
    def server_kwargs(cls):
        return {"tls": True}

    @classmethod
    def prepare_root(cls, root):
        make_big_file(os.path.join(root, "huge.bin"), 64 << 20)

    def test_trickled_handshake_is_closed(self):
        """A ClientHello sent a byte every half second is closed after the first window."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            # The first byte starts a handshake record; then a record header and a
            # ClientHello body that never completes.
            hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 500
            took, _ = trickle_until_closed(s, hello, 0.5, 14 * SLOW)
        self.assertIsNotNone(took, "a trickled handshake was still open after 14 s")
        self.assertLess(took, 2 * WINDOW + 2)

    def test_slow_tls_reader_is_reset(self):
        """A TLS client that reads a large response at 100 bytes/s is reset well before --send-timeout."""
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(5)
        raw.connect(("127.0.0.1", self.port))
        s = tls_wrap(raw)
        try:
            s.sendall(raw_request("/huge.bin", close=True))
            took, got = read_slowly(s, 100, 25 * SLOW)
        finally:
            s.close()
        self.assertIsNotNone(took, "a slow TLS reader was still served after 25 s (%d bytes)"
                             % len(got))
        self.assertLess(took, 20 * SLOW)


class ManySlowClientsTest(unittest.TestCase):
    """1,000 slow clients held at once do not keep a normal client from being served,
    and the stats count each close by its reason."""

    def setUp(self):
        import shutil
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)
        self.log = os.path.abspath(self.root + "-error.log")
        self.addCleanup(lambda: os.path.exists(self.log) and os.unlink(self.log))
        self.server = Server(self.root, ("--threads", "4"), error_log=self.log,
                             prlimit_nofile=8192)

    def tearDown(self):
        rc = self.server.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(self.server.foreign_stderr(), [])

    def test_normal_client_served_while_slow_ones_are_held(self):
        n = 1000 if not os.environ.get("WS_SANITIZER") else 300
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
        socks = []
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
                if i % 2:
                    s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\n")  # a head never finished
                else:
                    s.sendall(raw_request("/HelloWorld.html", method="POST",
                                          headers=[("Content-Length", "100000")]) + b"x")
                socks.append(s)
            # Served promptly, many times, while every slow one is held.
            for _ in range(20):
                t0 = time.monotonic()
                r = get(self.server.port, "/HelloWorld.html")
                self.assertEqual(r.status, 200)
                self.assertLess(time.monotonic() - t0, 1.0 * SLOW)
            # Every slow one is closed by the end of its first window (plus slack).
            deadline = time.monotonic() + 2 * WINDOW + 10 * SLOW
            open_ = list(socks)
            while open_ and time.monotonic() < deadline:
                still = []
                for s in open_:
                    s.setblocking(False)
                    try:
                        while True:
                            d = s.recv(65536)
                            if not d:
                                break
                    except BlockingIOError:
                        still.append(s)
                        continue
                    except OSError:
                        pass
                open_ = still
                time.sleep(0.2)
            self.assertEqual(len(open_), 0, "%d slow connections still open" % len(open_))
        finally:
            for s in socks:
                s.close()
        # Counted by reason in the SIGUSR1 stats, and logged once per reason, not per connection.
        os.kill(self.server.pid, signal.SIGUSR1)
        stats = None
        deadline = time.monotonic() + 5 * SLOW
        while stats is None and time.monotonic() < deadline:
            for line in self.server.error_log_lines():
                if "stats:" in line:
                    stats = line
            time.sleep(0.05)
        self.assertIsNotNone(stats)
        counts = dict((k, int(v)) for k, v in re.findall(r"closed_(\w+)=(\d+)", stats))
        self.assertEqual(counts.get("slow_head", 0) + counts.get("head_timeout", 0), n // 2, stats)
        self.assertEqual(counts.get("slow_body", 0) + counts.get("body_budget", 0), n // 2, stats)
        reports = [l for l in self.server.error_log_lines() if re.search(r"closed \d+ connection", l)]
        self.assertLessEqual(len(reports), 4, reports)
        self.assertGreaterEqual(len(reports), 2, reports)


if __name__ == "__main__":
    unittest.main()
