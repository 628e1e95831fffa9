"""Size limits, each at limit-1, limit and limit+1, on a fresh and on a reused connection.

Limits (docs/design.md, docs/conformance.md): request line 8192 bytes (414,
RFC 9112 §3), header section 16384 bytes including the request line and the
final empty line (431, RFC 6585 §5), 100 header fields (431), request body
--max-body bytes (413, RFC 9110 §15.5.14; this class runs with --max-body 1000).
The server reads into a 16 KiB buffer, so the pipelining cases place a request
across that buffer's end at many offsets.
"""

from confhelper import (
    ConformanceTestCase,
    Reader,
    cases,
    main,
    parse_responses,
    recv_all,
)

LINE_LIMIT = 8192
HEAD_LIMIT = 16384
FIELD_LIMIT = 100
MAX_BODY = 1000


def line_request(n):
    """A request whose request line is exactly n bytes; its target does not exist (404)."""
    fixed = len("GET / HTTP/1.1")
    line = ("GET /" + "l" * (n - fixed) + " HTTP/1.1").encode()
    assert len(line) == n
    return cases.req(line)


def head_request(n, target="/HelloWorld.html"):
    """A GET whose header section is exactly n bytes, final CRLF CRLF included."""
    base = cases.get(target, "X-Pad: ")
    pad = n - len(base)
    assert pad >= 0
    raw = cases.get(target, "X-Pad: " + "p" * pad)
    assert len(raw) == n
    return raw


def fields_request(k):
    """A GET with exactly k header fields (Host among them)."""
    return cases.get("/HelloWorld.html", *["X-F%03d: %d" % (i, i) for i in range(k - 1)])


def body_request(n):
    return cases.get("/HelloWorld.html", "Content-Length: %d" % n, body=b"b" * n)


def chunked_request(n):
    """A chunked body of n data bytes in chunks of at most 300."""
    body = b""
    left = n
    while left:
        k = min(300, left)
        body += b"%x\r\n" % k + b"c" * k + b"\r\n"
        left -= k
    return cases.get("/HelloWorld.html", "Transfer-Encoding: chunked", body=body + b"0\r\n\r\n")


# (name, builder, size, expected status of that request; None: the request is fine)
LIMIT_CASES = [
    ("request_line", line_request, LINE_LIMIT - 1, 404, "RFC 9112 §3"),
    ("request_line", line_request, LINE_LIMIT, 404, "RFC 9112 §3"),
    ("request_line", line_request, LINE_LIMIT + 1, 414, "RFC 9112 §3"),
    ("header_section", head_request, HEAD_LIMIT - 1, 200, "RFC 6585 §5"),
    ("header_section", head_request, HEAD_LIMIT, 200, "RFC 6585 §5"),
    ("header_section", head_request, HEAD_LIMIT + 1, 431, "RFC 6585 §5"),
    ("fields", fields_request, FIELD_LIMIT - 1, 200, "RFC 6585 §5"),
    ("fields", fields_request, FIELD_LIMIT, 200, "RFC 6585 §5"),
    ("fields", fields_request, FIELD_LIMIT + 1, 431, "RFC 6585 §5"),
    ("body", body_request, MAX_BODY - 1, 200, "RFC 9110 §15.5.14"),
    ("body", body_request, MAX_BODY, 200, "RFC 9110 §15.5.14"),
    ("body", body_request, MAX_BODY + 1, 413, "RFC 9110 §15.5.14"),
    ("chunked_body", chunked_request, MAX_BODY - 1, 200, "RFC 9110 §15.5.14"),
    ("chunked_body", chunked_request, MAX_BODY, 200, "RFC 9110 §15.5.14"),
    ("chunked_body", chunked_request, MAX_BODY + 1, 413, "RFC 9110 §15.5.14"),
]


class LimitTest(ConformanceTestCase):
    server_args = ("--threads", "2", "--max-body", str(MAX_BODY))

    def pipeline(self, requests, expected, reuse=False):
        """Sends requests (and the probe, if the last one keeps the connection) in one
        write, optionally after a first request on the same connection; checks the
        statuses in order and that a closing error is the last answer."""
        with self.connect() as s:
            reader = Reader(s)
            if reuse:
                s.sendall(cases.get("/index.html"))
                first = reader.read_response()
                self.assertEqual(first.status, 200)
                self.assertEqual(first.body, cases.INDEX)
            closing = expected[-1] >= 400 and expected[-1] not in (404,)
            s.sendall(b"".join(requests) + cases.PROBE)
            data, end = recv_all(s, timeout=10)
        rs, rest = parse_responses(reader.buf + data)
        got = [r.status for r in rs]
        want = list(expected) + ([] if closing else [200])
        self.assertEqual(got, want)
        self.assertEqual(rest, b"")
        self.assertEqual(end, "eof")
        for r in rs:
            self.assert_well_formed(r)
        if closing:
            self.assertEqual(rs[-1].header("connection"), "close")
        for r in rs:
            if r.status == 200:
                self.assertEqual(r.body, cases.HELLO)
        return rs

    # --- the pipelined 16 KiB buffer -----------------------------------------------------------

    def test_pipelined_request_straddles_read_buffer(self):
        """RFC 9112 §9.3.2: a 16000-byte request, then one that crosses the 16 KiB buffer end."""
        self.pipeline([head_request(16000), head_request(1000)], [200, 200])

    def test_pipelined_straddle_at_many_offsets(self):
        """RFC 9112 §9.3.2: the second request starts 0..60 bytes before the buffer end."""
        for first in range(HEAD_LIMIT - 64, HEAD_LIMIT + 1, 7):
            with self.subTest(first=first):
                self.pipeline([head_request(first), cases.get("/HelloWorld.html")], [200, 200])

    def test_pipelined_maximal_head_after_small_request(self):
        """RFC 6585 §5: a request of exactly 16384 bytes that arrives behind another one."""
        self.pipeline([cases.get("/HelloWorld.html"), head_request(HEAD_LIMIT)], [200, 200])

    def test_pipelined_oversized_head_after_small_request(self):
        """RFC 6585 §5: 16385 bytes behind another request: the first is answered, then 431."""
        self.pipeline([cases.get("/HelloWorld.html"), head_request(HEAD_LIMIT + 1)], [200, 431])

    def test_pipelined_line_limit_in_second_request(self):
        """RFC 9112 §3: an 8192-byte request line behind another request is parsed."""
        self.pipeline([cases.get("/HelloWorld.html"), line_request(LINE_LIMIT)], [200, 404])

    def test_pipelined_line_over_limit_in_second_request(self):
        """RFC 9112 §3: an 8193-byte request line behind another request is 414."""
        self.pipeline([cases.get("/HelloWorld.html"), line_request(LINE_LIMIT + 1)], [200, 414])

    def test_many_small_pipelined_requests_cross_the_buffer(self):
        """RFC 9112 §9.3.2: 300 requests (about 18 KB) in one write, answered in order."""
        reqs = [cases.get("/HelloWorld.html", "X-Seq: %d" % i) for i in range(300)]
        self.assertGreater(sum(map(len, reqs)), HEAD_LIMIT)
        self.pipeline(reqs, [200] * 300)

    def test_body_straddles_read_buffer(self):
        """RFC 9112 §6.3: a body that begins in one buffer fill and ends in the next."""
        head = head_request(16300)
        raw = head[:-2] + b"Content-Length: 900\r\n\r\n" + b"z" * 900
        self.pipeline([raw, cases.get("/HelloWorld.html")], [200, 200])

    def test_chunked_body_straddles_read_buffer(self):
        """RFC 9112 §7.1: a chunk size line split by the buffer end."""
        head = head_request(16340)[:-2] + b"Transfer-Encoding: chunked\r\n\r\n"
        self.assertLessEqual(len(head), HEAD_LIMIT)
        size_line = b"0" * 20 + b"a\r\n"
        self.assertGreater(len(head) + len(size_line), HEAD_LIMIT)
        raw = head + size_line + b"y" * 10 + b"\r\n0\r\n\r\n"
        self.pipeline([raw, cases.get("/HelloWorld.html")], [200, 200])


def _add_limit_tests():
    for name, build, size, status, rfc in LIMIT_CASES:
        for reuse in (False, True):
            def test(self, build=build, size=size, status=status, reuse=reuse):
                self.pipeline([build(size)], [status], reuse=reuse)
            test.__name__ = "test_%s_%d_%s" % (name, size, "reused" if reuse else "fresh")
            test.__doc__ = "%s: %s of %d -> %d, on a %s connection" % (
                rfc, name.replace("_", " "), size, status, "kept-alive" if reuse else "new")
            setattr(LimitTest, test.__name__, test)


_add_limit_tests()


if __name__ == "__main__":
    main()
