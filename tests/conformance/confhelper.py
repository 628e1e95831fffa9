"""Shared machinery of the conformance suite.

Builds on tests/integration/wshelper.py (the Server class, response parsing)
and adds the post-conditions that every case in this directory must leave true:

  * the same server process is still alive;
  * its descriptor count returns to the baseline measured after start-up
    (polled with a deadline: connections close asynchronously);
  * no byte from outside the document root was ever sent: a secret file with a
    unique marker sits next to the root (and symlinks in the root point at it),
    and every byte any test socket receives is scanned for that marker and for
    /etc/passwd's first line.

Tests open connections only through ConformanceTestCase.connect() (or the module
function connect()), which returns a recording socket; tearDown closes whatever
a test left open before it checks the descriptors.

With WS_TLS=1 (wshelper's switch) the servers listen for HTTPS too, `port` is the
HTTPS one, and connect() returns a recording TLS socket (RecTLSSocket) that scans
the decrypted bytes.
"""

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import cases  # noqa: E402
from wshelper import (  # noqa: E402,F401
    SLOW,
    TLS,
    WEBSERVER,
    TLSSocket,
    Reader,
    Server,
    parse_responses,
    read_head,
    recv_all,
    stream_body,
    tls_context,
    tls_wrap,
    wait_until,
)

PASSWD_MARK = b"root:x:0:0:"

# How long descriptors may take to come back after a test (seconds, scaled by SLOW):
# a lingering close lasts at most 2 s, so this leaves room.
FD_DEADLINE = 8.0


class _Watch:
    """What every recording socket scans for, and what it found."""

    markers = (PASSWD_MARK,)
    sightings = []
    lock = threading.Lock()


class _Scanning:
    """Scans everything a socket receives for the secret markers (a mix-in)."""

    _tail = b""

    def _scan(self, data):
        if not data:
            return
        window = self._tail + data
        for m in _Watch.markers:
            if m in window:
                with _Watch.lock:
                    _Watch.sightings.append("marker %r received on %r" % (m, self))
        keep = max(len(m) for m in _Watch.markers) - 1
        self._tail = window[-keep:]

    def recv(self, bufsize, flags=0):
        data = super().recv(bufsize, flags)
        self._scan(data)
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        n = super().recv_into(buffer, nbytes, flags)
        self._scan(bytes(memoryview(buffer)[:n]))
        return n


class RecSocket(_Scanning, socket.socket):
    """A TCP socket that scans everything it receives for the secret markers."""


class RecTLSSocket(_Scanning, TLSSocket):
    """A TLS socket that scans the decrypted bytes it receives for the secret markers."""


_open_sockets = []
_open_lock = threading.Lock()


def connect(port, timeout=5.0, rcvbuf=None, nodelay=False, tls=None):
    """A recording connection to 127.0.0.1:port (timeout scaled by SLOW); tls=None
    follows the harness's switch (the TLS handshake is done before it returns)."""
    s = RecSocket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout * SLOW)
    with _open_lock:
        _open_sockets.append(s)
    s.connect(("127.0.0.1", port))
    if TLS if tls is None else tls:
        s = tls_wrap(s, tls_context(RecTLSSocket))
        with _open_lock:
            _open_sockets.append(s)
    return s


def close_all_sockets():
    with _open_lock:
        socks = list(_open_sockets)
        del _open_sockets[:]
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def reset_close(s):
    """Closes with SO_LINGER 0: the kernel sends a reset instead of a FIN."""
    import struct

    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except FileNotFoundError:
        return -1


def cpu_seconds(pid):
    """User + system CPU time the process has used, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exchange(port, raw, timeout=5.0):
    """Sends raw on a fresh connection and reads until the server closes.

    Returns (data, end) as wshelper.recv_all does.
    """
    with connect(port, timeout) as s:
        s.sendall(raw)
        return recv_all(s, timeout)


def warm_up(port):
    data, end = exchange(port, cases.PROBE)
    rs, _ = parse_responses(data)
    if [r.status for r in rs] != [200]:
        raise RuntimeError("server does not serve the probe: %r (%s)" % (data[:200], end))


def stable_fd_count(pid, settle=0.3, timeout=5.0):
    """The descriptor count once it has stopped changing for `settle` seconds."""
    deadline = time.monotonic() + timeout * SLOW
    last, since = fd_count(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = fd_count(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
    return last


class ConformanceTestCase(unittest.TestCase):
    """One server per class on a fresh root (cases.build_root), with the post-conditions.

    Subclasses set server_args, and may override prepare_root(root) to add files.
    """

    server_args = ("--threads", "4")
    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        cls.base = tempfile.mkdtemp(prefix="ws-conf-")
        try:
            cls.root, cls.marker = cases.build_root(cls.base)
            _Watch.markers = (cls.marker, PASSWD_MARK)
            cls.prepare_root(cls.root)
            cls.server = Server(cls.root, cls.server_args, **cls.server_kwargs)
            cls.port = cls.server.port
            cls.pid = cls.server.pid
            warm_up(cls.port)
            cls.baseline = stable_fd_count(cls.pid)
        except BaseException:
            if getattr(cls, "server", None) is not None:
                cls.server.kill()
            shutil.rmtree(cls.base, ignore_errors=True)
            raise

    @classmethod
    def prepare_root(cls, root):
        """Hook: add files to the root before the server starts."""

    @classmethod
    def tearDownClass(cls):
        close_all_sockets()
        try:
            rc = cls.server.stop()
            foreign = cls.server.foreign_stderr()
            if rc != 0 or foreign:
                raise AssertionError("server exit %s, stderr:\n%s" % (rc, "\n".join(cls.server.stderr_lines)))
        finally:
            shutil.rmtree(cls.base, ignore_errors=True)

    def setUp(self):
        with _Watch.lock:
            del _Watch.sightings[:]
        self.assertTrue(self.server.alive(), "server died before this test")

    def tearDown(self):
        close_all_sockets()
        self.check_server(self.server, self.pid, self.baseline)

    # --- post-conditions --------------------------------------------------------------

    def check_server(self, server, pid, baseline):
        """The post-conditions of every case, for one server process."""
        self.assertIsNone(server.proc.poll(), "server exited (status %s); stderr:\n%s"
                          % (server.proc.poll(), "\n".join(server.stderr_lines[-20:])))
        self.assertEqual(server.pid, pid, "not the same server process")
        ok = wait_until(lambda: fd_count(pid) == baseline, FD_DEADLINE)
        self.assertTrue(ok, "descriptors: %d open, baseline %d" % (fd_count(pid), baseline))
        with _Watch.lock:
            sightings = list(_Watch.sightings)
        self.assertEqual(sightings, [], "bytes from outside the root were sent")
        self.assertEqual(server.foreign_stderr(), [], "foreign lines on the server's stderr")

    def own_server(self, args, **kwargs):
        """Starts a second server on the same root for this test; it is stopped (and
        must exit 0 with a clean stderr) when the test ends. Returns (server, baseline)."""
        server = Server(self.root, args, **kwargs)
        self.addCleanup(server.kill)
        warm_up(server.port)
        return server, stable_fd_count(server.pid)

    def stop_own(self, server, sig=signal.SIGTERM, timeout=20.0):
        close_all_sockets()
        rc = server.stop(sig, timeout)
        self.assertEqual(rc, 0, "exit status; stderr:\n%s" % "\n".join(server.stderr_lines[-30:]))
        self.assertEqual(server.foreign_stderr(), [], "foreign lines on the server's stderr")

    # --- helpers ---------------------------------------------------------------------

    def connect(self, port=None, **kwargs):
        return connect(port or self.port, **kwargs)

    def file_bytes(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def assert_serving(self, port=None):
        data, end = exchange(port or self.port, cases.PROBE)
        rs, rest = parse_responses(data)
        self.assertEqual([r.status for r in rs], [200], "probe: %r (%s)" % (data[:200], end))
        self.assertEqual(rs[0].body, cases.HELLO)

    def assert_well_formed(self, r, head=False):
        """What every response of ours carries (RFC 9110 §6.2, §6.6.1, §8.6)."""
        self.assertEqual(r.version, "HTTP/1.1")
        self.assertIsNotNone(r.header("date"), "no Date")
        if r.status >= 200 and r.status not in (204, 304):
            cl = r.header_all("content-length")
            self.assertEqual(len(cl), 1, "Content-Length: %r" % cl)
            if not head:
                self.assertEqual(int(cl[0]), len(r.body))
        self.assertIsNone(r.header("transfer-encoding"))

    def run_case(self, case, port=None):
        """Sends case.raw followed by the probe; checks status, framing and connection."""
        with self.connect(port) as s:
            send_error = None
            try:
                s.sendall(case.raw + cases.PROBE)
            except OSError as e:  # the answer must arrive all the same
                send_error = e
            data, end = recv_all(s, timeout=5)
        rs, rest = parse_responses(data, (case.head, False))
        self.assertGreaterEqual(len(rs), 1, "no complete response: %r (%s)" % (data[:300], end))
        first = rs[0]
        self.assertEqual(first.status, case.status, "response head:\n%s" % first.raw_head.decode("latin-1"))
        self.assert_well_formed(first, case.head)
        if case.body is not None:
            self.assertEqual(first.body, case.body)
        if case.status == 405:
            allow = [m.strip() for m in (first.header("allow") or "").split(",")]
            self.assertIn("GET", allow, "405 MUST carry Allow (RFC 9110 §15.5.6)")
            self.assertIn("HEAD", allow)
        if case.status == 301:
            self.assertTrue((first.header("location") or "").startswith("/"), first.header("location"))
        self.assertEqual(rest, b"", "bytes after the last complete response")
        self.assertEqual(end, "eof", "connection not closed cleanly (%s)" % end)
        self.assertIsNone(send_error, "server reset the connection while the client was sending")
        if case.conn == "close":
            self.assertEqual((first.header("connection") or "").lower(), "close",
                             "an answer after which the server closes must say so (RFC 9112 §9.6)")
            self.assertEqual(len(rs), 1, "the probe after a closing answer was answered too")
        else:
            self.assertNotEqual((first.header("connection") or "").lower(), "close")
            self.assertEqual([r.status for r in rs], [case.status, 200], "the probe was not answered in step")
            self.assertEqual(rs[1].body, cases.HELLO)
            self.assert_well_formed(rs[1])


def add_case_tests(cls, group):
    """Adds one test method per case of `group` to cls; the docstring names the RFC section."""
    for case in cases.cases(group):
        def test(self, case=case):
            self.run_case(case)
        test.__name__ = "test_" + case.name
        test.__doc__ = "%s: %s (expect %d, %s)" % (case.rfc, case.note, case.status, case.conn)
        if case.bug:
            # BUG: recorded in cases.py next to the case.
            test = unittest.expectedFailure(test)
        assert not hasattr(cls, test.__name__), test.__name__
        setattr(cls, test.__name__, test)
    return cls


def main():
    unittest.main(verbosity=int(os.environ.get("WS_TEST_VERBOSITY", "1")))
