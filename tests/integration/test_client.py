"""The command-line client (issue 3): against the real server, and against fake
servers on 127.0.0.1 that misbehave in every way a server can. Over TLS too
(issue 13): the certificates are made at test time with the openssl command.

Every run of the client is bounded by a subprocess timeout, so a client that
hangs fails the test instead of stalling ctest. Apart from the header section
that -o sends there, the client may write only its own "client: " lines to
stderr; a sanitizer report, or a leak reported at exit, fails the test.

Environment (set by ctest): CLIENT (the client binary), plus what wshelper reads.
"""

import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from wshelper import SLOW, WEBSERVER, Server, ServerTestCase, make_root

CLIENT = os.environ.get("CLIENT", "")

# Any client run taking longer than this has hung.
RUN_LIMIT = 30.0


class Result:
    def __init__(self, rc, stdout, stderr, elapsed):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def __repr__(self):
        return "rc=%r elapsed=%.2fs stdout=%r stderr=%r" % (
            self.rc, self.elapsed, self.stdout[:300], self.stderr[:600])


def run_client(*args, limit=RUN_LIMIT):
    start = time.monotonic()
    p = subprocess.run([CLIENT] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=limit * SLOW)
    return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - start)


def split_head(data):
    """(head without its empty line, rest) of one response in data."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no complete head in %r" % data[:200])
    return head, rest


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode("latin-1")
    return None


def split_responses(data, head_request=False):
    """Splits printed responses (Content-Length framed) into (head, body) pairs."""
    out = []
    while data:
        head, data = split_head(data)
        length = 0 if head_request else int(header(head, "content-length") or 0)
        out.append((head, data[:length]))
        data = data[length:]
    return out


class FakeServer:
    """A scripted HTTP server on a loopback port, one thread, for one test.

    handler(server, conn) runs for each accepted connection; it usually calls
    server.read_request(conn) and then sends whatever the test needs. Every
    blocking call has a timeout, and close() stops the thread, so a confused
    test cannot hang.
    """

    def __init__(self, handler, family=socket.AF_INET, max_connections=4):
        self.handler = handler
        self.requests = []
        self.connections = 0
        self.errors = []
        self.stop_event = threading.Event()
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.max_connections = max_connections
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self):
        deadline = time.monotonic() + 60 * SLOW
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            if self.connections >= self.max_connections:
                break
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.connections += 1
            conn.settimeout(10 * SLOW)
            try:
                self.handler(self, conn)
            except OSError as e:  # the client hung up first: often the point of the test
                self.errors.append(e)
            finally:
                conn.close()

    def read_request(self, conn):
        """Reads one request head; returns it, or None if the client closed first."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0]
        self.requests.append(head)
        return head

    def hold(self, seconds=30.0):
        """Keeps the connection open until the test ends (or seconds pass)."""
        self.stop_event.wait(seconds * SLOW)

    def close(self):
        self.stop_event.set()
        self.thread.join(15 * SLOW)
        self.sock.close()
        if self.thread.is_alive():
            raise AssertionError("fake server thread did not stop")


def answer(*pieces, hold=False, delay=0.0):
    """A handler: read the request, send the pieces, then close (or hold the connection)."""

    def handler(server, conn):
        if server.read_request(conn) is None:
            return
        for i, piece in enumerate(pieces):
            if i and delay:
                time.sleep(delay)
            conn.sendall(piece)
        if hold:
            server.hold()

    return handler


def keep_alive(responses, then_close=False):
    """A handler answering successive requests on one connection with responses[i]."""

    def handler(server, conn):
        for resp in responses:
            if server.read_request(conn) is None:
                return
            conn.sendall(resp)
        if not then_close:
            server.hold()

    return handler


def chunked(data, sizes, ext=b"", trailers=b""):
    """Chunked encoding of data, cutting chunks of the given sizes in turn."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = min(sizes[i % len(sizes)], len(data) - pos)
        out.append(b"%x%s\r\n%s\r\n" % (n, ext, data[pos:pos + n]))
        pos += n
        i += 1
    out.append(b"0\r\n" + trailers + b"\r\n")
    return b"".join(out)


class ClientTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CLIENT or not os.access(CLIENT, os.X_OK):
            raise unittest.SkipTest("CLIENT is not set to the built binary")
        super().setUpClass()

    def assert_own_stderr(self, res):
        """Everything on stderr is one of the client's own lines."""
        for line in res.stderr.decode("latin-1").splitlines():
            self.assertTrue(line.startswith("client: "), "foreign stderr line %r in %r" % (line, res))

    def assert_ok(self, res, rc=0):
        self.assertEqual(res.rc, rc, res)
        self.assert_own_stderr(res)
        if rc == 0:
            self.assertEqual(res.stderr, b"", res)

    def assert_fails(self, res, pattern, rc=3):
        """Exit status rc with exactly one "client: ..." line matching pattern."""
        self.assertEqual(res.rc, rc, res)
        lines = res.stderr.decode("latin-1").splitlines()
        self.assertEqual(len(lines), 1, res)
        self.assertTrue(lines[0].startswith("client: "), res)
        self.assertRegex(lines[0], pattern)


# --- against the real server ----------------------------------------------------


class RealServerTest(ClientTestCase, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mib = os.urandom(1 << 20)
        with open(os.path.join(cls.root, "mib.bin"), "wb") as f:
            f.write(cls.mib)
        cls.tmp = tempfile.mkdtemp(prefix="ws-client-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def file(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def test_get_prints_status_headers_and_body(self):
        res = run_client("127.0.0.1", self.port, "/HelloWorld.html")
        self.assert_ok(res)
        head, body = split_head(res.stdout)
        self.assertEqual(head.split(b"\r\n")[0], b"HTTP/1.1 200 OK")
        self.assertEqual(header(head, "content-type"), "text/html; charset=utf-8")
        self.assertEqual(int(header(head, "content-length")), len(body))
        self.assertEqual(body, self.file("HelloWorld.html"))

    def test_404_exits_1(self):
        res = run_client("127.0.0.1", self.port, "/no-such-file.html")
        self.assert_fails(res, r"^client: server answered 404 Not Found$", rc=1)
        head, body = split_head(res.stdout)
        self.assertTrue(head.startswith(b"HTTP/1.1 404 Not Found\r\n"))
        self.assertIn(b"404 Not Found", body)

    def test_head_prints_headers_only(self):
        res = run_client("-I", "127.0.0.1", self.port, "/big.bin")
        self.assert_ok(res)
        head, body = split_head(res.stdout)
        self.assertEqual(int(header(head, "content-length")), 4 << 20)
        self.assertEqual(body, b"")

    def test_output_file_is_byte_exact(self):
        path = os.path.join(self.tmp, "out.bin")
        res = run_client("-o", path, "127.0.0.1", self.port, "/mib.bin")
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(res.stdout, b"")
        # The header section goes to stderr, and nothing else does.
        head, rest = split_head(res.stderr)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), res)
        self.assertEqual(rest, b"")
        with open(path, "rb") as f:
            self.assertTrue(f.read() == self.mib, "the file differs from the served one")

    def test_quiet_prints_body_only(self):
        res = run_client("-q", "127.0.0.1", self.port, "/HelloWorld.html")
        self.assert_ok(res)
        self.assertEqual(res.stdout, self.file("HelloWorld.html"))
        res = run_client("--quiet", "127.0.0.1", self.port, "/big.bin")
        self.assert_ok(res)
        self.assertTrue(res.stdout == self.file("big.bin"), "4 MiB body differs")

    def test_repeat_over_keep_alive(self):
        res = run_client("-r", "3", "127.0.0.1", self.port, "/HelloWorld.html")
        self.assert_ok(res)
        responses = split_responses(res.stdout)
        self.assertEqual(len(responses), 3)
        for head, body in responses:
            self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"))
            self.assertNotEqual((header(head, "connection") or "").lower(), "close")
            self.assertEqual(body, self.file("HelloWorld.html"))

    def test_repeat_head_and_404(self):
        res = run_client("-I", "--repeat=2", "127.0.0.1", self.port, "/mib.bin")
        self.assert_ok(res)
        responses = split_responses(res.stdout, head_request=True)
        self.assertEqual(len(responses), 2)
        res = run_client("-r", "2", "127.0.0.1", self.port, "/missing")
        self.assertEqual(res.rc, 1, res)
        self.assertEqual(len(split_responses(res.stdout)), 2)
        self.assertEqual(res.stderr.count(b"client: server answered 404"), 2, res)

    def test_redirect_exits_0(self):
        res = run_client("127.0.0.1", self.port, "/sub")
        self.assert_ok(res)
        head, _ = split_head(res.stdout)
        self.assertTrue(head.startswith(b"HTTP/1.1 301 "))
        self.assertEqual(header(head, "location"), "/sub/")

    def test_host_name_is_resolved(self):
        # The server listens on 127.0.0.1 only; if "localhost" resolves to ::1
        # first, the client must go on to the next address.
        res = run_client("-q", "localhost", self.port, "/HelloWorld.html")
        self.assert_ok(res)
        self.assertEqual(res.stdout, self.file("HelloWorld.html"))


# --- against fake servers --------------------------------------------------------


class RequestTest(ClientTestCase):
    """What the client sends."""

    OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"

    def test_request_line_and_default_headers(self):
        with FakeServer(answer(self.OK)) as srv:
            res = run_client("127.0.0.1", srv.port, "/a/b?c=d#frag")
        self.assert_ok(res)
        lines = srv.requests[0].split(b"\r\n")
        self.assertEqual(lines[0], b"GET /a/b?c=d HTTP/1.1")
        fields = [l.split(b":", 1)[0].lower() for l in lines[1:]]
        self.assertIn(b"host: 127.0.0.1:%d" % srv.port, [l.lower() for l in lines])
        self.assertIn(b"connection: close", [l.lower() for l in lines])
        self.assertEqual(fields.count(b"host"), 1)

    def test_head_and_extra_headers(self):
        with FakeServer(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")) as srv:
            res = run_client("-I", "-H", "X-Test: yes please", "--header=Accept: text/plain",
                             "-H", "Host: example.org", "127.0.0.1", srv.port, "/")
        self.assert_ok(res)
        lines = srv.requests[0].split(b"\r\n")
        self.assertEqual(lines[0], b"HEAD / HTTP/1.1")
        self.assertIn(b"X-Test: yes please", lines)
        # A user header replaces the default of the same name.
        self.assertEqual([l for l in lines if l.lower().startswith(b"accept:")], [b"Accept: text/plain"])
        self.assertEqual([l for l in lines if l.lower().startswith(b"host:")], [b"Host: example.org"])

    def test_header_injection_is_refused(self):
        with FakeServer(answer(self.OK)) as srv:
            for bad in ("X: a\r\nEvil: 1", "X: a\nB: c", "NoColon", ": empty name", "Bad Name: x"):
                res = run_client("-H", bad, "127.0.0.1", srv.port, "/")
                self.assert_fails(res, r"invalid header", rc=2)
        self.assertEqual(srv.connections, 0, "the client connected despite a bad -H")

    def test_ipv6_literal(self):
        try:
            srv = FakeServer(answer(self.OK), family=socket.AF_INET6)
        except OSError:
            self.skipTest("no IPv6 loopback")
        with srv:
            for host in ("::1", "[::1]"):
                res = run_client("-q", host, srv.port, "/")
                self.assert_ok(res)
                self.assertEqual(res.stdout, b"hi")
        self.assertIn(b"Host: [::1]:%d" % srv.port, srv.requests[0].split(b"\r\n"))

    def test_path_without_slash(self):
        with FakeServer(answer(self.OK)) as srv:
            res = run_client("127.0.0.1", srv.port, "index.html")
        self.assert_ok(res)
        self.assertTrue(srv.requests[0].startswith(b"GET /index.html HTTP/1.1\r\n"))


class UsageTest(ClientTestCase):
    def test_usage_errors_exit_2(self):
        cases = [
            (), ("127.0.0.1",), ("127.0.0.1", "80"), ("a", "80", "/", "extra"),
            ("127.0.0.1", "0", "/"), ("127.0.0.1", "65536", "/"), ("127.0.0.1", "http", "/"),
            ("127.0.0.1", "-1", "/"), ("-r", "0", "h", "1", "/"), ("-r", "x", "h", "1", "/"),
            ("-t", "0", "h", "1", "/"), ("-t", "abc", "h", "1", "/"), ("-t", "nan", "h", "1", "/"),
            ("-x", "h", "1", "/"), ("--bogus", "h", "1", "/"), ("h", "1", "/", "-t"),
            ("--output", "", "h", "1", "/"), ("127.0.0.1", "80", "/a b"), ("", "80", "/"),
        ]
        for args in cases:
            with self.subTest(args=args):
                self.assert_fails(run_client(*args), r".", rc=2)

    def test_help_and_version(self):
        res = run_client("--help")
        self.assert_ok(res)
        self.assertIn(b"Usage: client", res.stdout)
        for opt in (b"--head", b"--output", b"--header", b"--repeat", b"--timeout", b"--quiet"):
            self.assertIn(opt, res.stdout)
        res = run_client("--version")
        self.assert_ok(res)
        self.assertRegex(res.stdout, rb"^client \d+\.\d+\.\d+\n$")

    def test_unwritable_output_file(self):
        res = run_client("-o", "/nonexistent-dir/x", "127.0.0.1", "1", "/")
        self.assert_fails(res, r"cannot open", rc=2)


class FramingTest(ClientTestCase):
    """Bodies framed every way a server may frame them."""

    def test_chunked_with_extensions_and_trailers(self):
        body = b"The quick brown fox jumps over the lazy dog.\r\n0\r\n\r\n" * 20
        wire = chunked(body, [1, 7, 100, 3], ext=b';name="va;lue" ; x=1',
                       trailers=b"X-Checksum: abc\r\nX-Other:\r\n")
        pieces = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
        pieces += [wire[i:i + 37] for i in range(0, len(wire), 37)]
        with FakeServer(answer(*pieces, delay=0.001)) as srv:
            res = run_client("127.0.0.1", srv.port, "/")
        self.assert_ok(res)
        head, printed = split_head(res.stdout)
        self.assertEqual(printed, body)

    def test_chunked_binary_mib_to_file(self):
        body = os.urandom(1 << 20)
        rng = random.Random(7)
        sizes = [rng.randint(1, 70000) for _ in range(100)]
        resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, sizes)
        with tempfile.TemporaryDirectory() as tmp, FakeServer(answer(resp, hold=True)) as srv:
            path = os.path.join(tmp, "out")
            res = run_client("-o", path, "127.0.0.1", srv.port, "/")
            with open(path, "rb") as f:
                got = f.read()
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(res.stdout, b"")
        self.assertTrue(res.stderr.startswith(b"HTTP/1.1 200 OK\r\n"), res)
        self.assertTrue(got == body, "chunked body differs (%d bytes vs %d)" % (len(got), len(body)))

    def test_close_delimited_body(self):
        body = bytes(range(256)) * 300
        for status in (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n"):
            with self.subTest(status=status):
                with FakeServer(answer(status, body[:1000], body[1000:], delay=0.01)) as srv:
                    res = run_client("-q", "127.0.0.1", srv.port, "/")
                self.assert_ok(res)
                self.assertTrue(res.stdout == body, "close-delimited body differs")

    def test_100_continue_before_200(self):
        resp = (b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        with FakeServer(answer(resp, hold=True)) as srv:
            res = run_client("127.0.0.1", srv.port, "/")
        with FakeServer(answer(resp, hold=True)) as srv:
            quiet = run_client("-q", "127.0.0.1", srv.port, "/")
        self.assert_ok(res)
        self.assertEqual(res.stdout, resp)  # interim heads are shown, like curl -i
        self.assert_ok(quiet)
        self.assertEqual(quiet.stdout, b"hello")

    def test_no_body_statuses_do_not_wait(self):
        # The server keeps the connection open: a client that waited for a body
        # would sit there until its 20 s timeout.
        cases = [
            ((), b"HTTP/1.1 204 No Content\r\n\r\n"),
            ((), b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\nETag: \"x\"\r\n\r\n"),
            ((), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (("-I",), b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            (("-I",), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ]
        for opts, resp in cases:
            with self.subTest(resp=resp):
                with FakeServer(answer(resp, hold=True)) as srv:
                    res = run_client(*opts, "-t", "20", "127.0.0.1", srv.port, "/")
                self.assert_ok(res)
                self.assertEqual(res.stdout, resp)
                self.assertLess(res.elapsed, 10 * SLOW, "the client waited for a body")

    def test_lenient_but_valid_responses(self):
        cases = [
            (b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", b"abc"),  # bare LF
            (b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 3\r\n\r\nabc", b"abc"),
            (b"HTTP/1.1 200\r\nContent-Length: 3\r\n\r\nabc", b"abc"),  # no reason phrase
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", b"abc"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA", b"abc"),
        ]
        for resp, body in cases:
            with self.subTest(resp=resp):
                with FakeServer(answer(resp, hold=True)) as srv:
                    res = run_client("-q", "127.0.0.1", srv.port, "/")
                self.assert_ok(res)
                self.assertEqual(res.stdout, body)

    def test_byte_at_a_time(self):
        resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pad: " + b"p" * 300 +
                b"\r\n\r\n" + chunked(b"slow body", [2], ext=b";e=1", trailers=b"T: 1\r\n"))

        def handler(server, conn):
            server.read_request(conn)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(resp)):
                conn.sendall(resp[i:i + 1])
                if i % 50 == 0:
                    time.sleep(0.001)
            server.hold()

        with FakeServer(handler) as srv:
            res = run_client("-q", "127.0.0.1", srv.port, "/")
        self.assert_ok(res)
        self.assertEqual(res.stdout, b"slow body")

    def test_5xx_exits_1(self):
        resp = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
        with FakeServer(answer(resp)) as srv:
            res = run_client("-q", "127.0.0.1", srv.port, "/")
        self.assert_fails(res, r"^client: server answered 503 Service Unavailable$", rc=1)
        self.assertEqual(res.stdout, b"busy")


class MisbehavingServerTest(ClientTestCase):
    """Each of these must end in exit 3 with one clear line, never a crash or a hang."""

    def run_against(self, handler, *opts):
        with FakeServer(handler) as srv:
            return run_client(*opts, "127.0.0.1", srv.port, "/")

    def test_closes_early_mid_body(self):
        res = self.run_against(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"0123456789"))
        self.assert_fails(res, r"closed after 10 of 100 body bytes")
        self.assertTrue(res.stdout.endswith(b"\r\n\r\n0123456789"), res)

    def test_closes_early_mid_chunked_body(self):
        for tail in (b"5\r\nhello\r\n", b"5\r\nhel", b"5\r\nhello\r\n0\r\n", b"5\r\nhello\r\n0\r\nX: 1\r\n"):
            with self.subTest(tail=tail):
                res = self.run_against(answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + tail))
                self.assert_fails(res, r"closed inside a chunked body")

    def test_closes_without_answering(self):
        res = self.run_against(answer())
        self.assert_fails(res, r"closed the connection without answering")

    def test_closes_inside_the_head(self):
        res = self.run_against(answer(b"HTTP/1.1 200 OK\r\nContent-Len"))
        self.assert_fails(res, r"closed inside the response header")

    def test_garbage(self):
        cases = [
            (b"garbage\r\n\r\n", r"malformed status line"),
            (b"<html><body>HTTP/0.9 style</body></html>", r"malformed status line"),
            (bytes(range(256)) * 4, r"malformed status line"),
            (b"HTTP/2.0 200 OK\r\n\r\n", r"unsupported HTTP version"),
            (b"HTTP/1.1 20 OK\r\n\r\n", r"malformed status line"),
            (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", r"malformed header field"),
            (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", r"malformed header field"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", r"invalid Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", r"invalid Content-Length"),
            (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", r"invalid Transfer-Encoding"),
            (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", r"101"),
        ]
        for resp, pattern in cases:
            with self.subTest(resp=resp[:40]):
                res = self.run_against(answer(resp, hold=True), "-t", "20")
                self.assert_fails(res, pattern)
                self.assertLess(res.elapsed, 10 * SLOW)

    def test_bad_chunks(self):
        cases = [
            (b"zz\r\nhello\r\n0\r\n\r\n", r"bad chunk size"),
            (b"-5\r\nhello\r\n0\r\n\r\n", r"bad chunk size"),
            (b"\r\n", r"bad chunk size"),
            (b"5\r\nhello!\r\n0\r\n\r\n", r"chunk data not followed by a line end"),
            (b"10000000000000000\r\n", r"chunk size too large"),
            (b"ffffffffffffffffffffffffffffffff\r\n", r"chunk size too large"),
            (b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n", r"chunk-size line too long"),
            (b"0\r\nX: 1\r\n folded\r\n\r\n", r"malformed trailer"),
            (b"0\r\n" + b"X: " + b"v" * 70000 + b"\r\n\r\n", r"trailer section too large"),
        ]
        for body, pattern in cases:
            with self.subTest(body=body[:40]):
                resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
                res = self.run_against(answer(resp, hold=True), "-t", "20")
                self.assert_fails(res, pattern)
                self.assertLess(res.elapsed, 10 * SLOW)

    def test_oversized_header_section(self):
        big = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
        res = self.run_against(answer(big, hold=True), "-t", "20")
        self.assert_fails(res, r"header section too large")
        # Never finished at all: a header line that does not end.
        res = self.run_against(answer(b"HTTP/1.1 200 OK\r\nX: " + b"v" * 70000, hold=True), "-t", "20")
        self.assert_fails(res, r"header section too large")
        many = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"
        res = self.run_against(answer(many, hold=True), "-t", "20")
        self.assert_fails(res, r"too many header fields")

    def test_never_answers_times_out(self):
        res = self.run_against(answer(hold=True), "-t", "1")
        self.assert_fails(res, r"timed out after 1 s waiting for the response")
        self.assertGreaterEqual(res.elapsed, 0.9)
        self.assertLess(res.elapsed, 10 * SLOW)

    def test_stalls_mid_body_times_out(self):
        res = self.run_against(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", hold=True),
                               "-t", "0.5")
        self.assert_fails(res, r"timed out after 0.5 s waiting for the response body")
        self.assertTrue(res.stdout.endswith(b"abc"))

    def test_slow_drip_is_not_a_timeout(self):
        # -t bounds each wait, not the whole transfer: a body arriving in pieces
        # 0.3 s apart completes under -t 1.
        res = self.run_against(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",
                                      b"a", b"b", b"c", b"d", delay=0.3), "-q", "-t", "1")
        self.assert_ok(res)
        self.assertEqual(res.stdout, b"abcd")

    def test_connection_refused(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # bound, never listened: nothing accepts on this port
        res = run_client("127.0.0.1", port, "/")
        self.assert_fails(res, r"cannot connect to 127\.0\.0\.1 port %d: Connection refused" % port)

    def test_connect_times_out(self):
        # A listener whose accept queue is full drops further SYNs, so connect
        # neither succeeds nor fails until the client gives up.
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        port = lsock.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(("127.0.0.1", port))
                fillers.append(f)
            time.sleep(0.2)
            probe = socket.socket()
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", port))
                self.skipTest("the kernel completed a connection past a full backlog")
            except socket.timeout:
                pass
            finally:
                probe.close()
            res = run_client("-t", "1", "127.0.0.1", port, "/")
            self.assert_fails(res, r"timed out after 1 s connecting to 127\.0\.0\.1 port %d" % port)
            self.assertLess(res.elapsed, 10 * SLOW)
        finally:
            for f in fillers:
                f.close()
            lsock.close()


class KeepAliveTest(ClientTestCase):
    R = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"

    def test_repeat_uses_one_connection(self):
        chunked_resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
        with FakeServer(keep_alive([self.R, chunked_resp, self.R])) as srv:
            res = run_client("-q", "-r", "3", "127.0.0.1", srv.port, "/x")
        self.assert_ok(res)
        self.assertEqual(res.stdout, b"abc" * 3)
        self.assertEqual(srv.connections, 1)
        self.assertEqual(len(srv.requests), 3)
        self.assertEqual(len(set(srv.requests)), 1, "the requests differ")
        self.assertNotIn(b"connection: close", srv.requests[0].lower())

    def test_server_closes_early(self):
        with FakeServer(keep_alive([self.R], then_close=True)) as srv:
            res = run_client("-r", "3", "127.0.0.1", srv.port, "/")
        self.assertEqual(res.rc, 3, res)
        lines = res.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, res)
        # Depending on timing the client sees the close, or a reset when it sends.
        self.assertRegex(lines[0], r"^client: (server closed the connection (after response 1|before answering request 2) of 3"
                                   r"|cannot (send the request|read from the server): )")
        self.assertEqual(split_responses(res.stdout)[0][1], b"abc")

    def test_server_announces_close(self):
        closing = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        with FakeServer(keep_alive([self.R, closing])) as srv:
            res = run_client("-q", "-r", "3", "127.0.0.1", srv.port, "/")
        self.assert_fails(res, r"server will close the connection after response 2 of 3")
        self.assertEqual(res.stdout, b"abc" * 2)

    def test_close_delimited_response_cannot_repeat(self):
        with FakeServer(keep_alive([b"HTTP/1.1 200 OK\r\n\r\nabc"], then_close=True)) as srv:
            res = run_client("-q", "-r", "2", "127.0.0.1", srv.port, "/")
        self.assertEqual(res.rc, 3, res)
        self.assertRegex(res.stderr.decode(), r"^client: server closed the connection after response 1 of 2\n$")
        self.assertEqual(res.stdout, b"abc")



# --- over TLS (issue 13) ---------------------------------------------------------

OPENSSL = shutil.which("openssl")


def run_openssl(*args, cwd):
    p = subprocess.run([OPENSSL] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], p.stderr.decode("utf-8", "replace")))


class ThrowAwayCA:
    """A CA made at test time in a temporary directory (no key is ever committed),
    issuing ECDSA P-256 server certificates with the SAN entries asked for."""

    def __init__(self, directory, name):
        self.dir = directory
        self.cert = os.path.join(directory, name + ".pem")
        key = os.path.join(directory, name + ".key")
        run_openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-keyout", key, "-out", self.cert, "-days", "2",
                    "-subj", "/CN=client test " + name,
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
        self.key = key

    def issue(self, stem, cn, sans):
        """(cert, key) files for cn with SAN entries like "DNS:localhost", "IP:127.0.0.1"."""
        cert, key, csr, ext = (os.path.join(self.dir, stem + e) for e in (".pem", ".key", ".csr", ".ext"))
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % ",".join(sans))
        run_openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-keyout", key, "-out", csr, "-subj", "/CN=" + cn, cwd=self.dir)
        run_openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                    "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert, cwd=self.dir)
        return cert, key


def over_tls(cert, key, handler, unwrap=False, legacy=False):
    """A FakeServer handler: a TLS handshake with cert/key (ALPN http/1.1 offered),
    then handler on the TLS socket. Records the SNI name, ALPN protocol and TLS
    version in server.tls_seen; a failed handshake ends the connection (an OSError
    that FakeServer records). unwrap: send close_notify before closing. legacy:
    speak TLS 1.0 and 1.1 only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_alpn_protocols(["http/1.1"])
    sni = []
    ctx.sni_callback = lambda sock, name, c: sni.append(name)

    def wrapped(server, conn):
        tconn = ctx.wrap_socket(conn, server_side=True)
        try:
            if not hasattr(server, "tls_seen"):
                server.tls_seen = []
            server.tls_seen.append((sni[-1] if sni else None, tconn.selected_alpn_protocol(),
                                    tconn.version()))
            handler(server, tconn)
            if unwrap:
                tconn.unwrap()
        finally:
            tconn.close()

    return wrapped


class TlsTest(ClientTestCase):
    """--tls, --cacert, --insecure against Python TLS servers with throw-away certificates."""

    BODY = b"hello over TLS\n"
    OK = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if OPENSSL is None:
            raise unittest.SkipTest("the openssl command is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="ws-client-tls-")
        try:
            cls.ca = ThrowAwayCA(cls.tmp, "ca")
            cls.local = cls.ca.issue("local", "localhost", ["DNS:localhost", "IP:127.0.0.1", "IP:::1"])
            cls.other = cls.ca.issue("other", "other.test", ["DNS:other.test", "IP:192.0.2.7"])
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def serve(self, handler, pair=None, **kwargs):
        return FakeServer(over_tls(*(pair or self.local), handler, **kwargs))

    def test_cacert_with_ip_address(self):
        with self.serve(answer(self.OK)) as srv:
            res = run_client("--cacert", self.ca.cert, "127.0.0.1", srv.port, "/x")
        self.assert_ok(res)
        head, body = split_head(res.stdout)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), res)
        self.assertEqual(body, self.BODY)
        self.assertTrue(srv.requests[0].startswith(b"GET /x HTTP/1.1\r\n"))
        sni, alpn, version = srv.tls_seen[0]
        self.assertIsNone(sni, "an IP address must not be sent as SNI (RFC 6066)")
        self.assertEqual(alpn, "http/1.1")
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

    def test_cacert_with_host_name_sends_sni(self):
        with self.serve(answer(self.OK)) as srv:
            res = run_client("-q", "--tls", "--cacert=" + self.ca.cert, "localhost", srv.port, "/x")
        self.assert_ok(res)
        self.assertEqual(res.stdout, self.BODY)
        self.assertEqual(srv.tls_seen[0][0], "localhost")

    def test_untrusted_certificate_fails(self):
        # Without --cacert the system store is used, and it does not hold our CA.
        with self.serve(answer(self.OK)) as srv:
            res = run_client("--tls", "localhost", srv.port, "/x")
        self.assert_fails(res, r"^client: cannot verify the certificate of localhost port %d: "
                               r"unable to get local issuer certificate$" % srv.port)
        self.assertEqual(res.stdout, b"")
        self.assertEqual(srv.requests, [], "a request was sent over an unverified connection")

    def test_insecure_skips_verification_and_says_so(self):
        with self.serve(answer(self.OK)) as srv:
            res = run_client("-q", "--insecure", "localhost", srv.port, "/x")
        with self.serve(answer(self.OK), pair=self.other) as srv:
            other = run_client("-q", "--insecure", "127.0.0.1", srv.port, "/x")
        for r in (res, other):
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.stdout, self.BODY)
            self.assertEqual(r.stderr, b"client: warning: --insecure: the server's certificate "
                                       b"and name are not verified\n")

    def test_certificate_for_another_name_fails(self):
        for host, reason in (("localhost", "hostname mismatch"), ("127.0.0.1", "IP address mismatch")):
            with self.subTest(host=host):
                with self.serve(answer(self.OK), pair=self.other) as srv:
                    res = run_client("--cacert", self.ca.cert, host, srv.port, "/x")
                self.assert_fails(res, r"^client: cannot verify the certificate of %s port %d: %s$"
                                  % (re.escape(host), srv.port, reason))
                self.assertEqual(srv.requests, [])

    def test_stalled_handshake_times_out(self):
        def stall(server, conn):
            conn.recv(65536)  # the ClientHello, never answered
            server.hold()

        with FakeServer(stall) as srv:
            res = run_client("-t", "1", "--cacert", self.ca.cert, "127.0.0.1", srv.port, "/")
        self.assert_fails(res, r"^client: timed out after 1 s in the TLS handshake with "
                               r"127\.0\.0\.1 port %d$" % srv.port)
        self.assertGreaterEqual(res.elapsed, 0.9)
        self.assertLess(res.elapsed, 10 * SLOW)

    def test_stalled_response_times_out(self):
        with self.serve(answer(hold=True)) as srv:
            res = run_client("-t", "0.5", "--cacert", self.ca.cert, "127.0.0.1", srv.port, "/")
        self.assert_fails(res, r"^client: timed out after 0\.5 s waiting for the response$")
        self.assertLess(res.elapsed, 10 * SLOW)

    def test_tls_1_1_is_refused(self):
        # The client asks for TLS 1.2 at least, so a TLS 1.1 server gets a
        # protocol_version alert. (Without that floor the handshake still fails on
        # this OpenSSL, but later and for another reason: a legacy signature.)
        with self.serve(answer(self.OK), legacy=True) as srv:
            res = run_client("--insecure", "127.0.0.1", srv.port, "/")
        self.assertEqual(res.rc, 3, res)
        self.assertRegex(res.stderr.decode(), r"^client: warning: --insecure: .*\n"
                                              r"client: TLS handshake with 127\.0\.0\.1 port %d "
                                              r"failed: .*protocol version\n$" % srv.port)
        self.assertEqual(srv.requests, [])

    def test_plain_http_server_fails_the_handshake(self):
        def plain(server, conn):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        with FakeServer(plain) as srv:
            res = run_client("--tls", "127.0.0.1", srv.port, "/")
        self.assert_fails(res, r"^client: TLS handshake with 127\.0\.0\.1 port %d failed: \S" % srv.port)

    def test_big_chunked_body_and_repeat(self):
        # 1 MiB in odd-sized chunks crosses many TLS records and WANT_READ waits;
        # -r 3 keeps one TLS connection for three requests.
        body = os.urandom(1 << 20)
        rng = random.Random(13)
        resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                chunked(body, [rng.randint(1, 70000) for _ in range(50)]))
        with self.serve(keep_alive([resp] * 3)) as srv:
            res = run_client("-q", "-r", "3", "--cacert", self.ca.cert, "localhost", srv.port, "/big")
        self.assert_ok(res)
        self.assertTrue(res.stdout == body * 3, "the body differs (%d bytes)" % len(res.stdout))
        self.assertEqual(srv.connections, 1)
        self.assertEqual(len(srv.requests), 3)

    def test_close_delimited_body_needs_close_notify(self):
        resp = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + self.BODY
        with self.serve(answer(resp), unwrap=True) as srv:
            res = run_client("-q", "--cacert", self.ca.cert, "127.0.0.1", srv.port, "/")
        self.assert_ok(res)
        self.assertEqual(res.stdout, self.BODY)
        # Without close_notify, the end of the body cannot be told from a cut.
        with self.serve(answer(resp)) as srv:
            res = run_client("-q", "--cacert", self.ca.cert, "127.0.0.1", srv.port, "/")
        self.assert_fails(res, r"^client: connection closed without a TLS close_notify: "
                               r"the body may be truncated$")
        # A Content-Length body is complete when its bytes are in, close_notify or not.
        with self.serve(answer(self.OK)) as srv:
            self.assert_ok(run_client("--cacert", self.ca.cert, "127.0.0.1", srv.port, "/"))

    def test_tls_usage_errors(self):
        missing = os.path.join(self.tmp, "no-such-ca.pem")
        not_pem = os.path.join(self.tmp, "not-pem.txt")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        with FakeServer(answer(self.OK)) as srv:
            for args, pattern in (
                (("--cacert", missing), r"cannot load CA certificates from '.*no-such-ca\.pem': "),
                (("--cacert", not_pem), r"cannot load CA certificates from '.*not-pem\.txt': "),
                (("--insecure", "--cacert", self.ca.cert), r"contradict"),
                (("--cacert=",), r"needs a file name"),
                (("--tls=yes",), r"--tls"),
            ):
                with self.subTest(args=args):
                    res = run_client(*args, "127.0.0.1", srv.port, "/")
                    self.assert_fails(res, pattern, rc=2)
            res = run_client("127.0.0.1", srv.port, "/", "--cacert")
            self.assert_fails(res, r"^client: option '--cacert' needs a value$", rc=2)
        self.assertEqual(srv.connections, 0, "the client connected despite a usage error")

    def test_help_lists_the_tls_options(self):
        res = run_client("--help")
        self.assert_ok(res)
        for opt in (b"--tls", b"--cacert=FILE", b"--insecure"):
            self.assertIn(opt, res.stdout)


class RealServerTlsTest(ClientTestCase):
    """The client against webserver's own TLS listener (--tls-cert/--tls-key/--tls-port)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        if OPENSSL is None:
            raise unittest.SkipTest("the openssl command is not installed")
        usage = subprocess.run([WEBSERVER, "--help"], capture_output=True, timeout=30).stdout
        missing = [f for f in (b"--tls-cert", b"--tls-key", b"--tls-port") if f not in usage]
        if missing:
            raise unittest.SkipTest("webserver has no %s yet" % b", ".join(missing).decode())
        cls.tmp = tempfile.mkdtemp(prefix="ws-client-tls-")
        cls.root = make_root()
        try:
            cls.ca = ThrowAwayCA(cls.tmp, "ca")
            cert, key = cls.ca.issue("local", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
            cls.server = Server(cls.root, ["--tls-cert", cert, "--tls-key", key, "--tls-port", "0"])
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
            if rc != 0 or cls.server.foreign_stderr():
                raise AssertionError("server exit %s, stderr:\n%s" % (rc, "\n".join(cls.server.stderr_lines)))
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            shutil.rmtree(cls.root, ignore_errors=True)

    def tls_port(self):
        for line in self.server.stderr_lines:
            m = re.search(r"https:\S*:(\d+)", line)
            if m:
                return int(m.group(1))
        self.fail("no https: listener in the start-up line: %r" % self.server.stderr_lines)

    def test_get_over_tls(self):
        with open(os.path.join(self.root, "HelloWorld.html"), "rb") as f:
            expected = f.read()
        port = self.tls_port()
        for host in ("localhost", "127.0.0.1"):
            with self.subTest(host=host):
                res = run_client("-r", "2", "--cacert", self.ca.cert, host, port, "/HelloWorld.html")
                self.assert_ok(res)
                responses = split_responses(res.stdout)
                self.assertEqual(len(responses), 2)
                for head, body in responses:
                    self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), res)
                    self.assertEqual(body, expected)
        res = run_client("--tls", "localhost", port, "/HelloWorld.html")
        self.assert_fails(res, r"cannot verify the certificate of localhost port %d: " % port)


if __name__ == "__main__":
    unittest.main()
