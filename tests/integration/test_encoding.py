"""Precompressed siblings (file.gz, file.br) and Accept-Encoding negotiation
(RFC 9110 §12.5.3): which representation is sent, its validators, Vary, staleness,
ranges over the sent representation, siblings that must never be used, and curl
--compressed.

The server never decodes a sibling, so the .br files here are arbitrary bytes: what
is checked is that exactly the sibling's bytes are sent, labelled as such.
"""

import gzip
import os
import shutil
import subprocess
import tempfile
import unittest

from wshelper import (
    CURL,
    SLOW,
    Reader,
    ServerTestCase,
    connect,
    curl_command,
    fetch,
    h1_only,
    http_dates,
    parse_byteranges,
    raw_request,
    set_mtime_ns,
    write_file,
)

T = 1614834367 * 10**9  # 2021-03-04 05:06:07 UTC, in ns
SECOND = 10**9

JS = b"".join(b"export function f%d(x) { return x * %d + 1; }\n" % (i, i) for i in range(300))
JS_GZ = gzip.compress(JS, mtime=0)
JS_BR = b"\x1b\xff fake brotli bytes for app.js \x00\x01\x02" * 7
CSS = b"body { margin: 0 }\n" * 200
CSS_GZ = gzip.compress(CSS, mtime=0)
TXT = b"plain text that has a stale compressed sibling\n" * 50
PAGE = b"".join(b"page line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(2000))
INDEX = b"<!doctype html><title>docs</title>" + b"<p>the documentation index</p>\n" * 100
INDEX_GZ = gzip.compress(INDEX, mtime=0)
INDEX_BR = b"\x1b\xff fake brotli bytes for docs/index.html \x00" * 5
HTML_TYPE = "text/html; charset=utf-8"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JS_TYPE = "text/javascript; charset=utf-8"


class PrecompressedTest(ServerTestCase):
    # The siblings alone: what is sent when none fits is the file itself
    # (test_compression.py has on-the-fly compression).
    server_args = ("--compress", "off")

    @classmethod
    def prepare_root(cls, root):
        def put(name, data, mtime_ns):
            path = os.path.join(root, name)
            write_file(path, data)
            set_mtime_ns(path, mtime_ns)

        # Both siblings, newer than the original.
        put("app.js", JS, T)
        put("app.js.gz", JS_GZ, T + 10 * SECOND)
        put("app.js.br", JS_BR, T + 10 * SECOND)
        # Only a .gz, as old as the original to the nanosecond (not older: usable).
        put("style.css", CSS, T)
        put("style.css.gz", CSS_GZ, T)
        # Stale siblings: older than the original, by seconds and by one nanosecond.
        put("stale.txt", TXT, T)
        put("stale.txt.gz", gzip.compress(b"old content\n", mtime=0), T - 10 * SECOND)
        put("stale.txt.br", b"old brotli", T - 10 * SECOND)
        put("nsold.txt", TXT, T + 1)
        put("nsold.txt.gz", gzip.compress(TXT, mtime=0), T)
        # A "sibling" that is a directory.
        put("dirsib.txt", TXT, T)
        os.mkdir(os.path.join(root, "dirsib.txt.gz"))
        set_mtime_ns(os.path.join(root, "dirsib.txt.gz"), T + 10 * SECOND)
        # A sibling that is a symlink to a fresh gzip file outside the root.
        cls.outside = tempfile.mkdtemp(prefix="ws-outside-")
        cls.addClassCleanup(shutil.rmtree, cls.outside, True)
        target = os.path.join(cls.outside, "linksib.txt.gz")
        write_file(target, gzip.compress(b"secret from outside the root\n", mtime=0))
        set_mtime_ns(target, T + 10 * SECOND)
        put("linksib.txt", TXT, T)
        os.symlink(target, os.path.join(root, "linksib.txt.gz"))
        # Not a text-like type: a sibling is never looked for.
        put("img.png", PNG, T)
        put("img.png.gz", gzip.compress(PNG, mtime=0), T + SECOND)
        # A directory whose index has both siblings.
        os.mkdir(os.path.join(root, "docs"))
        put("docs/index.html", INDEX, T)
        put("docs/index.html.gz", INDEX_GZ, T + SECOND)
        put("docs/index.html.br", INDEX_BR, T + SECOND)
        # Two siblings of one size and the original's time (as gzip -k and brotli -k leave them).
        put("twin.js", JS, T)
        put("twin.js.gz", JS_BR[:100], T)
        put("twin.js.br", JS_BR[-100:], T)
        # For curl --compressed: a real gzip sibling only.
        put("page.txt", PAGE, T)
        put("page.txt.gz", gzip.compress(PAGE, mtime=0), T + SECOND)

    def get(self, path, ae=None, headers=(), method="GET"):
        hdrs = list(headers)
        if ae is not None:
            hdrs.append(("Accept-Encoding", ae))
        return fetch(self.port, path, method=method, headers=hdrs)

    def assert_identity(self, r, data, vary, what=""):
        """The original's bytes, uncoded; vary: whether Vary: Accept-Encoding must be
        sent (True), must not be (False), or is not checked here (None)."""
        self.assertEqual(r.status, 200, what)
        self.assertIsNone(r.header("content-encoding"), what)
        self.assertEqual(r.header("content-length"), str(len(data)), what)
        self.assertTrue(r.body == data, "%s: not the original's bytes" % what)
        if vary is True:
            self.assertEqual(r.header_all("vary"), ["Accept-Encoding"], what)
        elif vary is False:
            self.assertEqual(r.header_all("vary"), [], what)

    def assert_coded(self, r, coding, data, content_type, what=""):
        self.assertEqual(r.status, 200, what)
        self.assertEqual(r.header("content-encoding"), coding, what)
        self.assertEqual(r.header("content-length"), str(len(data)), what)
        self.assertTrue(r.body == data, "%s: not the %s sibling's bytes" % (what, coding))
        self.assertEqual(r.header("content-type"), content_type, what)
        self.assertEqual(r.header_all("vary"), ["Accept-Encoding"], what)

    def test_gzip_sibling(self):
        identity = self.get("/app.js")
        r = self.get("/app.js", "gzip")
        self.assert_coded(r, "gzip", JS_GZ, JS_TYPE)
        self.assertEqual(gzip.decompress(r.body), JS)
        self.assertEqual(r.header("content-type"), identity.header("content-type"))
        self.assertEqual(r.header("accept-ranges"), "bytes")
        self.assertEqual(r.header("cache-control"), identity.header("cache-control"))
        self.assertEqual(r.header("last-modified"), http_dates((T + 10 * SECOND) // SECOND)[0])
        self.assert_coded(self.get("/style.css", "gzip"), "gzip", CSS_GZ, "text/css; charset=utf-8")

    def test_br_sibling(self):
        self.assert_coded(self.get("/app.js", "br"), "br", JS_BR, JS_TYPE)

    def test_each_representation_has_its_own_strong_etag(self):
        tags = [self.get("/app.js", ae).header("etag") for ae in (None, "gzip", "br")]
        for tag in tags:
            self.assertRegex(tag or "", r'^"[^"]+"$')
        self.assertEqual(len(set(tags)), 3, tags)
        identity, gz, br = tags
        # Each tag validates its own representation only.
        r = self.get("/app.js", "gzip", headers=[("If-None-Match", gz)])
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("etag"), gz)
        self.assertEqual(r.header_all("vary"), ["Accept-Encoding"])
        self.assertEqual(r.body, b"")
        self.assert_coded(self.get("/app.js", "gzip", headers=[("If-None-Match", identity)]),
                          "gzip", JS_GZ, JS_TYPE)
        self.assert_identity(self.get("/app.js", headers=[("If-None-Match", gz)]), JS, vary=True)
        self.assertEqual(self.get("/app.js", "br", headers=[("If-None-Match", br)]).status, 304)
        self.assertEqual(self.get("/app.js", "br", headers=[("If-Match", gz)]).status, 412)

    def test_siblings_of_one_size_and_time_have_their_own_etags(self):
        gz, br = (self.get("/twin.js", ae).header("etag") for ae in ("gzip", "br"))
        self.assertNotEqual(gz, br)
        r = self.get("/twin.js", "br", headers=[("If-None-Match", gz)])
        self.assert_coded(r, "br", JS_BR[-100:], JS_TYPE)
        self.assertEqual(self.get("/twin.js", "br", headers=[("If-None-Match", br)]).status, 304)

    def test_q_values(self):
        cases = [
            ("gzip", "gzip"),
            ("br", "br"),
            ("gzip, br", "br"),          # a tie: br is preferred
            ("br;q=1.0, gzip;q=1", "br"),
            ("br;q=0.5, gzip;q=0.8", "gzip"),
            ("br; q=0.5 , gzip ;q=0.8", "gzip"),
            ("gzip;q=0.001", "gzip"),
            ("gzip;q=0", None),
            ("gzip;q=0, br;q=0", None),
            ("gzip;q=0, br", "br"),
            ("br;q=0, *", "gzip"),
            ("*", "br"),
            ("*;q=0.5, gzip", "gzip"),
            ("*;q=0", None),
            ("GZIP", "gzip"),
            ("x-gzip", "gzip"),
            ("deflate", None),
            ("identity", None),
            ("identity;q=1, gzip;q=0.5", None),
            ("gzip;q=2", None),           # not a qvalue: the element is ignored
            ("gzip;q=0.8000", None),
            ("br;level=5", None),         # a parameter other than q: ignored
            ("", None),
        ]
        bodies = {None: JS, "gzip": JS_GZ, "br": JS_BR}
        for ae, coding in cases:
            with self.subTest(accept_encoding=ae):
                r = self.get("/app.js", ae)
                if coding is None:
                    self.assert_identity(r, JS, vary=True, what=ae)
                else:
                    self.assert_coded(r, coding, bodies[coding], JS_TYPE, ae)

    def test_q_values_with_only_gzip_available(self):
        for ae, coded in (("gzip;q=0", False), ("br", False), ("br, gzip;q=0.1", True), ("*", True)):
            with self.subTest(accept_encoding=ae):
                r = self.get("/style.css", ae)
                if coded:
                    self.assert_coded(r, "gzip", CSS_GZ, "text/css; charset=utf-8", ae)
                else:
                    self.assert_identity(r, CSS, vary=True, what=ae)

    def test_accept_encoding_on_several_lines(self):
        r = self.get("/app.js", headers=[("Accept-Encoding", "gzip;q=0.5"), ("Accept-Encoding", "br;q=0.4")])
        self.assert_coded(r, "gzip", JS_GZ, JS_TYPE)

    def test_no_accept_encoding_is_identity_with_vary(self):
        self.assert_identity(self.get("/app.js"), JS, vary=True)
        self.assert_identity(self.get("/style.css"), CSS, vary=True)

    def test_stale_sibling_is_never_served(self):
        for path in ("/stale.txt", "/nsold.txt"):
            for ae in ("gzip", "br", "gzip, br", "*"):
                with self.subTest(path=path, accept_encoding=ae):
                    self.assert_identity(self.get(path, ae), TXT, vary=None)

    def test_vary_on_every_text_like_response(self):
        # docs/conformance.md: Vary: Accept-Encoding on every response of a text-like
        # type, sibling or not (as nginx's gzip_vary); never on other types, whose
        # siblings are not looked for at all.
        for path in ("/stale.txt", "/nsold.txt", "/dirsib.txt", "/linksib.txt"):
            for ae in (None, "gzip", "gzip, br"):
                with self.subTest(path=path, accept_encoding=ae):
                    self.assert_identity(self.get(path, ae), TXT, vary=True)
        for ae in (None, "gzip"):
            with self.subTest(path="/HelloWorld.html", accept_encoding=ae):
                self.assert_identity(self.get("/HelloWorld.html", ae), self.file_bytes("HelloWorld.html"),
                                     vary=True)
            with self.subTest(path="/img.png", accept_encoding=ae):
                self.assert_identity(self.get("/img.png", ae), PNG, vary=False)
            with self.subTest(path="/big.bin", accept_encoding=ae):
                r = self.get("/big.bin", ae, method="HEAD")
                self.assertEqual((r.status, r.header_all("vary"), r.header("content-encoding")), (200, [], None))

    def test_sibling_as_old_as_the_original_is_served(self):
        self.assert_coded(self.get("/style.css", "gzip"), "gzip", CSS_GZ, "text/css; charset=utf-8")

    def get_repeatedly(self, path, ae, n=12):
        """n requests pipelined on one connection (so caches get warm); all must be the
        same. Returns the last."""
        with connect(self.port) as s:
            headers = [] if ae is None else [("Accept-Encoding", ae)]
            s.sendall(b"".join(raw_request(path, headers=headers) for _ in range(n)))
            reader = Reader(s)
            rs = [reader.read_response() for _ in range(n)]
        for r in rs:
            self.assertEqual((r.status, r.header("content-encoding"), r.body),
                             (rs[0].status, rs[0].header("content-encoding"), rs[0].body))
        return rs[-1]

    @h1_only("warms the cache with HTTP/1.1 requests pipelined on one connection (get_repeatedly)")
    def test_sibling_goes_stale_when_the_original_changes(self):
        path = os.path.join(self.root, "live.js")
        new_js = JS.replace(b"return", b"yield ")
        write_file(path, JS)
        set_mtime_ns(path, T)
        write_file(path + ".gz", JS_GZ)
        set_mtime_ns(path + ".gz", T + SECOND)
        self.assert_coded(self.get_repeatedly("/live.js", "gzip"), "gzip", JS_GZ, JS_TYPE)
        # A deploy rewrites the original but forgets the .gz: the old .gz must not be sent.
        write_file(path, new_js)
        set_mtime_ns(path, T + 2 * SECOND)
        self.assert_identity(self.get_repeatedly("/live.js", "gzip"), new_js, vary=None)
        # One nanosecond older is still older.
        set_mtime_ns(path + ".gz", T + 2 * SECOND - 1)
        self.assert_identity(self.get_repeatedly("/live.js", "gzip"), new_js, vary=None)
        # The .gz is brought up to date again.
        new_gz = gzip.compress(new_js, mtime=0)
        write_file(path + ".gz", new_gz)
        set_mtime_ns(path + ".gz", T + 2 * SECOND)
        r = self.get_repeatedly("/live.js", "gzip")
        self.assert_coded(r, "gzip", new_gz, JS_TYPE)
        self.assertEqual(gzip.decompress(r.body), new_js)
        # And removed: identity.
        os.unlink(path + ".gz")
        self.assert_identity(self.get_repeatedly("/live.js", "gzip"), new_js, vary=None)

    def test_sibling_that_is_a_directory_is_not_used(self):
        self.assert_identity(self.get("/dirsib.txt", "gzip"), TXT, vary=None)

    @h1_only("warms the cache with HTTP/1.1 requests pipelined on one connection (get_repeatedly)")
    def test_sibling_symlinked_out_of_the_root_is_not_used(self):
        self.assert_identity(self.get_repeatedly("/linksib.txt", None), TXT, vary=None)
        r = self.get_repeatedly("/linksib.txt", "gzip")
        self.assert_identity(r, TXT, vary=None)
        self.assertNotIn(b"secret", r.body)
        self.assertEqual(self.get("/linksib.txt.gz").status, 404)

    def test_head_reports_the_coded_representation(self):
        r = self.get("/app.js", "gzip", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("content-length"), str(len(JS_GZ)))
        self.assertEqual(r.header_all("vary"), ["Accept-Encoding"])
        self.assertEqual(r.body, b"")

    def test_range_applies_to_the_coded_representation(self):
        r = self.get("/app.js", "gzip", headers=[("Range", "bytes=0-9")])
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("content-range"), "bytes 0-9/%d" % len(JS_GZ))
        self.assertEqual(r.header_all("vary"), ["Accept-Encoding"])
        self.assertEqual(r.body, JS_GZ[:10])

        r = self.get("/app.js", "gzip", headers=[("Range", "bytes=-20")])
        n = len(JS_GZ)
        self.assertEqual(r.header("content-range"), "bytes %d-%d/%d" % (n - 20, n - 1, n))
        self.assertEqual(r.body, JS_GZ[-20:])

        r = self.get("/app.js", "br", headers=[("Range", "bytes=0-4,10-14")])
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("content-encoding"), "br")
        parts = parse_byteranges(r.body, r.header("content-type"))
        self.assertEqual([(h["content-range"], d) for h, d in parts],
                         [("bytes 0-4/%d" % len(JS_BR), JS_BR[0:5]),
                          ("bytes 10-14/%d" % len(JS_BR), JS_BR[10:15])])
        for h, _ in parts:
            self.assertEqual(h["content-type"], JS_TYPE)

        # Past the end of the compressed file (though not of the original): 416 with its size.
        self.assertLess(len(JS_GZ), len(JS))
        r = self.get("/app.js", "gzip", headers=[("Range", "bytes=%d-" % len(JS_GZ))])
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("content-range"), "bytes */%d" % len(JS_GZ))

    def test_if_range_names_the_coded_representation(self):
        identity = self.get("/app.js").header("etag")
        gz = self.get("/app.js", "gzip").header("etag")
        r = self.get("/app.js", "gzip", headers=[("Range", "bytes=5-9"), ("If-Range", gz)])
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, JS_GZ[5:10])
        r = self.get("/app.js", "gzip", headers=[("Range", "bytes=5-9"), ("If-Range", identity)])
        self.assert_coded(r, "gzip", JS_GZ, JS_TYPE)

    def test_sibling_requested_by_its_own_name_is_a_plain_file(self):
        r = self.get("/app.js.gz", "gzip")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.header("content-type"), "application/gzip")
        self.assertEqual(r.body, JS_GZ)

    @h1_only("HTTP/1.1 requests pipelined on one connection")
    def test_representations_alternate_on_one_connection(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/app.js", headers=[("Accept-Encoding", "gzip")])
                      + raw_request("/app.js")
                      + raw_request("/app.js", headers=[("Accept-Encoding", "br")])
                      + raw_request("/stale.txt", headers=[("Accept-Encoding", "gzip")]))
            reader = Reader(s)
            self.assert_coded(reader.read_response(), "gzip", JS_GZ, JS_TYPE)
            self.assert_identity(reader.read_response(), JS, vary=True)
            self.assert_coded(reader.read_response(), "br", JS_BR, JS_TYPE)
            self.assert_identity(reader.read_response(), TXT, vary=None)
            self.assertFalse(reader.at_eof(timeout=0.2))

    @h1_only("HTTP/1.1 requests pipelined on one connection")
    def test_directory_index_has_its_siblings(self):
        # The directory form looks up index.html and its siblings, on the cache's fast
        # path as well as by opening them: pipelined on one connection (one worker, one
        # cache), each representation asked for after the others are cached.
        asks = [(None, None, INDEX), ("br", "br", INDEX_BR), ("gzip", "gzip", INDEX_GZ),
                ("gzip;q=1, br;q=0.5", "gzip", INDEX_GZ), ("deflate", None, INDEX)]
        reqs = [(path, ae, coding, data) for _ in range(3) for path in ("/docs/", "/docs/index.html")
                for ae, coding, data in asks]
        with connect(self.port) as s:
            s.sendall(b"".join(raw_request(path, headers=[] if ae is None else [("Accept-Encoding", ae)])
                               for path, ae, _, _ in reqs))
            reader = Reader(s)
            for path, ae, coding, data in reqs:
                what = "%s, Accept-Encoding: %s" % (path, ae)
                if coding is None:
                    self.assert_identity(reader.read_response(), data, vary=True, what=what)
                else:
                    self.assert_coded(reader.read_response(), coding, data, HTML_TYPE, what)

    @h1_only("HTTP/1.1 requests pipelined on one connection")
    def test_preference_changes_with_each_request_on_a_warm_cache(self):
        # One worker's cache holds the record of app.js's siblings and all three
        # representations: each request still gets what its own Accept-Encoding prefers.
        choices = [("gzip, br", "br", JS_BR), ("gzip;q=1, br;q=0.9", "gzip", JS_GZ),
                   ("br;q=0, *", "gzip", JS_GZ), ("identity", None, JS), ("br", "br", JS_BR),
                   ("gzip;q=0, br;q=0", None, JS)]
        with connect(self.port) as s:
            reqs = [raw_request("/app.js", headers=[("Accept-Encoding", ae)]) for ae, _, _ in choices]
            s.sendall(b"".join(reqs * 4))
            reader = Reader(s)
            for round_ in range(4):
                for ae, coding, data in choices:
                    what = "round %d, Accept-Encoding: %s" % (round_, ae)
                    if coding is None:
                        self.assert_identity(reader.read_response(), data, vary=True, what=what)
                    else:
                        self.assert_coded(reader.read_response(), coding, data, JS_TYPE, what)

    @h1_only("checks the HTTP/1.1 status line curl prints")
    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl_compressed_gets_the_gzip_sibling(self):
        work = tempfile.mkdtemp(prefix="ws-curl-")
        self.addCleanup(shutil.rmtree, work, True)
        out = os.path.join(work, "page.txt")
        p = subprocess.run(curl_command(self.port, "/page.txt", "-s", "-S", "-f", "--compressed",
                                        "--max-time", str(30 * SLOW), "-D", "-", "-o", out),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        head = p.stdout.decode("latin-1").split("\r\n")
        self.assertEqual(head[0], "HTTP/1.1 200 OK")
        fields = [line.split(":", 1) for line in head[1:] if ":" in line]
        fields = {k.strip().lower(): v.strip() for k, v in fields}
        self.assertEqual(fields.get("content-encoding"), "gzip", head)
        self.assertEqual(fields.get("vary"), "Accept-Encoding", head)
        gz_size = os.path.getsize(os.path.join(self.root, "page.txt.gz"))
        self.assertEqual(fields.get("content-length"), str(gz_size))
        with open(out, "rb") as f:
            self.assertTrue(f.read() == PAGE, "curl's decoded output is not the original")


if __name__ == "__main__":
    unittest.main()
