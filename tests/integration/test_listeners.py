"""Where the listening socket comes from, what it is set to, and who the server runs
as: systemd socket activation (LISTEN_PID/LISTEN_FDS, faked here), TCP_NOTSENT_LOWAT,
--reuseport, --user."""

import ctypes
import errno
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from wshelper import (
    SLOW,
    connect,
    WEBSERVER,
    Reader,
    Server,
    make_root,
    raw_request,
    run_webserver,
    wait_until,
)

# sd_listen_fds(3): LISTEN_PID must be the pid of the process that reads it, so it
# is set by a shell that then execs the server (same pid).
ACTIVATE = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
FOREIGN_PID = 'LISTEN_PID=1 LISTEN_FDS=1 exec "$0" "$@"'
# The unit's FileDescriptorName=https: the passed socket speaks TLS.
ACTIVATE_HTTPS = 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=https exec "$0" "$@"'


def on_fd3(fd):
    """Popen arguments that make fd (open in this process) descriptor 3 of the child,
    and nothing else: the child keeps no second copy under fd's own number.

    preexec_fn runs in the child before subprocess closes the descriptors not in
    pass_fds, so 3 must be in pass_fds, and subprocess marks those inheritable
    before preexec_fn runs, so 3 must be open here: it is, since fd took the lowest
    free number when it was created (or fd is 3 itself).
    """
    if fd == 3:
        return {"pass_fds": (3,)}
    os.fstat(3)  # raises if 3 is free, which the caller's fd makes impossible

    def move():
        os.dup2(fd, 3)  # clears close-on-exec on 3
        os.close(fd)

    return {"pass_fds": (fd, 3), "preexec_fn": move}


def read_text(path):
    with open(path) as f:
        return f.read()


def get_status(port, path="/HelloWorld.html", host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=5 * SLOW) as s:
        s.sendall(raw_request(path, close=True))
        return Reader(s).read_response().status


def proc_ids(pid):
    """(real, effective, saved, fs) uids, the same gids, and the supplementary groups."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids


class ListenerTestCase(unittest.TestCase):
    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)

    def start(self, *args, **kwargs):
        server = Server(self.root, *args, **kwargs)
        self.addCleanup(server.kill)
        return server

    def listening_socket(self, listen=True):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        if listen:
            s.listen(128)
        self.addCleanup(s.close)
        return s


# TCP_NOTSENT_LOWAT (linux/tcp.h): what the server sets on its TCP listeners, so
# that every connection it accepts holds at most this many unsent bytes.
TCP_NOTSENT_LOWAT = 25
NOTSENT_LOWAT = 128 * 1024
SYS_PIDFD_GETFD = 438  # the same number on every architecture (asm-generic)


def server_sockets(pid):
    """Copies of the TCP sockets the process pid holds (pidfd_getfd(2), Linux 5.6),
    or None where that is not allowed."""
    libc = ctypes.CDLL(None, use_errno=True)
    socks = []
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir("/proc/%d/fd" % pid):
            try:
                if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                    continue
            except FileNotFoundError:
                continue
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                if ctypes.get_errno() in (errno.EPERM, errno.ENOSYS):
                    for s in socks:
                        s.close()
                    return None
                continue
            s = socket.socket(fileno=fd)
            if s.family in (socket.AF_INET, socket.AF_INET6) and s.type == socket.SOCK_STREAM:
                socks.append(s)
            else:
                s.close()
    finally:
        os.close(pidfd)
    return socks


class SocketOptionTest(ListenerTestCase):
    def test_listeners_and_connections_hold_few_unsent_bytes(self):
        server = self.start()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5 * SLOW) as c:
            c.sendall(raw_request("/HelloWorld.html"))
            self.assertEqual(Reader(c).read_response().status, 200)
            socks = server_sockets(server.pid)
            if socks is None:
                self.skipTest("pidfd_getfd is not allowed here")
            try:
                listeners = [s for s in socks
                             if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)]
                conns = [s for s in socks if s not in listeners
                         and s.getpeername()[1] == c.getsockname()[1]]
                self.assertEqual((len(listeners), len(conns)), (1, 1))
                for s in listeners + conns:
                    self.assertEqual(s.getsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT),
                                     NOTSENT_LOWAT, s)
            finally:
                for s in socks:
                    s.close()
        server.stop_checked(self)


class SocketActivationTest(ListenerTestCase):
    def test_serves_on_the_passed_socket_and_ignores_port(self):
        sock = self.listening_socket()
        port = sock.getsockname()[1]
        # Some other free port for --port: it must stay unbound.
        other = self.listening_socket(listen=False)
        other_port = other.getsockname()[1]
        other.close()
        server = self.start(listen_args=("--port", str(other_port), "--bind", "127.0.0.1"),
                            cmd_prefix=["sh", "-c", ACTIVATE], popen_kwargs=on_fd3(sock.fileno()))
        # The server set the option on the socket it was given (one socket, two descriptors).
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT), NOTSENT_LOWAT)
        sock.close()  # the server holds its own copy now
        self.assertEqual(server.port, port, server.stderr_lines)
        self.assertIn("listening on 127.0.0.1:%d " % port, server.stderr_lines[0])
        for _ in range(3):
            self.assertEqual(get_status(port), 200)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", other_port), timeout=2).close()
        # The variables are for the server alone; it also leaves no extra copy of the socket.
        fds = [os.readlink("/proc/%d/fd/%s" % (server.pid, n))
               for n in os.listdir("/proc/%d/fd" % server.pid)]
        self.assertEqual(len([f for f in fds if f.startswith("socket:")]),
                         len(set(f for f in fds if f.startswith("socket:"))))
        server.stop_checked(self)

    def test_a_socket_named_https_speaks_tls(self):
        sock = self.listening_socket()
        port = sock.getsockname()[1]
        server = self.start(tls=True, cmd_prefix=["sh", "-c", ACTIVATE_HTTPS],
                            popen_kwargs=on_fd3(sock.fileno()))
        sock.close()
        self.assertEqual(server.port, port, server.stderr_lines)
        self.assertIn("listening on https:127.0.0.1:%d " % port, server.stderr_lines[0])
        for _ in range(2):
            with connect(port, tls=True) as s:
                s.sendall(raw_request("/HelloWorld.html", close=True))
                self.assertEqual(Reader(s).read_response().status, 200)
        # A request in the clear on it is told that the port speaks HTTPS.
        with connect(port, tls=False) as s:
            s.sendall(raw_request("/HelloWorld.html", close=True))
            self.assertEqual(Reader(s).read_response().status, 400)
        server.stop_checked(self)

    def test_a_socket_named_https_needs_a_certificate(self):
        sock = self.listening_socket()
        r = self.run_activated(sock.fileno(), ACTIVATE_HTTPS)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"is named https, but no --tls-cert was given", r.stderr)

    def test_sigterm_closes_the_passed_socket(self):
        sock = self.listening_socket()
        port = sock.getsockname()[1]
        server = self.start(listen_args=("--port", "1"), cmd_prefix=["sh", "-c", ACTIVATE],
                            popen_kwargs=on_fd3(sock.fileno()))
        sock.close()
        self.assertEqual(get_status(port), 200)
        server.stop_checked(self)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_listen_pid_of_another_process_is_ignored(self):
        sock = self.listening_socket()
        port = sock.getsockname()[1]
        server = self.start(cmd_prefix=["sh", "-c", FOREIGN_PID],
                            popen_kwargs=on_fd3(sock.fileno()))
        # It bound --port 0 itself, on another port.
        self.assertNotEqual(server.port, port)
        self.assertEqual(get_status(server.port), 200)
        server.stop_checked(self)

    def run_activated(self, fd, script=ACTIVATE):
        kwargs = on_fd3(fd)
        return subprocess.run(["sh", "-c", script, WEBSERVER, "--root", self.root, "--port", "0",
                               "--bind", "127.0.0.1", "--access-log", "off"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10 * SLOW,
                              **kwargs)

    def test_non_listening_socket_is_refused(self):
        sock = self.listening_socket(listen=False)
        r = self.run_activated(sock.fileno())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"socket activation: descriptor 3 is not a listening TCP socket", r.stderr)
        self.assertEqual(r.stdout, b"")

    def test_regular_file_is_refused(self):
        with open(os.path.join(self.root, "index.html"), "rb") as f:
            r = self.run_activated(f.fileno())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"descriptor 3 is not a listening TCP socket", r.stderr)

    def test_udp_socket_is_refused(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        r = self.run_activated(s.fileno())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"not a listening TCP socket", r.stderr)

    def test_bad_listen_fds(self):
        sock = self.listening_socket()
        for value in ("0", "x", "-1", "99"):
            r = self.run_activated(sock.fileno(), 'LISTEN_PID=$$ LISTEN_FDS=%s exec "$0" "$@"'
                                   % value)
            self.assertEqual(r.returncode, 1, (value, r.stderr))
            self.assertIn(b"socket activation: bad LISTEN_FDS", r.stderr, value)


class ReuseportTest(ListenerTestCase):
    def count_lines(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def test_two_instances_share_a_port(self):
        tmp = tempfile.mkdtemp(prefix="ws-reuseport-")
        self.addCleanup(shutil.rmtree, tmp, True)
        logs = [os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")]
        a = self.start(("--reuseport",), access_log=logs[0])
        port = a.port
        b = self.start(("--reuseport",), access_log=logs[1],
                       listen_args=("--port", str(port), "--bind", "127.0.0.1"))
        self.assertEqual(b.port, port)

        # The kernel spreads connections over both (by a hash of the address pair).
        n = 64
        for i in range(n):
            self.assertEqual(get_status(port, "/HelloWorld.html?%d" % i), 200)
        self.assertTrue(wait_until(lambda: sum(map(self.count_lines, logs)) == n, 5))
        self.assertGreater(self.count_lines(logs[0]), 0, "instance a got no connection")
        self.assertGreater(self.count_lines(logs[1]), 0, "instance b got no connection")

        # Without --reuseport a third cannot join.
        r = run_webserver(["--root", self.root, "--port", str(port), "--bind", "127.0.0.1",
                           "--access-log", "off"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Address already in use", r.stderr)

        # One stops; the other serves every connection from then on.
        a.stop_checked(self)
        before = self.count_lines(logs[1])
        for i in range(32):
            self.assertEqual(get_status(port, "/index.html?%d" % i), 200)
        self.assertTrue(wait_until(lambda: self.count_lines(logs[1]) == before + 32, 5))
        b.stop_checked(self)

    def test_without_reuseport_the_second_fails(self):
        a = self.start(("--reuseport",))
        r = run_webserver(["--root", self.root, "--port", str(a.port), "--bind", "127.0.0.1"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr.decode(), r"^webserver: cannot listen on 127\.0\.0\.1:%d: "
                                            r"Address already in use\n$" % a.port)
        a.stop_checked(self)

        c = self.start(())  # the first without it: a --reuseport second fails too
        r = run_webserver(["--root", self.root, "--port", str(c.port), "--bind", "127.0.0.1",
                           "--reuseport"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Address already in use", r.stderr)
        c.stop_checked(self)


def free_privileged_port():
    """A port below 1024 that is free on 127.0.0.1 (we are root), or None."""
    for port in (80, 81, 8, 82, 88, 800, 808, 880, 888, 1000, 1001, 1010, 1020):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


class UserTest(ListenerTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("--user tests need root")
        try:
            self.nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        # The root must be readable by nobody: make_root's directory is 0700.
        for dirpath, dirnames, filenames in os.walk(self.root):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)

    def test_drops_to_nobody_after_binding_a_privileged_port(self):
        port = free_privileged_port()
        if port is None:
            self.skipTest("no free port below 1024 on 127.0.0.1")
        server = self.start(("--user", "nobody"),
                            listen_args=("--port", str(port), "--bind", "127.0.0.1"))
        self.assertEqual(server.port, port)
        ids = proc_ids(server.pid)
        self.assertEqual(ids["Uid"], [self.nobody.pw_uid] * 4, ids)
        self.assertEqual(ids["Gid"], [self.nobody.pw_gid] * 4, ids)
        self.assertNotIn(0, ids["Groups"], ids)
        # Every thread, not just the main one (setuid in glibc applies to all).
        for tid in os.listdir("/proc/%d/task" % server.pid):
            self.assertEqual(proc_ids(int(tid))["Uid"], [self.nobody.pw_uid] * 4, tid)
        self.assertEqual(get_status(port), 200)
        self.assertEqual(get_status(port, "/sub/"), 200)
        self.assertEqual(get_status(port, "/missing"), 404)
        server.stop_checked(self)

    def test_files_nobody_cannot_read_are_not_served(self):
        secret = os.path.join(self.root, "secret.html")
        with open(secret, "w") as f:
            f.write("secret\n")
        os.chmod(secret, 0o600)
        server = self.start(("--user", "nobody"))
        self.assertEqual(get_status(server.port), 200)
        self.assertEqual(get_status(server.port, "/secret.html"), 403)  # EACCES, as UnreadableFileTest
        server.stop_checked(self)

    def test_logs_opened_before_the_drop(self):
        # The log directory is root's: only the files opened before the drop are writable,
        # so after a rename a SIGHUP cannot create new ones: the server says so and keeps
        # the old descriptors (no line lost). logrotate's "create" (owner nobody) fixes it.
        logdir = tempfile.mkdtemp(prefix="ws-user-logs-")
        self.addCleanup(shutil.rmtree, logdir, True)
        os.chmod(logdir, 0o755)
        access = os.path.join(logdir, "access.log")
        error = os.path.join(logdir, "error.log")
        server = self.start(("--user", "nobody"), access_log=access, error_log=error)
        self.assertEqual(get_status(server.port), 200)
        os.rename(access, access + ".1")
        server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: any("SIGHUP: cannot reopen a log file: Permission denied"
                                               in l for l in server.error_log_lines()), 5),
                        server.error_log_lines())
        self.assertEqual(get_status(server.port), 200)
        self.assertTrue(wait_until(lambda: read_text(access + ".1").count("\n") == 2, 5))

        # logrotate "create 0640 nobody nogroup": the new file exists and is nobody's.
        with open(access, "w"):
            pass
        os.chown(access, self.nobody.pw_uid, self.nobody.pw_gid)
        os.chmod(access, 0o640)
        os.rename(error, error + ".1")
        with open(error, "w"):
            pass
        os.chown(error, self.nobody.pw_uid, self.nobody.pw_gid)
        server.error_log_files = [error + ".1", error]
        server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: any("SIGHUP: log files reopened" in l
                                               for l in read_text(error).splitlines()), 5))
        self.assertEqual(get_status(server.port), 200)
        self.assertTrue(wait_until(lambda: read_text(access).count("\n") == 1, 5))
        server.stop_checked(self)

    def test_unknown_user(self):
        r = run_webserver(["--root", self.root, "--port", "0", "--bind", "127.0.0.1",
                           "--user", "nonexistentuser-ws"])
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr, b"webserver: invalid value 'nonexistentuser-ws' for --user: "
                                   b"no such user\n")
        self.assertEqual(r.stdout, b"")

    # An unknown --user is a bad command-line value: exit 2, before anything is bound.
    def test_unknown_user_is_a_usage_error(self):
        r = run_webserver(["--root", self.root, "--port", "0", "--bind", "127.0.0.1",
                           "--user", "nonexistentuser-ws"])
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_user_without_root_fails_to_start(self):
        # Started as nobody, it cannot become anyone else.
        other = "daemon"
        try:
            pwd.getpwnam(other)
        except KeyError:
            self.skipTest("no user 'daemon'")
        r = subprocess.run([WEBSERVER, "--root", self.root, "--port", "0", "--bind", "127.0.0.1",
                            "--access-log", "off", "--user", other], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10 * SLOW, user=self.nobody.pw_uid,
                           group=self.nobody.pw_gid, extra_groups=[])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr, b"webserver: --user daemon needs the server to be started "
                                   b"as root\n")

    def test_user_that_it_already_is(self):
        server = self.start(("--user", "nobody"), user=(self.nobody.pw_uid, self.nobody.pw_gid))
        self.assertEqual(proc_ids(server.pid)["Uid"][0], self.nobody.pw_uid)
        self.assertEqual(get_status(server.port), 200)
        server.stop_checked(self)


if __name__ == "__main__":
    unittest.main()
