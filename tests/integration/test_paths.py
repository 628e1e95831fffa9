"""Path handling: nothing outside the document root is ever served.

A secret file with known, unique contents lives next to the root (so that a
`..` that escaped would find it under a predictable name) and in a separate
directory that symlinks inside the root point to. No response may ever carry
its bytes, nor those of /etc/passwd.
"""

import os
import shutil
import socket
import stat
import tempfile
import time
import unittest

from wshelper import (
    SLOW,
    Reader,
    ServerTestCase,
    connect,
    parse_responses,
    raw_request,
    recv_all,
    write_file,
)

SECRET = b"TOP-SECRET-7f3a9c1e-do-not-serve\n"
PASSWD_MARK = b"root:x:0:0:"


class PathTest(ServerTestCase):
    @classmethod
    def prepare_root(cls, root):
        # A sibling of the root: reachable as "/../<name>/secret.txt" if ".." escaped.
        cls.secret_dir = tempfile.mkdtemp(prefix="ws-secret-", dir=os.path.dirname(root))
        cls.addClassCleanup(shutil.rmtree, cls.secret_dir, True)
        cls.secret_name = os.path.basename(cls.secret_dir)
        write_file(os.path.join(cls.secret_dir, "secret.txt"), SECRET)
        write_file(os.path.join(os.path.dirname(root), cls.secret_name + ".txt"), SECRET)
        cls.addClassCleanup(os.unlink, os.path.join(os.path.dirname(root), cls.secret_name + ".txt"))

        write_file(os.path.join(root, "with space.txt"), b"spaced\n")
        write_file(os.path.join(root, "caf\u00e9.txt"), b"unicode name\n")
        write_file(os.path.join(root, "percent%41.txt"), b"literal percent\n")
        os.symlink(os.path.join(cls.secret_dir, "secret.txt"), os.path.join(root, "escape-link.txt"))
        os.symlink(cls.secret_dir, os.path.join(root, "escape-dir"))
        os.symlink("../" + cls.secret_name + "/secret.txt", os.path.join(root, "relative-escape.txt"))
        os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))
        os.symlink("HelloWorld.html", os.path.join(root, "inside-link.html"))
        os.symlink("sub", os.path.join(root, "inside-dir"))
        os.symlink("sub/../HelloWorld.html", os.path.join(root, "inside-dotdot-link.html"))
        os.mkfifo(os.path.join(root, "fifo"))
        os.mkfifo(os.path.join(root, "fifo.html"))
        os.mkdir(os.path.join(root, "fifodir"))
        os.mkfifo(os.path.join(root, "fifodir", "index.html"))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.path.join(root, "unix.sock"))
        cls.addClassCleanup(sock.close)

    # --- helpers -------------------------------------------------------------------

    def fetch(self, target, method="GET"):
        """One request with a raw target; returns (response, all bytes received)."""
        with connect(self.port) as s:
            s.sendall(raw_request(target, method=method, close=True))
            data, end = recv_all(s, timeout=5)
        self.assertEqual(end, "eof", "no clean close after %r" % target)
        self.assert_no_secret(data, target)
        rs, rest = parse_responses(data, (method == "HEAD",))
        self.assertEqual(len(rs), 1, "for %r: %r" % (target, data[:200]))
        return rs[0]

    def assert_no_secret(self, data, target):
        self.assertNotIn(SECRET.strip(), data, "secret served for %r" % target)
        self.assertNotIn(PASSWD_MARK, data, "/etc/passwd served for %r" % target)

    def assert_refused(self, target, status):
        r = self.fetch(target)
        self.assertEqual(r.status, status, "for %r" % target)
        return r

    # --- traversal ---------------------------------------------------------------------

    def test_traversal_attempts(self):
        n = self.secret_name
        # A ".." segment (in any spelling that decodes to one) that climbs above the root:
        # 400 (docs/conformance.md).
        climbing = [
            "/../etc/passwd",
            "/../../../../../../../../etc/passwd",
            "/../%s/secret.txt" % n,
            "/../%s.txt" % n,
            "/%2e%2e/" + n + "/secret.txt",
            "/%2E%2E/" + n + ".txt",
            "/%2E%2E%2F" + n + ".txt",
            "/%2E%2E%2F..%2F..%2F..%2Fetc%2Fpasswd",
            "/a/../../" + n + ".txt",
            "/sub/../../" + n + "/secret.txt",
            "/..%2f..%2fetc/passwd",
            "/..%2F" + n + ".txt",
            "/.%2e/" + n + ".txt",
            "/%2e./" + n + ".txt",
            "/./../" + n + ".txt",
            "//../" + n + ".txt",
            "/sub/./../../" + n + ".txt",
            "/escape-dir/../../" + n + ".txt",
            "http://x/../../etc/passwd",
            "http://x/../" + n + ".txt",
            "http://localhost/%2e%2e/" + n + ".txt",
        ]
        # Not dot segments (RFC 3986 §3.3: only "." and ".." are): a backslash, ";", an
        # overlong UTF-8 dot, or the "%2e" left by decoding "%252e" once, are plain bytes
        # of a name, and no such name exists in the root: 404.
        plain_names = [
            "/%252e%252e/" + n + ".txt",
            "/%252e%252e%252f" + n + ".txt",
            "/..\\" + n + ".txt",
            "/..%5c" + n + ".txt",
            "/..%5C..%5Cetc%5Cpasswd",
            "/%c0%ae%c0%ae/" + n + ".txt",
            "/%c0%ae%c0%ae%c0%af" + n + ".txt",
            "/%e0%80%ae%e0%80%ae/" + n + ".txt",
            "/..;/" + n + ".txt",
        ]
        for targets, status in ((climbing, 400), (plain_names, 404)):
            for target in targets:
                with self.subTest(target=target):
                    self.assert_refused(target, status)

    def test_dotdot_above_root_is_400(self):
        # What path.c promises: a ".." that climbs above the root is a bad request.
        for target in ("/../etc/passwd", "/%2e%2e/x", "/a/../../x", "/..%2fx", "/.%2e/x"):
            with self.subTest(target=target):
                self.assertEqual(self.fetch(target).status, 400)

    def test_dotdot_inside_root_is_resolved(self):
        for target in ("/sub/../HelloWorld.html", "/sub/%2e%2e/HelloWorld.html", "/./sub/./../HelloWorld.html",
                       "/noindex/..%2FHelloWorld.html"):
            with self.subTest(target=target):
                r = self.fetch(target)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))

    def test_nul_byte_is_400(self):
        for target in ("/HelloWorld.html%00", "/HelloWorld.html%00.txt", "/%00/../etc/passwd", "/sub%00/"):
            with self.subTest(target=target):
                self.assertEqual(self.fetch(target).status, 400)

    def test_malformed_escapes_are_400(self):
        for target in ("/%", "/%4", "/%zz", "/abc%g1"):
            with self.subTest(target=target):
                self.assertEqual(self.fetch(target).status, 400)

    # --- symlinks -----------------------------------------------------------------------

    def test_symlink_out_of_root_is_not_served(self):
        for target in ("/escape-link.txt", "/escape-dir/secret.txt", "/escape-dir/", "/relative-escape.txt",
                       "/passwd-link", "/escape-dir"):
            with self.subTest(target=target):
                self.assert_refused(target, 404)

    def test_symlink_inside_root_is_served(self):
        for target, rel in (("/inside-link.html", "HelloWorld.html"),
                            ("/inside-dir/index.html", "sub/index.html"),
                            ("/inside-dir/", "sub/index.html"),
                            ("/inside-dotdot-link.html", "HelloWorld.html")):
            with self.subTest(target=target):
                r = self.fetch(target)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, self.file_bytes(rel))

    # --- special files ------------------------------------------------------------------

    def test_fifo_is_403_and_does_not_hang(self):
        for target in ("/fifo", "/fifo.html", "/fifodir/"):
            with self.subTest(target=target):
                start = time.monotonic()
                self.assertEqual(self.fetch(target).status, 403)
                self.assertLess(time.monotonic() - start, 1.0 * SLOW)
        self.assert_still_serving()

    def test_unix_socket_is_403(self):
        # Not a regular file: refused like a FIFO.
        self.assertEqual(self.fetch("/unix.sock").status, 403)

    def test_device_node_is_403(self):
        path = os.path.join(self.root, "zero")
        try:
            os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))
        except (PermissionError, OSError) as e:
            self.skipTest("cannot create a device node here: %s" % e)
        try:
            start = time.monotonic()
            self.assertEqual(self.fetch("/zero").status, 403)
            self.assertLess(time.monotonic() - start, 1.0 * SLOW)
        finally:
            os.unlink(path)

    # --- names that are fine -------------------------------------------------------------

    def test_percent_encoded_names(self):
        for target, body in (("/with%20space.txt", b"spaced\n"),
                             ("/caf%C3%A9.txt", b"unicode name\n"),
                             ("/caf%c3%a9.txt", b"unicode name\n"),
                             ("/%48elloWorld.html", self.file_bytes("HelloWorld.html")),
                             ("/percent%2541.txt", b"literal percent\n"),
                             ("/HelloWorld.html?x=%2e%2e/%00", self.file_bytes("HelloWorld.html"))):
            with self.subTest(target=target):
                r = self.fetch(target)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, body)

    def test_long_dot_segment_path_is_served(self):
        target = "/" + "./" * 4000 + "HelloWorld.html"
        self.assertGreater(len(target), 8000)
        self.assertLessEqual(len("GET %s HTTP/1.1" % target), 8192)
        r = self.fetch(target)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))

    def test_long_query_string_is_served(self):
        target = "/HelloWorld.html?" + "q=1&" * 2000
        self.assertGreater(len(target), 8000)
        r = self.fetch(target)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))

    def test_long_missing_path_is_404(self):
        target = "/" + "/".join(["d" * 200] * 39)
        self.assertGreater(len(target), 7800)
        self.assertEqual(self.fetch(target).status, 404)

    def test_redirect_of_encoded_directory_name(self):
        # The Location must be a usable path, percent-encoded where needed.
        os.makedirs(os.path.join(self.root, "a dir"), exist_ok=True)
        write_file(os.path.join(self.root, "a dir", "index.html"), b"in a dir\n")
        r = self.fetch("/a%20dir")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/a%20dir/")
        r = self.fetch(r.header("location"))
        self.assertEqual(r.body, b"in a dir\n")

    def test_redirect_page_escapes_the_query(self):
        # The parser lets '"', '<' and '>' through in a query, and the Location repeats
        # the query as sent: the page's link must escape it for HTML, the field must not.
        os.makedirs(os.path.join(self.root, "esc"), exist_ok=True)
        query = "?a=\"><script>alert(1)</script>&b='1'"
        r = self.fetch("/esc" + query)
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/esc/" + query)
        self.assertIn(b'<a href="/esc/?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'
                      b'&amp;b=&#39;1&#39;">here</a>', r.body)
        self.assertNotIn(b"<script>", r.body)
        self.assertNotIn(b'a="', r.body)
        self.assertNotIn(b"'1'", r.body)

    def test_absolute_form_inside_root(self):
        r = self.fetch("http://example.com/HelloWorld.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))


class UnreadableFileTest(ServerTestCase):
    """A file the server may not read is 403. As root, the server runs as nobody."""

    @classmethod
    def setUpClass(cls):
        cls.as_nobody = os.geteuid() == 0
        super().setUpClass()

    @classmethod
    def prepare_root(cls, root):
        write_file(os.path.join(root, "private.txt"), SECRET, mode=0o000)
        os.mkdir(os.path.join(root, "closed"))
        write_file(os.path.join(root, "closed", "inner.txt"), SECRET)
        os.chmod(os.path.join(root, "closed"), 0o000)
        if os.geteuid() == 0:
            # Let "nobody" in everywhere else.
            for d, dirs, files in os.walk(root):
                if d != os.path.join(root, "closed"):
                    os.chmod(d, 0o755)
                for f in files:
                    if f != "private.txt" and d != os.path.join(root, "closed"):
                        os.chmod(os.path.join(d, f), 0o644)

    @classmethod
    def server_kwargs(cls):
        return {"user": (65534, 65534)} if os.geteuid() == 0 else {}

    @classmethod
    def tearDownClass(cls):
        os.chmod(os.path.join(cls.root, "closed"), 0o755)
        super().tearDownClass()

    def test_unreadable_file_is_403(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/private.txt", close=True))
            data, _ = recv_all(s)
        self.assertNotIn(SECRET.strip(), data)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [403])

    def test_unsearchable_directory_is_403(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/closed/inner.txt", close=True))
            data, _ = recv_all(s)
        self.assertNotIn(SECRET.strip(), data)
        rs, _ = parse_responses(data)
        self.assertEqual([r.status for r in rs], [403])

    def test_readable_file_still_served(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/HelloWorld.html"))
            r = Reader(s).read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.file_bytes("HelloWorld.html"))


if __name__ == "__main__":
    unittest.main()
