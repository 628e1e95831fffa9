"""Conditional requests (RFC 9110 §8.8, §13): validators, If-None-Match, If-Modified-Since,
If-Match and If-Unmodified-Since, over real sockets.

Every response is read with fetch(), which also fails when the framing is off: a 304
or a HEAD answer that carries body bytes, or a Content-Length that does not match.
"""

import os
import re
import unittest

from wshelper import (
    HTTP_DATE_RE,
    Reader,
    ServerTestCase,
    connect,
    fetch,
    h1_only,
    http_dates,
    raw_request,
    set_mtime_ns,
    write_file,
)

# A fixed modification time in the past with a non-zero nanosecond part:
# 2021-03-04 05:06:07.123456789 UTC, a Thursday (a day below 10 exercises asctime's padding).
MTIME = 1614834367
MTIME_NS = MTIME * 10**9 + 123456789
LAST_MODIFIED = "Thu, 04 Mar 2021 05:06:07 GMT"

DOC = b"conditional requests test document\n" * 10
LARGE = bytes(range(256)) * 400  # 102400 bytes: more than the server sends with its head

# entity-tag = [ W/ ] DQUOTE *etagc DQUOTE; a strong one has no W/ (RFC 9110 §8.8.3).
STRONG_ETAG_RE = re.compile(r'^"[\x21\x23-\x7e\x80-\xff]*"$')


class ConditionalTest(ServerTestCase):
    @classmethod
    def prepare_root(cls, root):
        for name, data in (("doc.txt", DOC), ("large.bin", LARGE)):
            path = os.path.join(root, name)
            write_file(path, data)
            set_mtime_ns(path, MTIME_NS)

    def etag_of(self, path):
        r = fetch(self.port, path)
        self.assertEqual(r.status, 200)
        return r.header("etag")

    def assert_full(self, r, data, what=""):
        self.assertEqual(r.status, 200, what)
        self.assertEqual(int(r.header("content-length")), len(data), what)
        self.assertEqual(r.body, data, what)

    def assert_not_modified(self, r, etag, size, what=""):
        """A 304 (RFC 9110 §15.4.5): validators and Date, and no body (fetch checked that)."""
        self.assertEqual(r.status, 304, what)
        self.assertEqual(r.header("etag"), etag, what)
        self.assertEqual(r.header("last-modified"), LAST_MODIFIED, what)
        self.assertRegex(r.header("date") or "", HTTP_DATE_RE, what)
        self.assertEqual(r.body, b"", what)
        # A Content-Length on a 304 must be the selected representation's length, if sent.
        self.assertIn(r.header("content-length"), (None, str(size)), what)
        self.assertIsNone(r.header("content-range"), what)

    def assert_precondition_failed(self, r, what=""):
        self.assertEqual(r.status, 412, what)
        self.assertEqual(r.reason, "Precondition Failed", what)
        self.assertNotEqual(r.body, DOC, what)
        self.assertIsNone(r.header("content-range"), what)

    # --- validators --------------------------------------------------------------------

    def test_every_file_response_has_a_strong_etag_and_last_modified(self):
        for path, data in (("/doc.txt", DOC), ("/large.bin", LARGE)):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assert_full(r, data)
                etag = r.header("etag")
                self.assertRegex(etag or "", STRONG_ETAG_RE)
                self.assertEqual(r.header("last-modified"), LAST_MODIFIED)
                self.assertRegex(r.header("date") or "", HTTP_DATE_RE)
                # The same tag for the same file, on GET and on HEAD.
                self.assertEqual(fetch(self.port, path).header("etag"), etag)
                head = fetch(self.port, path, method="HEAD")
                self.assertEqual(head.status, 200)
                self.assertEqual(head.header("etag"), etag)
                self.assertEqual(head.header("last-modified"), LAST_MODIFIED)
                self.assertEqual(head.header("content-length"), str(len(data)))
        self.assertNotEqual(self.etag_of("/doc.txt"), self.etag_of("/large.bin"))

    def test_etag_has_the_documented_form(self):
        # docs/conformance.md: "<size hex>-<mtime ns hex>".
        self.assertEqual(self.etag_of("/doc.txt"), '"%x-%x"' % (len(DOC), MTIME_NS))

    @h1_only("warms the cache with HTTP/1.1 requests pipelined on one connection (fetch_repeatedly)")
    def test_etag_changes_when_the_file_changes(self):
        path = os.path.join(self.root, "changing.txt")
        write_file(path, b"first version\n")
        set_mtime_ns(path, MTIME_NS)
        tags = [self.fetch_repeatedly("/changing.txt").header("etag")]

        # Another size, the same modification time.
        write_file(path, b"second, longer version\n")
        set_mtime_ns(path, MTIME_NS)
        r = fetch(self.port, "/changing.txt", headers=[("If-None-Match", tags[0])])
        self.assert_full(r, b"second, longer version\n", "old tag after a size change")
        tags.append(r.header("etag"))

        # The same size and second, a mtime newer by one nanosecond.
        write_file(path, b"third, longer  version\n")
        set_mtime_ns(path, MTIME_NS + 1)
        if os.stat(path).st_mtime_ns != MTIME_NS + 1:
            self.skipTest("this file system does not keep nanosecond timestamps")
        r = fetch(self.port, "/changing.txt", headers=[("If-None-Match", tags[1])])
        self.assert_full(r, b"third, longer  version\n", "old tag after a same-size rewrite")
        tags.append(r.header("etag"))
        self.assertEqual(r.header("last-modified"), LAST_MODIFIED, "same second: same Last-Modified")

        # A much newer mtime, same bytes (touch).
        set_mtime_ns(path, (MTIME + 3600) * 10**9)
        r = fetch(self.port, "/changing.txt", headers=[("If-None-Match", tags[2])])
        self.assert_full(r, b"third, longer  version\n", "old tag after a touch")
        tags.append(r.header("etag"))
        self.assertEqual(r.header("last-modified"), http_dates(MTIME + 3600)[0])

        for tag in tags:
            self.assertRegex(tag or "", STRONG_ETAG_RE)
        self.assertEqual(len(set(tags)), len(tags), tags)
        # The newest tag validates.
        r = fetch(self.port, "/changing.txt", headers=[("If-None-Match", tags[-1])])
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("etag"), tags[-1])

    def fetch_repeatedly(self, path, n=12):
        """n requests for path, pipelined on one connection (so caches get warm); returns
        the last response after checking that all n were the same."""
        with connect(self.port) as s:
            s.sendall(b"".join(raw_request(path) for _ in range(n)))
            reader = Reader(s)
            rs = [reader.read_response() for _ in range(n)]
        for r in rs:
            self.assertEqual((r.status, r.header("etag"), r.body),
                             (rs[0].status, rs[0].header("etag"), rs[0].body))
        return rs[-1]

    @h1_only("warms the cache with HTTP/1.1 requests pipelined on one connection (fetch_repeatedly)")
    def test_rewritten_file_is_never_served_stale(self):
        # The same size and, to the nanosecond, the same mtime: the ETag cannot tell the
        # versions apart, but the bytes sent must still be the ones on disk now.
        path = os.path.join(self.root, "rewritten.txt")
        versions = [b"version A of the file\n", b"version B of the file\n", b"version C of the file\n"]
        write_file(path, versions[0])
        set_mtime_ns(path, MTIME_NS)
        self.assertEqual(self.fetch_repeatedly("/rewritten.txt").body, versions[0])
        # In place (same inode), mtime put back.
        write_file(path, versions[1])
        set_mtime_ns(path, MTIME_NS)
        self.assertEqual(self.fetch_repeatedly("/rewritten.txt").body, versions[1])
        # Replaced by rename (another inode), same size and mtime.
        tmp = os.path.join(self.root, "rewritten.tmp")
        write_file(tmp, versions[2])
        set_mtime_ns(tmp, MTIME_NS)
        os.rename(tmp, path)
        self.assertEqual(self.fetch_repeatedly("/rewritten.txt").body, versions[2])
        # Removed: 404, not a cached copy.
        os.unlink(path)
        self.assertEqual(self.fetch_repeatedly("/rewritten.txt").status, 404)

    # --- If-None-Match -----------------------------------------------------------------

    def test_if_none_match_exact(self):
        for path, data in (("/doc.txt", DOC), ("/large.bin", LARGE)):
            with self.subTest(path=path):
                etag = self.etag_of(path)
                r = fetch(self.port, path, headers=[("If-None-Match", etag)])
                self.assert_not_modified(r, etag, len(data))

    def test_if_none_match_lists(self):
        etag = self.etag_of("/doc.txt")
        matching = ['"nope", ' + etag, etag + ',"nope"', '"a","b" ,  %s , "c"' % etag, ", ," + etag + ",",
                    '"nope",\t' + etag]
        for value in matching:
            with self.subTest(value=value):
                self.assert_not_modified(fetch(self.port, "/doc.txt", headers=[("If-None-Match", value)]),
                                         etag, len(DOC))
        for value in ('"nope"', '"a", "b"', etag[:-2] + '"', '"' + etag + '"', etag + "x"):
            with self.subTest(value=value):
                self.assert_full(fetch(self.port, "/doc.txt", headers=[("If-None-Match", value)]), DOC)

    def test_if_none_match_on_several_lines(self):
        etag = self.etag_of("/doc.txt")
        r = fetch(self.port, "/doc.txt", headers=[("If-None-Match", '"nope"'), ("If-None-Match", etag)])
        self.assert_not_modified(r, etag, len(DOC))
        r = fetch(self.port, "/doc.txt", headers=[("If-None-Match", '"a"'), ("If-None-Match", '"b"')])
        self.assert_full(r, DOC)

    def test_if_none_match_uses_weak_comparison(self):
        etag = self.etag_of("/doc.txt")
        for value in ("W/" + etag, 'W/"nope", W/' + etag, '"nope", W/' + etag):
            with self.subTest(value=value):
                self.assert_not_modified(fetch(self.port, "/doc.txt", headers=[("If-None-Match", value)]),
                                         etag, len(DOC))
        # "W/" is case-sensitive: "w/" makes the element (and line) invalid, which never matches.
        self.assert_full(fetch(self.port, "/doc.txt", headers=[("If-None-Match", "w/" + etag)]), DOC)

    def test_if_none_match_star(self):
        etag = self.etag_of("/large.bin")
        self.assert_not_modified(fetch(self.port, "/large.bin", headers=[("If-None-Match", "*")]),
                                 etag, len(LARGE))

    def test_if_none_match_not_matching_sends_the_file(self):
        r = fetch(self.port, "/large.bin", headers=[("If-None-Match", '"0-0"')])
        self.assert_full(r, LARGE)
        self.assertEqual(r.header("etag"), self.etag_of("/large.bin"))

    def test_head_with_if_none_match(self):
        etag = self.etag_of("/large.bin")
        r = fetch(self.port, "/large.bin", method="HEAD", headers=[("If-None-Match", etag)])
        self.assert_not_modified(r, etag, len(LARGE))
        r = fetch(self.port, "/large.bin", method="HEAD", headers=[("If-Modified-Since", LAST_MODIFIED)])
        self.assert_not_modified(r, etag, len(LARGE))

    @h1_only("HTTP/1.1 requests pipelined on one connection: no byte may follow a 304")
    def test_not_modified_keeps_the_connection_in_step(self):
        # No body byte may follow a 304, even for a file sent with sendfile: the next
        # response on the connection must start right after the 304's head.
        etag = self.etag_of("/large.bin")
        with connect(self.port) as s:
            s.sendall(raw_request("/large.bin", headers=[("If-None-Match", etag)])
                      + raw_request("/doc.txt", headers=[("If-Modified-Since", LAST_MODIFIED)])
                      + raw_request("/doc.txt"))
            reader = Reader(s)
            self.assert_not_modified(reader.read_response(), etag, len(LARGE))
            self.assert_not_modified(reader.read_response(), self.etag_of("/doc.txt"), len(DOC))
            self.assert_full(reader.read_response(), DOC)
            self.assertFalse(reader.at_eof(timeout=0.2))
            self.assertEqual(reader.buf, b"")

    # --- If-Modified-Since -------------------------------------------------------------

    def test_if_modified_since_not_modified_in_all_three_formats(self):
        etag = self.etag_of("/doc.txt")
        for when in (MTIME, MTIME + 1, MTIME + 86400 * 300):
            for value in http_dates(when):
                with self.subTest(value=value):
                    r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", value)])
                    self.assert_not_modified(r, etag, len(DOC))

    def test_if_modified_since_compares_times_not_strings(self):
        # Later than the file, but less than Last-Modified as a string ("Sat" < "Thu").
        r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", "Sat, 01 Jan 2022 00:00:00 GMT")])
        self.assertEqual(r.status, 304)
        # Earlier than the file, but greater as a string ("Wed" > "Thu").
        r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", "Wed, 03 Mar 2021 05:06:07 GMT")])
        self.assert_full(r, DOC)

    def test_modified_after_if_modified_since(self):
        for when in (MTIME - 1, MTIME - 86400 * 365 * 20):
            for value in http_dates(when):
                with self.subTest(value=value):
                    r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", value)])
                    self.assert_full(r, DOC)
                    self.assertEqual(r.header("last-modified"), LAST_MODIFIED)

    def test_if_modified_since_after_the_file_changed(self):
        path = os.path.join(self.root, "touched.txt")
        write_file(path, b"touched\n")
        set_mtime_ns(path, MTIME_NS)
        r = fetch(self.port, "/touched.txt", headers=[("If-Modified-Since", LAST_MODIFIED)])
        self.assertEqual(r.status, 304)
        set_mtime_ns(path, (MTIME + 10) * 10**9)
        r = fetch(self.port, "/touched.txt", headers=[("If-Modified-Since", LAST_MODIFIED)])
        self.assert_full(r, b"touched\n")
        self.assertEqual(r.header("last-modified"), http_dates(MTIME + 10)[0])

    def test_if_modified_since_ignored_when_if_none_match_present(self):
        etag = self.etag_of("/doc.txt")
        r = fetch(self.port, "/doc.txt", headers=[("If-None-Match", '"nope"'),
                                                  ("If-Modified-Since", LAST_MODIFIED)])
        self.assert_full(r, DOC)
        # And the other way round: If-None-Match decides even when the date says "modified".
        r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", http_dates(MTIME - 100)[0]),
                                                  ("If-None-Match", etag)])
        self.assert_not_modified(r, etag, len(DOC))

    def test_invalid_if_modified_since_is_ignored(self):
        for value in ("not a date", "Thu, 04 Mar 2021 05:06:07", "2021-03-04T05:06:07Z",
                      "Thu, 31 Feb 2021 05:06:07 GMT", "Thu, 04 Mar 2021 25:06:07 GMT",
                      "Thu, 04 Foo 2021 05:06:07 GMT", "1614834367", "Thu, 04 Mar 2021 05:06:07 GMT, x", ""):
            with self.subTest(value=value):
                r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", value)])
                self.assert_full(r, DOC)

    def test_if_modified_since_on_two_lines_is_ignored(self):
        later = "Sat, 01 Jan 2022 00:00:00 GMT"
        r = fetch(self.port, "/doc.txt", headers=[("If-Modified-Since", later), ("If-Modified-Since", later)])
        self.assert_full(r, DOC)

    # --- If-Match and If-Unmodified-Since ----------------------------------------------

    def test_if_match_mismatch_is_412(self):
        etag = self.etag_of("/doc.txt")
        for value in ('"nope"', '"a", "b"', "W/" + etag, "garbage"):
            with self.subTest(value=value):
                self.assert_precondition_failed(fetch(self.port, "/doc.txt", headers=[("If-Match", value)]))

    def test_if_match_star_or_matching_tag_sends_the_file(self):
        etag = self.etag_of("/doc.txt")
        for value in ("*", etag, '"nope", ' + etag):
            with self.subTest(value=value):
                r = fetch(self.port, "/doc.txt", headers=[("If-Match", value)])
                self.assert_full(r, DOC)
                self.assertEqual(r.header("etag"), etag)

    def test_if_match_is_checked_before_if_none_match(self):
        etag = self.etag_of("/doc.txt")
        r = fetch(self.port, "/doc.txt", headers=[("If-None-Match", etag), ("If-Match", '"nope"')])
        self.assert_precondition_failed(r)

    def test_if_unmodified_since(self):
        for value in http_dates(MTIME - 1):
            with self.subTest(value=value):
                r = fetch(self.port, "/doc.txt", headers=[("If-Unmodified-Since", value)])
                self.assert_precondition_failed(r)
        for when in (MTIME, MTIME + 86400):
            with self.subTest(when=when):
                r = fetch(self.port, "/doc.txt", headers=[("If-Unmodified-Since", http_dates(when)[0])])
                self.assert_full(r, DOC)
        # An invalid date is ignored.
        r = fetch(self.port, "/doc.txt", headers=[("If-Unmodified-Since", "yesterday")])
        self.assert_full(r, DOC)

    def test_if_unmodified_since_ignored_when_if_match_present(self):
        r = fetch(self.port, "/doc.txt", headers=[("If-Match", "*"),
                                                  ("If-Unmodified-Since", http_dates(MTIME - 1)[0])])
        self.assert_full(r, DOC)

    @h1_only("HTTP/1.1 requests pipelined on one connection: no byte may follow a HEAD's 412")
    def test_412_on_head_has_no_body_and_keeps_the_connection(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/large.bin", method="HEAD", headers=[("If-Match", '"nope"')])
                      + raw_request("/large.bin", headers=[("If-Match", '"nope"')])
                      + raw_request("/doc.txt"))
            reader = Reader(s)
            head = reader.read_response(head_request=True)
            self.assertEqual(head.status, 412)
            get = reader.read_response()
            self.assertEqual(get.status, 412)
            self.assertEqual(head.header("content-length"), get.header("content-length"))
            self.assertNotEqual(get.body, LARGE)
            self.assert_full(reader.read_response(), DOC)
            self.assertFalse(reader.at_eof(timeout=0.2))
            self.assertEqual(reader.buf, b"")


if __name__ == "__main__":
    unittest.main()
