"""Many clients, few threads: parking keeps every worker free for connections that are ready.

With a blocking design, N workers are stopped by N idle, slow or stalled clients;
these tests hold far more such clients than there are workers and check that a
normal request is still answered at once, that every response is byte-exact,
that overload is answered with 503, and that no descriptor is leaked.
"""

import os
import shutil
import signal
import socket
import threading
import time
import unittest

from wshelper import (
    SLOW,
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
    wait_until,
    write_file,
)

HUGE_SIZE = 64 << 20


def timed_get(port, path="/HelloWorld.html"):
    start = time.monotonic()
    r = get(port, path)
    return r, time.monotonic() - start


class ManyClientsTest(ServerTestCase):
    server_args = ("--threads", "2")

    @classmethod
    def prepare_root(cls, root):
        write_file(os.path.join(root, "medium.bin"), os.urandom(300 * 1024))

    def test_more_clients_than_threads_all_byte_exact(self):
        plan = [("/HelloWorld.html", "HelloWorld.html"), ("/medium.bin", "medium.bin"),
                ("/missing", None), ("/sub/", "sub/index.html"), ("/medium.bin", "medium.bin")]
        expected = {rel: self.file_bytes(rel) for _, rel in plan if rel}
        clients = 50
        barrier = threading.Barrier(clients, timeout=10 * SLOW)
        errors, done = [], []

        def client(i):
            try:
                barrier.wait()
                with connect(self.port, timeout=20) as s:
                    reader = Reader(s)
                    for target, rel in plan:
                        s.sendall(raw_request(target))
                        r = reader.read_response()
                        if rel is None:
                            if r.status != 404:
                                errors.append("client %d %s: status %d" % (i, target, r.status))
                        elif r.status != 200 or r.body != expected[rel]:
                            errors.append("client %d %s: status %d, %d bytes" % (i, target, r.status, len(r.body)))
                    # And a pipelined pair at the end.
                    s.sendall(raw_request("/HelloWorld.html") + raw_request("/medium.bin", close=True))
                    data, end = recv_all(s, timeout=20)
                    rs, rest = parse_responses(reader.buf + data)
                    if [r.status for r in rs] != [200, 200] or rest or end != "eof" or \
                            rs[0].body != expected["HelloWorld.html"] or rs[1].body != expected["medium.bin"]:
                        errors.append("client %d pipelined: %r %s" % (i, [r.status for r in rs], end))
                done.append(i)
            except Exception as e:  # recorded; asserted on the main thread
                errors.append("client %d: %r" % (i, e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60 * SLOW)
        self.assertEqual(errors, [])
        self.assertEqual(len(done), clients)


class IdleConnectionsTest(ServerTestCase):
    server_args = ("--threads", "2")

    def test_100_idle_connections_do_not_block_a_request(self):
        socks = []
        try:
            for i in range(100):
                s = connect(self.port)
                socks.append(s)
                if i % 3 == 1:
                    s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\n")  # half a request
                elif i % 3 == 2:
                    s.sendall(raw_request("/HelloWorld.html"))  # a whole one, then idle
                    self.assertEqual(Reader(s).read_response().status, 200)
            r, elapsed = timed_get(self.port)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))
            self.assertLess(elapsed, 1.0 * SLOW, "request waited behind idle connections")

            # The idle connections were not dropped to make room: each still works.
            for i, s in enumerate(socks):
                if i % 3 == 1:
                    s.sendall(b"\r\n")
                elif i % 3 == 2:
                    s.sendall(raw_request("/index.html"))
                else:
                    s.sendall(raw_request("/sub/"))
            for i, s in enumerate(socks):
                r = Reader(s).read_response()
                self.assertEqual(r.status, 200, "idle connection %d" % i)
        finally:
            for s in socks:
                s.close()


class StalledReaderTest(ServerTestCase):
    server_args = ("--threads", "1")

    @classmethod
    def prepare_root(cls, root):
        make_big_file(os.path.join(root, "huge.bin"), HUGE_SIZE)
        cls.huge_digest = file_digest(os.path.join(root, "huge.bin"))

    def stalled_client(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10 * SLOW)
        s.connect(("127.0.0.1", self.port))
        s.sendall(raw_request("/huge.bin"))
        return s

    def test_stalled_readers_do_not_hold_the_worker(self):
        stalled = [self.stalled_client() for _ in range(4)]
        try:
            # Give the single worker every chance to get stuck on them.
            time.sleep(0.3)
            for _ in range(3):
                r, elapsed = timed_get(self.port)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))
                self.assertLess(elapsed, 1.0 * SLOW, "request waited behind stalled readers")

            # A stalled reader that resumes gets the whole file, byte-exact.
            s = stalled[0]
            head, rest = read_head(s)
            self.assertEqual(head.status, 200)
            self.assertEqual(int(head.header("content-length")), HUGE_SIZE)
            n, digest = stream_body(s, rest, HUGE_SIZE)
            self.assertEqual(n, HUGE_SIZE)
            self.assertEqual(digest, self.huge_digest)
        finally:
            for s in stalled:
                s.close()
        # Aborted downloads leave the server healthy.
        r, elapsed = timed_get(self.port)
        self.assertEqual(r.status, 200)

    def test_slow_reader_gets_the_whole_file(self):
        # Reads in small bites with pauses: the response parks many times and resumes.
        with connect(self.port, timeout=20) as s:
            s.sendall(raw_request("/big.bin"))
            head, rest = read_head(s)
            self.assertEqual(head.status, 200)
            size = int(head.header("content-length"))
            n, digest = stream_body(s, rest, size, delay=0.002, chunk=64 * 1024)
        self.assertEqual(n, size)
        self.assertEqual(digest, file_digest(os.path.join(self.root, "big.bin")))


class SlowlorisTest(ServerTestCase):
    server_args = ("--threads", "2")

    def test_slow_headers_do_not_block_requests(self):
        slow = []
        stop = threading.Event()
        try:
            for i in range(40):
                s = connect(self.port)
                s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                s.setblocking(False)
                slow.append(s)

            def drip():
                # One byte per connection every 0.5 s, for at most 10 rounds.
                for _ in range(10):
                    for s in slow:
                        try:
                            s.send(b"a")
                        except OSError:
                            pass
                    if stop.wait(0.5):
                        return

            dripper = threading.Thread(target=drip)
            dripper.start()
            try:
                for _ in range(6):
                    r, elapsed = timed_get(self.port)
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))
                    self.assertLess(elapsed, 1.0 * SLOW, "request waited behind slow headers")
                    time.sleep(0.2)
            finally:
                stop.set()
                dripper.join(timeout=5)
        finally:
            for s in slow:
                s.close()


class DescriptorLeakTest(ServerTestCase):
    server_args = ("--threads", "2")

    def test_descriptors_return_to_baseline(self):
        baseline = self.server.fd_count()  # a fresh server, nothing in flight
        socks = []
        try:
            for i in range(30):  # idle, never sent anything
                socks.append(connect(self.port))
            for i in range(20):  # half a request header
                s = connect(self.port)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            for i in range(20):  # kept alive after a response
                s = connect(self.port)
                s.sendall(raw_request("/HelloWorld.html"))
                self.assertEqual(Reader(s).read_response().status, 200)
                socks.append(s)
            for i in range(10):  # a bad request, in lingering close
                s = connect(self.port)
                s.sendall(b"BAD REQUEST\r\n\r\n" + b"j" * 1000)
                socks.append(s)
            for i in range(10):  # in the middle of a big download
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(5 * SLOW)
                s.connect(("127.0.0.1", self.port))
                s.sendall(raw_request("/big.bin"))
                s.recv(1000)
                socks.append(s)
            for i in range(10):  # with a body half sent
                s = connect(self.port)
                s.sendall(raw_request("/index.html", headers=[("Content-Length", "100000")]) + b"x" * 500)
                socks.append(s)
            self.assertTrue(wait_until(lambda: self.server.fd_count() >= baseline + len(socks), 5),
                            "server did not accept every connection")
        finally:
            for s in socks:
                s.close()
        ok = wait_until(lambda: self.server.fd_count() == baseline, 5)
        self.assertTrue(ok, "descriptors: %d open, %d at baseline" % (self.server.fd_count(), baseline))
        self.assert_still_serving()
        self.assertTrue(wait_until(lambda: self.server.fd_count() == baseline, 5))


class OverloadTest(ServerTestCase):
    """A full ring: new connections get a short 503 with Retry-After, never a hang or a reset."""

    server_args = ("--threads", "1", "--queue", "1")

    def test_full_queue_answers_503(self):
        hello = self.file_bytes("HelloWorld.html")
        socks = []
        # Stop the server so that every connection is waiting at once when it resumes;
        # the kernel completes the handshakes and buffers the requests meanwhile.
        os.kill(self.server.pid, signal.SIGSTOP)
        try:
            for i in range(150):
                s = connect(self.port, timeout=10)
                s.sendall(raw_request("/HelloWorld.html", close=True))
                socks.append(s)
        finally:
            os.kill(self.server.pid, signal.SIGCONT)
        counts = {200: 0, 503: 0}
        try:
            for i, s in enumerate(socks):
                data, end = recv_all(s, timeout=10)
                self.assertEqual(end, "eof", "connection %d: %s after %r" % (i, end, data[:100]))
                rs, rest = parse_responses(data)
                self.assertEqual(len(rs), 1, "connection %d: %r" % (i, data[:200]))
                self.assertEqual(rest, b"")
                r = rs[0]
                self.assertIn(r.status, (200, 503), "connection %d" % i)
                counts[r.status] += 1
                if r.status == 200:
                    self.assertEqual(r.body, hello)
                else:
                    self.assertEqual(r.reason, "Service Unavailable")
                    self.assertRegex(r.header("retry-after") or "", r"^\d+$")
                    self.assertEqual(r.header("connection"), "close")
                    self.assertEqual(int(r.header("content-length")), len(r.body))
        finally:
            for s in socks:
                s.close()
        self.assertGreaterEqual(counts[200], 1, counts)
        self.assertGreaterEqual(counts[503], 1, counts)
        self.assert_still_serving()


class AcceptBackoffTest(unittest.TestCase):
    """Out of descriptors: the server backs off instead of spinning, and recovers."""

    def test_emfile_backs_off_and_recovers(self):
        from wshelper import WEBSERVER

        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        root = make_root()
        self.addCleanup(shutil.rmtree, root, True)
        server = Server(root, ("--threads", "2"), prlimit_nofile=128)
        self.addCleanup(server.kill)
        socks = []
        try:
            for _ in range(200):
                socks.append(connect(server.port))
            # Let it fill its table and hit EMFILE.
            self.assertTrue(wait_until(lambda: server.fd_count() >= 120, 5), server.fd_count())
            ticks = os.sysconf("SC_CLK_TCK")

            def cpu():
                with open("/proc/%d/stat" % server.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / ticks

            before, start = cpu(), time.monotonic()
            time.sleep(1.0)
            used = cpu() - before
            wall = time.monotonic() - start
            self.assertLess(used, 0.3 * wall, "server spins while out of descriptors")

            # Free some descriptors: the waiting connections are served again.
            for s in socks[:100]:
                s.close()
            del socks[:100]
            with connect(server.port) as s:
                s.sendall(raw_request("/HelloWorld.html", close=True))
                data, end = recv_all(s, timeout=5)
            rs, _ = parse_responses(data)
            self.assertEqual([r.status for r in rs], [200])
            # One of the connections accepted late works too.
            s = socks[-1]
            s.sendall(raw_request("/index.html", close=True))
            data, end = recv_all(s, timeout=5)
            rs, _ = parse_responses(data)
            self.assertEqual([r.status for r in rs], [200])
        finally:
            for s in socks:
                s.close()
        server.stop_checked(self)
        self.assertTrue(any("pausing" in l or "Too many open files" in l for l in server.stderr_lines),
                        server.stderr_lines)


if __name__ == "__main__":
    unittest.main()
