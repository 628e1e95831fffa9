"""HTTP semantics over HTTP/2 (RFC 9110 through RFC 9113 §8): what the server answers, not how it frames it."""

import signal
import unittest

from h2conf import (BIG_PATH, DATA, END_STREAM, HEADERS, HELLO, HELLO_PATH, INDEX, INITIAL_WINDOW_SIZE, KILO_PATH,
                    NO_ERROR, TARGET, TLS, WAIT, H2TestCase, Server, big_bytes, headers_frame, kilo_bytes, main,
                    open_conn, request_block, window_update_frame)

import confhelper  # noqa: E402 (h2conf puts tests/conformance on the path)

# Field names RFC 9113 §8.2.2 forbids in any HTTP/2 message.
CONNECTION_SPECIFIC = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade")

ESCAPES = [
    ("dotdot", "/../secret.txt"),
    ("dotdot_deep", "/../../../../../../../../etc/passwd"),
    ("dotdot_after_segment", "/sub/../../secret.txt"),
    ("dotdot_encoded", "/%2e%2e/secret.txt"),
    ("dotdot_encoded_slash", "/%2e%2e%2fsecret.txt"),
    ("dotdot_half_encoded", "/.%2e/secret.txt"),
]


class Semantics(H2TestCase):

    def test_get_root_serves_index(self):
        """RFC 9110 §9.3.1 over RFC 9113 §8.1: GET / is 200 with content-length and index.html's bytes."""
        conn = self.connect()
        s = self.assert_ok(conn, conn.request("/"), INDEX)
        self.assertEqual(s.header("content-length"), str(len(INDEX)))
        self.assertIsNotNone(s.header("content-type"))

    def test_get_file_content_length_matches(self):
        """RFC 9110 §8.6: GET of a file: content-length equals the DATA octets, the bytes are the file's."""
        conn = self.connect()
        s = self.assert_ok(conn, conn.request(KILO_PATH), kilo_bytes())
        self.assertEqual(s.header("content-length"), "1000")

    def test_head_has_no_data(self):
        """RFC 9110 §9.3.2, RFC 9113 §8.1: the answer to HEAD carries no content: no DATA octets (an empty
        DATA frame only to end the stream)."""
        conn = self.connect()
        sid = conn.request(HELLO_PATH, "HEAD")
        s = conn.response(sid)
        self.assertEqual(s.status, 200, conn.summary())
        self.assertTrue(s.ended)
        self.assertEqual(bytes(s.data), b"", conn.summary())
        if not [f for f in conn.frames if f.type == DATA and f.sid == sid]:
            heads = [f for f in conn.frames if f.type == HEADERS and f.sid == sid]
            self.assertTrue(heads[-1].flags & END_STREAM, conn.summary())
        cl = s.header("content-length")
        self.assertIn(cl, (None, str(len(HELLO))))

    def test_missing_file_is_404(self):
        """RFC 9110 §15.5.5: a missing file is 404."""
        conn = self.connect()
        s = conn.response(conn.request("/no-such-file.html"))
        self.assertEqual(s.status, 404, conn.summary())
        self.assertTrue(s.ended)

    def test_response_fields_lowercase_no_connection_fields(self):
        """RFC 9113 §8.2, §8.2.2, §8.3.2: response field names are lowercase, :status is the first and only
        pseudo-header field, and no connection-specific field is sent."""
        conn = self.connect()
        for path in ("/", HELLO_PATH, "/no-such-file.html", KILO_PATH):
            s = conn.response(conn.request(path))
            self.assertIsNotNone(s.headers, conn.summary())
            names = [n for n, _ in s.headers]
            self.assertEqual(names[0], ":status")
            self.assertEqual([n for n in names if n.startswith(":")], [":status"])
            self.assertEqual([n for n in names if n != n.lower()], [])
            self.assertEqual([n for n in names if n in CONNECTION_SPECIFIC], [], names)
        self.assert_no_error(conn)

    def test_hundred_concurrent_streams(self):
        """RFC 9113 §5.1.2: 100 concurrent requests on one connection are all answered with the file's bytes."""
        conn = self.connect()
        sids = [2 * i + 1 for i in range(100)]
        conn.send(*[headers_frame(sid, request_block(HELLO_PATH)) for sid in sids])
        conn.wait(lambda: all(conn.stream(sid).done() for sid in sids), 4 * WAIT)
        bad = [sid for sid in sids if conn.stream(sid).status != 200 or bytes(conn.stream(sid).data) != HELLO]
        self.assertEqual(bad, [], conn.summary())
        self.assert_no_error(conn)

    def test_big_file_intact(self):
        """RFC 9113 §6.9: a 256 KiB file over several windows arrives byte for byte."""
        conn = self.connect()
        conn.auto_window = True
        s = self.assert_ok(conn, conn.request(BIG_PATH), None)
        self.assertEqual(bytes(s.data), big_bytes())
        self.assertEqual(s.header("content-length"), str(len(big_bytes())))


class PathSafety(H2TestCase):
    """RFC 9110 §7.1, RFC 3986 §5.2.4: a :path that climbs out of the root is 400 or 404, never a file from
    outside (the harness also scans every received octet for the secret beside the root)."""


def _add_escape(name, path):
    def test(self):
        conn = self.connect()
        s = conn.response(conn.request(path))
        self.assertIn(s.status, (400, 404), conn.summary())
        self.assertNotIn(b"WS-SECRET-", bytes(s.data))
        self.assertNotIn(confhelper.PASSWD_MARK, bytes(s.data))
    test.__name__ = "test_escape_" + name
    test.__doc__ = "RFC 9110 §7.1: :path %s is 400 or 404, without bytes from outside the root." % path
    setattr(PathSafety, test.__name__, test)


for _case in ESCAPES:
    _add_escape(*_case)


@unittest.skipIf(TARGET, "our server's policy, and our process")
class OurServer(H2TestCase):

    @unittest.skipIf(TLS, "h2c upgrade is a cleartext matter")
    def test_3_1_upgrade_h2c_ignored(self):
        """RFC 9113 §3.1 (the h2c upgrade is deprecated), issue 14: Upgrade: h2c is ignored, the HTTP/1.1
        request is answered in HTTP/1.1 (no 101)."""
        s = confhelper.connect(self.port, tls=False)
        s.sendall(b"GET /HelloWorld.html HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])

    def test_6_8_sigterm_goaway_then_finish(self):
        """RFC 9113 §6.8, issue 14: on SIGTERM the server sends GOAWAY(NO_ERROR) naming the last stream,
        finishes the stream in flight, then closes and exits 0."""
        server = Server(self.root, self.server_args, tls=TLS)
        self.addCleanup(server.kill)
        conn = open_conn(server.port)
        self._conns.append(conn)
        conn.handshake([(INITIAL_WINDOW_SIZE, 0)])
        sid = conn.request(KILO_PATH)
        self.assertTrue(conn.wait(lambda: conn.stream(sid).headers is not None), conn.summary())
        server.proc.send_signal(signal.SIGTERM)
        self.assertTrue(conn.wait(lambda: conn.goaway is not None), conn.summary())
        self.assertEqual(conn.goaway[1], NO_ERROR, conn.summary())
        self.assertGreaterEqual(conn.goaway[0], sid, conn.summary())
        conn.send(window_update_frame(sid, 100000))
        # Not conn.response(): it returns at once once a GOAWAY has come.
        conn.wait(lambda: conn.stream(sid).done() or conn.closed)
        s = conn.stream(sid)
        self.assertEqual(bytes(s.data), kilo_bytes(), conn.summary())
        conn.wait(lambda: False, WAIT)
        self.assertIsNotNone(conn.closed, "not closed after the last stream: %s" % conn.summary())
        rc = server.stop()
        self.assertEqual(rc, 0, "\n".join(server.stderr_lines[-20:]))
        self.assertEqual(server.foreign_stderr(), [])


if __name__ == "__main__":
    main()
