"""HTTP/2 itself, against the real server: negotiation (ALPN h2 over TLS, h2c with
prior knowledge on the cleartext port, `Upgrade: h2c` ignored, --http2 off), real
clients (curl --http2 and --http2-prior-knowledge, nghttp), the same response plan
as HTTP/1.1 answer for answer, the access log (HTTP/2.0 and the stream id), a
connection with 100 concurrent 1 MiB downloads that must not starve other clients,
tiny and zero flow-control windows, the idle timeout with GOAWAY, SIGTERM during a
download, and the SIGUSR1 statistics.

The HTTP-semantics suites run over HTTP/2 as well (WS_H2=1, ctest labels
integration-h2 and integration-h2-tls); HTTP/2's frame-level rules are in
tests/conformance_h2/. Every wait here is bounded, and scaled by wshelper.SLOW.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from wshelper import (
    CURL,
    SLOW,
    WEBSERVER,
    H2Client,
    Server,
    curl_command,
    h2_fetch,
    h2_tls_context,
    h2lib,
    make_root,
    tls_context,
    tls_wrap,
    wait_until,
    write_file,
)

NGHTTP = "/usr/bin/nghttp"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MIB = 1 << 20

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE = 0x2, 0x4
MAX_WINDOW = (1 << 31) - 1

# Files of the test root, beyond make_root()'s (index.html, HelloWorld.html,
# big.bin of 4 MiB, sub/, noindex/).
MIB_DATA = os.urandom(MIB)
WINDOW_TXT = b"".join(b"line %05d of a file read through a tiny window\n" % i for i in range(400))


def frame(ftype, flags, stream_id, payload=b""):
    """One HTTP/2 frame (RFC 9113 §4.1)."""
    return struct.pack(">I", len(payload))[1:] + bytes((ftype, flags)) + struct.pack(">I", stream_id) + payload


def settings_payload(values):
    return b"".join(struct.pack(">HI", k, v) for k, v in values.items())


def literal_block(fields):
    """An HPACK header block of literal fields without indexing and without Huffman
    (RFC 7541 §6.2.2): it touches no dynamic table, so it can be sent again and again."""
    out = b""
    for name, value in fields:
        name, value = name.encode("latin-1"), value.encode("latin-1")
        assert len(name) < 127 and len(value) < 127
        out += b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value
    return out


def open_socket(port, tls, alpn=("h2",), timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    return tls_wrap(s, h2_tls_context(alpn)) if tls else s


def h1_get(port, path, tls, timeout=10.0):
    """One HTTP/1.1 GET with Connection: close; returns (status line, body bytes after
    the head). Independent of WS_H2 (this file talks both protocols on purpose)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    if tls:
        s = tls_wrap(s, tls_context())
    with s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode("latin-1"), body


class Hog(threading.Thread):
    """A client that keeps `streams` downloads of path open on one HTTP/2 connection at
    all times (a new request as each one ends) and reads as fast as it can, with
    windows so large that flow control never stops the server: the connection always
    has output, so only the server's per-turn budget lets its worker go.

    It speaks raw frames (literal_block, no HPACK state) so that parsing never slows it
    down. bytes, completed and resets count what it got; error holds what went wrong."""

    def __init__(self, port, tls, path, streams=100):
        super().__init__(daemon=True)
        self.sock = open_socket(port, tls)
        self.block = literal_block([(":method", "GET"), (":scheme", "https" if tls else "http"),
                                    (":authority", "localhost"), (":path", path)])
        self.streams = streams
        self.next_id = 1
        self.bytes = 0
        self.completed = 0
        self.resets = 0
        self.goaway = None
        self.error = None
        self.halt = threading.Event()

    def _request(self):
        sid = self.next_id
        self.next_id += 2
        return frame(HEADERS, END_STREAM | END_HEADERS, sid, self.block)

    def run(self):
        try:
            out = PREFACE + frame(SETTINGS, 0, 0, settings_payload(
                {SETTINGS_ENABLE_PUSH: 0, SETTINGS_INITIAL_WINDOW_SIZE: MAX_WINDOW}))
            out += frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - 65535))
            out += b"".join(self._request() for _ in range(self.streams))
            self.sock.sendall(out)
            buf = bytearray()
            unacknowledged = 0
            self.sock.settimeout(0.5)
            while not self.halt.is_set():
                try:
                    data = self.sock.recv(1 << 20)
                except socket.timeout:
                    continue
                if not data:
                    self.error = self.error or "the server closed the connection"
                    return
                buf += data
                out = b""
                pos = 0
                while len(buf) - pos >= 9:
                    length = int.from_bytes(buf[pos:pos + 3], "big")
                    if len(buf) - pos < 9 + length:
                        break
                    ftype, flags = buf[pos + 3], buf[pos + 4]
                    payload = bytes(buf[pos + 9:pos + 9 + length]) if ftype not in (DATA,) else b""
                    pos += 9 + length
                    if ftype == DATA:
                        self.bytes += length
                        unacknowledged += length
                    if ftype in (DATA, HEADERS) and flags & END_STREAM or ftype == RST_STREAM:
                        self.completed += ftype != RST_STREAM
                        self.resets += ftype == RST_STREAM
                        if not self.halt.is_set():
                            out += self._request()
                    elif ftype == SETTINGS and not flags & ACK:
                        out += frame(SETTINGS, ACK, 0)
                    elif ftype == PING and not flags & ACK:
                        out += frame(PING, ACK, 0, payload)
                    elif ftype == GOAWAY:
                        self.goaway = payload
                        self.error = "GOAWAY %r" % payload[:40]
                        return
                del buf[:pos]
                if unacknowledged > 1 << 30:
                    out += frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", unacknowledged))
                    unacknowledged = 0
                if out:
                    self.sock.settimeout(10 * SLOW)
                    self.sock.sendall(out)
                    self.sock.settimeout(0.5)
        except Exception as e:  # noqa: BLE001  (reported by the test)
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.sock.close()


class H2TestCase(unittest.TestCase):
    """One document root for the class; each test starts the servers it needs."""

    @classmethod
    def setUpClass(cls):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        h2lib()
        cls.root = make_root()
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        write_file(os.path.join(cls.root, "mib.bin"), MIB_DATA)
        write_file(os.path.join(cls.root, "window.txt"), WINDOW_TXT)

    def start(self, *args, tls=True, **kwargs):
        """A server on the class's root with args (TLS and cleartext ports by default),
        stopped at the end of the test: it must exit 0 with nothing foreign on stderr."""
        server = Server(self.root, args, tls=tls, **kwargs)
        self.addCleanup(self._finish, server)
        return server

    def _finish(self, server):
        if server.proc.poll() is None:
            server.stop_checked(self)
        else:
            server.kill()

    def file(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def transports(self, server):
        """(name, port, tls) for h2 over TLS and h2c on server."""
        return (("h2", server.https_port, True), ("h2c", server.http_port, False))


# --- negotiation ---------------------------------------------------------------------


class NegotiationTest(H2TestCase):
    def test_alpn_negotiates_h2_first(self):
        server = self.start()
        with open_socket(server.https_port, True, alpn=("h2", "http/1.1")) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
        # And h2 is then spoken on it.
        with H2Client(server.https_port, tls=True, alpn=("h2", "http/1.1")) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "h2")
            r = c.request("/HelloWorld.html")
            self.assertEqual((r.status, r.body), (200, self.file("HelloWorld.html")))

    def test_alpn_http11_and_no_alpn_get_http11(self):
        server = self.start()
        with open_socket(server.https_port, True, alpn=("http/1.1",)) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        ctx = h2_tls_context(())
        with tls_wrap(socket.create_connection(("127.0.0.1", server.https_port), timeout=10 * SLOW),
                      ctx) as s:
            self.assertIsNone(s.selected_alpn_protocol())
            s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:80])
        line, body = h1_get(server.https_port, "/HelloWorld.html", True)
        self.assertEqual((line, body), ("HTTP/1.1 200 OK", self.file("HelloWorld.html")))

    def test_preface_on_cleartext_is_answered_with_settings(self):
        server = self.start(tls=False)
        with open_socket(server.http_port, False) as s:
            s.sendall(PREFACE + frame(SETTINGS, 0, 0))
            head = b""
            while len(head) < 9:
                chunk = s.recv(9 - len(head))
                self.assertTrue(chunk, "closed before the server's first frame")
                head += chunk
        # The server's connection preface is a SETTINGS frame (RFC 9113 §3.4).
        self.assertEqual((head[3], head[4] & ACK, head[5:9]), (SETTINGS, 0, b"\0\0\0\0"), head)

    def test_server_settings_allow_100_concurrent_streams(self):
        server = self.start()
        codes = h2lib().settings.SettingCodes
        for name, port, tls in self.transports(server):
            with self.subTest(name), H2Client(port, tls=tls) as c:
                c.request("/HelloWorld.html")
                self.assertEqual(c.remote_settings.get(codes.MAX_CONCURRENT_STREAMS), 100,
                                 c.remote_settings)

    def test_upgrade_h2c_is_ignored(self):
        server = self.start(tls=False)
        with open_socket(server.http_port, False) as s:
            s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                      b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
                      b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:100])
        self.assertNotIn(b"101 Switching", data)
        # The connection stayed HTTP/1.1: the second request is answered in HTTP/1.1 too.
        self.assertEqual(data.count(b"HTTP/1.1 200 OK\r\n"), 2, data[:400])
        self.assertIn(self.file("HelloWorld.html"), data)
        self.assertTrue(data.endswith(self.file("index.html")), data[-100:])

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl_http2_on_cleartext_stays_http11(self):
        # curl --http2 on http:// asks for Upgrade: h2c, which the server ignores.
        server = self.start(tls=False)
        p = subprocess.run(curl_command(server.http_port, "/HelloWorld.html", "-s", "-S", "-f",
                                        "--http2", "-w", "\n%{http_version}", https=False, h2=False),
                           capture_output=True, timeout=20 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        body, _, version = p.stdout.rpartition(b"\n")
        self.assertEqual((version, body), (b"1.1", self.file("HelloWorld.html")))

    def test_http2_off(self):
        server = self.start("--http2", "off")
        with open_socket(server.https_port, True, alpn=("h2", "http/1.1")) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        # A client that offers only h2 gets no h2: no protocol, or a refused handshake.
        try:
            with open_socket(server.https_port, True, alpn=("h2",)) as s:
                self.assertNotEqual(s.selected_alpn_protocol(), "h2")
        except (ssl.SSLError, ConnectionResetError):
            pass
        # The preface on the cleartext port is an HTTP/1.1 request like any other:
        # no SETTINGS frame comes back, an HTTP/1.1 error or a close does.
        with open_socket(server.http_port, False) as s:
            s.sendall(PREFACE + frame(SETTINGS, 0, 0))
            data = b""
            deadline = time.monotonic() + 5 * SLOW
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 "), data[:80])
        # HTTP/1.1 still works on both ports.
        self.assertEqual(h1_get(server.https_port, "/HelloWorld.html", True)[0], "HTTP/1.1 200 OK")
        self.assertEqual(h1_get(server.http_port, "/HelloWorld.html", False)[0], "HTTP/1.1 200 OK")
        if CURL:
            p = subprocess.run(curl_command(server.https_port, "/HelloWorld.html", "-s", "-o", "/dev/null",
                                            "-w", "%{http_version}", https=True, h2=True),
                               capture_output=True, timeout=20 * SLOW)
            self.assertEqual((p.returncode, p.stdout), (0, b"1.1"), p.stderr)


# --- real clients --------------------------------------------------------------------


class ClientsTest(H2TestCase):
    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl_over_tls_and_prior_knowledge(self):
        server = self.start()
        for name, port, tls in self.transports(server):
            for path in ("/HelloWorld.html", "/mib.bin"):
                with self.subTest(name, path=path), tempfile.TemporaryDirectory(prefix="ws-curl-") as work:
                    out = os.path.join(work, "out")
                    p = subprocess.run(curl_command(port, path, "-s", "-S", "-f", "-o", out,
                                                    "-w", "%{http_version} %{http_code}", https=tls, h2=True),
                                       capture_output=True, timeout=30 * SLOW)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, b"2 200")
                    with open(out, "rb") as f:
                        self.assertTrue(f.read() == self.file(path[1:]), "%s: curl got other bytes" % path)

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl_head_and_range(self):
        server = self.start()
        for name, port, tls in self.transports(server):
            with self.subTest(name):
                p = subprocess.run(curl_command(port, "/mib.bin", "-s", "-S", "-f", "-r", "1000-1999",
                                                "-D", "-", https=tls, h2=True),
                                   capture_output=True, timeout=30 * SLOW)
                self.assertEqual(p.returncode, 0, p.stderr)
                head, _, body = p.stdout.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/2 206"), head)
                self.assertIn(b"\r\ncontent-range: bytes 1000-1999/%d" % MIB, head)
                self.assertEqual(body, MIB_DATA[1000:2000])
                p = subprocess.run(curl_command(port, "/mib.bin", "-s", "-S", "-f", "-I", https=tls, h2=True),
                                   capture_output=True, timeout=30 * SLOW)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(p.stdout.startswith(b"HTTP/2 200"), p.stdout)
                self.assertIn(b"\r\ncontent-length: %d\r\n" % MIB, p.stdout)
                self.assertNotIn(b"\r\nconnection:", p.stdout.lower())

    @unittest.skipUnless(os.access(NGHTTP, os.X_OK), "nghttp is missing (Debian nghttp2-client)")
    def test_nghttp(self):
        server = self.start()
        files = ("HelloWorld.html", "mib.bin", "big.bin")
        for name, port, tls in self.transports(server):
            with self.subTest(name):
                urls = ["%s://127.0.0.1:%d/%s" % ("https" if tls else "http", port, f) for f in files]
                p = subprocess.run([NGHTTP, "-nv"] + urls, capture_output=True, timeout=60 * SLOW)
                out = p.stdout.decode("utf-8", "replace")
                self.assertEqual(p.returncode, 0, out[-2000:] + p.stderr.decode("utf-8", "replace"))
                if tls:
                    self.assertIn("The negotiated protocol: h2", out)
                statuses = dict(re.findall(r"recv \(stream_id=(\d+)\) :status: (\d+)", out))
                self.assertEqual(sorted(statuses.values()), ["200"] * len(files), out[-2000:])
                sizes = {}
                ended = set()
                for length, flags, sid in re.findall(
                        r"recv DATA frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>", out):
                    sizes[sid] = sizes.get(sid, 0) + int(length)
                    if int(flags, 16) & END_STREAM:
                        ended.add(sid)
                self.assertEqual(sorted(sizes.values()),
                                 sorted(len(self.file(f)) for f in files), sizes)
                self.assertEqual(ended, set(statuses), "streams without END_STREAM")
                self.assertNotIn("recv RST_STREAM", out)
                self.assertNotRegex(out, r"recv GOAWAY frame <[^>]*>\s*\(last_stream_id=\d+, error_code=(?!NO_ERROR)")


# --- the same response plan as HTTP/1.1 ------------------------------------------------

# Fields that must be the same over both protocols (Date may tick between the two).
SAME_FIELDS = ("content-type", "content-length", "content-range", "content-encoding", "etag",
               "last-modified", "cache-control", "vary", "allow", "location", "accept-ranges", "server")


class SamePlanTest(H2TestCase):
    """Every answer over HTTP/2 equals the HTTP/1.1 one: status, body and fields, for the
    corners that the shared suites reach only with raw HTTP/1.1 requests."""

    REQUESTS = (
        ("GET", "/HelloWorld.html", ()),
        ("HEAD", "/big.bin", ()),
        ("GET", "/mib.bin", (("Range", "bytes=0-99,200-299"),)),
        ("GET", "/mib.bin", (("Range", "bytes=%d-" % (2 * MIB)),)),
        ("OPTIONS", "*", ()),
        ("OPTIONS", "/index.html", ()),
        ("POST", "/index.html", ()),
        ("DELETE", "/index.html", ()),
        ("BREW", "/index.html", ()),
        ("GET", "/sub", ()),
        ("GET", "/noindex/", ()),
        ("GET", "/missing.html", ()),
        ("GET", "/../../etc/passwd", ()),
        ("GET", "/%2e%2e/%2e%2e/etc/passwd", ()),
        ("GET", "/sub/..%2f..%2fetc/passwd", ()),
        ("GET", "/%00", ()),
        ("GET", "/.hidden", ()),
        ("GET", "/HelloWorld.html", (("If-None-Match", "*"),)),
        ("GET", "/HelloWorld.html", (("If-Match", '"nope"'),)),
    )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        write_file(os.path.join(cls.root, ".hidden"), b"a dotfile\n")

    def h1(self, port, tls, method, path, headers):
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        if tls:
            s = tls_wrap(s, tls_context())
        raw = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (method, path)
        raw += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        with s:
            s.sendall(raw.encode("latin-1"))
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
        return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in fields}, body

    def test_every_answer_matches_http11(self):
        server = self.start()
        for name, port, tls in self.transports(server):
            for method, path, headers in self.REQUESTS:
                with self.subTest(name, request="%s %s %r" % (method, path, headers)):
                    status, fields, body = self.h1(port, tls, method, path, headers)
                    r = h2_fetch(port, path, method, [("Host", "localhost")] + list(headers), tls=tls)
                    self.assertEqual(r.status, status)
                    if method == "HEAD":
                        body = b""
                    if 'boundary=' in (fields.get("content-type") or ""):
                        # Each response draws its own multipart boundary.
                        self.assertEqual(len(r.body), len(body))
                        self.assertTrue(r.header("content-type").startswith("multipart/byteranges"))
                    else:
                        self.assertTrue(r.body == body, "bodies differ: %r vs %r" % (r.body[:80], body[:80]))
                    for f in SAME_FIELDS:
                        if f == "content-type" and 'boundary=' in (fields.get(f) or ""):
                            continue
                        self.assertEqual(r.header(f), fields.get(f), f)
                    self.assertIsNone(r.header("connection"))
                    self.assertNotIn(b"a dotfile", r.body)
                    self.assertNotIn(b"root:", r.body)

    def test_many_streams_at_once_on_one_connection(self):
        server = self.start()
        files = ["HelloWorld.html", "index.html", "mib.bin", "window.txt", "sub/index.html"] * 12
        for name, port, tls in self.transports(server):
            with self.subTest(name), H2Client(port, tls=tls, timeout=30) as c:
                sids = [c.send_request("/" + f) for f in files]
                for sid, f in zip(sids, files):
                    r = c.response(sid)
                    self.assertEqual(r.status, 200, f)
                    self.assertTrue(r.body == self.file(f), "stream %d (%s): other bytes" % (sid, f))
                self.assertIsNone(c.goaway)


# --- the access log -------------------------------------------------------------------


class AccessLogTest(H2TestCase):
    def log_lines(self, fmt):
        """For h2 and h2c in turn: a connection with two streams (a GET of
        /HelloWorld.html, a HEAD of /missing.html) to a server with --log-format fmt.
        Returns {transport: the two access-log lines}."""
        tmp = tempfile.mkdtemp(prefix="ws-h2log-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "access.log")
        server = self.start("--log-format", fmt, access_log=path)

        def lines():
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read().splitlines()
            except FileNotFoundError:
                return []
        out = {}
        for name, port, tls in self.transports(server):
            seen = len(lines())
            with H2Client(port, tls=tls) as c:
                self.assertEqual(c.request("/HelloWorld.html").status, 200)
                self.assertEqual(c.request("/missing.html", method="HEAD").status, 404)
            self.assertTrue(wait_until(lambda: len(lines()) >= seen + 2, 5), "access log: %r" % lines())
            out[name] = lines()[seen:]
        return out

    def test_combined_shows_http2(self):
        size = len(self.file("HelloWorld.html"))
        for name, lines in self.log_lines("combined").items():
            with self.subTest(name):
                self.assertEqual(len(lines), 2, lines)
                self.assertIn('"GET /HelloWorld.html HTTP/2.0" 200 %d ' % size, lines[0])
                self.assertIn('"HEAD /missing.html HTTP/2.0" 404 ', lines[1])

    def test_timing_shows_the_stream(self):
        for name, lines in self.log_lines("timing").items():
            with self.subTest(name):
                self.assertIn('"GET /HelloWorld.html HTTP/2.0" 200 ', lines[0])
                self.assertRegex(lines[0], r" stream=1(\s|$)")
                self.assertRegex(lines[1], r" stream=3(\s|$)")

    def test_json_shows_the_stream(self):
        for name, lines in self.log_lines("json").items():
            with self.subTest(name):
                records = [json.loads(l) for l in lines]
                self.assertEqual([r["request"] for r in records],
                                 ["GET /HelloWorld.html HTTP/2.0", "HEAD /missing.html HTTP/2.0"])
                self.assertEqual([r.get("stream") for r in records], [1, 3], records)
                self.assertEqual([r["status"] for r in records], [200, 404])


# --- fairness and flow control ----------------------------------------------------------

SMALL_BOUND = 2.0  # seconds a small request may take while other connections are busy


class FairnessTest(H2TestCase):
    def timed_small_requests(self, server, n, bound=SMALL_BOUND):
        """n small requests from other clients (alternately a fresh h2 connection, a fresh
        h2c one and HTTP/1.1 over TLS), each checked and timed; returns the slowest time."""
        slowest = 0.0
        for i in range(n):
            kind = i % 3
            start = time.monotonic()
            if kind == 0:
                r = h2_fetch(server.https_port, "/HelloWorld.html", tls=True, timeout=bound * 5)
                status, body = r.status, r.body
            elif kind == 1:
                r = h2_fetch(server.http_port, "/HelloWorld.html", tls=False, timeout=bound * 5)
                status, body = r.status, r.body
            else:
                line, body = h1_get(server.https_port, "/HelloWorld.html", True, timeout=bound * 5)
                status = int(line.split(" ")[1])
            took = time.monotonic() - start
            self.assertEqual((status, body), (200, self.file("HelloWorld.html")))
            self.assertLess(took, bound * SLOW, "small request %d (kind %d) took %.2f s" % (i, kind, took))
            slowest = max(slowest, took)
        return slowest

    def hog_test(self, tls):
        server = self.start("--threads", "2", "--min-rate", "0")
        # As many busy connections as workers: without a per-turn budget both
        # workers would stay on them.
        hogs = [Hog(server.https_port if tls else server.http_port, tls, "/mib.bin") for _ in range(2)]
        for h in hogs:
            h.start()

        def stop_hogs():
            for h in hogs:
                h.halt.set()
            for h in hogs:
                h.join(10 * SLOW)
        self.addCleanup(stop_hogs)
        self.assertTrue(wait_until(lambda: all(h.bytes >= 4 * MIB or h.error for h in hogs), 20),
                        "the busy connections did not get going: %r" % [(h.bytes, h.error) for h in hogs])
        before = [h.bytes for h in hogs]
        slowest = self.timed_small_requests(server, 15)
        after = [h.bytes for h in hogs]
        stop_hogs()
        for h, b, a in zip(hogs, before, after):
            self.assertIsNone(h.error)
            # The busy connections were served all along (the test is not vacuous).
            self.assertGreater(a - b, 4 * MIB, "a busy connection stalled: %d bytes" % (a - b))
            self.assertEqual(h.resets, 0)
        self.assertLess(slowest, SMALL_BOUND * SLOW, "slowest small request %.3f s" % slowest)

    def test_100_busy_streams_do_not_starve_other_clients_h2c(self):
        self.hog_test(False)

    def test_100_busy_streams_do_not_starve_other_clients_h2(self):
        self.hog_test(True)

    def test_100_stalled_downloads_hold_no_worker(self):
        # 100 concurrent 1 MiB downloads that are not read after the first window.
        server = self.start("--threads", "2", "--min-rate", "0")
        for name, port, tls in self.transports(server):
            with self.subTest(name), H2Client(port, tls=tls, auto_window=False) as c:
                sids = [c.send_request("/mib.bin") for _ in range(100)]
                # The connection's window (65535) is all the server may send.
                c.wait(lambda: sum(c.streams[s].received for s in sids) >= 65535, 20,
                       "the first window")
                self.timed_small_requests(server, 6)
                self.assertTrue(all(not c.streams[s].done for s in sids))

    def tiny_window(self, window, path, delay):
        """Reads path through a stream window of `window` bytes, granting each DATA
        frame's bytes back (WINDOW_UPDATE) delay seconds after it arrived; meanwhile another thread makes small
        requests from other clients. The server runs one worker: a connection that held
        it would starve them."""
        server = self.start("--threads", "1", "--min-rate", "0")
        data = self.file(path[1:])
        codes = h2lib().settings.SettingCodes
        events = h2lib().events
        results = {"times": [], "error": None}
        done = threading.Event()

        def others():
            try:
                while not done.is_set():
                    start = time.monotonic()
                    r = h2_fetch(server.http_port, "/index.html", tls=False, timeout=SMALL_BOUND * 5)
                    if r.status != 200:
                        raise AssertionError("status %d" % r.status)
                    results["times"].append(time.monotonic() - start)
                    done.wait(0.05)
            except Exception as e:  # noqa: BLE001  (asserted below)
                results["error"] = e
        side = threading.Thread(target=others, daemon=True)
        try:
            with H2Client(server.https_port, tls=True, auto_window=False, timeout=60,
                          settings={codes.INITIAL_WINDOW_SIZE: window}) as c:
                sid = c.send_request(path)
                stream = c.streams[sid]
                started = time.monotonic()
                side.start()
                frames = 0
                outstanding = window
                while not stream.done:
                    self.assertLess(time.monotonic() - started, 60 * SLOW, "the tiny-window read took too long")
                    for e in c.pump(1.0):
                        if isinstance(e, events.DataReceived) and e.stream_id == sid:
                            frames += 1
                            self.assertLessEqual(e.flow_controlled_length, outstanding,
                                                 "DATA beyond the window granted")
                            outstanding -= e.flow_controlled_length
                            if e.flow_controlled_length and not stream.done:
                                time.sleep(delay)
                                c.grant(sid, e.flow_controlled_length)
                                outstanding += e.flow_controlled_length
                    self.assertIsNone(c.eof, "connection ended during a tiny-window read")
                r = c.response(sid)
        finally:
            done.set()
            side.join(30 * SLOW)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body == data, "the tiny-window body differs")
        self.assertGreaterEqual(frames, len(data) // window, "bytes came faster than the window")
        self.assertIsNone(results["error"])
        self.assertGreater(len(results["times"]), 3, "the other clients were barely served")
        self.assertLess(max(results["times"]), SMALL_BOUND * SLOW, results["times"])

    def test_window_of_100_bytes(self):
        self.tiny_window(100, "/window.txt", 0.01)

    def test_window_of_1_byte(self):
        self.tiny_window(1, "/HelloWorld.html", 0.004)


# --- a file's DATA frames over TLS, read ahead --------------------------------------------

# Every 16 bytes say their own offset, so a payload from the wrong place shows where it came from.
STAMPED = b"".join(b"%015d\n" % off for off in range(0, 3 * MIB + 5000, 16))


class ReadAheadTest(H2TestCase):
    """Over TLS the payloads of a file's DATA frames are read ahead, several frames in
    one read, into their places in the output buffer (h2.c, read_ahead). What was read
    ahead stands only while the next DATA frame is the same stream's, at the same place,
    offset and length; each case here makes it go stale another way (windows that cut
    frames short, other streams' frames in between, a full socket, a range ending inside
    a frame), and a body must still come out byte for byte."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        write_file(os.path.join(cls.root, "stamped.bin"), STAMPED)

    def check_body(self, got, want, what):
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            self.fail("%s: %d bytes, want %d; first difference at %d: %r" % (
                what, len(got), len(want), at, got[at - at % 16:at - at % 16 + 32]))

    def test_windows_that_cut_frames_short(self):
        server = self.start()
        codes = h2lib().settings.SettingCodes
        with H2Client(server.https_port, tls=True, auto_window=False, timeout=60,
                      settings={codes.INITIAL_WINDOW_SIZE: 40000}) as c:
            sid = c.send_request("/stamped.bin")
            stream = c.streams[sid]
            grants = (30001, 70000, 16384, 5, 100000, 49153)
            i = 0
            while not stream.done:
                granted = stream.received
                c.wait(lambda: stream.done or stream.received > granted, 20, "more DATA")
                if not stream.done:
                    # The connection's window starts at 65535: keep it ahead of the stream's.
                    c.grant(sid, stream.received - granted + grants[i % len(grants)])
                    i += 1
            self.check_body(c.response(sid).body, STAMPED, "stamped.bin")

    def test_other_streams_between_frames(self):
        server = self.start()
        with H2Client(server.https_port, tls=True, timeout=60) as c:
            big = c.send_request("/stamped.bin")
            small = []
            while not c.streams[big].done:
                c.pump(0.01)
                if len(small) < 40:
                    small.append((c.send_request("/HelloWorld.html"), "HelloWorld.html"))
                    if len(small) % 8 == 0:
                        small.append((c.send_request("/mib.bin"), "mib.bin"))
            self.check_body(c.response(big).body, STAMPED, "stamped.bin")
            for sid, name in small:
                self.check_body(c.response(sid).body, self.file(name), name)

    def test_slow_reader(self):
        # A socket that fills up: turns end with frames half-written, and the next
        # turn may run on another worker, with another output buffer.
        server = self.start("--threads", "4", "--min-rate", "0")
        with H2Client(server.https_port, tls=True, timeout=60, connection_window=16 * MIB,
                      settings={h2lib().settings.SettingCodes.INITIAL_WINDOW_SIZE: 8 * MIB}) as c:
            sids = [c.send_request("/stamped.bin")]
            for _ in range(5):
                time.sleep(0.2)  # not read: the server finds the socket full
                c.pump(0.01)
            for sid in sids:
                self.check_body(c.response(sid).body, STAMPED, "stamped.bin, stream %d" % sid)

    def test_ranges_that_end_inside_a_frame(self):
        server = self.start()
        ranges = ((0, 40000), (100000, 180000), (200001, 200001 + 3 * 16384))
        spec = "bytes=" + ",".join("%d-%d" % r for r in ranges)
        with H2Client(server.https_port, tls=True, timeout=60) as c:
            r = c.request("/stamped.bin", headers=[("range", spec)])
            self.assertEqual(r.status, 206)
            for first, last in ranges:
                self.assertIn(STAMPED[first:last + 1], r.body, "range %d-%d" % (first, last))
            r = c.request("/stamped.bin", headers=[("range", "bytes=16380-%d" % (16380 + 5 * 16384 + 6))])
            self.assertEqual(r.status, 206)
            self.check_body(r.body, STAMPED[16380:16380 + 5 * 16384 + 7], "one range")


# --- timeouts and shutdown ---------------------------------------------------------------


class TimeoutTest(H2TestCase):
    def test_zero_window_stall_is_closed_after_send_timeout(self):
        server = self.start("--send-timeout", "2", "--keepalive-timeout", "60", "--min-rate", "0")
        for name, port, tls in self.transports(server):
            with self.subTest(name), H2Client(port, tls=tls, auto_window=False) as c:
                sid = c.send_request("/mib.bin")
                c.wait(lambda: c.streams[sid].received >= 65535, 10, "the first window")
                stalled = time.monotonic()
                # Everything the server sent was read: only flow control stops it now.
                self.assertTrue(c.wait_closed(2 + 5), "still open long after --send-timeout 2")
                took = time.monotonic() - stalled
                self.assertGreater(took, 1.5, "closed before --send-timeout")
                self.assertFalse(c.streams[sid].ended, "the stream cannot have ended")
                # Others are served meanwhile and after.
                self.assertEqual(h2_fetch(port, "/HelloWorld.html", tls=tls).status, 200)

    def test_idle_connection_gets_goaway_after_keepalive_timeout(self):
        server = self.start("--keepalive-timeout", "2")
        for name, port, tls in self.transports(server):
            with self.subTest(name), H2Client(port, tls=tls) as c:
                self.assertEqual(c.request("/HelloWorld.html").status, 200)
                c.request("/index.html")
                idle = time.monotonic()
                self.assertTrue(c.wait_closed(2 + 5), "idle connection still open")
                took = time.monotonic() - idle
                self.assertGreater(took, 1.5, "closed before --keepalive-timeout")
                self.assertIsNotNone(c.goaway, "closed without GOAWAY")
                self.assertEqual(c.goaway.error_code, 0, c.goaway)
                self.assertEqual(c.goaway.last_stream_id, 3, c.goaway)

    def test_sigterm_during_download(self):
        server = self.start("--shutdown-grace", "20", "--min-rate", "0")
        data = self.file("big.bin")
        c = H2Client(server.https_port, tls=True, auto_window=False, timeout=30)
        self.addCleanup(c.close)
        self.assertEqual(c.request("/HelloWorld.html").status, 200)
        sid = c.send_request("/big.bin")
        stream = c.streams[sid]
        # All the connection's window that /HelloWorld.html left (no WINDOW_UPDATE yet).
        c.wait(lambda: stream.received >= 65535 - len(self.file("HelloWorld.html")), 10, "the first window")
        server.proc.send_signal(signal.SIGTERM)
        # The GOAWAY should come at once, while the download is held by its window, so
        # that the client opens no more streams; the checks of it come last, after
        # those of the download.
        deadline = time.monotonic() + 3 * SLOW
        while c.goaway is None and c.eof is None and time.monotonic() < deadline:
            c.pump(0.2)
        goaway_while_held = c.goaway
        # Then the stream in flight finishes, read at a modest pace.
        deadline = time.monotonic() + 60 * SLOW
        while not stream.done:
            self.assertLess(time.monotonic(), deadline, "the download did not finish")
            self.assertIsNone(c.eof, "connection ended before the download finished")
            if stream.window_granted - stream.received < 128 * 1024:
                c.grant(sid, 256 * 1024)
            c.pump(0.5)
        r = c.response(sid)
        self.assertEqual(r.status, 200)
        self.assertTrue(hashlib.sha256(r.body).digest() == hashlib.sha256(data).digest(),
                        "the download was cut or changed")
        self.assertTrue(c.wait_closed(10), "connection still open after its last stream")
        try:
            rc = server.proc.wait(timeout=20 * SLOW)
        except subprocess.TimeoutExpired:
            self.fail("server still running after its last stream ended")
        self.assertEqual(rc, 0)
        self.assertEqual(server.foreign_stderr(), [])
        self.assertIsNotNone(c.goaway, "no GOAWAY before the close")
        self.assertEqual((c.goaway.error_code, c.goaway.last_stream_id), (0, sid), c.goaway)
        self.assertIsNotNone(goaway_while_held,
                             "no GOAWAY within 3 s of SIGTERM while the download waited for "
                             "its window (it came only once the client sent WINDOW_UPDATE)")

    def test_sigterm_closes_idle_connections_with_goaway(self):
        server = self.start("--shutdown-grace", "20")
        clients = []
        for name, port, tls in self.transports(server):
            c = H2Client(port, tls=tls)
            self.addCleanup(c.close)
            self.assertEqual(c.request("/HelloWorld.html").status, 200)
            clients.append(c)
        server.proc.send_signal(signal.SIGTERM)
        for c in clients:
            self.assertTrue(c.wait_closed(5), "idle connection still open after SIGTERM")
            self.assertIsNotNone(c.goaway, "closed without GOAWAY")
            self.assertEqual((c.goaway.error_code, c.goaway.last_stream_id), (0, 1), c.goaway)
        self.assertEqual(server.proc.wait(timeout=20 * SLOW), 0)


class CompressionJobTest(H2TestCase):
    """A large file compressed over several turns (a job kept on the stream): a client
    that resets the stream, or closes the connection, while the job runs leaves no
    descriptor or job behind, and the connection's other streams are answered
    meanwhile."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Hex text: about a second of gzip, far more than the test's exchanges take.
        write_file(os.path.join(cls.root, "large.txt"), os.urandom(12 << 20).hex().encode())

    def request(self, sid, path, tls, coding=None):
        fields = [(":method", "GET"), (":scheme", "https" if tls else "http"),
                  (":authority", "localhost"), (":path", path)]
        if coding:
            fields.append(("accept-encoding", coding))
        return frame(HEADERS, END_STREAM | END_HEADERS, sid, literal_block(fields))

    def read_until_end_of(self, sock, sid):
        """Frames until stream sid ends; fails on GOAWAY or a reset of sid."""
        buf = b""
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline:
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                length = int.from_bytes(buf[:3], "big")
                ftype, flags, fsid = buf[3], buf[4], struct.unpack(">I", buf[5:9])[0] & MAX_WINDOW
                buf = buf[9 + length:]
                self.assertNotEqual(ftype, GOAWAY, "the server sent GOAWAY")
                if fsid == sid and ftype == RST_STREAM:
                    self.fail("stream %d was reset" % sid)
                if fsid == sid and ftype in (HEADERS, DATA) and flags & END_STREAM:
                    return
            data = sock.recv(65536)
            self.assertTrue(data, "the server closed the connection")
            buf += data
        self.fail("stream %d did not end" % sid)

    def test_reset_and_close_during_a_job(self):
        server = self.start()
        for name, port, tls in self.transports(server):
            with self.subTest(transport=name):
                baseline = server.fd_count()
                sock = open_socket(port, tls)
                sock.sendall(PREFACE + frame(SETTINGS, 0, 0) +
                             self.request(1, "/large.txt", tls, "gzip") +
                             frame(RST_STREAM, 0, 1, struct.pack(">I", 8)) +  # CANCEL
                             self.request(3, "/index.html", tls))
                self.read_until_end_of(sock, 3)
                # A job that starts and whose connection then goes away.
                sock.sendall(self.request(5, "/large.txt", tls, "zstd"))
                time.sleep(0.1)
                sock.close()
                self.assertTrue(wait_until(lambda: server.fd_count() <= baseline, 10 * SLOW),
                                "descriptors left behind: %d, were %d"
                                % (server.fd_count(), baseline))
                # And the file is still served, compressed, to the next client.
                r = h2_fetch(port, "/large.txt", "GET", [("Host", "localhost"),
                                                         ("Accept-Encoding", "gzip")],
                             60, tls=tls)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("content-encoding"), "gzip")


class StatsTest(H2TestCase):
    def test_stats_line_counts_h2(self):
        server = self.start()
        for name, port, tls in self.transports(server):
            with H2Client(port, tls=tls) as c:
                for path in ("/HelloWorld.html", "/index.html", "/missing"):
                    c.request(path)
                # A request with a connection-specific field is malformed (RFC 9113
                # §8.2.2): the server resets that stream.
                c.conn.config.validate_outbound_headers = False
                c.conn.config.normalize_outbound_headers = False
                sid = c.send_request("/index.html", headers=[("connection", "close")])
                c.wait(lambda: c.streams[sid].done or c.goaway is not None, 10, "an answer to a malformed request")
                self.assertIsNotNone(c.streams[sid].reset, "a malformed request was answered")
        before = sum(1 for l in server.stderr_lines if " stats: " in l)
        server.proc.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: sum(1 for l in server.stderr_lines if " stats: " in l) > before, 5))
        line = [l for l in server.stderr_lines if " stats: " in l][before]
        counters = {k: int(v) for k, v in re.findall(r"\b(h2_\w+)=(\d+)", line)}
        # Two connections, three requests each, and a malformed one that the server
        # reset (it never became a request, so it is not counted as a stream).
        self.assertEqual({k: counters.get(k) for k in ("h2_connections", "h2_streams", "h2_resets_sent")},
                         {"h2_connections": 2, "h2_streams": 6, "h2_resets_sent": 2}, line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
