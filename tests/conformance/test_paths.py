"""Paths: every traversal trick, and long targets that must still work.

The table cases (group "paths" in cases.py) try encoded dots, double encoding,
overlong UTF-8, backslashes, encoded slashes, NUL, symlinks out of the root and
dotfiles. The methods below add what a single request cannot express: names at
the file-system limits, 8000-byte request targets that must be served, and
symlinks swapped while requests run. The secret beside the root is checked on
every byte received (confhelper.py).
"""

import os
import threading
import time
import urllib.parse

from confhelper import (
    SLOW,
    ConformanceTestCase,
    Reader,
    add_case_tests,
    cases,
    main,
    parse_responses,
    recv_all,
)

LONG_DIR_NAME = "d" * 100
DEEP_LEVELS = 27
LEAF = b"deep leaf\n"


def encode_all(name):
    """Percent-encodes every byte of name: the longest spelling of a path."""
    return "".join("%%%02X" % b for b in name.encode("utf-8"))


class PathTest(ConformanceTestCase):
    """Table cases of the group "paths", plus long and racing paths."""

    @classmethod
    def prepare_root(cls, root):
        deep = os.path.join(root, *([LONG_DIR_NAME] * DEEP_LEVELS))
        os.makedirs(deep)
        with open(os.path.join(deep, "leaf.txt"), "wb") as f:
            f.write(LEAF)
        with open(os.path.join(root, "n" * 255), "wb") as f:
            f.write(b"longest name\n")

    def fetch(self, target, method="GET"):
        raw = cases.req(("%s %s HTTP/1.1" % (method, target)).encode("latin-1"), "Connection: close")
        with self.connect() as s:
            s.sendall(raw)
            data, end = recv_all(s, timeout=5)
        self.assertEqual(end, "eof")
        rs, rest = parse_responses(data, (method == "HEAD",))
        self.assertEqual(len(rs), 1, "for %r: %r" % (target[:80], data[:200]))
        self.assertEqual(rest, b"")
        return rs[0]

    def assert_line_fits(self, target):
        line = len("GET %s HTTP/1.1" % target)
        self.assertGreaterEqual(len(target), 7900)
        self.assertLessEqual(line, 8192, "the request line must stay within its limit")

    # --- long targets that must work (RFC 9112 §3: a server MUST accept any target it serves) --

    def test_8000_byte_target_fully_encoded_deep_path(self):
        """RFC 3986 §2.1: a real 2.6 KB path, every byte percent-encoded, about 7900 bytes."""
        target = "/" + "/".join([encode_all(LONG_DIR_NAME)] * DEEP_LEVELS) + "/" + encode_all("leaf.txt")
        self.assert_line_fits(target)
        r = self.fetch(target)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, LEAF)

    def test_8000_byte_target_plain_deep_path_with_query(self):
        """RFC 9112 §3.2.1: path plus a query filling the rest of the line."""
        path = "/" + "/".join([LONG_DIR_NAME] * DEEP_LEVELS) + "/leaf.txt"
        target = path + "?" + "q" * (8100 - len(path))
        self.assert_line_fits(target)
        r = self.fetch(target)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, LEAF)

    def test_8000_byte_target_encoded_slashes(self):
        """RFC 3986 §5.2.4: thousands of %2F (empty segments) collapse."""
        target = "/" + "%2F" * 2650 + "HelloWorld.html"
        self.assert_line_fits(target)
        r = self.fetch(target)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, cases.HELLO)

    def test_8000_byte_target_dotdot_inside_root(self):
        """RFC 3986 §5.2.4: 1100 "sub/.." pairs, each resolved inside the root."""
        target = "/" + "sub/../" * 1140 + "HelloWorld.html"
        self.assert_line_fits(target)
        r = self.fetch(target)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, cases.HELLO)

    def test_8000_byte_target_head(self):
        """RFC 9110 §9.3.2: HEAD on a long target gets the GET head."""
        target = "/" + "./" * 3990 + "HelloWorld.html"
        self.assert_line_fits(target)
        r = self.fetch(target, "HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("content-length")), len(cases.HELLO))

    def test_target_at_line_limit_for_missing_name_is_404(self):
        """RFC 9112 §3: a request line of exactly 8192 bytes is parsed; the name is absent."""
        target = "/" + "x" * (8192 - len("GET / HTTP/1.1"))
        self.assertEqual(len("GET %s HTTP/1.1" % target), 8192)
        self.assertEqual(self.fetch(target).status, 404)

    def test_dotdot_escape_at_line_limit_is_400(self):
        """RFC 3986 §5.2.4: the .. check holds at the end of a maximal line too."""
        n = (8192 - len("GET  HTTP/1.1") - 4) // 5
        target = "/" + "a/" * n + "../" * (n + 1)  # one more .. than segments
        self.assertLessEqual(len("GET %s HTTP/1.1" % target), 8192)
        self.assertEqual(self.fetch(target).status, 400)

    # --- names at the file-system limits ----------------------------------------------------

    def test_name_of_255_bytes_is_served(self):
        """NAME_MAX: the longest file name Linux allows is served."""
        r = self.fetch("/" + "n" * 255)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"longest name\n")

    def test_name_of_256_bytes_is_404(self):
        """ENAMETOOLONG for one name is "not found", never a 500."""
        self.assertEqual(self.fetch("/" + "n" * 256).status, 404)

    def test_path_longer_than_path_max_is_404(self):
        """ENAMETOOLONG for the whole path (over 4096 bytes decoded) is "not found"."""
        target = "/" + "/".join(["p" * 200] * 25) + "/x"
        self.assertGreater(len(target), 4096)
        self.assertEqual(self.fetch(target).status, 404)

    def test_redirect_is_never_scheme_relative(self):
        """RFC 3986 §4.2: a Location starting with // would name another host."""
        for target in ("//sub", "/%2F%2Fsub", "/%2fsub"):
            with self.subTest(target=target):
                r = self.fetch(target)
                self.assertEqual(r.status, 301)
                self.assertEqual(r.header("location"), "/sub/")

    def test_traversal_with_head_and_post(self):
        """HEAD gets GET's refusal of a `..` above the root (400, docs/conformance.md). POST
        is refused for its method before the path is looked at: no resource here accepts
        it, so 405 with Allow (RFC 9110 §15.5.6)."""
        for method, status in (("HEAD", 400), ("POST", 405)):
            with self.subTest(method=method):
                r = self.fetch("/../secret.txt", method)
                self.assertEqual(r.status, status, method)
                if status == 405:
                    self.assertEqual(r.header("allow"), "GET, HEAD, OPTIONS")

    # --- races: symlinks and directories swapped while requests run -----------------------

    def race(self, link, targets, target_path, ok_body, seconds=1.5):
        """Flips the symlink `link` between the values in `targets` while a client keeps
        requesting target_path on one keep-alive connection; each answer must be ok_body
        or a 404, and the secret must never appear (checked after the test)."""
        path = os.path.join(self.root, link)
        os.symlink(targets[0], path)
        stop = threading.Event()
        flips = [0]

        def flipper():
            tmp = path + ".tmp"
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    os.symlink(targets[i % len(targets)], tmp)
                    os.replace(tmp, path)  # atomic: the name always exists
                except OSError:
                    pass
                flips[0] += 1

        t = threading.Thread(target=flipper)
        t.start()
        seen = {}
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                # Keep-alive, but well below --max-requests (1000) per connection.
                with self.connect(timeout=10) as s:
                    reader = Reader(s)
                    for _ in range(200):
                        if time.monotonic() >= deadline:
                            break
                        s.sendall(cases.get(target_path))
                        r = reader.read_response()
                        seen[r.status] = seen.get(r.status, 0) + 1
                        # Either, by design: the link flips between the server's looks at
                        # it, so whether it names a served file or a refused one is a race.
                        self.assertIn(r.status, (200, 404))
                        if r.status == 200:
                            self.assertEqual(r.body, ok_body)
        finally:
            stop.set()
            t.join(10)
            os.unlink(path)
        self.assertGreater(flips[0], 10)
        self.assertGreater(seen.get(200, 0), 0, seen)
        return seen

    def test_file_symlink_swapped_to_secret_during_requests(self):
        """openat2(RESOLVE_BENEATH) makes check and open one step: no TOCTOU window."""
        self.race("swap-file", ["HelloWorld.html", os.path.join(self.base, "secret.txt")], "/swap-file",
                  cases.HELLO)

    def test_relative_symlink_swapped_to_secret_during_requests(self):
        """The same with a relative escape (../secret.txt)."""
        self.race("swap-rel", ["HelloWorld.html", "../secret.txt"], "/swap-rel", cases.HELLO)

    def test_directory_symlink_swapped_out_of_root_during_requests(self):
        """A directory on the path flips between sub/ and a directory outside the root."""
        self.race("swap-dir", ["sub", os.path.join(self.base, "secret-dir")], "/swap-dir/index.html",
                  b"sub index\n")


add_case_tests(PathTest, "paths")


if __name__ == "__main__":
    main()
