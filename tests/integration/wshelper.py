"""Shared helpers for the integration tests: start the real server, talk raw HTTP.

Every test starts `webserver` on `--port 0` (the kernel picks a free port),
reads the port from its start-up line on stderr, and talks to it over loopback
only. Stopping the server sends SIGTERM and checks that it exits 0 and that
nothing but its own diagnostics reached stderr (so a sanitizer report fails the
test).

Environment (set by ctest): WEBSERVER (the binary), WS_SOURCE_DIR (the source
tree), WS_SANITIZER ("", "address" or "thread").
"""

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

WEBSERVER = os.environ.get("WEBSERVER", "")
SOURCE_DIR = os.environ.get("WS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SANITIZER = os.environ.get("WS_SANITIZER", "")

# Sanitizers slow everything down; scale every wait by this.
SLOW = 4.0 if SANITIZER else 1.0

# Lines the server itself writes to stderr; anything else is a failure.
_OWN_LINE = re.compile(r"^webserver: ")


class Server:
    """A running webserver process on a free loopback port."""

    def __init__(self, root, args=(), env=None, access_log=None, prlimit_nofile=None):
        self.root = root
        cmd = [WEBSERVER, "--port", "0", "--root", root, "--bind", "127.0.0.1"]
        if access_log is None:
            cmd += ["--access-log", "off"]
        else:
            cmd += ["--access-log", access_log]
        cmd += list(args)
        if prlimit_nofile is not None:
            cmd = ["prlimit", "--nofile=%d" % prlimit_nofile, "--"] + cmd
        self.stderr_lines = []
        self._stderr_done = threading.Event()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if access_log != "-" else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.port = None
        deadline = time.monotonic() + 10 * SLOW
        while self.port is None:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            if not line:
                raise RuntimeError("server exited before listening: %r" % self.stderr_lines)
            self.stderr_lines.append(line.rstrip("\n"))
            m = re.search(r"listening on \S*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            if time.monotonic() > deadline:
                raise RuntimeError("server did not report its port")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self._stderr_done.set()

    @property
    def pid(self):
        return self.proc.pid

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout * SLOW)
        return s

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def alive(self):
        return self.proc.poll() is None

    def foreign_stderr(self):
        """Lines on stderr that the server did not write itself (sanitizer reports...)."""
        return [l for l in self.stderr_lines if l and not _OWN_LINE.match(l)]

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Signals the server and returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit within %.0fs of %s" % (timeout, sig))
        self._stderr_done.wait(5)
        return rc


def request(port, raw, timeout=5.0, read_until_close=True):
    """Sends raw bytes and returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        s.sendall(raw)
        if not read_until_close:
            return read_response(s)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


class Response:
    def __init__(self, status, reason, version, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping leftover bytes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        version, status, reason = (lines[0].decode("latin-1").split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            k, v = line.decode("latin-1").split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        status = int(status)
        length = 0
        for k, v in headers:
            if k == "content-length":
                length = int(v)
        if head_request or status in (204, 304) or 100 <= status < 200:
            length = 0
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, reason, version, headers, body, head)

    def at_eof(self, timeout=2.0):
        """True if the peer closes (with no further bytes) within timeout."""
        self.sock.settimeout(timeout * SLOW)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        self.buf += data
        return not data


def read_response(sock, head_request=False):
    return Reader(sock).read_response(head_request)


def get(port, path, headers=None, method="GET", version="HTTP/1.1"):
    """One request on a fresh connection, parsed."""
    hdrs = {"Host": "localhost", "Connection": "close"}
    hdrs.update(headers or {})
    raw = "%s %s %s\r\n" % (method, path, version)
    raw += "".join("%s: %s\r\n" % kv for kv in hdrs.items() if kv[1] is not None)
    raw += "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as s:
        s.sendall(raw.encode("latin-1"))
        return read_response(s, head_request=(method == "HEAD"))


def make_root():
    """A fresh document root with a few known files; the caller removes it."""
    root = tempfile.mkdtemp(prefix="ws-root-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><title>index</title><p>index page</p>\n")
    with open(os.path.join(root, "HelloWorld.html"), "w") as f:
        f.write("<!DOCTYPE html><title>Hello</title><h1>Hello, World!</h1>\n")
    os.mkdir(os.path.join(root, "sub"))
    with open(os.path.join(root, "sub", "index.html"), "w") as f:
        f.write("sub index\n")
    os.mkdir(os.path.join(root, "noindex"))
    with open(os.path.join(root, "noindex", "file.txt"), "w") as f:
        f.write("plain text\n")
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(4 << 20))
    return root


class ServerTestCase(unittest.TestCase):
    """Starts one server per test class on a fresh root; checks it ends cleanly."""

    server_args = ()
    access_log = None

    @classmethod
    def setUpClass(cls):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        cls.root = make_root()
        cls.server = Server(cls.root, cls.server_args, access_log=cls.access_log)
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
            foreign = cls.server.foreign_stderr()
            if rc != 0 or foreign:
                raise AssertionError("server exit %s, stderr:\n%s" % (rc, "\n".join(cls.server.stderr_lines)))
        finally:
            shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.assertTrue(self.server.alive(), "server died before this test")

    def tearDown(self):
        self.assertTrue(self.server.alive(), "server died during this test")
