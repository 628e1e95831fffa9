#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (run once; the output is checked in).

The request seeds come from the conformance table (tests/conformance/cases.py),
so the fuzzers start from every construct the suite knows about. fuzz_h2's are
HTTP/2 frame streams built with hpack and hyperframe (Debian python3-hpack and
python3-hyperframe).
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

    h2_seeds()


# fuzz_h2: the first byte is fuzz_h2.c's flags; bit 0 clear puts the client
# preface and an empty SETTINGS frame before the rest, which is frames.
H2_RAW, H2_NO_CACHE, H2_LOG_TIMING, H2_LOG_JSON, H2_LOG_OFF = 0x01, 0x02, 0x04, 0x08, 0x0C
H2_DRAINING, H2_PIECES, H2_CLOSE_NOTIFY, H2_TLS12 = 0x10, 0x20, 0x40, 0x80


def h2_seeds():
    try:
        import hpack
        import hyperframe.frame as hf
    except ImportError:
        # The interpreter found first may not be Debian's (pyenv...); these are pure Python.
        sys.path.append("/usr/lib/python3/dist-packages")
        import hpack
        import hyperframe.frame as hf

    enc = [None]  # each seed is a connection of its own: put_h2 gives it a fresh HPACK encoder

    def block(path, method="GET", extra=(), pseudo=None):
        fields = pseudo if pseudo is not None else [
            (":method", method), (":scheme", "https"), (":path", path), (":authority", "fuzz.test")]
        return enc[0].encode(list(fields) + list(extra))

    def headers(sid, path, method="GET", extra=(), end_stream=True, pseudo=None, **kw):
        f = hf.HeadersFrame(sid, data=block(path, method, extra, pseudo), **kw)
        f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f.serialize()

    def frame(f, *flags, pad=None):
        for fl in flags:
            f.flags.add(fl)
        if pad is not None:
            f.flags.add("PADDED")
            f.pad_length = pad
        return f.serialize()

    def put_h2(name, frames, flags=0):
        """frames: a function returning the seed's frames, called with a fresh encoder."""
        enc[0] = hpack.Encoder()
        preface = b"" if flags & H2_RAW == 0 else b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(hf.SettingsFrame(0))
        put("fuzz_h2", bytes([flags]) + preface + frame(hf.SettingsFrame(0), "ACK") + b"".join(frames()), name)

    def continuation(n_frames):
        """A header block cut into a HEADERS frame and n_frames CONTINUATION frames."""
        b = block("/index.html", extra=[("x-a", "a" * 300), ("x-b", "b" * 300)])
        cut = [len(b) * i // (n_frames + 1) for i in range(n_frames + 2)]
        out = [frame(hf.HeadersFrame(1, data=b[:cut[1]]), "END_STREAM")]
        for i in range(1, n_frames + 1):
            last = ("END_HEADERS",) if i == n_frames else ()
            out.append(frame(hf.ContinuationFrame(1, data=b[cut[i]:cut[i + 1]]), *last))
        return out

    def too_big():
        """A header list over SETTINGS_MAX_HEADER_LIST_SIZE (431), then a request that fits."""
        b = block("/", extra=[("cookie", "c=" + "x" * 8000), ("x-long", "y" * 9000)])
        return [frame(hf.HeadersFrame(1, data=b[:16000]), "END_STREAM"),
                frame(hf.ContinuationFrame(1, data=b[16000:]), "END_HEADERS"), headers(3, "/")]

    def over_64k():
        """A header block over WS_H2_MAX_HEADER_BLOCK in 5 full frames: GOAWAY ENHANCE_YOUR_CALM."""
        b = block("/") + enc[0].encode([("x-big-%03d" % i, "z" * 4000) for i in range(17)], huffman=False)
        n = -(-len(b) // 16384)
        out = [frame(hf.HeadersFrame(1, data=b[:16384]), "END_STREAM")]
        for i in range(1, n):
            last = ("END_HEADERS",) if i == n - 1 else ()
            out.append(frame(hf.ContinuationFrame(1, data=b[i * 16384:(i + 1) * 16384]), *last))
        return out

    S = hf.SettingsFrame
    put_h2("get_index", lambda: [headers(1, "/")])
    put_h2("head_big", lambda: [headers(1, "/big.bin", "HEAD")])
    put_h2("range", lambda: [headers(1, "/big.bin", extra=[("range", "bytes=0-99")])])
    put_h2("multirange", lambda: [headers(1, "/big.bin", extra=[("range", "bytes=0-9,100-200,-5")])])
    put_h2("conditional", lambda: [headers(1, "/index.html", extra=[
        ("if-none-match", "*"), ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")])])
    put_h2("missing", lambda: [headers(1, "/missing.html")])
    put_h2("listing", lambda: [headers(1, "/sub/"), headers(3, "/sub"), headers(5, "/sub/nested/")])
    put_h2("gzip_sibling", lambda: [headers(1, "/style.css", extra=[("accept-encoding", "gzip, br")])])
    put_h2("compress_on_the_fly", lambda: [headers(1, "/app.js", extra=[("accept-encoding", "gzip")]),
                                           headers(3, "/app.js", extra=[("accept-encoding", "zstd")]),
                                           headers(5, "/app.js", "HEAD", extra=[("accept-encoding", "*")])])
    put_h2("hidden_escape", lambda: [headers(1, "/.hidden"), headers(3, "/escape"),
                                     headers(5, "/%2e%2e/secret.txt")])
    put_h2("methods", lambda: [headers(1, "*", "OPTIONS"), headers(3, "/", "DELETE"), headers(5, "/", "BREW")])
    put_h2("post_data", lambda: [headers(1, "/", "POST", [("content-length", "5")], end_stream=False),
                                 frame(hf.DataFrame(1, data=b"hello"), "END_STREAM")])
    put_h2("many_streams", lambda: [headers(2 * i + 1, p) for i, p in enumerate(
        ["/", "/big.bin", "/style.css", "/sub/", "/missing", "/index.html"] * 6)])
    put_h2("continuation", lambda: continuation(2))
    put_h2("continuation_flood", lambda: continuation(12))
    put_h2("rst_stream", lambda: [headers(1, "/big.bin"), frame(hf.RstStreamFrame(1, error_code=8)),
                                  headers(3, "/")])
    put_h2("rapid_reset", lambda: [headers(2 * i + 1, "/") + frame(hf.RstStreamFrame(2 * i + 1, error_code=8))
                                   for i in range(240)])
    put_h2("ping", lambda: [frame(hf.PingFrame(0, opaque_data=b"12345678")), headers(1, "/"),
                            frame(hf.PingFrame(0, opaque_data=b"abcdefgh"), "ACK")])
    put_h2("settings_window", lambda: [
        frame(S(0, settings={S.INITIAL_WINDOW_SIZE: 1 << 20, S.MAX_FRAME_SIZE: 1 << 16,
                             S.HEADER_TABLE_SIZE: 0, S.ENABLE_PUSH: 0})),
        frame(hf.WindowUpdateFrame(0, window_increment=1 << 24)),
        headers(1, "/big.bin"), headers(3, "/big.bin", extra=[("range", "bytes=1000-")])])
    put_h2("window_update", lambda: [headers(1, "/big.bin"), frame(hf.WindowUpdateFrame(1, window_increment=100000)),
                                     frame(hf.WindowUpdateFrame(0, window_increment=100000))])
    put_h2("zero_window", lambda: [frame(S(0, settings={S.INITIAL_WINDOW_SIZE: 0})), headers(1, "/big.bin"),
                                   frame(hf.WindowUpdateFrame(1, window_increment=10))])
    put_h2("priority", lambda: [frame(hf.PriorityFrame(3, depends_on=0, stream_weight=200)),
                                headers(1, "/", depends_on=3, stream_weight=16, exclusive=True, flags=["PRIORITY"]),
                                frame(hf.PriorityFrame(1, depends_on=3, stream_weight=1))])
    put_h2("goaway", lambda: [headers(1, "/big.bin"),
                              frame(hf.GoAwayFrame(0, last_stream_id=0, error_code=0, additional_data=b"bye")),
                              headers(3, "/")])
    put_h2("padding", lambda: [
        frame(hf.HeadersFrame(1, data=block("/", "POST", [("content-length", "3")])), "END_HEADERS", pad=17),
        frame(hf.DataFrame(1, data=b"abc"), "END_STREAM", pad=200)])
    put_h2("header_list_too_big", too_big)
    put_h2("header_block_over_64k", over_64k)
    put_h2("bad_pseudo", lambda: [
        headers(1, "/", pseudo=[(":method", "GET"), (":scheme", "https"), (":path", "/"), (":foo", "x")]),
        headers(3, "/", pseudo=[(":method", "GET"), (":scheme", "https"), (":authority", "fuzz.test")]),
        headers(5, "/", extra=[("connection", "close"), ("te", "gzip")]),
        headers(7, "/", extra=[("Upper", "x")])])
    put_h2("hpack_table", lambda: [headers(1, "/", extra=[("x-%d" % i, "v" * 200) for i in range(30)]),
                                   headers(3, "/", extra=[("x-%d" % i, "v" * 200) for i in range(30)])])
    put_h2("hpack_bomb", lambda: [  # one 4000-octet entry, then 20 one-octet references to it
        headers(1, "/", extra=[("x-bomb", "b" * 4000)]),
        headers(3, "/", extra=[("x-bomb", "b" * 4000)] * 20)])
    put_h2("many_fields", lambda: [headers(1, "/", extra=[("accept", "*/*")] * 120)])
    put_h2("ping_flood", lambda: [frame(hf.PingFrame(0, opaque_data=b"%08d" % i)) for i in range(1100)])
    put_h2("body_over_max_body", lambda: [  # fuzz_h2's --max-body is 4096
        headers(1, "/", "POST", end_stream=False), frame(hf.DataFrame(1, data=b"d" * 5000), "END_STREAM"),
        headers(3, "/")])
    put_h2("raw_preface", lambda: [headers(1, "/")], H2_RAW)
    put("fuzz_h2", bytes([H2_RAW]) + b"GET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n", "raw_http1")
    put_h2("draining", lambda: [headers(1, "/big.bin"), headers(3, "/")], H2_DRAINING | H2_LOG_JSON)
    put_h2("pieces_close_notify", lambda: [headers(1, "/"), headers(3, "/sub/"), headers(5, "/big.bin")],
           H2_PIECES | H2_CLOSE_NOTIFY | H2_LOG_TIMING | H2_NO_CACHE)
    put_h2("tls12_no_log", lambda: [headers(1, "/style.css"),
                                    headers(3, "/big.bin", extra=[("range", "bytes=0-0,5-5")])],
           H2_TLS12 | H2_LOG_OFF | H2_CLOSE_NOTIFY)

if __name__ == "__main__":
    main()
