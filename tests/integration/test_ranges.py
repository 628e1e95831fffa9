"""Range requests (RFC 9110 §14): single ranges, multipart/byteranges parsed byte for
byte, coalescing, the cap on the number of ranges, 416, invalid and hostile Range
fields, If-Range, and curl resuming a download.
"""

import hashlib
import os
import random
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
    wait_until,
    write_file,
)

MTIME = 1614834367  # 2021-03-04 05:06:07 UTC
MTIME_NS = MTIME * 10**9 + 500000000
LAST_MODIFIED = http_dates(MTIME)[0]

_rng = random.Random(14)
SMALL = bytes(_rng.randrange(256) for _ in range(1000))    # sent with the head, from memory
LARGE = bytes(_rng.randrange(256) for _ in range(100000))  # > 16 KiB: sent with sendfile
TEXT = b"".join(b"line %05d of a plain text file\n" % i for i in range(200))

FILES = {
    "small.bin": SMALL,
    "large.bin": LARGE,
    "text.txt": TEXT,
    "empty.bin": b"",
}
TYPES = {
    "small.bin": "application/octet-stream",
    "large.bin": "application/octet-stream",
    "text.txt": "text/plain; charset=utf-8",
}


class RangeTest(ServerTestCase):
    @classmethod
    def prepare_root(cls, root):
        for name, data in FILES.items():
            write_file(os.path.join(root, name), data)
            set_mtime_ns(os.path.join(root, name), MTIME_NS)

    def get(self, name, rng=None, headers=(), method="GET"):
        hdrs = list(headers)
        if rng is not None:
            hdrs.append(("Range", rng))
        return fetch(self.port, "/" + name, method=method, headers=hdrs)

    def etag_of(self, name):
        r = self.get(name)
        self.assertEqual(r.status, 200)
        return r.header("etag")

    def assert_full(self, r, name, what=""):
        data = FILES[name]
        self.assertEqual(r.status, 200, what)
        self.assertEqual(r.header("content-length"), str(len(data)), what)
        self.assertIsNone(r.header("content-range"), what)
        self.assertEqual(r.body, data, what)

    def assert_single(self, r, name, first, last, what=""):
        """206 for bytes first..last (inclusive) of the file, exactly."""
        data = FILES[name]
        self.assertEqual(r.status, 206, what)
        self.assertEqual(r.reason, "Partial Content", what)
        self.assertEqual(r.header("content-range"), "bytes %d-%d/%d" % (first, last, len(data)), what)
        self.assertEqual(r.header("content-length"), str(last - first + 1), what)
        self.assertEqual(r.header("content-type"), TYPES[name], what)
        self.assertEqual(len(r.body), last - first + 1, what)
        self.assertTrue(r.body == data[first:last + 1], "%s: wrong bytes" % what)
        self.assertEqual(r.header("accept-ranges"), "bytes", what)
        self.assertEqual(r.header("last-modified"), LAST_MODIFIED, what)
        self.assertIsNotNone(r.header("etag"), what)

    def assert_multipart(self, r, name, spans, what="", any_order=False):
        """206 multipart/byteranges holding exactly the given (first, last) spans."""
        data = FILES[name]
        self.assertEqual(r.status, 206, what)
        self.assertIsNone(r.header("content-range"), "%s: Content-Range on a multipart response" % what)
        self.assertIsNone(r.header("content-encoding"), what)
        self.assertEqual(r.header("content-length"), str(len(r.body)), what)
        try:
            parts = parse_byteranges(r.body, r.header("content-type"))
        except ValueError as e:
            self.fail("%s: %s; body starts %r" % (what, e, r.body[:200]))
        got = []
        for headers, part in parts:
            self.assertEqual(set(headers), {"content-type", "content-range"}, what)
            self.assertEqual(headers["content-type"], TYPES[name], what)
            cr = headers["content-range"]
            first, last = (int(x) for x in cr[len("bytes "):cr.index("/")].split("-"))
            self.assertEqual(cr, "bytes %d-%d/%d" % (first, last, len(data)), what)
            self.assertTrue(part == data[first:last + 1], "%s: wrong bytes in part %s" % (what, cr))
            got.append((first, last))
        if any_order:
            self.assertEqual(sorted(got), sorted(spans), what)
        else:
            self.assertEqual(got, spans, what)

    def assert_416(self, r, name, what=""):
        self.assertEqual(r.status, 416, what)
        self.assertEqual(r.reason, "Range Not Satisfiable", what)
        self.assertEqual(r.header("content-range"), "bytes */%d" % len(FILES[name]), what)
        self.assertEqual(r.header("content-length"), str(len(r.body)), what)
        self.assertNotEqual(r.header("content-type") or "", "multipart/byteranges", what)

    # --- single ranges -----------------------------------------------------------------

    def test_full_response_advertises_byte_ranges(self):
        for name in ("small.bin", "large.bin", "text.txt"):
            with self.subTest(name=name):
                r = self.get(name)
                self.assert_full(r, name)
                self.assertEqual(r.header("accept-ranges"), "bytes")

    def test_single_ranges(self):
        for name in ("small.bin", "large.bin", "text.txt"):
            size = len(FILES[name])
            cases = [
                ("bytes=0-0", 0, 0),
                ("bytes=0-99", 0, 99),
                ("bytes=10-19", 10, 19),
                ("bytes=%d-%d" % (size - 1, size - 1), size - 1, size - 1),
                ("bytes=100-", 100, size - 1),
                ("bytes=0-", 0, size - 1),
                ("bytes=-100", size - 100, size - 1),
                ("bytes=-1", size - 1, size - 1),
                ("bytes=%d-%d" % (size // 3, size // 2), size // 3, size // 2),
                # last-pos past the end is clamped; a suffix longer than the file is all of it.
                ("bytes=500-%d" % (size * 10), 500, size - 1),
                ("bytes=-%d" % (size + 1), 0, size - 1),
                ("bytes=-%d" % size, 0, size - 1),
                # The unit is case-insensitive; leading zeros are just digits.
                ("BYTES=0-4", 0, 4),
                ("Bytes=007-0010", 7, 10),
            ]
            if size > 40000:
                cases.append(("bytes=16000-40000", 16000, 40000))
            for rng, first, last in cases:
                with self.subTest(name=name, range=rng):
                    self.assert_single(self.get(name, rng), name, first, last, rng)

    # --- several ranges ----------------------------------------------------------------

    def test_multipart_byteranges(self):
        cases = [
            ("small.bin", "bytes=0-9,20-29,100-199", [(0, 9), (20, 29), (100, 199)]),
            ("small.bin", "bytes=0-0,-1", [(0, 0), (999, 999)]),
            ("text.txt", "bytes=0-31, 64-95", [(0, 31), (64, 95)]),
            ("large.bin", "bytes=0-99,50000-50099,-100", [(0, 99), (50000, 50099), (99900, 99999)]),
            ("large.bin", "bytes=1000-30000,70000-", [(1000, 30000), (70000, 99999)]),
        ]
        for name, rng, spans in cases:
            with self.subTest(name=name, range=rng):
                self.assert_multipart(self.get(name, rng), name, spans, rng)

    def test_overlapping_and_adjacent_ranges_are_coalesced(self):
        cases = [
            ("small.bin", "bytes=0-9,5-14,15-19,100-109", [(0, 19), (100, 109)]),
            ("large.bin", "bytes=0-99,50-149,300-399,400-499,20000-20009",
             [(0, 149), (300, 499), (20000, 20009)]),
            ("large.bin", "bytes=90000-,-5000,0-0", [(0, 0), (90000, 99999)]),
        ]
        for name, rng, spans in cases:
            with self.subTest(name=name, range=rng):
                self.assert_multipart(self.get(name, rng), name, spans, rng, any_order=True)

    def test_ranges_coalescing_into_one_are_a_single_part(self):
        many = ",".join("%d-%d" % (i, i + 1) for i in range(100))  # 100 ranges, 0-100 together
        cases = [
            ("small.bin", "bytes=0-9,10-19", 0, 19),
            ("small.bin", "bytes=0-50,10-20", 0, 50),
            ("small.bin", "bytes=20-29,0-9,10-19", 0, 29),
            ("large.bin", "bytes=-10,99980-", 99980, 99999),
            ("large.bin", "bytes=" + many, 0, 100),
        ]
        for name, rng, first, last in cases:
            with self.subTest(name=name, range=rng[:40]):
                self.assert_single(self.get(name, rng), name, first, last, rng[:40])

    def test_unsatisfiable_ranges_are_dropped_from_a_set(self):
        self.assert_single(self.get("small.bin", "bytes=0-4,5000-"), "small.bin", 0, 4)
        self.assert_multipart(self.get("small.bin", "bytes=0-4,5000-6000,10-14,-0"), "small.bin",
                              [(0, 4), (10, 14)])

    def test_sixteen_ranges_are_served(self):
        rng = "bytes=" + ",".join("%d-%d" % (i * 100, i * 100 + 9) for i in range(16))
        self.assert_multipart(self.get("large.bin", rng), "large.bin",
                              [(i * 100, i * 100 + 9) for i in range(16)], "16 ranges")

    def test_too_many_ranges_send_the_whole_file(self):
        cases = [
            ",".join("%d-%d" % (2 * i, 2 * i) for i in range(100)),   # 100 disjoint one-byte ranges
            ",".join("%d-%d" % (i * 100, i * 100 + 9) for i in range(17)),  # one over the cap
            ",".join("-%d" % (i + 1) for i in range(1000)) + "," +
            ",".join("%d-%d" % (3 * i, 3 * i) for i in range(20)),
        ]
        for value in cases:
            with self.subTest(range=value[:50]):
                self.assert_full(self.get("large.bin", "bytes=" + value), "large.bin", value[:50])
        self.assertTrue(self.server.alive())

    # --- 416 and ignored Range fields ----------------------------------------------------

    def test_unsatisfiable_range_is_416(self):
        for name in ("small.bin", "large.bin"):
            size = len(FILES[name])
            for rng in ("bytes=%d-" % size, "bytes=%d-%d" % (size, size + 10), "bytes=-0",
                        "bytes=%d-,%d-" % (size + 5, size), "bytes=%d-%d, -0" % (size * 2, size * 3)):
                with self.subTest(name=name, range=rng):
                    self.assert_416(self.get(name, rng), name, rng)

    @h1_only("HTTP/1.1 requests pipelined on one connection: a 416 keeps them in step")
    def test_416_keeps_the_connection_in_step(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/large.bin", headers=[("Range", "bytes=200000-")])
                      + raw_request("/small.bin", headers=[("Range", "bytes=2-5")])
                      + raw_request("/large.bin", headers=[("Range", "bytes=0-1,-2")])
                      + raw_request("/small.bin", headers=[("Range", "bytes=5-3")]))
            reader = Reader(s)
            self.assert_416(reader.read_response(), "large.bin")
            self.assert_single(reader.read_response(), "small.bin", 2, 5)
            self.assert_multipart(reader.read_response(), "large.bin", [(0, 1), (99998, 99999)])
            self.assert_full(reader.read_response(), "small.bin")
            self.assertFalse(reader.at_eof(timeout=0.2))
            self.assertEqual(reader.buf, b"")

    def test_empty_file(self):
        self.assert_416(self.get("empty.bin", "bytes=0-0"), "empty.bin")
        self.assert_416(self.get("empty.bin", "bytes=0-"), "empty.bin")
        # A suffix of an empty file selects nothing a Content-Range can name: the whole (empty) file.
        self.assert_full(self.get("empty.bin", "bytes=-5"), "empty.bin")

    def test_invalid_range_is_ignored(self):
        for rng in ("bytes=5-3", "items=0-1", "bytes=abc", "bytes=", "bytes", "bytes 0-1", "=0-1",
                    "bytes=1-2-3", "bytes=0-1,abc", "bytes=0-1,5-3", "bytes=--1", "bytes=-", "bytes=0-1;x",
                    "bytes=0x10-0x20", "bytes=+1-2", "bytes=1 -2", "bytes=,", "bytes=0-1 2-3",
                    "bytes=\u00bd-1", "none"):
            with self.subTest(range=rng):
                self.assert_full(self.get("small.bin", rng), "small.bin", rng)

    def test_huge_numbers_are_clamped(self):
        big = "99999999999999999999999"
        size = len(LARGE)
        self.assert_single(self.get("large.bin", "bytes=0-" + big), "large.bin", 0, size - 1)
        self.assert_single(self.get("large.bin", "bytes=99990-" + big), "large.bin", 99990, size - 1)
        self.assert_single(self.get("large.bin", "bytes=-" + big), "large.bin", 0, size - 1)
        self.assert_single(self.get("large.bin", "bytes=0-9223372036854775808"), "large.bin", 0, size - 1)
        self.assert_single(self.get("large.bin", "bytes=0-18446744073709551616"), "large.bin", 0, size - 1)
        self.assert_416(self.get("large.bin", "bytes=%s-" % big), "large.bin")
        self.assert_416(self.get("large.bin", "bytes=9223372036854775807-"), "large.bin")
        self.assert_416(self.get("large.bin", "bytes=18446744073709551616-18446744073709551617"), "large.bin")
        # first > last however large they are: an invalid range-spec, so the field is ignored.
        self.assert_full(self.get("large.bin", "bytes=%s-%s" % (big, big[:-1] + "8")), "large.bin")
        self.assert_full(self.get("large.bin", "bytes=18446744073709551617-18446744073709551616"),
                         "large.bin")
        self.assert_full(self.get("large.bin", "bytes=%s1-%s" % (big, big)), "large.bin")
        # A huge suffix is the whole file, which swallows the other (satisfiable) range.
        self.assert_single(self.get("large.bin", "bytes=0-0,%s-,-%s0" % (big, big)), "large.bin", 0, size - 1)
        self.assertTrue(self.server.alive())

    def test_range_on_head_is_ignored(self):
        for rng in ("bytes=0-9", "bytes=0-9,20-29", "bytes=99999999-"):
            with self.subTest(range=rng):
                r = self.get("large.bin", rng, method="HEAD")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("content-length"), str(len(LARGE)))
                self.assertIsNone(r.header("content-range"))
                self.assertEqual(r.header("content-type"), "application/octet-stream")
                self.assertEqual(r.body, b"")

    def test_conditional_beats_range(self):
        etag = self.etag_of("large.bin")
        r = self.get("large.bin", "bytes=0-9", headers=[("If-None-Match", etag)])
        self.assertEqual(r.status, 304)
        self.assertIsNone(r.header("content-range"))
        r = self.get("large.bin", "bytes=0-9", headers=[("If-Match", '"other"')])
        self.assertEqual(r.status, 412)
        self.assertIsNone(r.header("content-range"))

    # --- If-Range ------------------------------------------------------------------------

    def test_if_range_with_matching_etag(self):
        etag = self.etag_of("large.bin")
        self.assert_single(self.get("large.bin", "bytes=10-19", headers=[("If-Range", etag)]),
                           "large.bin", 10, 19)
        self.assert_multipart(self.get("large.bin", "bytes=10-19,-10", headers=[("If-Range", etag)]),
                              "large.bin", [(10, 19), (99990, 99999)])

    def test_if_range_with_another_etag_sends_the_whole_file(self):
        etag = self.etag_of("large.bin")
        for value in ('"stale"', "W/" + etag, etag[:-2] + '"', '"%x-%x"' % (len(LARGE), MTIME_NS - 1),
                      etag + ", " + etag, "garbage"):
            with self.subTest(value=value):
                self.assert_full(self.get("large.bin", "bytes=10-19", headers=[("If-Range", value)]),
                                 "large.bin", value)

    def test_if_range_with_date(self):
        for value in http_dates(MTIME):
            with self.subTest(value=value):
                self.assert_single(self.get("large.bin", "bytes=10-19", headers=[("If-Range", value)]),
                                   "large.bin", 10, 19)
        for when in (MTIME - 1, MTIME + 1, MTIME + 86400):
            with self.subTest(when=when):
                r = self.get("large.bin", "bytes=10-19", headers=[("If-Range", http_dates(when)[0])])
                self.assert_full(r, "large.bin")

    def test_if_range_after_the_file_changed(self):
        path = os.path.join(self.root, "growing.bin")
        FILES["growing.bin"] = LARGE[:50000]
        TYPES["growing.bin"] = "application/octet-stream"
        write_file(path, FILES["growing.bin"])
        set_mtime_ns(path, MTIME_NS)
        old = self.etag_of("growing.bin")
        self.assert_single(self.get("growing.bin", "bytes=100-", headers=[("If-Range", old)]),
                           "growing.bin", 100, 49999)
        FILES["growing.bin"] = LARGE[:50000] + SMALL
        write_file(path, FILES["growing.bin"])
        set_mtime_ns(path, MTIME_NS + 5 * 10**9)
        self.assert_full(self.get("growing.bin", "bytes=100-", headers=[("If-Range", old)]), "growing.bin")


@unittest.skipUnless(CURL, "curl is not installed")
class CurlResumeTest(ServerTestCase):
    access_log = "-"

    @classmethod
    def prepare_root(cls, root):
        cls.data = os.urandom(2 << 20)
        write_file(os.path.join(root, "download.bin"), cls.data)

    @h1_only("checks access-log lines that name HTTP/1.1")
    def test_curl_resumes_a_partial_download(self):
        work = tempfile.mkdtemp(prefix="ws-curl-")
        self.addCleanup(shutil.rmtree, work, True)
        out = os.path.join(work, "download.bin")
        for cut in (1, 700001, len(self.data) - 1):
            with self.subTest(cut=cut):
                write_file(out, self.data[:cut])
                p = subprocess.run(curl_command(self.port, "/download.bin", "-s", "-S", "-f",
                                                "--max-time", str(30 * SLOW), "-C", "-", "-o", out),
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=60 * SLOW)
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(out, "rb") as f:
                    got = f.read()
                self.assertEqual(len(got), len(self.data))
                self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(self.data).hexdigest())
        # curl asked for the rest, and got it as a range each time.
        self.assertTrue(wait_until(lambda: sum('"GET /download.bin HTTP/1.1" 206 ' in l
                                               for l in self.server.stdout_lines) >= 3, 5),
                        self.server.stdout_lines)
        self.assertFalse(any('"GET /download.bin HTTP/1.1" 200 ' in l for l in self.server.stdout_lines))


if __name__ == "__main__":
    unittest.main()
