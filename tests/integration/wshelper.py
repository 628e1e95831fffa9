"""Shared helpers for the integration tests: start the real server, talk raw HTTP.

Every test starts `webserver` on `--port 0` (the kernel picks a free port),
reads the port from its start-up line on stderr, and talks to it over loopback
only. Stopping the server sends SIGTERM and checks that it exits 0 and that
nothing but its own diagnostics reached stderr (so a sanitizer report fails the
test).

Environment (set by ctest): WEBSERVER (the binary), WS_SOURCE_DIR (the source
tree), WS_SANITIZER ("", "address" or "thread"), WS_TLS ("1": speak HTTPS).

WS_TLS=1 switches the whole harness to HTTPS: every Server gets the process's
test certificate (tlscerts.default_pki(), made at test time) and `--tls-port 0`,
its `port` is the HTTPS one (the cleartext one stays in `http_port`), and every
socket factory here (connect, request, get, fetch, Server.connect) returns a
TLSSocket that verifies the server against the test CA as "localhost". A test
that cannot hold over TLS by nature is marked `@unittest.skipIf(TLS, "why")`.

WS_H2=1 switches the request helpers to HTTP/2 through python3-h2: `get`, `fetch`
and the curl helpers speak h2 over TLS (ALPN "h2", which must be negotiated) when
WS_TLS=1 as well, otherwise h2c with prior knowledge (the connection preface on the
cleartext port), and return the same Response objects (lower-case field names, body;
`version` is "HTTP/2", `reason` the standard phrase, since HTTP/2 has none). Each
response is checked for HTTP/2 framing: lower-case names, no connection-specific
field, a body exactly as long as Content-Length (none after HEAD, 204 or 304).
HTTP/1.1 bytes cannot be translated: under WS_H2, `connect`, `Server.connect`,
`request` and `raw_request` raise H1OnlyError, and a test that needs them (raw
requests, keep-alive and pipelining, Connection, HTTP/1.0, a head printed by curl)
is marked `@h1_only("why")`. H2Client is the HTTP/2 client itself, for tests that
drive streams, windows and settings.
"""

import hashlib
import http
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import tlscerts

WEBSERVER = os.environ.get("WEBSERVER", "")
SOURCE_DIR = os.environ.get("WS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SANITIZER = os.environ.get("WS_SANITIZER", "")

# Sanitizers slow everything down; scale every wait by this.
SLOW = 4.0 if SANITIZER else 1.0

# WS_TLS=1: the whole harness speaks HTTPS (see the module's docstring).
TLS = os.environ.get("WS_TLS", "") not in ("", "0")

# WS_H2=1: the request helpers speak HTTP/2 (see the module's docstring).
H2 = os.environ.get("WS_H2", "") not in ("", "0")

# Server(access_log=ACCESS_LOG_DEFAULT) passes no --access-log flag (and captures stdout).
ACCESS_LOG_DEFAULT = "<no --access-log flag>"

# Lines the server itself writes to stderr; anything else is a failure.
_OWN_LINE = re.compile(r"^webserver: ")


# --- TLS -----------------------------------------------------------------------------


class TLSSocket(ssl.SSLSocket):
    """An SSLSocket that behaves like a plain socket where the tests look.

    recv() returns b"" at the end of the stream however it ends: a close_notify
    (SSLZeroReturnError) or a TCP FIN without one (SSLEOFError); a reset is still
    ConnectionResetError. shutdown() shuts the TCP socket down and keeps the TLS
    state, so reads after it still decrypt (ssl.SSLSocket.shutdown would drop it);
    a SHUT_WR is then a FIN without close_notify, not a TLS half-close.
    """

    def recv(self, bufsize, flags=0):
        try:
            return super().recv(bufsize, flags)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    def recv_into(self, buffer, nbytes=0, flags=0):
        try:
            return super().recv_into(buffer, nbytes, flags)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return 0

    def shutdown(self, how):
        socket.socket.shutdown(self, how)


_tls_contexts = {}
_tls_lock = threading.Lock()


def tls_context(socket_class=TLSSocket):
    """The harness's client context: trusts only the test CA, checks the name
    "localhost", makes sockets of socket_class (a TLSSocket subclass)."""
    with _tls_lock:
        ctx = _tls_contexts.get(socket_class)
        if ctx is None:
            ctx = tlscerts.default_pki().client_context()
            ctx.set_alpn_protocols(["http/1.1"])
            ctx.sslsocket_class = socket_class
            _tls_contexts[socket_class] = ctx
        return ctx


def tls_wrap(sock, context=None, server_hostname="localhost"):
    """Runs the TLS handshake on a connected socket (under its timeout) and returns
    the TLS socket; the plain one is closed if the handshake fails."""
    try:
        return (context or tls_context()).wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise


def curl_command(port, path, *args, https=None, h2=None):
    """curl argv for path on 127.0.0.1:port: no ~/.curlrc (-q first), no proxy (loopback
    only, whatever the environment says), args, then the URL; over TLS (https=None
    means the harness's switch) https:// and --cacert with the test CA. With HTTP/2
    (h2=None means the harness's switch WS_H2): --http2 (ALPN) over TLS,
    --http2-prior-knowledge (h2c) in cleartext. When both follow the harness and
    WS_H2 is unset, --http1.1 over TLS (curl would take h2 by ALPN); a caller that
    names https itself and not h2 gets curl's own choice."""
    follows_harness = https is None and h2 is None
    https = TLS if https is None else https
    h2 = H2 if h2 is None else h2
    cmd = [CURL, "-q", "--noproxy", "*"]
    if https:
        cmd += ["--cacert", tlscerts.default_pki().ca_cert]
    if h2:
        cmd.append("--http2" if https else "--http2-prior-knowledge")
    elif https and follows_harness:
        # curl would take h2 by ALPN on its own; the harness speaks HTTP/1.1 without WS_H2.
        cmd.append("--http1.1")
    return cmd + list(args) + ["%s://127.0.0.1:%d%s" % ("https" if https else "http", port, path)]


def parse_listen_line(text):
    """(cleartext ports, https ports) from the start-up line "listening on A:1 https:B:2 (...",
    or None if text holds no such line yet."""
    m = re.search(r"listening on ([^(\n]*)", text)
    if not m or "(" not in text[m.start():].split("\n", 1)[0]:
        return None
    plain, https = [], []
    for token in m.group(1).split():
        pm = re.match(r"^(https:)?\S*:(\d+)$", token)
        if pm:
            (https if pm.group(1) else plain).append(int(pm.group(2)))
    return plain, https


class Server:
    """A running webserver process on a free loopback port."""

    def __init__(self, root, args=(), env=None, access_log=None, prlimit_nofile=None,
                 capture_stdout=False, user=None, error_log=None, listen_args=None,
                 cmd_prefix=None, popen_kwargs=None, tls=None):
        """capture_stdout: collect stdout lines in self.stdout_lines (always with
        access_log="-"). user: (uid, gid) to run the server as (the caller is root).
        error_log: a fresh file for --error-log; the port is then read from it, and
        foreign_stderr() reads it (and any path later added to self.error_log_files).
        listen_args: replaces the default ("--port", "0", "--bind", "127.0.0.1").
        cmd_prefix: argv run in front of the server (it must exec the server, so the
        pid stays the server's). popen_kwargs: more keyword arguments for Popen
        (pass_fds, preexec_fn...). tls: None follows the harness's switch (WS_TLS);
        False serves cleartext only; True adds the harness's certificate; a list of
        CertPair adds those (the first is the default). With TLS, `port` is the HTTPS
        port, `http_port` the cleartext one, and connect() speaks TLS."""
        self.root = root
        if tls is None:
            tls = TLS
        self.tls = bool(tls)
        if listen_args is None:
            listen_args = ("--port", "0", "--bind", "127.0.0.1")
        cmd = [WEBSERVER, "--root", root] + list(listen_args)
        if error_log is not None:
            cmd += ["--error-log", error_log]
        self.error_log_files = [error_log] if error_log is not None else []
        if access_log is None:
            cmd += ["--access-log", "off"]
        elif access_log != ACCESS_LOG_DEFAULT:
            cmd += ["--access-log", access_log]
        self._own_dir = None
        if tls:
            pairs = [tlscerts.default_pki().localhost_pair] if tls is True else list(tls)
            if user is not None:
                pairs = self._copy_pairs_for(pairs, user)
            for pair in pairs:
                cmd += pair.args()
            cmd += ["--tls-port", "0"]
        cmd += list(args)
        if prlimit_nofile is not None:
            cmd = ["prlimit", "--nofile=%d" % prlimit_nofile, "--"] + cmd
        if cmd_prefix is not None:
            cmd = list(cmd_prefix) + cmd
        self.cmd = cmd
        self.stderr_lines = []
        self.stdout_lines = []
        self._stderr_done = threading.Event()
        self._stdout_done = threading.Event()
        capture_stdout = capture_stdout or access_log in ("-", ACCESS_LOG_DEFAULT)
        extra = {}
        if user is not None:
            extra = {"user": user[0], "group": user[1], "extra_groups": []}
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            **extra,
            **(popen_kwargs or {}),
        )
        if capture_stdout:
            # Read stdout continuously, so a full pipe can never block the server.
            threading.Thread(target=self._read_stdout, daemon=True).start()
        else:
            self._stdout_done.set()
        self.port = None
        self.http_port = None
        self.https_port = None
        if error_log is not None:
            # The start-up line goes to the error log file, not to the stderr pipe.
            self._reader = threading.Thread(target=self._read_stderr, daemon=True)
            self._reader.start()
            self._port_from_file(error_log)
            return
        deadline = time.monotonic() + 10 * SLOW
        while self.port is None:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            if not line:
                raise RuntimeError("server exited before listening: %r" % self.stderr_lines)
            self.stderr_lines.append(line.rstrip("\n"))
            self._take_ports(line)
            if time.monotonic() > deadline:
                raise RuntimeError("server did not report its port")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _port_from_file(self, path):
        deadline = time.monotonic() + 10 * SLOW
        while self.port is None:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                text = ""
            if self._take_ports(text):
                break
            if self.proc.poll() is not None:
                self._stderr_done.wait(5)
                raise RuntimeError("server exited (%s) before listening: %r %r"
                                   % (self.proc.returncode, self.stderr_lines, text))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server did not report its port in %s" % path)
            time.sleep(0.01)

    def _copy_pairs_for(self, pairs, user):
        """Copies of pairs in a directory of their own that user (uid, gid) owns, for a
        server run as that user from the start: the PKI's directory is the caller's
        only. Removed when the server is stopped."""
        self._own_dir = tempfile.mkdtemp(prefix="ws-tls-user-")
        os.chown(self._own_dir, user[0], user[1])
        copies = []
        for i, pair in enumerate(pairs):
            cert = os.path.join(self._own_dir, "%d.pem" % i)
            key = os.path.join(self._own_dir, "%d.key" % i)
            shutil.copyfile(pair.cert, cert)
            shutil.copyfile(pair.key, key)
            for path in (cert, key):
                os.chown(path, user[0], user[1])
            os.chmod(key, 0o600)
            copies.append(tlscerts.CertPair(cert, key, pair.cn, pair.sans, pair.serial))
        return copies

    def _take_ports(self, text):
        """Sets http_port, https_port and port from the start-up line, if text holds it."""
        ports = parse_listen_line(text)
        if ports is None:
            return False
        plain, https = ports
        self.http_port = plain[0] if plain else None
        self.https_port = https[0] if https else None
        if self.tls:
            if self.https_port is None:
                self.kill()
                raise RuntimeError("TLS server reported no https port: %r" % text)
            self.port = self.https_port
        else:
            self.port = self.http_port if plain else (https[0] if https else None)
        if self.port is None:
            raise RuntimeError("no port in the start-up line: %r" % text)
        return True

    def error_log_lines(self):
        """Every line of the error log files (self.error_log_files, in order) that exist."""
        lines = []
        for path in self.error_log_files:
            try:
                with open(path, "rb") as f:
                    lines += f.read().decode("utf-8", "replace").splitlines()
            except FileNotFoundError:
                pass
        return lines

    def _read_stdout(self):
        for raw in self.proc.stdout:
            self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self._stdout_done.set()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self._stderr_done.set()

    @property
    def pid(self):
        return self.proc.pid

    def connect(self, timeout=5.0):
        """A connection to `port` (timeout scaled by SLOW): TLS if the server speaks it.
        Under WS_H2 it raises H1OnlyError (the caller would speak HTTP/1.1)."""
        _h1_guard("Server.connect()")
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout * SLOW)
        return tls_wrap(s) if self.tls else s

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def alive(self):
        return self.proc.poll() is None

    def foreign_stderr(self):
        """Lines on stderr that the server did not write itself (sanitizer reports...)."""
        lines = self.stderr_lines + self.error_log_lines()
        return [l for l in lines if l and not _OWN_LINE.match(l)]

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
        self._close_pipes()
        return rc

    def _close_pipes(self):
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None
        self._stderr_done.wait(5)
        self._stdout_done.wait(5)
        if self._stderr_done.is_set() and self._stdout_done.is_set():
            for f in (self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()

    def stop_checked(self, testcase, sig=signal.SIGTERM, timeout=20.0):
        """stop(), then fails testcase unless the exit was 0 with nothing foreign on stderr."""
        rc = self.stop(sig, timeout)
        testcase.assertEqual(rc, 0, "server exit status; stderr:\n%s" % "\n".join(self.stderr_lines))
        testcase.assertEqual(self.foreign_stderr(), [], "foreign lines on the server's stderr")
        return rc

    def kill(self):
        """Last-resort cleanup for a test that failed half-way."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipes()


def request(port, raw, timeout=5.0, read_until_close=True):
    """Sends raw bytes and returns everything the server sends until it closes.
    Under WS_H2 it raises H1OnlyError."""
    with connect(port, timeout) as s:
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
    """One request on a fresh connection, parsed. Under WS_H2, one stream on a fresh
    HTTP/2 connection (Host becomes :authority)."""
    if H2:
        if version != "HTTP/1.1":
            raise H1OnlyError("get(version=%r) has no HTTP/2 form: mark the test @h1_only" % version)
        hdrs = {"Host": "localhost"}
        hdrs.update(headers or {})
        return h2_fetch(port, path, method, [kv for kv in hdrs.items() if kv[1] is not None])
    hdrs = {"Host": "localhost", "Connection": "close"}
    hdrs.update(headers or {})
    raw = "%s %s %s\r\n" % (method, path, version)
    raw += "".join("%s: %s\r\n" % kv for kv in hdrs.items() if kv[1] is not None)
    raw += "\r\n"
    with connect(port, 10) as s:
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


# --- more helpers for raw-socket tests ---------------------------------------------


def port_refused(port):
    """Whether a connection to 127.0.0.1:port is refused now (nothing listens); any
    other failure, or a connection, is not a refusal."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def wait_until(predicate, timeout, interval=0.02):
    """Polls predicate until it is true or timeout (seconds, scaled by SLOW) passes."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def connect(port, timeout=5.0, tls=None, rcvbuf=None):
    """A connection to 127.0.0.1:port (timeout scaled by SLOW); tls=None follows the
    harness's switch, and the TLS handshake is done before it returns. rcvbuf: a
    receive buffer of that size, set before the connect (a slow reader's). Under
    WS_H2 it raises H1OnlyError (the caller would speak HTTP/1.1 on it)."""
    _h1_guard("connect()")
    s = socket.socket()
    try:
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout * SLOW)
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    return tls_wrap(s) if (TLS if tls is None else tls) else s


def recv_all(sock, timeout=5.0):
    """Reads until the peer closes or timeout (scaled) passes.

    Returns (data, end): end is "eof", "reset" or "timeout".
    """
    deadline = time.monotonic() + timeout * SLOW
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), "timeout"
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 20)
        except ConnectionResetError:
            return b"".join(chunks), "reset"
        except socket.timeout:
            return b"".join(chunks), "timeout"
        if not data:
            return b"".join(chunks), "eof"
        chunks.append(data)


class _BytesSocket:
    """Just enough of a socket for Reader, over bytes already received."""

    def __init__(self, data):
        self.data = data

    def recv(self, n):
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


def parse_responses(data, head_flags=()):
    """Splits bytes holding whole responses into Response objects.

    head_flags[i] is true when response i answers a HEAD request (no body).
    Returns (responses, leftover bytes). Stops at the first incomplete response.
    """
    reader = Reader(_BytesSocket(data))
    out = []
    while True:
        before = reader.buf, reader.sock.data
        is_head = head_flags[len(out)] if len(out) < len(head_flags) else False
        try:
            out.append(reader.read_response(head_request=is_head))
        except EOFError:
            reader.buf, reader.sock.data = before
            return out, reader.buf + reader.sock.data


def raw_request(path, method="GET", version="HTTP/1.1", headers=(), host="localhost", close=False):
    """A request as bytes; headers is a sequence of (name, value) pairs. Under WS_H2
    it raises H1OnlyError."""
    _h1_guard("raw_request()")
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    lines += ["%s: %s" % kv for kv in headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_head(sock, limit=65536):
    """Reads one response head. Returns (Response without body, bytes read past the head)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > limit:
            raise ValueError("response head longer than %d bytes" % limit)
        data = sock.recv(65536)
        if not data:
            raise EOFError("connection closed inside a response head")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    responses, _ = parse_responses(head + b"\r\n\r\n", (True,))
    return responses[0], rest


def stream_body(sock, rest, length, delay=0.0, chunk=1 << 20):
    """Reads a body of `length` bytes (rest: bytes already read) without keeping it.

    Returns (bytes received, sha256 hex digest of them); stops early at EOF.
    delay: seconds to sleep after each read (a slow reader).
    """
    digest = hashlib.sha256()
    got = rest[:length]
    digest.update(got)
    n = len(got)
    while n < length:
        try:
            data = sock.recv(min(chunk, length - n))
        except ConnectionResetError:
            break
        if not data:
            break
        digest.update(data)
        n += len(data)
        if delay:
            time.sleep(delay)
    return n, digest.hexdigest()


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_big_file(path, size, seed_bytes=1 << 20):
    """A sparse file of `size` bytes with random data at both ends (cheap, yet checkable)."""
    with open(path, "wb") as f:
        f.write(os.urandom(seed_bytes))
        f.truncate(size)
        f.seek(size - seed_bytes)
        f.write(os.urandom(seed_bytes))


def write_file(path, data, mode=None):
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


class ServerTestCase(unittest.TestCase):
    """Starts one server per test class on a fresh root; checks it ends cleanly."""

    server_args = ()
    access_log = None

    @classmethod
    def setUpClass(cls):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        cls.root = make_root()
        try:
            cls.prepare_root(cls.root)
            cls.server = Server(cls.root, cls.server_args, access_log=cls.access_log,
                                **cls.server_kwargs())
        except BaseException:
            shutil.rmtree(cls.root, ignore_errors=True)
            raise
        cls.port = cls.server.port

    @classmethod
    def prepare_root(cls, root):
        """Hook: add files to the fresh root before the server starts."""

    @classmethod
    def server_kwargs(cls):
        """Hook: extra keyword arguments for Server()."""
        return {}

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

    def file_bytes(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def assert_still_serving(self):
        """The server is alive and answers a fresh request correctly."""
        self.assertTrue(self.server.alive(), "server died")
        r = get(self.port, "/HelloWorld.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))

    def tearDown(self):
        self.assertTrue(self.server.alive(), "server died during this test")


# --- helpers for the content tests (conditional requests, ranges, codings) ----------

CURL = shutil.which("curl")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

HTTP_DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                          r"Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def http_dates(t):
    """The three HTTP-date forms of a time in whole seconds (RFC 9110 §5.6.7):
    (IMF-fixdate, RFC 850, asctime). Written by hand: strftime follows the locale."""
    tm = time.gmtime(t)
    hms = "%02d:%02d:%02d" % (tm.tm_hour, tm.tm_min, tm.tm_sec)
    mon = _MONTHS[tm.tm_mon - 1]
    imf = "%s, %02d %s %04d %s GMT" % (_DAYS[tm.tm_wday], tm.tm_mday, mon, tm.tm_year, hms)
    rfc850 = "%s, %02d-%s-%02d %s GMT" % (_DAYS_LONG[tm.tm_wday], tm.tm_mday, mon, tm.tm_year % 100, hms)
    asctime = "%s %s %2d %s %04d" % (_DAYS[tm.tm_wday], mon, tm.tm_mday, hms, tm.tm_year)
    return imf, rfc850, asctime


def set_mtime_ns(path, mtime_ns, follow_symlinks=True):
    """Sets a file's access and modification times to mtime_ns (nanoseconds since the epoch)."""
    os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=follow_symlinks)


def fetch(port, path, method="GET", headers=(), timeout=10.0):
    """One request on a fresh connection, with Connection: close; headers is a sequence
    of (name, value) pairs (a name may repeat). Returns the parsed response, and fails
    unless the server sent exactly one response, framed exactly (no byte more or less
    than its Content-Length, none at all after a 304 or a HEAD answer), then closed.
    Under WS_H2: one stream on a fresh HTTP/2 connection, framed exactly (h2_fetch)."""
    if H2:
        return h2_fetch(port, path, method, [("Host", "localhost")] + list(headers), timeout)
    with connect(port, timeout) as s:
        s.sendall(raw_request(path, method=method, headers=headers, close=True))
        data, end = recv_all(s, timeout)
    if end != "eof":
        raise AssertionError("%s %s: connection ended by %s, not a close" % (method, path, end))
    responses, rest = parse_responses(data, (method == "HEAD",))
    if len(responses) != 1 or rest:
        raise AssertionError("%s %s: %d responses and %d bytes more (framing is off): %r"
                             % (method, path, len(responses), len(rest), data[:300]))
    return responses[0]


def parse_byteranges(body, content_type):
    """Splits a multipart/byteranges body (RFC 9110 §14.6, RFC 2046 §5.1.1) into parts.

    Returns a list of (headers, data): headers maps lower-case field names to values,
    data holds exactly the bytes the part's Content-Range announces. Raises ValueError
    at the first deviation from the framing (boundary, part headers, lengths, the
    closing delimiter), so the caller can trust every byte it gets back.
    """
    m = re.match(r'^multipart/byteranges\s*;\s*boundary=("?)([^";\s]+)\1\s*$', content_type or "", re.I)
    if not m:
        raise ValueError("not a multipart/byteranges type: %r" % content_type)
    delimiter = b"--" + m.group(2).encode("latin-1")
    # A preamble may precede the first delimiter, which then follows a CRLF.
    if body.startswith(delimiter):
        pos = 0
    else:
        pos = body.find(b"\r\n" + delimiter)
        if pos < 0:
            raise ValueError("no first boundary delimiter")
        pos += 2
    parts = []
    for _ in range(100000):
        pos += len(delimiter)
        if body[pos:pos + 2] == b"--":
            if body[pos + 2:] not in (b"", b"\r\n"):
                raise ValueError("bytes after the closing delimiter: %r" % body[pos + 2:pos + 40])
            return parts
        if body[pos:pos + 2] != b"\r\n":
            raise ValueError("delimiter not followed by CRLF at %d" % pos)
        pos += 2
        end = body.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError("unterminated part header at %d" % pos)
        headers = {}
        for line in body[pos:end].split(b"\r\n"):
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise ValueError("bad part header line %r" % line)
            headers[name.lower()] = value.strip()
        pos = end + 4
        cr = re.match(r"^bytes (\d+)-(\d+)/(\d+)$", headers.get("content-range", ""))
        if not cr or int(cr.group(2)) < int(cr.group(1)):
            raise ValueError("bad part Content-Range %r" % headers.get("content-range"))
        length = int(cr.group(2)) - int(cr.group(1)) + 1
        data = body[pos:pos + length]
        if len(data) != length:
            raise ValueError("part data cut short")
        pos += length
        if body[pos:pos + 2 + len(delimiter)] != b"\r\n" + delimiter:
            raise ValueError("part data not followed by CRLF and a delimiter at %d" % pos)
        pos += 2
        parts.append((headers, data))
    raise ValueError("too many parts")


def run_webserver(args, timeout=10.0):
    """Runs the binary to completion (for start-up errors); returns the CompletedProcess."""
    return subprocess.run([WEBSERVER] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout * SLOW)


def assert_refused_at_start(testcase, args, words):
    """The server, started with args, exits 2 with one line on stderr that holds every
    one of words (and no carriage return a flag's value could have smuggled in)."""
    r = run_webserver(["--root", "/tmp", "--port", "0"] + list(args))
    testcase.assertEqual(r.returncode, 2, (args, r.stderr))
    err = r.stderr.decode("utf-8", "replace")
    testcase.assertEqual(len(err.strip().splitlines()), 1, err)
    for w in words:
        testcase.assertIn(w, err)
    testcase.assertNotIn("\r", err)


# --- HTTP/2 (WS_H2=1, and the tests of HTTP/2 itself) --------------------------------


class H1OnlyError(AssertionError):
    """A helper that speaks HTTP/1.1 bytes was called under WS_H2."""


def h1_only(reason):
    """Decorator for a test (method or class) that cannot be expressed in HTTP/2, such as
    raw HTTP/1.1 bytes, keep-alive, Connection or HTTP/1.0: skipped under WS_H2, with
    the reason."""
    return unittest.skipIf(H2, "HTTP/1.1 only: " + reason)


def _h1_guard(what):
    if H2:
        raise H1OnlyError("%s speaks HTTP/1.1 bytes, and WS_H2=1 is set: mark the test "
                          "@h1_only(\"why\")" % what)


# Where Debian's python3-h2 lives: an interpreter other than Debian's (pyenv, a venv)
# finds it there.
_DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"

_h2 = None


def h2lib():
    """The h2 package (python3-h2, the hyper-h2 state machine) with its submodules
    loaded; raises unittest.SkipTest if it is not installed at all."""
    global _h2
    if _h2 is None:
        try:
            import h2.connection  # noqa: F401
        except ImportError:
            if not os.path.isdir(os.path.join(_DEBIAN_DIST_PACKAGES, "h2")):
                raise unittest.SkipTest("python3-h2 is not installed (Debian package python3-h2)")
            sys.path.append(_DEBIAN_DIST_PACKAGES)
            import h2.connection  # noqa: F401
        import h2.config
        import h2.errors
        import h2.events
        import h2.exceptions
        import h2.settings
        _h2 = h2
    return _h2


def h2_tls_context(alpn=("h2",)):
    """A client context like tls_context()'s (test CA, name "localhost") that offers
    the ALPN protocols alpn."""
    ctx = tlscerts.default_pki().client_context()
    ctx.set_alpn_protocols(list(alpn))
    ctx.sslsocket_class = TLSSocket
    return ctx


# Fields that RFC 9113 §8.2.2 forbids in HTTP/2 (TE is allowed only as "trailers").
CONNECTION_SPECIFIC = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade")


class H2Stream:
    """What one stream received: headers (list of (str name, str value), pseudo-fields
    included, latin-1), informational heads, data chunks, trailers; ended (END_STREAM
    seen), reset (the RST_STREAM error code, or None); and what the client sent."""

    def __init__(self, stream_id, method):
        self.stream_id = stream_id
        self.method = method
        self.headers = None
        self.informational = []
        self.data = []
        self.received = 0
        self.trailers = None
        self.ended = False
        self.reset = None
        self.window_granted = 0

    @property
    def done(self):
        return self.ended or self.reset is not None


def _fields(headers):
    return [(k.decode("latin-1") if isinstance(k, bytes) else k,
             v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in headers]


class H2Client:
    """One client HTTP/2 connection to 127.0.0.1:port through python3-h2: over TLS with
    ALPN "h2" (verified against the test CA as "localhost"; anything but "h2" negotiated
    is an AssertionError), or h2c with prior knowledge. tls=None follows WS_TLS.

    settings: {h2.settings.SettingCodes: value} sent in the first SETTINGS frame, on top
    of h2's defaults (push is always disabled). auto_window: acknowledge received DATA
    (WINDOW_UPDATE) as h2's window manager decides; False leaves every window to the
    caller (grant()). connection_window: the connection's receive window is raised to
    this at once. The server is checked by h2 as it reads: a frame over a window, an
    upper-case field name or a connection-specific field is a ProtocolError.

    Not thread-safe: one thread drives it. Every wait is bounded by timeout (scaled by SLOW).
    """

    def __init__(self, port, tls=None, timeout=10.0, settings=None, auto_window=True,
                 connection_window=None, authority="localhost", alpn=("h2",)):
        h2 = h2lib()
        self.tls = TLS if tls is None else bool(tls)
        self.timeout = timeout * SLOW
        self.authority = authority
        self.auto_window = auto_window
        self.streams = {}
        self.events = []
        self.goaway = None  # the ConnectionTerminated event, once a GOAWAY arrived
        self.eof = None  # None while open, then "eof" or "reset"
        self.settings_acked = False
        self.remote_settings = {}
        sock = socket.create_connection(("127.0.0.1", port), timeout=self.timeout)
        if self.tls:
            sock = tls_wrap(sock, h2_tls_context(alpn))
            if sock.selected_alpn_protocol() != "h2":
                proto = sock.selected_alpn_protocol()
                sock.close()
                raise AssertionError("ALPN negotiated %r, not h2" % proto)
        self.sock = sock
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        codes = h2.settings.SettingCodes
        initial = {codes.ENABLE_PUSH: 0, codes.MAX_CONCURRENT_STREAMS: 100,
                   codes.MAX_HEADER_LIST_SIZE: 65536}
        initial.update(settings or {})
        self.initial_window = initial.get(codes.INITIAL_WINDOW_SIZE, 65535)
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values=initial)
        # h2 4.1 closes its whole state machine at a GOAWAY, yet the streams up to the
        # GOAWAY's last stream id go on (RFC 9113 §6.8): the state machine is put back
        # to open after it, so that their DATA is taken and their windows can open.
        from hyperframe.frame import GoAwayFrame
        on_goaway = self.conn._frame_dispatch_table[GoAwayFrame]

        def goaway_keeps_streams(frame):
            frames, events = on_goaway(frame)
            self.conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
            return frames, events
        self.conn._frame_dispatch_table[GoAwayFrame] = goaway_keeps_streams
        self.conn.initiate_connection()
        if connection_window is not None and connection_window > 65535:
            self.conn.increment_flow_control_window(connection_window - 65535)
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def flush(self):
        """Sends whatever the state machine has to send."""
        data = self.conn.data_to_send()
        if data:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)

    def send_request(self, path, method="GET", headers=(), body=None, authority=None,
                     end_stream=True):
        """Opens a stream with a request and returns its id. headers: (name, value)
        pairs after the pseudo-fields, names lower-cased; authority=None means the
        client's own (False: no :authority at all)."""
        authority = self.authority if authority is None else authority
        fields = [(b":method", method.encode("latin-1")),
                  (b":scheme", b"https" if self.tls else b"http")]
        if authority is not False:
            fields.append((b":authority", authority.encode("latin-1")))
        fields.append((b":path", path.encode("latin-1")))
        for k, v in headers:
            fields.append((k.lower().encode("latin-1"),
                           v.encode("latin-1") if isinstance(v, str) else v))
        sid = self.conn.get_next_available_stream_id()
        stream = H2Stream(sid, method)
        stream.window_granted = self.initial_window
        self.streams[sid] = stream
        self.conn.send_headers(sid, fields, end_stream=end_stream and not body)
        # The framing is checked here (exact_framing), knowing the status too: h2 would
        # refuse a 304 whose Content-Length describes the body a 200 would carry.
        self.conn.streams[sid]._initialize_content_length = lambda headers: None
        if body:
            self.conn.send_data(sid, body, end_stream=end_stream)
        self.flush()
        return sid

    def grant(self, sid, n):
        """Opens the stream's and the connection's windows by n bytes (auto_window=False)."""
        self.conn.increment_flow_control_window(n)
        if not self.streams[sid].done:
            self.conn.increment_flow_control_window(n, stream_id=sid)
            self.streams[sid].window_granted += n
        self.flush()

    def reset_stream(self, sid, code=None):
        h2 = h2lib()
        self.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL if code is None else code)
        self.flush()

    def pump(self, timeout):
        """Reads what arrives within timeout seconds (unscaled; at least one read) and
        feeds it to the state machine. Returns the new events ([] after a quiet timeout);
        sets eof when the server ends the connection."""
        if self.eof is not None:
            return []
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, BlockingIOError):
            return []
        except ConnectionResetError:
            self.eof = "reset"
            return []
        if not data:
            self.eof = "eof"
            return []
        events = self.conn.receive_data(data)
        self._handle(events)
        self.flush()
        return events

    def _handle(self, events):
        h2 = h2lib()
        ev = h2.events
        for e in events:
            self.events.append(e)
            sid = getattr(e, "stream_id", None)
            stream = self.streams.get(sid)
            if isinstance(e, ev.ResponseReceived):
                stream.headers = _fields(e.headers)
            elif isinstance(e, ev.InformationalResponseReceived):
                stream.informational.append(_fields(e.headers))
            elif isinstance(e, ev.TrailersReceived):
                stream.trailers = _fields(e.headers)
            elif isinstance(e, ev.DataReceived):
                stream.data.append(e.data)
                stream.received += len(e.data)
                if self.auto_window and e.flow_controlled_length:
                    self.conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, ev.StreamEnded):
                stream.ended = True
            elif isinstance(e, ev.StreamReset):
                if stream is not None:
                    stream.reset = e.error_code
            elif isinstance(e, ev.ConnectionTerminated):
                self.goaway = e
            elif isinstance(e, ev.SettingsAcknowledged):
                self.settings_acked = True
            elif isinstance(e, ev.RemoteSettingsChanged):
                for code, change in e.changed_settings.items():
                    self.remote_settings[code] = change.new_value

    def wait(self, predicate, timeout=None, what="the condition"):
        """Pumps until predicate() holds; AssertionError after timeout seconds (scaled;
        None: the client's timeout) or at the end of the connection before it holds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout * SLOW)
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("HTTP/2: no %s within the time allowed" % what)
            if self.eof is not None:
                raise AssertionError("HTTP/2: connection ended (%s, GOAWAY %r) before %s"
                                     % (self.eof, self.goaway, what))
            self.pump(min(left, 0.5))
        return True

    def wait_closed(self, timeout):
        """Pumps until the server ends the connection; True if it did within timeout
        seconds (scaled)."""
        deadline = time.monotonic() + timeout * SLOW
        while self.eof is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.pump(min(left, 0.5))
        return True

    def response(self, sid, timeout=None):
        """Waits for the stream to end and returns its Response (exact_framing checked);
        AssertionError if it was reset or did not end in time."""
        stream = self.streams[sid]
        self.wait(lambda: stream.done, timeout, "end of stream %d (%s)" % (sid, stream.method))
        if stream.reset is not None:
            raise AssertionError("HTTP/2: stream %d was reset with error %r"
                                 % (sid, stream.reset))
        return h2_response(stream)

    def request(self, path, method="GET", headers=(), timeout=None, **kwargs):
        """One request on this connection, waited for; returns its Response."""
        return self.response(self.send_request(path, method, headers, **kwargs), timeout)

    def close(self):
        """Sends GOAWAY (NO_ERROR) if the connection is still up, then closes the socket."""
        try:
            if self.eof is None:
                self.conn.close_connection()
                self.flush()
        except (OSError, ValueError, h2lib().exceptions.ProtocolError):
            pass
        finally:
            self.sock.close()


# RFC 9110 §15 renamed a few statuses; Python's http.HTTPStatus keeps the old names.
_RFC9110_REASONS = {413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable",
                    422: "Unprocessable Content"}


def standard_reason(status):
    """The reason phrase RFC 9110 gives status ("" for one it does not name)."""
    if status in _RFC9110_REASONS:
        return _RFC9110_REASONS[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def h2_response(stream):
    """The Response for an ended stream: status from :status, reason the standard phrase
    (RFC 9110's; HTTP/2 has no reason phrase), version "HTTP/2", headers without pseudo-fields.
    Fails unless the framing is exact (exact_framing)."""
    if stream.headers is None:
        raise AssertionError("HTTP/2: stream %d ended without a response" % stream.stream_id)
    pseudo = [(k, v) for k, v in stream.headers if k.startswith(":")]
    fields = [(k, v) for k, v in stream.headers if not k.startswith(":")]
    if [k for k, _ in pseudo] != [":status"]:
        raise AssertionError("HTTP/2: response pseudo-fields %r, not exactly :status" % pseudo)
    status = int(pseudo[0][1])
    reason = standard_reason(status)
    raw_head = "".join("%s: %s\r\n" % kv for kv in stream.headers).encode("latin-1")
    r = Response(status, reason, "HTTP/2", fields, b"".join(stream.data), raw_head)
    exact_framing(r, stream.method, stream.informational)
    return r


def exact_framing(r, method, informational=()):
    """Fails unless an HTTP/2 response is framed exactly: lower-case field names, no
    connection-specific field (RFC 9113 §8.2), no 1xx before it (the server sends none),
    and a body exactly as long as Content-Length says (none at all after HEAD, 204 or
    304, RFC 9110 §6.4.1)."""
    what = "HTTP/2 %s answered %d" % (method, r.status)
    if informational:
        raise AssertionError("%s after informational heads %r" % (what, informational))
    for k, _ in r.headers:
        if k != k.lower():
            raise AssertionError("%s: upper-case field name %r" % (what, k))
        if k in CONNECTION_SPECIFIC or (k == "te" and r.header("te") != "trailers"):
            raise AssertionError("%s: connection-specific field %r" % (what, k))
    if method == "HEAD" or r.status in (204, 304):
        if r.body:
            raise AssertionError("%s with %d bytes of body" % (what, len(r.body)))
        return
    length = r.header_all("content-length")
    if len(length) > 1:
        raise AssertionError("%s with %d Content-Length fields" % (what, len(length)))
    if length and int(length[0]) != len(r.body):
        raise AssertionError("%s: Content-Length %s, %d bytes of DATA"
                             % (what, length[0], len(r.body)))


def h2_fetch(port, path, method="GET", headers=(), timeout=10.0, tls=None):
    """One request as the only stream of a fresh HTTP/2 connection (tls=None: WS_TLS);
    headers: (name, value) pairs in HTTP/1.1 terms, where Host becomes :authority
    ("localhost" without one) and a connection-specific field is an H1OnlyError. Returns the Response, framed exactly,
    and fails if the server reset the stream or sent GOAWAY with an error."""
    authority = None
    fields = []
    for name, value in headers:
        if value is None:
            continue
        low = name.lower()
        if low == "host":
            if authority is not None:
                raise H1OnlyError("two Host fields have no HTTP/2 form: mark the test @h1_only")
            authority = value
        elif low in CONNECTION_SPECIFIC or (low == "te" and value.lower() != "trailers"):
            raise H1OnlyError("%s: %s is connection-specific, no HTTP/2 form: mark the test "
                              "@h1_only" % (path, name))
        else:
            fields.append((low, value))
    with H2Client(port, tls=tls, timeout=timeout,
                  authority=authority if authority is not None else "localhost") as client:
        sid = client.send_request(path, method, fields)
        r = client.response(sid)
        if client.goaway is not None and client.goaway.error_code != 0:
            raise AssertionError("HTTP/2 %s %s: GOAWAY %r" % (method, path, client.goaway))
        return r
