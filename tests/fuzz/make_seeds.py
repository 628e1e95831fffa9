#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (run once; the output is checked in).

The request seeds come from the conformance table (tests/conformance/cases.py),
so the fuzzers start from every construct the suite knows about.
"""

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import cases  # noqa: E402


def put(target, data, name=None):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pick(n_per_group):
    out = []
    for group in ("request_line", "host", "header_syntax", "framing", "paths"):
        cs = cases.cases(group)
        step = max(1, len(cs) // n_per_group)
        out += cs[::step][:n_per_group]
    return out


def main():
    for c in pick(10):
        put("fuzz_http_parser", c.raw, c.name)
    put("fuzz_http_parser", cases.get("/", "Content-Length: 3") + b"abc" + cases.PROBE, "pipelined")
    put("fuzz_http_parser", b"5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\n", "chunked_body_only")
    put("fuzz_http_parser", cases.req("OPTIONS * HTTP/1.1", "Expect: 100-continue"), "options_expect")

    for t in ("/", "/a/b/c", "/a/../b", "/%2e%2e/x", "/..", "/a/./b/", "//a//b//", "/%2F%2f", "/a%00b",
              "/%zz", "/%", "/caf%C3%A9", "/a/b/../../..", "/.hidden/x", "/%252e", "/a\\b", "/.%2e/",
              "/a/b/c/d/e/f/g/../../../../../../..", "/" + "x" * 300, "/a;b?c", "/./././.", "/%c0%ae"):
        put("fuzz_path", t.encode("latin-1"))
    for c in cases.cases("paths")[::3]:
        target = c.raw.split(b" ")[1]
        if target.startswith(b"http://"):
            target = target[len(b"http://localhost"):]
        put("fuzz_path", target)

    def rng(mode_size, value):
        mode, size = mode_size
        if mode == 0:
            head = bytes([0x00 | 3, size & 0xFF])
        elif mode == 1:
            head = bytes([0x10 | 3])
        elif mode == 2:
            head = bytes([0x20 | 15]) + size.to_bytes(3, "big")
        else:
            head = bytes([0x30 | 15]) + (size << 1).to_bytes(8, "big")
        return head + value

    for value in (b"bytes=0-0", b"bytes=-5", b"bytes=5-", b"bytes=0-1,3-4", b"bytes=1-2,2-3,0-0",
                  b"BYTES = 0-1 , 5-", b"bytes=99999999999999999999-", b"items=0-1", b"bytes=,,,0-1,,",
                  b",".join(b"%d-%d" % (i * 3, i * 3) for i in range(20)).join([b"bytes=", b""]),
                  b"bytes=5-3", b"bytes=-0", b"bytes=0-", b"bytes=100-200", b"bytes=-9223372036854775808"):
        for ms in ((0, 10), (1, 0), (2, 100000), (3, (1 << 62) - 1)):
            put("fuzz_range", rng(ms, value))

    for r in (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: a\r\n\r\n",
              b"HTTP/1.0 200 OK\r\n\r\nuntil close",
              b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
              b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
              b"HTTP/1.1 200\nContent-Length: 2\n\nok",
              b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
              b"HTTP/2.0 200 OK\r\n\r\n", b"HTTP/1.1 999 Odd\r\n\r\n", b"HTTP/1.1 200 OK\r\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n1\nx\n0\n\n",
              b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", b"HTTP/1.1 20 OK\r\n\r\n",
              b"http/1.1 200 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
              b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nffffffffffffffffffff\r\n",
              b"HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=b\r\n"
              b"Content-Length: 10\r\nConnection: close\r\n\r\n0123456789"):
        put("fuzz_http_response", r)

    for c in pick(6):
        put("fuzz_server", c.raw, c.name)
    put("fuzz_server", cases.get("/big.txt") + cases.get("/escape") + cases.get("/escape-abs"), "pipelined_files")
    put("fuzz_server", cases.get("/big.txt", "Range: bytes=0-9,100-200,-5"), "multirange")
    put("fuzz_server", cases.get("/big.txt", "Range: bytes=0-0", "If-Range: \"x\""), "if_range")
    put("fuzz_server", cases.get("/HelloWorld.html", "If-None-Match: *", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"),
        "conditional")
    put("fuzz_server", cases.get("/sub", "Accept-Encoding: gzip;q=0.5, br"), "redirect_negotiate")
    put("fuzz_server", cases.get("/", "Transfer-Encoding: chunked", "Expect: 100-continue",
                                 body=b"3\r\nabc\r\n0\r\n\r\n") + cases.PROBE, "chunked_expect")
    put("fuzz_server", b"GET / HTTP/1.1\r\nHost: x\r\n", "partial_head")


if __name__ == "__main__":
    main()
