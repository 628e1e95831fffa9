"""Operations: SIGHUP reopens the logs (logrotate under load), SIGUSR1 statistics,
--log-format timing and json, --trusted-proxy with X-Forwarded-For."""

import calendar
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import unittest

from wshelper import (
    SLOW,
    WEBSERVER,
    Reader,
    Server,
    connect,
    make_big_file,
    make_root,
    raw_request,
    read_head,
    run_webserver,
    wait_until,
)

CLF = re.compile(
    r'^(?P<host>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')

TIMING = re.compile(CLF.pattern[:-1] + r" (?P<wait_us>\d+) (?P<serve_us>\d+)$")

STATS = re.compile(
    r"^webserver: stats: open=(?P<open>\d+) parked=(?P<parked>\d+) queued=(?P<queued>\d+) "
    r"busy_workers=(?P<busy>\d+)/(?P<threads>\d+) "
    r"queue_high_water=(?P<high_water>\d+)/(?P<capacity>\d+) "
    r"refused_503=(?P<refused>\d+) served=(?P<served>\d+) "
    r"closed_idle=(?P<closed_idle>\d+) closed_head_timeout=(?P<closed_head_timeout>\d+) "
    r"closed_slow_head=(?P<closed_slow_head>\d+) closed_body_budget=(?P<closed_body_budget>\d+) "
    r"closed_slow_body=(?P<closed_slow_body>\d+) closed_send_stall=(?P<closed_send_stall>\d+) "
    r"closed_slow_reader=(?P<closed_slow_reader>\d+)"
    r"(?: tls_handshakes=\d+ tls_resumed=\d+ tls_failed=\d+)?"
    r" h2_connections=(?P<h2_connections>\d+) h2_streams=(?P<h2_streams>\d+) "
    r"h2_resets_sent=(?P<h2_resets_sent>\d+) h2_calm=(?P<h2_calm>\d+)"
    r"(?: parked_per_event_thread=\d+(?:/\d+)+)?$")

JSON_KEYS = {"time", "client", "request", "status", "bytes", "referer", "user_agent", "wait_us",
             "serve_us"}

TAG = re.compile(r"[?&]t=(?P<conn>c\d+\.\d+)-(?P<seq>\d+)-(?P<phase>[abc])(?:&|\s|$)")

HUP_ACK = "webserver: SIGHUP: log files reopened"

# A file sent to a reader that takes it at SLOW_RATE bytes a second (half a second).
SLOW_SIZE = 8 << 20
SLOW_RATE = 16 << 20


def read_lines(path):
    """The lines of a file (as text), and whether it ends in a newline (or is empty)."""
    with open(path, "rb") as f:
        data = f.read()
    return data.decode("latin-1").splitlines(), data.endswith(b"\n") or not data


def process_state(pid):
    """The state letter of /proc/PID/stat (R, S, T...)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class Load:
    """Client threads that send keep-alive requests until stopped.

    Each request carries a tag in its query, "c<client>.<connection>-<seq>-<phase>",
    where phase is whatever self.phase was when it was sent; every response
    received is recorded as tag -> (status, body bytes). A few kinds of request
    (200, 404, HEAD, long Referer and User-Agent, Connection: close) make the
    log lines differ in length and content. Client i pipelines depths[i % 3]
    requests at a time, so that workers are writing log lines (a turn serves up
    to 16 responses) while the event thread handles a signal. Helper threads
    never assert; the test checks self.errors after stop().
    """

    LONG_AGENT = "load-agent/1.0 " + "x" * 300
    LONG_REFERER = "http://referer.example/" + "r" * 200

    def __init__(self, port, clients=4, depths=(1, 8, 16), max_seconds=30.0):
        self.port = port
        self.phase = "a"
        self.received = {}
        self.errors = []
        self._depths = depths
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds * SLOW
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(clients)]
        for t in self._threads:
            t.start()

    def _request(self, tag, seq, last):
        """(request bytes, is HEAD, asks to close); only the last of a batch may close."""
        kind = seq % 5
        if kind == 0:
            return raw_request("/HelloWorld.html?t=" + tag), False, False
        if kind == 1:
            return raw_request("/missing.html?t=" + tag), False, False
        if kind == 2:
            return raw_request("/index.html?t=" + tag, method="HEAD"), True, False
        if kind == 3:
            return raw_request("/sub/?t=" + tag, headers=(("Referer", self.LONG_REFERER),
                                                          ("User-Agent", self.LONG_AGENT))), \
                False, False
        close = last and seq % 50 == 4
        return raw_request("/noindex/file.txt?t=" + tag, close=close), False, close

    def _client(self, i):
        sock = None
        conn = 0
        seq = 0
        depth = self._depths[i % len(self._depths)]
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                if sock is None:
                    sock = connect(self.port, timeout=10)
                    reader = Reader(sock)
                    conn += 1
                batch = []
                for k in range(depth):
                    tag = "c%d.%d-%d-%s" % (i, conn, seq, self.phase)
                    raw, head, close = self._request(tag, seq, k == depth - 1)
                    batch.append((tag, raw, head))
                    seq += 1
                sock.sendall(b"".join(raw for _, raw, _ in batch))
                closed = False
                for tag, _, head in batch:
                    resp = reader.read_response(head_request=head)
                    with self._lock:
                        self.received[tag] = (resp.status, len(resp.body))
                    closed = (resp.header("connection") or "").lower() == "close"
                if closed:
                    sock.close()
                    sock = None
        except Exception as e:  # recorded, checked by the test's thread
            self.errors.append("client %d after %d requests: %r" % (i, seq, e))
        finally:
            if sock is not None:
                sock.close()

    def count(self):
        with self._lock:
            return len(self.received)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30 * SLOW)
        return [t for t in self._threads if t.is_alive()]


class OpsTestCase(unittest.TestCase):
    """Each test starts its own server in a fresh directory (for its log files)."""

    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        self.dir = tempfile.mkdtemp(prefix="ws-ops-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, args=(), access_log="access.log", error_log=None, root=None, **kwargs):
        if root is None:
            root = make_root()
            self.addCleanup(shutil.rmtree, root, True)
        server = Server(root, args, access_log=self.path(access_log) if access_log else None,
                        error_log=self.path(error_log) if error_log else None, **kwargs)
        self.addCleanup(server.kill)
        return server

    def access_lines(self, name="access.log", count=None, timeout=5.0):
        """The access log's lines; with count, first waits until there are that many.

        A line is written when its response has been sent, which can be just after
        the client has read it, hence the wait.
        """
        path = self.path(name)
        if count is not None:
            wait_until(lambda: os.path.exists(path) and len(read_lines(path)[0]) >= count, timeout)
        lines, complete = read_lines(path)
        self.assertTrue(complete, "%s does not end in a newline" % name)
        return lines

    def stats(self, server, lines=None):
        """Sends SIGUSR1 and returns the new stats line's numbers (and the line).

        lines: a callable returning the error log's lines (default: captured stderr).
        """
        if lines is None:
            lines = lambda: list(server.stderr_lines)
        before = sum(1 for l in lines() if " stats: " in l)
        server.proc.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: sum(1 for l in lines() if " stats: " in l) > before, 5),
                        "no stats line after SIGUSR1: %r" % lines()[-5:])
        line = [l for l in lines() if " stats: " in l][before]
        m = STATS.match(line)
        self.assertIsNotNone(m, "malformed stats line %r" % line)
        numbers = {k: int(v) for k, v in m.groupdict().items()}
        numbers["line"] = line
        return numbers

    def stats_when(self, server, predicate, timeout=5.0, lines=None):
        """Asks for stats until predicate(stats) holds (the server settles after a
        client's last read: parking and counting happen just after the send).
        Returns the last."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            st = self.stats(server, lines)
            if predicate(st) or time.monotonic() > deadline:
                return st
            time.sleep(0.05)


class SighupTest(OpsTestCase):
    """logrotate's convention: rename the files, SIGHUP, and the server writes new ones."""

    def test_rename_and_sighup_under_load(self):
        # --max-requests: a multiple of every pipelining depth, so no batch is cut short.
        server = self.start(("--threads", "4", "--max-requests", "320"), access_log="access.log",
                            error_log="error.log")
        access, error = self.path("access.log"), self.path("error.log")

        load = Load(server.port, clients=4)
        usr1_stop = threading.Event()

        def poke_stats():
            # SIGUSR1 while the workers run: the counters are read under load too.
            while not usr1_stop.wait(0.1):
                if server.alive():
                    server.proc.send_signal(signal.SIGUSR1)

        poker = threading.Thread(target=poke_stats, daemon=True)
        poker.start()
        try:
            self.assertTrue(wait_until(lambda: load.count() >= 200 or load.errors, 10))
            time.sleep(0.5 * SLOW)
            os.rename(access, access + ".1")
            os.rename(error, error + ".1")
            server.error_log_files = [error + ".1", error]
            load.phase = "b"
            server.proc.send_signal(signal.SIGHUP)
            acked = wait_until(lambda: os.path.exists(error) and HUP_ACK in read_lines(error)[0],
                               5)
            load.phase = "c"
            at_ack = load.count()
            self.assertTrue(acked, "no acknowledgement of SIGHUP in the new error log")
            # More reopens of the same files, while workers are writing: each one
            # is a chance to lose or split a line.
            for _ in range(10):
                time.sleep(0.05)
                server.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: load.count() >= at_ack + 200 or load.errors, 10)
            time.sleep(0.5 * SLOW)
        finally:
            usr1_stop.set()
            poker.join(5)
            stuck = load.stop()
        self.assertEqual(stuck, [], "client threads did not stop")
        self.assertEqual(load.errors, [])
        server.stop_checked(self)  # every response in flight is logged before exit

        old, old_complete = read_lines(access + ".1")
        new, new_complete = read_lines(access)
        self.assertTrue(old_complete and new_complete, "a log file ends in a partial line")
        self.assertGreater(len(old), 100, "too few lines before the rename to test anything")
        self.assertGreater(len(new), 100, "too few lines after the SIGHUP to test anything")
        self.assertEqual(len(old) + len(new), len(load.received),
                         "lines logged (%d + %d) != responses received (%d)"
                         % (len(old), len(new), len(load.received)))

        logged = {}
        for name, lines in (("old", old), ("new", new)):
            for line in lines:
                m = CLF.match(line)
                self.assertIsNotNone(m, "not one Combined Log Format line (split?): %r" % line)
                t = TAG.search(m.group("request"))
                self.assertIsNotNone(t, "no tag in %r" % line)
                tag = "%s-%s-%s" % t.group("conn", "seq", "phase")
                self.assertNotIn(tag, logged, "logged twice: %s" % tag)
                logged[tag] = (name, m)
        self.assertEqual(set(logged), set(load.received), "logged and received requests differ")

        for tag, (name, m) in logged.items():
            status, body_len = load.received[tag]
            self.assertEqual(int(m.group("status")), status, tag)
            self.assertEqual(m.group("bytes"), str(body_len) if body_len else "-", tag)
            if tag.endswith("-c"):
                self.assertEqual(name, "new", "a request sent after the SIGHUP was acknowledged "
                                              "went to the renamed file: %s" % tag)

        old_err, _ = read_lines(error + ".1")
        new_err, _ = read_lines(error)
        self.assertTrue(any("listening on" in l for l in old_err), old_err[:3])
        self.assertNotIn(HUP_ACK, old_err)
        self.assertEqual(new_err.count(HUP_ACK), 11, "every SIGHUP acknowledged once")
        self.assertTrue(any(l.startswith("webserver: stopped") for l in new_err), new_err[-3:])
        stats_lines = [l for l in old_err + new_err if " stats: " in l]
        self.assertGreater(len(stats_lines), 5)
        for l in stats_lines:
            self.assertRegex(l, STATS)
        self.assertEqual([l for l in old_err + new_err if not l.startswith("webserver: ")], [])

    def test_sighup_without_rename_keeps_appending(self):
        server = self.start(error_log="error.log")
        for i in range(3):
            self.assertEqual(self._get(server.port, "/HelloWorld.html?n=%d" % i), 200)
        self.access_lines(count=3)
        server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: HUP_ACK in read_lines(self.path("error.log"))[0], 5))
        for i in range(3, 5):
            self.assertEqual(self._get(server.port, "/HelloWorld.html?n=%d" % i), 200)
        lines = self.access_lines(count=5)
        self.assertEqual(len(lines), 5)
        # (Lines of different connections may be written in either order.)
        self.assertEqual(sorted(re.search(r"n=(\d)", l).group(1) for l in lines), list("01234"))
        server.stop_checked(self)

    def test_sighup_when_the_directory_is_gone_keeps_the_old_file(self):
        logdir = self.path("logs")
        os.mkdir(logdir)
        server = self.start(access_log="logs/access.log")
        self.assertEqual(self._get(server.port, "/"), 200)
        first = self.path("logs/access.log")
        self.assertTrue(wait_until(lambda: len(read_lines(first)[0]) == 1, 5))
        old_fd_target = self.path("logs-old")
        os.rename(logdir, old_fd_target)  # the name can no longer be opened
        server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(
            lambda: any("SIGHUP: cannot reopen" in l for l in server.stderr_lines), 5),
            server.stderr_lines)
        self.assertEqual(self._get(server.port, "/"), 200)
        # Nothing lost: the line went to the file still open.
        self.assertTrue(wait_until(
            lambda: len(read_lines(os.path.join(old_fd_target, "access.log"))[0]) == 2, 5))
        self.assertTrue(server.alive())
        server.stop_checked(self)

    @staticmethod
    def _get(port, path, headers=()):
        with connect(port) as s:
            s.sendall(raw_request(path, headers=headers, close=True))
            return Reader(s).read_response().status


class ErrorLogStartupTest(OpsTestCase):
    def busy_port(self):
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        return s.getsockname()[1]

    def test_startup_failure_is_in_the_error_log(self):
        port = self.busy_port()
        r = run_webserver(["--root", self.dir, "--bind", "127.0.0.1", "--port", str(port),
                           "--error-log", self.path("error.log")])
        self.assertEqual(r.returncode, 1)
        lines, _ = read_lines(self.path("error.log"))
        self.assertEqual(lines, ["webserver: cannot listen on 127.0.0.1:%d: Address already in use"
                                 % port])

    # A server that cannot start says why where it was started, not only in the file.
    def test_startup_failure_reaches_the_terminal_too(self):
        port = self.busy_port()
        r = run_webserver(["--root", self.dir, "--bind", "127.0.0.1", "--port", str(port),
                           "--error-log", self.path("error.log")])
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"Address already in use", r.stderr)


class StatsTest(OpsTestCase):
    def test_counts_in_a_controlled_state(self):
        # --defer-accept 0: the silent connections below must reach the server at once.
        server = self.start(("--threads", "4", "--queue", "64", "--defer-accept", "0"),
                            access_log=None)
        st = self.stats_when(server, lambda s: s["busy"] == 0)
        self.assertEqual((st["open"], st["parked"], st["queued"], st["busy"], st["threads"],
                          st["high_water"], st["capacity"], st["refused"], st["served"]),
                         (0, 0, 0, 0, 4, 0, 64, 0, 0), st["line"])

        # Five keep-alive connections, one request each: five idle, parked connections.
        conns = [connect(server.port) for _ in range(5)]
        readers = [Reader(c) for c in conns]
        for c, r in zip(conns, readers):
            c.sendall(raw_request("/HelloWorld.html"))
            self.assertEqual(r.read_response().status, 200)
        st = self.stats_when(server, lambda s: s["parked"] == 5 and s["busy"] == 0)
        self.assertEqual((st["open"], st["parked"], st["queued"], st["busy"], st["served"]),
                         (5, 5, 0, 0, 5), st["line"])
        self.assertTrue(1 <= st["high_water"] <= 5, st["line"])

        # Seven more on one of them (pipelined), and three that never send a thing.
        conns[0].sendall(b"".join(raw_request("/index.html?%d" % i) for i in range(7)))
        for _ in range(7):
            self.assertEqual(readers[0].read_response().status, 200)
        silent = [connect(server.port) for _ in range(3)]
        st = self.stats_when(server, lambda s: s["parked"] == 8 and s["busy"] == 0)
        self.assertEqual((st["open"], st["parked"], st["queued"], st["served"], st["refused"]),
                         (8, 8, 0, 12, 0), st["line"])

        # A 404 is served too; then everything closes.
        conns[1].sendall(raw_request("/nope.html", close=True))
        self.assertEqual(readers[1].read_response().status, 404)
        for c in conns + silent:
            c.close()
        st = self.stats_when(server, lambda s: s["open"] == 0)
        self.assertEqual((st["open"], st["parked"], st["queued"], st["served"], st["refused"]),
                         (0, 0, 0, 13, 0), st["line"])
        server.stop_checked(self)

    def test_refused_503_counts_what_clients_saw(self):
        # One worker and a ring of one: a burst accepted in one batch overflows it.
        server = self.start(("--threads", "1", "--queue", "1"), access_log=None)
        server.proc.send_signal(signal.SIGSTOP)
        self.assertTrue(wait_until(lambda: process_state(server.pid) == "T", 5))
        socks = []
        try:
            for i in range(40):  # the kernel completes the handshakes meanwhile
                s = connect(server.port)
                s.sendall(raw_request("/HelloWorld.html?%d" % i, close=True))
                socks.append(s)
        finally:
            server.proc.send_signal(signal.SIGCONT)
        statuses = []
        for s in socks:
            try:
                statuses.append(Reader(s).read_response().status)
            except (EOFError, ConnectionResetError) as e:
                statuses.append(repr(e))
            s.close()
        self.assertEqual(set(statuses) - {200, 503}, set(), statuses)
        self.assertGreater(statuses.count(503), 0, "no 503 in the burst: nothing to count")
        st = self.stats_when(server, lambda s: s["open"] == 0 and s["busy"] == 0)
        self.assertEqual(st["refused"], statuses.count(503), st["line"])
        self.assertEqual(st["served"], statuses.count(200), st["line"])
        self.assertEqual((st["high_water"], st["capacity"]), (1, 1), st["line"])
        server.stop_checked(self)

    def test_stats_on_error_log_file(self):
        server = self.start(access_log=None, error_log="error.log")
        self.assertEqual(SighupTest._get(server.port, "/"), 200)
        lines = lambda: read_lines(self.path("error.log"))[0]
        # The response is counted just after its last byte is sent: poll for it.
        st = self.stats_when(server, lambda s: s["served"] == 1, lines=lines)
        self.assertEqual(st["served"], 1, st["line"])
        self.assertEqual([l for l in server.stderr_lines if l], [])  # nothing on stderr
        server.stop_checked(self)


class LogFormatTest(OpsTestCase):
    def test_timing_adds_two_integers(self):
        server = self.start(("--log-format", "timing"))
        with connect(server.port) as s:
            r = Reader(s)
            for path in ("/", "/HelloWorld.html", "/missing", "/big.bin"):
                s.sendall(raw_request(path))
                r.read_response()
            s.sendall(raw_request("/index.html", method="HEAD", close=True))
            r.read_response(head_request=True)
        lines = self.access_lines(count=5)
        self.assertEqual(len(lines), 5)
        for line in lines:
            m = TIMING.match(line)
            self.assertIsNotNone(m, line)
            self.assertIsNone(CLF.match(line), "timing line is plain Combined: %r" % line)
        self.assertEqual([TIMING.match(l).group("status") for l in lines],
                         ["200", "200", "404", "200", "200"])
        self.assertEqual(TIMING.match(lines[3]).group("bytes"), str(4 << 20))
        server.stop_checked(self)

    def test_combined_has_no_timing(self):
        server = self.start(("--log-format", "combined"))
        self.assertEqual(SighupTest._get(server.port, "/"), 200)
        line = self.access_lines(count=1)[0]
        self.assertRegex(line, CLF)
        server.stop_checked(self)

    def test_json_lines(self):
        server = self.start(("--log-format", "json"))
        hostile_agent = b'ev"il\\ \t tab caf\xc3\xa9 \xff\xfe\x80 {"x":1}'
        hostile_referer = b'http://r.example/"\\u0000\\"\xfe'
        requests = [
            (b"GET /?t=plain HTTP/1.1\r\nHost: x\r\nUser-Agent: plain/1\r\n\r\n", 200),
            (b"GET /HelloWorld.html?t=hostile HTTP/1.1\r\nHost: x\r\nUser-Agent: " + hostile_agent
             + b"\r\nReferer: " + hostile_referer + b"\r\n\r\n", 200),
            (b"HEAD /index.html?t=head HTTP/1.1\r\nHost: x\r\n\r\n", 200),
            (b"GET /nothing?t=404 HTTP/1.1\r\nHost: x\r\n\r\n", 404),
            # Control bytes are refused by the parser; the line must still be valid JSON.
            (b"GET /?t=ctl HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x01b\x1b[2J\r\n\r\n", 400),
            (b'GET /\x7f\xff"\\\x01?t=badline HTTP/1.1\r\nHost: x\r\n\r\n', 400),
        ]
        bodies = []
        for raw, want in requests:
            with connect(server.port) as s:
                s.sendall(raw)
                resp = Reader(s).read_response(head_request=raw.startswith(b"HEAD"))
                self.assertEqual(resp.status, want, raw)
                bodies.append(len(resp.body))
        lines = self.access_lines(count=len(requests))
        self.assertEqual(len(lines), len(requests))
        now = time.time()
        entries = []
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError as err:
                self.fail("not JSON (%s): %r" % (err, line))
            self.assertEqual(set(e), JSON_KEYS, line)
            for key in ("status", "bytes", "wait_us", "serve_us"):
                self.assertIs(type(e[key]), int, (key, line))
                self.assertGreaterEqual(e[key], 0, (key, line))
            for key in ("time", "client", "request", "referer", "user_agent"):
                self.assertIs(type(e[key]), str, (key, line))
            t = calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
            self.assertLess(abs(t - now), 120, e["time"])
            self.assertEqual(e["client"], "127.0.0.1")
            entries.append(e)
        by_tag = {re.search(r"t=(\w+)", e["request"]).group(1): e for e in entries}
        self.assertEqual(set(by_tag), {"plain", "hostile", "head", "404", "ctl", "badline"})
        self.assertEqual(by_tag["plain"]["request"], "GET /?t=plain HTTP/1.1")
        self.assertEqual(by_tag["plain"]["user_agent"], "plain/1")
        self.assertEqual(by_tag["plain"]["referer"], "")
        self.assertEqual(by_tag["plain"]["bytes"], bodies[0])
        # Escaped, yet exactly the bytes sent (each byte one code point).
        self.assertEqual(by_tag["hostile"]["user_agent"].encode("latin-1"), hostile_agent)
        self.assertEqual(by_tag["hostile"]["referer"].encode("latin-1"), hostile_referer)
        self.assertEqual(by_tag["head"]["bytes"], 0)
        self.assertEqual((by_tag["404"]["status"], by_tag["404"]["bytes"]), (404, bodies[3]))
        self.assertEqual(by_tag["ctl"]["status"], 400)
        self.assertEqual(by_tag["badline"]["request"].encode("latin-1"),
                         b'GET /\x7f\xff"\\\x01?t=badline HTTP/1.1')
        server.stop_checked(self)

    def slow_download(self, log_format):
        """A small file, then SLOW_SIZE bytes to a reader pacing itself at SLOW_RATE.
        Returns the two access lines' (bytes, wait_us, serve_us) and the client's time."""
        root = make_root()
        self.addCleanup(shutil.rmtree, root, True)
        make_big_file(os.path.join(root, "slow.bin"), SLOW_SIZE)
        server = self.start(("--log-format", log_format), root=root)
        with connect(server.port) as s:
            s.sendall(raw_request("/HelloWorld.html"))
            Reader(s).read_response()
        self.access_lines(count=1)

        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        s.settimeout(10 * SLOW)
        s.connect(("127.0.0.1", server.port))
        start = time.monotonic()
        with s:
            s.sendall(raw_request("/slow.bin", close=True))
            head, rest = read_head(s)
            got = len(rest)
            length = int(head.header("content-length"))
            while got < length:
                data = s.recv(65536)
                if not data:
                    break
                got += len(data)
                # Paced at SLOW_RATE: the server's sends keep meeting a full socket.
                ahead = start + got / SLOW_RATE - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        elapsed_us = (time.monotonic() - start) * 1e6
        self.assertEqual(got, SLOW_SIZE)
        lines = self.access_lines(count=2)
        server.stop_checked(self)
        out = []
        for line in lines:
            if log_format == "json":
                e = json.loads(line)
                out.append((e["bytes"], e["wait_us"], e["serve_us"]))
            else:
                m = TIMING.match(line)
                self.assertIsNotNone(m, line)
                out.append((int(m.group("bytes")), int(m.group("wait_us")),
                            int(m.group("serve_us"))))
        return out, elapsed_us

    def check_slow(self, log_format):
        (small, big), elapsed_us = self.slow_download(log_format)
        self.assertEqual(big[0], SLOW_SIZE)
        # The last few MiB may sit in socket buffers when the server is done.
        self.assertGreater(big[2], 0.2e6, big)
        self.assertGreater(big[2], 10 * small[2], (small, big))
        self.assertLess(big[2], elapsed_us + 1e6, big)
        # The wait in the ring is short: nothing else was queued.
        self.assertLess(big[1], 0.1e6, big)

    def test_json_serve_us_grows_for_a_slow_reader(self):
        self.check_slow("json")

    def test_timing_serve_us_grows_for_a_slow_reader(self):
        self.check_slow("timing")


class TrustedProxyTest(OpsTestCase):
    XFF_CASES = (
        # (tag, X-Forwarded-For lines)
        ("two", ("203.0.113.9, 198.51.100.1",)),
        ("junk", ("bogus, 203.0.113.9",)),
        ("lines", ("203.0.113.9", "198.51.100.7, 127.0.0.1")),
        ("none", ()),
        ("onlyjunk", ("bogus",)),
        ("v6", ("[2001:db8::1]",)),
        ("empty", ("203.0.113.9,, ,198.51.100.1,",)),
    )

    def logged_clients(self, args, listen_args=None, host="127.0.0.1"):
        server = self.start(args, listen_args=listen_args)
        for tag, lines in self.XFF_CASES:
            with socket.create_connection((host, server.port), timeout=5 * SLOW) as s:
                s.sendall(raw_request("/?t=" + tag, close=True,
                                      headers=[("X-Forwarded-For", v) for v in lines]))
                self.assertEqual(Reader(s).read_response().status, 200)
        lines = self.access_lines(count=len(self.XFF_CASES))
        server.stop_checked(self)
        out = {}
        for line in lines:
            m = CLF.match(line)
            self.assertIsNotNone(m, line)
            out[re.search(r"t=(\w+)", m.group("request")).group(1)] = m.group("host")
        for line in lines:
            self.assertNotIn("bogus", line.split(" ")[0])
        return out

    def test_trusted_loopback(self):
        got = self.logged_clients(("--trusted-proxy", "127.0.0.1"))
        self.assertEqual(got, {"two": "198.51.100.1", "junk": "203.0.113.9",
                               "lines": "198.51.100.7", "none": "127.0.0.1",
                               "onlyjunk": "127.0.0.1", "v6": "2001:db8::1",
                               "empty": "198.51.100.1"})

    def test_trusted_chain(self):
        got = self.logged_clients(("--trusted-proxy", "127.0.0.0/8",
                                   "--trusted-proxy", "198.51.100.0/24"))
        self.assertEqual(got, {"two": "203.0.113.9", "junk": "203.0.113.9",
                               "lines": "203.0.113.9", "none": "127.0.0.1",
                               "onlyjunk": "127.0.0.1", "v6": "2001:db8::1",
                               "empty": "203.0.113.9"})

    def test_no_trusted_proxy_logs_the_peer(self):
        got = self.logged_clients(())
        self.assertEqual(set(got.values()), {"127.0.0.1"}, got)

    def test_untrusted_peer_is_logged_whatever_it_forwards(self):
        got = self.logged_clients(("--trusted-proxy", "10.0.0.0/8",
                                   "--trusted-proxy", "::1"))
        self.assertEqual(set(got.values()), {"127.0.0.1"}, got)

    def test_v4_mapped_peer_on_a_dual_stack_socket(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::", 0))
            probe.close()
        except OSError as e:
            self.skipTest("cannot bind [::]: %s" % e)
        # Without --bind the server listens on one dual-stack socket, [::], where
        # an IPv4 client arrives as ::ffff:127.0.0.1. (Traffic stays on loopback.)
        got = self.logged_clients(("--trusted-proxy", "127.0.0.1"), listen_args=("--port", "0"))
        self.assertEqual(got["two"], "198.51.100.1")
        self.assertEqual(got["none"], "127.0.0.1")


if __name__ == "__main__":
    unittest.main()
