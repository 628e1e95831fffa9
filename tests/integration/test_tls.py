"""HTTPS itself: certificates and SNI, the cleartext port's 308 and HSTS, --tls-min,
session resumption, certificate reload under load, hostile handshakes, the
handshake timeout, and close_notify at SIGTERM.

Every certificate is made at test time by tlscerts.py (a throw-away CA in a temp
dir); every server listens on loopback with --tls-port 0. The rest of the
suites run over TLS under the integration-tls label (WS_TLS=1); this file runs
in the ordinary integration label and sets TLS up explicitly, whatever WS_TLS says.
"""

import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import tlscerts
from wshelper import (
    CURL,
    SLOW,
    WEBSERVER,
    H2Client,
    Reader,
    Server,
    curl_command,
    make_root,
    parse_responses,
    raw_request,
    recv_all,
    wait_until,
)

HELLO = b"<!DOCTYPE html><title>Hello</title><h1>Hello, World!</h1>\n"


def plain_connect(port, timeout=5.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)


def tls_connect(port, ctx, server_hostname="localhost", timeout=5.0, **kwargs):
    """A TLS connection made with ctx (the handshake is done when it returns)."""
    s = plain_connect(port, timeout)
    try:
        return ctx.wrap_socket(s, server_hostname=server_hostname, **kwargs)
    except BaseException:
        s.close()
        raise


def https_get(sock, path="/HelloWorld.html", close=False):
    sock.sendall(raw_request(path, close=close))
    return Reader(sock).read_response()


def client_hello(server_hostname="localhost"):
    """The bytes of a real ClientHello (TLS records), made through memory BIOs."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def stats(server, timeout=5.0):
    """Sends SIGUSR1 and returns the numbers of the next stats line as a dict."""
    before = len(server.stderr_lines)
    server.proc.send_signal(signal.SIGUSR1)
    found = []

    def line():
        for l in server.stderr_lines[before:]:
            if "stats:" in l:
                found.append(l)
                return True
        return False

    if not wait_until(line, timeout):
        raise AssertionError("no stats line after SIGUSR1: %r" % server.stderr_lines[before:])
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found[0])}


class TLSCase(unittest.TestCase):
    """Starts a server per test (self.start), kills it if the test fails half-way."""

    @classmethod
    def setUpClass(cls):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        if tlscerts.OPENSSL is None:
            raise unittest.SkipTest("the openssl command is not installed")
        cls.pki = tlscerts.default_pki()
        cls.ctx = cls.pki.client_context()

    def setUp(self):
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)

    def start(self, args=(), tls=True, **kwargs):
        server = Server(self.root, args, tls=tls, **kwargs)
        self.addCleanup(server.kill)
        return server

    def stable_fds(self, server, settle=0.3, timeout=5.0):
        """The server's descriptor count once it has not changed for `settle` seconds."""
        deadline = time.monotonic() + timeout * SLOW
        last, since = server.fd_count(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = server.fd_count()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= settle:
                break
        return last

    def assert_https_serves(self, server, ctx=None):
        with tls_connect(server.port, ctx or self.ctx) as s:
            r = https_get(s, close=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, HELLO)


class BasicTest(TLSCase):
    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl_with_the_test_ca_gets_the_file(self):
        server = self.start()
        p = subprocess.run(curl_command(server.port, "/HelloWorld.html", "-s", "-S", "-f",
                                        "--max-time", str(20 * SLOW), "-D", "-", https=True),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        # curl offers h2 by ALPN and the server prefers it (test_http2.py covers HTTP/2).
        self.assertTrue(head.startswith(b"HTTP/2 200"), head)
        self.assertEqual(body, HELLO)
        server.stop_checked(self)

    def test_alpn_http11_and_the_cleartext_port_still_serves(self):
        server = self.start()
        ctx = self.pki.client_context()
        ctx.set_alpn_protocols(["http/1.1"])
        with tls_connect(server.port, ctx) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
            self.assertEqual(https_get(s).body, HELLO)
        ctx = self.pki.client_context()
        ctx.set_alpn_protocols(["http/1.1", "h2"])
        with tls_connect(server.port, ctx) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2", "the server's preference is h2")
        with plain_connect(server.http_port) as s:
            self.assertEqual(https_get(s).body, HELLO)
        server.stop_checked(self)

    def test_plain_http_to_the_tls_port_gets_400_and_a_close(self):
        server = self.start()
        with plain_connect(server.port) as s:
            s.sendall(raw_request("/HelloWorld.html"))
            data, end = recv_all(s, timeout=5)
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:200])
        self.assertIn(b"HTTPS", data.upper(), "the answer does not say the port speaks HTTPS: %r" % data)
        self.assertEqual(end, "eof")
        self.assert_https_serves(server)
        server.stop_checked(self)


class SNITest(TLSCase):
    """Two pairs: RSA for a.test (the first, so the default), ECDSA for b.test and *.b.test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sni_pki = tlscerts.TestPKI("SNI test CA")
        cls.a = cls.sni_pki.issue("a.test", ["DNS:a.test", "DNS:www.a.test"], kind="rsa")
        cls.b = cls.sni_pki.issue("b.test", ["DNS:b.test", "DNS:*.b.test"], kind="ec")

    @classmethod
    def tearDownClass(cls):
        cls.sni_pki.cleanup()

    def peer(self, port, name):
        ctx = self.sni_pki.client_context()
        if name is None:
            ctx.check_hostname = False  # no name to check; the chain is still verified
        with tls_connect(port, ctx, server_hostname=name) as s:
            der = s.getpeercert(binary_form=True)
            cn, sans, serial = tlscerts.peer_names(s)
            self.assertEqual(https_get(s, close=True).status, 200)
        return cn, sans, serial, der

    def key_algorithm(self, der):
        text = subprocess.run([tlscerts.OPENSSL, "x509", "-inform", "DER", "-noout", "-text"], input=der,
                              capture_output=True, timeout=30).stdout.decode()
        return "rsa" if "rsaEncryption" in text else "ec" if "id-ecPublicKey" in text else text

    def test_sni_picks_the_certificate_by_name(self):
        server = self.start(tls=[self.a, self.b])
        for name, pair in (("a.test", self.a), ("www.a.test", self.a), ("b.test", self.b),
                           ("www.b.test", self.b), ("x.b.test", self.b)):
            with self.subTest(name=name):
                cn, sans, serial, der = self.peer(server.port, name)
                self.assertEqual((cn, serial), (pair.cn, pair.serial))
                self.assertEqual(sans, pair.sans)
                self.assertEqual(self.key_algorithm(der), "rsa" if pair is self.a else "ec")
        server.stop_checked(self)

    def test_no_sni_or_an_unknown_name_gets_the_first(self):
        server = self.start(tls=[self.a, self.b])
        cn, _, serial, _ = self.peer(server.port, None)
        self.assertEqual((cn, serial), (self.a.cn, self.a.serial))
        # A name no certificate holds, nor the wildcard (one label only): the default.
        ctx = self.sni_pki.client_context()
        ctx.check_hostname = False
        for name in ("c.test", "x.y.b.test"):
            with self.subTest(name=name), tls_connect(server.port, ctx, server_hostname=name) as s:
                self.assertEqual(tlscerts.peer_names(s)[2], self.a.serial)
        # The other order: b.test is now the default.
        server2 = self.start(tls=[self.b, self.a])
        cn, _, serial, _ = self.peer(server2.port, None)
        self.assertEqual((cn, serial), (self.b.cn, self.b.serial))
        server.stop_checked(self)
        server2.stop_checked(self)

    def test_openssl_s_client_servername(self):
        server = self.start(tls=[self.a, self.b])
        for name, pair in (("a.test", self.a), ("x.b.test", self.b)):
            with self.subTest(name=name):
                p = subprocess.run([tlscerts.OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % server.port,
                                    "-servername", name, "-CAfile", self.sni_pki.ca_cert,
                                    "-verify_return_error", "-brief"],
                                   input=b"", capture_output=True, timeout=30 * SLOW)
                out = (p.stdout + p.stderr).decode("utf-8", "replace")
                self.assertIn("Verification: OK", out)
                self.assertRegex(out, r"Peer certificate: .*CN ?= ?%s" % re.escape(pair.cn))
        server.stop_checked(self)


class RedirectAndHSTSTest(TLSCase):
    def test_redirect_https_answers_308_with_the_https_url(self):
        server = self.start(("--redirect-https",))
        for target in ("/x?y=1", "/", "/sub/a%20b.txt?q=%2F&r"):
            with self.subTest(target=target), plain_connect(server.http_port) as s:
                s.sendall(raw_request(target, host="example.test:80", close=True))
                data, end = recv_all(s)
                rs, rest = parse_responses(data)
                self.assertEqual(len(rs), 1, data[:300])
                self.assertEqual(rs[0].status, 308, rs[0].raw_head)
                self.assertEqual(rs[0].header("location"), "https://example.test:%d%s" % (server.https_port, target))
        # HTTPS itself still serves the files.
        self.assert_https_serves(server)
        server.stop_checked(self)

    def test_hsts_on_https_responses_only(self):
        server = self.start(("--hsts", "600"))
        with tls_connect(server.port, self.ctx) as s:
            reader = Reader(s)
            for path, status in (("/HelloWorld.html", 200), ("/missing", 404)):
                s.sendall(raw_request(path))
                r = reader.read_response()
                self.assertEqual(r.status, status)
                self.assertEqual(r.header_all("strict-transport-security"), ["max-age=600"], path)
        with plain_connect(server.http_port) as s:
            r = https_get(s, close=True)
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("strict-transport-security"), "HSTS over cleartext")
        server.stop_checked(self)

    def test_no_hsts_without_the_flag(self):
        server = self.start()
        with tls_connect(server.port, self.ctx) as s:
            self.assertIsNone(https_get(s, close=True).header("strict-transport-security"))
        server.stop_checked(self)


class VersionTest(TLSCase):
    def tls12_only(self):
        return self.pki.client_context(maximum=ssl.TLSVersion.TLSv1_2)

    def test_tls12_client_is_served_by_default(self):
        # Proves the client below can speak TLS 1.2 at all.
        server = self.start()
        with tls_connect(server.port, self.tls12_only()) as s:
            self.assertEqual(s.version(), "TLSv1.2")
            self.assertEqual(https_get(s, close=True).body, HELLO)
        server.stop_checked(self)

    def test_tls_min_13_refuses_a_tls12_client(self):
        server = self.start(("--tls-min", "1.3"))
        with self.assertRaises(ssl.SSLError):
            with tls_connect(server.port, self.tls12_only()) as s:
                https_get(s, close=True)
        with tls_connect(server.port, self.ctx) as s:
            self.assertEqual(s.version(), "TLSv1.3")
            self.assertEqual(https_get(s, close=True).body, HELLO)
        self.assertGreaterEqual(stats(server).get("tls_failed", -1), 1)
        server.stop_checked(self)


class ResumptionTest(TLSCase):
    def resume(self, server, ctx):
        with tls_connect(server.port, ctx) as s:
            self.assertEqual(https_get(s).status, 200)  # TLS 1.3 tickets come after the handshake
            self.assertFalse(s.session_reused)
            session = s.session
        self.assertIsNotNone(session)
        self.assertTrue(session.has_ticket, "the server issued no session ticket")
        with tls_connect(server.port, ctx, session=session) as s:
            self.assertTrue(s.session_reused, "the second handshake was a full one")
            self.assertEqual(https_get(s, close=True).body, HELLO)

    def test_session_resumed_tls13_and_tls12_and_counted(self):
        server = self.start()
        before = stats(server)
        self.assertEqual(before.get("tls_resumed"), 0, before)
        self.resume(server, self.pki.client_context())
        self.resume(server, self.pki.client_context(maximum=ssl.TLSVersion.TLSv1_2))
        after = stats(server)
        self.assertGreaterEqual(after["tls_resumed"], 2, after)
        self.assertGreaterEqual(after["tls_handshakes"], 4, after)
        server.stop_checked(self)


class ReloadTest(TLSCase):
    """SIGHUP loads the certificate files again; a pair that does not load is refused."""

    def install(self, pair, cert_path, key_path):
        """Replaces the served files atomically, as certbot's hook would see them."""
        for src, dst in ((pair.cert, cert_path), (pair.key, key_path)):
            shutil.copyfile(src, dst + ".new")
            os.replace(dst + ".new", dst)

    def serial_of_new_connection(self, port):
        with tls_connect(port, self.ctx) as s:
            serial = tlscerts.peer_names(s)[2]
            self.assertEqual(https_get(s, close=True).status, 200)
        return serial

    def wait_log(self, server, needle, since, timeout=5.0):
        return wait_until(lambda: any(needle in l for l in server.stderr_lines[since:]), timeout)

    def test_reload_under_load_then_a_broken_key_is_refused(self):
        old = self.pki.localhost_pair
        new = self.pki.issue("localhost-renewed", ["DNS:localhost", "IP:127.0.0.1"])
        self.assertNotEqual(old.serial, new.serial)
        live = tempfile.mkdtemp(prefix="ws-tls-live-")
        self.addCleanup(shutil.rmtree, live, True)
        cert_path, key_path = os.path.join(live, "cert.pem"), os.path.join(live, "key.pem")
        self.install(old, cert_path, key_path)
        server = self.start(("--threads", "4"),
                            tls=[tlscerts.CertPair(cert_path, key_path, old.cn, old.sans, old.serial)])

        failures, seen, counts = [], [], {"keepalive": 0, "new": 0}
        stop = threading.Event()

        def load():
            """Keep-alive requests on one connection, and a new connection each round."""
            ka = None
            while not stop.is_set():
                try:
                    if ka is None:
                        ka = tls_connect(server.port, self.ctx)
                        ka_reader = Reader(ka)
                    ka.sendall(raw_request("/HelloWorld.html"))
                    r = ka_reader.read_response()
                    if r.status != 200 or r.body != HELLO:
                        failures.append("keep-alive: %d" % r.status)
                    counts["keepalive"] += 1
                    if (r.header("connection") or "").lower() == "close":  # --max-requests
                        ka.close()
                        ka = None
                    t0 = time.monotonic()
                    with tls_connect(server.port, self.ctx) as s:
                        serial = tlscerts.peer_names(s)[2]
                        r = https_get(s, close=True)
                    seen.append((t0, serial))
                    if r.status != 200 or r.body != HELLO:
                        failures.append("new connection: %d" % r.status)
                    counts["new"] += 1
                except Exception as e:  # every failure counts; the loop goes on
                    failures.append("%s: %s" % (type(e).__name__, e))
                    if ka is not None:
                        ka.close()
                    ka = None
            if ka is not None:
                ka.close()

        workers = [threading.Thread(target=load) for _ in range(3)]
        for t in workers:
            t.start()
        try:
            time.sleep(1.0)
            self.install(new, cert_path, key_path)
            mark = len(server.stderr_lines)
            server.proc.send_signal(signal.SIGHUP)
            self.assertTrue(self.wait_log(server, "certificates reloaded", mark), server.stderr_lines[mark:])
            reloaded_at = time.monotonic()
            time.sleep(2.0)
        finally:
            stop.set()
            for t in workers:
                t.join(10 * SLOW)
        self.assertEqual(failures, [], "requests failed during the reload")
        self.assertGreater(counts["new"], 20, counts)
        self.assertGreater(counts["keepalive"], 20, counts)
        self.assertIn(old.serial, [s for t, s in seen if t < reloaded_at - 0.5])
        after = [s for t, s in seen if t > reloaded_at]
        self.assertTrue(after, "no connection was made after the reload")
        self.assertEqual(set(after), {new.serial}, "a connection after the reload saw the old certificate")

        # A key file that is not a key: refused, the renewed pair stays.
        with open(key_path + ".new", "wb") as f:
            f.write(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        os.replace(key_path + ".new", key_path)
        mark = len(server.stderr_lines)
        server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_log(server, "not reloaded", mark), server.stderr_lines[mark:])
        self.assertEqual(self.serial_of_new_connection(server.port), new.serial)

        # A good key that belongs to another certificate: refused too.
        self.install(old, cert_path, key_path)
        shutil.copyfile(new.key, key_path)
        mark = len(server.stderr_lines)
        server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_log(server, "not reloaded", mark), server.stderr_lines[mark:])
        self.assertEqual(self.serial_of_new_connection(server.port), new.serial)
        self.assertTrue(server.alive())
        server.stop_checked(self)


class HostileHandshakeTest(TLSCase):
    """Bytes no TLS client sends: each connection ends in a close (no hang), and the
    server lives on with its descriptors back to where they were."""

    def payloads(self):
        rng = random.Random(13)
        hello = client_hello()
        self.assertEqual(hello[:1], b"\x16", "not a handshake record")
        # One ClientHello message of 1 MiB, cut into records of 16 KiB as the protocol allows.
        body = b"\x03\x03" + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x00" * ((1 << 20) - 34)
        message = b"\x01" + len(body).to_bytes(3, "big") + body
        huge = b"".join(b"\x16\x03\x01" + len(message[i:i + 16384]).to_bytes(2, "big") + message[i:i + 16384]
                        for i in range(0, len(message), 16384))
        return [
            ("random bytes", bytes(rng.getrandbits(8) for _ in range(4096))),
            ("truncated ClientHello", hello[:len(hello) // 2]),
            ("1 MiB ClientHello", huge),
            ("record longer than the protocol allows", b"\x16\x03\x01\xff\xff" + b"\x00" * 65535),
            ("record with a bad version", hello[:1] + b"\x7f\x7f" + hello[3:]),
            ("an alert before any hello", b"\x15\x03\x03\x00\x02\x02\x28"),
            ("empty handshake records", b"\x16\x03\x01\x00\x00" * 1000),
        ]

    def test_garbage_gets_a_clean_close(self):
        server = self.start(("--threads", "2"))
        self.assert_https_serves(server)
        baseline = self.stable_fds(server)
        for name, payload in self.payloads():
            with self.subTest(payload=name):
                with plain_connect(server.port) as s:
                    sent = threading.Thread(target=self.send_quietly, args=(s, payload))
                    sent.start()
                    start = time.monotonic()
                    data, end = recv_all(s, timeout=10)
                    sent.join(10 * SLOW)
                elapsed = time.monotonic() - start
                self.assertIn(end, ("eof", "reset"), "%s: no close in %.1f s" % (name, elapsed))
                # Nothing but TLS records (an alert) may come back.
                self.assertTrue(data == b"" or data[:1] in (b"\x15", b"\x16"), data[:100])
                self.assertTrue(server.alive(), "the server died")
                self.assert_https_serves(server)
                self.assertTrue(wait_until(lambda: server.fd_count() == baseline, 5),
                                "descriptors: %d, baseline %d" % (server.fd_count(), baseline))
        stats_now = stats(server)
        self.assertGreaterEqual(stats_now["tls_failed"], 1, stats_now)
        server.stop_checked(self)

    @staticmethod
    def send_quietly(s, payload):
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close before it has read everything


class HandshakeTimeoutTest(TLSCase):
    """--header-timeout covers the handshake: a client that stalls in it is closed."""

    def closed_after(self, s):
        start = time.monotonic()
        data, end = recv_all(s, timeout=10)
        return time.monotonic() - start, data, end

    def test_stall_mid_client_hello(self):
        server = self.start(("--header-timeout", "1"))
        baseline = self.stable_fds(server)
        with plain_connect(server.port, timeout=10) as s:
            hello = client_hello()
            s.sendall(hello[:len(hello) // 2])
            elapsed, data, end = self.closed_after(s)
        self.assertIn(end, ("eof", "reset"), "a stalled handshake was never closed")
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLess(elapsed, 1.0 + 1.0 * SLOW)
        self.assertTrue(wait_until(lambda: server.fd_count() == baseline, 5))
        self.assert_https_serves(server)
        server.stop_checked(self)

    def test_stall_before_the_client_finished(self):
        # A whole ClientHello, then nothing: the server has sent its flight and waits.
        server = self.start(("--header-timeout", "1"))
        with plain_connect(server.port, timeout=10) as s:
            s.sendall(client_hello())
            elapsed, data, end = self.closed_after(s)
        self.assertTrue(data.startswith(b"\x16"), "no ServerHello: %r" % data[:50])
        self.assertIn(end, ("eof", "reset"), "a stalled handshake was never closed")
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLess(elapsed, 1.0 + 1.0 * SLOW)
        self.assert_https_serves(server)
        server.stop_checked(self)


class ShutdownTest(TLSCase):
    def test_sigterm_sends_close_notify_on_a_kept_alive_connection(self):
        server = self.start()
        with tls_connect(server.port, self.ctx, timeout=10, suppress_ragged_eofs=False) as s:
            self.assertEqual(https_get(s).status, 200)
            server.proc.send_signal(signal.SIGTERM)
            # A close_notify makes recv return b""; a bare FIN would raise SSLEOFError.
            data = s.recv(1024)
            self.assertEqual(data, b"")
        self.assertEqual(server.stop(), 0)
        self.assertEqual(server.foreign_stderr(), [])


class KeepPeriodTest(TLSCase):
    """A connection parked for input keeps its TLS record buffers for 2 s
    (WS_TLS_KEEP_MS in tls.h); then the event thread gives them back and parks it
    on until its keep-alive timeout."""

    def test_idle_past_the_keep_period_then_served_http11_and_h2(self):
        server = self.start(("--keepalive-timeout", "20"))
        with tls_connect(server.port, self.ctx, timeout=10) as s, \
                H2Client(server.port, tls=True, timeout=10) as h2:
            self.assertEqual(https_get(s).status, 200)
            self.assertEqual(h2.request("/HelloWorld.html").status, 200)
            time.sleep(3)  # past the keep period: the buffers are given back meanwhile
            r = https_get(s)
            self.assertEqual((r.status, r.body), (200, HELLO))
            r = h2.request("/HelloWorld.html")
            self.assertEqual((r.status, r.body), (200, HELLO))
        self.assertEqual(stats(server).get("closed_idle"), 0)
        server.stop_checked(self)


class BodyTest(TLSCase):
    """File bodies go out in batches of records (ws_tls_cork): every byte, in order."""

    def write_file(self, name, size):
        data = random.Random(size).randbytes(size)
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        return data

    def test_large_files_pipelined_arrive_intact_and_in_order(self):
        big = self.write_file("big.bin", 5 * 1024 * 1024 + 12345)
        odd = self.write_file("odd.bin", 3 * 16384 + 7)  # a last batch of a few records and a tail
        server = self.start()
        with tls_connect(server.port, self.ctx, timeout=30) as s:
            # Four responses asked for at once: each must be complete before the next begins.
            s.sendall(raw_request("/big.bin") + raw_request("/odd.bin") +
                      raw_request("/HelloWorld.html") + raw_request("/big.bin", close=True))
            reader = Reader(s)
            for want in (big, odd, HELLO, big):
                r = reader.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(len(r.body), len(want))
                self.assertTrue(r.body == want, "a body arrived changed")
        server.stop_checked(self)

    def test_ranges_of_a_large_file(self):
        big = self.write_file("big.bin", 3 * 1024 * 1024)
        server = self.start()
        with tls_connect(server.port, self.ctx, timeout=30) as s:
            s.sendall(raw_request("/big.bin", headers=[("Range", "bytes=100-200099,2000000-")]))
            r = Reader(s).read_response()
        self.assertEqual(r.status, 206)
        # Two parts, each a file piece between memory pieces (part headers, the last delimiter).
        self.assertIn(big[100:200100], r.body)
        self.assertIn(big[2000000:], r.body)
        self.assertTrue(r.body.rstrip().endswith(b"--"))
        server.stop_checked(self)

    def test_slow_reader_gets_every_byte(self):
        """A reader slower than the disk fills the socket (larger than the send buffer
        the kernel grows to, 4 MiB): a batch the socket takes only part of waits
        with the connection, and the rest goes out first when it is writable."""
        big = self.write_file("big.bin", 8 * 1024 * 1024 + 999)
        server = self.start()
        raw = plain_connect(server.port, timeout=30)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        with self.ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(raw_request("/big.bin") + raw_request("/HelloWorld.html", close=True))
            got = bytearray()
            while True:
                data = s.recv(16384)
                if not data:
                    break
                got += data
                time.sleep(0.001)
            head, _, rest = bytes(got).partition(b"\r\n\r\n")
            self.assertIn(b" 200 ", head.split(b"\r\n")[0])
            self.assertTrue(rest[:len(big)] == big, "the body arrived changed or short")
            self.assertIn(HELLO, rest[len(big):])
        server.stop_checked(self)


class RecordClient:
    """A TLS client made through memory BIOs over a plain socket (TCP_NODELAY), so
    that the test decides which bytes of which records go out in which segment,
    and when."""

    def __init__(self, port, ctx, timeout=5.0):
        self.sock = plain_connect(port, timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.plain = b""  # decrypted, not yet parsed
        self.ready = []  # responses parsed, not yet returned
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.send(self.outgoing.read())
                self._fill()
        self.send(self.outgoing.read())

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)  # a hung connection: socket.timeout
        if not data:
            raise EOFError("the server closed the connection")
        self.incoming.write(data)

    def send(self, data):
        """One send(2): one TCP segment on loopback for anything this small."""
        if data:
            self.sock.sendall(data)

    def record(self, plaintext):
        """The bytes of the record(s) that carry plaintext, not sent yet."""
        self.obj.write(plaintext)
        return self.outgoing.read()

    def responses(self, n):
        """The next n responses."""
        while True:
            got, self.plain = parse_responses(self.plain)
            self.ready += got
            if len(self.ready) >= n:
                head, self.ready = self.ready[:n], self.ready[n:]
                return head
            try:
                self.plain += self.obj.read(65536)
            except ssl.SSLWantReadError:
                self.send(self.outgoing.read())
                self._fill()


class EdgeParkTest(TLSCase):
    """A keep-alive HTTPS connection parks for input with an edge park (no
    epoll_ctl) when the last recv emptied the socket and OpenSSL holds nothing.
    Each of these would hang (a socket timeout) if the server took an edge park
    while input waited unseen in the socket or in OpenSSL."""

    def assert_hello(self, responses, n):
        self.assertEqual(len(responses), n)
        for r in responses:
            self.assertEqual((r.status, r.body), (200, HELLO))

    def test_two_requests_in_two_records_in_one_segment(self):
        server = self.start()
        c = RecordClient(server.port, self.ctx)
        self.addCleanup(c.close)
        req = raw_request("/HelloWorld.html")
        for _ in range(5):
            c.send(c.record(req) + c.record(req))
            self.assert_hello(c.responses(2), 2)
            c.send(c.record(req))
            self.assert_hello(c.responses(1), 1)
        server.stop_checked(self)

    def test_a_pipeline_longer_than_one_read(self):
        # 300 records, about 26 KB: more than OpenSSL's read buffer takes in one recv.
        server = self.start()
        c = RecordClient(server.port, self.ctx)
        self.addCleanup(c.close)
        req = raw_request("/HelloWorld.html")
        for n in (300, 7, 300):
            c.send(b"".join(c.record(req) for _ in range(n)))
            self.assert_hello(c.responses(n), n)
        # Eleven records that fill one recv exactly (OpenSSL 3.0 asks for 16,709 bytes
        # on x86-64: 11 x 1,519), and a twelfth behind them: the turn serves eleven and
        # must not edge-park with the twelfth in the socket.
        pad = 1519 - 22 - len(raw_request("/HelloWorld.html", headers=(("X-Pad", ""),)))
        padded = raw_request("/HelloWorld.html", headers=(("X-Pad", "p" * pad),))
        for _ in range(3):
            records = [c.record(padded) for _ in range(12)]
            self.assertEqual(len(records[0]), 1519)
            c.send(b"".join(records))
            self.assert_hello(c.responses(12), 12)
        server.stop_checked(self)

    def test_records_in_pieces_with_pauses(self):
        server = self.start()
        c = RecordClient(server.port, self.ctx)
        self.addCleanup(c.close)
        req = raw_request("/HelloWorld.html")
        pause = 0.15
        # One record in four segments, the server parking between them.
        rec = c.record(req)
        for a, b in ((0, 3), (3, 5), (5, 20), (20, len(rec))):
            c.send(rec[a:b])
            time.sleep(pause)
        self.assert_hello(c.responses(1), 1)
        # A whole record and the start of the next in one segment, its rest later.
        one, two = c.record(req), c.record(req)
        c.send(one + two[:2])
        self.assert_hello(c.responses(1), 1)
        time.sleep(pause)
        c.send(two[2:])
        self.assert_hello(c.responses(1), 1)
        # A request split across two records that come apart.
        c.send(c.record(req[:10]))
        time.sleep(pause)
        c.send(c.record(req[10:]))
        self.assert_hello(c.responses(1), 1)
        # And a plain keep-alive request after all that.
        c.send(c.record(req))
        self.assert_hello(c.responses(1), 1)
        server.stop_checked(self)

    def test_keep_alive_requests_make_no_epoll_ctl(self):
        """Counted with strace attached to every thread of the server: before edge
        parks over TLS, each request cost one epoll_ctl (its level park)."""
        strace = shutil.which("strace")
        if strace is None:
            raise unittest.SkipTest("strace is not installed")
        server = self.start()
        n = 40
        with tls_connect(server.port, self.ctx, timeout=10) as s:
            for _ in range(3):  # the registration, made at the first parks
                self.assertEqual(https_get(s).status, 200)
            out = tempfile.NamedTemporaryFile(prefix="ws-strace-", delete=False)
            out.close()
            self.addCleanup(os.unlink, out.name)
            tids = os.listdir("/proc/%d/task" % server.pid)
            cmd = [strace, "-e", "trace=epoll_ctl", "-o", out.name]
            for tid in tids:
                cmd += ["-p", tid]
            tracer = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            self.addCleanup(tracer.kill)
            attached = 0
            deadline = time.monotonic() + 10 * SLOW
            while attached < len(tids) and time.monotonic() < deadline:
                line = tracer.stderr.readline()
                if not line:
                    break
                if b"attached" in line:
                    attached += 1
            if attached < len(tids):
                tracer.kill()
                raise unittest.SkipTest("strace could not attach to the server's threads")
            for _ in range(n):
                r = https_get(s)
                self.assertEqual((r.status, r.body), (200, HELLO))
            tracer.send_signal(signal.SIGINT)
            tracer.communicate(timeout=10 * SLOW)
        with open(out.name) as f:
            calls = [l for l in f if "epoll_ctl(" in l]
        self.assertLess(len(calls), n // 4, "epoll_ctl calls for %d requests: %s" % (n, calls[:5]))
        server.stop_checked(self)


class ReuseportTest(TLSCase):
    def count_lines(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def test_two_instances_share_the_https_port(self):
        """--reuseport covers the TLS listener too: a second instance joins the
        first's HTTPS and cleartext ports, and the kernel spreads handshakes over both."""
        tmp = tempfile.mkdtemp(prefix="ws-tls-reuseport-")
        self.addCleanup(shutil.rmtree, tmp, True)
        logs = [os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")]
        a = self.start(("--reuseport",), access_log=logs[0])
        b = self.start(("--reuseport", "--tls-port", str(a.port)), access_log=logs[1],
                       listen_args=("--port", str(a.http_port), "--bind", "127.0.0.1"))
        self.assertEqual((b.port, b.http_port), (a.port, a.http_port))
        n = 48
        for i in range(n):
            with tls_connect(a.port, self.ctx) as s:
                r = https_get(s, "/HelloWorld.html?%d" % i, close=True)
            self.assertEqual((r.status, r.body), (200, HELLO))
        self.assertTrue(wait_until(lambda: sum(map(self.count_lines, logs)) == n, 5 * SLOW))
        self.assertGreater(self.count_lines(logs[0]), 0, "instance a got no HTTPS connection")
        self.assertGreater(self.count_lines(logs[1]), 0, "instance b got no HTTPS connection")
        # One stops; the other takes every handshake from then on.
        a.stop_checked(self)
        before = self.count_lines(logs[1])
        for i in range(16):
            with tls_connect(b.port, self.ctx) as s:
                self.assertEqual(https_get(s, close=True).status, 200)
        self.assertTrue(wait_until(lambda: self.count_lines(logs[1]) == before + 16, 5 * SLOW))
        b.stop_checked(self)


if __name__ == "__main__":
    unittest.main()
