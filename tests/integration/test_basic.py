"""The assignment's behaviour over real sockets: 200 with the file, 404, HEAD, index, 301."""

import os
import unittest

from wshelper import ServerTestCase, get


class BasicTest(ServerTestCase):
    def test_file_is_served_byte_exact(self):
        r = get(self.port, "/HelloWorld.html")
        self.assertEqual(r.status, 200)
        with open(os.path.join(self.root, "HelloWorld.html"), "rb") as f:
            self.assertEqual(r.body, f.read())
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        self.assertRegex(r.header("date"), r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
        self.assertIsNotNone(r.header("last-modified"))
        self.assertTrue(r.header("server").startswith("webserver/"))

    def test_missing_file_is_404_with_html(self):
        r = get(self.port, "/no-such-file.html")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.reason, "Not Found")
        self.assertIn(b"404 Not Found", r.body)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")

    def test_head_has_headers_but_no_body(self):
        r = get(self.port, "/big.bin", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("content-length")), 4 << 20)
        self.assertEqual(r.body, b"")

    def test_big_file_byte_exact(self):
        r = get(self.port, "/big.bin")
        self.assertEqual(r.status, 200)
        with open(os.path.join(self.root, "big.bin"), "rb") as f:
            self.assertEqual(r.body, f.read())
        self.assertEqual(r.header("content-type"), "application/octet-stream")

    def test_root_serves_index(self):
        r = get(self.port, "/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"index page", r.body)

    def test_directory_without_slash_redirects(self):
        r = get(self.port, "/sub?x=1")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/sub/?x=1")
        r = get(self.port, "/sub/")
        self.assertEqual(r.body, b"sub index\n")

    def test_directory_without_index_is_forbidden(self):
        self.assertEqual(get(self.port, "/noindex/").status, 403)


if __name__ == "__main__":
    unittest.main()
