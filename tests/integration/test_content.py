"""Content policy: Cache-Control (--cache), media types (--mime-types), custom error
pages (--error-pages), OPTIONS, and dotfiles (--dotfiles), over real sockets; and the
start-up errors of those flags.
"""

import os
import shutil
import tempfile
import unittest

from wshelper import (
    WEBSERVER,
    Reader,
    ServerTestCase,
    connect,
    fetch,
    h1_only,
    make_root,
    raw_request,
    run_webserver,
    write_file,
)

ALLOW = "GET, HEAD, OPTIONS"

# name -> Cache-Control under --cache auto.
AUTO_POLICY = {
    "index.html": "no-cache",
    "HelloWorld.html": "no-cache",
    "sub/index.html": "no-cache",
    "page.htm": "no-cache",
    "app.3f9a2c1e.js": "public, max-age=31536000, immutable",
    "chunk-5V4YKJQW.js": "public, max-age=31536000, immutable",
    "assets/index-D3Ff_x9l.css": "public, max-age=31536000, immutable",
    "logo.png": "public, max-age=600",
    "jquery-3.6.0.min.js": "public, max-age=600",
    "report2023.pdf": "public, max-age=600",
    "noindex/file.txt": "public, max-age=600",
}


def add_policy_files(root):
    for rel in AUTO_POLICY:
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_file(path, ("contents of %s\n" % rel).encode())


class CachePolicyTest(ServerTestCase):
    """--cache auto, the default."""

    @classmethod
    def prepare_root(cls, root):
        add_policy_files(root)

    def test_cache_control_by_content(self):
        for rel, expected in AUTO_POLICY.items():
            with self.subTest(rel=rel):
                r = fetch(self.port, "/" + rel)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header_all("cache-control"), [expected])

    def test_directory_index_is_html(self):
        self.assertEqual(fetch(self.port, "/").header_all("cache-control"), ["no-cache"])
        self.assertEqual(fetch(self.port, "/sub/").header_all("cache-control"), ["no-cache"])

    def test_head_partial_and_not_modified_keep_the_policy(self):
        rel = "app.3f9a2c1e.js"
        full = fetch(self.port, "/" + rel)
        for method, headers, status in (("HEAD", [], 200), ("GET", [("Range", "bytes=0-3")], 206),
                                        ("GET", [("If-None-Match", full.header("etag"))], 304)):
            with self.subTest(method=method, headers=headers):
                r = fetch(self.port, "/" + rel, method=method, headers=headers)
                self.assertEqual(r.status, status)
                self.assertEqual(r.header_all("cache-control"), [AUTO_POLICY[rel]])

    def test_error_responses_carry_no_cache_control(self):
        cases = [
            ("GET", "/missing.js", [], 404),
            ("GET", "/noindex/", [], 403),
            ("POST", "/index.html", [], 405),
            ("GET", "/logo.png", [("If-Match", '"nope"')], 412),
            ("GET", "/logo.png", [("Range", "bytes=99999-")], 416),
            ("GET", "/.env", [], 404),
            ("HEAD", "/missing.html", [], 404),
        ]
        for method, path, headers, status in cases:
            with self.subTest(method=method, path=path):
                r = fetch(self.port, path, method=method, headers=headers)
                self.assertEqual(r.status, status)
                self.assertEqual(r.header_all("cache-control"), [])


class CacheOffTest(ServerTestCase):
    server_args = ("--cache", "off")

    @classmethod
    def prepare_root(cls, root):
        add_policy_files(root)

    def test_no_cache_control_at_all(self):
        for rel in list(AUTO_POLICY) + ["missing"]:
            with self.subTest(rel=rel):
                r = fetch(self.port, "/" + rel)
                self.assertEqual(r.status, 404 if rel == "missing" else 200)
                self.assertEqual(r.header_all("cache-control"), [])


class CacheFixedTest(ServerTestCase):
    server_args = ("--cache", "120")

    @classmethod
    def prepare_root(cls, root):
        add_policy_files(root)

    def test_fixed_max_age_for_everything(self):
        for rel in AUTO_POLICY:
            with self.subTest(rel=rel):
                r = fetch(self.port, "/" + rel)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header_all("cache-control"), ["public, max-age=120"])

    def test_errors_still_carry_none(self):
        for path, status in (("/missing", 404), ("/noindex/", 403)):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status, status)
                self.assertEqual(r.header_all("cache-control"), [])


# --- --mime-types --------------------------------------------------------------------

MIME_TYPES = """\
# Operator's types, in /etc/mime.types format.
application/x-webserver-test\twstest  WSTWO

text/x-override txt   # overrides a built-in type
application/vnd.custom+json cjson
text/x-first dup
text/x-second dup
text/x-tagged;charset=latin1 tagged
"""


class MimeTypesTest(ServerTestCase):
    @classmethod
    def prepare_root(cls, root):
        conf = tempfile.mkdtemp(prefix="ws-conf-")
        cls.addClassCleanup(shutil.rmtree, conf, True)
        path = os.path.join(conf, "mime.types")
        write_file(path, MIME_TYPES.encode())
        cls.server_args = ("--mime-types", path)
        for name in ("a.wstest", "b.wstwo", "c.WSTEST", "notes.txt", "d.cjson", "e.dup", "f.tagged",
                     "g.png", "h.unknownext"):
            write_file(os.path.join(root, name), name.encode())

    def test_types_added_and_overridden(self):
        cases = {
            "a.wstest": "application/x-webserver-test",
            "b.wstwo": "application/x-webserver-test",
            "c.WSTEST": "application/x-webserver-test",
            "notes.txt": "text/x-override; charset=utf-8",
            "d.cjson": "application/vnd.custom+json; charset=utf-8",
            "e.dup": "text/x-second; charset=utf-8",
            "f.tagged": "text/x-tagged;charset=latin1",
            # Untouched built-in types and the fallback.
            "index.html": "text/html; charset=utf-8",
            "g.png": "image/png",
            "h.unknownext": "application/octet-stream",
        }
        for name, expected in cases.items():
            with self.subTest(name=name):
                r = fetch(self.port, "/" + name)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("content-type"), expected)
                self.assertEqual(r.body, self.file_bytes(name))


class StartupErrorTest(unittest.TestCase):
    """Flags of this feature set that make the server refuse to start: exit 2, one line."""

    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)

    def run_server(self, args):
        return run_webserver(["--port", "0", "--bind", "127.0.0.1", "--access-log", "off",
                              "--root", self.root] + list(args))

    def assert_usage_error(self, p):
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = p.stderr.decode("utf-8", "replace").splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("webserver: "), lines)
        self.assertEqual(p.stdout, b"")
        return lines[0]

    def test_malformed_mime_types_file_names_the_line(self):
        cases = [
            ("text/plain txt\n\n# comment\nnot-a-type foo\n", 4),
            ("text/plain t@xt\n", 1),
            ("# ok\ntext/plain txt\ntext/a/b ext\n", 3),
            ("text/plain txt\r\ntext/ txt2\r\n", 2),
            ("image/png png\napplication/json; charset=x json\n", 2),
        ]
        for text, line in cases:
            with self.subTest(text=text):
                path = os.path.join(self.root, "bad.types")
                write_file(path, text.encode())
                msg = self.assert_usage_error(self.run_server(["--mime-types", path]))
                self.assertRegex(msg, r"(?i)\bline\s*:?\s*%d\b" % line)

    def test_missing_mime_types_file(self):
        self.assert_usage_error(self.run_server(["--mime-types", os.path.join(self.root, "no-such.types")]))

    def test_missing_error_pages_directory(self):
        self.assert_usage_error(self.run_server(["--error-pages", os.path.join(self.root, "no-such-dir")]))
        self.assert_usage_error(self.run_server(["--error-pages", os.path.join(self.root, "index.html")]))

    def test_bad_cache_and_dotfiles_values(self):
        for args in (["--cache", "sometimes"], ["--cache", "-1"], ["--cache", ""], ["--dotfiles", "maybe"],
                     ["--dotfiles", ""]):
            with self.subTest(args=args):
                self.assert_usage_error(self.run_server(args))


# --- --error-pages --------------------------------------------------------------------

PAGE_404 = ("<!DOCTYPE html><title>Lost</title><p>Nothing here \u2014 custom 404</p>\n".encode()
            + b"<!-- padding -->\n" * 1200)  # > 16 KiB: sent like a large file
PAGE_403 = b"<!DOCTYPE html><title>No</title><p>custom 403</p>\n"


class ErrorPagesTest(ServerTestCase):
    @classmethod
    def prepare_root(cls, root):
        pages = tempfile.mkdtemp(prefix="ws-pages-")
        cls.addClassCleanup(shutil.rmtree, pages, True)
        write_file(os.path.join(pages, "404.html"), PAGE_404)
        write_file(os.path.join(pages, "403.html"), PAGE_403)
        cls.server_args = ("--error-pages", pages)
        write_file(os.path.join(root, ".env"), b"SECRET=1\n")

    def test_custom_404(self):
        for path in ("/missing.html", "/a/b/c", "/.env"):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status, 404)
                self.assertEqual(r.reason, "Not Found")
                self.assertEqual(r.header("content-length"), str(len(PAGE_404)))
                self.assertTrue(r.header("content-type").startswith("text/html"))
                self.assertTrue(r.body == PAGE_404, "not the custom page")
                self.assertIsNone(r.header("etag"))
                self.assertIsNone(r.header("cache-control"))

    def test_custom_403(self):
        r = fetch(self.port, "/noindex/")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.body, PAGE_403)

    def test_status_without_a_page_gets_the_built_in_one(self):
        r = fetch(self.port, "/index.html", method="POST")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), ALLOW)
        self.assertTrue(r.header("content-type").startswith("text/html"))
        self.assertIn(b"405", r.body)
        self.assertNotEqual(r.body, PAGE_404)
        self.assertNotEqual(r.body, PAGE_403)
        r = fetch(self.port, "/HelloWorld.html", headers=[("Range", "bytes=9999-")])
        self.assertEqual(r.status, 416)
        self.assertIn(b"416", r.body)

    def test_head_gets_no_body(self):
        r = fetch(self.port, "/missing.html", method="HEAD")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("content-length"), str(len(PAGE_404)))
        self.assertEqual(r.body, b"")

    @h1_only("HTTP/1.1 requests pipelined on one connection: error pages keep them in step")
    def test_pages_keep_the_connection_in_step(self):
        with connect(self.port) as s:
            s.sendall(raw_request("/missing") + raw_request("/missing", method="HEAD")
                      + raw_request("/noindex/") + raw_request("/HelloWorld.html"))
            reader = Reader(s)
            r = reader.read_response()
            self.assertEqual((r.status, r.body), (404, PAGE_404))
            r = reader.read_response(head_request=True)
            self.assertEqual((r.status, r.body), (404, b""))
            r = reader.read_response()
            self.assertEqual((r.status, r.body), (403, PAGE_403))
            r = reader.read_response()
            self.assertEqual((r.status, r.body), (200, self.file_bytes("HelloWorld.html")))
            self.assertFalse(reader.at_eof(timeout=0.2))
            self.assertEqual(reader.buf, b"")


# --- OPTIONS ------------------------------------------------------------------------


class OptionsTest(ServerTestCase):
    def test_options_asterisk_and_paths(self):
        for target in ("*", "/", "/index.html", "/sub/", "/missing"):
            with self.subTest(target=target):
                r = fetch(self.port, target, method="OPTIONS")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("allow"), ALLOW)
                self.assertIn(r.header("content-length"), ("0", None))
                self.assertEqual(r.body, b"")

    def test_405_names_the_allowed_methods(self):
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                r = fetch(self.port, "/index.html", method=method)
                self.assertEqual(r.status, 405)
                self.assertEqual(r.header("allow"), ALLOW)

    @h1_only("HTTP/1.1 requests pipelined on one connection")
    def test_options_then_get_on_one_connection(self):
        with connect(self.port) as s:
            s.sendall(raw_request("*", method="OPTIONS") + raw_request("/index.html", method="OPTIONS")
                      + raw_request("/HelloWorld.html"))
            reader = Reader(s)
            for _ in range(2):
                r = reader.read_response()
                self.assertEqual((r.status, r.header("allow"), r.body), (200, ALLOW, b""))
            r = reader.read_response()
            self.assertEqual((r.status, r.body), (200, self.file_bytes("HelloWorld.html")))
            self.assertFalse(reader.at_eof(timeout=0.2))
            self.assertEqual(reader.buf, b"")


# --- dotfiles -------------------------------------------------------------------------

DOTFILES = {
    ".git/config": b"[core]\n\trepositoryformatversion = 0\n",
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".env": b"DATABASE_PASSWORD=hunter2\n",
    ".htpasswd": b"admin:$apr1$xyz\n",
    "sub/.hidden": b"hidden in a subdirectory\n",
    ".well-known/.htpasswd": b"hidden under well-known\n",
}
WELL_KNOWN = {
    ".well-known/acme-challenge/token": b"token.thumbprint\n",
    ".well-known/security.txt": b"Contact: mailto:security@example.com\n",
}


def add_dotfiles(root):
    for rel, data in list(DOTFILES.items()) + list(WELL_KNOWN.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_file(path, data)


class DotfilesDenyTest(ServerTestCase):
    @classmethod
    def prepare_root(cls, root):
        add_dotfiles(root)

    def test_dotfiles_are_not_found(self):
        targets = ["/" + rel for rel in DOTFILES] + [
            "/.git/", "/.git", "/%2egit/config", "/%2Eenv", "/sub/../.env", "/sub/./.hidden",
            "/.git/../.env", "/.htpasswd?x=1",
        ]
        for target in targets:
            for method in ("GET", "HEAD"):
                with self.subTest(target=target, method=method):
                    r = fetch(self.port, target, method=method)
                    self.assertEqual(r.status, 404)
                    for secret in DOTFILES.values():
                        self.assertNotIn(secret, r.body)

    def test_well_known_is_served(self):
        for rel, data in WELL_KNOWN.items():
            with self.subTest(rel=rel):
                r = fetch(self.port, "/" + rel)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, data)


class DotfilesAllowTest(ServerTestCase):
    server_args = ("--dotfiles", "allow")

    @classmethod
    def prepare_root(cls, root):
        add_dotfiles(root)

    def test_dotfiles_are_served(self):
        for rel, data in list(DOTFILES.items()) + list(WELL_KNOWN.items()):
            with self.subTest(rel=rel):
                r = fetch(self.port, "/" + rel)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, data)
        r = fetch(self.port, "/%2Eenv")
        self.assertEqual((r.status, r.body), (200, DOTFILES[".env"]))
        r = fetch(self.port, "/.git")
        self.assertEqual((r.status, r.header("location")), (301, "/.git/"))


if __name__ == "__main__":
    unittest.main()
