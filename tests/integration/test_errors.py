"""Every class of bad request gets its status, and the connection is handled right.

Requests that leave the byte stream untrustworthy (400, 413, 414, 431, 505) are
answered and then closed. The answer must arrive whole even when more bytes
(the rest of a body, junk, the next request) follow the bad request: the server
has to drain its input after answering (lingering close) instead of resetting
the connection. Requests that are framed correctly but not allowed (405, 501)
leave the connection in step with the client.
"""

import time
import unittest

from wshelper import (
    Reader,
    ServerTestCase,
    connect,
    parse_responses,
    raw_request,
    recv_all,
)

JUNK = b"J" * 30000


class ErrorTest(ServerTestCase):
    server_args = ("--max-body", "1000")

    # --- helpers -------------------------------------------------------------------

    def closing_error(self, raw, status, junk=True, head=False):
        """Sends raw (plus junk, in two sends), expects one `status` response and a clean close."""
        send_errors = []
        with connect(self.port) as s:
            s.sendall(raw + (JUNK if junk else b""))
            if junk:
                # More arrives after the server has answered: it must be drained, not reset.
                time.sleep(0.1)
                try:
                    s.sendall(JUNK)
                except OSError as e:
                    send_errors.append(e)
            data, end = recv_all(s, timeout=5)
        rs, rest = parse_responses(data, (head,))
        self.assertGreaterEqual(len(rs), 1, "no complete response to %r...: got %r (%s)" % (raw[:60], data[:200], end))
        r = rs[0]
        self.assertEqual(r.status, status, "for %r" % raw[:80])
        self.assertEqual(len(rs), 1, "more than one response to a bad request")
        self.assertEqual(rest, b"", "bytes after the error response")
        self.assertEqual(end, "eof", "connection not closed cleanly after %d" % status)
        self.assertEqual(send_errors, [], "server reset the connection while the client was still sending")
        self.assertEqual(r.header("connection"), "close")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        if not head:
            self.assertIn(str(status).encode(), r.body)
        return r

    def kept_error(self, raw, status):
        """A framed-but-refused request: the status, then the next request is answered in step."""
        follow = raw_request("/HelloWorld.html", close=True)
        with connect(self.port) as s:
            s.sendall(raw + follow)
            data, end = recv_all(s, timeout=5)
        rs, rest = parse_responses(data)
        self.assertEqual(end, "eof")
        self.assertEqual(rest, b"")
        self.assertGreaterEqual(len(rs), 1, "no response to %r" % raw[:60])
        self.assertEqual(rs[0].status, status, "for %r" % raw[:80])
        self.assertEqual(int(rs[0].header("content-length")), len(rs[0].body))
        if len(rs) > 1 or (rs[0].header("connection") or "").lower() != "close":
            # Kept open: the following request must get its own, right answer.
            self.assertEqual([r.status for r in rs], [status, 200])
            self.assertEqual(rs[1].body, self.file_bytes("HelloWorld.html"))
        return rs[0]

    def tearDown(self):
        self.assert_still_serving()
        super().tearDown()

    # --- 400: the request line -----------------------------------------------------

    def test_malformed_request_lines(self):
        host = b"\r\nHost: x\r\n\r\n"
        for line in (
            b"GET",
            b"GET /",                       # HTTP/0.9 style, no version
            b"GET  / HTTP/1.1",             # two spaces
            b"GET / HTTP/1.1 ",             # trailing space
            b"GET\t/ HTTP/1.1",             # tab as separator
            b"GET / http/1.1",              # version name is case-sensitive
            b"GET / HTTP/1",
            b"GET / HTTP/1.1x",
            b"GET / HTTP/x.1",
            b"/ HTTP/1.1",                  # no method
            b"GET /a b HTTP/1.1",           # space in the target
            b"GET index.html HTTP/1.1",     # not origin-form
            b"GET /index.html#frag HTTP/1.1",
            b"G(ET / HTTP/1.1",             # not a token
            b"GET /\x01 HTTP/1.1",          # control byte in the target
            b"GET / HTTP/1.1\rX",           # bare CR
        ):
            with self.subTest(line=line):
                self.closing_error(line + host, 400)

    def test_garbage_is_400(self):
        self.closing_error(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\xaa" * 50 + b"\r\n\r\n", 400)

    # --- 400: header fields ----------------------------------------------------------

    def test_missing_host_in_http11(self):
        self.closing_error(b"GET /HelloWorld.html HTTP/1.1\r\n\r\n", 400)

    def test_missing_host_in_http10_is_fine(self):
        with connect(self.port) as s:
            s.sendall(b"GET /HelloWorld.html HTTP/1.0\r\n\r\n")
            data, end = recv_all(s)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [200])

    def test_two_hosts(self):
        self.closing_error(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
        self.closing_error(b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400)

    def test_invalid_host(self):
        for value in (b"", b"a b", b"a/b", b"a@b", b"[::1", b"a:80x"):
            with self.subTest(host=value):
                self.closing_error(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n", 400)

    def test_whitespace_before_colon(self):
        self.closing_error(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400)
        self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: b\r\n\r\n", 400)

    def test_malformed_header_lines(self):
        for line in (
            b"No-Colon",
            b": empty-name",
            b" X-Leading-Space: a",          # obs-fold / leading whitespace
            b"X-A: a\r\n\tfolded",           # obs-fold continuation
            b"X(A): b",                      # not a token
        ):
            with self.subTest(line=line):
                self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n", 400)

    def test_control_characters_in_header_value(self):
        for ch in (b"\x00", b"\x01", b"\x1b", b"\x7f", b"\r"):
            with self.subTest(ch=ch):
                self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a" + ch + b"b\r\n\r\n", 400)

    def test_bad_content_length(self):
        for fields in (
            b"Content-Length: 5\r\nContent-Length: 6",
            b"Content-Length: 5, 6",
            b"Content-Length: -1",
            b"Content-Length: abc",
            b"Content-Length: 1e3",
            b"Content-Length: +5",
            b"Content-Length: 0x10",
            b"Content-Length: 99999999999999999999999",
            b"Content-Length: ",
        ):
            with self.subTest(fields=fields):
                self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n\r\n", 400)

    def test_repeated_equal_content_length_is_fine(self):
        r = self.kept_error(b"GET /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 200)
        self.assertEqual(r.body, self.file_bytes("index.html"))

    def test_transfer_encoding_with_content_length(self):
        self.closing_error(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
        self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                           b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400)

    def test_bad_transfer_encoding(self):
        for fields in (
            b"Transfer-Encoding: gzip",                      # chunked must be last
            b"Transfer-Encoding: chunked, chunked",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        ):
            with self.subTest(fields=fields):
                self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n\r\n", 400)

    def test_malformed_chunked_body(self):
        self.closing_error(b"GET /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"zz\r\nhello\r\n0\r\n\r\n", 400)

    # --- 405, 501, 505 ---------------------------------------------------------------

    def test_other_known_methods_are_405(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "TRACE"):
            with self.subTest(method=method):
                r = self.kept_error(raw_request("/HelloWorld.html", method=method), 405)
                self.assertEqual(r.header("allow"), "GET, HEAD, OPTIONS")

    def test_405_with_a_body_keeps_in_step(self):
        body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        r = self.kept_error(raw_request("/HelloWorld.html", method="POST",
                                        headers=[("Content-Length", str(len(body)))]) + body, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD, OPTIONS")

    def test_unknown_method_is_501(self):
        for method in ("BREW", "get", "PROPFIND"):
            with self.subTest(method=method):
                self.kept_error(raw_request("/", method=method), 501)

    def test_unsupported_version_is_505(self):
        for version in ("HTTP/2.0", "HTTP/3.0", "HTTP/0.9"):
            with self.subTest(version=version):
                self.closing_error(raw_request("/HelloWorld.html", version=version), 505)

    # --- limits: 414, 431, 413 -----------------------------------------------------

    def test_request_line_over_8192_is_414(self):
        target = "/" + "a" * 9000
        self.closing_error(raw_request(target), 414)

    def test_request_line_limit_boundary(self):
        fixed = len("GET  HTTP/1.1")
        at_limit = "/" + "b" * (8192 - fixed - 1)
        self.assertEqual(len("GET %s HTTP/1.1" % at_limit), 8192)
        with connect(self.port) as s:
            s.sendall(raw_request(at_limit, close=True))
            data, _ = recv_all(s)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [404], "a request line of exactly 8192 bytes is allowed")
        self.closing_error(raw_request(at_limit + "b"), 414)

    def test_endless_request_line_is_414(self):
        # No line end ever comes: the server must give up at the limit, not wait.
        self.closing_error(b"GET /" + b"c" * 20000, 414, junk=False)

    def test_header_section_over_16384_is_431(self):
        self.closing_error(raw_request("/", headers=[("X-Big", "v" * 20000)]), 431)
        many = [("X-Field-%03d" % i, "w" * 200) for i in range(90)]
        self.closing_error(raw_request("/", headers=many), 431)

    def test_endless_header_section_is_431(self):
        self.closing_error(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"d" * 40000, 431, junk=False)

    def test_large_header_section_under_limit_is_fine(self):
        r = self.kept_error(raw_request("/index.html", headers=[("X-Big", "v" * 12000)]), 200)
        self.assertEqual(r.body, self.file_bytes("index.html"))

    def test_more_than_100_headers_is_431(self):
        # Host plus 100 more: 101 fields.
        fields = [("X-N%d" % i, "1") for i in range(100)]
        self.closing_error(raw_request("/", headers=fields), 431)

    def test_exactly_100_headers_is_fine(self):
        fields = [("X-N%d" % i, "1") for i in range(99)]  # plus Host
        r = self.kept_error(raw_request("/index.html", headers=fields), 200)
        self.assertEqual(r.body, self.file_bytes("index.html"))

    def test_body_over_max_body_is_413(self):
        body = b"x" * 5000
        self.closing_error(raw_request("/index.html", method="GET",
                                       headers=[("Content-Length", str(len(body)))]) + body, 413)

    def test_body_at_max_body_is_fine(self):
        body = b"x" * 1000
        r = self.kept_error(raw_request("/index.html", headers=[("Content-Length", "1000")]) + body, 200)
        self.assertEqual(r.body, self.file_bytes("index.html"))

    def test_chunked_body_over_max_body_is_413(self):
        chunks = b"".join(b"100\r\n" + b"y" * 256 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
        self.closing_error(raw_request("/index.html", headers=[("Transfer-Encoding", "chunked")]) + chunks, 413)

    def test_413_comes_without_100_continue(self):
        # The body is refused by its announced size: no interim 100 that invites it.
        with connect(self.port) as s:
            s.sendall(raw_request("/index.html", headers=[
                ("Content-Length", "2000000"), ("Expect", "100-continue")]))
            reader = Reader(s)
            r = reader.read_response()
            self.assertEqual(r.status, 413)
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(reader.at_eof())

    # --- the server keeps going ---------------------------------------------------------

    def test_many_bad_requests_in_a_row(self):
        for i in range(50):
            with connect(self.port) as s:
                s.sendall(b"BAD\x00REQUEST %d\r\n\r\n" % i)
                data, end = recv_all(s, timeout=5)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:80])
            self.assertEqual(end, "eof")

    def test_abrupt_close_after_bad_request(self):
        # The client goes away without reading: nothing for the server to trip over.
        for i in range(20):
            s = connect(self.port)
            s.sendall(b"GET / HTTP/9.9\r\n\r\n" + JUNK)
            s.close()


if __name__ == "__main__":
    unittest.main()
