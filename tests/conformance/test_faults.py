"""Exhaustion and faults: the server stays up, stays responsive, and gives everything back.

* far more idle, slowloris and slow-reader connections than worker threads,
  while a probe client keeps getting prompt answers (docs/design.md, "Parking");
* a descriptor limit of 64 (prlimit) with hundreds of connections: no busy
  loop (CPU measured from /proc/PID/stat) and full recovery (EMFILE back-off);
* thousands of connections reset (SO_LINGER 0) in the middle of a response;
* a file truncated, grown or replaced while it is being sent;
* SIGTERM in the middle of a multi-threaded load: exit status 0, clean stderr.

After each case the post-conditions of confhelper.py hold: the same process is
alive, its descriptors are back at the baseline, and no secret byte was sent.
"""

import hashlib
import os
import signal
import socket
import threading
import time

from confhelper import (
    SLOW,
    ConformanceTestCase,
    Reader,
    cases,
    close_all_sockets,
    connect,
    cpu_seconds,
    fd_count,
    main,
    parse_responses,
    read_head,
    recv_all,
    reset_close,
    stream_body,
    wait_until,
)

BIG_SIZE = 4 << 20
HUGE_SIZE = 64 << 20


def make_sparse(path, size, ends=1 << 20):
    """A sparse file with random data at both ends; returns its sha256."""
    with open(path, "wb") as f:
        f.write(os.urandom(ends))
        f.truncate(size)
        f.seek(size - ends)
        f.write(os.urandom(ends))
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def timed_probe(port):
    start = time.monotonic()
    with connect(port, timeout=10) as s:
        s.sendall(cases.PROBE)
        data, end = recv_all(s, timeout=10)
    rs, _ = parse_responses(data)
    return [r.status for r in rs], rs[0].body if rs else b"", time.monotonic() - start


class FaultTest(ConformanceTestCase):
    server_args = ("--threads", "2")

    @classmethod
    def prepare_root(cls, root):
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(BIG_SIZE))

    def assert_probe_prompt(self, port=None, limit=1.0):
        statuses, body, elapsed = timed_probe(port or self.port)
        self.assertEqual(statuses, [200])
        self.assertEqual(body, cases.HELLO)
        self.assertLess(elapsed, limit * SLOW, "the probe waited %.2fs" % elapsed)
        return elapsed

    # --- many more connections than threads ---------------------------------------------

    def test_idle_slowloris_and_slow_readers_do_not_starve_a_probe(self):
        """Parking: 150 idle, 100 slowloris and 20 stalled readers against 2 workers."""
        idle, loris, readers = [], [], []
        for _ in range(150):
            idle.append(self.connect())
        for _ in range(100):
            s = self.connect()
            s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            loris.append(s)
        for _ in range(20):
            s = self.connect(rcvbuf=4096)
            s.sendall(cases.get("/big.bin"))
            readers.append(s)
        self.assertTrue(wait_until(lambda: fd_count(self.pid) >= self.baseline + 270, 5),
                        "not every connection was accepted")
        stop = threading.Event()

        def drip():
            while not stop.wait(0.25):
                for s in loris:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
                for s in readers[:10]:  # half the readers read a little now and then
                    try:
                        s.settimeout(0.01)
                        s.recv(1024)
                    except OSError:
                        pass

        t = threading.Thread(target=drip)
        t.start()
        try:
            cpu0, wall0 = cpu_seconds(self.pid), time.monotonic()
            times = [self.assert_probe_prompt() for _ in range(15)]
            time.sleep(0.5)
            used, wall = cpu_seconds(self.pid) - cpu0, time.monotonic() - wall0
        finally:
            stop.set()
            t.join(5)
        self.assertLess(max(times), 1.0 * SLOW)
        self.assertLess(used, 0.5 * wall, "server CPU %.2fs in %.2fs with idle connections" % (used, wall))
        # The slowloris connections are still waiting for their head: finish one.
        loris[0].sendall(b"\r\nConnection: close\r\n\r\n")
        data, end = recv_all(loris[0], timeout=5)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [200])

    def test_descriptor_limit_64_no_busy_loop_and_recovery(self):
        """EMFILE back-off: 300 connections against 64 descriptors; CPU stays low; it recovers."""
        server, baseline = self.own_server(("--threads", "2"), prlimit_nofile=64)
        try:
            socks = []
            # tls=False: most of these wait in the kernel's backlog, where no TLS
            # handshake can finish; over TLS they are raw TCP to the HTTPS port.
            for i in range(300):
                s = connect(server.port, tls=False)
                if i % 2:
                    s.sendall(cases.get("/HelloWorld.html"))
                socks.append(s)
            self.assertTrue(wait_until(lambda: fd_count(server.pid) >= 60, 5), fd_count(server.pid))
            time.sleep(0.3)
            cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
            time.sleep(1.5)
            used, wall = cpu_seconds(server.pid) - cpu0, time.monotonic() - wall0
            self.assertLess(used, 0.25 * wall, "server spins at its descriptor limit: %.2fs CPU in %.2fs"
                            % (used, wall))
            self.assertTrue(server.alive())
            close_all_sockets()
            self.assertTrue(wait_until(lambda: fd_count(server.pid) == baseline, 10),
                            "descriptors: %d, baseline %d" % (fd_count(server.pid), baseline))
            for _ in range(20):
                self.assert_probe_prompt(server.port)
            # Again: it hits the limit a second time and comes back a second time.
            for i in range(200):
                socks.append(connect(server.port, tls=False))
            self.assertTrue(wait_until(lambda: fd_count(server.pid) >= 60, 5))
            close_all_sockets()
            self.assertTrue(wait_until(lambda: fd_count(server.pid) == baseline, 10))
            self.assert_probe_prompt(server.port)
            self.check_server(server, server.pid, baseline)
        finally:
            self.stop_own(server)

    # --- resets ----------------------------------------------------------------------------

    def test_thousands_of_resets_mid_response(self):
        """Resets (SO_LINGER 0) in the middle of 4 MiB responses, of heads and of bodies."""
        total = int(2000 / (2 if SLOW > 1 else 1))
        errors = []

        def client(n, offset):
            for i in range(n):
                kind = (offset + i) % 4
                try:
                    s = connect(self.port, rcvbuf=4096)
                    if kind == 0:  # mid-response: the head and some body have arrived
                        s.sendall(cases.get("/big.bin"))
                        s.recv(2048)
                    elif kind == 1:  # pipelined, mid-way through the second response
                        s.sendall(cases.get("/HelloWorld.html") + cases.get("/big.bin"))
                        s.recv(4096)
                    elif kind == 2:  # mid-head
                        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n")
                    else:  # mid-body
                        s.sendall(cases.get("/HelloWorld.html", "Content-Length: 5000", body=b"x" * 100))
                    reset_close(s)
                except OSError as e:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(total // 8, k)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertLessEqual(len(errors), total // 100, errors[:5])
        self.assertTrue(self.server.alive())
        self.assert_probe_prompt()
        # A full download still works afterwards.
        with self.connect(timeout=10) as s:
            s.sendall(cases.get("/big.bin", "Connection: close"))
            data, end = recv_all(s, timeout=10)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].body, self.file_bytes("big.bin"))

    # --- files changing under a response ----------------------------------------------------

    def start_slow_download(self, name):
        s = self.connect(timeout=10, rcvbuf=4096)
        s.sendall(cases.get("/" + name))
        head, rest = read_head(s)
        self.assertEqual(head.status, 200)
        return s, head, rest

    def test_file_truncated_while_being_sent(self):
        """The length promised cannot be met: the connection is closed, never left hanging."""
        path = os.path.join(self.root, "trunc.bin")
        make_sparse(path, HUGE_SIZE)
        s, head, rest = self.start_slow_download("trunc.bin")
        self.assertEqual(int(head.header("content-length")), HUGE_SIZE)
        os.truncate(path, 1 << 20)
        start = time.monotonic()
        n, _ = stream_body(s, rest, HUGE_SIZE)
        self.assertLess(n, HUGE_SIZE, "more bytes than the file has")
        self.assertLess(time.monotonic() - start, 10 * SLOW)
        data, end = recv_all(s, timeout=5)
        self.assertEqual(data, b"")
        self.assertEqual(end, "eof")  # the client sent only its request: nothing unread to reset for
        self.assert_probe_prompt()
        os.unlink(path)

    def test_file_truncated_to_zero_while_being_sent(self):
        """As above, with nothing left at all."""
        path = os.path.join(self.root, "zero.bin")
        make_sparse(path, 32 << 20)
        s, head, rest = self.start_slow_download("zero.bin")
        os.truncate(path, 0)
        n, _ = stream_body(s, rest, 32 << 20)
        self.assertLess(n, 32 << 20)
        self.assertIn(recv_all(s, timeout=5)[1], ("eof", "reset"))
        os.unlink(path)

    def test_file_growing_while_being_sent_keeps_framing(self):
        """RFC 9112 §6.3: exactly Content-Length bytes, then the next response, in step."""
        path = os.path.join(self.root, "grow.bin")
        digest = make_sparse(path, 16 << 20)
        s, head, rest = self.start_slow_download("grow.bin")
        with open(path, "ab") as f:
            f.write(b"G" * (1 << 20))
        n, got = stream_body(s, rest, 16 << 20)
        self.assertEqual(n, 16 << 20)
        self.assertEqual(got, digest)
        s.sendall(cases.PROBE)
        reader = Reader(s)
        r = reader.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, cases.HELLO)
        os.unlink(path)

    def test_file_replaced_while_being_sent(self):
        """The open descriptor keeps the old file: its bytes arrive whole; the next request
        gets the new file."""
        path = os.path.join(self.root, "repl.bin")
        old = make_sparse(path, 16 << 20)
        s, head, rest = self.start_slow_download("repl.bin")
        tmp = path + ".new"
        with open(tmp, "wb") as f:
            f.write(b"new contents\n")
        os.replace(tmp, path)
        n, got = stream_body(s, rest, 16 << 20)
        self.assertEqual((n, got), (16 << 20, old))
        s.sendall(cases.get("/repl.bin", "Connection: close"))
        data, end = recv_all(s, timeout=5)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].body, b"new contents\n")
        os.unlink(path)

    def test_file_replaced_by_escape_symlink_while_being_sent(self):
        """A file swapped for a symlink out of the root mid-download: old bytes, then 404."""
        path = os.path.join(self.root, "swapped.bin")
        old = make_sparse(path, 16 << 20)
        s, head, rest = self.start_slow_download("swapped.bin")
        tmp = path + ".lnk"
        os.symlink(os.path.join(self.base, "secret.txt"), tmp)
        os.replace(tmp, path)
        n, got = stream_body(s, rest, 16 << 20)
        self.assertEqual((n, got), (16 << 20, old))
        s.sendall(cases.get("/swapped.bin", "Connection: close"))
        data, end = recv_all(s, timeout=5)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [404])
        os.unlink(path)

    # --- SIGTERM under load -------------------------------------------------------------------

    def test_sigterm_under_load_exits_0(self):
        """Shutdown with 16 busy clients: exit 0 within the grace, every answer whole."""
        server, baseline = self.own_server(("--threads", "4", "--shutdown-grace", "5"))
        stop = threading.Event()
        results = {"complete": 0, "truncated": [], "errors": []}
        lock = threading.Lock()
        big = self.file_bytes("big.bin")

        def client(k):
            while not stop.is_set():
                try:
                    s = connect(server.port, timeout=10)
                except OSError:
                    return  # the listener is closed: shutdown has begun
                try:
                    reader = Reader(s)
                    for i in range(20):
                        target = "/big.bin" if (k + i) % 5 == 0 else "/HelloWorld.html"
                        s.sendall(cases.get(target))
                        try:
                            r = reader.read_response()
                        except (EOFError, ConnectionResetError):
                            # Closed between responses: fine, unless a head had arrived.
                            if b"\r\n\r\n" in reader.buf:
                                with lock:
                                    results["truncated"].append(reader.buf[:100])
                            break
                        ok = r.body == (big if target == "/big.bin" else cases.HELLO)
                        with lock:
                            if ok:
                                results["complete"] += 1
                            else:
                                results["truncated"].append(r.raw_head[:100])
                        if (r.header("connection") or "") == "close":
                            break
                except OSError as e:
                    with lock:
                        results["errors"].append(repr(e))
                finally:
                    s.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        self.assertTrue(server.alive())
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(timeout=(5 + 10) * SLOW)
        except Exception:
            rc = None
        elapsed = time.monotonic() - start
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(rc, 0, "exit status after SIGTERM under load; stderr:\n%s"
                         % "\n".join(server.stderr_lines[-30:]))
        self.assertLess(elapsed, (5 + 5) * SLOW)
        self.assertGreater(results["complete"], 10)
        self.assertEqual(results["truncated"], [], "responses cut short by the shutdown")
        server.stop()  # collects the pipes
        self.assertEqual(server.foreign_stderr(), [], "foreign lines on the server's stderr")


if __name__ == "__main__":
    main()
