"""--listen unix:PATH[:MODE]: serving on a Unix stream socket, for a local proxy.

The socket is served like a TCP port (HTTP/1.1, keep-alive, HTTP/2 with prior
knowledge); its file gets MODE; a stale socket file is replaced, a live one or
another kind of file refused; the access log names the peer "unix:"; the file
goes at a clean exit; --listen alone means no TCP port, --port or --bind bring it back.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from wshelper import (
    SLOW,
    WEBSERVER,
    Reader,
    Server,
    h2lib,
    make_root,
    raw_request,
    run_webserver,
    wait_until,
)
from test_listeners import ACTIVATE, on_fd3


def unix_connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout * SLOW)
    s.connect(path)
    return s


def unix_get(path, target="/index.html", headers=()):
    with unix_connect(path) as s:
        s.sendall(raw_request(target, headers=headers, close=True))
        return Reader(s).read_response()


class UnixOnlyServer:
    """A server started with --listen and no TCP port: Server (wshelper) needs a TCP
    port in the start-up line, so this one waits for the line itself."""

    def __init__(self, root, args):
        self.proc = subprocess.Popen([WEBSERVER, "--root", root] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.stderr_lines = []
        deadline = time.monotonic() + 10 * SLOW
        while True:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            if not line:
                raise RuntimeError("server exited before listening: %r" % self.stderr_lines)
            self.stderr_lines.append(line.rstrip("\n"))
            if "listening on" in line:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no start-up line")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=20 * SLOW)
        self._reader.join(5)
        self.proc.stderr.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            self.proc.stderr.close()


class UnixSocketTest(unittest.TestCase):
    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)
        self.dir = tempfile.mkdtemp(prefix="ws-unix-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "ws.sock")

    def start(self, spec=None, tcp=True, args=(), **kwargs):
        """A server on --listen spec (default the test's path), and on a TCP loopback port
        unless tcp is False."""
        listen = ["--listen", spec or "unix:" + self.path]
        if tcp:
            server = Server(self.root, listen_args=listen + ["--port", "0", "--bind", "127.0.0.1"],
                            args=args, tls=False, **kwargs)
        else:
            server = UnixOnlyServer(self.root, listen + ["--access-log", "off"] + list(args))
        self.addCleanup(server.kill)
        return server

    def test_get_and_start_up_line(self):
        server = self.start()
        self.assertIn("listening on unix:%s 127.0.0.1:%d " % (self.path, server.port),
                      server.stderr_lines[0])
        r = unix_get(self.path)
        self.assertEqual(r.status, 200)
        with open(os.path.join(self.root, "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read())
        r = unix_get(self.path, "/missing")
        self.assertEqual(r.status, 404)
        server.stop_checked(self)

    def test_keep_alive(self):
        server = self.start()
        with unix_connect(self.path) as s:
            reader = Reader(s)
            for _ in range(5):
                s.sendall(raw_request("/index.html"))
                r = reader.read_response()
                self.assertEqual(r.status, 200)
                self.assertNotEqual((r.header("connection") or "").lower(), "close")
            # Two pipelined requests on the same connection.
            s.sendall(raw_request("/index.html") + raw_request("/index.html", close=True))
            self.assertEqual(reader.read_response().status, 200)
            self.assertEqual(reader.read_response().status, 200)
            self.assertTrue(reader.at_eof())
        server.stop_checked(self)

    def test_http2_prior_knowledge(self):
        h2 = h2lib()
        server = self.start()
        with unix_connect(self.path, timeout=10) as s:
            conn = h2.connection.H2Connection(
                config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
            conn.initiate_connection()
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                                    (":authority", "localhost"), (":path", "/index.html")],
                              end_stream=True)
            s.sendall(conn.data_to_send())
            headers, body, ended = None, b"", False
            while not ended:
                data = s.recv(65536)
                self.assertTrue(data, "the server closed the HTTP/2 connection")
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.ResponseReceived):
                        headers = dict(ev.headers)
                    elif isinstance(ev, h2.events.DataReceived):
                        body += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        ended = True
                    elif isinstance(ev, h2.events.StreamReset):
                        self.fail("stream reset: %r" % ev)
                s.sendall(conn.data_to_send())
            self.assertEqual(headers[":status"], "200")
            with open(os.path.join(self.root, "index.html"), "rb") as f:
                self.assertEqual(body, f.read())
        server.stop_checked(self)

    def test_mode_is_applied(self):
        for spec, want in (("unix:%s" % self.path, 0o660), ("unix:%s:0666" % self.path, 0o666),
                           ("unix:%s:600" % self.path, 0o600)):
            server = self.start(spec)
            st = os.lstat(self.path)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), want, spec)
            server.stop_checked(self)
            self.assertFalse(os.path.exists(self.path))

    def test_stale_socket_is_replaced(self):
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.path)
        stale.close()  # the file stays; nothing accepts on it
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))
        server = self.start()
        self.assertEqual(unix_get(self.path).status, 200)
        server.stop_checked(self)

    def test_regular_file_is_refused(self):
        with open(self.path, "w") as f:
            f.write("keep me\n")
        r = run_webserver(["--root", self.root, "--listen", "unix:" + self.path])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot listen on unix:%s: the path exists and is not a socket"
                      % self.path.encode(), r.stderr)
        with open(self.path) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_live_socket_is_refused(self):
        first = self.start(tcp=False)
        r = run_webserver(["--root", self.root, "--listen", "unix:" + self.path])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot listen on unix:%s: another process is listening on it"
                      % self.path.encode(), r.stderr)
        # The first instance still serves, and its socket file is still there.
        self.assertEqual(unix_get(self.path).status, 200)
        self.assertEqual(first.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_access_log_shows_unix(self):
        server = self.start(access_log="-", args=("--trusted-proxy", "127.0.0.1"))
        self.assertEqual(unix_get(self.path, "/index.html?a").status, 200)
        # Not a trusted proxy: X-Forwarded-For from the socket is not believed.
        self.assertEqual(unix_get(self.path, "/index.html?b",
                                  headers=[("X-Forwarded-For", "203.0.113.5")]).status, 200)
        wait_until(lambda: len(server.stdout_lines) >= 2, 5)
        # Two workers may write their lines in either order.
        lines = server.stdout_lines
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(sorted("?a " in l for l in lines), [False, True], lines)
        self.assertEqual(sorted("?b " in l for l in lines), [False, True], lines)
        for line in lines:
            self.assertTrue(line.startswith("unix: - - "), lines)
        server.stop_checked(self)

    def test_trusted_proxy_unix(self):
        server = self.start(access_log="-", args=("--trusted-proxy", "unix"))
        self.assertEqual(unix_get(self.path, headers=[("X-Forwarded-For", "203.0.113.5")]).status,
                         200)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5 * SLOW) as s:
            s.sendall(raw_request("/index.html", headers=[("X-Forwarded-For", "198.51.100.7")],
                                  close=True))
            self.assertEqual(Reader(s).read_response().status, 200)
        wait_until(lambda: len(server.stdout_lines) >= 2, 5)
        # Two workers may write their lines in either order. A TCP peer is not in
        # the "unix" block: its own address, not its X-Forwarded-For.
        lines = server.stdout_lines
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(sorted(l.split(" ", 1)[0] for l in lines), ["127.0.0.1", "203.0.113.5"],
                         lines)
        server.stop_checked(self)

    def test_socket_removed_at_sigterm(self):
        server = self.start(tcp=False)
        self.assertEqual(unix_get(self.path).status, 200)
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        self.assertFalse(os.path.exists(self.path))
        self.assertEqual([l for l in server.stderr_lines if not l.startswith("webserver: ")], [])

    def test_socket_of_another_process_is_left_at_exit(self):
        # The server's file was replaced (by hand, or by a new instance): it is not ours to remove.
        server = self.start(tcp=False)
        os.unlink(self.path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.bind(self.path)
        self.assertEqual(server.stop(), 0)
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))

    def test_listen_alone_opens_no_tcp_port(self):
        server = self.start(tcp=False)
        line = [l for l in server.stderr_lines if "listening on" in l][0]
        self.assertIn("listening on unix:%s (root" % self.path, line)
        # Nothing on the TCP ports: the process holds no TCP socket at all.
        inodes = set()
        for name in os.listdir("/proc/%d/fd" % server.proc.pid):
            target = os.readlink("/proc/%d/fd/%s" % (server.proc.pid, name))
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for row in f.readlines()[1:]:
                    self.assertNotIn(row.split()[9], inodes, "a TCP socket in %s" % table)
        self.assertEqual(unix_get(self.path).status, 200)
        self.assertEqual(server.stop(), 0)

    def test_port_off_without_listen_is_refused(self):
        r = run_webserver(["--root", self.root, "--port", "off"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"nothing to listen on", r.stderr)

    def test_bad_values_are_usage_errors(self):
        for spec, why in (("unix:relative.sock", b"absolute"), ("tcp:80", b"unix:PATH"),
                          ("unix:/tmp/x:1000", b"the mode"), ("unix:/" + "a" * 120, b"longer")):
            r = run_webserver(["--root", self.root, "--listen", spec])
            self.assertEqual(r.returncode, 2, (spec, r.stderr))
            self.assertIn(b"invalid --listen", r.stderr, spec)
            self.assertIn(why, r.stderr, spec)

    def test_missing_directory_is_reported(self):
        path = os.path.join(self.dir, "no", "ws.sock")
        r = run_webserver(["--root", self.root, "--listen", "unix:" + path])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot listen on unix:%s: No such file or directory" % path.encode(),
                      r.stderr)

    def test_user_owns_the_socket(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for --user")
        import pwd
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        os.chmod(self.dir, 0o777)  # nobody must be able to remove the file at exit
        os.chmod(self.root, 0o755)
        for dirpath, dirs, files in os.walk(self.root):
            for n in dirs:
                os.chmod(os.path.join(dirpath, n), 0o755)
            for n in files:
                os.chmod(os.path.join(dirpath, n), 0o644)
        server = self.start(tcp=False, args=("--user", "nobody"))
        st = os.lstat(self.path)
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        self.assertEqual(unix_get(self.path).status, 200)
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_activated_unix_listener(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.path)
        sock.listen(16)
        self.addCleanup(sock.close)
        proc = subprocess.Popen(
            ["sh", "-c", ACTIVATE, WEBSERVER, "--root", self.root, "--access-log", "off"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            **on_fd3(sock.fileno()))
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        line = proc.stderr.readline().decode()
        self.assertIn("listening on unix:%s (root" % self.path, line)
        sock.close()
        self.assertEqual(unix_get(self.path).status, 200)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=20 * SLOW), 0)
        proc.stderr.close()
        # Passed in by its owner, the file is not the server's to remove.
        self.assertTrue(os.path.exists(self.path))


if __name__ == "__main__":
    unittest.main()
